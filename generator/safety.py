"""The last check before publishing: the built site runs only the scripts it ships.

Data reaches pages escaped (Jinja autoescape, raw-HTML Markdown), but one `|safe`,
one string built by hand, or one value left to Markdown is enough to publish a
script or a `javascript:` link. This stage reads the built site itself, so it
holds whoever wrote the template. A page fails when it has
- no Content-Security-Policy meta before its first script (site_src/overrides/main.html),
  or a policy whose script-src allows inline scripts or eval;
- an inline executable <script> (data blocks such as type="application/json" are fine);
- a script from another host;
- an event-handler attribute (onerror=, onclick=, …);
- a javascript:, vbscript: or data: URL in a link or source (data: images excepted);
- an <iframe>, <object>, <embed> or <base> element.
SVG files may carry no script or event handler either.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background", "cite"}
DATA_BLOCK = re.compile(r"^application/([a-z0-9.+-]+\+)?json$")
SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*):")
SAFE_SCHEMES = {"http", "https", "mailto", "tel"}
FORBIDDEN_TAGS = {"iframe", "object", "embed", "base", "frame", "frameset"}
UNSAFE_CSP = ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "*", "data:", "blob:")
MAX_SHOWN = 30


class UnsafeSite(Exception):
    """The built site would run something it did not ship; nothing is published."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        shown = problems[:MAX_SHOWN]
        more = f"\n… 另有 {len(problems) - MAX_SHOWN} 处" if len(problems) > MAX_SHOWN else ""
        super().__init__("站点安全检查未通过（页面会执行站点以外的脚本或链接）：\n"
                         + "\n".join(f"  {p}" for p in shown) + more)


class _PageChecker(HTMLParser):
    def __init__(self, svg: bool = False):
        super().__init__(convert_charrefs=True)
        self.svg = svg
        self.problems: list[str] = []
        self.csp_seen = False
        self.script_seen = False

    def handle_starttag(self, tag, attrs):
        attrs = [(name.lower(), value or "") for name, value in attrs]
        where = f"<{tag}> 第 {self.getpos()[0]} 行"
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{where}：事件处理属性 {name}={_short(value)}")
            elif name in URL_ATTRS and not _safe_url(tag, name, value):
                self.problems.append(f"{where}：不安全的链接 {name}={_short(value)}")
        if tag in FORBIDDEN_TAGS:
            self.problems.append(f"{where}：不允许的元素 <{tag}>")
        if tag == "meta" and dict(attrs).get("http-equiv", "").lower() == "content-security-policy":
            self._check_csp(dict(attrs).get("content", ""), where)
        if tag == "script":
            a = dict(attrs)
            kind = a.get("type", "").strip().lower()
            if "src" in a:
                if SCHEME.match(_squash(a["src"])) or _squash(a["src"]).startswith("//"):
                    self.problems.append(f"{where}：来自其他站点的脚本 {_short(a['src'])}")
            elif not DATA_BLOCK.match(kind):
                self.problems.append(f"{where}：内联脚本（CSP 只允许站点自己的脚本文件）")
            if not self.svg and not self.csp_seen and not self.script_seen:
                self.problems.append(f"{where}：脚本出现在 Content-Security-Policy 之前或页面没有 CSP")
            self.script_seen = True

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def _check_csp(self, policy: str, where: str) -> None:
        self.csp_seen = True
        directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.split()}
        script_src = directives.get("script-src", directives.get("default-src"))
        if not script_src:
            self.problems.append(f"{where}：CSP 没有 script-src")
            return
        for token in script_src:
            if token in UNSAFE_CSP or SCHEME.match(token):
                self.problems.append(f"{where}：CSP 的 script-src 允许 {token}")


def _squash(value: str) -> str:
    """A URL as a browser reads its scheme: control characters and spaces dropped."""
    return re.sub(r"[\x00-\x20]", "", value).lower()


def _safe_url(tag: str, attr: str, value: str) -> bool:
    m = SCHEME.match(_squash(value))
    if not m:
        return True  # relative, fragment or protocol-relative (the latter is caught for scripts)
    scheme = m.group(1)
    if scheme == "data":
        return tag in ("img", "image") and attr in ("src", "href", "xlink:href") \
            and _squash(value).startswith("data:image/")
    return scheme in SAFE_SCHEMES


def _short(value: str) -> str:
    return repr(value if len(value) <= 80 else value[:80] + "…")


def check_page(text: str, svg: bool = False) -> list[str]:
    checker = _PageChecker(svg=svg)
    checker.feed(text)
    checker.close()
    problems = checker.problems
    if not svg and not checker.csp_seen:
        problems.append("页面没有 Content-Security-Policy meta")
    return problems


def check_site(site_dir: Path) -> None:
    """Raise UnsafeSite listing every problem in every page and SVG of the site."""
    problems = []
    for path in sorted(site_dir.rglob("*")):
        if path.suffix.lower() in (".html", ".htm", ".svg") and path.is_file():
            rel = path.relative_to(site_dir).as_posix()
            text = path.read_text(encoding="utf-8", errors="replace")
            problems += [f"{rel} {p}" for p in check_page(text, svg=path.suffix.lower() == ".svg")]
    if problems:
        raise UnsafeSite(problems)
