"""MkDocs' build, fast for generated pages, with the HTML MkDocs itself would write.

Generated pages (front matter `vbp_html: true`, see render/mkdocs_hooks.py) are
tens of thousands of HTML bodies that differ from one another, around the
theme, only by their title, their body and where they sit. MkDocs spent on them
(profiled on 3,534 pages of a 0.1-scale synthetic package):

- reading each (every byte, then YAML for the front matter) and building a
  Python-Markdown instance with all its extensions only to convert the empty
  string the hook hands it: most of a serial 3.0 CPU-s (_populate_page).
  `populate` reads the first 4 KB instead and, when they are exactly the front
  matter our templates write (a title YAML would read verbatim), sets what
  MkDocs would have set; anything else goes the normal way.
- rendering Material's main.html around each: 1.8 ms a page (_build_page).
  `Frames` renders main.html once per folder of pages and per "has its own
  <h1>" (the only choice the theme makes on a body) with sentinel title and
  body, and fills in each page's title and body by concatenation, in bytes: 0.3
  ms a page, mostly writing the file. The theme prints both as they are (the
  environment does not autoescape; the title is escaped when the page is
  written), and a frame in which a sentinel comes out changed, or the body not
  exactly once, is not used. Per folder, not per depth: relative URLs from two
  pages of one folder differ only for targets inside that folder (a page's own
  URL reads `./` from each), while `checks/` reads `../../` from `checks/r/2/`
  and `../../../checks/` from `unit/x/y/`. Each worker renders its first two
  pages of every frame both ways and compares the bytes; a frame that differs
  is dropped and its pages are rendered by MkDocs. Frames are used only when no
  plugin code other than our hook runs around a page.

run_mkdocs on those 3,534 pages: 11.4 s wall, 9.5 CPU-s before; 1.9 s wall,
2.4 CPU-s after. On the same pages copied to national size (34,980): 10.3 s
wall, 13.6 CPU-s (4.2 serial in MkDocs: files, static copies, navigation,
sitemap), down from 68 s wall, 61 CPU-s; every file of the site identical.

Pages MkDocs renders itself (hand-written pages, pages in the navigation) are
rendered while MkDocs runs; generated pages are collected and written after it,
on every CPU. A warning while writing them (from MkDocs' path) still aborts the
build, as MkDocs' strict mode does.

This wraps MkDocs' private `_populate_page` and `_build_page` (mkdocs is pinned
in requirements.lock); tests/test_build.py builds pages both ways and compares
every file."""
from __future__ import annotations

import codecs
import inspect
import logging
import re
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .package import ROOT
from .parallel import fork_map

HOOKS = ROOT / "generator" / "render" / "mkdocs_hooks.py"
FLAG = "vbp_html"
HEAD = 4096  # bytes read to find the front matter; longer front matter goes MkDocs' way
CHECKED = 2  # pages per frame and worker rendered both ways

# What render/templating.py writes: a JSON-quoted title, then the flag. The title
# is matched only when YAML reads it verbatim: no escape, no quote, no line break
# (YAML folds U+0085, U+2028 and U+2029 too) and only characters YAML accepts.
FRONT = re.compile(
    r'---\ntitle: "([\x20\x21\x23-\x5b\x5d-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd'
    r'\U00010000-\U0010ffff]*)"\n' + FLAG + r': true\n---\n')

_SENTINEL = "\ue000vbp-{}-sentinel&<>\"'\ue001"
_SLOTS = re.compile("(" + "|".join(re.escape(_SENTINEL.format(s)) for s in ("title", "body", "body<h1")) + ")")
_TITLE, _BODY = object(), object()  # slots of a frame


@dataclass
class Job:
    """One generated page and what MkDocs' _build_page was called with."""
    build_page: object
    page: object
    config: object
    doc_files: object
    nav: object
    env: object
    dirty: bool
    excluded: bool

    def build(self) -> None:
        self.build_page(self.page, self.config, self.doc_files, self.nav, self.env,
                        self.dirty, excluded=self.excluded)


@contextmanager
def generated_pages_deferred(config):
    """While MkDocs runs: generated pages are populated the short way and their
    theme pass is only collected (the list yielded) for build_deferred."""
    from mkdocs.commands import build as mk

    real_populate, real_build, deferred = mk._populate_page, mk._build_page, []
    # what the short populate leaves is what MkDocs and our hook leave, when no
    # other plugin code sees the page while it is read
    short = _hooked(config, ("page_markdown",), ("pre_page", "page_read_source", "page_content"))

    def populate(page, config, files, dirty=False):
        if not (short and not dirty and _populated_short(page)):
            real_populate(page, config, files, dirty)

    def collect(page, config, doc_files, nav, env, dirty=False, excluded=False):
        if page.meta.get(FLAG):
            deferred.append(Job(real_build, page, config, doc_files, nav, env, dirty, excluded))
        else:
            real_build(page, config, doc_files, nav, env, dirty, excluded=excluded)

    mk._populate_page, mk._build_page = populate, collect
    try:
        yield deferred
    finally:
        mk._populate_page, mk._build_page = real_populate, real_build


def _hooked(config, ours: tuple, none: tuple = ()) -> bool:
    """Whether MkDocs runs our hook, and only our hook, on the events `ours`, and
    no plugin code on the events `none`."""
    events = config.plugins.events
    return (all(events[e] and all(Path(inspect.getfile(fn)).resolve() == HOOKS for fn in events[e])
                for e in ours)
            and not any(events[e] for e in none))


def _populated_short(page) -> bool:
    """What MkDocs' read_source, the hook and render leave on a generated page:
    its meta, empty Markdown and HTML, no table of contents, no anchors."""
    from mkdocs.structure.pages import log as pages_log
    from mkdocs.structure.toc import get_toc

    try:
        with open(page.file.abs_src_path, "rb") as fh:
            front = _front(fh.read(HEAD))
    except OSError:
        return False  # MkDocs' own path reports it
    if front is None:
        return False
    page.meta, page.markdown, page.content = {"title": front[0], FLAG: True}, "", ""
    page.toc, page.present_anchor_ids = get_toc([]), set()
    if pages_log.getEffectiveLevel() > logging.DEBUG:
        page.links_to_anchors = {}
    return True


def build_deferred(deferred: list[Job]) -> int:
    """Writes the collected pages on every CPU (indexes cross to the workers, the
    pages are inherited) and returns how many were written from a frame; raises
    MkDocs' Abort if any of them warned."""
    from mkdocs.exceptions import Abort

    # a frame stands for what MkDocs and our hook do around a page, not for other plugins
    frames = Frames(usable=bool(deferred) and _hooked(deferred[0].config, ("page_context", "post_page")))

    def build_one(i: int) -> tuple[bool, int]:
        counter = _WarningCount()
        logging.getLogger("mkdocs").addHandler(counter)
        try:
            framed = frames.write(deferred[i])
        finally:
            logging.getLogger("mkdocs").removeHandler(counter)
        return framed, counter.n

    done = fork_map(build_one, range(len(deferred)), chunk=256)
    warnings = sum(n for _, n in done)
    if warnings:  # strict, as MkDocs is for the pages it built itself (the messages were printed)
        raise Abort(f"Aborted with {warnings} warnings in strict mode!")
    return sum(framed for framed, _ in done)


@dataclass
class Frames:
    """Material's main.html around generated pages outside the navigation,
    rendered once per (folder, has <h1>) with sentinels: literal text and slots."""
    usable: bool
    frames: dict = field(default_factory=dict)  # key -> list of str | None (not usable)
    checked: Counter = field(default_factory=Counter)

    def write(self, job: Job) -> bool:
        """Writes the page: from its frame (True) or by MkDocs (False)."""
        page = job.page
        title = page.meta.get("title")
        body = None
        if not (not self.usable or job.dirty or job.excluded or not page.file.inclusion.is_not_in_nav()
                or page.meta.keys() != {"title", FLAG} or not isinstance(title, str) or not title):
            body = _body(page.file.abs_src_path)
        if body is None:
            job.build()
            return False
        key = (page.url.rstrip("/").rpartition("/")[0], b"<h1" in body)
        if key not in self.frames:
            self.frames[key] = self._frame(job, key[1])
        frame = self.frames[key]
        if frame is None:
            job.build()
            return False
        title = title.encode("utf-8", errors="xmlcharrefreplace")  # as MkDocs writes pages
        data = b"".join(title if part is _TITLE else body if part is _BODY else part for part in frame)
        if self.checked[key] < CHECKED:
            self.checked[key] += 1
            job.build()
            if Path(page.file.abs_dest_path).read_bytes() != data:
                self.frames[key] = None
            return False
        from mkdocs.utils import write_file

        write_file(data, page.file.abs_dest_path)
        return True

    @staticmethod
    def _frame(job: Job, h1: bool) -> list | None:
        from mkdocs.commands.build import get_context

        page, config = job.page, job.config
        meta, content = page.meta, page.content
        title, body = _SENTINEL.format("title"), _SENTINEL.format("body<h1" if h1 else "body")
        page.meta, page.content = {**meta, "title": title}, body
        page.active, config._current_page = True, page
        try:
            context = get_context(job.nav, job.doc_files, config, page)
            html = job.env.get_template("main.html").render(context)
        finally:
            page.meta, page.content = meta, content
            page.active, config._current_page = False, None
        parts = _SLOTS.split(html)
        literals, slots = parts[0::2], parts[1::2]
        if (slots.count(body) != 1 or not set(slots) <= {title, body}
                or any("sentinel" in s.lower() or "\ue000" in s for s in literals)):
            return None
        return [part.encode("utf-8", errors="xmlcharrefreplace") if i % 2 == 0
                else _TITLE if part == title else _BODY for i, part in enumerate(parts)]


def _front(data: bytes) -> tuple[str, bytes] | None:
    """The title and the rest of a page's bytes when it starts with our front
    matter (after a byte-order mark, which MkDocs reads the file without)."""
    start = 3 if data.startswith(codecs.BOM_UTF8) else 0
    end = data.find(b"\n---\n", start) + 5
    try:
        front = FRONT.fullmatch(data[start:end].decode()) if end > 4 else None
    except UnicodeDecodeError:
        return None
    return (front[1], data[end:]) if front else None


def _body(path: str) -> bytes | None:
    """A generated page's body as MkDocs' File.content_string and
    mkdocs.utils.meta.get_data leave it, UTF-8 encoded: the bytes as read, once
    checked to be UTF-8 (a page that is not goes MkDocs' way and fails there).
    Text would cost decoding and encoding again: ~60 us of ~300 a page."""
    with open(path, "rb") as fh:
        front = _front(fh.read())
    if front is None:
        return None
    body = front[1].lstrip(b"\n")
    try:
        body.decode()
    except UnicodeDecodeError:
        return None
    return body


class _WarningCount(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.n = 0

    def emit(self, record) -> None:
        self.n += 1
