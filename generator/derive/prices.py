"""One row per product (bid result): its price, pack price, cuts and price per
unit of strength, each figure with its unit, date and source."""
from __future__ import annotations

import pandas as pd

KIND_LABELS = {
    "median_pre": "集采前中位价", "max_bid": "最高有效申报价", "bid": "未中选报价",
    "winning_bid": "中选价", "renewal": "接续价", "listed": "挂网价",
}

# Strength units converted to one base unit, so that 10mg and 0.5g compare per mg.
STRENGTH_BASE = {
    "mg": ("mg", 1.0), "g": ("mg", 1000.0), "μg": ("mg", 0.001), "µg": ("mg", 0.001),
    "IU": ("IU", 1.0), "万IU": ("IU", 10000.0), "U": ("U", 1.0),
    "mmol": ("mmol", 1.0), "ml": ("ml", 1.0),
}
PRODUCT_COLUMNS = [
    "unit_name", "category", "company_name", "company_short", "price_kind", "price",
    "price_unit", "price_date", "price_source", "price_id", "pack_price", "pack_price_unit",
    "median_pre", "median_pre_date", "median_pre_source", "max_bid", "max_bid_date",
    "max_bid_source", "cut_median", "cut_max", "strength_base", "strength_base_unit", "per_strength",
    "per_strength_unit", "regions",
]
PRICE_FIELDS = ["price_id", "unit_price", "unit_price_unit", "pack_price", "pack_price_unit",
                "effective_date", "region_code", "batch_id", "source_id"]


def present(value) -> bool:
    """Not missing: None, NaN and pd.NA are missing."""
    if value is None or value is pd.NA:
        return False
    return not (isinstance(value, float) and value != value)


def split_codes(value) -> list[str]:
    return value.split("|") if present(value) and value else []


def strength_base(value, unit) -> tuple[float | None, str | None]:
    """(amount, base unit) of a strength, e.g. (0.5, "g") -> (500.0, "mg"); None when unparsed."""
    if not present(value) or not present(unit) or unit not in STRENGTH_BASE:
        return None, None
    base, factor = STRENGTH_BASE[unit]
    return float(value) * factor, base


def pick_prices(pkg, kind: str) -> dict[str, dict]:
    """One price row of a kind per product, by winner_id: the one from the
    product's own round first, then the latest (ties broken by price_id)."""
    prices = pkg.tables["prices"]
    rows = prices[prices["kind"] == kind]
    batch_of = pkg.tables["winners"].set_index("winner_id")["batch_id"]
    rows = rows.assign(_own=(rows["batch_id"] == rows["winner_id"].map(batch_of)).astype(int))
    rows = rows.sort_values(["_own", "effective_date", "price_id"])
    return {r["winner_id"]: r for r in rows[["winner_id", *PRICE_FIELDS]].to_dict("records")}


def products(pkg) -> pd.DataFrame:
    """Every bid result with its unit, company, price and cuts.

    price is the winning bid for a winner and the bid for a losing bid, per
    smallest unit. Cuts are (reference − price) / reference, only when both exist."""
    t = pkg.tables
    w = t["winners"]
    units = {u["unit_id"]: u for u in t["units"].to_dict("records")}
    companies = {c["company_id"]: c for c in t["companies"].to_dict("records")}

    winning, bid = pick_prices(pkg, "winning_bid"), pick_prices(pkg, "bid")
    median, max_bid = pick_prices(pkg, "median_pre"), pick_prices(pkg, "max_bid")
    rows = []
    for rec in w.to_dict("records"):
        wid = rec["winner_id"]
        rec["unit_name"] = units[rec["unit_id"]]["name"]
        rec["category"] = units[rec["unit_id"]]["category"]
        rec["company_name"] = companies[rec["company_id"]]["name"]
        rec["company_short"] = companies[rec["company_id"]]["short_name"]
        p = (winning if rec["won"] else bid).get(wid)
        price = p["unit_price"] if p is not None else None
        rec["price_kind"] = "winning_bid" if rec["won"] else "bid"
        rec["price"] = price
        rec["price_unit"] = p["unit_price_unit"] if p is not None else f"元/{rec['smallest_unit']}"
        rec["price_date"] = p["effective_date"] if p is not None else None
        rec["price_source"] = p["source_id"] if p is not None else None
        rec["price_id"] = p["price_id"] if p is not None else None
        rec["pack_price"], rec["pack_price_unit"] = _pack_price(rec, p)
        for name, table in (("median_pre", median), ("max_bid", max_bid)):
            ref = table.get(wid)
            rec[name] = ref["unit_price"] if ref is not None else None
            rec[f"{name}_date"] = ref["effective_date"] if ref is not None else None
            rec[f"{name}_source"] = ref["source_id"] if ref is not None else None
        rec["cut_median"] = _cut(rec["median_pre"], price)
        rec["cut_max"] = _cut(rec["max_bid"], price)
        amount, base = strength_base(rec["strength_value"], rec["strength_unit"])
        rec["strength_base"], rec["strength_base_unit"] = amount, base
        rec["per_strength"] = price / amount if present(price) and amount else None
        rec["per_strength_unit"] = f"元/{base}" if base and present(price) else None
        rec["regions"] = split_codes(rec["supply_regions"])
        rows.append(rec)
    out = pd.DataFrame(rows, columns=list(w.columns) + PRODUCT_COLUMNS)
    out["pack_size"] = out["pack_size"].astype("Int64")
    return out


def _pack_price(rec, p) -> tuple[float | None, str | None]:
    """The published pack price, else unit price × pack size when the pack size is known."""
    if p is None:
        return None, None
    if present(p["pack_price"]):
        return float(p["pack_price"]), p["pack_price_unit"]
    if present(rec["pack_size"]):
        unit = rec["pack_unit"] if present(rec["pack_unit"]) else "包装"
        return round(float(p["unit_price"]) * int(rec["pack_size"]), 2), f"元/{unit}"
    return None, None


def _cut(reference, price) -> float | None:
    if not present(reference) or not present(price) or reference <= 0:
        return None
    return (reference - price) / reference


def price_records(pkg) -> pd.DataFrame:
    """Every price point with its Chinese label, oldest first: what a product page lists."""
    p = pkg.tables["prices"].copy()
    p["kind_label"] = p["kind"].map(KIND_LABELS)
    order = {k: i for i, k in enumerate(KIND_LABELS)}
    p["_order"] = p["kind"].map(order)
    return p.sort_values(["winner_id", "_order", "effective_date", "region_code", "price_id"]).drop(
        columns="_order").reset_index(drop=True)
