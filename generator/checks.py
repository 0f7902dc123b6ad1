"""The rules Table Schema cannot say: arithmetic and rules across rows and tables.

Each check returns DataError rows shaped like Frictionless's (file, row, field,
message); `row` is the record's row number with the header as row 1."""
from __future__ import annotations

from collections.abc import Callable, Iterator

import pandas as pd

from .errors import DataError

FEN = 0.005  # half a fen: prices are compared to the fen


def _row(index: int) -> int:
    return int(index) + 2


def _present(value) -> bool:
    return value is not None and not (isinstance(value, float) and pd.isna(value)) and value is not pd.NA


def check_supply_regions(pkg) -> Iterator[DataError]:
    """A list of region codes is a foreign key the schema cannot express."""
    codes = set(pkg.tables["regions"]["region_code"])
    for i, w in pkg.tables["winners"].iterrows():
        listed = w["supply_regions"].split("|") if _present(w["supply_regions"]) else []
        for code in listed:
            if code not in codes:
                yield DataError("winners.csv", _row(i), "supply_regions", f"供应省份代码 {code} 不在 regions.csv 中")
        if listed and not w["won"]:
            yield DataError("winners.csv", _row(i), "supply_regions", "未中选的投标不应有供应省份")
        if len(set(listed)) != len(listed):
            yield DataError("winners.csv", _row(i), "supply_regions", "供应省份重复")


def check_price_units(pkg) -> Iterator[DataError]:
    """Units agree with the product, and a pack price is unit price × pack size."""
    winners = pkg.tables["winners"].set_index("winner_id")
    for i, p in pkg.tables["prices"].iterrows():
        w = winners.loc[p["winner_id"]]
        expected = f"元/{w['smallest_unit']}"
        if p["unit_price_unit"] != expected:
            yield DataError("prices.csv", _row(i), "unit_price_unit",
                            f"单位应为 {expected}（产品最小单位是 {w['smallest_unit']}），实为 {p['unit_price_unit']}")
        has_pack, has_unit = _present(p["pack_price"]), _present(p["pack_price_unit"])
        if has_pack != has_unit:
            yield DataError("prices.csv", _row(i), "pack_price_unit", "每包装价格与其单位必须同时填写或同时留空")
        if has_pack:
            if not _present(w["pack_size"]):
                yield DataError("prices.csv", _row(i), "pack_price", "产品未填写包装数量，无法给出每包装价格")
                continue
            expected_pack = round(p["unit_price"] * int(w["pack_size"]), 2)
            if abs(p["pack_price"] - expected_pack) > FEN:
                yield DataError("prices.csv", _row(i), "pack_price",
                                f"每包装价格 {p['pack_price']} 元 ≠ 最小单位价格 {p['unit_price']} × 包装数量 {w['pack_size']} = {expected_pack} 元")
            if has_unit and _present(w["pack_unit"]) and p["pack_price_unit"] != f"元/{w['pack_unit']}":
                yield DataError("prices.csv", _row(i), "pack_price_unit", f"单位应为 元/{w['pack_unit']}")


def check_bid_not_above_max(pkg) -> Iterator[DataError]:
    prices = pkg.tables["prices"]
    max_bid = prices[prices["kind"] == "max_bid"].groupby("winner_id")["unit_price"].max()
    for i, p in prices[prices["kind"].isin(["bid", "winning_bid", "renewal"])].iterrows():
        cap = max_bid.get(p["winner_id"])
        if cap is not None and p["unit_price"] > cap + 1e-9:
            yield DataError("prices.csv", _row(i), "unit_price",
                            f"{p['kind']} 价格 {p['unit_price']} 高于最高有效申报价 {cap}")


def check_dates(pkg) -> Iterator[DataError]:
    batches = pkg.tables["batches"].set_index("batch_id")
    for i, b in pkg.tables["batches"].iterrows():
        if _present(b["agreement_start"]) and b["agreement_start"] < b["announced_date"]:
            yield DataError("batches.csv", _row(i), "agreement_start", "协议期开始早于结果公布日期")
    for i, n in pkg.tables["execution_notices"].iterrows():
        announced = batches.loc[n["batch_id"], "announced_date"]
        if n["execution_start"] < announced:
            yield DataError("execution_notices.csv", _row(i), "execution_start",
                            f"执行开始日期 {n['execution_start']} 早于该批次结果公布日期 {announced}")
        if _present(n["agreement_end"]) and n["agreement_end"] < n["execution_start"]:
            yield DataError("execution_notices.csv", _row(i), "agreement_end", "协议期截止早于执行开始日期")
    for i, s in pkg.tables["payment_standards"].iterrows():
        if _present(s["effective_to"]) and s["effective_to"] < s["effective_from"]:
            yield DataError("payment_standards.csv", _row(i), "effective_to", "截止日期早于起始日期")


def check_payment_standards(pkg) -> Iterator[DataError]:
    """A standard set at the winning price equals it (医保发〔2021〕31号, 国办发〔2021〕2号)."""
    winners = pkg.tables["winners"].set_index("winner_id")
    prices = pkg.tables["prices"]
    winning = (prices[prices["kind"].isin(["winning_bid", "renewal"])]
               .sort_values(["effective_date", "price_id"]).groupby("winner_id").last())
    for i, s in pkg.tables["payment_standards"].iterrows():
        if not _present(s["winner_id"]):
            if s["basis"] == "winning_price":
                yield DataError("payment_standards.csv", _row(i), "winner_id", "依据为中选价时必须指明产品 winner_id")
            continue
        w = winners.loc[s["winner_id"]]
        if w["unit_id"] != s["unit_id"]:
            yield DataError("payment_standards.csv", _row(i), "unit_id", f"产品 {s['winner_id']} 属于品种 {w['unit_id']}，不是 {s['unit_id']}")
        expected_unit = f"元/{w['smallest_unit']}"
        if s["amount_unit"] != expected_unit:
            yield DataError("payment_standards.csv", _row(i), "amount_unit", f"单位应为 {expected_unit}")
        if s["basis"] == "winning_price":
            if not w["won"] or s["winner_id"] not in winning.index:
                yield DataError("payment_standards.csv", _row(i), "basis", "依据为中选价，但该产品没有中选价")
            elif abs(s["amount"] - winning.loc[s["winner_id"], "unit_price"]) > FEN:
                yield DataError("payment_standards.csv", _row(i), "amount",
                                f"依据为中选价，支付标准 {s['amount']} 应等于中选价 {winning.loc[s['winner_id'], 'unit_price']}")


def check_aliases(pkg) -> Iterator[DataError]:
    """A name or alias must lead to one record, or importers cannot resolve it."""
    for table, key, names in (("regions", "region_code", ("name", "short_name")),
                              ("companies", "company_id", ("name",))):
        seen: dict[str, str] = {}
        for i, r in pkg.tables[table].iterrows():
            spellings = {r[n] for n in names}
            if _present(r["aliases"]):
                spellings |= set(r["aliases"].split("|"))
            for s in sorted(spellings):
                if s in seen and seen[s] != r[key]:
                    yield DataError(f"{table}.csv", _row(i), "aliases", f"名称“{s}”同时指向 {seen[s]} 与 {r[key]}")
                seen.setdefault(s, r[key])


CHECKS: list[Callable] = [
    check_supply_regions, check_price_units, check_bid_not_above_max,
    check_dates, check_payment_standards, check_aliases,
]


def run_checks(pkg) -> list[DataError]:
    return [e for check in CHECKS for e in check(pkg)]
