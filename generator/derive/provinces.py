"""Provinces (and cities with their own rounds): which rounds are in force there
and since when, which winners supply them, which payment standards apply."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .prices import present

NATIONAL = "000000"


def supply(products: pd.DataFrame) -> pd.DataFrame:
    """One row per (winning product, region it supplies)."""
    columns = ["winner_id", "region_code", "unit_id", "batch_id", "company_id"]
    won = products[products["won"].to_numpy(bool)]
    counts = won["regions"].map(len).to_numpy(int)
    if not counts.sum():
        return pd.DataFrame([], columns=columns)
    codes = np.array([c for regions in won["regions"] for c in regions], dtype=object)
    out = {c: np.repeat(won[c].to_numpy(object), counts) for c in ("winner_id", "unit_id", "batch_id", "company_id")}
    out["region_code"] = codes
    return pd.DataFrame({c: pd.Series(out[c], copy=False).infer_objects() for c in columns}, copy=False)


def notice_status(execution_start, agreement_end, as_of: str) -> str:
    if execution_start > as_of:
        return "尚未开始"
    if present(agreement_end) and agreement_end < as_of:
        return "协议期已满"
    return "执行中" if present(agreement_end) else "已开始执行"


def notices(pkg) -> pd.DataFrame:
    """Execution notices, newest first, with their status on the data's as-of date."""
    n = pkg.tables["execution_notices"].copy()
    n["status"] = [notice_status(s, e, pkg.as_of) for s, e in zip(n["execution_start"], n["agreement_end"])]
    return n.sort_values(["published_date", "notice_id"], ascending=[False, True]).reset_index(drop=True)


def standard_in_force(effective_from, effective_to, as_of: str) -> bool:
    return effective_from <= as_of and (not present(effective_to) or effective_to >= as_of)


def provinces(pkg, supply_rows: pd.DataFrame) -> pd.DataFrame:
    """Every region (not the nation) that the data says something about, with counts."""
    t = pkg.tables
    prices = t["prices"]
    codes = (set(supply_rows["region_code"]) | set(t["execution_notices"]["region_code"])
             | set(t["payment_standards"]["region_code"]) | set(prices["region_code"])) - {NATIONAL}
    r = t["regions"][t["regions"]["region_code"].isin(codes)].copy()
    r["n_winners"] = r["region_code"].map(supply_rows.groupby("region_code").size()).fillna(0).astype(int)
    r["n_notices"] = r["region_code"].map(t["execution_notices"].groupby("region_code").size()).fillna(0).astype(int)
    r["n_standards"] = r["region_code"].map(t["payment_standards"].groupby("region_code").size()).fillna(0).astype(int)
    return r.sort_values("region_code").reset_index(drop=True)
