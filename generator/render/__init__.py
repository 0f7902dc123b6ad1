"""Render stages, in order. DOC_STAGES write into the docs folder before MkDocs;
SITE_STAGES work on the built site after it."""
from __future__ import annotations

import os
from pathlib import Path

from .. import linkcheck
from . import changelog, charts, downloads, pages, search

DOC_STAGES = [
    ("charts", charts.render),  # before pages: templates embed ctx.charts
    ("pages", pages.render),
    ("changelog", changelog.render),
    ("downloads", downloads.render),
    ("search-records", search.collect),  # the data's search records; the index is made after MkDocs
]


def place_files(ctx) -> None:
    """Move what DOC_STAGES wrote to ctx.files_dir into the built site, as MkDocs
    would have copied it (same paths; hard links stay links). A folder the site
    does not have yet moves whole: charts/ holds ~12,000 files at national scale."""
    src = ctx.files_dir
    for folder, dirs, names in os.walk(src):
        dest = ctx.site_dir / Path(folder).relative_to(src)
        dest.mkdir(parents=True, exist_ok=True)
        for name in names:
            os.replace(Path(folder) / name, dest / name)
        for name in list(dirs):
            if not (dest / name).exists():
                os.replace(Path(folder) / name, dest / name)
                dirs.remove(name)  # moved: not walked


SITE_STAGES: list = [
    ("files", place_files),
    ("search", search.render),  # Pagefind over the built site
]
# Always last: a broken internal link stops the build before the swap.
SITE_STAGES.append(("links", linkcheck.render))
