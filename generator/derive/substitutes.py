"""Substitutes: for every product, the winning products of the same competition
unit (drugs: same generic name and dosage-form group, any strength or pack;
consumables: same category/group) that a clinician can switch to."""
from __future__ import annotations

import pandas as pd

from .prices import present

COLUMNS = ["winner_id", "substitute_id", "unit_id", "same_strength"]


def substitutes(products: pd.DataFrame) -> pd.DataFrame:
    """Pairs (product, other winning product of its unit), cheapest per smallest unit first."""
    won = products[products["won"]].sort_values(["price", "winner_id"], na_position="last")
    winners_by_unit = {unit: grp.to_dict("records") for unit, grp in won.groupby("unit_id", sort=False)}
    rows = []
    for p in products.to_dict("records"):
        for s in winners_by_unit.get(p["unit_id"], []):
            if s["winner_id"] == p["winner_id"]:
                continue
            rows.append({
                "winner_id": p["winner_id"],
                "substitute_id": s["winner_id"],
                "unit_id": p["unit_id"],
                "same_strength": _same_strength(p, s),
            })
    return pd.DataFrame(rows, columns=COLUMNS)


def _same_strength(a: dict, b: dict) -> bool:
    if present(a["strength_base"]) and present(b["strength_base"]):
        return (a["strength_base_unit"] == b["strength_base_unit"]
                and abs(a["strength_base"] - b["strength_base"]) < 1e-9)
    return a["strength"] == b["strength"]
