"""Parsed source rows → the package's tables: batches, sources, units,
companies, winners (one per bid) and prices (max bid, median before, bid or
winning bid), every row accounted for in the ledger."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

from ..errors import DataError
from ..package import load_schema
from . import parsers
from .accounting import Ledger
from .cells import CellReader, Reject
from .mapping import Mapping
from .parsers import ParseError, Strength, decimal_text, key
from .readers import SourceRow, SourceTable
from .resolve import CompanyBook, RegionResolver, Unit, stable_id

NATIONAL = "000000"
PRICE_KINDS = {"max_bid": "max-bid", "median_pre": "median-pre", "bid": "bid", "winning_bid": "winning-bid"}
BID_FIELDS = ["batch", "unit", "strength", "company", "company_short", "foreign", "originator",
              "consistency_passed", "won", "backup_supplier", "max_bid", "median_pre", "bid",
              "supply_regions", "ref_sheet", "ref_row"]
# What must agree for two rows describing one bid to be merged.
SAME_BID = ["originator", "consistency_passed", "won", "backup_supplier", "max_bid", "median_pre",
            "bid", "supply_regions"]


@dataclass
class Bid:
    row: SourceRow
    values: dict
    notes: list[str]
    placeholders: set[str]
    unit: Unit
    strength: Strength
    source_ref: str
    winner_id: str = ""
    company_id: str = ""
    agreed_volume: Decimal | None = None
    volume_notes: list[str] = field(default_factory=list)


class Assembler:
    def __init__(self, mapping: Mapping, regions: pd.DataFrame, ledger: Ledger):
        self.mapping = mapping
        self.regions_table = regions
        self.regions = RegionResolver(regions)
        self.ledger = ledger
        self.errors: list[DataError] = []
        self.companies = CompanyBook(merge_truncated=(mapping.companies.merge_truncated
                                                      if mapping.companies else True))
        self.bids: list[Bid] = []
        self.winners: dict[str, Bid] = {}
        self.batch_dates = {b["batch_id"]: b["announced_date"] for b in mapping.batches}

    # --- results ---------------------------------------------------------
    def read_results(self, tables: list[SourceTable]) -> None:
        section = self.mapping.results
        for table in tables:
            reader = CellReader(section, table, self.regions)
            self.ledger.blank[(table.path.name, table.sheet)] += table.blank_rows
            for row in table.rows:
                self.ledger.expect(row.file, row.sheet, row.row)
                if self._skip(row):
                    continue
                try:
                    got = reader.read(row, [f for f in BID_FIELDS if f in section.fields])
                except Reject as exc:
                    self.ledger.record(row.file, row.sheet, row.row, "rejected", reason=str(exc))
                    continue
                if got is None:
                    continue
                values, notes, placeholders = got
                bid = self._bid(reader, row, values, notes, placeholders)
                if bid is not None:
                    self.bids.append(bid)
            self.errors += reader.errors

    def _skip(self, row: SourceRow) -> bool:
        if row.kind == "note":
            self.ledger.record(row.file, row.sheet, row.row, "rejected",
                               reason=f"说明行，不是投标记录：{row.text[:80]}")
            return True
        if row.kind == "header":
            self.ledger.record(row.file, row.sheet, row.row, "rejected", reason="重复的表头行")
            return True
        return False

    def _bid(self, reader: CellReader, row: SourceRow, values: dict, notes, placeholders) -> Bid | None:
        ok = True
        batch = values["batch"]
        if batch not in self.batch_dates:
            reader.error(row, "batch", f"批次“{batch}”不在映射的 batches 中")
            ok = False
        try:
            unit = self.mapping.units.unit(values["unit"])
        except ParseError as exc:
            reader.error(row, "unit", str(exc))
            return None
        if not unit.smallest_unit:
            reader.error(row, "unit", f"品种“{unit.name}”的剂型组未知，无法确定计价的最小单位："
                                      f"请在映射 units.form_groups（或 prefixes、overrides）中加入")
            ok = False
        try:
            strength = parsers.strength(values["strength"])
        except ParseError as exc:
            reader.error(row, "strength", str(exc))
            return None
        regions = values.get("supply_regions") or []
        if regions and values["won"] is False:
            reader.error(row, "supply_regions", "未中选的投标不应有供应省份")
            ok = False
        try:
            self.companies.add(values["company"], values.get("company_short"), values.get("foreign"))
        except ParseError as exc:
            reader.error(row, "company", str(exc))
            ok = False
        if not ok:
            return None
        ref_sheet = parsers.text(values.get("ref_sheet")) or row.sheet or row.file
        ref_row = parsers.text(values.get("ref_row")) or str(row.row)
        source_ref = self.mapping.results.source_ref.format(sheet=ref_sheet, row=ref_row, file=row.file)
        return Bid(row, values, notes, placeholders, unit, strength, source_ref)

    # --- companies named in a mapping table ------------------------------
    def read_company_names(self, tables: list[SourceTable]) -> None:
        section = self.mapping.companies
        pending = []
        for table in tables:
            reader = CellReader(section, table, self.regions)
            self.ledger.blank[(table.path.name, table.sheet)] += table.blank_rows
            for row in table.rows:
                self.ledger.expect(row.file, row.sheet, row.row)
                if self._skip(row):
                    continue
                got = reader.read(row, [f for f in ("name", "short_name", "foreign") if f in section.fields])
                if got is not None:
                    pending.append((row, got[0]))
            self.errors += reader.errors
        for row, values in pending:
            if not self.companies.knows(values["name"]):
                self.ledger.record(row.file, row.sheet, row.row, "rejected",
                                   reason=f"没有投标使用该企业名称：{parsers.clean_name(values['name'])}")
                continue
            company_id, notes = self.companies.add_reference(values["name"], values.get("short_name"),
                                                             values.get("foreign"))
            self.ledger.record(row.file, row.sheet, row.row, "merged", f"companies/{company_id}",
                               reason="企业名称映射：简称与是否外企", note="；".join(notes))

    # --- winners and their identity ---------------------------------------
    def settle_winners(self) -> None:
        """Company ids are known only once every spelling has been seen; then
        each bid gets its id, and rows describing one bid are merged."""
        for bid in self.bids:
            company = self.companies.company(bid.values["company"])
            bid.company_id = company.company_id
            bid.winner_id = stable_id(f"w-{bid.values['batch']}", bid.unit.unit_id,
                                      key(bid.strength.text), company.company_id)
            first = self.winners.get(bid.winner_id)
            row = bid.row
            if first is None:
                self.winners[bid.winner_id] = bid
                self.ledger.record(row.file, row.sheet, row.row, "imported", f"winners/{bid.winner_id}",
                                   note="；".join(bid.notes))
                if bid.placeholders:
                    self.ledger.counters["报价为占位值（已导入投标，未记录该价格）"] += 1
                continue
            diff = [f for f in SAME_BID if f in bid.values and bid.values[f] != first.values.get(f)]
            where = f"{first.row.where} 第 {first.row.row} 行"
            if diff:
                detail = "；".join(f"{f}: {_show(first.values.get(f))} ≠ {_show(bid.values[f])}" for f in diff)
                self.ledger.record(row.file, row.sheet, row.row, "rejected",
                                   reason=f"与已导入的同一投标冲突：{where}（批次、品种、规格、企业相同）{detail}")
            else:
                self.ledger.record(row.file, row.sheet, row.row, "merged", f"winners/{bid.winner_id}",
                                   reason=f"与 {where} 是同一投标，内容相同")

    # --- tables ----------------------------------------------------------
    def tables(self, sources: pd.DataFrame) -> dict[str, pd.DataFrame]:
        m = self.mapping
        source_id = m.results.source_id
        batches = pd.DataFrame([{**b} for b in m.batches])
        units, winners, prices = {}, [], []
        for wid, bid in self.winners.items():
            v = bid.values
            u = bid.unit
            units.setdefault(u.unit_id, {"unit_id": u.unit_id, "name": u.name, "category": m.category,
                                         "generic_name": u.generic_name, "form_group": u.form_group})
            smallest = _smallest_unit(bid.strength, u.smallest_unit)
            winners.append({
                "winner_id": wid, "batch_id": v["batch"], "unit_id": u.unit_id,
                "strength": bid.strength.text, "strength_value": decimal_text(bid.strength.value),
                "strength_unit": bid.strength.unit, "pack_size": bid.strength.pack_size,
                "smallest_unit": smallest, "pack_unit": bid.strength.pack_unit,
                "model": None, "company_id": bid.company_id, "originator": v["originator"],
                "consistency_passed": v.get("consistency_passed"), "won": v["won"],
                "supply_regions": "|".join(v.get("supply_regions") or []) or None,
                "agreed_volume": decimal_text(bid.agreed_volume),
                "agreed_volume_unit": (f"{m.volumes.unit_prefix}{smallest}"
                                       if bid.agreed_volume is not None and m.volumes else None),
                "backup_supplier": bool(v.get("backup_supplier") or False),
                "source_id": source_id, "source_ref": bid.source_ref,
            })
            kinds = [("max_bid", v.get("max_bid")), ("median_pre", v.get("median_pre")),
                     ("winning_bid" if v["won"] else "bid", v.get("bid"))]
            for kind, amount in kinds:
                if amount is None:
                    continue
                prices.append({
                    "price_id": f"p-{wid[2:]}-{PRICE_KINDS[kind]}", "winner_id": wid, "kind": kind,
                    "unit_price": decimal_text(amount), "unit_price_unit": f"元/{smallest}",
                    "pack_price": None, "pack_price_unit": None,
                    "effective_date": self.batch_dates[v["batch"]], "region_code": NATIONAL,
                    "batch_id": v["batch"], "source_id": source_id,
                })
        companies = [{"company_id": c.company_id, "name": c.name, "short_name": c.short_name,
                      "aliases": "|".join(c.aliases) or None, "foreign": c.foreign}
                     for c in self.companies.companies()]
        return {
            "sources": sources, "regions": self.regions_table,
            "companies": _frame("companies", companies), "batches": _frame("batches", batches.to_dict("records")),
            "units": _frame("units", sorted(units.values(), key=lambda r: r["unit_id"])),
            "winners": _frame("winners", winners), "prices": _frame("prices", prices),
            "payment_standards": _frame("payment_standards", []),
            "execution_notices": _frame("execution_notices", []),
        }


def _smallest_unit(strength: Strength, from_form_group: str | None) -> str | None:
    allowed = next(f for f in load_schema("winners")["fields"] if f["name"] == "smallest_unit")
    enum = allowed.get("constraints", {}).get("enum", [])
    if strength.smallest_unit and strength.smallest_unit in enum:
        return strength.smallest_unit
    return from_form_group


def _show(value) -> str:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, list):
        return "|".join(value) or "（空）"
    if value is None:
        return "（空）"
    return "是" if value is True else "否" if value is False else str(value)


def _frame(name: str, rows: list[dict]) -> pd.DataFrame:
    cols = [f["name"] for f in load_schema(name)["fields"]]
    return pd.DataFrame(rows, columns=cols).astype(object)
