"""`python -m generator diff`: a maintainer's edit, reported exactly — nothing
more, nothing less — on the sample data and on real imported batches."""
from __future__ import annotations

import shutil
import subprocess
import sys
from decimal import Decimal

import pytest

from conftest import DATA, ROOT, copy_data, read_rows, write_rows
from datachanges import edit_package
from generator.diff import diff_packages, open_package, to_markdown
from generator.package import RESOURCES, load


def run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600)


def assert_reports_exactly(report, edit):
    changed = {name: t for name, t in report.tables.items() if t.any}
    expected_tables = {"prices", "winners", "execution_notices"} | (
        {"payment_standards"} if edit.removed["payment_standards"] else set())
    assert set(changed) == expected_tables

    prices = report.tables["prices"]
    assert [c.key for c in prices.changed] == [edit.price_id]
    assert {c.field for c in prices.changed[0].changes} == set(edit.price_fields)
    assert {prices.key(r) for r in prices.removed} == edit.removed["prices"]
    assert prices.added == []
    assert [report.tables["winners"].key(r) for r in report.tables["winners"].removed] == [edit.winner_id]
    assert not report.tables["winners"].added and not report.tables["winners"].changed
    ps = report.tables["payment_standards"]
    assert {ps.key(r) for r in ps.removed} == edit.removed["payment_standards"]
    assert not ps.added and not ps.changed
    notices = report.tables["execution_notices"]
    assert [notices.key(r) for r in notices.added] == [edit.notice_id]
    assert not notices.removed and not notices.changed

    assert [n["notice_id"] for n in report.new_notices] == [edit.notice_id]
    assert report.new_rounds == []
    moves = {(m.key, m.field): m for m in report.price_moves}
    assert set(moves) == {(edit.price_id, f) for f in edit.price_fields}
    for f, (old, new) in edit.price_fields.items():
        m = moves[(edit.price_id, f)]
        assert (Decimal(repr(m.old)), Decimal(repr(m.new))) == (Decimal(old), Decimal(new))
        assert m.pct == edit.pct(f)


@pytest.fixture(scope="module")
def sample_pair(tmp_path_factory):
    new = copy_data(tmp_path_factory.mktemp("diff") / "new")
    edit = edit_package(new)
    return DATA, new, edit


@pytest.fixture(scope="module")
def sample_report(sample_pair):
    old, new, _ = sample_pair
    return diff_packages(load(old), load(new))


def test_diff_reports_exactly_the_edit(sample_pair, sample_report):
    assert_reports_exactly(sample_report, sample_pair[2])


def test_same_package_reports_no_change():
    pkg = load(DATA)
    report = diff_packages(pkg, pkg)
    assert not report.any and report.price_moves == []
    assert "完全相同" in to_markdown(report)


def test_cli_prints_markdown_with_old_new_and_percentage(sample_pair):
    old, new, edit = sample_pair
    result = run("diff", str(old), str(new))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    old_unit, new_unit = edit.price_fields["unit_price"]
    pct = edit.pct("unit_price")
    line = next(l for l in out.splitlines() if edit.price_id in l and "最小单位价格" in l)
    cells = [c.strip() for c in line.strip("|").split(" | ")]
    assert cells[0] == edit.price_id
    assert Decimal(cells[3].split()[0]) == Decimal(old_unit)
    assert Decimal(cells[4].split()[0]) == Decimal(new_unit)
    assert cells[5] == f"+{pct}%"
    assert edit.winner_id in out and edit.notice_id in out
    assert "新增执行通知（1）" in out and "新增采购批次" not in out


def test_markdown_cells_cannot_break_the_table(sample_report):
    """A `|` or `*` in the data is text, not table syntax."""
    out = to_markdown(sample_report)
    for block in out.split("\n\n"):
        lines = [l for l in block.splitlines() if l.startswith("| ")]
        if lines:
            widths = {len(l.replace("\\|", "").split("|")) for l in lines}
            assert len(widths) == 1, block
    assert "测试 \\*新增\\*" in out and "\\| 测试" in out


def test_cli_diffs_two_git_revisions(tmp_path):
    repo = tmp_path / "repo"
    shutil.copytree(DATA, repo / "data")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([*git, "add", "data"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "v1"], cwd=repo, check=True)
    edit = edit_package(repo / "data", version="0.2.0")
    subprocess.run([*git, "commit", "-qam", "v2"], cwd=repo, check=True)
    result = run("diff", "--data", str(repo / "data"), "HEAD~1", "HEAD")
    assert result.returncode == 0, result.stderr
    assert "0.1.0（截至" in result.stdout and "0.2.0（截至" in result.stdout
    assert edit.price_id in result.stdout and edit.notice_id in result.stdout
    # a folder on one side, a revision on the other
    result = run("diff", "--data", str(repo / "data"), "HEAD", str(repo / "data"))
    assert result.returncode == 0 and "完全相同" in result.stdout
    result = run("diff", "--data", str(repo / "data"), "no-such-rev", "HEAD")
    assert result.returncode == 2 and "no-such-rev" in result.stderr


def test_invalid_new_package_gives_a_markdown_error_table(tmp_path):
    new = copy_data(tmp_path / "new")
    rows = read_rows(new / "prices.csv")
    rows[2]["unit_price"] = "-3"
    write_rows(new / "prices.csv", rows)
    result = run("diff", str(DATA), str(new))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    line = next(l for l in result.stdout.splitlines() if l.startswith("| prices.csv"))
    assert [c.strip() for c in line.strip("|").split(" | ")][:3] == ["prices.csv", "4", "unit_price"]


def test_old_package_from_before_a_schema_change_is_still_compared(tmp_path):
    """An old package that lacks a column today's schema has is read as it is, with a note."""
    old = copy_data(tmp_path / "old")
    rows = read_rows(old / "winners.csv")
    for r in rows:
        del r["source_ref"]
    write_rows(old / "winners.csv", rows)
    pkg, errors = open_package(old, strict=False)
    assert errors
    report = diff_packages(pkg, load(DATA))
    changed = {name for name, t in report.tables.items() if t.any}
    assert changed == {"winners"}
    fields = {c.field for ch in report.tables["winners"].changed for c in ch.changes}
    assert fields == {"source_ref"}
    result = run("diff", str(old), str(DATA))
    assert result.returncode == 0 and "校验有" in result.stdout


def test_first_package_counts_every_row_as_added(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    pkg, _ = open_package(empty, strict=False)
    report = diff_packages(pkg, load(DATA))
    for name in RESOURCES:
        assert len(report.tables[name].added) == len(read_rows(DATA / f"{name}.csv")), name


def test_real_batches_imported_twice_report_exactly_the_edit(real_package, tmp_path):
    old = tmp_path / "old"
    new = tmp_path / "new"
    shutil.copytree(real_package, old)
    shutil.copytree(real_package, new)
    edit = edit_package(new)
    old_pkg, new_pkg = load(old), load(new)
    assert_reports_exactly(diff_packages(old_pkg, new_pkg), edit)
    result = run("diff", str(old), str(new))
    assert result.returncode == 0, result.stderr
    assert f"+{edit.pct('unit_price')}%" in result.stdout
