"""Internal links of a built site: every href and src in the HTML, and every
url() in the site's own CSS, must lead to a file of the site, and every #anchor
to an id in the page it points at.

Checked: pages, anchors, assets, downloads. Not checked: links to other hosts,
and links that scripts add at run time (Pagefind results, charts): they are not
in the HTML. Run as the last site stage of the build, so a broken link stops
the build before the new site replaces the old one.

Pages are read as bytes on every CPU (a national site has tens of thousands).
Each reader resolves its own pages' links and checks their same-page anchors;
it hands back only what it found broken, the links to anchors in other pages,
and the page's ids packed in one string, so the parent does not hold every
link of the site. Text in comments, scripts and styles is not read as links,
quoted attribute values are read whole, and values are HTML-unescaped."""
from __future__ import annotations

import html
import os
import posixpath
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .parallel import fork_imap

# Pages are read as bytes. A start tag with its attributes; quoted values are
# consumed whole, so text inside an attribute value is never read as another
# attribute. Whitespace inside a tag is ASCII whitespace, as in HTML.
_NAME = rb"[^\s\"'>/=]+"
_VALUE = rb"(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+)"
_TAG = re.compile(rb"<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+" + _NAME + rb"(?:\s*=\s*" + _VALUE + rb")?)*)\s*/?>")
_ATTR = re.compile(rb"(" + _NAME + rb")(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
# Raw text that is not markup: comments and the bodies of scripts and styles
# (a script's start tag is still read: its src is a link).
_RAW = re.compile(rb"<(script|style)\b([^>]*)>.*?</\1\s*>", re.S | re.I)
# What _links_and_ids steps over without reading anything, skipped in C: text,
# comments, scripts and styles whose start tag has no attribute that could be a
# link or an id, tags without such an attribute, and a "<" before no letter.
# _NEXT is that, then the tag it stopped at (group 1) unless that is a script or
# style; where group 1 is empty (a script or style, or a "<" and a letter that
# start no tag), the loop in Python looks at the "<" itself. The possessive forms
# read a tag as _TAG does (a name cannot end before [\s"'>/=], an unquoted value
# before [\s"'>], so no backtracking could read it otherwise). No capturing group
# inside the repeat: Python 3.11's re fails on one there.
_NAME_P = rb"[^\s\"'>/=]++"
_VALUE_P = rb"(?:\"[^\"]*+\"|'[^']*+'|[^\s\"'>]++)"
_TAG_P = rb"<[a-zA-Z][a-zA-Z0-9-]*+(?:\s++" + _NAME_P + rb"(?:\s*+=\s*+" + _VALUE_P + rb")?)*+\s*+/?>"
_RAW_START = rb"(?i:script|style)\b"
_QUIET_TAG = (rb"<(?!" + _RAW_START + rb")[a-zA-Z][a-zA-Z0-9-]*+(?:\s++"
              rb"(?!(?i:href|src|srcset|poster|data|id|name)(?![^\s\"'>/=]))"
              + _NAME_P + rb"(?:\s*+=\s*+" + _VALUE_P + rb")?)*+\s*+/?>")
_QUIET_RAW = rb"|".join(rb"<(?i:" + name + rb")\b(?![^>]*?(?i:href|src|poster|data|id|name))[^>]*>.*?</(?i:"
                        + name + rb")\s*>" for name in (rb"script", rb"style"))
_NEXT = re.compile(rb"(?:[^<]++|" + _QUIET_TAG + rb"|<!--.*?-->|<(?![a-zA-Z])|" + _QUIET_RAW + rb")*+"
                   rb"(?:(?!<" + _RAW_START + rb")(" + _TAG_P + rb"))?", re.S)
_CSS_URL = re.compile(r"url\(\s*(?:\"([^\"]*)\"|'([^']*)'|([^)\s]*))\s*\)", re.I)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
CHUNK = 256  # pages per job of a worker
# Entries per cache and process. The caches pay for links and tags that recur
# (navigation, source notes); unbounded, a national site's would grow to some
# 50 MB in each worker, mostly with links seen once.
CACHE_LIMIT = 20_000
LINK_ATTRS = {b"href", b"src", b"srcset", b"poster", b"data"}
SKIP_TAGS = {b"form", b"base"}


@dataclass(frozen=True, order=True)
class BrokenLink:
    page: str     # the file with the link, relative to the site root
    target: str   # the link as written
    reason: str


class BrokenLinks(Exception):
    """Raised by the build when the site has links that lead nowhere."""

    def __init__(self, links: list[BrokenLink]):
        super().__init__(f"{len(links)} broken internal link(s)")
        self.links = links

    def __str__(self) -> str:
        return format_report(self.links)


def _links_and_ids(data: bytes) -> tuple[list[str], set[str]]:
    """The links of one page in order, and its ids (and <a name>s)."""
    links, ids = [], set()
    pos, end = 0, len(data)
    while pos < end:
        m = _NEXT.match(data, pos)
        pos = m.end()
        if source := m.group(1):
            _read_tag(source, links, ids)
        elif pos == end:
            break
        elif m := _RAW.match(data, pos):
            _read_tag(b"<" + m.group(1) + m.group(2) + b">", links, ids)
            pos = m.end()
        elif m := _TAG.match(data, pos):
            _read_tag(m.group(0), links, ids)
            pos = m.end()
        else:
            pos += 1
    return links, ids


_tags: dict[bytes, tuple[tuple[str, ...], tuple[str, ...]]] = {}  # per process; most link tags recur


def _read_tag(source: bytes, links: list[str], ids: set[str]) -> None:
    """Add the links and ids of one tag, as written (source) from "<" to ">"."""
    if (found := _tags.get(source)) is None:
        if len(_tags) >= CACHE_LIMIT:
            _tags.clear()
        found = _tags[source] = _tag_links_and_ids(source)
    links += found[0]
    ids.update(found[1])


def _tag_links_and_ids(source: bytes) -> tuple[tuple[str, ...], tuple[str, ...]]:
    m = _TAG.match(source)
    if not m:
        return (), ()
    links, ids = [], []
    name = m.group(1).lower()
    for key, v1, v2, v3 in _ATTR.findall(m.group(2)):
        value = v1 or v2 or v3
        if not value:
            continue
        key = key.lower()
        if key == b"id" or (key == b"name" and name == b"a"):
            ids.append(_text(value))
        elif key in LINK_ATTRS and name not in SKIP_TAGS:
            if key == b"data" and name != b"object":
                continue
            value = _text(value)
            if key == b"srcset":
                links += [c.split()[0] for c in value.split(",") if c.split()]
            else:
                links.append(value)
    return tuple(links), tuple(ids)


def _text(value: bytes) -> str:
    """An attribute value as text: line ends as a text-mode read gives them, entities decoded."""
    if b"\r" in value:
        value = value.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return html.unescape(value.decode("utf-8", errors="replace")).strip()


def _external(link: str) -> bool:
    parts = urlsplit(link)
    return bool(parts.scheme or parts.netloc)


class _Site:
    """The site's files and folders, listed once; links resolve against the list.
    Listed before the pages are read, so the forked readers inherit it."""

    def __init__(self, root: Path):
        self.files: set[str] = set()
        self.dirs: set[str] = {""}
        for folder, dirnames, filenames in os.walk(root):
            rel = Path(folder).relative_to(root).as_posix()
            rel = "" if rel == "." else rel
            self.dirs.update(posixpath.join(rel, d) if rel else d for d in dirnames)
            self.files.update(posixpath.join(rel, f) if rel else f for f in filenames)
        self._cache: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        self._parsed: dict[str, tuple[str, str] | None] = {}

    def parse(self, link: str) -> tuple[str, str] | None:
        """(path as written, fragment unquoted), or None for no link or another host's."""
        if link not in self._parsed:
            if len(self._parsed) >= CACHE_LIMIT:
                self._parsed.clear()
            parts = urlsplit(link)
            self._parsed[link] = (None if not link or parts.scheme or parts.netloc
                                  else (parts.path, unquote(parts.fragment)))
        return self._parsed[link]

    def resolve(self, base_dir: str, path: str) -> tuple[str | None, str | None]:
        """(file relative to the site root, None) or (None, why not), for a path as
        written in a file in base_dir."""
        if path.startswith("/"):
            base_dir = ""  # the base does not matter: one cache entry for all pages
        # "../../x" from a/b is "../x" from a: links up to shared pages ("../../units/")
        # then share a cache entry across sibling folders instead of one per folder.
        i = 0
        while base_dir and path.startswith("../", i) and (path.startswith("../", i + 3) or path[i + 3:] == ".."):
            base_dir, i = base_dir.rpartition("/")[0], i + 3
        key = (base_dir, path[i:])
        if key not in self._cache:
            if len(self._cache) >= CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = self._resolve(base_dir, unquote(key[1]))
        return self._cache[key]

    def _resolve(self, base_dir: str, path: str) -> tuple[str | None, str | None]:
        joined = path.lstrip("/") if path.startswith("/") else posixpath.join(base_dir, path)
        norm = posixpath.normpath(joined) if joined else "."
        if norm == ".." or norm.startswith("../"):
            return None, "指向站点目录之外"
        norm = "" if norm == "." else norm
        if path.endswith("/") or norm in self.dirs:
            index = posixpath.join(norm, "index.html") if norm else "index.html"
            if index in self.files:
                return index, None
            return None, "页面不存在（目录中没有 index.html）"
        if norm in self.files:
            return norm, None
        return None, "文件不存在"


def _missing_anchor(fragment: str, target: str) -> str:
    return f"锚点 #{fragment} 在 {target} 中不存在"


def _pack(ids: set[str]) -> str | frozenset[str]:
    """A page's ids as one string: a few bytes each, where a set of strings
    costs some 80 (the parent holds the ids of every page until the end)."""
    return frozenset(ids) if any("\0" in i for i in ids) else "\0".join(ids)


def _unpack(packed: str | frozenset[str]) -> set[str] | frozenset[str]:
    return packed if isinstance(packed, frozenset) else set(packed.split("\0"))


def check_site(site_dir: Path | str) -> list[BrokenLink]:
    """Every internal link of the site that leads nowhere, sorted by page (and by
    place in the page)."""
    site = Path(site_dir)
    tree = _Site(site)
    pages = [rel for rel in sorted(tree.files) if rel.endswith(".html")]

    def check(rel: str) -> tuple[str, list, list, str | frozenset[str]]:
        """One page, on any CPU: its broken links and missing same-page anchors as
        (place, link, why), and its links to anchors in other pages, (place, link,
        target page, fragment), which need that page's ids."""
        page_links, page_ids = _links_and_ids((site / rel).read_bytes())
        base_dir = posixpath.dirname(rel)
        broken, elsewhere = [], []
        for place, link in enumerate(dict.fromkeys(page_links)):  # each distinct link once per page
            parsed = tree.parse(link)
            if parsed is None:
                continue
            path, fragment = parsed
            if path:
                target, why = tree.resolve(base_dir, path)
                if why:
                    broken.append((place, link, why))
                    continue
            else:
                target = rel
            if not fragment or not target.endswith(".html"):  # anchors are looked up in pages only
                continue
            if target == rel:
                if fragment not in page_ids:
                    broken.append((place, link, _missing_anchor(fragment, target)))
            else:
                elsewhere.append((place, link, target, fragment))
        return rel, broken, elsewhere, _pack(page_ids)

    # Pages on every CPU; what comes back is small (the problems, the links into
    # other pages' anchors, each page's ids packed) and is kept as it arrives.
    found: list[tuple[str, int, str, str]] = []
    anchor_links: list[tuple[str, int, str, str, str]] = []
    ids: dict[str, str | frozenset[str]] = {}
    try:
        for rel, broken, elsewhere, page_ids in fork_imap(check, pages, chunk=CHUNK):
            found += [(rel, *b) for b in broken]
            anchor_links += [(rel, *a) for a in elsewhere]
            ids[rel] = page_ids
    finally:
        _tags.clear()  # filled here only when the pages were read in this process
    targets: dict[str, set[str] | frozenset[str]] = {}
    for rel, place, link, target, fragment in anchor_links:
        if target not in targets:
            targets[target] = _unpack(ids[target])
        if fragment not in targets[target]:
            found.append((rel, place, link, _missing_anchor(fragment, target)))
    broken_links = [BrokenLink(rel, link, why) for rel, _, link, why in sorted(found)]
    for rel in sorted(f for f in tree.files if f.endswith(".css")):
        text = _CSS_COMMENT.sub("", (site / rel).read_text(encoding="utf-8", errors="replace"))
        for m in _CSS_URL.finditer(text):
            link = next(g for g in m.groups() if g is not None).strip()
            if not link or link.startswith("#") or _external(link):
                continue
            path = urlsplit(link).path
            if path:
                _, why = tree.resolve(posixpath.dirname(rel), path)
                if why:
                    broken_links.append(BrokenLink(rel, link, why))
    return broken_links


def format_report(links: list[BrokenLink], limit: int = 50) -> str:
    """One line per broken target, with the pages that link to it."""
    grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
    for b in links:
        grouped[(b.target, b.reason)].append(b.page)
    lines = [f"站内链接检查失败：{len(links)} 个失效链接（{len(grouped)} 个不同目标）。页面 → 失效链接（原因）："]
    for (target, reason), pages in list(grouped.items())[:limit]:
        shown = "、".join(pages[:3]) + (f" 等 {len(pages)} 个页面" if len(pages) > 3 else "")
        lines.append(f"  {shown} → {target}（{reason}）")
    if len(grouped) > limit:
        lines.append(f"  ……另有 {len(grouped) - limit} 个失效目标未列出")
    return "\n".join(lines)


def render(ctx) -> None:
    """Site stage: fail the build on any broken internal link."""
    broken = check_site(ctx.site_dir)
    if broken:
        raise BrokenLinks(broken)

