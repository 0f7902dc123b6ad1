"""Independent jobs on every CPU: a pool of forked processes that inherit the
parent's data, so nothing big is pickled (a View of a national package is a
gigabyte); only the items and the results cross between processes.

Fork, not spawn: spawn re-imports the caller's main module, which broke callers
without a `__main__` guard. The parent's objects are frozen out of the garbage
collector first, so the children do not copy them by walking them.

in_child runs one job in a forked process of its own, for the memory it
gives back when it ends; Background runs one beside this process."""
from __future__ import annotations

import gc
import multiprocessing
import os
import traceback
from collections.abc import Callable, Iterator, Sequence

_job: Callable | None = None  # what the forked workers call: set before the fork


def cpus() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def fork_map(fn: Callable, items: Sequence, chunk: int = 1, fresh_after: int | None = None) -> list:
    """[fn(item) for item in items] in any order: in forked workers when there is
    more than one CPU and more than one chunk of work, else in this process.
    With fresh_after, a worker is replaced by a fresh fork after that many
    chunks: what it copied of the parent's pages (touching an object writes
    its reference count) and what it kept goes back to the system."""
    return list(fork_imap(fn, items, chunk, fresh_after))


def fork_imap(fn: Callable, items: Sequence, chunk: int = 1, fresh_after: int | None = None) -> Iterator:
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
        with multiprocessing.get_context("fork").Pool(workers, maxtasksperchild=fresh_after) as pool:
            for part in pool.imap_unordered(_run_chunk, chunks):
                yield from part
    finally:
        gc.unfreeze()
        _job = None


def _run_chunk(items: Sequence) -> list:
    return [_job(item) for item in items]


class RemoteTraceback(Exception):
    """Where an exception of in_child's process was raised, as its traceback text."""

    def __str__(self) -> str:
        return self.args[0]


def in_child(fn: Callable, *args):
    """fn(*args) in a forked process, its result or its exception brought back.
    Everything fn allocates is given back to the system whole when the process
    ends, which freeing objects in this process does not do (Python's and
    glibc's heaps keep what is left around a few live objects)."""
    return Background(fn, *args).result()


class Background:
    """fn(*args) in a forked process while this one goes on; result() waits for
    it and brings back its result or its exception, as in_child."""

    def __init__(self, fn: Callable, *args):
        context = multiprocessing.get_context("fork")
        self._name = getattr(fn, "__name__", str(fn))
        self._receive, send = context.Pipe(duplex=False)
        self._child = context.Process(target=_child, args=(send, fn, args))
        gc.freeze()  # as in fork_imap: the child's collector leaves our objects' pages shared
        try:
            self._child.start()
        finally:
            gc.unfreeze()
            send.close()

    def result(self):
        try:
            ok, value = self._receive.recv()
        except EOFError:  # it ended without a word
            ok, value = None, None
        finally:
            self._child.join()
            self._receive.close()
        if ok is None:
            raise RuntimeError(f"{self._name} 的子进程意外退出（exit code {self._child.exitcode}）")
        if ok:
            return value
        exc, text = value
        raise exc from RemoteTraceback(text)


def _child(send, fn: Callable, args: tuple) -> None:
    try:
        result = (True, fn(*args))
    except BaseException as exc:  # noqa: BLE001  every failure goes back to the caller
        result = (False, (exc, traceback.format_exc()))
    try:
        send.send(result)
    except Exception as exc:  # noqa: BLE001  an exception or result that cannot be pickled
        send.send((False, (RuntimeError(f"{type(exc).__name__}: {exc}"), traceback.format_exc())))
    finally:
        send.close()
