"""One build in a fresh process, measured: `python -m bench.child --data D --out O --json J`.

Runs generator.build.build (what `python -m generator build` runs) and writes its
BuildResult with memory figures the build cannot see itself:

- `tree_peak_mb`: the peak memory of the whole process tree (this Python
  process, its forked workers and children such as the Pagefind binary), as
  proportional set size (shared pages counted once), sampled from /proc every
  0.05 s or, when a sample is dear, less often (see Sampler), and never below
  the Python process's exact high-water mark (ru_maxrss, what
  BuildResult.peak_mb holds, which misses child processes).
- `cpu_s`: the CPU time the machine was busy (user, nice, system, interrupts;
  not steal) from /proc/stat at the same samples, per stage with `cores_busy`
  (cpu_s / seconds): on 2 cores a stage at 1.5 leaves a quarter of the machine
  idle, and the build's cpu_s over the cores is the least its time could be.
  The whole machine's, not the tree's: Chromium's renderers are not waited for
  by a process of the tree, so their time leaves the tree's accounts when they
  end, and a benchmark machine runs nothing else (the report gives the load
  average at start and end).
- per stage, the tree peak over the stage's window. Windows are laid end to end
  from BuildResult.timings (stages run one after another; the untimed steps
  between them — staging folder, copying hand-written pages — are short), so no
  hook into the build is needed and new stages are picked up as they land.

`--capture-docs DIR` appends one DOC_STAGE that copies the generated docs folder
to DIR (the Markdown MkDocs is about to read); the stock-MkDocs baseline builds
from that copy. Its time is reported as its own stage and left out of totals."""
from __future__ import annotations

import argparse
import bisect
import json
import os
import resource
import shutil
import sys
import threading
import time
from pathlib import Path

CAPTURE_STAGE = "bench-capture-docs"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def _rss(pid: int) -> int:
    """Proportional set size: pages shared with forked workers count once across
    the tree, not once per process (plain RSS would count a parent's pages again
    for every worker that inherited them). Resident size where PSS is not known."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    with open(f"/proc/{pid}/statm", "rb") as fh:
        return int(fh.read().split()[1]) * PAGE


def _children(pid: int) -> list[int]:
    out = []
    for task in os.scandir(f"/proc/{pid}/task"):
        with open(f"{task.path}/children", "rb") as fh:
            out += [int(c) for c in fh.read().split()]
    return out


def tree_rss_bytes(root: int) -> int:
    """Resident bytes of a process and all its descendants (Linux /proc)."""
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        try:
            total += _rss(pid)
            todo += _children(pid)
        except (OSError, ValueError):
            continue  # the process ended meanwhile
    return total


def machine_busy_s() -> float:
    """CPU seconds all CPUs have been busy since boot: user, nice, system, irq, softirq."""
    with open("/proc/stat", "rb") as fh:
        fields = fh.readline().split()[1:]
    return sum(int(fields[i]) for i in (0, 1, 2, 5, 6)) / TICKS


class Sampler:
    """(seconds since start, resident bytes of the tree), and the machine's busy
    CPU seconds at the same moments, every `interval` seconds, or less often
    when sampling is dear: reading smaps_rollup walks each
    process's page tables, ~90 ms of CPU for a national build's tree (~2.3 GB),
    so at 0.05 s the sampler took ~0.4 of the 2 cores (as system time) from the
    build it measured. It waits at least DUTY times as long as a sample took,
    keeping itself under 5% of one core."""

    DUTY = 19

    def __init__(self, root: int, interval: float = 0.05, limit_mb: float | None = None,
                 on_limit=None, on_sample=None):
        self.root, self.interval = root, interval
        self.limit, self.on_limit, self.on_sample = (limit_mb or 0) * 2**20, on_limit, on_sample
        self.samples: list[tuple[float, int]] = []
        self.cpu: list[tuple[float, float]] = []  # (seconds since start, machine_busy_s())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.start = time.perf_counter()

    def _run(self) -> None:
        while not self._stop.is_set():
            cost = time.thread_time()
            rss = tree_rss_bytes(self.root)
            cost = time.thread_time() - cost
            self._sample(rss)
            if self.limit and rss > self.limit and self.on_limit:
                self.on_limit(rss)
                self.on_limit = None
            if self.on_sample:
                self.on_sample(self.samples)
            self._stop.wait(max(self.interval, self.DUTY * cost))

    def __enter__(self) -> "Sampler":
        self.start = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample(tree_rss_bytes(self.root))

    def _sample(self, rss: int) -> None:
        now = time.perf_counter() - self.start
        self.samples.append((now, rss))
        self.cpu.append((now, machine_busy_s()))

    def peak_mb(self, start: float = 0.0, end: float = float("inf")) -> float | None:
        inside = [b for t, b in self.samples if start <= t <= end]
        return round(max(inside) / 2**20, 1) if inside else None

    def cpu_s(self, start: float = 0.0, end: float | None = None) -> float | None:
        """CPU seconds the machine was busy from start to end (the last sample if None),
        read off the samples on either side of each end, in proportion."""
        if len(self.cpu) < 2:
            return None
        end = self.cpu[-1][0] if end is None else end
        return round(self._cpu_at(end) - self._cpu_at(start), 1)

    def _cpu_at(self, t: float) -> float:
        times = [s for s, _ in self.cpu]
        i = min(max(bisect.bisect_left(times, t), 1), len(times) - 1)
        (t0, c0), (t1, c1) = self.cpu[i - 1], self.cpu[i]
        return c0 + (c1 - c0) * min(max((t - t0) / (t1 - t0), 0.0), 1.0) if t1 > t0 else c1


class Progress:
    """Where a build has got to, rewritten every few seconds: what is left of a build
    that is killed. DOC_STAGES and SITE_STAGES entries are wrapped to note their
    start (validate, derive and MkDocs are known only from the gaps). The doc
    stages run in the build's child process, so starts are appended to a file of
    their own, which both processes can write."""

    def __init__(self, path: Path, every: float = 5.0):
        self.path, self.every = path, every
        self.marks_file = path.with_name(path.name + ".marks")
        self.marks_file.unlink(missing_ok=True)
        self.start = time.perf_counter()
        self._written = 0.0

    def marking(self, name, fn):
        def stage(ctx):
            with open(self.marks_file, "a", encoding="utf-8") as fh:
                fh.write(json.dumps([name, round(time.perf_counter() - self.start, 2)]) + "\n")
            return fn(ctx)
        return stage

    def marks(self) -> list:
        if not self.marks_file.is_file():
            return []
        return [json.loads(line) for line in self.marks_file.read_text(encoding="utf-8").splitlines() if line]

    def sample(self, samples: list[tuple[float, int]]) -> None:
        now = time.perf_counter()
        if now - self._written < self.every:
            return
        self._written = now
        self.path.write_text(json.dumps({
            "elapsed_s": round(now - self.start, 1),
            "tree_mb": round(samples[-1][1] / 2**20), "tree_peak_mb": round(max(b for _, b in samples) / 2**20),
            "stages_started": self.marks(),
        }), encoding="utf-8")


def stage_windows(timings: dict[str, float], offset: float) -> dict[str, tuple[float, float]]:
    windows, t = {}, offset
    for name, seconds in timings.items():
        windows[name] = (t, t + seconds)
        t += seconds
    return windows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.child")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--json", type=Path, required=True)
    parser.add_argument("--capture-docs", type=Path)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    from generator import render
    from generator.build import build

    if args.capture_docs:
        def capture(ctx, dest=args.capture_docs):
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(ctx.docs_dir, dest)
        render.DOC_STAGES.append((CAPTURE_STAGE, capture))
    progress = Progress(args.json.with_name(args.json.name + ".progress"))
    for stages in (render.DOC_STAGES, render.SITE_STAGES):
        stages[:] = [(name, progress.marking(name, fn)) for name, fn in stages]
    imports_s = time.perf_counter() - started

    with Sampler(os.getpid(), on_sample=progress.sample) as sampler:
        progress.start = sampler.start
        result = build(args.data, args.out)
    build_s = time.perf_counter() - sampler.start
    # the build's first timed stage starts right away; windows follow end to end
    windows = stage_windows(result.timings, 0.0)
    py_peak = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    stages = {
        name: {"seconds": round(result.timings[name], 3),
               "py_peak_mb": round(result.peak_mb.get(name, 0.0), 1),
               "tree_peak_mb": sampler.peak_mb(*windows[name]),
               "cpu_s": sampler.cpu_s(*windows[name])}
        for name in result.timings
    }
    for s in stages.values():
        s["cores_busy"] = round(s["cpu_s"] / s["seconds"], 2) if s["cpu_s"] and s["seconds"] > 0 else None
    report = {
        "pages": result.pages,
        "imports_s": round(imports_s, 3),
        "build_s": round(build_s - result.timings.get(CAPTURE_STAGE, 0.0), 3),
        "untimed_s": round(build_s - sum(result.timings.values()), 3),
        "stages": stages,
        "tree_peak_mb": max(sampler.peak_mb(), py_peak),
        "cpu_s": sampler.cpu_s(),
        "py_peak_mb": py_peak,
        "samples": len(sampler.samples),
    }
    args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
