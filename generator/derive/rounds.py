"""Rounds (batches) with their agreement period, and competition units with
what they hold across rounds."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .prices import present


def agreement_end(start, years) -> str | None:
    """Last day of an agreement period: start + years (in whole months) − 1 day."""
    if not present(start) or not present(years):
        return None
    months = round(float(years) * 12)
    end = pd.Timestamp(start) + pd.DateOffset(months=months) - pd.Timedelta(days=1)
    return end.strftime("%Y-%m-%d")


def rounds(pkg, products: pd.DataFrame) -> pd.DataFrame:
    """One row per batch: agreement period, counts, median cut and execution dates."""
    b = pkg.tables["batches"].copy()
    notices = pkg.tables["execution_notices"]
    b["agreement_end"] = [agreement_end(s, y) for s, y in zip(b["agreement_start"], b["agreement_years"])]
    by_batch = products.groupby("batch_id")
    won = products[products["won"]].groupby("batch_id")
    b["n_units"] = b["batch_id"].map(by_batch["unit_id"].nunique()).fillna(0).astype(int)
    b["n_bids"] = b["batch_id"].map(by_batch.size()).fillna(0).astype(int)
    b["n_won"] = b["batch_id"].map(won.size()).fillna(0).astype(int)
    b["n_units_won"] = b["batch_id"].map(won["unit_id"].nunique()).fillna(0).astype(int)
    b["median_cut"] = b["batch_id"].map(won["cut_median"].median())
    by_notice = notices.groupby("batch_id")
    b["n_notices"] = b["batch_id"].map(by_notice.size()).fillna(0).astype(int)
    b["first_execution"] = b["batch_id"].map(by_notice["execution_start"].min())
    b["last_execution"] = b["batch_id"].map(by_notice["execution_start"].max())
    return b.sort_values(["announced_date", "batch_id"]).reset_index(drop=True)


def units(pkg, products: pd.DataFrame) -> pd.DataFrame:
    """One row per competition unit: rounds it was bought in, bids, winners, median cut."""
    u = pkg.tables["units"].copy()
    announced = pkg.tables["batches"].set_index("batch_id")["announced_date"]
    ordered = products.assign(_announced=products["batch_id"].map(announced)).sort_values(
        ["_announced", "batch_id"])
    batches: dict[str, list[str]] = {}
    for unit, batch in ordered[["unit_id", "batch_id"]].drop_duplicates().itertuples(index=False):
        batches.setdefault(unit, []).append(batch)
    won = products[products["won"]].groupby("unit_id")
    lists = np.empty(len(u), dtype=object)  # one list per unit, never a 2-D array
    for i, unit in enumerate(u["unit_id"]):
        lists[i] = batches.get(unit, [])
    u["batches"] = lists
    u["n_bids"] = u["unit_id"].map(products.groupby("unit_id").size()).fillna(0).astype(int)
    u["n_won"] = u["unit_id"].map(won.size()).fillna(0).astype(int)
    u["n_companies_won"] = u["unit_id"].map(won["company_id"].nunique()).fillna(0).astype(int)
    u["median_cut"] = u["unit_id"].map(won["cut_median"].median())
    standards = pkg.tables["payment_standards"].groupby("unit_id").size()
    u["n_standards"] = u["unit_id"].map(standards).fillna(0).astype(int)
    return u.sort_values(["category", "name"]).reset_index(drop=True)
