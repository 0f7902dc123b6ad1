"""Search records: what finds a record (Chinese substrings, pinyin, initials,
aliases), what it shows (price with unit and date) and how it filters; and the
search stage of the real build."""
from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from conftest import DATA, read_rows

from generator.derive import derive
from generator.package import load
from generator.render import pagefind_stable
from generator.render.search import Record, article_text, han_words, query_terms, records, resolve, write_index


@pytest.fixture(scope="module")
def sample_records() -> dict[str, Record]:
    pkg = load(DATA)
    return {r.url: r for r in records(pkg, derive(pkg))}


def finds(rec: Record, query: str) -> bool:
    """Pagefind's matching on our words: every query word (Pagefind drops punctuation)
    is the prefix of a record word."""
    named, other = rec.words()
    words = [w.lower() for w in named + other]
    query_words = re.findall(r"[0-9a-z\u00c0-\u024f]+", query_terms(query).lower())
    return all(any(w.startswith(q) for w in words) for q in query_words)


def hits(recs: dict[str, Record], query: str) -> set[str]:
    return {url for url, rec in recs.items() if finds(rec, query)}


NAME = "阿托伐他汀口服常释剂型"


def test_every_substring_of_a_name_finds_it():
    rec = Record("/x/", "unit", NAME, [])
    for i in range(len(NAME)):
        for j in range(i + 1, len(NAME) + 1):
            assert finds(rec, NAME[i:j]), NAME[i:j]


@pytest.mark.parametrize("query", ["阿托他汀", "汀他", "伐阿", "口服常释片剂", "瑞舒伐他汀"])
def test_characters_out_of_order_or_absent_do_not_find_it(query):
    assert not finds(Record("/x/", "unit", NAME, []), query)


def test_han_words_do_not_depend_on_segmentation():
    """Index words are plain lowercase Latin letters that no pinyin syllable starts
    with, so neither segmenter can split them and no pinyin query hits them."""
    for word in han_words("冠脉支架（钴铬/铂铬合金）𠀀"):
        assert re.fullmatch(r"vv[a-p]{5}([a-p]{5}|z{5})", word), word
    assert query_terms("阿托伐他汀 10mg") == " ".join(han_words("阿托伐他汀")[:-1] + ["10mg"])
    assert han_words("汀")[0].startswith(query_terms("汀"))


def test_no_index_word_is_a_prefix_of_another_han_word():
    """Pagefind also matches index words that are a prefix of the query word, so a
    shorter Han word would match queries that are not in the name."""
    words = set(han_words(NAME + "冠脉支架齐鲁制药"))
    for word in words:
        assert not any(other != word and other.startswith(word) for other in words)


def test_unit_found_by_name_generic_name_pinyin_and_initials(sample_records):
    url = "/unit/u-atorvastatin-oral/"
    for query in ["阿托伐他汀", "阿托伐他汀口服常释剂型", "他汀", "atuofatating", "atuofa", "atftt",
                  "ATFTT", "atfttkfcsjx"]:
        assert url in hits(sample_records, query), query


def test_short_latin_words_and_two_letter_initials_are_not_indexed(sample_records):
    """They would catch every query that starts with them (Pagefind matches index
    words that are a prefix of the query): "a" of "S.A.", "zh" of 珠海."""
    ucb = sample_records["/company/c-ucb/"]
    named, other = ucb.words()
    assert "UCB" in named and "Pharma" in named and "zhuhai" in named
    assert not [w for w in named + other if len(w) < 3]


def test_initials_write_u_umlaut_as_v(sample_records):
    assert "/company/c-lvye/" in hits(sample_records, "lvyezhiyao")
    assert "/company/c-lvye/" in hits(sample_records, "lyzy")


def test_company_found_by_full_name_short_name_and_every_alias(sample_records):
    queries = ["辉瑞制药有限公司", "辉瑞", "huirui", "Pfizer", "pfizer", "辉瑞制药（大连）有限公司",
               "大连"]
    for query in queries:
        assert "/company/c-pfizer/" in hits(sample_records, query), query
    assert "/company/c-bsc/" in hits(sample_records, "波科")
    assert "/company/c-microport/" in hits(sample_records, "MicroPort")


def test_products_are_found_by_their_own_names(sample_records):
    """A product by its title (generic name, strength, company short name); its unit's
    and its company's full names find the unit and the company, not every product."""
    qilu_atorvastatin = {f"/product/{w['winner_id']}/" for w in read_rows(DATA / "winners.csv")
                         if w["unit_id"] == "u-atorvastatin-oral" and w["company_id"] == "c-qilu"}
    assert "/product/w-nat-drug-1x-atv-10-qilu/" in qilu_atorvastatin
    assert hits(sample_records, "阿托伐他汀 齐鲁") == qilu_atorvastatin
    stents = hits(sample_records, "支架")
    assert "/unit/u-coronary-stent/" in stents
    assert "/product/w-nat-cons-stent-firebird2-microport/" in stents
    assert not any(url.startswith("/unit/u-atorvastatin") for url in stents)
    assert hits(sample_records, "阿托伐他汀口服常释剂型") == {"/unit/u-atorvastatin-oral/"}
    assert hits(sample_records, "齐鲁制药有限公司") == {"/company/c-qilu/"}


def test_provinces_by_short_name_alias_and_pinyin(sample_records):
    assert "/province/330000/" in hits(sample_records, "浙江")
    assert "/province/330000/" in hits(sample_records, "zhejiang")
    assert "/province/000000/" not in sample_records  # the nation is not a province


def test_notices_found_by_document_number(sample_records):
    found = hits(sample_records, "浙医保联发〔2019〕21号")
    assert any(url.startswith("/province/330000/#") for url in found)


def test_product_shows_winning_price_per_smallest_unit_with_date(sample_records):
    rec = sample_records["/product/w-nat-drug-1x-atv-10-qilu/"]
    assert rec.meta["price"] == "中选价 0.1200 元/片（2019-09-24）"
    assert rec.meta["round"] == "国家组织药品集中采购和使用试点扩大区域范围（第一批扩围）"
    loser = sample_records["/product/w-nat-drug-1x-atv-10-pfizer/"]
    assert loser.meta["price"] == "未中选 · 报价 0.5500 元/片（2019-09-24）"
    stent = sample_records["/product/w-nat-cons-stent-firebird2-microport/"]
    assert re.search(r"中选价 [\d,]+\.\d{2} 元/个（2020-11-05）", stent.meta["price"])


def test_renewal_price_shown_with_date_and_regions(sample_records):
    rec = sample_records["/product/w-nat-drug-1x-aml-5-jingxin/"]
    assert rec.meta["price"].endswith("；接续价 0.0340 元/片（2021-12-01，浙江、安徽、福建）")
    assert "国家组织药品集采（第一批扩围）协议期满接续采购（浙皖闽联盟）" in rec.filters["批次"]


def test_rounds_count_their_products_and_a_renewal_round_its_renewals(sample_records):
    assert re.fullmatch(r"中选 \d+ 个 / 投标 \d+ 个产品", sample_records["/round/nat-drug-1x/"].meta["count"])
    renewal = sample_records["/round/nat-drug-1x-renewal/"]
    assert re.fullmatch(r"接续 [1-9]\d* 个产品", renewal.meta["count"])
    assert renewal.meta["detail"].startswith("省际联盟 · 药品")


def test_unit_shows_range_of_winning_prices(sample_records):
    price = sample_records["/unit/u-atorvastatin-oral/"].meta["price"]
    assert re.fullmatch(r"中选价 \d+\.\d{4}–\d+\.\d{4} 元/片（\d+ 个中选产品，2019-09-24）", price), price


def test_filters_category_round_province_won(sample_records):
    qilu = sample_records["/product/w-nat-drug-1x-atv-10-qilu/"].filters
    assert qilu["类型"] == ["产品"] and qilu["类别"] == ["药品"] and qilu["中选"] == ["中选"]
    assert set(qilu["省份"]) == {"浙江", "江苏", "广东"}
    loser = sample_records["/product/w-nat-drug-1x-atv-10-pfizer/"].filters
    assert loser["中选"] == ["未中选"] and not [p for p in loser["省份"] if p]
    stent = sample_records["/product/w-nat-cons-stent-firebird2-microport/"].filters
    assert stent["类别"] == ["医用耗材"] and stent["批次"] == ["国家组织冠脉支架集中带量采购"]
    city = sample_records["/product/w-qz-cons-1-inf-weigao-weigao/"].filters
    assert city["省份"] == ["福建"]  # 泉州 (a city) counts under its province
    kinds = {rec.filters["类型"][0] for rec in sample_records.values()}
    assert kinds == {"品种", "产品", "企业", "地区", "批次", "执行通知"}


def test_records_have_distinct_index_paths_and_urls_for_shared_pages(sample_records):
    """Notices live on their province's page: their records need paths of their own
    (or they would replace the province's record) and carry the page's URL."""
    paths = [rec.file_path() for rec in sample_records.values()]
    assert len(paths) == len(set(paths))
    notice = next(rec for rec in sample_records.values() if rec.kind == "notice")
    assert notice.url.startswith("/province/")
    assert f'content="{notice.url}"' in notice.html()


def test_record_html_escapes_data():
    rec = Record('/unit/x/', "unit", 'A<script>alert(1)</script>"&', ["<b>"],
                 meta={"price": 'x" onmouseover="y'}, filters={"批次": ["a,b:c"]})
    doc = rec.html()
    assert "<script>" not in doc and "<b>" not in doc and 'x" onmouseover' not in doc
    assert 'content="a,b:c"' in doc
    assert doc.startswith('<!DOCTYPE html><html lang="zh">')


def test_records_lead_to_existing_pages_and_anchors(tmp_path):
    page = tmp_path / "province" / "330000" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text('<h2 id="n-1">通知</h2><p data-id="n-3">', encoding="utf-8")
    recs = [Record(f"/province/330000/#n-{i}", "notice", f"通知{i}", [], path=f"/notice/n-{i}/")
            for i in (1, 2, 3)] + [Record("/unit/gone/", "unit", "无页面", [])]
    assert [r.url for r in resolve(tmp_path, recs)] == ["/province/330000/#n-1", "/province/330000/",
                                                        "/province/330000/"]


# ---------------------------------------------------------------- the bundle

def _bundle(tmp_path, name: str, price: str) -> Path:
    records_dir = tmp_path / f"{name}-records"
    for i in range(40):
        rec = Record(f"/unit/u{i}/", "unit", f"品种{i}", [], meta={"price": price})
        path = records_dir / rec.file_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rec.html(), encoding="utf-8")
    write_index(records_dir, tmp_path / name)
    return tmp_path / name


def test_fragments_get_short_names_that_change_with_any_record(tmp_path):
    """Every query loads the list of all pages: its fragment names are page numbers in hex
    written backwards, in a folder named after the content, and its word counts are 1."""
    bundle = _bundle(tmp_path, "a", "中选价 0.1200 元/片")
    meta_files = sorted(bundle.glob("*.pf_meta"))
    pages = pagefind_stable._read(meta_files[0])[1]
    folder = pages[0][0].split("/")[0]
    assert re.fullmatch(r"[0-9a-f]{7}", folder)
    assert pages == [[f"{folder}/{format(i, 'x')[::-1]}", 1] for i in range(40)]
    fragments = sorted((bundle / "fragment").rglob("*.pf_fragment"))
    assert fragments == sorted(bundle / "fragment" / f"{name}.pf_fragment" for name, _ in pages)
    urls = set()
    for path in fragments:
        raw = gzip.decompress(path.read_bytes())
        urls.add(json.loads(raw[raw.index(b"{"):])["url"])
    assert urls == {f"/unit/u{i}/" for i in range(40)}

    pagefind_stable.compact_pages(bundle)  # idempotent
    assert sorted(bundle.glob("*.pf_meta")) == meta_files

    changed = _bundle(tmp_path, "b", "中选价 0.1100 元/片")
    assert pagefind_stable._read(next(changed.glob("*.pf_meta")))[1][0][0].split("/")[0] != folder


# ---------------------------------------------------------------- the build

def test_article_text_with_a_limit_is_the_start_of_the_whole_text(sample_site):
    """Cut text, as page_records takes it, reads as the whole text does up to the limit,
    and is longer than the limit exactly when the whole text is."""
    page = "<article class=\"md-content__inner md-typeset\"><h1>标题</h1>" + "<p>甲&amp;乙 <a href=\"x\">丙</a></p>" * 400 \
        + "<h2>小节</h2><p>尾</p></article>"
    pages = [page] + [p.read_text(encoding="utf-8") for p in sorted(sample_site.rglob("index.html"))[:300]]
    checked = 0
    for html_ in pages:
        h1, headings, whole = article_text(html_)
        for limit in (1, 60, 3000):
            cut = article_text(html_, limit)
            assert cut[:2] == (h1, headings)
            assert cut[2][:limit] == whole[:limit] and (len(cut[2]) > limit) == (len(whole) > limit)
            checked += len(whole) > len(cut[2])
    assert checked  # some texts were cut
    assert "尾" not in article_text(page, 60)[2] and "小节" not in article_text(page)[2]


def test_build_writes_a_chinese_pagefind_index_and_no_material_index(sample_site):
    assert not list(sample_site.rglob("search_index.json"))
    entry = json.loads((sample_site / "pagefind" / "pagefind-entry.json").read_text(encoding="utf-8"))
    assert list(entry["languages"]) == ["zh"]
    assert entry["languages"]["zh"]["page_count"] > 50
    assert (sample_site / "pagefind" / "pagefind.js").is_file()


def test_every_page_has_the_search_panel_and_no_external_asset(sample_site):
    for page in sample_site.rglob("*.html"):
        if page.parts[-2:] == ("pagefind", page.name):
            continue
        text = page.read_text(encoding="utf-8")
        if "<html" not in text:
            continue
        assert 'id="vbp-search-input"' in text, page
        assert re.search(r'<script src="[^"]*assets/search\.js"', text), page
