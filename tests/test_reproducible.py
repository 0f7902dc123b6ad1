"""Reproducible builds (issue #10): the same data and code give the same files, byte
for byte, whatever the clock, the output folder or Python's hash seed. Dates in the
output come from the data's as_of (or SOURCE_DATE_EPOCH when it is set)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from datetime import datetime, timezone

import pytest

from conftest import DATA, ROOT
from generator.build import source_date_epoch
from generator.package import load
from generator.render import pagefind_stable
from hostile.corpus import snapshot


def _as_of() -> datetime:
    meta = json.loads((DATA / "datapackage.json").read_text(encoding="utf-8"))
    return datetime.fromisoformat(meta["as_of"]).replace(tzinfo=timezone.utc)


def test_a_second_build_is_identical(sample_site, tmp_path):
    """sample_site was built in this process; build again in another process, with
    another hash seed, into another folder, and compare every file."""
    out = tmp_path / "elsewhere" / "public"
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    env.update(PYTHONHASHSEED="12345", TZ="Pacific/Kiritimati")
    done = subprocess.run([sys.executable, "-m", "generator", "build", "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    first, second = snapshot(sample_site), snapshot(out)
    assert sorted(first) == sorted(second), set(first) ^ set(second)
    differ = sorted(name for name in first if first[name] != second[name])
    assert not differ, f"{len(differ)} files differ between two builds, e.g. {differ[:10]}"


def test_dates_come_from_the_data(sample_site):
    """No clock in the output: gzip headers and zip entries carry as_of."""
    stamp = int(_as_of().timestamp())
    for gz in sample_site.rglob("*.gz"):
        assert int.from_bytes(gz.read_bytes()[4:8], "little") in (0, stamp), gz
    zips = list(sample_site.rglob("*.zip")) + list(sample_site.rglob("*.xlsx"))
    for path in zips:
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                assert info.date_time[:3] == _as_of().timetuple()[:3], (path, info.filename, info.date_time)


def test_source_date_epoch_wins_over_as_of_and_does_not_leak(monkeypatch):
    pkg = load(DATA)
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert source_date_epoch(pkg) == int(_as_of().timestamp())
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1600000000")
    assert source_date_epoch(pkg) == 1600000000


def test_every_stage_sees_the_date_and_the_build_restores_it(tmp_path, monkeypatch):
    """Stages run with SOURCE_DATE_EPOCH set from as_of; afterwards the environment is
    as it was, so a second package built in the same process gets its own date."""
    import generator.build as build_module
    import generator.render as render

    seen_file = tmp_path / "seen.txt"  # doc stages run in a child process: they report through a file

    def probe(ctx):
        with open(seen_file, "a", encoding="utf-8") as fh:
            fh.write(f"{os.environ.get('SOURCE_DATE_EPOCH')}\n")

    def fake_mkdocs(ctx):
        probe(ctx)
        ctx.site_dir.mkdir(parents=True)
        (ctx.site_dir / "index.html").write_text(
            '<meta http-equiv="Content-Security-Policy" content="default-src \'self\'">', encoding="utf-8")

    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    monkeypatch.setattr(build_module, "run_mkdocs", fake_mkdocs)
    monkeypatch.setattr(render, "DOC_STAGES", [("probe", probe)])
    monkeypatch.setattr(render, "SITE_STAGES", [])
    build_module.build(DATA, tmp_path / "site")
    assert seen_file.read_text(encoding="utf-8").split() == [str(int(_as_of().timestamp()))] * 2
    assert "SOURCE_DATE_EPOCH" not in os.environ


# ------------------------------------------------------------------ Pagefind

def _pagefind(records, out):
    subprocess.run([sys.executable, "-m", "pagefind", "--site", str(records), "--output-path", str(out),
                    "--force-language", "zh", "--quiet"], check=True, capture_output=True)


def test_pagefind_bundle_is_made_stable(tmp_path):
    """Pagefind 1.5.2 writes filter values in a random order on each run; after
    stabilise, two runs over the same records are the same files."""
    records = tmp_path / "records"
    records.mkdir()
    for i in range(40):
        (records / f"r{i}.html").write_text(
            f'<html lang="zh"><body data-pagefind-body><h1>记录{i}</h1>'
            f'<span data-pagefind-filter="类型">{"甲乙丙丁"[i % 4]}</span>'
            f'<span data-pagefind-filter="年份">{2000 + i % 9}</span></body></html>', encoding="utf-8")
    raw = []
    for n in range(3):
        out = tmp_path / f"raw{n}"
        _pagefind(records, out)
        raw.append(snapshot(out))
        pagefind_stable.stabilise(out)
        pagefind_stable.stabilise(out)  # idempotent
    stable = [snapshot(tmp_path / f"raw{n}") for n in range(3)]
    assert stable[0] == stable[1] == stable[2]
    filters = sorted((tmp_path / "raw0" / "filter").iterdir())
    for path in filters:
        name, values = pagefind_stable._read(path)
        assert [v for v, _ in values] == sorted(v for v, _ in values)
    assert len(raw[0]) == len(stable[0])  # same files, renamed, nothing lost


@pytest.mark.parametrize("value", [0, 23, 24, 255, 256, 65535, 65536, 2**32, -1, -500, "", "记录",
                                   "x" * 300, b"\x00\x01", [], [1, [2, ["三"]]], True, False, None])
def test_cbor_round_trip(value):
    data = pagefind_stable.encode(value)
    assert pagefind_stable.decode(data) == (value, len(data))
