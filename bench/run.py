"""The benchmark: build a synthetic package of a given size end to end, weigh the
site, measure what Chromium transfers, and compare with stock MkDocs.

    python -m bench.run --size national [--baseline-pages 1000] [--json FILE]
    python -m bench.run --scale 0.002 --baseline-pages 30     # a quick run

Steps (all in one run, outputs in bench/out/, git-ignored):
1. data: bench/synth.py at the size (cached in bench/out/data-<size>/ while the
   generator, schemas and reference tables are unchanged);
2. ours: `generator.build.build` in a fresh process (bench/child.py): seconds
   per stage from BuildResult.timings, peak memory per stage of the whole
   process tree (Python + Pagefind), pages;
3. site: pages, bytes, median and largest page, raw and gzipped;
4. browser: Chromium on a local gzip server (bench/browser.py): bytes of a
   home-page visit, of a first search query, and of a second one;
5. baseline: our build again at about --baseline-pages pages, its generated
   Markdown built by stock mkdocs-material (auto navigation, built-in search),
   measured the same way; ratios per page against ours.
Prints a table and writes JSON (bench/out/<size>.json unless --json)."""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

from generator.render.charts import CACHE_ENV

from . import synth
from .child import CAPTURE_STAGE, Sampler

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
ENTITY_DIRS = ("unit", "product", "round", "province", "company")
# Targets from issue #9: figures the script prints, not timed tests.
TARGETS = {
    "build_s": ("national build, seconds", "<", 180),
    "peak_mb": ("national build, peak memory MB", "<", 2048),
    "median_page_kb": ("median page, KB of HTML", "<", 40),
    "search_query_kb": ("one search query, KB transferred", "<", 300),
    "home_visit_kb": ("home-page visit, KB transferred", "<", 1024),
    "time_ratio": ("stock MkDocs / ours, seconds per page", ">=", 5),
    "search_ratio": ("stock MkDocs / ours, search bytes per page", ">=", 50),
    "bytes_per_page_growth": ("site bytes per page, large / baseline-size build", "<=", 1.25),
}


# --- machine and data ------------------------------------------------------------

def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu_model": cpu, "ram_gb": mem_gb,
        "python": platform.python_version(), "platform": platform.platform(terse=True),
        "commit": commit, "load_avg_start": [round(x, 2) for x in os.getloadavg()],
    }


def _data_stamp(scale: float) -> str:
    h = hashlib.sha256(f"{scale!r}|{synth.SEED}".encode())
    for path in [Path(synth.__file__), *sorted((ROOT / "schemas").glob("*.json")),
                 ROOT / "data" / "regions.csv", ROOT / "data" / "sources.csv",
                 ROOT / "data" / "datapackage.json"]:
        h.update(path.read_bytes())
    return h.hexdigest()


def ensure_data(label: str, scale: float, out: Path) -> tuple[Path, float]:
    """The synthetic package for a scale, generated unless an identical one exists."""
    data, stamp = out / f"data-{label}", out / f"data-{label}.stamp"
    want = _data_stamp(scale)
    if data.is_dir() and stamp.is_file() and stamp.read_text() == want:
        return data, 0.0
    start = time.perf_counter()
    meta, tables = synth.generate(scale)
    synth.write(data, meta, tables)
    stamp.write_text(want)
    return data, round(time.perf_counter() - start, 2)


def rows_of(data: Path) -> dict[str, int]:
    out = {}
    for csv in sorted(data.glob("*.csv")):
        with open(csv, "rb") as fh:
            out[csv.stem] = sum(1 for _ in fh) - 1
    return out


# --- our build ----------------------------------------------------------------------

def run_build(data: Path, site: Path, capture: Path | None = None, max_mb: float | None = None) -> dict:
    """`generator.build.build` in a fresh process (bench/child.py), measured: a
    first build, as on a fresh CI runner, into an empty folder (replacing an
    earlier national site adds ~45 s of deleting it) with an empty chart SVG
    cache (every chart drawn). A build whose process tree grows past max_mb is
    killed: the machine is shared."""
    report = site.with_name(site.name + ".build.json")
    progress = report.with_name(report.name + ".progress")
    report.unlink(missing_ok=True)
    progress.unlink(missing_ok=True)
    shutil.rmtree(site, ignore_errors=True)
    cache = site.with_name(site.name + ".chart-cache")
    shutil.rmtree(cache, ignore_errors=True)
    cmd = [sys.executable, "-m", "bench.child", "--data", str(data), "--out", str(site),
           "--json", str(report)]
    if capture:
        cmd += ["--capture-docs", str(capture)]
    killed: list[int] = []

    def kill(rss: int) -> None:
        killed.append(rss)
        os.killpg(proc.pid, signal.SIGKILL)

    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env={**os.environ, CACHE_ENV: str(cache)})
    with Sampler(proc.pid, interval=0.5, limit_mb=max_mb, on_limit=kill):
        out, err = proc.communicate()
    wall = time.perf_counter() - start
    where = f"\nlast progress: {progress.read_text(encoding='utf-8')}" if progress.is_file() else ""
    if killed:
        raise SystemExit(f"build killed after {wall:.0f} s: its processes held {killed[0] / 2**20:,.0f} MB, "
                         f"more than --max-mb {max_mb:,.0f}{where}")
    if proc.returncode != 0:
        raise SystemExit(f"build failed with exit status {proc.returncode} after {wall:.0f} s "
                         f"({' '.join(cmd)}):\n{out[-4000:]}\n{err[-4000:]}{where}")
    result = json.loads(report.read_text(encoding="utf-8"))
    result["process_s"] = round(wall, 3)  # interpreter start, imports, build, exit
    return result


# --- site weight -----------------------------------------------------------------------

def site_metrics(site: Path) -> dict:
    pages, total, sections = [], 0, {}
    for path in site.rglob("*"):
        if not path.is_file():
            continue
        size = path.stat().st_size
        total += size
        rel = path.relative_to(site)
        top = rel.parts[0] if len(rel.parts) > 1 else "(root)"
        sec = sections.setdefault(top, {"files": 0, "bytes": 0, "pages": 0})
        sec["files"] += 1
        sec["bytes"] += size
        if path.suffix == ".html":
            sec["pages"] += 1
            pages.append((size, str(rel)))
    if not pages:
        return {"pages": 0, "bytes": total}
    pages.sort()
    raw = [s for s, _ in pages]
    median_size, median_path = pages[(len(pages) - 1) // 2]
    largest_size, largest_path = pages[-1]

    def gz(rel):
        return len(gzip.compress((site / rel).read_bytes(), compresslevel=6, mtime=0))

    per_kind = {}
    for top in ENTITY_DIRS:
        sizes = [s for s, r in pages if r.startswith(top + "/")]
        if sizes:
            per_kind[top] = {"pages": len(sizes), "median_bytes": int(statistics.median(sizes)),
                             "max_bytes": max(sizes)}
    return {
        "pages": len(pages),
        "bytes": total,
        "html_bytes": sum(raw),
        "bytes_per_page": round(total / len(pages)),
        "median_page": {"path": median_path, "bytes": median_size, "gzip": gz(median_path)},
        "largest_page": {"path": largest_path, "bytes": largest_size, "gzip": gz(largest_path)},
        "per_kind": per_kind,
        "sections": dict(sorted(sections.items(), key=lambda kv: -kv[1]["bytes"])),
    }


# --- browser ----------------------------------------------------------------------------

def default_queries(data: Path) -> list[str]:
    """A competition unit's generic name, then a company's short name, from the data."""
    import csv

    with open(data / "units.csv", encoding="utf-8") as fh:
        unit = next(csv.DictReader(fh))["generic_name"]
    with open(data / "companies.csv", encoding="utf-8") as fh:
        company = next(csv.DictReader(fh))["short_name"]
    return [unit, company]


def browser_metrics(site: Path, queries: list[str]) -> dict:
    from .browser import measure

    m = measure(site, queries)
    first = m["queries"][0]
    return {
        "home": m["home"],
        "search": first,
        "search_next": m["queries"][1] if len(m["queries"]) > 1 else None,
    }


# --- stock MkDocs baseline -----------------------------------------------------------

def select_pages(docs: Path, n: int) -> int:
    """Keep n Markdown pages: hand-written and section pages first, then generated
    pages taken in turn from each kind (unit, product, …); delete the rest."""
    md = sorted(docs.rglob("*.md"))
    entity = {k: [p for p in md if p.relative_to(docs).parts[0] == k] for k in ENTITY_DIRS}
    fixed = [p for p in md if p.relative_to(docs).parts[0] not in ENTITY_DIRS]
    keep = list(fixed[:n])
    queues = [list(v) for v in entity.values() if v]
    while len(keep) < n and any(queues):
        for q in queues:
            if q and len(keep) < n:
                keep.append(q.pop(0))
    kept = set(keep)
    for p in md:
        if p not in kept:
            p.unlink()
    return len(keep)


def stock_config(docs: Path, site: Path, path: Path) -> None:
    ours = {}
    try:
        ours = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8")) or {}
    except yaml.YAMLError:
        pass
    config = {
        "site_name": ours.get("site_name", "集采公开"),
        "docs_dir": str(docs), "site_dir": str(site), "use_directory_urls": True,
        "theme": {"name": "material", "language": "zh"},
        "plugins": ["search"],  # Material's built-in search (lunr), auto navigation: no nav
        "markdown_extensions": ours.get("markdown_extensions", ["attr_list", "md_in_html", "tables"]),
    }
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")


def baseline(report: dict, n_pages: int, queries: list[str], skip_browser: bool, out: Path,
             max_mb: float | None = None) -> dict:
    """Our build at about n_pages pages, and stock mkdocs-material on its Markdown."""
    pages_per_scale = report["ours"]["build"]["pages"] / report["scale"]
    scale = n_pages / pages_per_scale * 1.3
    work = out / f"baseline-{n_pages}"
    docs = work / "docs"
    for _ in range(4):
        label = f"scale-{scale:.6g}"
        data, gen_s = ensure_data(label, scale, out)
        ours_site = work / "ours-site"
        ours = run_build(data, ours_site, capture=docs, max_mb=max_mb)
        available = sum(1 for _ in docs.rglob("*.md"))
        if available >= n_pages:
            break
        scale *= n_pages / max(available, 1) * 1.2
    kept = select_pages(docs, n_pages)
    site = work / "stock-site"
    shutil.rmtree(site, ignore_errors=True)
    cfg = work / "mkdocs.yml"
    stock_config(docs, site, cfg)
    cmd = [sys.executable, "-m", "mkdocs", "build", "-q", "-f", str(cfg)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    with Sampler(proc.pid) as sampler:
        log, _ = proc.communicate()
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"stock MkDocs failed:\n{log[-4000:]}")
    weight = site_metrics(site)
    index = site / "search" / "search_index.json"
    index_raw = index.read_bytes() if index.is_file() else b""
    out = {
        "scale": scale, "markdown_pages": kept, "generate_s": gen_s,
        "ours": {"build": ours, "site": site_metrics(ours_site)},
        "stock": {
            "mkdocs_s": round(seconds, 2), "peak_mb": sampler.peak_mb(), "site": weight,
            "search_index": {"bytes": len(index_raw),
                             "gzip": len(gzip.compress(index_raw, compresslevel=6, mtime=0))},
        },
    }
    if not skip_browser:
        m = browser_metrics(site, queries)
        search_bytes = sum(b for step in (m["home"], m["search"]) for p, b in step["by_path"].items()
                           if p.endswith("search_index.json") or "/search/" in p)
        out["stock"]["browser"] = m
        out["stock"]["search_download_bytes"] = search_bytes
    return out


# --- report --------------------------------------------------------------------------------

def ratios_and_targets(r: dict) -> None:
    ours_build, ours_site = r["ours"]["build"], r["ours"]["site"]
    ratios: dict = {}
    b = r.get("baseline")
    if b:
        stock = b["stock"]
        stock_pages = stock["site"]["pages"]
        stock_s_pp = stock["mkdocs_s"] / stock_pages
        ours_s_pp = ours_build["build_s"] / ours_build["pages"]
        small = b["ours"]["build"]
        ratios["stock_s_per_page"] = round(stock_s_pp, 5)
        ratios["ours_s_per_page"] = round(ours_s_pp, 5)
        ratios["ours_s_per_page_at_baseline_size"] = round(small["build_s"] / small["pages"], 5)
        ratios["time_ratio"] = round(stock_s_pp / ours_s_pp, 2)
        ratios["time_ratio_at_baseline_size"] = round(stock_s_pp / ratios["ours_s_per_page_at_baseline_size"], 2)
        ratios["bytes_per_page_growth"] = round(
            ours_site["bytes_per_page"] / b["ours"]["site"]["bytes_per_page"], 3)
        search = r.get("browser", {}).get("search")
        stock_search = stock.get("search_download_bytes") or stock["search_index"]["gzip"]
        if search:
            stock_b_pp = stock_search / stock_pages
            ours_b_pp = search["bytes"] / ours_site["pages"]
            ratios["stock_search_bytes_per_page"] = round(stock_b_pp, 1)
            ratios["ours_search_bytes_per_page"] = round(ours_b_pp, 3)
            ratios["search_ratio"] = round(stock_b_pp / ours_b_pp, 1)
            ratios["stock_search_bytes_at_our_size"] = round(stock_b_pp * ours_site["pages"])
    r["ratios"] = ratios
    values = {
        "build_s": ours_build["build_s"],
        "peak_mb": ours_build["tree_peak_mb"],
        "median_page_kb": round(ours_site["median_page"]["bytes"] / 1024, 1),
        "search_query_kb": round(r["browser"]["search"]["bytes"] / 1024, 1) if r.get("browser") else None,
        "home_visit_kb": round(r["browser"]["home"]["bytes"] / 1024, 1) if r.get("browser") else None,
        "time_ratio": ratios.get("time_ratio"),
        "search_ratio": ratios.get("search_ratio"),
        "bytes_per_page_growth": ratios.get("bytes_per_page_growth"),
    }
    targets = {}
    for key, (label, op, limit) in TARGETS.items():
        v = values[key]
        ok = None if v is None else {"<": v < limit, "<=": v <= limit, ">=": v >= limit}[op]
        targets[key] = {"label": label, "value": v, "target": f"{op} {limit}", "ok": ok}
    r["targets"] = targets


def _kb(n) -> str:
    return "—" if n is None else f"{n / 1024:,.1f} KB"


def print_report(r: dict) -> None:
    m = r["machine"]
    print(f"\n# Benchmark: size {r['size']} (scale {r['scale']:g}) — {m['date']}")
    print(f"machine: {m['cpus']} CPUs, {m['cpu_model']}, {m['ram_gb']} GB RAM, Python {m['python']}, "
          f"commit {m['commit']}, load average at start {m['load_avg_start']}")
    print("rows: " + ", ".join(f"{k} {v:,}" for k, v in r["rows"].items()))
    b = r["ours"]["build"]
    print(f"\n{'stage':<22}{'seconds':>10}{'CPU s':>9}{'cores busy':>12}{'tree peak MB':>14}{'python peak MB':>16}")
    for name, s in b["stages"].items():
        tree = "—" if s["tree_peak_mb"] is None else f"{s['tree_peak_mb']:.0f}"
        cpu = "—" if s.get("cpu_s") is None else f"{s['cpu_s']:.1f}"
        busy = "—" if s.get("cores_busy") is None else f"{s['cores_busy']:.2f}"
        print(f"{name:<22}{s['seconds']:>10.2f}{cpu:>9}{busy:>12}{tree:>14}{s['py_peak_mb']:>16.0f}")
    cpu = "—" if b.get("cpu_s") is None else f"{b['cpu_s']:.1f}"
    busy = "—" if b.get("cpu_s") is None else f"{b['cpu_s'] / b['build_s']:.2f}"
    print(f"{'build (all stages)':<22}{b['build_s']:>10.2f}{cpu:>9}{busy:>12}{b['tree_peak_mb']:>14.0f}"
          f"{b['py_peak_mb']:>16.0f}")
    print(f"{'process (with imports)':<22}{b['process_s']:>10.2f}")
    s = r["ours"]["site"]
    print(f"\npages {s['pages']:,}; site {s['bytes'] / 2**20:,.1f} MB ({s['bytes_per_page']:,} B/page); "
          f"HTML {s['html_bytes'] / 2**20:,.1f} MB")
    print(f"median page {_kb(s['median_page']['bytes'])} ({_kb(s['median_page']['gzip'])} gzip) "
          f"{s['median_page']['path']}")
    print(f"largest page {_kb(s['largest_page']['bytes'])} ({_kb(s['largest_page']['gzip'])} gzip) "
          f"{s['largest_page']['path']}")
    for kind, k in s.get("per_kind", {}).items():
        print(f"  {kind:<10}{k['pages']:>7,} pages, median {_kb(k['median_bytes'])}, max {_kb(k['max_bytes'])}")
    if r.get("browser"):
        br = r["browser"]
        print(f"\nChromium, gzip server: home visit {_kb(br['home']['bytes'])} in {br['home']['requests']} requests")
        for step in (br["search"], br.get("search_next")):
            if step:
                print(f"  search {step['query']!r}: {_kb(step['bytes'])} in {step['requests']} requests, "
                      f"{step['results_shown']} results shown")
    bl = r.get("baseline")
    if bl:
        st = bl["stock"]
        print(f"\nstock mkdocs-material (auto nav, built-in search) on {st['site']['pages']:,} of our pages: "
              f"{st['mkdocs_s']:.1f} s, peak {st['peak_mb']} MB, site {st['site']['bytes'] / 2**20:,.1f} MB, "
              f"search_index.json {_kb(st['search_index']['bytes'])} ({_kb(st['search_index']['gzip'])} gzip)")
        ob = bl["ours"]["build"]
        print(f"ours at that size: {ob['pages']:,} pages in {ob['build_s']:.1f} s")
    if r.get("ratios"):
        print("ratios: " + ", ".join(f"{k} {v}" for k, v in r["ratios"].items()))
    print(f"\n{'target':<52}{'value':>12}  {'target':<10}")
    for t in r["targets"].values():
        mark = {True: "ok", False: "MISSED", None: "n/a"}[t["ok"]]
        print(f"{t['label']:<52}{str(t['value']):>12}  {t['target']:<10}{mark}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--size", choices=sorted(synth.SIZES))
    group.add_argument("--scale", type=float, help="multiple of national")
    parser.add_argument("--baseline-pages", type=int, default=1000,
                        help="pages for the stock MkDocs baseline (0: no baseline)")
    parser.add_argument("--query", action="append", help="search queries (default: from the data)")
    parser.add_argument("--no-browser", action="store_true", help="skip the Chromium measurements")
    parser.add_argument("--json", type=Path, help="where to write the JSON report")
    parser.add_argument("--max-mb", type=float, default=12000,
                        help="kill a build whose processes hold more memory than this (default 12000)")
    parser.add_argument("--workdir", type=Path, default=OUT, help="data, sites and reports (default bench/out)")
    args = parser.parse_args(argv)

    scale = synth.SIZES[args.size] if args.size else args.scale
    label = args.size or f"scale-{scale:g}"
    work = args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    report: dict = {"size": label, "scale": scale, "machine": machine()}
    data, report["generate_s"] = ensure_data(label, scale, work)
    report["rows"] = rows_of(data)
    site = work / f"site-{label}"
    print(f"building {label} …", file=sys.stderr)
    report["ours"] = {"build": run_build(data, site, max_mb=args.max_mb)}
    report["ours"]["site"] = site_metrics(site)
    queries = args.query or default_queries(data)
    if not args.no_browser:
        print("measuring in Chromium …", file=sys.stderr)
        report["browser"] = browser_metrics(site, queries)
    if args.baseline_pages:
        print(f"stock MkDocs baseline at {args.baseline_pages} pages …", file=sys.stderr)
        report["baseline"] = baseline(report, args.baseline_pages, queries, args.no_browser, work, args.max_mb)
    report["machine"]["load_avg_end"] = [round(x, 2) for x in os.getloadavg()]
    ratios_and_targets(report)
    out = args.json or work / f"{label}.json"
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    print_report(report)
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
