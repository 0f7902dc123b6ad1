"""Independent jobs on every CPU: a pool of forked processes that inherit the
parent's data, so nothing big is pickled (a View of a national package is a
gigabyte); only the items and the results cross between processes.

Fork, not spawn: spawn re-imports the caller's main module, which broke callers
without a `__main__` guard. The parent's objects are frozen out of the garbage
collector first, so the children do not copy them by walking them."""
from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence

_job: Callable | None = None  # what the forked workers call: set before the fork


def cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def fork_map(fn: Callable, items: Sequence, chunk: int = 1) -> list:
    """[fn(item) for item in items] in any order: in forked workers when there is
    more than one CPU and more than one chunk of work, else in this process."""
    return list(fork_imap(fn, items, chunk))


def fork_imap(fn: Callable, items: Sequence, chunk: int = 1) -> Iterator:
    """fork_map's results one by one as they arrive, so the caller can keep less
    of each than the whole result."""
    global _job
    chunks = [items[i:i + chunk] for i in range(0, len(items), chunk)]
    workers = min(cpus(), len(chunks))
    if workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        yield from (fn(item) for item in items)
        return
    _job = fn
    gc.freeze()
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for part in pool.imap_unordered(_run_chunk, chunks):
                yield from part
    finally:
        gc.unfreeze()
        _job = None


def _run_chunk(items: Sequence) -> list:
    return [_job(item) for item in items]
