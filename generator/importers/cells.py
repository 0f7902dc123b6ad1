"""One field of one source row → a value, as the mapping's FieldSpec says:
constant or column, value labels, the parser, placeholder values."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import DataError
from . import parsers
from .mapping import FieldSpec, Section
from .parsers import ParseError, key
from .readers import FormulaValue, SourceRow, SourceTable, Uncached
from .resolve import RegionResolver


class Reject(Exception):
    """The row is deliberately not imported (e.g. a batch the mapping leaves out)."""


@dataclass
class Value:
    value: object
    note: str = ""
    placeholder: bool = False


class CellReader:
    def __init__(self, section: Section, table: SourceTable, regions: RegionResolver):
        self.section = section
        self.table = table
        self.regions = regions
        self.errors: list[DataError] = []

    def column(self, fname: str) -> str:
        return self.table.columns.get(fname) or fname

    def error(self, row: SourceRow, fname: str | None, message: str) -> None:
        self.errors.append(DataError(row.where, row.row, self.column(fname) if fname else None, message))

    def get(self, row: SourceRow, fname: str) -> Value:
        """The parsed value, or Value(None) when the field is absent or unknown.
        Raises ParseError (the caller records it) or Reject."""
        spec: FieldSpec | None = self.section.fields.get(fname)
        if spec is None:
            return Value(None)
        raw = row.cells.get(fname)
        formula_note = ""
        if isinstance(raw, Uncached):
            raise ParseError(f"公式 {raw} 没有保存计算结果：请在 Excel 中打开并保存该文件，或把公式改为数值")
        if isinstance(raw, FormulaValue):
            formula_note = f"{self.column(fname)} 按公式 {raw.formula} 计算（工作簿未保存计算结果）"
        if spec.labels is not None and not parsers.is_missing(raw, frozenset({""})):
            k = key(raw)
            if k in spec.labels:
                mapped = spec.labels[k]
                if mapped is None:
                    raise Reject(f"{self.column(fname)}“{parsers.text(raw)}”不在本数据包中（映射 labels 为 null）")
                raw = mapped
            elif spec.unmapped == "reject":
                raise Reject(f"{self.column(fname)}“{parsers.text(raw)}”未列入映射 labels")
            else:
                known = "、".join(str(v) for v in spec.labels)
                raise ParseError(f"“{parsers.text(raw)}”未列入映射的 labels（已列：{known}）")
        missing = self.section.missing
        if spec.parse == "text":
            return Value(parsers.missing(raw, missing))
        if spec.parse == "yes_no":
            return Value(parsers.yes_no(raw))
        if spec.parse in ("price", "number"):
            value = parsers.price(raw, missing) if spec.parse == "price" else parsers.number(raw, missing)
            if value is not None and value in spec.placeholders:
                return Value(None, f"{self.column(fname)} {parsers.decimal_text(value)} 是占位值（无有效报价），未记录该价格",
                             placeholder=True)
            return Value(value, formula_note)
        if spec.parse == "region_list":
            codes, notes = self.regions.region_list(raw)
            return Value(codes, "；".join(notes))
        raise ParseError(f"未知解析器 {spec.parse}")  # pragma: no cover - the mapping loader checks

    def read(self, row: SourceRow, fnames) -> tuple[dict[str, object], list[str], set[str]] | None:
        """All fields of a row: (values, notes, fields holding a placeholder);
        None (with errors recorded) when a cell cannot be read. Reject propagates."""
        values, notes, placeholders, ok = {}, [], set(), True
        for fname in fnames:
            try:
                v = self.get(row, fname)
            except ParseError as exc:
                self.error(row, fname, str(exc))
                ok = False
                continue
            spec = self.section.fields.get(fname)
            if spec is not None and spec.required and v.value in (None, []):
                self.error(row, fname, "必填字段为空")
                ok = False
            values[fname] = v.value
            if v.note:
                notes.append(v.note)
            if v.placeholder:
                placeholders.add(fname)
        return (values, notes, placeholders) if ok else None
