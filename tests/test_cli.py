"""The CLI as a maintainer runs it: exit codes and readable error tables."""
from __future__ import annotations

import subprocess
import sys

from conftest import ROOT, copy_data, read_rows, write_rows


def run(*args):
    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def test_validate_ok():
    result = run("validate")
    assert result.returncode == 0, result.stdout + result.stderr


def test_validate_reports_file_row_field_message(tmp_path):
    data = copy_data(tmp_path / "data")
    rows = read_rows(data / "prices.csv")
    rows[2]["unit_price"] = "-3"
    write_rows(data / "prices.csv", rows)
    result = run("validate", "--data", str(data))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    line = next(l for l in result.stdout.splitlines() if l.startswith("prices.csv"))
    cells = [c.strip() for c in line.split("|")]
    assert cells[:3] == ["prices.csv", "4", "unit_price"]
    assert "-3" in cells[3]


def test_build_refuses_invalid_data_and_keeps_old_site(tmp_path):
    out = tmp_path / "site"
    out.mkdir()
    (out / "index.html").write_text("previous good site", encoding="utf-8")
    data = copy_data(tmp_path / "data")
    (data / "winners.csv").write_bytes("winner_id\n".encode() + "编号".encode("gbk") + b"\n")
    result = run("build", "--data", str(data), "--out", str(out))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "winners.csv" in result.stdout
    assert (out / "index.html").read_text(encoding="utf-8") == "previous good site"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "site"]  # no staging left
