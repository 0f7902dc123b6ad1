"""Competition unit pages (/unit/<unit_id>/) with the patient view, and product
pages (/product/<winner_id>/) with their substitutes."""
from __future__ import annotations

from pathlib import Path

from .templating import money, write_page
from .views import PAGE_ROWS, View, standards_summary


def jobs(v: View) -> list[tuple]:
    """One (writer, key) per page; pages.render runs them on every CPU. A unit's
    product pages follow its page, so a worker writes them one after another
    and makes their shared substitute rows once (templating.Links.substitute_row)."""
    return [job for u in v.units
            for job in [(write_unit, u)] + [(write_product, p["winner_id"]) for p in v.by_unit.get(u, [])]]


def write_unit(docs: Path, v: View, common: dict, unit_id: str) -> None:
    write_page(docs, f"unit/{unit_id}.md", "unit.md.j2", **common, **unit_context(v, v.units[unit_id]))


def write_product(docs: Path, v: View, common: dict, wid: str) -> None:
    write_page(docs, f"product/{wid}.md", "product.md.j2", **common, **product_context(v, v.products[wid]))


def unit_context(v: View, unit: dict) -> dict:
    products = v.by_unit.get(unit["unit_id"], [])
    rounds = []
    for batch_id in unit["batches"]:
        in_round = [p for p in products if p["batch_id"] == batch_id]
        renewals = sorted((x for p in in_round if p["won"] for x in v.renewals_by_winner.get(p["winner_id"], [])),
                          key=lambda x: (x["effective_date"], x["region_code"], x["price_id"]))
        rounds.append({"batch": v.rounds[batch_id], "won": [p for p in in_round if p["won"]],
                       "lost": [p for p in in_round if not p["won"]], "renewals": renewals})
    standards = v.standards_by_unit.get(unit["unit_id"], [])
    return {"u": unit, "category": "药品" if unit["category"] == "drug" else "医用耗材",
            "rounds": rounds, "standards": standards,
            "standards_summary": standards_summary(v, standards, "region_code") if len(standards) > PAGE_ROWS else [],
            "findings": v.findings_by_unit.get(unit["unit_id"], []),
            "patient": patient_context(v, unit, products)}


def patient_context(v: View, unit: dict, products: list[dict]) -> dict:
    """The rows of the no-JS table and the JSON the picker reads (figures formatted
    here, once, so the picker shows exactly what the table shows). The picker gets
    every row; past PAGE_ROWS the table keeps the rows of products that supply the
    region."""
    rows = sorted(v.patient_by_unit.get(unit["unit_id"], []),
                  key=lambda x: (x["region_code"], x["price"] is None, x["price"] or 0, x["winner_id"]))
    in_rows = {x["winner_id"] for x in rows}
    data = {
        "regions": [[code, v.region.get(code, code)] for code in sorted({x["region_code"] for x in rows})],
        "products": [[p["winner_id"], p["label"] + ("" if p["won"] else "（未中选）")]
                     for p in products if p["winner_id"] in in_rows],
        "rows": [{
            "r": x["region_code"], "w": x["winner_id"], "s": x["supplies"],
            "price": money(x["price"], x["price_unit"]) if x["price"] is not None else None,
            "price_note": f"{v.kind_label(x['price_kind'])}，{x['price_date']}" if x["price"] is not None else None,
            "std": money(x["standard"], x["standard_unit"]) if x["standard"] is not None else None,
            "std_note": (f"{x['standard_from']} 起" + (f"，至 {x['standard_to']}" if x["standard_to"] else "")
                         if x["standard"] is not None else None),
            "diff": money(x["diff"], x["price_unit"]) if x["diff"] is not None else None,
            "diff_pack": money(x["diff_pack"], x["diff_pack_unit"]) if x["diff_pack"] is not None else None,
        } for x in rows],
    }
    units = sorted({p["smallest_unit"] for p in products})
    shown = rows if len(rows) <= PAGE_ROWS else [x for x in rows if x["supplies"]]
    return {"rows": shown, "n_all": len(rows), "data": data, "smallest_unit": "、".join(units) or "最小单位"}


def product_context(v: View, p: dict) -> dict:
    subs = [{**v.products[s["substitute_id"]], "same_strength": s["same_strength"]}
            for s in v.substitutes_of.get(p["winner_id"], [])]
    table = [{**p, "same_strength": False}, *subs]
    units = {s["per_strength_unit"] for s in table if s["per_strength_unit"]}
    return {
        "p": p, "u": v.units[p["unit_id"]], "b": v.rounds[p["batch_id"]], "c": v.companies[p["company_id"]],
        "prices": v.prices_of.get(p["winner_id"], []),
        "standards": v.standards_by_winner.get(p["winner_id"], []),
        "findings": v.findings_by_winner.get(p["winner_id"], []),
        "subs": table if subs else [],
        "sub_regions": sorted({c for s in table for c in s["regions"]}),
        "per_strength": "、".join(sorted(units)),
    }
