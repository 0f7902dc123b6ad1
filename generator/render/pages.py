"""Generated Markdown pages (HTML inside, escaped by Jinja).

URLs come from ids and never change with the data: /unit/<unit_id>/,
/product/<winner_id>/, /round/<batch_id>/, /province/<region_code>/,
/company/<company_id>/, and the section pages /units/, /rounds/, /provinces/,
/companies/, /checks/. Links inside pages are relative (`root` climbs back to
the site root), so the site works from any folder or sub-path."""
from __future__ import annotations

from ..derive.rules import RULE_TITLES, RULES
from ..parallel import fork_map
from . import pages_places, pages_unit
from .templating import environment, write_page
from .views import BASES, CATEGORIES, FINDINGS_PER_PAGE, LEVELS, View, records, register_filters

SECTION_ROOT = "../"  # /units/ and the like are one folder deep
LEAF_ROOT = "../../"  # /unit/<id>/ and the like are two folders deep
CHECKS_PAGE_ROOT = "../../../"  # /checks/<rule_id>/<k>/
LEAF_CHUNK = 64  # pages per task handed to a worker
# Tasks a worker writes before a fresh fork replaces it. A worker copies each
# memory page of the View that it reads (reading writes reference counts); a
# fresh one starts from the parent's pages again. National leaf pages, measured
# in one run: replaced every 10 tasks 54 s, tree peak 1.20 GB; every 30 tasks
# 76 s, 1.22 GB; never 94 s, 1.34 GB. Measured again at a17505e, the leaf
# pages alone in a warm process: every 3 tasks 50 s, 5 47 s, 10 41-44 s,
# 15 42 s, 20 41 s (tree peaks 0.93-1.09 GB).
FRESH_AFTER = 10


def render(ctx) -> None:
    register_filters(environment())
    v = View(ctx)
    common = {"v": v, "bases": BASES, "levels": LEVELS, "categories": CATEGORIES,
              "rule_titles": RULE_TITLES,
              "charts": ctx.charts}  # chart_id -> ChartArtifact, for _chart.html.j2
    rules = rule_sections(v)
    render_home(ctx, v, common)
    render_sections(ctx, v, common, rules)
    leaf = {**common, "root": LEAF_ROOT, "rule_sections": {r["rule_id"]: r for r in rules}}
    # Leaf pages (tens of thousands at national scale) on every CPU: workers
    # inherit the View and the rules by fork and write their pages; only the
    # jobs, (writer, key), are sent to them, and nothing comes back.
    fork_map(lambda job: job[0](ctx.docs_dir, v, leaf, job[1]),
             checks_jobs(rules) + pages_places.jobs(v) + pages_unit.jobs(v), chunk=LEAF_CHUNK,
             fresh_after=FRESH_AFTER)


def render_home(ctx, v: View, common: dict) -> None:
    notices = sorted(v.notices, key=lambda n: (n["published_date"], n["notice_id"]), reverse=True)[:10]
    write_page(ctx.docs_dir, "index.md", "home.md.j2", **common, root="",
               meta=ctx.pkg.meta, headline=ctx.derived["headline"].to_dict("records"),
               notices=notices, n_findings=len(v.findings))


def render_sections(ctx, v: View, common: dict, rules: list[dict]) -> None:
    docs, ctx_ = ctx.docs_dir, {**common, "root": SECTION_ROOT}
    units = [{**u, "sources": v.sources_of(v.by_unit.get(u["unit_id"], []))} for u in v.units.values()]
    groups = [{"category": cat, "label": label, "units": [u for u in units if u["category"] == cat]}
              for cat, label in CATEGORIES.items()]
    write_page(docs, "units.md", "units.md.j2", **ctx_, groups=[g for g in groups if g["units"]],
               total=len(units))
    write_page(docs, "rounds.md", "rounds.md.j2", **ctx_, rounds=list(v.rounds.values()))
    write_page(docs, "provinces.md", "provinces.md.j2", **ctx_, provinces=province_rows(v))
    write_page(docs, "companies.md", "companies.md.j2", **ctx_, companies=company_rows(v))
    write_page(docs, "checks.md", "checks.md.j2", **ctx_, findings=v.findings,
               rules=[{**r, "findings": resolved(v, r["findings"][:FINDINGS_PER_PAGE]),
                       "pager": pager(1, r["pages"])} for r in rules])


def checks_jobs(rules: list[dict]) -> list[tuple]:
    """The further pages of each rule's findings, /checks/<rule_id>/<k>/ from k = 2.
    A job names its rule: a job that held the rule pickled its 51,000 findings
    into every task of a national build, and each worker kept ~0.3 GB of them."""
    return [(write_checks_page, (r["rule_id"], k)) for r in rules for k in range(2, r["pages"] + 1)]


def write_checks_page(docs, v: View, common: dict, key: tuple[str, int]) -> None:
    rule_id, k = key
    r = common["rule_sections"][rule_id]
    first = (k - 1) * FINDINGS_PER_PAGE
    write_page(docs, f"checks/{r['rule_id']}/{k}.md", "checks_page.md.j2",
               **{**common, "root": CHECKS_PAGE_ROOT}, r=r, k=k, first=first + 1, pager=pager(k, r["pages"]),
               per_page=FINDINGS_PER_PAGE, findings=resolved(v, r["findings"][first:first + FINDINGS_PER_PAGE]))


PAGER_NEAR = 2  # pages either side of the current one that the pager links


def pager(k: int, n: int) -> list[int | None]:
    """The page numbers a pager of page k of n shows, None for a gap: the
    first, the last and those near k. A rule with 50,000 findings has 1,000
    pages; linking every one from every page wrote a million links (~60 MB)."""
    shown = sorted({1, n, *range(max(1, k - PAGER_NEAR), min(n, k + PAGER_NEAR) + 1)})
    out: list[int | None] = []
    for j in shown:
        if out and j > out[-1] + 1:
            out.append(None)
        out.append(j)
    return out


def province_rows(v: View) -> list[dict]:
    rows = []
    for r in v.provinces:
        code = r["region_code"]
        winners = [v.products[s["winner_id"]] for s in v.supply_by_region.get(code, [])]
        rows.append({**r, "sources": v.src([p["price_source"] for p in winners], [p["source_id"] for p in winners],
                                           [n["source_id"] for n in v.notices_by_region.get(code, [])],
                                           v.standards_by_region.column(code, "source_id"))})
    return rows


def company_rows(v: View) -> list[dict]:
    rows = []
    for cid, company in v.companies.items():
        bids = v.by_company.get(cid, [])
        if not bids:
            continue
        won = [p for p in bids if p["won"]]
        rows.append({**company, "n_bids": len(bids), "n_won": len(won),
                     "n_units_won": len({p["unit_id"] for p in won}), "sources": v.sources_of(bids)})
    return sorted(rows, key=lambda c: (-c["n_won"], -c["n_bids"], c["company_id"]))


def rule_sections(v: View) -> list[dict]:
    """Each rule with its findings as they are: a page resolves its own
    (resolved), in the worker that writes it."""
    sections = []
    for rule in RULES:
        findings = [f for f in v.findings if f["rule_id"] == rule["rule_id"]]
        quotes = [{**q, "source": v.sources.get(q["source_id"])} for q in rule["quotes"]]
        sections.append({**rule, "quotes": quotes, "findings": findings, "n_findings": len(findings),
                         "pages": max(1, -(-len(findings) // FINDINGS_PER_PAGE))})
    return sections


def resolved(v: View, findings: list[dict]) -> list[dict]:
    """Findings with their standards and products, for one page."""
    sids = list(dict.fromkeys(sid for f in findings for sid in f["standard_ids"]))
    standards = dict(zip(sids, records(v.standards.take([v.finding_standards[sid] for sid in sids]))))
    return [{**f, "standards": [standards[sid] for sid in f["standard_ids"]],
             "products": [v.products[w] for w in f["winner_ids"]]} for f in findings]
