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


def _records(df: pd.DataFrame, *columns: str) -> Iterator[tuple]:
    """(row number, value, …) per record in file order. Like iterrows but without a
    Series per row: iterrows costs ~40 µs a row, 40 s for a million payment standards."""
    return zip((_row(i) for i in df.index), *(df[c].tolist() for c in columns))


def check_supply_regions(pkg) -> Iterator[DataError]:
    """A list of region codes is a foreign key the schema cannot express."""
    codes = set(pkg.tables["regions"]["region_code"])
    for row, supply, won in _records(pkg.tables["winners"], "supply_regions", "won"):
        listed = supply.split("|") if _present(supply) else []
        for code in listed:
            if code not in codes:
                yield DataError("winners.csv", row, "supply_regions", f"供应省份代码 {code} 不在 regions.csv 中")
        if listed and not won:
            yield DataError("winners.csv", row, "supply_regions", "未中选的投标不应有供应省份")
        if len(set(listed)) != len(listed):
            yield DataError("winners.csv", row, "supply_regions", "供应省份重复")


def check_price_units(pkg) -> Iterator[DataError]:
    """Units agree with the product, and a pack price is unit price × pack size."""
    w = pkg.tables["winners"]
    winners = dict(zip(w["winner_id"].tolist(),
                       zip(w["smallest_unit"].tolist(), w["pack_size"].tolist(), w["pack_unit"].tolist())))
    for row, winner_id, unit_price, unit_price_unit, pack_price, pack_price_unit in _records(
            pkg.tables["prices"], "winner_id", "unit_price", "unit_price_unit", "pack_price", "pack_price_unit"):
        smallest_unit, pack_size, pack_unit = winners[winner_id]
        expected = f"元/{smallest_unit}"
        if unit_price_unit != expected:
            yield DataError("prices.csv", row, "unit_price_unit",
                            f"单位应为 {expected}（产品最小单位是 {smallest_unit}），实为 {unit_price_unit}")
        has_pack, has_unit = _present(pack_price), _present(pack_price_unit)
        if has_pack != has_unit:
            yield DataError("prices.csv", row, "pack_price_unit", "每包装价格与其单位必须同时填写或同时留空")
        if has_pack:
            if not _present(pack_size):
                yield DataError("prices.csv", row, "pack_price", "产品未填写包装数量，无法给出每包装价格")
                continue
            expected_pack = round(unit_price * int(pack_size), 2)
            if abs(pack_price - expected_pack) > FEN:
                yield DataError("prices.csv", row, "pack_price",
                                f"每包装价格 {pack_price} 元 ≠ 最小单位价格 {unit_price} × 包装数量 {pack_size} = {expected_pack} 元")
            if has_unit and _present(pack_unit) and pack_price_unit != f"元/{pack_unit}":
                yield DataError("prices.csv", row, "pack_price_unit", f"单位应为 元/{pack_unit}")


def check_dates(pkg) -> Iterator[DataError]:
    b = pkg.tables["batches"]
    announced_of = dict(zip(b["batch_id"].tolist(), b["announced_date"].tolist()))
    for row, start, announced in _records(b, "agreement_start", "announced_date"):
        if _present(start) and start < announced:
            yield DataError("batches.csv", row, "agreement_start", "协议期开始早于结果公布日期")
    for row, batch_id, start, end in _records(pkg.tables["execution_notices"],
                                              "batch_id", "execution_start", "agreement_end"):
        announced = announced_of[batch_id]
        if start < announced:
            yield DataError("execution_notices.csv", row, "execution_start",
                            f"执行开始日期 {start} 早于该批次结果公布日期 {announced}")
        if _present(end) and end < start:
            yield DataError("execution_notices.csv", row, "agreement_end", "协议期截止早于执行开始日期")
    for row, start, end in _records(pkg.tables["payment_standards"], "effective_from", "effective_to"):
        if _present(end) and end < start:
            yield DataError("payment_standards.csv", row, "effective_to", "截止日期早于起始日期")


def check_payment_standards(pkg) -> Iterator[DataError]:
    """A standard set at the winning price equals it (医保发〔2021〕31号, 国办发〔2021〕2号)."""
    w = pkg.tables["winners"]
    winners = dict(zip(w["winner_id"].tolist(),
                       zip(w["unit_id"].tolist(), w["smallest_unit"].tolist(), w["won"].tolist())))
    prices = pkg.tables["prices"]
    winning = (prices[prices["kind"].isin(["winning_bid", "renewal"])]
               .sort_values(["effective_date", "price_id"]).groupby("winner_id").last()["unit_price"]
               .to_dict())
    for row, winner_id, unit_id, amount, amount_unit, basis in _records(
            pkg.tables["payment_standards"], "winner_id", "unit_id", "amount", "amount_unit", "basis"):
        if not _present(winner_id):
            if basis == "winning_price":
                yield DataError("payment_standards.csv", row, "winner_id", "依据为中选价时必须指明产品 winner_id")
            continue
        w_unit, smallest_unit, won = winners[winner_id]
        if w_unit != unit_id:
            yield DataError("payment_standards.csv", row, "unit_id", f"产品 {winner_id} 属于品种 {w_unit}，不是 {unit_id}")
        expected_unit = f"元/{smallest_unit}"
        if amount_unit != expected_unit:
            yield DataError("payment_standards.csv", row, "amount_unit", f"单位应为 {expected_unit}")
        if basis == "winning_price":
            if not won or winner_id not in winning:
                yield DataError("payment_standards.csv", row, "basis", "依据为中选价，但该产品没有中选价")
            elif abs(amount - winning[winner_id]) > FEN:
                yield DataError("payment_standards.csv", row, "amount",
                                f"依据为中选价，支付标准 {amount} 应等于中选价 {winning[winner_id]}")


def check_aliases(pkg) -> Iterator[DataError]:
    """A name or alias must lead to one record, or importers cannot resolve it."""
    for table, key, names in (("regions", "region_code", ("name", "short_name")),
                              ("companies", "company_id", ("name",))):
        seen: dict[str, str] = {}
        for row, record_key, aliases, *spelled in _records(pkg.tables[table], key, "aliases", *names):
            spellings = set(spelled)
            if _present(aliases):
                spellings |= set(aliases.split("|"))
            for s in sorted(spellings):
                if s in seen and seen[s] != record_key:
                    yield DataError(f"{table}.csv", row, "aliases", f"名称“{s}”同时指向 {seen[s]} 与 {record_key}")
                seen.setdefault(s, record_key)


CHECKS: list[Callable] = [
    check_supply_regions, check_price_units,
    check_dates, check_payment_standards, check_aliases,
]


def run_checks(pkg) -> list[DataError]:
    return [e for check in CHECKS for e in check(pkg)]
