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
import os
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
RAW_TEXT_BYTES = {"script": re.compile(rb"</script", re.I), "style": re.compile(rb"</style", re.I)}

# The same tags in bytes, for check_bytes. A tag matters to check_page only when its
# name is special, an attribute name starts with "on", or a URL attribute's value
# holds ":" (a scheme) or "&" (an entity that may decode to one). _QUIET is a tag
# that provably has none of these: written plainly (ASCII whitespace, simple names,
# double-quoted values, so ATTR reads the same names and values), no name starting
# with "on", and ":" or "&" only in values of names that cannot be URL attributes.
# It ends where TAG would end it. _NEXT_TAG skips text, quiet tags and any "<" that
# starts no tag, all in C, and returns the next tag that is not quiet.
_NAME_B, _ATTRS_B = rb"[a-zA-Z][a-zA-Z0-9:-]*+", rb"(?:[^>\"']++|\"[^\"]*+\"|'[^']*+')*+"
_NOT_URL_NAME = b"".join(b"(?<!(?i:%s))" % name for name in
                         (b"href", b"src", b"action", b"poster", b"background", b"cite"))
_QUIET = (rb"<(?!(?i:script|style|meta|iframe|object|embed|base|frame|frameset)(?![a-zA-Z0-9:-]))"
          rb"[a-zA-Z][a-zA-Z0-9-]*+"
          rb"(?:\s++(?![oO][nN])[a-zA-Z0-9_.:-]++(?:=\"[^\":&]*+\"|" + _NOT_URL_NAME + rb"=\"[^\"]*+\")?)*+"
          rb"\s*+/?>")
_NEXT_TAG = re.compile(rb"(?:[^<]++|<(?![a-zA-Z])|(?>" + _QUIET + rb")|(?!<" + _NAME_B + _ATTRS_B + rb">)<)*+"
                       rb"<(" + _NAME_B + rb")(" + _ATTRS_B + rb")>")


def _attributes(source: str) -> list[tuple[str, str]]:
    return [(m.group(1).lower(), html.unescape(m.group(2) or m.group(3) or m.group(4) or ""))
            for m in ATTR.finditer(source)]


class _Where:
    """"<tag> 第 n 行", the line counted only when a problem is reported."""

    def __init__(self, tag: str, text: str | bytes, offset: int):
        self.tag, self.text, self.offset = tag, text, offset

    def __str__(self) -> str:
        newline = b"\n" if isinstance(self.text, bytes) else "\n"
        return f"<{self.tag}> 第 {self.text.count(newline, 0, self.offset) + 1} 行"

    __format__ = lambda self, spec: str(self)  # noqa: E731


def check_page(text: str, svg: bool = False) -> list[str]:
    """Every problem of one page (or SVG file), as "<tag> 第 n 行：problem"."""
    state = _State(text, svg)
    pos = 0
    while m := TAG.search(text, pos):
        pos = m.end()
        tag = m.group(1).lower()
        if tag not in SPECIAL_TAGS and not ACTIVE.search(m.group(2)):
            continue
        pos = state.tag(tag, m.group(2), m.start(), pos)
    return state.finish()


class _State:
    """The scan of one page: its problems, whether the policy and a script were seen,
    and where the text resumes after a tag (past a script's or style's raw text)."""

    def __init__(self, text: str | bytes, svg: bool):
        self.text, self.svg = text, svg
        self.problems: list[str] = []
        self.csp_seen = self.script_seen = False

    def tag(self, tag: str, source: str, start: int, end: int) -> int:
        attrs = _attributes(source)
        a = dict(attrs)
        where = _Where(tag, self.text, start)
        problems = self.problems
        for name, value in attrs:
            if name.startswith("on"):
                problems.append(f"{where}：事件处理属性 {name}={_short(value)}")
            elif name in URL_ATTRS and not _safe_url(tag, name, value):
                problems.append(f"{where}：不安全的链接 {name}={_short(value)}")
        if tag in FORBIDDEN_TAGS:
            problems.append(f"{where}：不允许的元素 <{tag}>")
        if tag == "meta" and a.get("http-equiv", "").lower() == "content-security-policy":
            self.csp_seen = True
            problems += [f"{where}：{p}" for p in _policy_problems(a.get("content", ""))]
        if tag == "script":
            src = _squash(a.get("src", ""))
            if "src" in a:
                if SCHEME.match(src) or src.startswith("//"):
                    problems.append(f"{where}：来自其他站点的脚本 {_short(a['src'])}")
            elif not DATA_BLOCK.match(a.get("type", "").strip().lower()):
                problems.append(f"{where}：内联脚本（CSP 只允许站点自己的脚本文件）")
            if not self.svg and not self.csp_seen and not self.script_seen:
                problems.append(f"{where}：脚本出现在 Content-Security-Policy 之前或页面没有 CSP")
            self.script_seen = True
        if tag in RAW_TEXT and not source.rstrip().endswith("/"):
            close = (RAW_TEXT_BYTES if isinstance(self.text, bytes) else RAW_TEXT)[tag].search(self.text, end)
            end = close.start() if close else len(self.text)
        return end

    def finish(self) -> list[str]:
        if not self.svg and not self.csp_seen:
            self.problems.append("页面没有 Content-Security-Policy meta")
        return self.problems


def check_bytes(data: bytes, svg: bool = False) -> list[str]:
    """check_page(data decoded as UTF-8), found faster: one regular expression steps
    over every tag that cannot matter, in C, and stops only at the tags check_page
    would look at closely."""
    state = _State(data, svg)
    pos = 0
    while m := _NEXT_TAG.match(data, pos):
        name, source = m.group(1).decode("ascii").lower(), m.group(2).decode("utf-8", errors="replace")
        if name not in SPECIAL_TAGS and not ACTIVE.search(source):
            pos = m.end()
            continue
        pos = state.tag(name, source, m.start(1) - 1, m.end())
    return state.finish()


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
    root = os.fspath(site_dir)
    files = []  # relative paths as strings: listed and sent to the workers cheaply
    for folder, _, names in os.walk(root):
        rel_dir = os.path.relpath(folder, root).replace(os.sep, "/")
        prefix = "" if rel_dir == "." else rel_dir + "/"
        files += [prefix + name for name in names if name.lower().endswith((".html", ".htm", ".svg"))
                  and os.path.isfile(os.path.join(folder, name))]

    def check_file(rel: str) -> list[str]:
        with open(os.path.join(root, rel), "rb") as fh:
            data = fh.read()
        return [f"{rel} {p}" for p in check_bytes(data, svg=rel.lower().endswith(".svg"))]

    problems = [p for found in fork_map(check_file, sorted(files), chunk=256) for p in found]
    if problems:
        raise UnsafeSite(sorted(problems))
