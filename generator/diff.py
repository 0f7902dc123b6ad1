"""What changed between two data packages: rows added, removed and changed per
dataset (matched by primary key), prices that moved (old, new, percentage),
new rounds and new execution notices.

diff_packages() is pure (two Packages in, a DiffReport out); to_markdown()
renders a report for a terminal, a pull request's job summary or a commit
message. The site's changelog page renders the same report with its own
template. open_package() loads either side of a comparison, tolerating an old
package that no longer fits today's schemas."""
from __future__ import annotations

import html
import json
import math
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pandas as pd

from . import versions
from .errors import DataError, InvalidPackage
from .package import DESCRIPTOR, RESOURCES, TRUE, Package, load, load_schema

DATASET_LABELS = {
    "sources": "来源文件", "regions": "地区", "companies": "企业", "batches": "采购批次",
    "units": "竞争单元", "winners": "投标与中选结果", "prices": "价格",
    "payment_standards": "医保支付标准", "execution_notices": "执行通知",
}
PRICE_KIND_LABELS = {
    "median_pre": "集采前中位价", "max_bid": "最高有效申报价", "bid": "申报价",
    "winning_bid": "中选价", "renewal": "接续价", "listed": "挂网价",
}
PRICE_FIELDS = {  # table → (value field, unit field, what the value is)
    "prices": [("unit_price", "unit_price_unit", "最小单位价格"),
               ("pack_price", "pack_price_unit", "每包装价格")],
    "payment_standards": [("amount", "amount_unit", "医保支付标准")],
}
# The columns that identify a row to a reader, shown for added and removed rows.
SUMMARY_FIELDS = {
    "sources": ["title", "date"],
    "regions": ["name", "level"],
    "companies": ["name"],
    "batches": ["name", "announced_date"],
    "units": ["name"],
    "winners": ["batch_id", "unit_id", "strength", "company_id", "won"],
    "prices": ["winner_id", "kind", "unit_price", "unit_price_unit", "effective_date"],
    "payment_standards": ["region_code", "unit_id", "amount", "amount_unit", "effective_from"],
    "execution_notices": ["region_code", "batch_id", "doc_number", "title", "published_date"],
}
ROUND_FIELDS = ["batch_id", "name", "level", "category", "announced_date"]
NOTICE_FIELDS = ["notice_id", "issuer", "doc_number", "title", "published_date", "execution_start"]


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: object
    new: object


@dataclass(frozen=True)
class RowChange:
    key: str
    changes: tuple[FieldChange, ...]


@dataclass
class TableDiff:
    name: str
    key_fields: list[str]
    added: list[dict] = field(default_factory=list)     # rows of the new package
    removed: list[dict] = field(default_factory=list)   # rows of the old package
    changed: list[RowChange] = field(default_factory=list)

    @property
    def label(self) -> str:
        return DATASET_LABELS.get(self.name, self.name)

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def key(self, row: dict) -> str:
        return _key(row, self.key_fields)


@dataclass(frozen=True)
class PriceMove:
    table: str       # prices or payment_standards
    key: str         # price_id or standard_id
    field: str       # unit_price, pack_price or amount
    what: str        # 中选价 · 最小单位价格
    context: str     # which product, company, round or region
    old: float
    new: float
    old_unit: str | None
    new_unit: str | None

    @property
    def pct(self) -> Decimal | None:
        """Change in percent, exact to 0.01; None when there is no base or the unit changed."""
        if self.old == 0 or self.old_unit != self.new_unit:
            return None
        old, new = Decimal(repr(self.old)), Decimal(repr(self.new))
        return ((new - old) / old * 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class DiffReport:
    old_version: str
    old_as_of: str
    new_version: str
    new_as_of: str
    tables: dict[str, TableDiff]
    price_moves: list[PriceMove]
    notes: list[str] = field(default_factory=list)  # caveats, e.g. an old package read without validation

    @property
    def any(self) -> bool:
        return any(t.any for t in self.tables.values())

    @property
    def new_rounds(self) -> list[dict]:
        return self.tables["batches"].added

    @property
    def new_notices(self) -> list[dict]:
        return self.tables["execution_notices"].added


# ---------------------------------------------------------------- comparing

def _norm(value):
    """One representation per value, so equal data compares equal whatever its dtype."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _records(frame: pd.DataFrame) -> list[dict]:
    return [{k: _norm(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _key(row: dict, fields: list[str]) -> str:
    return "+".join("" if row.get(f) is None else str(row.get(f)) for f in fields)


def diff_tables(name: str, old: pd.DataFrame, new: pd.DataFrame) -> TableDiff:
    schema = load_schema(name)
    key_fields = schema["primaryKey"]
    if isinstance(key_fields, str):
        key_fields = [key_fields]
    columns = [f["name"] for f in schema["fields"]]
    old_rows = {_key(r, key_fields): r for r in _records(old)}
    new_rows = {_key(r, key_fields): r for r in _records(new)}
    diff = TableDiff(name, key_fields)
    diff.added = [new_rows[k] for k in sorted(new_rows.keys() - old_rows.keys())]
    diff.removed = [old_rows[k] for k in sorted(old_rows.keys() - new_rows.keys())]
    for k in sorted(old_rows.keys() & new_rows.keys()):
        o, n = old_rows[k], new_rows[k]
        changes = tuple(FieldChange(c, o.get(c), n.get(c)) for c in columns if o.get(c) != n.get(c))
        if changes:
            diff.changed.append(RowChange(k, changes))
    return diff


def diff_packages(old: Package, new: Package) -> DiffReport:
    """Every difference between two packages, dataset by dataset."""
    tables = {name: diff_tables(name, old.tables[name], new.tables[name]) for name in RESOURCES}
    describe = _Describer(new, old)
    moves = []
    for name, specs in PRICE_FIELDS.items():
        rows = {tables[name].key(r): r for r in _records(new.tables[name])}
        for change in tables[name].changed:
            by_field = {c.field: c for c in change.changes}
            row = rows[change.key]
            for value_field, unit_field, what in specs:
                c = by_field.get(value_field)
                unit_change = by_field.get(unit_field)
                if c is None and unit_change is None:
                    continue
                old_value = c.old if c else row[value_field]
                new_value = c.new if c else row[value_field]
                if old_value is None or new_value is None:
                    continue  # a price that appeared or vanished: listed under the row changes
                old_unit = unit_change.old if unit_change else row[unit_field]
                kind = PRICE_KIND_LABELS.get(row.get("kind"), row.get("kind")) if name == "prices" else None
                moves.append(PriceMove(
                    name, change.key, value_field, " · ".join(x for x in (kind, what) if x),
                    describe(name, row), old_value, new_value, old_unit, row[unit_field]))
    return DiffReport(old.meta.get("version", ""), old.meta.get("as_of", ""),
                      new.meta.get("version", ""), new.meta.get("as_of", ""), tables, moves)


class _Describer:
    """Readable context for a price row: round, unit, strength, company (or region)."""

    def __init__(self, *packages: Package):
        self.names: dict[str, dict[str, str]] = {}
        self.winners: dict[str, dict] = {}
        for pkg in reversed(packages):  # the first package wins
            for table, key, col in (("units", "unit_id", "name"), ("companies", "company_id", "short_name"),
                                    ("batches", "batch_id", "name"), ("regions", "region_code", "short_name")):
                frame = pkg.tables[table]
                if key in frame and col in frame:
                    self.names.setdefault(table, {}).update(zip(frame[key], frame[col]))
            w = pkg.tables["winners"]
            if "winner_id" in w:
                self.winners.update({r["winner_id"]: r for r in _records(w)})

    def _name(self, table: str, key) -> str:
        value = self.names.get(table, {}).get(key)
        return str(value) if value not in (None, "") else str(key or "")

    def __call__(self, table: str, row: dict) -> str:
        if table == "prices":
            w = self.winners.get(row.get("winner_id"), {})
            parts = [self._name("units", w.get("unit_id")), w.get("strength") or "",
                     self._name("companies", w.get("company_id")), self._name("batches", w.get("batch_id"))]
        else:
            parts = [self._name("regions", row.get("region_code")), self._name("units", row.get("unit_id"))]
        return " · ".join(p for p in parts if p)


# ---------------------------------------------------------------- loading

def empty_package(path: Path | str) -> Package:
    """A package with every table and no rows: the old side of a first import."""
    tables = {name: pd.DataFrame({f["name"]: pd.Series(dtype=object) for f in load_schema(name)["fields"]})
              for name in RESOURCES}
    return Package(Path(path), {"version": "", "as_of": ""}, tables)


def open_package(data_dir: Path | str, strict: bool = True) -> tuple[Package, list[DataError]]:
    """A package and the validation errors it has.

    strict: an invalid package raises InvalidPackage. Otherwise (for the old
    side of a comparison, which may predate today's schemas) an invalid package
    is read as it is, columns typed where every value parses, and its errors
    are returned beside it. A folder without a descriptor is an empty package."""
    data_dir = Path(data_dir)
    try:
        return load(data_dir), []
    except InvalidPackage as exc:
        if strict:
            raise
        errors = exc.errors
    if not (data_dir / DESCRIPTOR).is_file():
        return empty_package(data_dir), errors
    return _read_unvalidated(data_dir), errors


def _read_unvalidated(data_dir: Path) -> Package:
    try:
        meta = json.loads((data_dir / DESCRIPTOR).read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        meta = {}
    meta = meta if isinstance(meta, dict) else {}
    meta = {**meta, "version": str(meta.get("version", "")), "as_of": str(meta.get("as_of", ""))}
    pkg = empty_package(data_dir)
    pkg.meta = meta
    for name in RESOURCES:
        path = data_dir / f"{name}.csv"
        try:
            raw = pd.read_csv(path, dtype=object, keep_default_na=False, encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError):
            continue
        frame = {}
        for fdesc in load_schema(name)["fields"]:
            col = fdesc["name"]
            values = [None if v == "" else v for v in raw[col]] if col in raw else [None] * len(raw)
            frame[col] = _typed(values, fdesc["type"])
        pkg.tables[name] = pd.DataFrame(frame, index=range(len(raw)))
    return pkg


def _typed(values: list, kind: str) -> pd.Series:
    """Typed like package._read_table when every value parses, else left as text."""
    try:
        if kind == "number":
            return pd.Series([float("nan") if v is None else float(v) for v in values], dtype=float)
        if kind == "integer":
            return pd.Series(pd.array([None if v is None else int(v) for v in values], dtype="Int64"))
        if kind == "boolean":
            return pd.Series([None if v is None else v.strip().lower() in TRUE for v in values], dtype=object)
    except ValueError:
        pass
    return pd.Series(values, dtype=object)


# ---------------------------------------------------------------- Markdown

_MD_SPECIAL = re.compile(r"([\\`*\[\]|~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z]))")


def md(value) -> str:
    """A value as literal text inside a Markdown table cell."""
    text = show(value)
    text = html.escape(text, quote=False)
    text = _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text)
    return text.replace("\r\n", "\n").replace("\n", "<br>")


def show(value) -> str:
    """A data value as a reader should see it: numbers exactly as stored, no float noise."""
    if value is None:
        return "（空）"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return np.format_float_positional(value, trim="-")
    return str(value)


def show_price(value: float, unit: str | None) -> str:
    """A price with at least two decimals (fen) and every decimal it has."""
    text = show(value)
    decimals = len(text.partition(".")[2])
    if decimals < 2:
        text = np.format_float_positional(value, precision=2, unique=False)
    return f"{text} {unit}" if unit else text


def show_pct(pct: Decimal | None) -> str:
    if pct is None:
        return "—"
    return f"+{pct}%" if pct > 0 else f"{pct}%"


def markdown_table(headers: list[str], rows: list[list[str]], align: str = "") -> str:
    """A GitHub-flavoured Markdown table; cells must already be escaped (md())."""
    align = align or "l" * len(headers)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def errors_markdown(errors: list[DataError], limit: int = 200) -> str:
    """Validation errors as a Markdown table: file, row, field, message."""
    rows = [[md(e.file), "" if e.row is None else str(e.row), md(e.field or ""), md(e.message)]
            for e in errors[:limit]]
    text = markdown_table(["文件", "行", "字段", "问题"], rows, "lrll")
    if len(errors) > limit:
        text += f"\n\n……另有 {len(errors) - limit} 个错误未列出。"
    return text


def _more(total: int, limit: int) -> str:
    return f"\n\n……另有 {total - limit} 行未列出。" if total > limit else ""


def _version(version: str, as_of: str, label: str = "") -> str:
    parts = [f"截至 {as_of}"] if version and as_of else []
    parts += [label] if label else []
    name = version or "无数据包"
    return f"{name}（{'，'.join(parts)}）" if parts else name


def to_markdown(report: DiffReport, old_label: str = "", new_label: str = "", limit: int = 100) -> str:
    """The report as Markdown; each listing shows at most `limit` rows and says how many it left out."""
    old_name = _version(report.old_version, report.old_as_of, old_label)
    new_name = _version(report.new_version, report.new_as_of, new_label)
    out = [f"## 数据变更：{md(old_name)} → {md(new_name)}"]
    out += [f"> {md(note)}" for note in report.notes]
    if not report.any:
        out.append("两个数据包的数据完全相同。")
        return "\n\n".join(out) + "\n"

    rows = [[md(f"{t.name}.csv"), md(t.label), str(len(t.added)), str(len(t.removed)), str(len(t.changed))]
            for t in report.tables.values() if t.any]
    out.append(markdown_table(["数据表", "内容", "新增", "删除", "修改"], rows, "llrrr"))
    unchanged = [f"{t.name}.csv" for t in report.tables.values() if not t.any]
    if unchanged:
        out.append("无变化：" + "、".join(md(n) for n in unchanged))

    if report.price_moves:
        out.append(f"### 价格变动（{len(report.price_moves)}）")
        rows = [[md(m.key), md(m.context), md(m.what), md(show_price(m.old, m.old_unit)),
                 md(show_price(m.new, m.new_unit)), md(show_pct(m.pct))] for m in report.price_moves[:limit]]
        out.append(markdown_table(["编号", "产品或地区", "价格", "原值", "新值", "变动"], rows, "lllrrr")
                   + _more(len(report.price_moves), limit))
    for title, found, fields in (("新增采购批次", report.new_rounds, ROUND_FIELDS),
                                 ("新增执行通知", report.new_notices, NOTICE_FIELDS)):
        if found:
            out.append(f"### {title}（{len(found)}）")
            rows = [[md(r.get(f)) for f in fields] for r in found[:limit]]
            out.append(markdown_table(fields, rows) + _more(len(found), limit))

    for t in report.tables.values():
        if not t.any:
            continue
        out.append(f"### {md(t.name)}.csv（{md(t.label)}）")
        cols = t.key_fields + [c for c in SUMMARY_FIELDS.get(t.name, []) if c not in t.key_fields]
        for what, rows_ in (("新增", t.added), ("删除", t.removed)):
            if rows_:
                body = [[md(r.get(c)) for c in cols] for r in rows_[:limit]]
                out.append(f"**{what} {len(rows_)} 行**\n\n" + markdown_table(cols, body)
                           + _more(len(rows_), limit))
        if t.changed:
            body = [[md(ch.key), md(c.field), md(c.old), md(c.new)]
                    for ch in t.changed[:limit] for c in ch.changes]
            out.append(f"**修改 {len(t.changed)} 行**\n\n" + markdown_table(["主键", "字段", "原值", "新值"], body)
                       + _more(len(t.changed), limit))
    return "\n\n".join(out) + "\n"



# ---------------------------------------------------------------- command line

def resolve_side(arg: str, data_dir: Path, dest: Path) -> Path:
    """A folder as it is; a git revision of the repository holding data_dir,
    with data_dir as it was at that revision written into dest."""
    path = Path(arg)
    if path.is_dir():
        return path
    try:
        subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{arg}^{{commit}}"], cwd=data_dir,
                       capture_output=True, check=True)
    except (subprocess.CalledProcessError, FileNotFoundError, NotADirectoryError):
        raise ValueError(f"“{arg}”既不是数据包目录，也不是 {data_dir} 所在 git 仓库中的版本") from None
    try:
        versions.checkout(data_dir, arg, dest)
    except subprocess.CalledProcessError:
        dest.mkdir(parents=True, exist_ok=True)  # no data package at that revision
    return dest


def run(old_arg: str, new_arg: str, data_dir: Path, limit: int = 100) -> int:
    """`python -m generator diff OLD NEW`: the report as Markdown on stdout.

    Exit 0 with a report; 1 when NEW is invalid (its errors as a Markdown
    table); 2 when an argument is neither a folder nor a revision. An invalid
    OLD is compared as it is, with a note: it may predate today's schemas."""
    with tempfile.TemporaryDirectory(prefix="vbp-diff-") as tmp:
        try:
            old_dir = resolve_side(old_arg, data_dir, Path(tmp) / "old")
            new_dir = resolve_side(new_arg, data_dir, Path(tmp) / "new")
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 2
        try:
            new, _ = open_package(new_dir)
        except InvalidPackage as exc:
            print(f"### 数据校验失败：{md(new_arg)}（{len(exc.errors)} 个错误）\n\n{errors_markdown(exc.errors)}")
            print(f"\n无法比较：新数据包 {new_arg} 无效（{len(exc.errors)} 个错误）", file=sys.stderr)
            return 1
        old, old_errors = open_package(old_dir, strict=False)
        report = diff_packages(old, new)
        if old_errors:
            report.notes.append(old_note(old_arg, old_dir, old_errors))
    print(to_markdown(report, old_arg, new_arg, limit=limit), end="")
    return 0


def old_note(label: str, old_dir: Path, errors: list[DataError]) -> str:
    if not (old_dir / DESCRIPTOR).is_file():
        return f"{label} 中没有数据包：所有行都按新增计。"
    return (f"{label} 的数据包按当前表结构与规则校验有 {len(errors)} 个错误（可能早于表结构的修改），"
            f"已按文件原样读取比较。")
