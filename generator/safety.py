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

import html
import re
from pathlib import Path

from .parallel import fork_map

URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "poster", "background", "cite"}
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


# A start tag and its attributes; quoted values may hold ">". Text between tags
# needs no look: data reaches it escaped, so it cannot open a tag.
TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9:-]*)((?:[^>\"']+|\"[^\"]*\"|'[^']*')*)>")
ATTR = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?""")
# Attributes worth parsing: most tags have none (class, id, data-*, aria-*).
ACTIVE = re.compile(r"(?i)(?:^|[\s/])(?:on[a-z]|href|src|action|formaction|xlink:href|poster|background|cite)")
SPECIAL_TAGS = FORBIDDEN_TAGS | {"meta", "script", "style"}
RAW_TEXT = {"script": re.compile(r"</script", re.I), "style": re.compile(r"</style", re.I)}


def _attributes(source: str) -> list[tuple[str, str]]:
    return [(m.group(1).lower(), html.unescape(m.group(2) or m.group(3) or m.group(4) or ""))
            for m in ATTR.finditer(source)]


class _Where:
    """"<tag> 第 n 行", the line counted only when a problem is reported."""

    def __init__(self, tag: str, text: str, offset: int):
        self.tag, self.text, self.offset = tag, text, offset

    def __str__(self) -> str:
        return f"<{self.tag}> 第 {self.text.count(chr(10), 0, self.offset) + 1} 行"

    __format__ = lambda self, spec: str(self)  # noqa: E731


def check_page(text: str, svg: bool = False) -> list[str]:
    """Every problem of one page (or SVG file), as "<tag> 第 n 行：problem"."""
    problems: list[str] = []
    csp_seen = script_seen = False
    pos = 0
    while m := TAG.search(text, pos):
        pos = m.end()
        tag = m.group(1).lower()
        if tag not in SPECIAL_TAGS and not ACTIVE.search(m.group(2)):
            continue
        attrs = _attributes(m.group(2))
        a = dict(attrs)
        where = _Where(tag, text, m.start())
        for name, value in attrs:
            if name.startswith("on"):
                problems.append(f"{where}：事件处理属性 {name}={_short(value)}")
            elif name in URL_ATTRS and not _safe_url(tag, name, value):
                problems.append(f"{where}：不安全的链接 {name}={_short(value)}")
        if tag in FORBIDDEN_TAGS:
            problems.append(f"{where}：不允许的元素 <{tag}>")
        if tag == "meta" and a.get("http-equiv", "").lower() == "content-security-policy":
            csp_seen = True
            problems += [f"{where}：{p}" for p in _policy_problems(a.get("content", ""))]
        if tag == "script":
            src = _squash(a.get("src", ""))
            if "src" in a:
                if SCHEME.match(src) or src.startswith("//"):
                    problems.append(f"{where}：来自其他站点的脚本 {_short(a['src'])}")
            elif not DATA_BLOCK.match(a.get("type", "").strip().lower()):
                problems.append(f"{where}：内联脚本（CSP 只允许站点自己的脚本文件）")
            if not svg and not csp_seen and not script_seen:
                problems.append(f"{where}：脚本出现在 Content-Security-Policy 之前或页面没有 CSP")
            script_seen = True
        if tag in RAW_TEXT and not m.group(2).rstrip().endswith("/"):
            close = RAW_TEXT[tag].search(text, pos)
            pos = close.start() if close else len(text)
    if not svg and not csp_seen:
        problems.append("页面没有 Content-Security-Policy meta")
    return problems


def _policy_problems(policy: str) -> list[str]:
    directives = {d.split()[0].lower(): d.split()[1:] for d in policy.split(";") if d.split()}
    script_src = directives.get("script-src", directives.get("default-src"))
    if not script_src:
        return ["CSP 没有 script-src 或 default-src"]
    return [f"CSP 的 script-src 允许 {token}" for token in script_src
            if token in UNSAFE_CSP or SCHEME.match(token)]


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


def check_site(site_dir: Path) -> None:
    """Raise UnsafeSite listing every problem in every page and SVG of the site
    (files are read on every CPU: a national site has tens of thousands)."""
    paths = sorted(p for p in site_dir.rglob("*")
                   if p.suffix.lower() in (".html", ".htm", ".svg") and p.is_file())

    def check_file(path: Path) -> list[str]:
        rel = path.relative_to(site_dir).as_posix()
        text = path.read_text(encoding="utf-8", errors="replace")
        return [f"{rel} {p}" for p in check_page(text, svg=path.suffix.lower() == ".svg")]

    problems = [p for found in fork_map(check_file, paths, chunk=256) for p in found]
    if problems:
        raise UnsafeSite(sorted(problems))
