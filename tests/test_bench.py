"""The benchmark's synthetic data and report: valid packages at every size,
row counts linear in the scale, and a report with every figure issue #9 asks for."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time

import pytest

from bench import child, synth
from bench.run import TARGETS
from conftest import ROOT
from generator.package import RESOURCES, validate

LINEAR = [name for name in synth.NATIONAL]  # every table but regions and sources


def _digest(folder):
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.glob("*.csv"))}


def test_national_size_is_the_issue_size():
    c = synth.counts(synth.scale_of("national"))
    assert (c["units"], c["winners"], c["prices"], c["payment_standards"], c["execution_notices"]) == \
        (3_000, 30_000, 100_000, 1_000_000, 3_000)


def test_small_package_is_valid_flagged_and_complete(tmp_path):
    meta, tables = synth.generate(synth.scale_of("small"))
    out = synth.write(tmp_path / "small", meta, tables)
    assert validate(out) == []
    descriptor = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    assert descriptor["sample"] is True
    assert [r["name"] for r in descriptor["resources"]] == RESOURCES
    for name, n in synth.counts(synth.scale_of("small")).items():
        assert len(tables[name]) == n, name
    w, p = tables["winners"], tables["prices"]
    assert set(tables["batches"]["category"]) == {"drug", "consumable"}
    assert set(w["won"]) == {"true", "false"}
    assert {"median_pre", "max_bid", "bid", "winning_bid", "renewal", "listed"} <= set(p["kind"])
    assert set(tables["payment_standards"]["basis"]) == {"winning_price", "highest_winning_price", "other"}
    assert (tables["payment_standards"]["winner_id"] == "").any()  # standards for a whole unit too


def test_sizes_scale_linearly_and_seed_is_fixed(tmp_path):
    for scale in (0.05, 1.0):
        a, b = synth.counts(scale), synth.counts(2 * scale)
        assert all(b[name] == 2 * a[name] for name in LINEAR), (a, b)
    small = synth.write(tmp_path / "a", *synth.generate(0.01))
    again = synth.write(tmp_path / "b", *synth.generate(0.01))
    double = synth.write(tmp_path / "c", *synth.generate(0.02))
    assert _digest(small) == _digest(again)
    assert validate(double) == []
    for folder, scale in ((small, 0.01), (double, 0.02)):
        for name, n in synth.counts(scale).items():
            assert sum(1 for _ in open(folder / f"{name}.csv", encoding="utf-8")) - 1 == n, name


def test_benchmark_report_has_every_figure(tmp_path):
    """A tiny end-to-end run: our build, Chromium, the stock MkDocs baseline."""
    report = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench.run", "--scale", "0.001", "--baseline-pages", "12",
         "--workdir", str(tmp_path), "--json", str(report)],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    r = json.loads(report.read_text(encoding="utf-8"))
    assert {"date", "cpus", "cpu_model", "ram_gb", "python"} <= set(r["machine"])
    build = r["ours"]["build"]
    for stage in ("validate", "derive", "mkdocs"):
        assert set(build["stages"][stage]) == {"seconds", "py_peak_mb", "tree_peak_mb", "cpu_s", "cores_busy"}
    assert build["pages"] > 0 and build["build_s"] > 0 and build["tree_peak_mb"] > 0
    assert 0 < build["cpu_s"] <= build["build_s"] * r["machine"]["cpus"] * 1.1
    site = r["ours"]["site"]
    assert site["pages"] == build["pages"] and site["bytes"] > 0
    for key in ("median_page", "largest_page"):
        assert site[key]["bytes"] >= site[key]["gzip"] > 0
    assert r["browser"]["home"]["bytes"] > 0
    assert r["browser"]["search"]["bytes"] > 0 and r["browser"]["search"]["results_shown"]
    stock = r["baseline"]["stock"]
    assert stock["site"]["pages"] >= 12 and stock["mkdocs_s"] > 0 and stock["search_index"]["bytes"] > 0
    assert stock["search_download_bytes"] > 0
    for key in ("time_ratio", "search_ratio", "bytes_per_page_growth"):
        assert r["ratios"][key] > 0
    assert set(r["targets"]) == set(TARGETS)
    assert "target" in result.stdout and "search" in result.stdout


def test_sampler_counts_the_cpu_of_children_that_ended():
    """A worker's CPU time still counts once it has ended, and the time
    between samples is shared out in proportion."""
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass"
    with child.Sampler(os.getpid(), interval=0.02) as sampler:
        time.sleep(0.2)
        started = time.perf_counter() - sampler.start
        subprocess.run([sys.executable, "-c", burn], check=True)
        ended = time.perf_counter() - sampler.start
        time.sleep(0.2)
    assert 0.6 <= sampler.cpu_s() < 0.6 + os.cpu_count() * sampler.cpu[-1][0]
    assert 0.6 <= sampler.cpu_s(started, ended) <= sampler.cpu_s()
    assert sampler.cpu_s(0.0, 0.1) < 0.1


@pytest.mark.parametrize("argv", [["--size", "huge"], ["--scale", "0"]])
def test_synth_cli_refuses_bad_sizes(tmp_path, argv):
    result = subprocess.run([sys.executable, "-m", "bench.synth", *argv, "--out", str(tmp_path / "x")],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2 and not (tmp_path / "x").exists()
