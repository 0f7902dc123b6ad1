"""Pages built from the real published results (../shared/realdata), imported by
`python -m generator import`: real names, real scale. Expected figures come from
the published bids CSV read here, never from the generator's output."""
from __future__ import annotations

import re
import statistics
from collections import Counter

import pytest
from conftest import read_rows
from htmlpage import read_page

BIDS = "vbp_batches_1ext_2_3_4_bids.csv"
LEAF_KINDS = ("unit", "product", "round", "province", "company")


def number(value: float) -> str:
    """How pages print a price's number: 4 decimals under 1 元, else 2."""
    return f"{value:,.{4 if abs(value) < 1 else 2}f}"


def provinces(cell: str) -> list[str]:
    """The published province list: mixed separators, notes in brackets, stray spaces."""
    names = [re.sub(r"\s+|[（(].*?[）)]", "", t) for t in re.split(r"[，、,]", cell)]
    return [n for n in names if n]


PLACEHOLDERS = ("", "-", "99999")  # 99999: the workbook's "no valid bid" (see the import mapping)


def fnum(text: str) -> float | None:
    text = (text or "").strip()
    return None if text in PLACEHOLDERS else float(text)


@pytest.fixture(scope="module")
def bids(realdata):
    return read_rows(realdata / BIDS)


@pytest.fixture(scope="module")
def unit_urls(real_site) -> dict[str, str]:
    """Unit name → its page, from the section index (a reader's way in)."""
    urls = {}
    for table in read_page(real_site / "units" / "index.html").tables:
        for row in table.rows:
            link = row.cells[0].links[0]
            urls[row.cells[0].text] = link.removeprefix("../").strip("/")
    return urls


def unit_page(real_site, unit_urls, name):
    return read_page(real_site / unit_urls[name] / "index.html")


def test_every_page_kind_is_built_from_the_real_data(real_site, bids, unit_urls):
    for url in ("", "units", "rounds", "provinces", "companies", "checks", "methodology", "glossary"):
        assert (real_site / url / "index.html").is_file(), url
    assert set(unit_urls) == {b["药品通用名"] for b in bids}
    assert len(list((real_site / "product").glob("*/index.html"))) == len(bids)
    assert len(list((real_site / "round").glob("*/index.html"))) == len({b["批次"] for b in bids})
    assert list((real_site / "company").glob("*/index.html"))
    index = read_page(real_site / "provinces" / "index.html").text
    for name in {p for b in bids for p in provinces(b["供应省份"])}:
        assert name in index, name


def test_unit_pages_show_every_published_bid_with_its_price(real_site, bids, unit_urls):
    """Each bid of the source is on its unit page, in the winners' table or apart
    with the losing bids, at its published price (matched by strength and price)."""
    by_unit: dict[str, list[dict]] = {}
    for b in bids:
        by_unit.setdefault(b["药品通用名"], []).append(b)
    for name, rows in by_unit.items():
        page = unit_page(real_site, unit_urls, name)
        shown = Counter()
        for heading, won in (("<h3>中选产品", "是"), ("<h3>未中选报价", "否")):
            if not any(r["是否中标"] == won for r in rows):
                continue
            for row in (r for t in page.tables_after_each(heading) for r in t.rows):
                if row.cells[2].text != "—":
                    amount, unit = row.cells[2].main.split(" 元/")  # every price states its unit
                    shown[(won, row.cells[1].main, amount)] += 1
        expected = Counter((r["是否中标"], " ".join(r["规格包装"].split()), number(fnum(r["竞标价格(最小规格)(元)"])))
                           for r in rows if fnum(r["竞标价格(最小规格)(元)"]) is not None)
        assert shown == expected, name


def test_a_known_winner_on_its_unit_page(real_site, bids, unit_urls):
    """阿托伐他汀 10mg, 齐鲁制药（海南）: price, cuts, supply provinces, company."""
    name = "阿托伐他汀口服常释剂型"
    row = next(b for b in bids if b["药品通用名"] == name and b["生产企业-全称"].startswith("齐鲁制药"))
    price, cap = float(row["竞标价格(最小规格)(元)"]), float(row["最高限价"])
    page = unit_page(real_site, unit_urls, name)
    table = page.table_after("<h3>中选产品")
    hit = [r for r in table.rows if r.cells[2].text.startswith(number(price) + " 元/")]
    assert len(hit) == 1
    shown = hit[0]
    assert f"{(cap - price) / cap * 100:.1f}%" in shown.text
    for province in provinces(row["供应省份"]):
        assert province in shown.cells[5].text, province
    # the company page names the company as published (or lists that spelling)
    product = next(link for link in shown.links if "/product/" in link)
    product_page = read_page(real_site / product.removeprefix("../../").strip("/") / "index.html")
    company = next(link for link in re.findall(r'href="\.\./\.\./(company/[^"]+)"', product_page.article))
    company_text = read_page(real_site / company / "index.html").text
    assert " ".join(row["生产企业-全称"].split()) in company_text


def test_cuts_against_the_pre_procurement_median(real_site, bids, unit_urls):
    checked = 0
    for row in bids:
        median, price = fnum(row["中标前中位价(最小规格)(元)"]), fnum(row["竞标价格(最小规格)(元)"])
        if row["是否中标"] != "是" or not median or price is None:
            continue
        table = unit_page(real_site, unit_urls, row["药品通用名"]).table_after("<h3>中选产品")
        cut = f"{(median - price) / median * 100:.1f}%"
        assert any(r.cells[1].text.split()[0] == row["规格包装"].strip()
                   and r.cells[2].text.startswith(number(price) + " ")
                   and r.cells[3].text.startswith(cut) for r in table.rows), (row["药品通用名"], row["规格包装"])
        checked += 1
        if checked == 40:
            break
    assert checked == 40


def test_substitutes_of_a_real_product(real_site, bids, unit_urls):
    name = "恩替卡韦口服常释剂型"
    page = unit_page(real_site, unit_urls, name)
    first = next(link for link in page.table_after("<h3>中选产品").rows[0].links if "/product/" in link)
    product = read_page(real_site / first.removeprefix("../../").strip("/") / "index.html")
    subs = next(t for t in product.tables if t.id == "vbp-subs")
    winners = [b for b in bids if b["药品通用名"] == name and b["是否中标"] == "是"]
    assert len(subs.rows) == len(winners)  # itself first, then every other winner of the unit
    assert sorted(r.cells[3].text.split()[0] for r in subs.rows) == sorted(
        number(float(b["竞标价格(最小规格)(元)"])) for b in winners)
    for row in subs.rows[1:]:
        mg = float(re.match(r"([\d.]+)mg", row.cells[2].text).group(1))
        assert float(row.cells[4].text.split()[0]) == pytest.approx(float(row.cells[3].text.split()[0]) / mg, rel=2e-3)


def test_a_province_lists_the_winners_that_supply_it(real_site, bids):
    index = read_page(real_site / "provinces" / "index.html")
    link = next(c.links[0] for t in index.tables for r in t.rows for c in r.cells[:1] if c.text == "浙江")
    page = read_page(real_site / link.removeprefix("../").strip("/") / "index.html")
    expected = Counter((b["药品通用名"], number(float(b["竞标价格(最小规格)(元)"])))
                       for b in bids if b["是否中标"] == "是" and "浙江" in provinces(b["供应省份"]))
    shown = Counter()
    for table in page.tables:  # one table of winners per round
        if table.head and table.head[:2] == ["竞争单元", "产品"] and "本地接续价" in table.head:
            for row in table.rows:
                shown[(row.cells[0].text, row.cells[2].main.split(" 元/")[0])] += 1
    assert shown == expected


def test_round_pages_count_the_published_winners(real_site, bids):
    for table in read_page(real_site / "rounds" / "index.html").tables:
        for row in table.rows:
            url = row.cells[0].links[0].removeprefix("../").strip("/")
            page = read_page(real_site / url / "index.html")
            name = row.cells[0].text
            winners = page.table_after("<h2>中选结果")
            batch_rows = [b for b in bids if b["是否中标"] == "是" and _same_round(b["批次"], name)]
            assert batch_rows and len(winners.rows) == len(batch_rows), name


def _same_round(label: str, name: str) -> bool:
    """Source labels 第一批扩围(联盟地区), 第二批… against the round's published name."""
    ordinal = re.match(r"第(.)批", label).group(1)
    return f"第{ordinal}批" in name


def test_rule_check_lists_the_winning_price_above_the_maximum_bid(real_site, bids):
    text = read_page(real_site / "checks" / "index.html").text
    above = [b for b in bids if b["是否中标"] == "是" and fnum(b["竞标价格(最小规格)(元)"]) is not None
             and float(b["竞标价格(最小规格)(元)"]) > float(b["最高限价"]) + 1e-9]
    assert above
    for b in above:
        assert number(float(b["竞标价格(最小规格)(元)"])) in text and number(float(b["最高限价"])) in text


def test_median_generated_page_is_under_40_kb(real_site):
    sizes = [p.stat().st_size for kind in LEAF_KINDS for p in (real_site / kind).glob("*/index.html")]
    assert len(sizes) > 1000
    assert statistics.median(sizes) < 40_000, statistics.median(sizes)


def test_every_real_leaf_page_states_units_and_sources(real_site):
    """Every price printed in a table cell carries its unit; every such row links a source."""
    bare = re.compile(r"<td[^>]*>\d[\d,]*\.\d+</td>")
    for kind in ("unit", "product", "province"):
        for path in sorted((real_site / kind).glob("*/index.html"))[:60]:
            page = read_page(path)
            assert not bare.search(page.article), path
            for table in page.tables:
                if table.head and table.head[-1] == "来源":
                    for row in table.rows:
                        if "元/" in row.text:
                            assert any("vbp-src" in c for cell in row.cells for c in cell.classes), (path, row.text)
