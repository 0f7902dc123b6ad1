"""What a patient sees in a province: the price of a product there, the payment
standard in force on the as-of date, and what the patient pays on top when the
price is above the standard (before the usual co-payment)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .provinces import NATIONAL

COLUMNS = [
    "winner_id", "unit_id", "region_code", "supplies", "price", "price_unit", "price_kind",
    "price_date", "price_source", "standard", "standard_unit", "standard_id", "standard_basis",
    "standard_from", "standard_to", "standard_source", "diff", "diff_pack", "diff_pack_unit",
]


def in_force(standards: pd.DataFrame, as_of: str) -> np.ndarray:
    """Which standards are in force on as_of (from ≤ as_of ≤ to, an open end counting as in force)."""
    to = standards["effective_to"]
    return ((standards["effective_from"] <= as_of).to_numpy(bool)
            & (to.isna() | (to.fillna("") >= as_of)).to_numpy(bool))


def _latest(keys: np.ndarray, frame: pd.DataFrame, date: str) -> tuple[np.ndarray, np.ndarray]:
    """One row of frame per key ≥ 0, the latest by date (ties broken by the row id, the
    first column): (sorted unique keys, their row positions)."""
    rows = np.flatnonzero(keys >= 0)
    rows = rows[np.argsort(keys[rows], kind="stable")]
    k = keys[rows]
    tied = np.zeros(len(k), bool)
    tied[1:] = k[1:] == k[:-1]
    tied[:-1] |= tied[1:]
    if tied.any():
        sub = frame.iloc[rows[tied]][[date, frame.columns[0]]].assign(_key=k[tied], _row=rows[tied])
        last = sub.sort_values(["_key", date, frame.columns[0]]).drop_duplicates("_key", keep="last")
        keep = ~tied
        k = np.concatenate([k[keep], last["_key"].to_numpy(np.int64)])
        rows = np.concatenate([rows[keep], last["_row"].to_numpy(np.int64)])
        order = np.argsort(k, kind="stable")
        k, rows = k[order], rows[order]
    return k, rows


def _find(keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Position of each wanted key in sorted unique keys, -1 where absent."""
    if not len(keys):
        return np.full(len(wanted), -1)
    at = np.searchsorted(keys, wanted)
    at[at == len(keys)] = 0
    return np.where(keys[at] == wanted, at, -1)


def _typed(values: np.ndarray) -> pd.Series:
    """A column typed as a frame built from records would type it (str, float, bool, object)."""
    return pd.Series(values, copy=False).infer_objects()


def _unique(keys: np.ndarray) -> np.ndarray:
    keys = np.sort(keys)
    return keys[np.r_[True, keys[1:] != keys[:-1]]] if len(keys) else keys


def patient_rows(pkg, products: pd.DataFrame) -> pd.DataFrame:
    """One row per (product, region) where the data knows a price or a standard there.

    Price: a winner's renewal price in the region, else its winning price (flagged
    when the region is not one it supplies, unless a listed price is known there);
    a losing bid's listed price in the region. Standard: the product's own standard
    in force on the as-of date, else the unit's."""
    t, as_of = pkg.tables, pkg.as_of
    prices = t["prices"][(t["prices"]["effective_date"] <= as_of).to_numpy(bool)]
    renewal = prices[(prices["kind"] == "renewal").to_numpy(bool)]
    listed = prices[(prices["kind"] == "listed").to_numpy(bool)]
    # The standards table is the largest: index into it rather than copy parts of it.
    s = t["payment_standards"]
    current = in_force(s, as_of)
    own = s["winner_id"].notna().to_numpy(bool)

    # A (product, region) pair is one integer: product position × n_regions + region number,
    # regions numbered in sorted order, so that sorted keys go by product, then region.
    won = products["won"].to_numpy(bool)
    pos_of = pd.Index(products["winner_id"])
    unit_codes, unit_names = pd.factorize(products["unit_id"])
    regions = products["regions"][won]
    supply_pos = np.repeat(np.flatnonzero(won), regions.map(len).to_numpy(int))
    supply_region = np.array([c for codes in regions for c in codes], dtype=object)
    region_names = np.array(sorted(set(supply_region) | set(renewal["region_code"]) | set(listed["region_code"])
                                   | set(s["region_code"].unique())), dtype=object)
    n_regions = max(len(region_names), 1)
    region_index = pd.Index(region_names)

    def keys(owner: np.ndarray, region, mask=None) -> np.ndarray:
        k = owner.astype(np.int64) * n_regions + region_index.get_indexer(region)
        return np.where((owner >= 0) if mask is None else (owner >= 0) & mask, k, -1)

    renewal_keys, renewal_rows = _latest(keys(pos_of.get_indexer(renewal["winner_id"]), renewal["region_code"]),
                                         renewal, "effective_date")
    listed_keys, listed_rows = _latest(keys(pos_of.get_indexer(listed["winner_id"]), listed["region_code"]),
                                       listed, "effective_date")
    std_region = region_index.get_indexer(s["region_code"])
    std_winner = pos_of.get_indexer(s["winner_id"].to_numpy(object)[own])
    own_keys = np.full(len(s), -1, dtype=np.int64)
    own_keys[own] = np.where(std_winner >= 0, std_winner.astype(np.int64) * n_regions + std_region[own], -1)
    own_keys[~current] = -1
    own_keys, own_rows = _latest(own_keys, s, "effective_from")
    # Unit standards are keyed by (unit, region) and reach every product of the unit.
    std_unit = unit_names.get_indexer(s["unit_id"].to_numpy(object)[~own])
    unit_keys = np.full(len(s), -1, dtype=np.int64)
    unit_keys[~own] = np.where(std_unit >= 0, std_unit.astype(np.int64) * n_regions + std_region[~own], -1)
    unit_keys[~current] = -1
    unit_keys, unit_rows = _latest(unit_keys, s, "effective_from")
    unit_of_key, region_of_key = unit_keys // n_regions, unit_keys % n_regions
    by_unit = np.argsort(unit_codes, kind="stable")
    starts = np.searchsorted(unit_codes[by_unit], unit_of_key, "left")
    counts = np.searchsorted(unit_codes[by_unit], unit_of_key, "right") - starts
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    via_unit = (by_unit[np.repeat(starts, counts) + within].astype(np.int64) * n_regions
                + np.repeat(region_of_key, counts))
    supply_keys = _unique(keys(supply_pos, supply_region))

    pairs = _unique(np.concatenate([renewal_keys, listed_keys, own_keys, via_unit, supply_keys]))
    national = region_index.get_indexer([NATIONAL])[0]
    if national >= 0:
        pairs = pairs[pairs % n_regions != national]
    if not len(pairs):
        return pd.DataFrame([], columns=COLUMNS)
    n = len(pairs)
    pos, region = pairs // n_regions, pairs % n_regions
    won_row = won[pos]
    supplies = _find(supply_keys, pairs) >= 0

    ren, lst = _find(renewal_keys, pairs), _find(listed_keys, pairs)
    use_ren = won_row & (ren >= 0)
    use_bid = won_row & ~use_ren & (supplies | (lst < 0))
    use_lst = ~use_ren & ~use_bid & (lst >= 0)
    ren, lst = renewal_rows[ren[use_ren]], listed_rows[lst[use_lst]]
    price = np.full(n, np.nan)
    price[use_ren] = renewal["unit_price"].to_numpy(float)[ren]
    price[use_lst] = listed["unit_price"].to_numpy(float)[lst]
    price[use_bid] = products["price"].to_numpy(dtype=float, na_value=np.nan)[pos[use_bid]]
    has_price = ~np.isnan(price)
    ren, lst = ren[has_price[use_ren]], lst[has_price[use_lst]]
    use_ren, use_lst, use_bid = use_ren & has_price, use_lst & has_price, use_bid & has_price

    def price_field(product_col: str | None, price_col: str) -> np.ndarray:
        out = np.full(n, np.nan, dtype=object)
        out[use_ren] = renewal[price_col].to_numpy(object)[ren]
        out[use_lst] = listed[price_col].to_numpy(object)[lst]
        out[use_bid] = "winning_bid" if product_col is None else products[product_col].to_numpy(object)[pos[use_bid]]
        return out

    # The product's own standard in the region, else its unit's.
    own_at = _find(own_keys, pairs)
    unit_at = _find(unit_keys, unit_codes[pos].astype(np.int64) * n_regions + region)
    has_std = (own_at >= 0) | (unit_at >= 0)
    std_row = np.where(own_at >= 0, np.append(own_rows, -1)[own_at], np.append(unit_rows, -1)[unit_at])[has_std]

    def std_field(col: str) -> np.ndarray:
        out = np.full(n, np.nan, dtype=object)
        out[has_std] = s[col].to_numpy(object)[std_row]
        return out

    standard = np.full(n, np.nan)
    standard[has_std] = s["amount"].to_numpy(float)[std_row]
    price_unit = price_field("price_unit", "unit_price_unit")
    standard_unit = std_field("amount_unit")
    with_diff = has_price & has_std & (price_unit == standard_unit)
    # What the patient pays on top: Python's round (exact decimal rounding); a price at
    # or below the standard rounds to ≤ 0 and counts as 0.
    diff = np.where(with_diff, 0.0, np.nan)
    above = with_diff & (price > standard)
    diff[above] = [max(0.0, round(x, 6)) for x in (price[above] - standard[above]).tolist()]
    pack = products["pack_size"].to_numpy(dtype=float, na_value=np.nan)[pos]
    with_pack = with_diff & ~np.isnan(pack)
    diff_pack = np.where(with_pack, 0.0, np.nan)
    nonzero = with_pack & (diff != 0.0)
    diff_pack[nonzero] = [round(d * int(k), 2) for d, k in zip(diff[nonzero].tolist(), pack[nonzero].tolist())]
    pack_unit = products["pack_unit"].to_numpy(object)[pos[with_pack]]
    diff_pack_unit = np.full(n, np.nan, dtype=object)
    labels: dict = {}  # one string per pack unit, shared by its rows
    diff_pack_unit[with_pack] = [labels.get(u) or labels.setdefault(u, "元/" + (u if isinstance(u, str) else "包装"))
                                 for u in pack_unit]

    # Each column typed on its own as soon as it is made (as a frame built from records
    # would type it), so that the untyped object arrays do not pile up.
    columns = {
        "winner_id": _typed(products["winner_id"].to_numpy(object)[pos]),
        "unit_id": _typed(products["unit_id"].to_numpy(object)[pos]),
        "region_code": _typed(region_names[region]),
        "supplies": _typed(supplies),
        "price": _typed(price),
        "price_unit": _typed(price_unit),
        "price_kind": _typed(price_field(None, "kind")),
        "price_date": _typed(price_field("price_date", "effective_date")),
        "price_source": _typed(price_field("price_source", "source_id")),
        "standard": _typed(standard),
        "standard_unit": _typed(standard_unit),
        "standard_id": _typed(std_field("standard_id")),
        "standard_basis": _typed(std_field("basis")),
        "standard_from": _typed(std_field("effective_from")),
        "standard_to": _typed(std_field("effective_to")),
        "standard_source": _typed(std_field("source_id")),
        "diff": _typed(diff),
        "diff_pack": _typed(diff_pack),
        "diff_pack_unit": _typed(diff_pack_unit),
    }
    return pd.DataFrame(columns, copy=False)
