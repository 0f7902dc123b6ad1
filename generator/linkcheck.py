"""Internal links of a built site: every href and src in the HTML, and every
url() in the site's own CSS, must lead to a file of the site, and every #anchor
to an id in the page it points at.

Checked: pages, anchors, assets, downloads. Not checked: links to other hosts,
and links that scripts add at run time (Pagefind results, charts): they are not
in the HTML. Run as the last site stage of the build, so a broken link stops
the build before the new site replaces the old one."""
from __future__ import annotations

import html
import os
import posixpath
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from .parallel import fork_map

# A start tag with its attributes; quoted values are consumed whole, so text
# inside an attribute value is never read as another attribute.
_TAG = re.compile(
    r"<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s\"'>/=]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?)*)\s*/?>")
_ATTR = re.compile(r"([^\s\"'>/=]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
# Raw text that is not markup: comments and the bodies of scripts and styles.
_RAW = re.compile(r"<(?:!--.*?-->|(script|style)\b([^>]*)>.*?</\1\s*>)", re.S | re.I)
_INTERESTING = re.compile(r"\b(?:href|src|srcset|poster|data|id|name)\s*=", re.I)
_CSS_URL = re.compile(r"url\(\s*(?:\"([^\"]*)\"|'([^']*)'|([^)\s]*))\s*\)", re.I)
_CSS_COMMENT = re.compile(r"/\*.*?\*/", re.S)
LINK_ATTRS = {"href", "src", "srcset", "poster", "data"}
SKIP_TAGS = {"form", "base"}


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


def _links_and_ids(text: str) -> tuple[list[str], set[str]]:
    links, ids = [], set()
    text = _RAW.sub(lambda m: f"<{m.group(1)}{m.group(2)}>" if m.group(1) else "", text)
    for name, attrs in _TAG.findall(text):
        if not attrs or not _INTERESTING.search(attrs):
            continue
        name = name.lower()
        for key, v1, v2, v3 in _ATTR.findall(attrs):
            key = key.lower()
            value = v1 or v2 or v3
            if not value:
                continue
            value = html.unescape(value).strip()
            if key == "id" or (key == "name" and name == "a"):
                ids.add(value)
            elif key in LINK_ATTRS and name not in SKIP_TAGS:
                if key == "data" and name != "object":
                    continue
                if key == "srcset":
                    links += [c.split()[0] for c in value.split(",") if c.split()]
                else:
                    links.append(value)
    return links, ids


def _external(link: str) -> bool:
    parts = urlsplit(link)
    return bool(parts.scheme or parts.netloc)


class _Site:
    """The site's files and folders, listed once; links resolve against the list."""

    def __init__(self, root: Path):
        self.files: set[str] = set()
        self.dirs: set[str] = {""}
        for folder, dirnames, filenames in os.walk(root):
            rel = Path(folder).relative_to(root).as_posix()
            rel = "" if rel == "." else rel
            self.dirs.update(posixpath.join(rel, d) if rel else d for d in dirnames)
            self.files.update(posixpath.join(rel, f) if rel else f for f in filenames)
        self._cache: dict[tuple[str, str], tuple[str | None, str | None]] = {}

    def resolve(self, base: str, path: str) -> tuple[str | None, str | None]:
        """(file relative to the site root, None) or (None, why not)."""
        key = (posixpath.dirname(base), path)
        if key not in self._cache:
            self._cache[key] = self._resolve(key[0], unquote(path))
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


def check_site(site_dir: Path | str) -> list[BrokenLink]:
    """Every internal link of the site that leads nowhere, sorted by page."""
    site = Path(site_dir)
    tree = _Site(site)
    pages = {rel: site / rel for rel in sorted(tree.files) if rel.endswith(".html")}

    def read(rel: str) -> tuple[str, list[str], set[str]]:
        page_links, page_ids = _links_and_ids(pages[rel].read_text(encoding="utf-8", errors="replace"))
        return rel, list(dict.fromkeys(page_links)), page_ids

    links: dict[str, list[str]] = {}
    ids: dict[str, set[str]] = {}
    for rel, page_links, page_ids in fork_map(read, list(pages), chunk=256):  # pages on every CPU
        links[rel], ids[rel] = page_links, page_ids
    broken = []
    for rel in sorted(links):
        for link in links[rel]:  # each distinct link once per page
            if not link or _external(link):
                continue
            parts = urlsplit(link)
            if parts.path:
                target, why = tree.resolve(rel, parts.path)
                if why:
                    broken.append(BrokenLink(rel, link, why))
                    continue
            else:
                target = rel
            fragment = unquote(parts.fragment)
            if fragment and target in ids and fragment not in ids[target]:
                broken.append(BrokenLink(rel, link, f"锚点 #{fragment} 在 {target} 中不存在"))
    for rel in sorted(f for f in tree.files if f.endswith(".css")):
        text = _CSS_COMMENT.sub("", (site / rel).read_text(encoding="utf-8", errors="replace"))
        for m in _CSS_URL.finditer(text):
            link = next(g for g in m.groups() if g is not None).strip()
            if not link or link.startswith("#") or _external(link):
                continue
            path = urlsplit(link).path
            if path:
                _, why = tree.resolve(rel, path)
                if why:
                    broken.append(BrokenLink(rel, link, why))
    return broken


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

