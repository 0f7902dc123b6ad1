"""Headline figures for the home page."""
from __future__ import annotations

import pandas as pd


def headline(pkg) -> pd.DataFrame:
    w = pkg.tables["winners"]
    won = w[w["won"]]
    return pd.DataFrame([
        {"figure": "rounds", "label": "采购批次", "value": len(pkg.tables["batches"])},
        {"figure": "units", "label": "竞争单元（品种）", "value": int(w["unit_id"].nunique())},
        {"figure": "winning_products", "label": "中选产品", "value": len(won)},
        {"figure": "notices", "label": "执行通知", "value": len(pkg.tables["execution_notices"])},
    ])
