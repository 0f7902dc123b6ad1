"""Headline figures for the home page."""
from __future__ import annotations

import pandas as pd


def headline(pkg, products: pd.DataFrame | None = None) -> pd.DataFrame:
    """Counts, and the median cut of winning prices against the pre-procurement
    median (over the winners for which both prices exist)."""
    from .prices import products as all_products

    if products is None:
        products = all_products(pkg)
    w = pkg.tables["winners"]
    won = w[w["won"]]
    cuts = products.loc[products["won"], "cut_median"].dropna()
    return pd.DataFrame([
        {"figure": "rounds", "label": "采购批次", "value": len(pkg.tables["batches"]), "basis": None},
        {"figure": "units", "label": "竞争单元（品种）", "value": int(w["unit_id"].nunique()), "basis": None},
        {"figure": "winning_products", "label": "中选产品", "value": len(won), "basis": None},
        {"figure": "notices", "label": "执行通知", "value": len(pkg.tables["execution_notices"]), "basis": None},
        {"figure": "median_cut", "label": "中选价较集采前中位价降幅（中位数）",
         "value": float(cuts.median()) if len(cuts) else None, "basis": len(cuts)},
    ], dtype=object)
