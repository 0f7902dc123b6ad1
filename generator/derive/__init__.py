"""Derived tables: everything pages, charts and downloads show, computed once."""
from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from ..parallel import Background


class Derived(dict):
    """The derived tables by name. Those given as `later` are made when first
    read: the patient table (~120 MB at national) is not read by the charts
    stage, so it is made after it, while the browser that draws the charts
    (~1 GB) is gone."""

    def __init__(self, tables: dict[str, pd.DataFrame], later: dict[str, Callable[[], pd.DataFrame]]):
        super().__init__(tables)
        self._later = later

    def __missing__(self, name: str) -> pd.DataFrame:
        if name not in self._later:
            raise KeyError(name)
        table = self[name] = self._later.pop(name)()
        return table


def derive(pkg) -> Derived:
    from . import charts, patient, prices, provinces, rounds, rules, substitutes
    from .summary import headline

    products = prices.products(pkg)
    supply = provinces.supply(products)
    derived = {
        "headline": headline(pkg, products),
        "products": products,                      # one row per bid result, with price and cuts
        "price_records": prices.price_records(pkg),  # every price point, labelled
        "rounds": rounds.rounds(pkg, products),
        "units": rounds.units(pkg, products),
        "substitutes": substitutes.substitutes(products),
        "supply": supply,                          # (winning product, region it supplies)
        "notices": provinces.notices(pkg),
        "provinces": provinces.provinces(pkg, supply),
    }
    # The rule checks and the chart tables take about as long and need only the
    # tables above: the checks run on the other CPU meanwhile.
    findings = Background(rules.findings, pkg, products)
    tables = charts.chart_tables(pkg, derived)  # chart_*: one row per plotted mark
    derived["findings"] = findings.result()
    derived.update(tables)
    return Derived(derived, later={"patient": lambda: patient.patient_rows(pkg, products)})
