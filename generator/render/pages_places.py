"""Round (/round/<batch_id>/), province (/province/<region_code>/) and company
(/company/<company_id>/) pages."""
from __future__ import annotations

import statistics
from pathlib import Path

from .templating import write_page
from .views import PAGE_ROWS, View, standards_summary


def jobs(v: View) -> list[tuple]:
    """One (writer, key) per page, the longest first; pages.render runs them on every CPU."""
    return ([(write_province, r["region_code"]) for r in v.provinces]
            + [(write_round, b) for b in v.rounds]
            + [(write_company, c) for c in v.companies if v.by_company.get(c)])


def write_round(docs: Path, v: View, common: dict, batch_id: str) -> None:
    write_page(docs, f"round/{batch_id}.md", "round.md.j2", **common, **round_context(v, v.rounds[batch_id]))


def write_province(docs: Path, v: View, common: dict, code: str) -> None:
    r = next(r for r in v.provinces if r["region_code"] == code)
    write_page(docs, f"province/{code}.md", "province.md.j2", **common, **province_context(v, r))


def write_company(docs: Path, v: View, common: dict, cid: str) -> None:
    bids = v.by_company[cid]
    write_page(docs, f"company/{cid}.md", "company.md.j2", **common,
               c=v.companies[cid], bids=bids, n_won=sum(1 for p in bids if p["won"]))


def round_context(v: View, b: dict) -> dict:
    products = v.by_batch.get(b["batch_id"], [])
    items = []
    for unit_id in dict.fromkeys(p["unit_id"] for p in products):
        bids = [p for p in products if p["unit_id"] == unit_id]
        won = [p for p in bids if p["won"] and p["price"] is not None]
        units = {p["price_unit"] for p in won}
        prices = [p["price"] for p in won] if len(units) == 1 else []
        cuts = [p["cut_median"] for p in won if p["cut_median"] is not None]
        items.append({"unit": v.units[unit_id], "n_bids": len(bids), "n_won": sum(1 for p in bids if p["won"]),
                      "sources": v.sources_of(bids),
                      "low": min(prices) if prices else None, "high": max(prices) if prices else None,
                      "price_unit": units.pop() if len(units) == 1 else None,
                      "median_cut": statistics.median(cuts) if cuts else None})
    renewals = sorted((x for x in v.prices_by_batch.get(b["batch_id"], []) if x["kind"] == "renewal"),
                      key=lambda x: (x["winner_id"], x["region_code"], x["effective_date"]))
    return {"b": b, "items": items, "winners": [p for p in products if p["won"]],
            "renewals": renewals, "notices": v.notices_by_batch.get(b["batch_id"], []),
            "renewed_by": [r for r in v.rounds.values() if r["renewal_of"] == b["batch_id"]]}


def province_context(v: View, r: dict) -> dict:
    code = r["region_code"]
    winners = [v.products[s["winner_id"]] for s in v.supply_by_region.get(code, [])]
    announced = {k: b["announced_date"] for k, b in v.rounds.items()}
    winners.sort(key=lambda p: (announced[p["batch_id"]], p["batch_id"], v.units[p["unit_id"]]["name"],
                                p["price"] if p["price"] is not None else float("inf"), p["winner_id"]))
    renewals = {}
    for p in winners:
        here = [x for x in v.renewals_by_winner.get(p["winner_id"], []) if x["region_code"] == code]
        if here:
            renewals[p["winner_id"]] = max(here, key=lambda x: (x["effective_date"], x["price_id"]))
    groups = [{"batch": v.rounds[b], "winners": [p for p in winners if p["batch_id"] == b]}
              for b in dict.fromkeys(p["batch_id"] for p in winners)]
    standards = v.standards_by_region.get(code, [])
    return {"r": r, "notices": v.notices_by_region.get(code, []), "winners": winners, "renewals": renewals,
            "standards": standards, "winner_groups": groups, "winners_summary": len(winners) > PAGE_ROWS,
            "standards_summary": sorted(standards_summary(v, standards, "batch_id"), key=lambda s: (
                announced[s["batch_id"]], s["batch_id"])) if len(standards) > PAGE_ROWS else [],
            "supplied_rounds": [g["batch"] for g in groups]}
