"""Render stages, in order. DOC_STAGES write into the docs folder before MkDocs;
SITE_STAGES work on the built site after it."""
from __future__ import annotations

from . import pages

DOC_STAGES = [
    ("pages", pages.render),
]
SITE_STAGES: list = []
