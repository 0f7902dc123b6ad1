"""The build: validate → derive → render docs → MkDocs → site stages → swap.

Everything is built in a staging folder beside --out; only a complete site
replaces the previous one, so a failed or killed build publishes nothing. Each
build first removes what a killed build left behind (a staging folder nobody
holds a lock on).

Validate, derive and the doc stages run in a child process (write_docs); the
build process runs MkDocs and the site stages, which read only files."""
from __future__ import annotations

import fcntl
import glob
import logging
import os
import resource
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .package import ROOT, Package, load, swap_in
from .memory import return_freed
from .parallel import in_child
from .mkdocs_pages import build_deferred, generated_pages_deferred
from .safety import check_site

MKDOCS_YML = ROOT / "mkdocs.yml"
# Derived tables that only one stage reads, dropped after it (chart_*: ~150 MB at
# national scale, which the pages stage's forked workers need not share).
READ_ONLY_BY = {"charts": "chart_"}


@dataclass
class BuildContext:
    """What every render stage receives: the data, derived tables and where to write."""
    pkg: Package
    derived: dict[str, pd.DataFrame]
    docs_dir: Path
    site_dir: Path
    extra: dict = field(default_factory=dict)  # merged into mkdocs `extra` for templates
    charts: dict = field(default_factory=dict)  # chart_id -> ChartArtifact (render.charts.ChartStore)
    removals: list = field(default_factory=list)  # `rm` processes of discard(), waited for by the build

    def discard(self, folder: Path) -> None:
        """Remove a staged folder in the background while the stages go on:
        deleting tens of thousands of files took 5-35 s on this disk. The
        build waits for it before it ends."""
        self.removals.append(subprocess.Popen(["rm", "-rf", "--", str(folder)]))

    def removed(self) -> None:
        """Wait for every discard() to end."""
        while self.removals:
            self.removals.pop().wait()

    def forget(self, prefix: str) -> None:
        """Drop the derived tables whose names start with prefix."""
        for name in [n for n in self.derived if n.startswith(prefix)]:
            del self.derived[name]
        return_freed()

    def staged(self, name: str) -> Path:
        """A path of the staging folder, beside docs and site: what waits
        between stages without being published or held in memory."""
        return self.docs_dir.parent / name

    @property
    def files_dir(self) -> Path:
        """Files that go into the site as they are (the downloads: a gigabyte at
        national scale), moved in after MkDocs (render.place_files) so that MkDocs
        does not copy them."""
        return self.staged("files")


@dataclass
class BuildResult:
    out_dir: Path
    pages: int
    timings: dict[str, float]
    peak_mb: dict[str, float]  # per stage: its process's high-water mark so far (ru_maxrss)


class BuildRefused(Exception):
    """--out is not a place a site may be published to."""


def source_date_epoch(pkg: Package) -> int:
    """Dates in the output come from the data, never the clock (reproducible builds)."""
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env:
        return int(env)
    return int(datetime.fromisoformat(pkg.as_of).replace(tzinfo=timezone.utc).timestamp())


def build(data_dir: Path | str, out_dir: Path | str) -> BuildResult:
    out_dir = Path(out_dir).resolve()
    _check_out_dir(out_dir, Path(data_dir).resolve())
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _clean_after_killed_build(out_dir)
    return _build(data_dir, out_dir)


@dataclass
class Docs:
    """What writing the docs hands on to MkDocs and the site stages: the
    package's metadata and extras for MkDocs' config, the date of every output,
    and the figures of its stages."""
    data_path: Path
    meta: dict
    extra: dict
    epoch: int
    timings: dict[str, float]
    peak_mb: dict[str, float]


def _timer(timings: dict[str, float], peak: dict[str, float]):
    def timed(name, fn, *args):
        start = time.perf_counter()
        value = fn(*args)
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
        peak[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return value
    return timed


def write_docs(data_dir: Path | str, docs_dir: Path, site_dir: Path) -> Docs:
    """validate → derive → DOC_STAGES: the data's half of the build, which holds
    the tables. The build runs it in a child process (in_child), so all it
    allocated goes back to the system when it ends: at national scale the build
    process stays at its imports (~0.2 GB; it kept ~0.6 GB after loading the
    package and letting it go) beside Pagefind (~1.6 GB)."""
    from .derive import derive
    from .render import DOC_STAGES

    timings: dict[str, float] = {}
    peak: dict[str, float] = {}
    timed = _timer(timings, peak)
    pkg = timed("validate", load, data_dir)
    epoch = source_date_epoch(pkg)
    with _source_date_epoch_set(epoch):
        ctx = BuildContext(pkg, timed("derive", derive, pkg), docs_dir, site_dir)
        del pkg
        return_freed()  # what validation and derive let go: ~0.2 GB at national
        shutil.copytree(ROOT / "site_src" / "docs", ctx.docs_dir)
        for name, stage in DOC_STAGES:
            timed(name, stage, ctx)
            if name in READ_ONLY_BY:
                ctx.forget(READ_ONLY_BY[name])
    return Docs(ctx.pkg.path, ctx.pkg.meta, ctx.extra, epoch, timings, peak)


def _build(data_dir: Path | str, out_dir: Path) -> BuildResult:
    from .render import SITE_STAGES
    from .render.pagefind_stable import stabilise

    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.build-", dir=out_dir.parent))
    alive = _lock(staging)  # held until the end; the kernel drops it if we are killed
    ctx = None
    try:
        docs = in_child(write_docs, data_dir, staging / "docs", staging / "site")
        timings, peak = docs.timings, docs.peak_mb
        timed = _timer(timings, peak)
        ctx = BuildContext(Package(docs.data_path, docs.meta), {}, staging / "docs", staging / "site",
                           extra=docs.extra)
        with _source_date_epoch_set(docs.epoch):
            # In a child too: MkDocs' nav of 35,000 pages grows a process to ~1 GB,
            # and ~0.2 GB of it would stay beside Pagefind.
            timed("mkdocs", in_child, run_mkdocs, ctx)
            ctx.discard(ctx.docs_dir)  # the Markdown is read
            for name, stage in SITE_STAGES:
                timed(name, stage, ctx)
            if (ctx.site_dir / "pagefind" / "pagefind-entry.json").is_file():
                timed("stable", stabilise, ctx.site_dir / "pagefind")  # reproducible search index
            timed("safety", check_site, ctx.site_dir)  # last: nothing unsafe is published
        pages = sum(1 for _ in ctx.site_dir.rglob("*.html"))
        timed("publish", swap_in, ctx.site_dir, out_dir)
        timed("cleanup", ctx.removed)
    finally:
        if ctx is not None:
            ctx.removed()
        shutil.rmtree(staging, ignore_errors=True)
        os.close(alive)
    return BuildResult(out_dir, pages, timings, peak)


@contextmanager
def _source_date_epoch_set(epoch: int):
    """SOURCE_DATE_EPOCH for every stage (MkDocs' sitemap, zip and gzip headers), then
    restored, so a second build in the same process gets its own package's date."""
    before = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ["SOURCE_DATE_EPOCH"] = str(epoch)
    try:
        yield
    finally:
        if before is None:
            del os.environ["SOURCE_DATE_EPOCH"]
        else:
            os.environ["SOURCE_DATE_EPOCH"] = before


def _check_out_dir(out_dir: Path, data_dir: Path) -> None:
    """The swap replaces --out wholesale: never let it be the repository, the data or
    a folder that is not a site (`--out .` would otherwise delete the working tree)."""
    for precious in (ROOT, data_dir, Path.home(), Path(out_dir.anchor)):
        if out_dir == precious or out_dir in precious.parents:
            raise BuildRefused(f"--out {out_dir} 是（或包含）{precious}，发布时会被整个替换；请指定单独的站点目录")
    if out_dir.exists():
        if not out_dir.is_dir():
            raise BuildRefused(f"--out {out_dir} 不是目录")
        if any(out_dir.iterdir()) and not (out_dir / "index.html").is_file():
            raise BuildRefused(f"--out {out_dir} 不是空目录，也不像已发布的站点（没有 index.html），"
                               "发布时会被整个替换；请指定单独的站点目录")


def _lock(folder: Path, wait: bool = True) -> int | None:
    """An flock on a folder: the fd while held, None if another process holds it."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _clean_after_killed_build(out_dir: Path) -> None:
    """Staging folders of a killed build go (a running build holds a lock on its own);
    a site caught between the two renames of swap_in (out moved aside, new not yet
    in) is put back."""
    for stale in out_dir.parent.glob(f".{glob.escape(out_dir.name)}.build-*"):
        fd = _lock(stale, wait=False) if stale.is_dir() else None
        if fd is not None:
            shutil.rmtree(stale, ignore_errors=True)
            os.close(fd)
    old = out_dir.with_name(f".{out_dir.name}.old")
    if old.is_dir():
        if out_dir.exists():
            shutil.rmtree(old)
        else:
            os.replace(old, out_dir)


def run_mkdocs(ctx: BuildContext) -> None:
    """MkDocs' build, with generated pages written fast (mkdocs_pages.py)."""
    from mkdocs.commands.build import build as mkdocs_build

    config = mkdocs_config(ctx)
    logger = logging.getLogger("mkdocs")
    logger.setLevel(logging.WARNING)
    if not any(getattr(h, "vbp", False) for h in logger.handlers):
        # MkDocs' own counting handler hides warnings from Python's last-resort printer;
        # in strict mode a warning aborts the build, so the reader must see it.
        shown = logging.StreamHandler()
        shown.setFormatter(logging.Formatter("MkDocs %(levelname)s: %(message)s"))
        shown.vbp = True
        logger.addHandler(shown)
    with generated_pages_deferred(config) as deferred:
        mkdocs_build(config)
    build_deferred(deferred)


def mkdocs_config(ctx: BuildContext):
    from mkdocs.config import load_config

    config = load_config(str(MKDOCS_YML), docs_dir=str(ctx.docs_dir),
                         site_dir=str(ctx.site_dir), strict=True)
    config["extra"].update(
        sample=ctx.pkg.sample, as_of=ctx.pkg.as_of, data_version=ctx.pkg.version, **ctx.extra)
    return config
