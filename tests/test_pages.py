"""Generated pages of the sample build: every page kind exists, and the figures on
them are the ones in the source CSV rows (read here with csv, not the generator)."""
from __future__ import annotations

import re
import statistics
from pathlib import Path

import markdown
import pytest
import yaml
from conftest import DATA, ROOT, copy_data, read_rows, write_rows
from htmlpage import read_page

LEAF_KINDS = ("unit", "product", "round", "province", "company")


def yuan(value: float | str, unit: str) -> str:
    """How pages print money: 4 decimals under 1 元, else 2, always with the unit."""
    value = float(value)
    return f"{value:,.{4 if abs(value) < 1 else 2}f} {unit}"


def pct(value: float) -> str:
    return f"{value * 100:.1f}%"


@pytest.fixture(scope="module")
def rows():
    return {name: read_rows(DATA / f"{name}.csv") for name in
            ("winners", "prices", "payment_standards", "execution_notices", "units", "companies",
             "regions", "batches", "sources")}


def page(site: Path, url: str):
    path = site / url.strip("/") / "index.html" if url.strip("/") else site / "index.html"
    assert path.is_file(), f"{url} was not generated"
    return read_page(path)


def price(rows, winner_id, kind, region="000000"):
    found = [p for p in rows["prices"] if p["winner_id"] == winner_id and p["kind"] == kind
             and p["region_code"] == region]
    return found[0] if found else None


def region_names(rows, codes: str) -> list[str]:
    names = {r["region_code"]: r["short_name"] for r in rows["regions"]}
    return [names[c] for c in codes.split("|") if c]


# ── Every page kind, stable URLs, navigation ──────────────────────────────────

def test_every_page_kind_exists(sample_site, rows):
    urls = ["/", "/units/", "/rounds/", "/provinces/", "/companies/", "/checks/", "/methodology/", "/glossary/"]
    urls += [f"/unit/{u['unit_id']}/" for u in rows["units"]]
    urls += [f"/product/{w['winner_id']}/" for w in rows["winners"]]
    urls += [f"/round/{b['batch_id']}/" for b in rows["batches"]]
    urls += [f"/company/{c}/" for c in {w["company_id"] for w in rows["winners"]}]
    supplied = {c for w in rows["winners"] for c in w["supply_regions"].split("|") if c}
    urls += [f"/province/{c}/" for c in supplied | {n["region_code"] for n in rows["execution_notices"]}]
    for url in urls:
        page(sample_site, url)


def test_leaf_pages_stay_out_of_the_navigation(sample_site):
    html = (sample_site / "index.html").read_text(encoding="utf-8")
    nav = html[html.index('<nav class="md-nav md-nav--primary"'):html.index("</nav>", html.index("md-nav--primary"))]
    for section in ("units/", "rounds/", "provinces/", "companies/", "checks/", "methodology/", "glossary/"):
        assert f'href="{section}"' in nav, section
    for kind in LEAF_KINDS:
        assert f'href="{kind}/' not in nav, kind
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    for kind in LEAF_KINDS:
        assert f"/{kind}/**" in config["not_in_nav"]


def test_section_pages_link_to_every_leaf(sample_site, rows):
    units = page(sample_site, "/units/")
    for u in rows["units"]:
        assert f"../unit/{u['unit_id']}/" in units.article
    rounds = page(sample_site, "/rounds/")
    for b in rows["batches"]:
        assert f"../round/{b['batch_id']}/" in rounds.article
    companies = page(sample_site, "/companies/")
    for c in {w["company_id"] for w in rows["winners"]}:
        assert f"../company/{c}/" in companies.article


# ── Competition unit page ─────────────────────────────────────────────────────

def test_unit_page_shows_each_winner_with_prices_cuts_and_provinces(sample_site, rows):
    unit = "u-atorvastatin-oral"
    p = page(sample_site, f"/unit/{unit}/")
    table = p.table_after("<h3>中选产品")
    winners = [w for w in rows["winners"] if w["unit_id"] == unit and w["won"] == "true"]
    assert len(table.rows) == len(winners)
    company = {c["company_id"]: c["short_name"] for c in rows["companies"]}
    for w in winners:
        row = next(r for r in table.rows if f"../../product/{w['winner_id']}/" in r.links)
        win, med, cap = (price(rows, w["winner_id"], k) for k in ("winning_bid", "median_pre", "max_bid"))
        assert company[w["company_id"]] in row.texts[0]
        assert yuan(win["unit_price"], win["unit_price_unit"]) in row.text
        assert yuan(win["pack_price"], win["pack_price_unit"]) in row.text and win["effective_date"] in row.text
        m, c, v = float(med["unit_price"]), float(cap["unit_price"]), float(win["unit_price"])
        assert pct((m - v) / m) in row.text and pct((c - v) / c) in row.text
        assert "、".join(region_names(rows, w["supply_regions"])) in row.text
        assert any("vbp-src" in cls for cell in row.cells for cls in cell.classes)


def test_losing_bids_are_shown_apart(sample_site, rows):
    unit = "u-atorvastatin-oral"
    p = page(sample_site, f"/unit/{unit}/")
    won, lost = p.table_after("<h3>中选产品"), p.table_after("<h3>未中选报价")
    for w in rows["winners"]:
        if w["unit_id"] != unit:
            continue
        link = f"../../product/{w['winner_id']}/"
        in_won = any(link in r.links for r in won.rows)
        in_lost = any(link in r.links for r in lost.rows)
        assert (in_won, in_lost) == ((True, False) if w["won"] == "true" else (False, True)), w["winner_id"]
    bid = price(rows, "w-nat-drug-1x-atv-10-pfizer", "bid")
    assert any(yuan(bid["unit_price"], "元/片") in r.text for r in lost.rows)


def test_unit_page_shows_renewal_prices_with_region_and_date(sample_site, rows):
    p = page(sample_site, "/unit/u-amlodipine-oral/")
    table = p.table_after("<h3>接续价格")
    renewals = [x for x in rows["prices"] if x["kind"] == "renewal" and x["winner_id"].startswith("w-nat-drug-1x-aml")]
    assert renewals and len(table.rows) == len(renewals)
    for x in renewals:
        assert any(region_names(rows, x["region_code"])[0] in r.text and yuan(x["unit_price"], x["unit_price_unit"]) in r.text
                   and x["effective_date"] in r.text for r in table.rows)


def test_unit_page_shows_agreement_period_from_the_round(sample_site, rows):
    p = page(sample_site, "/unit/u-atorvastatin-oral/")
    batch = next(b for b in rows["batches"] if b["batch_id"] == "nat-drug-1x")
    assert f"协议期 {batch['agreement_start']} 起 {batch['agreement_years']} 年（至 2021-11-30）" in p.text


def test_unit_page_lists_payment_standards_by_province(sample_site, rows):
    unit = "u-acarbose-oral"
    table = page(sample_site, f"/unit/{unit}/").table_after("<h2>各地医保支付标准")
    standards = [s for s in rows["payment_standards"] if s["unit_id"] == unit]
    assert len(table.rows) == len(standards)
    for s in standards:
        assert any(region_names(rows, s["region_code"])[0] == r.texts[0] and yuan(s["amount"], s["amount_unit"]) in r.text
                   and s["effective_from"] in r.text for r in table.rows), s["standard_id"]


# ── Patient view ──────────────────────────────────────────────────────────────

def test_patient_view_data_and_fallback_table(sample_site, rows):
    wid, region = "w-nat-drug-1x-atv-10-pfizer", "330000"
    p = page(sample_site, "/unit/u-atorvastatin-oral/")
    listed = price(rows, wid, "listed", region)
    std = next(s for s in rows["payment_standards"] if s["winner_id"] == wid and s["region_code"] == region)
    pack = int(next(w for w in rows["winners"] if w["winner_id"] == wid)["pack_size"])
    diff = float(listed["unit_price"]) - float(std["amount"])
    data = p.json("vbp-patient-data")
    row = next(x for x in data["rows"] if x["w"] == wid and x["r"] == region)
    assert row["price"] == yuan(listed["unit_price"], "元/片") and row["std"] == yuan(std["amount"], "元/片")
    assert row["diff"] == yuan(diff, "元/片") and row["diff_pack"] == yuan(round(diff * pack, 2), "元/盒")
    table = p.table_after("<summary>全部省份与产品")
    fallback = next(r for r in table.rows if f"../../product/{wid}/" in r.links and r.texts[0] == "浙江")
    assert yuan(diff, "元/片") in fallback.text and yuan(round(diff * pack, 2), "元/盒") in fallback.text
    assert "起付线" in p.text and "报销比例" in p.text  # says plainly what it leaves out


def test_json_blocks_escape_markup(sample_site):
    for path in (sample_site / "unit").glob("*/index.html"):
        for block in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', path.read_text(encoding="utf-8"), re.S):
            assert "<" not in block and ">" not in block and "&" not in block, path


# ── Product page and substitutes ──────────────────────────────────────────────

def test_product_page_lists_substitutes_with_price_per_mg_and_provinces(sample_site, rows):
    wid = "w-nat-drug-1x-atv-20-pfizer"
    me = next(w for w in rows["winners"] if w["winner_id"] == wid)
    p = page(sample_site, f"/product/{wid}/")
    table = next(t for t in p.tables if t.id == "vbp-subs")
    others = [w for w in rows["winners"] if w["unit_id"] == me["unit_id"] and w["won"] == "true"]
    assert len(table.rows) == len(others) + 1 and table.rows[0].attrs.get("class") == "vbp-self"
    for w in others:
        row = next(r for r in table.rows if f"../../product/{w['winner_id']}/" in r.links)
        win = float(price(rows, w["winner_id"], "winning_bid")["unit_price"])
        mg = float(w["strength_value"]) * {"mg": 1, "g": 1000}[w["strength_unit"]]
        assert yuan(win, "元/片") in row.text
        per_mg = row.texts[4]
        assert per_mg.endswith(" 元/mg") and float(per_mg.split()[0]) == pytest.approx(win / mg, rel=1e-3)
        assert row.attrs["data-regions"].split() == w["supply_regions"].split("|")
    assert "原研" in table.rows[0].text
    same = {w["winner_id"] for w in others if w["strength"] == me["strength"]}
    tagged = {link.split("/")[-2] for r in table.rows if "同规格" in r.text for link in r.links if "/product/" in link}
    assert tagged == same and same


def test_each_product_page_of_a_unit_marks_itself_and_its_own_strength(sample_site, rows):
    """Substitute rows are shared between the pages of a unit (made once per
    worker): which row is 本品 and which are 同规格 still depend on the page."""
    unit = next(w["unit_id"] for w in rows["winners"] if w["winner_id"] == "w-nat-drug-1x-atv-20-pfizer")
    won = [w for w in rows["winners"] if w["unit_id"] == unit and w["won"] == "true"]
    assert len({w["strength"] for w in won}) > 1  # else 同规格 would be the same on every page
    for me in won:
        table = next(t for t in page(sample_site, f"/product/{me['winner_id']}/").tables if t.id == "vbp-subs")
        marked = [r for r in table.rows if r.attrs.get("class") == "vbp-self"]
        assert len(marked) == 1 and marked[0].texts[0] == "本品"
        assert not any(f"/product/{me['winner_id']}/" in link for r in table.rows for link in r.links)
        tagged = {link.split("/")[-2] for r in table.rows if "同规格" in r.text for link in r.links if "/product/" in link}
        assert tagged == {w["winner_id"] for w in won if w["strength"] == me["strength"] and w is not me}


def test_product_page_shows_every_price_point_with_source(sample_site, rows):
    wid = "w-nat-drug-1x-atv-10-pfizer"
    table = page(sample_site, f"/product/{wid}/").table_after("<h2>价格记录")
    mine = [x for x in rows["prices"] if x["winner_id"] == wid]
    assert len(table.rows) == len(mine)
    for x in mine:
        assert any(yuan(x["unit_price"], x["unit_price_unit"]) in r.text and x["effective_date"] in r.text
                   and any("vbp-src" in c for cell in r.cells for c in cell.classes) for r in table.rows)


# ── Province, round, company ──────────────────────────────────────────────────

def test_province_page_lists_rounds_winners_and_standards(sample_site, rows):
    code = "330000"
    p = page(sample_site, f"/province/{code}/")
    supplying = {w["winner_id"] for w in rows["winners"] if code in w["supply_regions"].split("|")}
    linked = {m for m in re.findall(r'href="\.\./\.\./product/([^/]+)/"', p.article[p.article.index("<h2>供应本地的中选产品"):p.article.index("<h2>医保支付标准（")])}
    assert linked == supplying
    rounds = p.table_after("<h2>在本地执行的批次")
    notices = [n for n in rows["execution_notices"] if n["region_code"] == code]
    assert len(rounds.rows) == len(notices)
    for n in notices:
        assert any(n["execution_start"] in r.text and n["title"] in r.text for r in rounds.rows)
    standards = p.table_after("<h2>医保支付标准（")
    assert len(standards.rows) == sum(s["region_code"] == code for s in rows["payment_standards"])


def test_round_page_lists_winners_cuts_and_execution_dates(sample_site, rows):
    batch = "nat-drug-2"
    p = page(sample_site, f"/round/{batch}/")
    winners = p.table_after("<h2>中选结果")
    assert len(winners.rows) == sum(w["batch_id"] == batch and w["won"] == "true" for w in rows["winners"])
    execution = p.table_after("<h2>各地执行")
    notices = [n for n in rows["execution_notices"] if n["batch_id"] == batch]
    assert len(execution.rows) == len(notices)
    for n in notices:
        assert any(region_names(rows, n["region_code"])[0] == r.texts[0] and n["execution_start"] == r.texts[1]
                   for r in execution.rows)


def test_company_page_lists_what_it_won_where_and_at_what_price(sample_site, rows):
    cid = "c-qilu"
    table = page(sample_site, f"/company/{cid}/").table_after("<h2>投标与中选")
    bids = [w for w in rows["winners"] if w["company_id"] == cid]
    assert len(table.rows) == len(bids)
    for w in bids:
        row = next(r for r in table.rows if f"../../product/{w['winner_id']}/" in r.links)
        win = price(rows, w["winner_id"], "winning_bid")
        assert yuan(win["unit_price"], win["unit_price_unit"]) in row.text
        assert "、".join(region_names(rows, w["supply_regions"])) in row.text


# ── Rule checks, home, methodology ────────────────────────────────────────────

def test_checks_page_shows_each_seed_finding_with_its_rows_and_rule(sample_site, rows):
    p = page(sample_site, "/checks/")
    for doc in ("医保发〔2021〕31号", "国办发〔2021〕2号"):
        assert doc in p.text
    # the seeds the sample data holds: standards with basis "other", a winner without provinces
    for s in rows["payment_standards"]:
        if s["basis"] == "other":
            assert s["standard_id"] in p.text and yuan(s["amount"], s["amount_unit"]) in p.text
    for w in rows["winners"]:
        if w["won"] == "true" and not w["supply_regions"]:
            assert f"../product/{w['winner_id']}/" in p.article
    for rule in ("nonwinner-standard-above-highest", "originator-generic-standards-differ", "winner-without-province"):
        section = p.article[p.article.index(f'id="{rule}"'):]
        assert re.search(r"<h2>\d\. [^<]*（1）</h2>", section[:400]), rule  # one finding per seed rule


def test_home_page(sample_site, rows):
    p = page(sample_site, "/")
    cuts = []
    for w in rows["winners"]:
        kinds = {x["kind"]: float(x["unit_price"]) for x in rows["prices"]
                 if x["winner_id"] == w["winner_id"] and x["batch_id"] == w["batch_id"]}
        if w["won"] == "true" and "median_pre" in kinds:
            cuts.append((kinds["median_pre"] - kinds["winning_bid"]) / kinds["median_pre"])
    assert pct(statistics.median(cuts)) in p.text
    assert 'id="vbp-home-search"' in p.article
    latest = max(rows["execution_notices"], key=lambda n: n["published_date"])
    assert latest["title"] in p.text
    for section in ("units/", "rounds/", "provinces/", "companies/", "checks/", "methodology/"):
        assert f'href="{section}"' in p.article


def test_methodology_and_glossary_cite_the_policy_documents(sample_site):
    text = page(sample_site, "/methodology/").text
    for doc, date in (("医保发〔2021〕31号", "2021-04-30"), ("医保发〔2024〕31号", "2024-11-18"),
                      ("国办发〔2021〕2号", "2021-01-22"), ("泉州", "2024-11-01"), ("广东省医疗保障局", "2020-07-15")):
        assert doc in text and date in text
    assert "备供企业" in page(sample_site, "/glossary/").text


def test_every_data_row_links_its_source(sample_site):
    """Every row of every table on the generated pages links its source document
    (its url, else its row in the sources table of the downloads page)."""
    paths = [sample_site / url / "index.html" for url in ("", "units", "rounds", "provinces", "companies", "checks")]
    paths += [p for kind in LEAF_KINDS for p in (sample_site / kind).glob("*/index.html")]
    for path in paths:
        for table in read_page(path).tables:
            assert table.head[-1] == "来源", (path, table.head)
            for row in table.rows:
                if len(row.cells) > 1:  # not a one-cell "no data" row
                    links = [link for cell in row.cells[-1:] for link, cls in zip(cell.links, cell.classes)
                             if "vbp-src" in cls]
                    assert links and all(link.startswith(("http://", "https://")) or
                                         re.search(r"downloads/#source-[a-z0-9-]+$", link)
                                         for link in links), (path, row.text)


def test_unit_jobs_write_every_unit_and_product_page_once_each_unit_with_its_products(rows):
    """A worker makes a unit's substitute rows once and forgets them at the next
    unit, so a unit's product pages must come right after its page."""
    from generator.build import BuildContext
    from generator.derive import derive
    from generator.package import load
    from generator.render import pages_unit
    from generator.render.views import View

    pkg = load(DATA)
    jobs = pages_unit.jobs(View(BuildContext(pkg, derive(pkg), Path("docs"), Path("site"))))
    units = [key for fn, key in jobs if fn is pages_unit.write_unit]
    products = [key for fn, key in jobs if fn is pages_unit.write_product]
    assert sorted(units) == sorted(u["unit_id"] for u in rows["units"])
    assert sorted(products) == sorted(w["winner_id"] for w in rows["winners"])
    unit_of = {w["winner_id"]: w["unit_id"] for w in rows["winners"]}
    current = None
    for fn, key in jobs:
        if fn is pages_unit.write_unit:
            current = key
        else:
            assert unit_of[key] == current, key


# ── Escaping: hostile names stay text wherever they land ─────────────────────

def test_hostile_names_are_escaped_in_generated_pages(tmp_path):
    from generator.build import BuildContext
    from generator.derive import derive
    from generator.package import load
    from generator.render import pages

    data = copy_data(tmp_path / "data")
    hostile = 'A|B *em* _u_ [x](http://evil.example) <b>bold</b> & "q"\n# heading'
    companies = read_rows(data / "companies.csv")
    companies[0]["short_name"] = hostile
    write_rows(data / "companies.csv", companies)
    units = read_rows(data / "units.csv")
    units[0]["name"] = "<script>alert(1)</script>阿托伐他汀"
    write_rows(data / "units.csv", units)
    pkg = load(data)
    docs = tmp_path / "docs"
    pages.render(BuildContext(pkg, derive(pkg), docs, tmp_path / "site"))
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    extensions = [e if isinstance(e, str) else next(iter(e)) for e in config["markdown_extensions"]]
    for rel in ("unit/u-atorvastatin-oral.md", "company/c-qilu.md", "product/w-nat-drug-1x-atv-10-qilu.md",
                "units.md", "companies.md", "province/330000.md"):
        source = (docs / rel).read_text(encoding="utf-8")
        body = source.split("---\n", 2)[2]
        html = markdown.markdown(body, extensions=extensions)
        assert "<b>bold</b>" not in html and "<script>alert" not in html and "<em>em</em>" not in html, rel
        assert 'href="http://evil.example"' not in html, rel
        assert "&lt;b&gt;bold&lt;/b&gt;" in html or "&lt;script&gt;" in html, rel
        title = yaml.safe_load(source.split("---\n", 2)[1])["title"]
        assert "<" not in title, rel


# ── In a browser: pickers, phone, print ──────────────────────────────────────

@pytest.fixture(scope="module")
def base_url(sample_site, serve):
    return serve(sample_site)


def test_patient_picker_shows_price_standard_and_difference(browser, base_url, rows):
    wid, region = "w-nat-drug-1x-atv-10-pfizer", "330000"
    listed = price(rows, wid, "listed", region)
    std = next(s for s in rows["payment_standards"] if s["winner_id"] == wid and s["region_code"] == region)
    pack = int(next(w for w in rows["winners"] if w["winner_id"] == wid)["pack_size"])
    diff = float(listed["unit_price"]) - float(std["amount"])
    page_ = browser.new_page()
    errors = []
    page_.on("pageerror", lambda e: errors.append(str(e)))
    page_.goto(f"{base_url}/unit/u-atorvastatin-oral/")
    form = page_.locator("form.vbp-patient-form")
    assert form.is_visible()
    form.locator("select[name=region]").select_option(region)
    form.locator("select[name=product]").select_option(wid)
    out = form.locator("output").inner_text()
    assert yuan(listed["unit_price"], "元/片") in out and yuan(std["amount"], "元/片") in out
    assert yuan(diff, "元/片") in out and yuan(round(diff * pack, 2), "元/盒") in out
    assert page_.locator("details.vbp-patient-all").evaluate("d => !d.open")  # the picker replaces it
    assert not errors
    page_.close()


def test_substitute_picker_marks_the_products_that_supply_a_province(browser, base_url, rows):
    wid, code = "w-nat-drug-1x-atv-20-pfizer", "130000"
    unit = next(w["unit_id"] for w in rows["winners"] if w["winner_id"] == wid)
    expected = {w["winner_id"] for w in rows["winners"]
                if w["unit_id"] == unit and code in w["supply_regions"].split("|")}
    page_ = browser.new_page()
    page_.goto(f"{base_url}/product/{wid}/")
    page_.locator("select[data-vbp-supply]").select_option(code)
    marked = page_.locator("#vbp-subs tr.vbp-supplies a[href*='/product/']").evaluate_all(
        "links => links.map(a => a.getAttribute('href').split('/').slice(-2)[0])")
    assert set(marked) == expected and expected
    page_.close()


def test_pages_fit_a_phone_screen(browser, base_url):
    page_ = browser.new_page(viewport={"width": 375, "height": 800})
    for url in ("/", "/unit/u-coronary-stent/", "/product/w-nat-drug-1x-atv-10-qilu/", "/province/330000/",
                "/round/nat-drug-1x/", "/company/c-qilu/", "/checks/"):
        page_.goto(base_url + url)
        width = page_.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{url} is {width}px wide on a 375px phone"
    page_.close()


def test_print_hides_navigation_and_does_not_clip_tables(browser, base_url):
    page_ = browser.new_page()
    page_.goto(f"{base_url}/unit/u-atorvastatin-oral/")
    assert page_.locator("details.vbp-patient-all").evaluate("d => !d.open")
    page_.emulate_media(media="print")
    assert page_.locator(".md-sidebar--primary").first.is_hidden()
    overflow = page_.locator(".vbp-table-wrap").first.evaluate("e => getComputedStyle(e).overflowX")
    assert overflow == "visible"
    assert page_.locator("details.vbp-patient-all").evaluate("d => d.open")  # unfolded for print
    page_.close()


def test_grouped_rows_are_dicts_in_the_order_asked_with_missing_values_none():
    import numpy as np
    import pandas as pd
    from generator.render.views import Grouped, Rows, sorted_positions

    frame = pd.DataFrame({
        "k": ["b", "a", None, "b", "a"],
        "day": ["2024-03-01", "2024-01-01", "2024-01-01", "2024-02-01", None],
        "amount": [1.5, np.nan, 3.0, 4.0, 5.0],
        "pack": pd.array([10, None, 1, 2, 3], dtype="Int64"),
    })
    rows = Rows(frame)
    by_day = Grouped(rows, frame["k"], sorted_positions(frame, ["day"]))  # missing days last
    assert by_day.get("b") == [{"k": "b", "day": "2024-02-01", "amount": 4.0, "pack": 2},
                               {"k": "b", "day": "2024-03-01", "amount": 1.5, "pack": 10}]
    assert by_day.get("a") == [{"k": "a", "day": "2024-01-01", "amount": None, "pack": None},
                               {"k": "a", "day": None, "amount": 5.0, "pack": 3}]
    assert type(by_day.get("a")[1]["pack"]) is int  # JSON-ready Python values, not numpy ones
    assert by_day.column("a", "amount") == [None, 5.0] and by_day.count("a") == 2
    assert Grouped(rows, frame["k"]).get("b")[0]["day"] == "2024-03-01"  # the frame's own order
    assert None not in by_day and by_day.get("c") == []  # a row without a key is in no group


def test_row_links_escape_data_and_link_only_known_provinces():
    from generator.render.templating import Links

    class View:
        region = {"110000": "北<京>", "990000": "其他"}
        province_codes = {"110000"}

    links = Links(View(), "../../")
    assert links.regions(["110000", "990000"]) == '<a href="../../province/110000/">北&lt;京&gt;</a>、其他'
    assert links.regions([]) == "—"
    assert links.src([{"url": None, "source_id": "s&1", "tip": 'a "b"', "label": "结果公告"},
                      {"url": "https://x.cn/?a=1&b=2", "source_id": "s2", "tip": "", "label": "L"}]) == (
        '<a class="vbp-src" href="../../downloads/#source-s&amp;1" title="a &#34;b&#34;">结果公告</a> '
        '<a class="vbp-src" href="https://x.cn/?a=1&amp;b=2" title="">L</a>')
    assert links.flags({"originator": True, "backup_supplier": None, "consistency_passed": False}) == (
        '<span class="vbp-tag">原研</span>')
