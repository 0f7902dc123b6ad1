"""The importer on small sources built here, laid out like real published tables:
a new layout needs only a mapping; bad sources give file, row, field, message
and write nothing; a re-import prints what changes and replaces the package
atomically."""
from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from conftest import ROOT
from generator.importers import ImportFailed, run_import

MAPPINGS = ROOT / "generator" / "importers" / "mappings"

# A layout the shipped mappings do not know: one sheet, a title row, a note
# row, the price headers broken over two rows, no 是否外企 column.
XLSX_MAPPING = f"""
extends: {MAPPINGS / "vbp_results_workbook.yaml"}
volumes: null
companies: null
results:
  source_id: ccpic-datasite-vbp
  match: "*.xlsx"
  sheets:
    第四批结果: {{batch: nat-drug-4}}
  fields:
    unit: 药品通用名
    strength: 规格包装
    company: 生产企业-全称
    company_short: 生产企业-简称
    originator: 是否原研
    won: 是否中标
    max_bid: 最高限价
    median_pre: 中标前中位价（最小规格）（元）
    bid: {{column: 竞标价格（最小规格）（元）, placeholders: [99999]}}
    supply_regions: 供应省份
"""
HEADER_TOP = ["序号", "药品通用名", "规格包装", "生产企业-全称", "生产企业-简称", "是否原研", "是否中标",
              "最高限价", "中标前中位价", "竞标价格", "供应省份"]
HEADER_BOTTOM = [None] * 8 + ["（最小规格）（元）", "（最小规格）（元）", None]
ROWS = [
    [1, "阿托伐他汀口服常释剂型", "10mg", "齐鲁制药（海南）有限公司", "齐鲁制药", "否", "是", 6.6, "-", 0.12,
     "浙江，山东、湖 北"],
    [1, "阿托伐他汀口服常释剂型", "10mg", "兴安药业\n有限公司", "兴安药业", "否", "是", "6.6", 2.5, "0.13元",
     "新疆\n（含兵团），广东"],
    [1, "阿托伐他汀口服常释剂型", "10mg", "辉瑞制药有限公司", "辉瑞", "是", "否", 6.6, 3.5, 99999, None],
    [None] * 11,
    [2, "氨氯地平口服常释剂型", "5mg", "京新药业", "京新", "否", "Y", 1.2, "", "0.5", "北京"],
    ["注：价格为最小规格价格"] + [None] * 10,
]
FIRST_DATA_ROW = 5  # sheet row of ROWS[0]: title, note, two header rows above it


def write_xlsx(path: Path, rows=ROWS, top=HEADER_TOP, bottom=HEADER_BOTTOM, sheet="第四批结果") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(["全国药品集中采购中选品种表"])
    ws.append(["注：某某流标"])
    ws.append(top)
    ws.append(bottom)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


@pytest.fixture
def layout(tmp_path) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(XLSX_MAPPING, encoding="utf-8")
    return path


@pytest.fixture
def flat_layout(tmp_path) -> Path:
    """The shipped flat-CSV mapping without the agreed-volume and company files."""
    path = tmp_path / "flat.yaml"
    path.write_text(f"extends: {MAPPINGS / 'vbp_results_flat_csv.yaml'}\nvolumes: null\ncompanies: null\n",
                    encoding="utf-8")
    return path


FLAT_HEADER = ["批次", "source_sheet", "source_row", "序号", "药品通用名", "是否中标多种规格", "规格包装",
               "生产企业-全称", "生产企业-简称", "是否原研", "是否外企", "是否中标", "最高限价",
               "中标前中位价(最小规格)(元)", "竞标价格(最小规格)(元)", "供应省份"]
FLAT_ROW = ["第二批", "第二轮集采", "4", "1", "阿比特龙口服常释剂型", "否", "0.25g", "正大天晴药业集团股份有限公司",
            "正大天晴", "否", "否", "是", "101.67", "101.67", "23.33333333333333", "辽宁，黑龙江，上海"]


def write_flat(path: Path, rows, encoding="utf-8") -> Path:
    with open(path, "w", encoding=encoding, newline="") as fh:
        w = csv.writer(fh)
        w.writerow(FLAT_HEADER)
        w.writerows(rows)
    return path


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def quiet(_):
    pass


# --- a new layout, only a new mapping ---------------------------------------------

def test_new_layout_imports_with_only_a_mapping(tmp_path, layout):
    out = tmp_path / "pkg"
    result = run_import(layout, [write_xlsx(tmp_path / "results.xlsx")], out, echo=quiet)
    w = result.tables["winners"].set_index("source_ref")
    assert len(w) == 4
    first = w.loc[f"第四批结果!{FIRST_DATA_ROW}"]
    assert first["supply_regions"] == "330000|370000|420000" and first["won"] is True
    assert w.loc[f"第四批结果!{FIRST_DATA_ROW + 1}"]["supply_regions"] == "440000|650000"
    companies = set(result.tables["companies"]["name"])
    assert "兴安药业有限公司" in companies
    prices = result.tables["prices"]
    assert sorted(prices[prices["kind"] == "winning_bid"]["unit_price"]) == ["0.12", "0.13", "0.5"]
    assert not (prices["unit_price"] == "99999").any()
    assert (out / "datapackage.json").is_file()
    assert subprocess.run([sys.executable, "-m", "generator", "validate", "--data", str(out)],
                          cwd=ROOT, capture_output=True).returncode == 0


def test_accounting_of_note_and_blank_rows(tmp_path, layout):
    out = tmp_path / "pkg"
    result = run_import(layout, [write_xlsx(tmp_path / "results.xlsx")], out, echo=quiet)
    c = result.ledger.totals()[("results.xlsx", "第四批结果")]
    assert (c["rows"], c["imported"], c["merged"], c["rejected"]) == (5, 4, 0, 1)
    assert result.ledger.blank[("results.xlsx", "第四批结果")] == 1
    report = list(csv.DictReader(open(result.report_path, encoding="utf-8-sig")))
    rejected = [r for r in report if r["outcome"] == "rejected"]
    assert len(rejected) == 1 and rejected[0]["row"] == str(FIRST_DATA_ROW + 5)
    assert "注：价格为最小规格价格" in rejected[0]["reason"]
    placeholder = next(r for r in report if r["row"] == str(FIRST_DATA_ROW + 2))
    assert placeholder["outcome"] == "imported" and "占位值" in placeholder["note"]


def test_the_same_bid_from_two_sources_is_merged(tmp_path, layout):
    a = write_xlsx(tmp_path / "a.xlsx")
    b = write_xlsx(tmp_path / "b.xlsx")
    result = run_import(layout, [a, b], tmp_path / "pkg", echo=quiet)
    assert len(result.tables["winners"]) == 4
    c = result.ledger.totals()[("b.xlsx", "第四批结果")]
    assert (c["imported"], c["merged"], c["rejected"]) == (0, 4, 1)


def test_a_conflicting_copy_of_a_bid_is_rejected_with_the_difference(tmp_path, layout):
    changed = [r[:] for r in ROWS]
    changed[0][9] = 0.11
    result = run_import(layout, [write_xlsx(tmp_path / "a.xlsx"), write_xlsx(tmp_path / "b.xlsx", changed)],
                        tmp_path / "pkg", echo=quiet)
    e = result.ledger.entries[("b.xlsx", "第四批结果", FIRST_DATA_ROW)]
    assert e.outcome == "rejected" and "0.12 ≠ 0.11" in e.reason and f"a.xlsx!第四批结果 第 {FIRST_DATA_ROW} 行" in e.reason


# --- bad sources: a clear error, nothing written -------------------------------------

def failing(mapping, sources, out) -> list:
    with pytest.raises(ImportFailed) as info:
        run_import(mapping, sources, out, echo=quiet)
    assert not out.exists()
    leftovers = [p.name for p in out.parent.iterdir() if p.name.startswith(".") or p.name.endswith(".csv")
                 and "import-report" in p.name]
    assert leftovers == []
    return info.value.errors


def test_sheet_without_a_recognisable_header(tmp_path, layout):
    top = ["No.", "Drug", "Spec"] + HEADER_TOP[3:]
    errors = failing(layout, [write_xlsx(tmp_path / "results.xlsx", top=top)], tmp_path / "pkg")
    assert len(errors) == 1
    assert errors[0].file == "results.xlsx!第四批结果" and "找不到表头" in errors[0].message
    assert "药品通用名" in errors[0].message


def test_missing_sheet_is_named_with_the_sheets_there(tmp_path, layout):
    errors = failing(layout, [write_xlsx(tmp_path / "results.xlsx", sheet="Sheet1")], tmp_path / "pkg")
    assert "第四批结果" in errors[0].message and "Sheet1" in errors[0].message


def test_unknown_province(tmp_path, layout):
    rows = [r[:] for r in ROWS]
    rows[1][10] = "新疆，火星"
    errors = failing(layout, [write_xlsx(tmp_path / "results.xlsx", rows)], tmp_path / "pkg")
    assert [(e.file, e.row, e.field) for e in errors] == [("results.xlsx!第四批结果", FIRST_DATA_ROW + 1, "供应省份")]
    assert "火星" in errors[0].message


def test_unparseable_price(tmp_path, layout):
    rows = [r[:] for r in ROWS]
    rows[4][7] = "约1.2元"
    errors = failing(layout, [write_xlsx(tmp_path / "results.xlsx", rows)], tmp_path / "pkg")
    assert [(e.row, e.field) for e in errors] == [(FIRST_DATA_ROW + 4, "最高限价")]
    assert "约1.2元" in errors[0].message


def test_every_bad_cell_is_reported_at_once(tmp_path, layout):
    rows = [r[:] for r in ROWS]
    rows[0][6] = "也许"
    rows[1][7] = "abc"
    rows[4][10] = "火星"
    errors = failing(layout, [write_xlsx(tmp_path / "results.xlsx", rows)], tmp_path / "pkg")
    assert sorted((e.row, e.field) for e in errors) == [
        (FIRST_DATA_ROW, "是否中标"), (FIRST_DATA_ROW + 1, "最高限价"), (FIRST_DATA_ROW + 4, "供应省份")]


def test_gbk_csv(tmp_path, flat_layout):
    path = write_flat(tmp_path / "x_bids.csv", [FLAT_ROW], encoding="gbk")
    errors = failing(flat_layout, [path], tmp_path / "pkg")
    assert errors[0].file == "x_bids.csv" and "GBK" in errors[0].message and "UTF-8" in errors[0].message


@pytest.mark.parametrize("name", ["x_bids.csv", "results.xlsx"])
def test_empty_file(tmp_path, layout, flat_layout, name):
    path = tmp_path / name
    path.write_bytes(b"")
    errors = failing(flat_layout if name.endswith(".csv") else layout, [path], tmp_path / "pkg")
    assert errors[0].file == name and "文件为空" in errors[0].message


def test_not_a_workbook(tmp_path, layout):
    path = tmp_path / "results.xlsx"
    path.write_text("序号,药品通用名\n", encoding="utf-8")
    errors = failing(layout, [path], tmp_path / "pkg")
    assert "不是有效的 .xlsx" in errors[0].message


def test_flat_csv_row_numbers_count_records_not_lines(tmp_path, flat_layout):
    """A company name with a line break is still one row; errors name the row a spreadsheet shows."""
    second = FLAT_ROW[:]
    second[2], second[7], second[15] = "5", "成都盛迪医药\n有限公司", "天津，月球"
    errors = failing(flat_layout, [write_flat(tmp_path / "x_bids.csv", [FLAT_ROW, second])], tmp_path / "pkg")
    assert [(e.file, e.row, e.field) for e in errors] == [("x_bids.csv", 3, "供应省份")]


def test_unmapped_batch_label(tmp_path, flat_layout):
    row = FLAT_ROW[:]
    row[0] = "第九批"
    errors = failing(flat_layout, [write_flat(tmp_path / "x_bids.csv", [row])], tmp_path / "pkg")
    assert (errors[0].row, errors[0].field) == (2, "批次") and "第九批" in errors[0].message


def test_mapping_errors_name_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"extends: {MAPPINGS / 'vbp_results_workbook.yaml'}\nresults:\n  source_id: nowhere\n"
                   f"  fields:\n    unit: 药品通用名\n    colour: 颜色\n", encoding="utf-8")
    errors = failing(bad, [write_xlsx(tmp_path / "results.xlsx")], tmp_path / "pkg")
    fields = {e.field for e in errors}
    assert {"results.fields.colour", "results.source_id", "results.fields.won"} <= fields
    assert all(e.file == "bad.yaml" for e in errors)


def test_cli_prints_file_row_field_message_and_exits_1(tmp_path, layout):
    rows = [r[:] for r in ROWS]
    rows[1][10] = "火星"
    src = write_xlsx(tmp_path / "results.xlsx", rows)
    out = tmp_path / "pkg"
    result = subprocess.run([sys.executable, "-m", "generator", "import", "--mapping", str(layout),
                             "--out", str(out), str(src)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    line = next(l for l in result.stdout.splitlines() if l.startswith("results.xlsx"))
    cells = [c.strip() for c in line.split("|")]
    assert cells[:3] == ["results.xlsx!第四批结果", str(FIRST_DATA_ROW + 1), "供应省份"] and "火星" in cells[3]
    assert "保持原样" in result.stderr and not out.exists()


def test_failed_import_leaves_an_existing_package_whole(tmp_path, layout):
    out = tmp_path / "pkg"
    run_import(layout, [write_xlsx(tmp_path / "results.xlsx")], out, echo=quiet)
    before = snapshot(out)
    rows = [r[:] for r in ROWS]
    rows[0][9] = "约0.1"
    with pytest.raises(ImportFailed):
        run_import(layout, [write_xlsx(tmp_path / "results.xlsx", rows)], out, echo=quiet)
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mapping.yaml", "pkg", "pkg.import-report.csv",
                                                          "results.xlsx"]


def test_out_that_is_not_a_package_is_not_overwritten(tmp_path, layout):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "mine.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(ImportFailed, match="不是数据包"):
        run_import(layout, [write_xlsx(tmp_path / "results.xlsx")], out, echo=quiet)
    assert (out / "mine.txt").read_text(encoding="utf-8") == "keep me"


# --- re-import ----------------------------------------------------------------------

def test_reimport_prints_changes_before_writing(tmp_path, layout):
    out = tmp_path / "pkg"
    run_import(layout, [write_xlsx(tmp_path / "results.xlsx")], out, echo=quiet)
    rows = [r[:] for r in ROWS]
    rows[0][9] = 0.11              # a winning price changes
    del rows[4]                     # a bid disappears
    rows.insert(3, [1, "阿托伐他汀口服常释剂型", "10mg", "北京嘉林药业股份有限公司", "北京嘉林", "否", "否",
                    6.6, None, 0.46, None])  # a bid appears
    printed = []

    def echo(text):  # what was printed, and whether the old package was still in place then
        printed.append((text, "0.12," in (out / "prices.csv").read_text(encoding="utf-8")))

    result = run_import(layout, [write_xlsx(tmp_path / "results.xlsx", rows)], out, echo=echo)
    prices = result.tables["prices"].set_index("price_id")
    price_id = next(p for p in prices.index if p.endswith("winning-bid") and prices.at[p, "unit_price"] == "0.11")
    report, old_still_there = next((t, old) for t, old in printed if price_id in t)
    assert old_still_there  # printed before anything was replaced
    assert "0.12" in report and "0.11" in report and "| winners.csv |" in report
    winners = result.changes.tables["winners"]
    assert (len(winners.added), len(winners.removed)) == (1, 1)
    assert [(m.old, m.new) for m in result.changes.price_moves if m.key == price_id] == [(0.12, 0.11)]
    written = pd.read_csv(out / "prices.csv", dtype=str)
    assert "0.11" in set(written["unit_price"]) and "0.12" not in set(written["unit_price"])


def test_reimport_of_unchanged_sources_changes_nothing(tmp_path, layout):
    src = write_xlsx(tmp_path / "results.xlsx")
    out = tmp_path / "pkg"
    run_import(layout, [src], out, echo=quiet)
    before = snapshot(out)
    result = run_import(layout, [src], out, echo=quiet)
    assert not result.changes.any and snapshot(out) == before


def test_reimport_keeps_payment_standards_it_does_not_make(tmp_path, layout):
    src = write_xlsx(tmp_path / "results.xlsx")
    out = tmp_path / "pkg"
    first = run_import(layout, [src], out, echo=quiet)
    w = first.tables["winners"].set_index("source_ref").loc[f"第四批结果!{FIRST_DATA_ROW + 1}"]
    with open(out / "payment_standards.csv", "a", encoding="utf-8") as fh:
        fh.write(f"ps-test,330000,nat-drug-4,{w['unit_id']},{w['winner_id']},"
                 f"0.13,元/片(粒),2021-05-01,,winning_price,ccpic-datasite-vbp\n")
    printed = []
    run_import(layout, [src], out, echo=printed.append)
    assert "ps-test" in (out / "payment_standards.csv").read_text(encoding="utf-8")
    assert any("payment_standards" in line and "保留" in line for line in printed)


def test_dry_run_writes_nothing(tmp_path, layout):
    out = tmp_path / "pkg"
    printed = []
    result = run_import(layout, [write_xlsx(tmp_path / "results.xlsx")], out, dry_run=True, echo=printed.append)
    assert not result.written and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mapping.yaml", "results.xlsx"]
    assert any("试运行" in line for line in printed)


@pytest.mark.parametrize("where", ["csv", "swap"])
def test_interrupted_import_leaves_old_files_whole(tmp_path, layout, monkeypatch, where):
    out = tmp_path / "pkg"
    run_import(layout, [write_xlsx(tmp_path / "results.xlsx")], out, echo=quiet)
    before = snapshot(out)
    rows = [r[:] for r in ROWS]
    rows[0][9] = 0.11
    src = write_xlsx(tmp_path / "results.xlsx", rows)

    if where == "csv":  # killed half-way through writing the tables
        original, calls = pd.DataFrame.to_csv, []

        def to_csv(self, *args, **kwargs):
            calls.append(1)
            if len(calls) == 5:
                raise KeyboardInterrupt("interrupted mid-write")
            return original(self, *args, **kwargs)
        monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv)
    else:  # failing at the moment of swapping the new package in
        import generator.package as pkgmod

        def swap_in(new, target):
            raise OSError("disk full")
        monkeypatch.setattr(pkgmod, "swap_in", swap_in)

    with pytest.raises((KeyboardInterrupt, OSError)):
        run_import(layout, [src], out, echo=quiet)
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mapping.yaml", "pkg", "pkg.import-report.csv",
                                                          "results.xlsx"]


def test_xls_without_xlrd_asks_for_xlsx(tmp_path, layout):
    pytest.importorskip("openpyxl")
    try:
        import xlrd  # noqa: F401
        pytest.skip("xlrd is installed: .xls files are read")
    except ImportError:
        pass
    path = tmp_path / "results.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0 not really a workbook")
    (tmp_path / "x.yaml").write_text(XLSX_MAPPING.replace('"*.xlsx"', '"*.xls"'), encoding="utf-8")
    errors = failing(tmp_path / "x.yaml", [path], tmp_path / "pkg")
    assert "xlrd" in errors[0].message and ".xlsx" in errors[0].message
