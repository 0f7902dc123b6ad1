"""The build: validate → derive → render docs → MkDocs → site stages → swap.

Everything is built in a staging folder beside --out; only a complete site
replaces the previous one, so a failed or killed build publishes nothing."""
from __future__ import annotations

import logging
import os
import resource
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from .package import ROOT, Package, load, swap_in

MKDOCS_YML = ROOT / "mkdocs.yml"


@dataclass
class BuildContext:
    """What every render stage receives: the data, derived tables and where to write."""
    pkg: Package
    derived: dict[str, pd.DataFrame]
    docs_dir: Path
    site_dir: Path
    extra: dict = field(default_factory=dict)  # merged into mkdocs `extra` for templates


@dataclass
class BuildResult:
    out_dir: Path
    pages: int
    timings: dict[str, float]
    peak_mb: dict[str, float]


def source_date_epoch(pkg: Package) -> int:
    """Dates in the output come from the data, never the clock (reproducible builds)."""
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env:
        return int(env)
    return int(datetime.fromisoformat(pkg.as_of).replace(tzinfo=timezone.utc).timestamp())


def build(data_dir: Path | str, out_dir: Path | str) -> BuildResult:
    from .derive import derive
    from .render import DOC_STAGES, SITE_STAGES

    out_dir = Path(out_dir).resolve()
    timings: dict[str, float] = {}
    peak: dict[str, float] = {}

    def timed(name, fn, *args):
        start = time.perf_counter()
        value = fn(*args)
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
        peak[name] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return value

    pkg = timed("validate", load, data_dir)
    derived = timed("derive", derive, pkg)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.build-", dir=out_dir.parent))
    try:
        ctx = BuildContext(pkg, derived, staging / "docs", staging / "site")
        shutil.copytree(ROOT / "site_src" / "docs", ctx.docs_dir)
        for name, stage in DOC_STAGES:
            timed(name, stage, ctx)
        timed("mkdocs", run_mkdocs, ctx)
        for name, stage in SITE_STAGES:
            timed(name, stage, ctx)
        pages = sum(1 for _ in ctx.site_dir.rglob("*.html"))
        swap_in(ctx.site_dir, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BuildResult(out_dir, pages, timings, peak)


def run_mkdocs(ctx: BuildContext) -> None:
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config

    os.environ["SOURCE_DATE_EPOCH"] = str(source_date_epoch(ctx.pkg))
    config = load_config(str(MKDOCS_YML), docs_dir=str(ctx.docs_dir),
                         site_dir=str(ctx.site_dir), strict=True)
    config["extra"].update(
        sample=ctx.pkg.sample, as_of=ctx.pkg.as_of, version=ctx.pkg.version, **ctx.extra)
    logging.getLogger("mkdocs").setLevel(logging.WARNING)
    mkdocs_build(config)
