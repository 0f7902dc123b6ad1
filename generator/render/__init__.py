"""Render stages, in order. DOC_STAGES write into the docs folder before MkDocs;
SITE_STAGES work on the built site after it."""
from __future__ import annotations

from .. import linkcheck
from . import changelog, charts, downloads, pages, search

DOC_STAGES = [
    ("charts", charts.render),  # before pages: templates embed ctx.charts
    ("pages", pages.render),
    ("changelog", changelog.render),
    ("downloads", downloads.render),
]
SITE_STAGES: list = [
    ("search", search.render),  # Pagefind over the built site
]
# Always last: a broken internal link stops the build before the swap.
SITE_STAGES.append(("links", linkcheck.render))
