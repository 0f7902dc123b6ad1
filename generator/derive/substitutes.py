"""Substitutes: for every product, the winning products of the same competition
unit (drugs: same generic name and dosage-form group, any strength or pack;
consumables: same category/group) that a clinician can switch to."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .prices import present

COLUMNS = ["winner_id", "substitute_id", "unit_id", "same_strength"]


def substitutes(products: pd.DataFrame) -> pd.DataFrame:
    """Pairs (product, other winning product of its unit), cheapest per smallest unit first."""
    won = products[products["won"].to_numpy(bool)].sort_values(["price", "winner_id"], na_position="last")
    # Every product with every winner of its unit: product order, then the winners' order.
    unit_codes, unit_names = pd.factorize(products["unit_id"])
    won_unit = unit_names.get_indexer(won["unit_id"])
    by_unit = np.argsort(won_unit, kind="stable")  # winners grouped by unit, cheapest first
    sorted_units = won_unit[by_unit]
    starts = np.searchsorted(sorted_units, unit_codes, "left")
    counts = np.searchsorted(sorted_units, unit_codes, "right") - starts
    left = np.repeat(np.arange(len(products)), counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    right = products.index.get_indexer(won.index)[by_unit[np.repeat(starts, counts) + within]]
    ids = products["winner_id"].to_numpy(object)
    other = ids[left] != ids[right]
    left, right = left[other], right[other]
    if not len(left):
        return pd.DataFrame([], columns=COLUMNS)
    return pd.DataFrame({
        "winner_id": ids[left],
        "substitute_id": ids[right],
        "unit_id": products["unit_id"].to_numpy(object)[left],
        "same_strength": same_strength(products, left, right),
    }).infer_objects()


def same_strength(products: pd.DataFrame, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """_same_strength of the products at positions a and b, pair by pair."""
    amount = products["strength_base"].to_numpy(dtype=float, na_value=np.nan)
    unit = products["strength_base_unit"].to_numpy(object)
    strength = products["strength"].to_numpy(object)
    both = ~np.isnan(amount[a]) & ~np.isnan(amount[b])
    out = strength[a] == strength[b]
    out[both] = (unit[a[both]] == unit[b[both]]) & (np.abs(amount[a[both]] - amount[b[both]]) < 1e-9)
    return out.astype(bool)


def _same_strength(a: dict, b: dict) -> bool:
    if present(a["strength_base"]) and present(b["strength_base"]):
        return (a["strength_base_unit"] == b["strength_base_unit"]
                and abs(a["strength_base"] - b["strength_base"]) < 1e-9)
    return a["strength"] == b["strength"]
