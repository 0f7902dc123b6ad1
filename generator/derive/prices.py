"""One row per product (bid result): its price, pack price, cuts and price per
unit of strength, each figure with its unit, date and source."""
from __future__ import annotations

import numpy as np
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


def pick_prices(pkg, kind: str) -> pd.DataFrame:
    """One price row of a kind per product, indexed by winner_id: the one from the
    product's own round first, then the latest (ties broken by price_id)."""
    prices = pkg.tables["prices"]
    rows = prices[(prices["kind"] == kind).to_numpy(bool)]
    batch_of = pkg.tables["winners"].set_index("winner_id")["batch_id"]
    rows = rows.assign(_own=(rows["batch_id"] == rows["winner_id"].map(batch_of)).astype(int))
    rows = rows.sort_values(["_own", "effective_date", "price_id"])
    return rows.drop_duplicates("winner_id", keep="last").set_index("winner_id")[PRICE_FIELDS]


def _objects(values) -> np.ndarray:
    return np.asarray(values, dtype=object)


def products(pkg) -> pd.DataFrame:
    """Every bid result with its unit, company, price and cuts.

    price is the winning bid for a winner and the bid for a losing bid, per
    smallest unit. Cuts are (reference − price) / reference, only when both exist.
    Columns are typed as a frame built from one record per product would type them."""
    t = pkg.tables
    w = t["winners"]
    n = len(w)
    units = t["units"].set_index("unit_id")
    companies = t["companies"].set_index("company_id")
    unit_at = units.index.get_indexer(w["unit_id"])
    company_at = companies.index.get_indexer(w["company_id"])
    if (unit_at < 0).any() or (company_at < 0).any():
        raise KeyError("winners name a unit or company that is not in the package")
    won = _objects(w["won"]).astype(bool)
    wid = w["winner_id"]

    def pick(kind: str) -> tuple[np.ndarray, pd.DataFrame]:
        chosen = pick_prices(pkg, kind)
        return chosen.index.get_indexer(wid), chosen

    def field(found: tuple, col: str, missing=None) -> np.ndarray:
        at, chosen = found
        out = np.full(n, missing, dtype=object)
        out[at >= 0] = _objects(chosen[col])[at[at >= 0]]
        return out

    winning, bid = pick("winning_bid"), pick("bid")
    out = {c: _objects(w[c]) for c in w.columns}
    out["unit_name"] = _objects(units["name"])[unit_at]
    out["category"] = _objects(units["category"])[unit_at]
    out["company_name"] = _objects(companies["name"])[company_at]
    out["company_short"] = _objects(companies["short_name"])[company_at]

    def chosen(col: str) -> np.ndarray:  # the winning bid of a winner, the bid of a losing bid
        return np.where(won, field(winning, col), field(bid, col))

    has_p = np.where(won, winning[0] >= 0, bid[0] >= 0)
    price = chosen("unit_price")
    out["price_kind"] = np.where(won, "winning_bid", "bid").astype(object)
    out["price"] = price
    out["price_unit"] = np.where(has_p, chosen("unit_price_unit"),
                                 _objects(["元/" + str(u) for u in w["smallest_unit"]]))
    out["price_date"] = chosen("effective_date")
    out["price_source"] = chosen("source_id")
    out["price_id"] = chosen("price_id")
    out["pack_price"], out["pack_price_unit"] = _pack_prices(w, has_p, price, chosen("pack_price"),
                                                             chosen("pack_price_unit"))
    price_f = np.array([v if present(v) else np.nan for v in price], dtype=float)
    for name in ("median_pre", "max_bid"):
        ref = pick(name)
        out[name] = field(ref, "unit_price")
        out[f"{name}_date"] = field(ref, "effective_date")
        out[f"{name}_source"] = field(ref, "source_id")
    for name, ref in (("cut_median", out["median_pre"]), ("cut_max", out["max_bid"])):
        ref_f = np.array([v if present(v) else np.nan for v in ref], dtype=float)
        ok = ~np.isnan(ref_f) & ~np.isnan(price_f) & ~(ref_f <= 0)
        cut = np.full(n, None, dtype=object)
        cut[ok] = ((ref_f[ok] - price_f[ok]) / ref_f[ok]).tolist()
        out[name] = cut
    bases = [strength_base(v, u) for v, u in zip(w["strength_value"], w["strength_unit"])]
    amount = _objects([a for a, _ in bases])
    base = _objects([b for _, b in bases])
    out["strength_base"], out["strength_base_unit"] = amount, base
    amount_f = np.array([a if a is not None else np.nan for a in amount], dtype=float)
    ok = ~np.isnan(price_f) & ~np.isnan(amount_f) & (amount_f != 0)
    per = np.full(n, None, dtype=object)
    per[ok] = (price_f[ok] / amount_f[ok]).tolist()
    out["per_strength"] = per
    out["per_strength_unit"] = _objects([f"元/{b}" if b and present(p) else None for b, p in zip(base, price)])
    out["regions"] = _objects([split_codes(v) for v in w["supply_regions"]] + [None])[:-1]
    frame = pd.DataFrame({c: pd.Series(out[c], copy=False).infer_objects() for c in list(w.columns) + PRODUCT_COLUMNS},
                         copy=False)
    frame["pack_size"] = frame["pack_size"].astype("Int64")
    return frame


def _pack_prices(w, has_p, price, pack_price, pack_price_unit) -> tuple[np.ndarray, np.ndarray]:
    """_pack_price of every product, from its chosen price row's columns."""
    out, unit = np.full(len(w), None, dtype=object), np.full(len(w), None, dtype=object)
    for i, (ok, size, pack_unit) in enumerate(zip(has_p, w["pack_size"], w["pack_unit"])):
        if ok:
            p = {"pack_price": pack_price[i], "pack_price_unit": pack_price_unit[i], "unit_price": price[i]}
            out[i], unit[i] = _pack_price({"pack_size": size, "pack_unit": pack_unit}, p)
    return out, unit


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
