"""What a patient sees in a province: the price of a product there, the payment
standard in force on the as-of date, and what the patient pays on top when the
price is above the standard (before the usual co-payment)."""
from __future__ import annotations

import pandas as pd

from .prices import present
from .provinces import NATIONAL, standard_in_force

COLUMNS = [
    "winner_id", "unit_id", "region_code", "supplies", "price", "price_unit", "price_kind",
    "price_date", "price_source", "standard", "standard_unit", "standard_id", "standard_basis",
    "standard_from", "standard_to", "standard_source", "diff", "diff_pack", "diff_pack_unit",
]


def _latest(frame: pd.DataFrame, keys: list[str], date: str) -> dict[tuple, dict]:
    """The latest row per key tuple (ties broken by the row id, the first column)."""
    return {tuple(r[k] for k in keys): r
            for r in frame.sort_values([date, frame.columns[0]]).to_dict("records")}


def patient_rows(pkg, products: pd.DataFrame) -> pd.DataFrame:
    """One row per (product, region) where the data knows a price or a standard there.

    Price: a winner's renewal price in the region, else its winning price (flagged
    when the region is not one it supplies, unless a listed price is known there);
    a losing bid's listed price in the region. Standard: the product's own standard
    in force on the as-of date, else the unit's."""
    t, as_of = pkg.tables, pkg.as_of
    prices = t["prices"][t["prices"]["effective_date"] <= as_of]
    renewal = _latest(prices[prices["kind"] == "renewal"], ["winner_id", "region_code"], "effective_date")
    listed = _latest(prices[prices["kind"] == "listed"], ["winner_id", "region_code"], "effective_date")
    s = t["payment_standards"]
    in_force = [standard_in_force(f, e, as_of) for f, e in zip(s["effective_from"], s["effective_to"])]
    s = s[pd.Series(in_force, index=s.index, dtype=bool)]
    own = s["winner_id"].map(present).astype(bool)
    own_std = _latest(s[own], ["winner_id", "region_code"], "effective_from")
    unit_std = _latest(s[~own], ["unit_id", "region_code"], "effective_from")

    regions_of: dict[tuple, set] = {}  # ("w", product) or ("u", unit) -> regions with data
    for kind, table in (("w", renewal), ("w", listed), ("w", own_std), ("u", unit_std)):
        for owner, region in table:
            regions_of.setdefault((kind, owner), set()).add(region)

    rows = []
    for p in products.to_dict("records"):
        wid = p["winner_id"]
        regions = regions_of.get(("w", wid), set()) | regions_of.get(("u", p["unit_id"]), set())
        if p["won"]:
            regions |= set(p["regions"])
        for region in sorted(regions - {NATIONAL}):
            rows.append(_row(p, region, renewal.get((wid, region)), listed.get((wid, region)),
                             own_std.get((wid, region)) or unit_std.get((p["unit_id"], region))))
    return pd.DataFrame(rows, columns=COLUMNS)


def _row(p: dict, region: str, renewal, listed, std) -> dict:
    supplies = bool(p["won"]) and region in p["regions"]
    if p["won"] and renewal is not None:
        price = renewal
    elif p["won"] and (supplies or listed is None):
        price = {"kind": "winning_bid", "unit_price": p["price"], "unit_price_unit": p["price_unit"],
                 "effective_date": p["price_date"], "source_id": p["price_source"]}
    else:
        price = listed
    row = {"winner_id": p["winner_id"], "unit_id": p["unit_id"], "region_code": region,
           "supplies": supplies}
    if price is not None and present(price["unit_price"]):
        row.update(price=float(price["unit_price"]), price_unit=price["unit_price_unit"],
                   price_kind=price["kind"], price_date=price["effective_date"],
                   price_source=price["source_id"])
    if std is not None:
        row.update(standard=float(std["amount"]), standard_unit=std["amount_unit"],
                   standard_id=std["standard_id"], standard_basis=std["basis"],
                   standard_from=std["effective_from"], standard_to=std["effective_to"],
                   standard_source=std["source_id"])
    if "price" in row and "standard" in row and row["price_unit"] == row["standard_unit"]:
        diff = max(0.0, round(row["price"] - row["standard"], 6))
        row["diff"] = diff
        if present(p["pack_size"]):
            unit = p["pack_unit"] if present(p["pack_unit"]) else "包装"
            row["diff_pack"] = round(diff * int(p["pack_size"]), 2)
            row["diff_pack_unit"] = f"元/{unit}"
    return row
