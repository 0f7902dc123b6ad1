"""Value parsers of the importer, on cell values as real published tables write them."""
from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from conftest import DATA, ROOT
from generator.importers import parsers
from generator.importers.mapping import load_mapping
from generator.importers.parsers import ParseError
from generator.importers.readers import FormulaValue, Uncached, evaluate_formula
from generator.importers.resolve import CompanyBook, RegionResolver

WORKBOOK_MAPPING = ROOT / "generator" / "importers" / "mappings" / "vbp_results_workbook.yaml"


@pytest.fixture(scope="module")
def regions() -> RegionResolver:
    return RegionResolver(pd.read_csv(DATA / "regions.csv", dtype=str, keep_default_na=False))


@pytest.mark.parametrize("raw, expected", [
    ("是", True), ("否", False), ("Y", True), ("n", False), ("Yes", True), ("NO", False),
    (" 是 ", True), ("流标", False), ("", None), (None, None), ("-", None), ("—", None),
])
def test_yes_no(raw, expected):
    assert parsers.yes_no(raw) is expected


def test_yes_no_rejects_other_words():
    with pytest.raises(ParseError, match="也许"):
        parsers.yes_no("也许")


@pytest.mark.parametrize("raw", ["-", "—", "", "  ", None, "流标", "－"])
def test_missing_markers(raw):
    assert parsers.missing(raw) is None
    assert parsers.number(raw) is None
    assert parsers.price(raw) is None


@pytest.mark.parametrize("raw, expected", [
    ("6.6", "6.6"), (6.6, "6.6"), (6, "6"), ("1,234.5", "1234.5"), ("12,345,678", "12345678"),
    ("１２．５", "12.5"), ("12.5元", "12.5"), ("0.12元/片", "0.12"), ("￥3", "3"), (" 3 ", "3"),
    # full precision as the source holds it: never rounded to a few digits
    ("23.33333333333333", "23.33333333333333"), (23.33333333333333, "23.33333333333333"),
    (0.48357142857142854, "0.4835714285714285"),
    # a float printed with all 17 digits is the same value a spreadsheet shows
    ("0.12000000000000001", "0.12"), ("6.1899999999999995", "6.19"),
    ("10.383333333333333", "10.38333333333333"),
])
def test_numbers_as_written(raw, expected):
    assert parsers.decimal_text(parsers.number(raw)) == expected


@pytest.mark.parametrize("raw", ["约3元", "3.5.1", "1,23", "abc", "12元/片 左右"])
def test_unparseable_numbers_say_what_they_saw(raw):
    with pytest.raises(ParseError, match="无法解析为数字"):
        parsers.number(raw)


def test_price_must_be_positive():
    with pytest.raises(ParseError, match="大于 0"):
        parsers.price("0")


@pytest.mark.parametrize("raw, value, unit, pack, smallest", [
    ("20mg*7片", "20", "mg", 7, "片"),
    ("0.25g", "0.25", "g", None, None),
    ("10mg×28", "10", "mg", 28, None),
    ("10mg", "10", "mg", None, None),
    ("500ug", "500", "μg", None, None),
    ("10ml:0.1g", "0.1", "g", None, None),          # the amount of drug, not the volume
    ("5mg/2.5ml", "5", "mg", None, None),
    ("5ml:5mg (0.1%)", "5", "mg", None, None),
    ("5ml:5mg（0.1%）", "5", "mg", None, None),
])
def test_strengths_and_packs(raw, value, unit, pack, smallest):
    s = parsers.strength(raw)
    assert (parsers.decimal_text(s.value), s.unit, s.pack_size, s.smallest_unit) == (value, unit, pack, smallest)
    assert s.text == raw


@pytest.mark.parametrize("raw", ["150mg+12.5mg", "80mg+5mg", "200mg+300mg"])
def test_combination_strengths_keep_text_without_a_single_value(raw):
    s = parsers.strength(raw)
    assert s.text == raw and s.value is None and s.unit is None


@pytest.mark.parametrize("a, b", [
    ("0.25g", "250mg"), ("2ml:0.2mg", "0.2mg/2ml"), ("500ug", "0.5mg"),
    ("150ml:15g", "10%（150ml:15g）"), ("5ml:50mg", "50mg/5ml"), ("500mg:4mg", "0.5g:4mg"),
])
def test_strength_spellings_that_agree(a, b):
    assert parsers.strength_key(a) == parsers.strength_key(b)


def test_strength_keys_tell_strengths_apart():
    assert parsers.strength_key("10mg") != parsers.strength_key("20mg")
    aliases = {"250ml:莫西沙星0.4g与氯化钠2.0g": "250ml:400mg"}
    assert parsers.strength_key("250ml:莫西沙星0.4g\n与氯化钠2.0g", aliases) == parsers.strength_key("250ml:400mg")


# --- province lists (cells copied from the real workbook) ----------------------

@pytest.mark.parametrize("cell, codes", [
    ("浙江，山东，湖北", ["330000", "370000", "420000"]),
    ("北京，天津，山西，吉林，黑龙江，浙江，安徽，福建，河南，湖 北，广东", None),
    ("河北，安徽，福建，山东，河南，湖北，湖南，广东，重庆\n，四川，云南", None),
    ("上海，浙江，福建，江西，贵州，云南，西藏，青海，宁夏，新疆\n（含兵团）", None),
    ("甘肃，新疆（含 兵团）", ["620000", "650000"]),
    ("辽宁，云南， 甘肃、新疆（含兵团）", ["210000", "530000", "620000", "650000"]),
    ("新疆(含兵团),广西", ["450000", "650000"]),
])
def test_province_lists(regions, cell, codes):
    got, notes = regions.region_list(cell)
    assert got == sorted(got) and len(got) == len(set(got))
    if codes:
        assert got == codes
    assert all(len(c) == 6 for c in got)
    assert "420000" in got or "湖 北" not in cell
    assert "650000" in got or "新疆" not in cell
    assert notes == []


def test_unknown_province_is_named(regions):
    with pytest.raises(ParseError, match="火星"):
        regions.region_list("北京，火星")


def test_province_with_a_note_resolves_and_keeps_the_note(regions):
    codes, notes = regions.region_list("广东（不含深圳），北京，北京")
    assert codes == ["110000", "440000"]
    assert any("不含深圳" in n for n in notes) and any("重复" in n for n in notes)


def test_empty_province_cell(regions):
    assert regions.region_list(None) == ([], [])
    assert regions.region_list("") == ([], [])


# --- company names -------------------------------------------------------------

def test_line_breaks_and_bracket_styles_are_one_company():
    book = CompanyBook()
    book.add("山西华元医药生物技术有限\n公司", "山西华元")
    book.add("山西华元医药生物技术有限公司", "山西华元")
    book.add("齐鲁制药（海南）有限公司", "齐鲁制药")
    book.add("齐鲁制药(海南)有限公司", "齐鲁制药")
    book.add("齐鲁制药（海南）有限公司", "齐鲁制药")
    companies = book.companies()
    assert len(companies) == 2
    qilu = book.company("齐鲁制药(海南)有限公司")
    assert qilu.name == "齐鲁制药（海南）有限公司"
    assert qilu.aliases == ["齐鲁制药(海南)有限公司"]
    assert book.company("山西华元医药生物技术有限 公司").name == "山西华元医药生物技术有限公司"


def test_truncated_names_join_the_complete_name_but_short_names_do_not():
    book = CompanyBook()
    book.add("正大天晴药业集团股份有限", "正大天晴")
    book.add("正大天晴药业集团股份有限公司", "正大天晴")
    book.add("正大天晴", "正大天晴")
    full = book.company("正大天晴药业集团股份有限")
    assert full.name == "正大天晴药业集团股份有限公司"
    assert "正大天晴药业集团股份有限" in full.aliases
    assert book.company("正大天晴").company_id != full.company_id


def test_latin_names_keep_their_spaces():
    book = CompanyBook()
    book.add("Lek Pharmaceuticals d.d.\n（山德士（中国）制药有限公司分包装）", "山德士", True)
    c = book.companies()[0]
    assert c.name == "Lek Pharmaceuticals d.d.（山德士（中国）制药有限公司分包装）"
    assert c.foreign is True


def test_company_ids_do_not_depend_on_order():
    names = ["正大天晴药业集团股份有限", "正大天晴药业集团股份有限公司", "齐鲁制药(海南)有限公司", "扬子江药业"]
    a, b = CompanyBook(), CompanyBook()
    for n in names:
        a.add(n, n[:4])
    for n in reversed(names):
        b.add(n, n[:4])
    assert [(c.company_id, c.name) for c in a.companies()] == [(c.company_id, c.name) for c in b.companies()]
    assert all(c.company_id.startswith("c-") for c in a.companies())


def test_a_company_name_mapping_fills_gaps_and_the_bids_win():
    book = CompanyBook()
    book.add("Pliva", "Pliva", True)
    book.add("某某药业有限公司")
    _, notes = book.add_reference("Pliva", "Pliva", False)
    assert book.company("Pliva").foreign is True and notes  # the disagreement is reported
    book.add_reference("某某药业有限公司", "某某药业", False)
    c = book.company("某某药业有限公司")
    assert (c.short_name, c.foreign) == ("某某药业", False)


# --- competition units ---------------------------------------------------------

@pytest.mark.parametrize("name, generic, group, smallest", [
    ("阿托伐他汀口服常释剂型", "阿托伐他汀", "口服常释剂型", "片(粒)"),
    ("二甲双胍缓释控释剂型", "二甲双胍", "缓释控释剂型", "片(粒)"),
    ("替格瑞洛口服常释剂型 60mg", "替格瑞洛", "口服常释剂型", "片(粒)"),
    ("左乙拉西坦口服常释剂型250mg", "左乙拉西坦", "口服常释剂型", "片(粒)"),
    ("孟鲁司特颗粒剂", "孟鲁司特", "颗粒剂", "袋"),
    ("右美托咪定注射剂", "右美托咪定", "注射剂", "支(瓶)"),
    ("注射用比伐芦定", "比伐芦定", "注射剂", "支(瓶)"),
    ("奥氮平口腔崩解片", "奥氮平", "口腔崩解片", "片"),
    ("他达拉非片", "他达拉非", "片", "片"),
    ("玻璃酸钠滴眼剂 0.1%", "玻璃酸钠", "滴眼剂", "支(瓶)"),
    ("吸入用硫酸沙丁胺醇溶液", "硫酸沙丁胺醇", "吸入剂", "支(瓶)"),
    ("某某胶囊", "某某胶囊", None, None),  # unknown form group: whole name, no group
])
def test_units_split_by_the_mappings_suffixes(name, generic, group, smallest):
    unit = load_mapping(WORKBOOK_MAPPING).units.unit(name)
    assert (unit.generic_name, unit.form_group, unit.smallest_unit) == (generic, group, smallest)
    assert unit.name == name and unit.unit_id.startswith("u-")


def test_unit_ids_are_stable_across_spacing():
    units = load_mapping(WORKBOOK_MAPPING).units
    assert units.unit("头孢呋辛酯（头孢呋辛） 口服常释剂型").unit_id == units.unit("头孢呋辛酯（头孢呋辛）口服常释剂型").unit_id


# --- formulas saved without their result ---------------------------------------

def test_plain_arithmetic_formulas_are_computed():
    v = evaluate_formula("=3.8/14")
    assert isinstance(v, FormulaValue) and v.formula == "=3.8/14"
    assert parsers.decimal_text(parsers.number(v)) == "0.2714285714285714"
    assert float(evaluate_formula("=1.57/2")) == 0.785
    assert float(evaluate_formula("=-(5.36*2)+1")) == -9.72


@pytest.mark.parametrize("formula", ["=A4", "=SUM(A1:A3)", "=__import__('os')", "=1/0", "=(1"])
def test_other_formulas_are_not_run(formula):
    assert isinstance(evaluate_formula(formula), Uncached)


def test_decimal_text_never_uses_exponents():
    assert parsers.decimal_text(Decimal("1E+3")) == "1000"
    assert parsers.decimal_text(Decimal("0.00001")) == "0.00001"
