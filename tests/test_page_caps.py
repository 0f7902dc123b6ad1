"""Pages stay bounded as the data grows: past views.PAGE_ROWS rows a page shows a
summary (recomputed here from the CSV rows), rule-check findings are paged, and
generated pages go through MkDocs without a Markdown pass.

The package is a small synthetic one (bench/synth.py), where a unit already has
hundreds of payment standards; limits are lowered where the data is smaller."""
from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from conftest import ROOT, read_rows
from htmlpage import read_page

from bench import synth
from generator.build import BuildContext
from generator.derive import derive
from generator.package import load
from generator.render import pages, pages_places, views

SCALE = 0.002  # 6 units, 60 winners, 2,000 payment standards


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    return synth.write(tmp_path_factory.mktemp("caps") / "data", *synth.generate(SCALE))


@pytest.fixture(scope="module")
def built(package):
    pkg = load(package)
    return pkg, derive(pkg)


def render_docs(built, tmp_path) -> Path:
    pkg, derived = built
    ctx = BuildContext(pkg, derived, tmp_path / "docs", tmp_path / "site")
    pages.render(ctx)
    return ctx.docs_dir


def doc(docs: Path, rel: str):
    """A generated page body read like a built page (it is HTML already)."""
    body = (docs / rel).read_text(encoding="utf-8").split("\n---\n", 1)[1]
    html = docs.parent / (rel.replace("/", "_") + ".html")
    html.write_text(f"<article>{body}</article>", encoding="utf-8")
    return read_page(html)


def in_force(s: dict, day: str) -> bool:
    return s["effective_from"] <= day and (not s["effective_to"] or s["effective_to"] >= day)


def yuan(value: float, unit: str) -> str:
    return f"{value:,.{4 if abs(value) < 1 else 2}f} {unit}"


def test_unit_page_summarises_many_standards_by_region(built, package, tmp_path):
    docs = render_docs(built, tmp_path)
    as_of = built[0].as_of
    standards = read_rows(package / "payment_standards.csv")
    regions = {r["region_code"]: r["short_name"] for r in read_rows(package / "regions.csv")}
    by_unit = defaultdict(list)
    for s in standards:
        by_unit[s["unit_id"]].append(s)
    unit_id, rows = max(by_unit.items(), key=lambda kv: len(kv[1]))
    assert len(rows) > views.PAGE_ROWS  # the case under test

    table = doc(docs, f"unit/{unit_id}.md").table_after("<h2>各地医保支付标准")
    by_region = defaultdict(list)
    for s in rows:
        by_region[s["region_code"]].append(s)
    assert [r.cells[0].text for r in table.rows] == [regions[c] for c in sorted(by_region)]
    for row in table.rows:
        code = next(c for c in by_region if regions[c] == row.cells[0].text)
        current = [s for s in by_region[code] if in_force(s, as_of)]
        assert row.cells[1].text == str(len(current))
        assert row.cells[4].text == str(len(by_region[code]))
        for unit in {s["amount_unit"] for s in current}:
            amounts = [float(s["amount"]) for s in current if s["amount_unit"] == unit]
            assert yuan(min(amounts), unit) in row.cells[2].text
            assert yuan(max(amounts), unit) in row.cells[2].text


def test_patient_table_keeps_local_supply_rows_and_picker_keeps_all(built, tmp_path):
    docs = render_docs(built, tmp_path)
    patient = built[1]["patient"]
    counts = patient.groupby("unit_id").size()
    unit_id = counts.idxmax()
    assert counts[unit_id] > views.PAGE_ROWS
    page = doc(docs, f"unit/{unit_id}.md")
    mine = patient[patient["unit_id"] == unit_id]
    assert len(page.json("vbp-patient-data")["rows"]) == len(mine)
    table = page.table_after("患者视角")
    assert len(table.rows) == int(mine["supplies"].sum())
    assert "非本地中选供应" not in " ".join(r.text for r in table.rows)
    assert f"共 {len(mine)} 个省份与产品组合" in page.text


def test_province_page_summarises_by_round_past_the_limit(built, package, tmp_path, monkeypatch):
    monkeypatch.setattr(pages_places, "PAGE_ROWS", 3)
    docs = render_docs(built, tmp_path)
    as_of = built[0].as_of
    standards = read_rows(package / "payment_standards.csv")
    batches = {b["batch_id"]: b["name"] for b in read_rows(package / "batches.csv")}
    won = [w for w in read_rows(package / "winners.csv") if w["won"] == "true"]
    # the region with the most winners supplying it, of those with standards: both tables past the limit
    code = max(sorted({s["region_code"] for s in standards}),
               key=lambda c: sum(c in w["supply_regions"].split("|") for w in won))
    page = doc(docs, f"province/{code}.md")

    table = page.table_after("<h2>医保支付标准")
    mine = defaultdict(list)
    for s in standards:
        if s["region_code"] == code:
            mine[batches[s["batch_id"]]].append(s)
    assert sorted(r.cells[0].text for r in table.rows) == sorted(mine)
    for row in table.rows:
        rows = mine[row.cells[0].text]
        assert row.cells[1].text == str(len({s["unit_id"] for s in rows}))
        assert row.cells[2].text == str(sum(in_force(s, as_of) for s in rows))
        assert row.cells[3].text == str(len(rows))

    supplied = Counter(batches[w["batch_id"]] for w in won if code in w["supply_regions"].split("|"))
    assert sum(supplied.values()) > 3
    winners = page.table_after("<h2>供应本地的中选产品")
    assert {r.cells[0].text: int(r.cells[1].text) for r in winners.rows} == dict(supplied)


def test_findings_are_paged_and_every_link_finds_its_finding(built, tmp_path, monkeypatch):
    monkeypatch.setattr(views, "FINDINGS_PER_PAGE", 2)
    monkeypatch.setattr(pages, "FINDINGS_PER_PAGE", 2)
    docs = render_docs(built, tmp_path)
    findings = built[1]["findings"]
    per_rule = findings.groupby("rule_id").size()
    assert per_rule.max() > 2  # some rule needs more than one page

    ids_on = {}
    for path in [docs / "checks.md", *sorted((docs / "checks").rglob("*.md"))]:
        rel = path.relative_to(docs).as_posix()
        url = "checks/" if rel == "checks.md" else rel[:-3] + "/"
        found = re.findall(r'<div class="vbp-finding" id="([^"]+)"', path.read_text(encoding="utf-8"))
        assert len(found) <= 2 * len(per_rule)
        for fid in found:
            assert fid not in ids_on, f"{fid} shown twice"
            ids_on[fid] = url
    assert set(ids_on) == set(findings["finding_id"])
    for rule, n in per_rule.items():
        assert len(list((docs / "checks" / rule).glob("*.md")) if n > 2 else []) == -(-n // 2) - 1

    for unit_md in (docs / "unit").glob("*.md"):
        for url, fid in re.findall(r'href="\.\./\.\./([^"#]*)#([^"]+)"', unit_md.read_text(encoding="utf-8")):
            if fid in ids_on:
                assert url == ids_on[fid], (unit_md.name, fid)

    # the pagers reach every page of a rule, each linking a few pages, never all of them
    monkeypatch.setattr(pages, "PAGER_NEAR", 1)
    docs = render_docs(built, tmp_path / "near-1")
    for rule, n in per_rule.items():
        n_pages = -(-n // 2)
        reached, todo = {1}, [1]
        while todo:
            k = todo.pop()
            text = (docs / "checks.md" if k == 1 else docs / "checks" / rule / f"{k}.md").read_text(encoding="utf-8")
            if k == 1:
                text = text[text.index(f'id="{rule}"'):]
                text = text[:text.index("</section>")]
            linked = {int(j) for j in re.findall(rf'checks/{re.escape(rule)}/(\d+)/"', text)}
            assert len(linked) <= 4, (rule, k, sorted(linked))  # first, last, one either side
            for j in linked - reached:
                reached.add(j)
                todo.append(j)
        assert reached == set(range(1, n_pages + 1)), rule
    assert -(-per_rule.max() // 2) >= 5  # some pager leaves pages out


def test_pager_shows_the_ends_and_the_pages_near_this_one():
    assert pages.pager(1, 1) == [1]
    assert pages.pager(2, 3) == [1, 2, 3]
    assert pages.pager(1, 1000) == [1, 2, 3, None, 1000]
    assert pages.pager(500, 1000) == [1, None, 498, 499, 500, 501, 502, None, 1000]
    assert pages.pager(4, 1000) == [1, 2, 3, 4, 5, 6, None, 1000]
    assert pages.pager(1000, 1000) == [1, None, 998, 999, 1000]


def test_flagged_pages_skip_markdown_and_keep_their_navigation(tmp_path):
    """Flagged pages reach the theme as written; the navigation rendered once per
    folder for flagged pages outside the nav links right from every page (also
    from a folder under a nav page, as deep as another), and a flagged page
    inside the nav still marks itself active."""
    docs = tmp_path / "docs"
    for rel, text in {
        "index.md": "*emphasis*\n",
        "section.md": '---\ntitle: "section"\nvbp_html: true\n---\n<p>section</p>\n',
        "leaf/a.md": '---\ntitle: "a"\nvbp_html: true\n---\n<p>*kept* &amp; 1 < 2</p>\n\n# not a heading\n',
        "leaf/b.md": '---\ntitle: "b"\nvbp_html: true\n---\n<p>b</p>\n',
        "leaf/deep/c.md": '---\ntitle: "c"\nvbp_html: true\n---\n<p>c</p>\n',
        "section/deep/d.md": '---\ntitle: "d"\nvbp_html: true\n---\n<p>d</p>\n',
    }.items():
        (docs / rel).parent.mkdir(parents=True, exist_ok=True)
        (docs / rel).write_text(text, encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text(
        "site_name: t\ndocs_dir: docs\nsite_dir: site\ntheme: material\n"
        "nav:\n  - index.md\n  - section.md\nnot_in_nav: |\n  /leaf/**\n  /section/**\n"
        f"hooks:\n  - {ROOT / 'generator/render/mkdocs_hooks.py'}\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "-q", "--strict"], cwd=tmp_path, check=True)
    site = tmp_path / "site"
    a = (site / "leaf" / "a" / "index.html").read_text(encoding="utf-8")
    assert "<p>*kept* &amp; 1 < 2</p>\n\n# not a heading" in a
    assert "<em>emphasis</em>" in (site / "index.html").read_text(encoding="utf-8")

    def nav_links(path):
        nav = path.read_text(encoding="utf-8").split('<nav class="md-nav md-nav--primary"', 1)[1].split("</nav>", 1)[0]
        return re.findall(r'<a href="([^"]+)" class="md-nav__link( md-nav__link--active)?"', nav)

    assert nav_links(site / "leaf" / "b" / "index.html") == [("../..", ""), ("../../section/", "")]
    assert nav_links(site / "leaf" / "deep" / "c" / "index.html") == [("../../..", ""), ("../../../section/", "")]
    assert nav_links(site / "section" / "deep" / "d" / "index.html") == [("../../..", ""), ("../../", "")]
    assert nav_links(site / "section" / "index.html") == [("..", ""), ("./", " md-nav__link--active")]
