"""Join first-year agreed volumes by province to the winners: a winner's
agreed volume is the sum, over the provinces it supplies, of the volume agreed
for its (batch, competition unit, strength).

Strengths are compared by value (`0.25g` = `250mg`, `2ml:0.2mg` = `0.2mg/2ml`);
the mapping may alias unit names and strength spellings the parser cannot
equate. Every volume row is merged into the winner it counts for, or rejected
with the reason it counts for none."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from ..errors import DataError
from .accounting import Ledger
from .assemble import Assembler
from .cells import CellReader, Reject
from .parsers import decimal_text, key, strength_key
from .readers import SourceRow, SourceTable


def join_volumes(asm: Assembler, tables: list[SourceTable], ledger: Ledger) -> list[DataError]:
    section = asm.mapping.volumes
    errors: list[DataError] = []
    index: dict[tuple, tuple[Decimal, SourceRow]] = {}
    for table in tables:
        reader = CellReader(section, table, asm.regions)
        ledger.blank[(table.path.name, table.sheet)] += table.blank_rows
        for row in table.rows:
            ledger.expect(row.file, row.sheet, row.row)
            if row.kind != "data":
                reason = "重复的表头行" if row.kind == "header" else f"说明行：{row.text[:80]}"
                ledger.record(row.file, row.sheet, row.row, "rejected", reason=reason)
                continue
            try:
                batch = reader.get(row, "batch").value
                got = reader.read(row, ["unit", "strength", "region"])
            except Reject as exc:
                ledger.record(row.file, row.sheet, row.row, "rejected", reason=str(exc))
                continue
            if got is None:
                continue
            values = got[0]
            try:
                volume = reader.get(row, "volume").value
            except Exception as exc:  # ParseError: an unreadable number is an error
                reader.error(row, "volume", str(exc))
                continue
            try:
                region, _ = asm.regions.resolve(values["region"])
            except Exception as exc:
                reader.error(row, "region", str(exc))
                continue
            if volume is None:
                ledger.record(row.file, row.sheet, row.row, "rejected", reason="约定采购量为空")
                continue
            unit = section.unit_aliases.get(key(values["unit"]), values["unit"])
            k = (batch, key(unit), strength_key(values["strength"], section.strength_aliases), region)
            if k in index:
                first_value, first = index[k]
                same = "值相同" if first_value == volume else f"值 {decimal_text(first_value)} 与 {decimal_text(volume)} 不同"
                ledger.record(row.file, row.sheet, row.row, "rejected",
                              reason=f"重复的约定量行：与第 {first.row} 行的批次、地区、品种、规格相同（{same}），保留第 {first.row} 行")
                continue
            index[k] = (volume, row)
        errors += reader.errors
    if errors:
        return errors

    used: dict[tuple, str] = {}
    for wid, bid in asm.winners.items():
        regions = bid.values.get("supply_regions") or []
        if not regions:
            continue
        base = (bid.values["batch"], key(bid.unit.name), strength_key(bid.strength.text, section.strength_aliases))
        found, missing = [], []
        for code in regions:
            hit = index.get((*base, code))
            if hit is None:
                missing.append(code)
            else:
                found.append(hit[0])
                used[(*base, code)] = wid
        if found:
            bid.agreed_volume = sum(found, Decimal(0))
            if missing:
                note = f"约定采购量缺少 {len(missing)} 个供应省份（{'、'.join(missing)}），合计只含其余省份"
                ledger.add_note(bid.row.file, bid.row.sheet, bid.row.row, note)
                ledger.counters["约定采购量只覆盖部分供应省份的中选产品"] += 1
        else:
            ledger.counters["无约定采购量可关联的中选产品"] += 1

    won_units = defaultdict(set)     # (batch, unit) → strengths won, as written
    won_strengths = set()            # (batch, unit, strength key)
    bid_units = set()
    suppliers = defaultdict(set)     # (batch, unit, region) → strengths that supply it
    for bid in asm.winners.values():
        unit_key = (bid.values["batch"], key(bid.unit.name))
        for code in bid.values.get("supply_regions") or []:
            suppliers[(*unit_key, code)].add(bid.strength.text)
        bid_units.add(unit_key)
        if bid.values["won"]:
            won_units[unit_key].add(bid.strength.text)
            won_strengths.add((*unit_key, strength_key(bid.strength.text, section.strength_aliases)))
    for k, (volume, row) in index.items():
        wid = used.get(k)
        if wid:
            ledger.record(row.file, row.sheet, row.row, "merged", f"winners/{wid}",
                          reason="首年约定采购量计入该中选产品的 agreed_volume")
        elif k[:2] not in bid_units:
            reason = f"该批次没有此品种的投标：{row.cells.get('unit')}"
        elif k[:2] not in won_units:
            reason = f"该品种没有中选产品：{row.cells.get('unit')}"
        elif k[:3] not in won_strengths:
            reason = (f"该品种没有此规格的中选产品：{row.cells.get('strength')}"
                      f"（中选规格：{'、'.join(sorted(won_units[k[:2]]))}）")
        else:
            others = "、".join(sorted(suppliers.get((*k[:2], k[3]), ()))) or "无"
            reason = (f"此规格的中选产品都不供应该省：{row.cells.get('region')} {row.cells.get('strength')}"
                      f"（该省此品种由 {others} 规格的中选产品供应）")
        if not wid:
            ledger.record(row.file, row.sheet, row.row, "rejected", reason=reason)
    return []
