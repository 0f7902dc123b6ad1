"""Import of the real published results (../shared/realdata): the officially
announced totals, the accounting of every row, and both sources agreeing.

Skipped, with the reason, when ../shared/realdata is absent (see conftest.realdata)."""
from __future__ import annotations

import csv
import io
import re
import subprocess
import sys
from decimal import Decimal

import pytest

from conftest import ROOT, read_rows
from generator.importers import prepare

MAPPINGS = ROOT / "generator" / "importers" / "mappings"
WORKBOOK = "vbp_results_batches_1ext-4.xlsx"
FLAT_CSV = "vbp_batches_1ext_2_3_4_bids.csv"
ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")

# ../shared/realdata/README.md: officially announced totals per batch.
OFFICIAL = {  # batch: (winning products, molecules won)
    "nat-drug-1x": (60, 25), "nat-drug-2": (100, 32), "nat-drug-3": (191, 55), "nat-drug-4": (158, 45),
}
BIDS = 797


@pytest.fixture(scope="module")
def workbook(realdata):
    return prepare(MAPPINGS / "vbp_results_workbook.yaml", [realdata / WORKBOOK])


@pytest.fixture(scope="module")
def flat(realdata):
    return prepare(MAPPINGS / "vbp_results_flat_csv.yaml", [realdata / FLAT_CSV])


@pytest.fixture(scope="module", params=["workbook", "flat"])
def imported(request):
    return request.getfixturevalue(request.param)


def winner(prep, source_ref):
    w = prep.tables["winners"]
    rows = w[w["source_ref"] == source_ref]
    assert len(rows) == 1, source_ref
    return rows.iloc[0]


def prices_of(prep, winner_id):
    p = prep.tables["prices"]
    return dict(zip(p[p["winner_id"] == winner_id]["kind"], p[p["winner_id"] == winner_id]["unit_price"]))


def test_official_totals(imported):
    w = imported.tables["winners"]
    assert len(w) == BIDS
    won = w[w["won"] == True]  # noqa: E712 - object column of Python bools
    got = {b: (int((won["batch_id"] == b).sum()), won[won["batch_id"] == b]["unit_id"].nunique())
           for b in OFFICIAL}
    assert got == OFFICIAL


def test_every_bid_is_imported_and_every_row_accounted_for(imported):
    ledger = imported.ledger
    assert ledger.balanced() and not ledger.unaccounted()
    totals = ledger.totals()
    results = {k: c for k, c in totals.items() if k[0] in (WORKBOOK, FLAT_CSV) and k[1] != "生产企业名称mapping"}
    assert sum(c["rows"] for c in results.values()) == BIDS
    assert sum(c["imported"] for c in results.values()) == BIDS
    for c in totals.values():
        assert c["rows"] == c["imported"] + c["merged"] + c["rejected"]
    for e in ledger.entries.values():
        assert e.row >= 1
        if e.outcome == "rejected":
            assert e.reason and not e.record
        else:
            assert e.record.startswith(("winners/", "companies/"))


def test_accounting_report_csv_lists_every_row(imported):
    rows = list(csv.DictReader(io.StringIO(imported.ledger.to_csv())))
    assert len(rows) == sum(c["rows"] for c in imported.ledger.totals().values())
    assert {r["outcome"] for r in rows} == {"imported", "merged", "rejected"}
    assert all(r["reason"] for r in rows if r["outcome"] == "rejected")


def test_agreed_volume_rows_are_merged_or_rejected_with_reason(imported):
    entries = [e for e in imported.ledger.entries.values() if e.file == "vbp_agreed_volume_by_province.csv"]
    assert len(entries) == 7953
    pilot = [e for e in entries if "4+7试点(11城市)" in e.reason]
    assert len(pilot) == 462 and all(e.outcome == "rejected" for e in pilot)
    duplicates = [e for e in entries if e.reason.startswith("重复的约定量行")]
    assert sorted(e.row for e in duplicates) == [513, 888, 1363]  # 新疆 rows repeated in the source


def test_placeholder_bids_are_imported_without_a_price(imported):
    """`99999` in 竞标价格 means no valid bid: the bid stays, its price does not."""
    assert imported.ledger.counters["报价为占位值（已导入投标，未记录该价格）"] == 18
    p = imported.tables["prices"]
    assert not (p["unit_price"].map(Decimal) >= 99999).any()
    w = winner(imported, "第三轮集采!52")  # 布洛芬颗粒剂, bid 99999
    assert prices_of(imported, w["winner_id"]) == {"max_bid": "1.2296"}  # no bid price; median blank
    notes = [e.note for e in imported.ledger.entries.values() if e.record == f"winners/{w['winner_id']}"]
    assert "占位值" in notes[0]


def test_prices_keep_full_precision(imported):
    w = winner(imported, "第二轮集采!4")  # 阿比特龙 0.25g, 正大天晴
    assert prices_of(imported, w["winner_id"]) == {
        "max_bid": "101.67", "median_pre": "101.67", "winning_bid": "23.33333333333333"}
    assert w["won"] is True and w["smallest_unit"] == "片(粒)"


def test_workbook_formulas_without_saved_results_are_computed(workbook, flat):
    """K81 `=1.47` and L81 `=3.8/14` in 第二轮集采 have no cached value in the
    workbook; the flat CSV holds their results."""
    for prep in (workbook, flat):
        w = winner(prep, "第二轮集采!81")
        assert prices_of(prep, w["winner_id"]) == {
            "max_bid": "1.224", "median_pre": "1.47", "winning_bid": "0.2714285714285714"}
    note = next(e.note for e in workbook.ledger.entries.values() if e.row == 81 and e.sheet == "第二轮集采")
    assert "=3.8/14" in note


def test_workbook_and_flat_csv_give_the_same_package(workbook, flat):
    for name in ("winners", "units", "companies", "batches", "sources", "regions"):
        a = workbook.tables[name].fillna("").astype(str).reset_index(drop=True)
        b = flat.tables[name].fillna("").astype(str).reset_index(drop=True)
        assert a.equals(b), name
    a = workbook.tables["prices"].set_index("price_id")
    b = flat.tables["prices"].set_index("price_id")
    assert sorted(a.index) == sorted(b.index)
    # The CSV re-computed some formulas: a few values differ in the 16th digit.
    for pid in a.index:
        x, y = Decimal(a.at[pid, "unit_price"]), Decimal(b.at[pid, "unit_price"])
        assert abs(x - y) <= Decimal("1e-15") * x, pid


@pytest.mark.parametrize("source_ref, volume, provinces", [
    # 齐鲁制药（海南）, 阿托伐他汀 10mg: 浙江 4608.54 + 山东 1773.75 + 湖北 4284.66 + 山西 1809.83
    # + 江西 1745.54 + 陕西 750.44 + 吉林 383.65 + 海南 867.78 + 西藏 14.17
    ("第一轮集采联盟地区!4", "16238.36", 9),
    # 广东东阳光, 埃索美拉唑 20mg: 天津 62.9426 + 安徽 518.8507 + 福建 1353.3253 + 湖北 452.0993
    # + 贵州 48.7668 + 青海 47.4078 + 新疆 39.9009
    ("第四轮集采!2", "2523.2934", 7),
    # 卫材, 甲钴胺 `500ug` in the bids, `0.5mg` in the volume file: 16 provinces
    ("第三轮集采!131", "100237.9044", 16),
])
def test_agreed_volumes_joined_by_hand(imported, source_ref, volume, provinces):
    w = winner(imported, source_ref)
    assert w["agreed_volume"] == volume
    assert w["agreed_volume_unit"] == "万片(粒)"
    assert len(w["supply_regions"].split("|")) == provinces


def test_a_winner_missing_a_provinces_volume_says_so(imported):
    notes = [e.note for e in imported.ledger.entries.values() if "约定采购量缺少" in e.note]
    assert len(notes) == 1 and "650000" in notes[0]


def test_losing_bids_have_no_regions_and_no_volume(imported):
    w = imported.tables["winners"]
    lost = w[w["won"] == False]  # noqa: E712
    assert len(lost) == BIDS - 509
    assert lost["supply_regions"].isna().all() and lost["agreed_volume"].isna().all()


def test_ids_are_well_formed_and_stable(workbook):
    t = workbook.tables
    for name, col in (("winners", "winner_id"), ("prices", "price_id"), ("companies", "company_id"),
                      ("units", "unit_id"), ("batches", "batch_id"), ("sources", "source_id")):
        assert t[name][col].map(lambda v: bool(ID.match(v))).all(), name
        assert t[name][col].is_unique, name
    assert winner(workbook, "第一轮集采联盟地区!4")["winner_id"] == "w-nat-drug-1x-453b1575f3"
    assert t["units"].set_index("name").at["阿托伐他汀口服常释剂型", "unit_id"] == "u-923d25a3c4"


def test_company_spellings_resolve_to_one_company(workbook):
    c = workbook.tables["companies"].set_index("name")
    assert "山西华元医药生物技术有限公司" in c.index  # written with a line break in the source
    assert not any("\n" in n for n in c.index)
    assert "正大天晴药业集团股份有限" in c.at["正大天晴药业集团股份有限公司", "aliases"].split("|")
    assert "齐鲁制药(海南)有限公司" in c.at["齐鲁制药（海南）有限公司", "aliases"].split("|")
    assert c.at["Pliva", "foreign"] is True  # the bids say 是; the name mapping's 否 is reported
    used = set(workbook.tables["winners"]["company_id"])
    assert used == set(workbook.tables["companies"]["company_id"])


def test_units_and_batches(workbook):
    u = workbook.tables["units"].set_index("name")
    assert (u.at["阿托伐他汀口服常释剂型", "generic_name"], u.at["阿托伐他汀口服常释剂型", "form_group"]) == (
        "阿托伐他汀", "口服常释剂型")
    assert u.at["替格瑞洛口服常释剂型 60mg", "generic_name"] == "替格瑞洛"
    b = workbook.tables["batches"].set_index("batch_id")
    assert b.at["nat-drug-1x", "level"] == "alliance" and b.at["nat-drug-4", "announced_date"] == "2021-02-03"
    assert workbook.meta["as_of"] == "2021-02-23" and workbook.meta["sample"] is False


def test_real_package_validates(real_package):
    result = subprocess.run([sys.executable, "-m", "generator", "validate", "--data", str(real_package)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr


def test_site_builds_from_real_package(real_package, real_site):
    """The shared real_site fixture is the real build of this package: one page per unit."""
    assert (real_site / "index.html").is_file()
    units = read_rows(real_package / "units.csv")
    assert units and all((real_site / "unit" / u["unit_id"] / "index.html").is_file() for u in units)
