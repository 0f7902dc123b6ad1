"""Derived tables: everything pages, charts and downloads show, computed once."""
from __future__ import annotations

import pandas as pd


def derive(pkg) -> dict[str, pd.DataFrame]:
    from .summary import headline

    return {"headline": headline(pkg)}
