"""The /changelog/ page: what changed between consecutive data releases.

Releases come from git history (generator/versions.py); each one is checked
out, loaded and compared with the release before it by generator/diff.py.
Nothing on the page is written by hand."""
from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import versions
from ..diff import (DiffReport, diff_packages, old_note, open_package, show, show_pct,
                    show_price)
from .templating import write_page

MAX_RELEASES = 20   # newest releases compared on the page; older ones are only counted
LIMIT = 200         # rows per listing on the page


@dataclass
class Entry:
    version: str
    as_of: str
    anchor: str
    old_version: str | None = None   # None: the first release, nothing to compare with
    old_as_of: str | None = None
    report: DiffReport | None = None


def anchor(version: str) -> str:
    return "v" + re.sub(r"[^0-9A-Za-z]+", "-", version).strip("-")


def entries(data_dir: Path, max_releases: int = MAX_RELEASES) -> tuple[list[versions.Release], list[Entry]]:
    """All releases (newest first) and one entry per shown release, newest first."""
    releases = versions.releases(data_dir)
    shown = releases[: max_releases + 1]  # one more, to compare the oldest shown release with
    if len(shown) < 2:
        return releases, [Entry(r.version, r.as_of, anchor(r.version)) for r in shown]
    out: list[Entry] = []
    newer = None  # (package, note) of the release compared next
    with tempfile.TemporaryDirectory(prefix="vbp-changelog-") as tmp:
        for i, rel in enumerate(shown):
            folder = versions.checkout(data_dir, rel.rev, Path(tmp) / str(i))
            pkg, errors = open_package(folder, strict=False)
            note = old_note(f"版本 {rel.version}", folder, errors) if errors else None
            if newer is not None:
                entry = out[-1]
                entry.old_version, entry.old_as_of = rel.version, rel.as_of
                entry.report = diff_packages(pkg, newer[0])
                entry.report.notes.extend(n for n in (note, newer[1]) if n)
            if i < max_releases:
                out.append(Entry(rel.version, rel.as_of, anchor(rel.version)))
            newer = (pkg, note)
    return releases, out


def render(ctx) -> None:
    releases, found = entries(ctx.pkg.path)
    write_page(ctx.docs_dir, "changelog.md", "changelog.md.j2",
               meta=ctx.pkg.meta, releases=releases, entries=found,
               omitted=max(0, len(releases) - len(found)), limit=LIMIT,
               show=show, show_price=show_price, show_pct=show_pct)
