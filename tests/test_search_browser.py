"""Search in a real browser (Debian Chromium, Playwright) on the built site:
type a name the way people do, see the right first result, click it, land on
its page. Runs on the sample site, and on the real site when that fixture exists."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import DATA, read_rows

from generator.render.search import query_terms

WAIT_DONE = """q => { const p = document.getElementById('vbp-search-panel');
  return p.dataset.state === 'done' && p.dataset.query === q; }"""


def _site(request, name: str) -> tuple[Path, Path]:
    """(built site, its data package) for a site fixture name."""
    if name == "sample_site":
        return request.getfixturevalue("sample_site"), DATA
    try:
        site = request.getfixturevalue("real_site")
    except pytest.FixtureLookupError:
        pytest.skip("no real_site fixture in this tree")
    return site, request.getfixturevalue("real_package")


@pytest.fixture(scope="module", params=["sample_site", "real_site"])
def site(request, serve):
    site_dir, data = _site(request, request.param)
    return {"dir": site_dir, "url": serve(site_dir), "data": data}


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    errors: list[str] = []
    outside: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("request", lambda req: None if req.url.startswith(site["url"]) else outside.append(req.url))
    yield pg
    context.close()
    assert not errors, errors
    assert not outside, f"requests left the site: {outside}"


def expected(site, table: str, **match) -> set[str]:
    """URLs of the rows of a data table matching every field given (the real data
    has two companies called 齐鲁制药 for short: 齐鲁制药有限公司 and its 海南 plant)."""
    key = {"units": "unit_id", "companies": "company_id"}[table]
    prefix = {"units": "unit", "companies": "company"}[table]
    urls = {f"/{prefix}/{row[key]}/" for row in read_rows(site["data"] / f"{table}.csv")
            if all(row[k] == v for k, v in match.items())}
    if not urls:
        pytest.skip(f"no {table} row with {match} in this package")
    return urls


def search(page, query: str) -> list[str]:
    """Type a query into the header search; return the result links' paths."""
    if page.get_attribute("#vbp-search-panel", "hidden") is not None:
        page.click("#vbp-search-open")
    page.fill("#vbp-search-input", "")
    page.type("#vbp-search-input", query)  # key by key, as a person types
    page.wait_for_function(WAIT_DONE, arg=query)
    return [re.sub(r"^https?://[^/]+", "", page.eval_on_selector(
        f".vbp-search__result:nth-child({i + 1}) a", "a => a.href"))
        for i in range(page.locator(".vbp-search__result").count())]


def click_first(page, site, urls: set[str], name: str) -> None:
    with page.expect_navigation():
        page.click(".vbp-search__result:first-child a")
    assert page.url.split("#")[0].removeprefix(site["url"]) in urls
    assert name in page.inner_text("h1")


def test_segmentation_trap_is_real_and_solved(page, site):
    """Chromium cuts 阿托伐他汀 into single characters. Given the raw query, Pagefind
    1.5.2 only matches result titles loosely (阿卡波糖 too, at about a hundredth
    of a real score); with the rewritten query every entity found has the name."""
    page.goto(site["url"] + "/")
    parts = page.evaluate("[...new Intl.Segmenter('zh', {granularity: 'word'}).segment('阿托伐他汀')]"
                          ".map(s => s.segment)")
    assert parts == list("阿托伐他汀")
    raw, rewritten = page.evaluate("""async ([raw, rewritten]) => {
        const pf = await import('/pagefind/pagefind.js');
        await pf.init();
        const titles = async q => Promise.all((await pf.search(q)).results.map(
            async r => { const d = await r.data(); return [d.meta.kind, d.meta.title]; }));
        return [await titles(raw), await titles(rewritten)];
    }""", ["阿托伐他汀", page.evaluate("q => window.vbpSearch.queryTerms(q)", "阿托伐他汀")])
    # pages (页面) are found by their text, which their title need not repeat
    assert rewritten and all("阿托伐他汀" in title for kind, title in rewritten if kind != "页面")
    assert not raw or any("阿托伐他汀" not in title for _, title in raw)


def test_browser_rewrites_queries_like_the_indexer(page, site):
    page.goto(site["url"] + "/")
    for query in ["阿托伐他汀", "冠脉支架（钴铬）", "齐鲁 zhiyao 10mg", "汀", "𠀀a", "atfty", ""]:
        assert page.evaluate("q => window.vbpSearch.queryTerms(q)", query) == query_terms(query), query


def test_generic_name_finds_its_unit_first(page, site):
    url = expected(site, "units", generic_name="阿托伐他汀")
    page.goto(site["url"] + "/")
    results = search(page, "阿托伐他汀")
    assert results[0] in url
    text = page.inner_text(".vbp-search__result:first-child")
    assert re.search(r"\d\.\d+(–[\d.]+)? 元/片", text), text  # price per smallest unit, with its unit
    assert re.search(r"\d{4}-\d{2}-\d{2}", text), text          # and its date
    click_first(page, site, url, "阿托伐他汀")


def test_half_remembered_initials_find_the_unit(page, site):
    """atfty: the initials are atftt; nothing starts with atfty, so the panel says it
    shows the results for atft instead, and the unit comes first."""
    url = expected(site, "units", generic_name="阿托伐他汀")
    page.goto(site["url"] + "/about/")
    assert search(page, "atfty")[0] in url
    assert "atft" in page.inner_text("#vbp-search-status")
    assert search(page, "atuofatating")[0] in url
    click_first(page, site, url, "阿托伐他汀")


def test_company_short_name_finds_the_company_first(page, site):
    url = expected(site, "companies", short_name="齐鲁制药")
    page.goto(site["url"] + "/")
    assert search(page, "齐鲁制药")[0] in url
    click_first(page, site, url, "齐鲁制药")


def test_consumable_word_inside_a_name_finds_it(page, site):
    """支架 is one word for the browser and part of 冠脉支架（…） in the data."""
    url = expected(site, "units", generic_name="冠脉支架")
    page.goto(site["url"] + "/")
    assert search(page, "支架")[0] in url
    click_first(page, site, url, "冠脉支架")


def test_filters_narrow_the_results(page, site):
    page.goto(site["url"] + "/")
    everything = search(page, "齐鲁")
    assert any(u.startswith("/product/") for u in everything)
    page.click(".vbp-search__filters summary")
    page.wait_for_selector(".vbp-search__filter select[name='类型']")
    page.select_option(".vbp-search__filter select[name='类型']", "企业")
    page.wait_for_function(WAIT_DONE, arg="齐鲁")
    only = [page.eval_on_selector(f".vbp-search__result:nth-child({i + 1}) a", "a => a.pathname")
            for i in range(page.locator(".vbp-search__result").count())]
    assert only and all(u.startswith("/company/") for u in only)


def test_home_search_entry_opens_the_search(page, site):
    page.goto(site["url"] + "/")
    if not page.locator("#vbp-home-search").count():
        pytest.skip("the home page has no #vbp-home-search")
    url = expected(site, "companies", short_name="齐鲁制药")
    page.click("#vbp-home-search input")
    page.keyboard.type("齐鲁制药")
    page.wait_for_function(WAIT_DONE, arg="齐鲁制药")
    assert page.eval_on_selector(".vbp-search__result:first-child a", "a => a.pathname") in url


def test_keyboard_slash_opens_and_escape_closes(page, site):
    page.goto(site["url"] + "/about/")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "vbp-search-input"
    page.keyboard.press("Escape")
    assert page.get_attribute("#vbp-search-panel", "hidden") is not None


def test_notice_found_by_document_number_leads_to_its_province(page, site):
    notices = [n for n in read_rows(site["data"] / "execution_notices.csv") if n["doc_number"]]
    if not notices:
        pytest.skip("no execution notices with a document number in this package")
    notice = notices[0]
    page.goto(site["url"] + "/")
    assert search(page, notice["doc_number"])[0].split("#")[0] == f"/province/{notice['region_code']}/"
    assert notice["title"] in page.inner_text(".vbp-search__result:first-child")
    with page.expect_navigation():
        page.click(".vbp-search__result:first-child a")
    assert notice["title"] in page.inner_text("article")
