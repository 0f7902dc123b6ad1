"""Derived tables: everything pages, charts and downloads show, computed once."""
from __future__ import annotations

import pandas as pd


def derive(pkg) -> dict[str, pd.DataFrame]:
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
        "patient": patient.patient_rows(pkg, products),
        "findings": rules.findings(pkg, products),
    }
    derived.update(charts.chart_tables(pkg, derived))  # chart_*: one row per plotted mark
    return derived
