"""Derived tables behind the charts, built on the shared derived tables
(products, price_records, rounds, notices): one row per plotted mark.

generator/render/charts.py selects one page's rows (a round, a unit, a region)
and gives them the Chinese column names readers see in the chart, its table
and its CSV. Prices are compared only within one unit (元/片 with 元/片)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .prices import KIND_LABELS, present

REFERENCE_KINDS = ("median_pre", "max_bid")  # prices of a strength, not of a company's product
BASIS_LABELS = {"winning_price": "按中选价", "highest_winning_price": "按同组最高中选价", "other": "其他"}


def chart_tables(pkg, derived: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    products = labelled_products(pkg, derived["products"])
    return {
        "chart_rounds": rounds_with_cuts(pkg, derived["rounds"], products),
        "chart_products": products,
        "chart_price_points": price_points(pkg, derived["price_records"], products),
        "chart_payment": payment_vs_price(pkg, products),
        "chart_execution": execution(pkg, derived["notices"]),
    }


def source_labels(pkg) -> dict[str, str]:
    """source_id → '发布机构：标题 文号（日期）', as the pages' source links say it."""
    out = {}
    for s in pkg.tables["sources"].to_dict("records"):
        number = f" {s['doc_number']}" if present(s["doc_number"]) else ""
        out[s["source_id"]] = f"{s['issuer']}：{s['title']}{number}（{s['date']}）"
    return out


def product_name(p: dict) -> str:
    """What tells products of one company apart: strength or model, pack."""
    parts = [p["model"] if present(p["model"]) else p["strength"]]
    if present(p["model"]) and p["strength"] != p["model"]:
        parts.append(p["strength"])
    if present(p["pack_size"]):
        parts.append(f"{int(p['pack_size'])}{p['smallest_unit']}/{p['pack_unit'] if present(p['pack_unit']) else '包装'}")
    return " ".join(parts)


def labelled_products(pkg, products: pd.DataFrame) -> pd.DataFrame:
    """products with the names a chart shows: product, company (unique) and its type, source."""
    companies = pkg.tables["companies"].set_index("company_id")
    foreign = companies["foreign"]
    # One name per company: the short name, or the full name where two companies share it.
    name = companies["short_name"].where(~companies["short_name"].duplicated(keep=False), companies["name"])
    name = name.where(~name.duplicated(keep=False), name + "（" + name.index + "）")
    sources = source_labels(pkg)
    recs = products.to_dict("records")
    out = pd.DataFrame({
        "winner_id": products["winner_id"], "batch_id": products["batch_id"],
        "unit_id": products["unit_id"], "unit_name": products["unit_name"],
        "category": products["category"], "strength": products["strength"],
        "company_id": products["company_id"], "company": products["company_id"].map(name),
        "company_type": [{True: "外资企业", False: "内资企业"}.get(foreign[c], "未知")
                         for c in products["company_id"]],
        "product": [product_name(p) for p in recs],
        "won": products["won"].astype(bool),
        "price": products["price"], "price_unit": products["price_unit"],
        "median_pre": products["median_pre"], "cut_median": products["cut_median"],
        "source": [sources.get(p["price_source"] if present(p["price_source"]) else p["source_id"])
                   for p in recs],
    })
    return out.reset_index(drop=True)


def rounds_with_cuts(pkg, rounds: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """rounds with the number of won products that have a cut, and the source label."""
    won = products[products["won"] & products["cut_median"].notna()]
    return rounds.assign(
        n_cut=rounds["batch_id"].map(won.groupby("batch_id").size()).fillna(0).astype(int),
        source=rounds["source_id"].map(source_labels(pkg)))


def price_points(pkg, price_records: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Every price point of a unit, one row per plotted point.

    One price for several regions at one date (a renewal in three provinces)
    is one point listing the regions. Reference prices (pre-procurement median,
    maximum valid bid) belong to a strength, not a company: equal ones are one
    point without a company. Drugs are compared within a strength, consumables
    within a unit of sale: that is the panel."""
    prod = products.set_index("winner_id")
    regions = pkg.tables["regions"].set_index("region_code")["short_name"]
    batches = pkg.tables["batches"].set_index("batch_id")["name"]
    sources = source_labels(pkg)
    df = price_records.join(prod[["unit_id", "unit_name", "category", "strength", "company",
                                  "product"]], on="winner_id")
    df = df.assign(region=df["region_code"].map(regions), source=df["source_id"].map(sources),
                   round=df["batch_id"].map(batches),
                   panel=[f"{s}（{u}）" if c == "drug" else u
                          for s, u, c in zip(df["strength"], df["unit_price_unit"], df["category"])])
    reference = df["kind"].isin(REFERENCE_KINDS)
    df.loc[reference, "product"] = df.loc[reference, "unit_name"] + " " + df.loc[reference, "strength"]
    df.loc[reference, ["winner_id", "company"]] = None
    keys = ["unit_id", "panel", "kind", "unit_price", "unit_price_unit", "effective_date", "batch_id",
            "round", "source", "winner_id", "company", "product"]
    out = _aggregate(df, keys, regions=("region", lambda s: "、".join(sorted(set(s)))),
                     price_ids=("price_id", lambda s: "|".join(sorted(s))))
    out["kind_label"] = out["kind"].map(KIND_LABELS)
    out = out.astype({"winner_id": object, "company": object})
    out.loc[out["winner_id"].isna(), ["winner_id", "company"]] = None
    return out.sort_values(["unit_id", "panel", "effective_date", "kind", "unit_price", "price_ids"],
                           ignore_index=True)


def _aggregate(df: pd.DataFrame, keys: list[str], **named: tuple[str, Callable[[list], object]]
               ) -> pd.DataFrame:
    """df.groupby(keys, dropna=False, sort=False).agg(**named).reset_index() for
    aggregations that are plain functions of a group's values in row order,
    called on lists: pandas calls a Python function with a Series built per group
    (~50 µs each; minutes for the million payment standards of a national package)."""
    groups = df.groupby(keys, dropna=False, sort=False)
    out = groups.size().reset_index()[keys]  # the groups in order of first appearance, as ngroup numbers them
    codes = groups.ngroup().to_numpy()
    order = np.argsort(codes, kind="stable")  # rows of a group together, in their order
    bounds = np.searchsorted(codes[order], np.arange(len(out) + 1))
    for name, (column, fn) in named.items():
        values = df[column].to_numpy(dtype=object)[order].tolist()
        out[name] = [fn(values[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    return out


def _span(values: list) -> str | None:
    """'2019-12-01', or '2019-12-01 至 2019-12-20' when the dates differ; None if none."""
    dates = sorted(v for v in values if present(v))
    if not dates:
        return None
    return dates[0] if dates[0] == dates[-1] else f"{dates[0]} 至 {dates[-1]}"


def payment_vs_price(pkg, products: pd.DataFrame) -> pd.DataFrame:
    """Payment standards beside the winning price of their product (where the
    product won and the price has the standard's unit).

    Standards of one product with the same amount, unit and basis are one row
    (one plotted point) listing their regions: most regions set the same
    standard, and one point per region would hide all but one."""
    s = pkg.tables["payment_standards"]
    prod = products.set_index("winner_id")
    regions = pkg.tables["regions"].set_index("region_code")["short_name"]
    units = pkg.tables["units"].set_index("unit_id")["name"]
    batches = pkg.tables["batches"].set_index("batch_id")["name"]
    sources = source_labels(pkg)
    wid = s["winner_id"]
    price = wid.map(prod["price"])
    comparable = wid.map(prod["won"]).eq(True) & price.notna() & wid.map(prod["price_unit"]).eq(s["amount_unit"])
    df = pd.DataFrame({
        "unit_id": s["unit_id"], "winner_id": wid,
        "product": wid.map(prod["product"]).where(wid.notna(), s["unit_id"].map(units) + "（全品种）"),
        "company": wid.map(prod["company"]), "round": s["batch_id"].map(batches),
        "amount": s["amount"], "price_unit": s["amount_unit"], "basis": s["basis"].map(BASIS_LABELS),
        "winning_price": price.where(comparable).astype(float),
        "region_code": s["region_code"], "effective_from": s["effective_from"],
        "effective_to": s["effective_to"], "standard_id": s["standard_id"],
        "source": s["source_id"].map(sources),
    }).sort_values(["region_code", "effective_from", "standard_id"])
    keys = ["unit_id", "winner_id", "product", "company", "round", "amount", "price_unit", "basis",
            "winning_price"]
    df["region"] = df["region_code"].map(regions)
    out = _aggregate(
        df, keys,
        regions=("region", lambda c: "、".join(dict.fromkeys(c))),
        n_regions=("region_code", lambda c: len(set(c))),
        effective_from=("effective_from", _span), effective_to=("effective_to", _span),
        standard_ids=("standard_id", lambda c: "|".join(sorted(c))),
        source=("source", lambda c: "；".join(dict.fromkeys(c))),
    )
    out = out.astype({"winner_id": object, "company": object})
    out.loc[out["winner_id"].isna(), ["winner_id", "company"]] = None
    return out.sort_values(["unit_id", "price_unit", "company", "product", "amount", "basis"],
                           ignore_index=True, na_position="first")


def execution(pkg, notices: pd.DataFrame) -> pd.DataFrame:
    """Execution notices with their round's name, by region and start date."""
    batches = pkg.tables["batches"].set_index("batch_id")["name"]
    regions = pkg.tables["regions"].set_index("region_code")["short_name"]
    sources = source_labels(pkg)
    out = notices.assign(round=notices["batch_id"].map(batches), region=notices["region_code"].map(regions),
                         source=notices["source_id"].map(sources))
    return out.sort_values(["region_code", "execution_start", "batch_id", "notice_id"], ignore_index=True)
