"""Load and validate a data package: Frictionless for what the schemas say,
checks.py for what they cannot, both reported as DataError."""
from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from frictionless import Package as FlPackage
from frictionless import errors as fl_errors
from frictionless import system
from frictionless.formats.csv.parser import extract_samle

from .errors import DataError, InvalidPackage

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "schemas"
DEFAULT_DATA = ROOT / "data"

# Reference tables first, then the datasets that point at them.
RESOURCES = [
    "sources", "regions", "companies", "batches", "units",
    "winners", "prices", "payment_standards", "execution_notices",
]
DESCRIPTOR = "datapackage.json"
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SEMVER = re.compile(r"^\d+\.\d+\.\d+$")
TRUE = ("true", "1", "yes")

# What a cell of the normalised contract may look like, beyond what Table Schema
# says. Frictionless reads `１２.５`, `٣` and `2021-3-1` as valid numbers and dates
# (Python parses any Unicode digit; strptime takes one-digit months), so the
# lexical form of every number, integer and date cell is checked here.
NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
INTEGER = re.compile(r"^-?[0-9]+$")
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
EXCEL_SERIAL = re.compile(r"^[0-9]{5}(\.[0-9]+)?$")
SLASH_DATE = re.compile(r"^[0-9]{4}\s*[/.年]\s*[0-9]{1,2}\s*[/.月]\s*[0-9]{1,2}\s*日?$")
# C0/C1 control characters except tab, newline, carriage return.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# Invisible bidirectional controls: they can reverse how a name, or a price printed
# next to it, is displayed (U+202E turns 12.50 into 05.21 on screen).
BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
INVISIBLE = re.compile(CONTROL.pattern + "|" + BIDI.pattern + "|\ufeff")
LEXICAL = {"number": NUMBER, "integer": INTEGER, "date": DATE}
MAX_CELL = 10_000  # characters; no field of the contract needs more
MAX_CELL_ERRORS = 1000  # per file, like Frictionless's limit_errors
# Tables a real source may not publish yet: a header-only file is an honest "none".
MAY_BE_EMPTY = {"payment_standards", "execution_notices"}


@dataclass
class Package:
    """A validated package: its descriptor and one typed DataFrame per resource."""
    path: Path
    meta: dict
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)

    @property
    def as_of(self) -> str:
        return self.meta["as_of"]

    @property
    def version(self) -> str:
        return self.meta["version"]

    @property
    def sample(self) -> bool:
        return bool(self.meta.get("sample"))


def load_schema(name: str) -> dict:
    return json.loads((SCHEMA_DIR / f"{name}.json").read_text(encoding="utf-8"))


def validate(data_dir: Path | str = DEFAULT_DATA) -> list[DataError]:
    """Every error in the package, schema errors first, then our checks."""
    try:
        load(data_dir)
    except InvalidPackage as exc:
        return exc.errors
    return []


def load(data_dir: Path | str = DEFAULT_DATA) -> Package:
    """Validate and load a package; raise InvalidPackage with every error found.

    Each CSV is read once, with the csv module Frictionless itself reads with.
    Frictionless runs whenever `_schema_may_fail` cannot prove it would find
    nothing, so every schema error is still worded by Frictionless, while a valid
    million-row package is checked in seconds instead of a minute."""
    from .checks import run_checks  # checks need typed tables, so they come after

    data_dir = Path(data_dir)
    meta, errors = _read_descriptor(data_dir)
    if errors:
        raise InvalidPackage(errors)
    texts: dict[str, _Text] = {}
    errors = []
    for name in RESOURCES:
        file_errors, text = _read_text(data_dir, name)
        errors += file_errors
        if text is not None:
            texts[name] = text
    if errors:
        raise InvalidPackage(errors)
    cell_errors = [e for name in RESOURCES for e in _check_cells(name, texts[name])]
    if cell_errors or _schema_may_fail(texts):
        errors = _merge(_frictionless_errors(data_dir), cell_errors)
        if errors:
            raise InvalidPackage(errors)
    tables = {}
    for name in RESOURCES:
        tables[name] = _typed_table(name, texts.pop(name))
    pkg = Package(data_dir, meta, tables)
    errors = run_checks(pkg)
    if errors:
        raise InvalidPackage(errors)
    return pkg


def _read_descriptor(data_dir: Path) -> tuple[dict, list[DataError]]:
    path = data_dir / DESCRIPTOR
    if not path.is_file():
        return {}, [DataError(DESCRIPTOR, None, None, f"找不到数据包描述文件 {path}")]
    try:
        meta = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return {}, [DataError(DESCRIPTOR, None, None, f"不是有效的 UTF-8 JSON：{exc}")]
    errors = []
    if not isinstance(meta, dict):
        return {}, [DataError(DESCRIPTOR, None, None, "顶层必须是 JSON 对象")]
    if not ISO_DATE.match(str(meta.get("as_of", ""))):
        errors.append(DataError(DESCRIPTOR, None, "as_of", "as_of 必须是 YYYY-MM-DD 日期"))
    if not SEMVER.match(str(meta.get("version", ""))):
        errors.append(DataError(DESCRIPTOR, None, "version", "version 必须形如 1.2.3"))
    if "sample" in meta and not isinstance(meta["sample"], bool):
        errors.append(DataError(DESCRIPTOR, None, "sample", "sample 必须是 true 或 false"))
    if not meta.get("licenses"):
        errors.append(DataError(DESCRIPTOR, None, "licenses", "缺少许可协议 licenses"))
    listed = {r.get("name"): r for r in meta.get("resources", []) if isinstance(r, dict)}
    for name in RESOURCES:
        res = listed.get(name)
        if res is None:
            errors.append(DataError(DESCRIPTOR, None, "resources", f"缺少数据表 {name}"))
        elif res.get("path") != f"{name}.csv":
            errors.append(DataError(DESCRIPTOR, None, "resources", f"数据表 {name} 的 path 必须是 {name}.csv"))
    for name in sorted(set(listed) - set(RESOURCES), key=str):
        errors.append(DataError(DESCRIPTOR, None, "resources", f"未知数据表 {name}"))
    return meta, errors


@dataclass
class _Text:
    """One CSV read once: every record as text, one list per schema field."""
    columns: dict[str, list[str]]
    n_rows: int
    regular: bool  # every record has one cell per field and is not blank
    plain_dialect: bool  # Frictionless would read it with the csv module's default dialect
    invisible: bool  # some cell holds a control, bidirectional or BOM character


CHUNK = 100_000  # records transposed into columns at a time


def _read_text(data_dir: Path, name: str) -> tuple[list[DataError], _Text | None]:
    """What must hold before a CSV parser may look at the file, then the file as text."""
    file = f"{name}.csv"
    path = data_dir / file
    if not path.is_file():
        return [DataError(file, None, None, "文件不存在")], None
    raw = path.read_bytes()
    if not raw.strip():
        return [DataError(file, None, None, "文件为空，至少需要表头行")], None
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return [DataError(file, None, None, "文件是 UTF-16 编码（如 Excel 的“Unicode 文本”），请另存为 UTF-8 CSV")], None
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        return [DataError(file, line, None, "文件含有 NUL 空字节，可能是二进制文件或编码错误")], None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        guess = ""
        try:
            raw.decode("gb18030")
            guess = "（看起来是 GBK/GB18030 编码）"
        except UnicodeDecodeError:
            pass
        return [DataError(file, line, None, f"文件不是 UTF-8 编码{guess}，请另存为 UTF-8")], None
    del raw
    if text.startswith("\ufeff"):  # what utf-8-sig drops
        text = text[1:]
    invisible = INVISIBLE.search(text) is not None
    plain = _plain_dialect(text)
    expected = [f["name"] for f in load_schema(name)["fields"]]
    quick = plain and not invisible and '"' not in text and "\r" not in text
    shape = _shape(text)
    del text  # up to 4 bytes a character: ~0.2-0.7 GB for the national payment standards
    if quick and (found := _read_plain(path, expected, shape)):
        return _checked_data(file, name, *found)
    csv.field_size_limit(1 << 30)  # oversized cells are reported by _check_cells, not crashed on
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return _read_records(file, name, csv.reader(fh), plain, invisible)


def _shape(text: str) -> tuple[int, int]:
    """The lines and the commas of a text, as _read_plain counts them."""
    return text.count("\n") + (not text.endswith("\n")), text.count(",")


def _read_plain(path: Path, expected: list[str], shape: tuple[int, int]) -> tuple[_Text, bool] | None:
    """The records of a CSV with no quote, carriage return or invisible character,
    read by pandas' C parser a chunk at a time: a million rows in ~3 s, where
    the csv module and the transposing in _read_records took ~9 s, and with
    less memory kept (national: 0.33 GB after loading, 0.48 GB before), as
    each chunk's copies of a value go at once. Such a text is a record per line
    and a comma between cells, as the csv module reads it too. None unless every
    record has the header's width, the header is the schema's and no record is
    all empty: then _read_records reads the file and says what is wrong. shape:
    the text's _shape."""
    width = len(expected)
    records, commas = shape
    if commas != records * (width - 1):
        return None  # with no record wider than the header (pandas refuses one): some are narrower
    columns: list[list[str]] = [[] for _ in expected]
    shared: list[dict[str, str] | None] = [{} for _ in expected]  # as in _read_records
    try:
        with pd.read_csv(path, header=None, dtype=object, na_filter=False, skip_blank_lines=False,
                         quoting=csv.QUOTE_NONE, encoding="utf-8-sig", engine="c", chunksize=CHUNK) as chunks:
            for chunk in chunks:
                if chunk.shape[1] != width:
                    return None
                for i, column in enumerate(columns):
                    cells = chunk[i].to_numpy()
                    if (seen := shared[i]) is None:
                        column.extend(cells.tolist())
                        continue
                    # one str object per distinct value, the chunk's copies let go at once
                    codes, distinct = pd.factorize(cells)
                    column.extend(np.array([seen.setdefault(v, v) for v in distinct], dtype=object)[codes].tolist())
                    if len(seen) > len(column) // 2:
                        shared[i] = None
    except (pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    if len(columns[0]) != records or [column[0] for column in columns] != expected:
        return None
    columns = [column[1:] for column in columns]
    if all("" in column for column in columns):
        return None  # maybe a record of empty cells, which the csv module reads as []
    has_data = any(any(cell.strip() for cell in column) for column in columns)
    return _Text(dict(zip(expected, columns)), records - 1, True, True, False), has_data


def _checked_data(file: str, name: str, text: _Text, has_data: bool
                  ) -> tuple[list[DataError], _Text | None]:
    if name not in MAY_BE_EMPTY and not has_data:
        return [DataError(file, None, None, "文件只有表头，没有数据行")], None
    return [], text


def _read_records(file: str, name: str, reader, plain: bool, invisible: bool
                  ) -> tuple[list[DataError], _Text | None]:
    header = next(reader, [])
    expected = [f["name"] for f in load_schema(name)["fields"]]
    if errors := _check_header(file, header, expected):
        return errors, None
    width = len(expected)
    columns: list[list[str]] = [[] for _ in expected]
    shared: list[dict[str, str] | None] = [{} for _ in expected]  # one str object per distinct value
    regular, has_data, n_rows = True, False, 0
    while chunk := list(itertools.islice(reader, CHUNK)):
        n_rows += len(chunk)
        if not has_data:
            has_data = any(any(c.strip() for c in r) for r in chunk)
        if any(len(r) != width or not any(r) for r in chunk):
            regular = False
            chunk = [r if len(r) == width else (r + [""] * width)[:width] for r in chunk]
        for i, cells in enumerate(zip(*chunk)):
            seen = shared[i]
            if seen is None:
                columns[i].extend(cells)
                continue
            columns[i].extend([seen.setdefault(c, c) for c in cells])
            if len(seen) > len(columns[i]) // 2:  # mostly distinct values: sharing saves nothing
                shared[i] = None
    return _checked_data(file, name, _Text(dict(zip(expected, columns)), n_rows, regular, plain, invisible),
                         has_data)


def _plain_dialect(text: str) -> bool:
    """Whether Frictionless would read this text with csv.excel's rules: it sniffs the
    dialect from the first lines (formats/csv/parser.py), and may guess another
    delimiter, quote or escape character."""
    prefix = text[:1 << 20]
    sample = extract_samle(io.StringIO(prefix, newline=""))
    if len(text) > len(prefix) and sum(map(len, sample)) >= len(prefix) - 1:
        sample = extract_samle(io.StringIO(text, newline=""))  # very long first lines
    try:
        config = csv.Sniffer().sniff("".join(sample), ",\t;|")
    except csv.Error:
        return True  # Frictionless falls back to csv.excel
    return (config.delimiter == "," and config.quotechar in ('"', "'")
            and config.escapechar is None and not config.skipinitialspace)


def _check_header(file: str, header: list[str], expected: list[str]) -> list[DataError]:
    """The header must name the schema's fields in order. Checked before Frictionless,
    which compares by position: one missing column would otherwise shift every
    column after it and bury the cause under an error per cell."""
    if header == expected:
        return []
    errors = []
    missing = [f for f in expected if f not in header]
    extra = [(i, h) for i, h in enumerate(header, 1) if h not in expected]
    if len(header) == len(expected) and len(missing) == len(extra):
        for i, h in extra:  # renamed in place
            want = expected[i - 1]
            errors.append(DataError(file, 1, want, f"列名不符：第 {i} 列表头为 {h!r}，应为 {want!r}"))
    else:
        for f in missing:
            errors.append(DataError(file, 1, f, f"缺少列 {f!r}（表结构中的第 {expected.index(f) + 1} 列）"))
        for i, h in extra:
            what = "表头为空" if not h.strip() else f"表头为 {h!r}，表结构中没有这一列"
            errors.append(DataError(file, 1, h or None, f"多余的列：第 {i} 列{what}"))
    for h in sorted({h for h in header if header.count(h) > 1}):
        errors.append(DataError(file, 1, h, f"列名重复：{h!r} 出现 {header.count(h)} 次"))
    if not errors:
        errors.append(DataError(file, 1, None, "列的顺序与表结构不同，应为：" + ",".join(expected)))
    return errors


def _check_cells(name: str, text: _Text) -> list[DataError]:
    """The lexical form of each cell: plain ASCII numbers and ISO dates, no control
    or bidirectional characters, no oversized cells. Rows are numbered like
    Frictionless's (header = 1). Each distinct value is checked once."""
    file = f"{name}.csv"
    fields = {f["name"]: f for f in load_schema(name)["fields"]}
    errors = []
    for label, column in text.columns.items():
        text_bad = set()
        if text.invisible or max(map(len, column), default=0) > MAX_CELL:
            for r, cell in enumerate(column):
                if problem := _text_problem(cell):
                    text_bad.add(r)
                    errors.append(DataError(file, r + 2, label, f"{problem}；值为 {_shown(cell)}"))
        kind = fields[label]["type"] if label in fields else None
        if kind in LEXICAL:
            pattern = LEXICAL[kind]
            bad = {v for v in set(column) if v and not pattern.match(v)}
            if not bad:
                continue
            found = [r for r, cell in enumerate(column) if cell in bad][:MAX_CELL_ERRORS]
            for r in found:
                if r not in text_bad:
                    cell = column[r]
                    errors.append(DataError(
                        file, r + 2, label,
                        f"{ERROR_NAMES['type-error']}（Type Error）：type is \"{kind}/"
                        f"{fields[label].get('format', 'default')}\"；{_typed_problem(kind, cell)}；值为 {_shown(cell)}"))
    return sorted(errors)[:MAX_CELL_ERRORS]


def _text_problem(cell: str) -> str | None:
    if len(cell) > MAX_CELL:
        return f"单元格过长：{len(cell)} 个字符，上限 {MAX_CELL}"
    if m := CONTROL.search(cell):
        return f"含控制字符 U+{ord(m.group()):04X}"
    if m := BIDI.search(cell):
        return f"含不可见的双向文本控制字符 U+{ord(m.group()):04X}，会颠倒文字或数字的显示顺序"
    if "\ufeff" in cell:
        return "单元格中有字节顺序标记 U+FEFF（可能是拼接文件造成的）"
    return None


def _typed_problem(kind: str, cell: str) -> str:
    if kind == "date":
        if EXCEL_SERIAL.match(cell):
            day = pd.Timestamp("1899-12-30") + pd.Timedelta(days=int(float(cell)))
            return f"日期看起来是 Excel 日期序列号（{int(float(cell))} 即 {day:%Y-%m-%d}），应写作 YYYY-MM-DD"
        if SLASH_DATE.match(cell):
            return "日期应写作 YYYY-MM-DD（如 2021-03-01）"
        return "日期应写作 YYYY-MM-DD，月和日各两位、半角数字"
    if cell != cell.strip():
        reason = "前后有空格"
    elif any(ch.isdigit() and not ch.isascii() for ch in cell):
        reason = "含全角或非 ASCII 数字"
    elif "," in cell or "，" in cell:
        reason = "含千分位分隔符"
    elif any(ch.isspace() for ch in cell):
        reason = "含空格"
    elif re.fullmatch(r"-?[0-9.]+[eE][-+]?[0-9]+", cell):
        reason = "科学计数法"
    elif any(ch.isalpha() or ord(ch) > 0x2E80 for ch in cell):
        reason = "含单位或文字，单位应写在单位列"
    else:
        reason = "不是规范的数值"
    if kind == "integer":
        return f"整数格式不规范（{reason}）：只允许半角数字和负号，如 28"
    return f"数值格式不规范（{reason}）：只允许半角数字、小数点和负号，如 12.5"


def _shown(cell: str) -> str:
    return repr(cell if len(cell) <= 60 else cell[:60] + "…")


def _merge(schema_errors: list[DataError], cell_errors: list[DataError]) -> list[DataError]:
    """All errors in file order; a cell error replaces Frictionless's for the same cell."""
    cells = {(e.file, e.row, e.field) for e in cell_errors}
    errors = cell_errors + [e for e in schema_errors if (e.file, e.row, e.field) not in cells]
    order = {f"{n}.csv": i for i, n in enumerate(RESOURCES)}
    return sorted(errors, key=lambda e: (order.get(e.file, -1), e.row or 0))


def _fl_descriptor() -> dict:
    return {
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": "package",
        "resources": [
            {"name": n, "path": f"{n}.csv", "format": "csv", "encoding": "utf-8-sig",
             "schema": load_schema(n)}
            for n in RESOURCES
        ],
    }


def _frictionless_errors(data_dir: Path) -> list[DataError]:
    with system.use_context(trusted=False):
        report = FlPackage(_fl_descriptor(), basepath=str(data_dir)).validate(limit_errors=1000)
    errors = []
    for task in report.tasks:
        file = f"{task.name}.csv"
        for err in task.errors:
            row = getattr(err, "row_number", None)
            fld = getattr(err, "field_name", None)
            if isinstance(err, fl_errors.ForeignKeyError):
                fld = ",".join(err.field_names)
            elif isinstance(err, fl_errors.PrimaryKeyError):
                fld = ",".join(load_schema(task.name).get("primaryKey", [])) or None
            errors.append(DataError(file, row, fld, _describe(err)))
    for err in report.errors:
        errors.append(DataError(DESCRIPTOR, None, None, f"{err.title}：{err.note}"))
    return errors


# The schema gate: Frictionless, row by row in Python, takes a minute for a million
# rows. The gate answers one question in seconds: could Frictionless report anything
# for these files? It is allowed to say "maybe" too often (then Frictionless runs and
# has the last word), never "no" when Frictionless would find an error. It reads what
# Frictionless reads (same csv module, same dialect, or it says "maybe"), judges each
# distinct cell value with Frictionless's own Field.read_cell unless a rule below is
# plainly stricter, and redoes the row rules of resources/table.py: row width, blank
# rows, unique, primary and foreign keys. tests/test_package.py checks it against
# Frictionless on every bad fixture and on valid data.
GATE_STRING = {"required", "pattern", "enum", "minLength", "maxLength"}
GATE_NUMBER = {"required", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}


def _schema_may_fail(texts: dict[str, _Text]) -> bool:
    """False only when Frictionless is sure to find no error in these files."""
    with system.use_context(trusted=False):
        package = FlPackage(_fl_descriptor())
        schemas = {name: package.get_resource(name).schema for name in RESOURCES}
    for name in RESOURCES:
        text = texts[name]
        if not (text.regular and text.plain_dialect):
            return True
        schema = schemas[name]
        for field in schema.fields:
            if not _cells_pass(field, text.columns[field.name]):
                return True
        if not _keys_pass(name, schemas, texts):
            return True
    return False


def _cells_pass(field, column: list[str]) -> bool:
    """Every distinct value of the column passes Frictionless's cell reader."""
    sure = _sure_cell(field)
    for value in set(column):
        if not sure(value) and field.read_cell(value)[1]:
            return False
    return True


def _sure_cell(field):
    """A quick test that passes only cells Frictionless's read_cell passes too
    (a cell it does not pass goes to read_cell itself)."""
    never = lambda value: False  # noqa: E731
    missing = set(field.missing_values)
    required = bool(field.constraints.get("required"))
    c = field.constraints
    if field.type == "string" and field.format == "default" and set(c) <= GATE_STRING:
        # fields/string.py: the default format takes any str; schema/field.py: the checks.
        pattern = re.compile("^{0}$".format(c["pattern"])) if "pattern" in c else None
        enum = c.get("enum")
        lo, hi = c.get("minLength"), c.get("maxLength")

        def sure_string(value: str) -> bool:
            if value in missing:
                return not required
            return ((pattern is None or pattern.match(value) is not None)
                    and (enum is None or value in enum)
                    and (lo is None or len(value) >= lo) and (hi is None or len(value) <= hi))
        return sure_string
    if (field.type == "number" and set(c) <= GATE_NUMBER and not field.float_number
            and not {"group_char", "decimal_char", "bare_number"} & set(field.list_defined())):
        # fields/number.py reads Decimal(cell.strip()): any NUMBER-shaped cell parses.
        # A bound is passed for sure when the float is strictly inside it (rounding to
        # float is monotone); a cell on or near a bound goes to read_cell.
        bounds = [(c[k], k in ("minimum", "exclusiveMinimum")) for k in c if k != "required"]
        if any(float(b) != b for b, _ in bounds):
            return never

        def sure_number(value: str) -> bool:
            if value in missing:
                return not required
            if not NUMBER.match(value):
                return False
            x = float(value)
            return all(x > b if low else x < b for b, low in bounds)
        return sure_number
    return never


def _keys_pass(name: str, schemas: dict, texts: dict[str, _Text]) -> bool:
    """unique, primaryKey and foreignKeys as resources/table.py checks them, on
    string fields (whose cells are their values); anything else says "maybe"."""
    schema, columns = schemas[name], texts[name].columns

    def values(resource: str, names) -> tuple[list, set] | None:
        """The key of each row (a value for one field, else a tuple; None = missing)
        and the set of keys that are not all missing."""
        resource = resource or name  # "" is the resource itself
        s = schemas[resource]
        fields = [s.get_field(f) if s.has_field(f) else None for f in names]
        if any(f is None or f.type != "string" or f.format != "default" for f in fields):
            return None
        missing = [set(f.missing_values) for f in fields]
        cols = [texts[resource].columns[f.name] for f in fields]
        if len(cols) == 1:
            return cols[0], set(cols[0]) - missing[0]
        keys = [tuple(None if v in m else v for v, m in zip(row, missing)) for row in zip(*cols)]
        return keys, {k for k in keys if set(k) != {None}}

    for field in schema.fields:
        if field.constraints.get("unique"):
            if field.type != "string" or field.format != "default":
                return False
            missing = set(field.missing_values)
            present = [v for v in columns[field.name] if v not in missing]
            if len(set(present)) != len(present):
                return False
    if schema.primary_key:
        found = values(name, schema.primary_key)
        if found is None:
            return False
        keys, distinct = found
        if len(distinct) != len(keys):  # a key all missing, or a key twice
            return False
    for fk in schema.foreign_keys:
        source = fk["reference"]["resource"]
        if source and source not in texts:
            return False
        child = values(name, fk["fields"])
        parent = values(source, fk["reference"]["fields"])
        if child is None or parent is None:
            return False
        if not child[1] <= parent[1]:
            return False
    return True


ERROR_NAMES = {
    "type-error": "类型错误", "constraint-error": "不符合约束", "primary-key": "主键重复",
    "foreign-key": "外键找不到对应记录", "unique-error": "值重复", "missing-cell": "缺少单元格",
    "extra-cell": "多余单元格", "missing-label": "缺少列", "extra-label": "多余的列",
    "incorrect-label": "列名不符", "duplicate-label": "列名重复", "blank-label": "列名为空",
    "blank-row": "空行", "encoding-error": "编码错误", "source-error": "无法读取",
}


def _describe(err) -> str:
    """Chinese name, Frictionless's own title and note, and the offending value."""
    text = f"{ERROR_NAMES.get(err.type, err.type)}（{err.title}）：{err.note}"
    cell = getattr(err, "cell", None)
    if cell not in (None, ""):
        shown = str(cell)
        shown = shown if len(shown) <= 60 else shown[:60] + "…"
        text += f"；值为 {shown!r}"
    return text


def _typed_table(name: str, text: _Text) -> pd.DataFrame:
    """Typed columns from a CSV that passed validation (missing = None/NaN)."""
    columns = {}
    for fdesc in load_schema(name)["fields"]:
        col, kind = fdesc["name"], fdesc["type"]
        values = text.columns.pop(col)
        if kind == "number":
            as_float = {v: float(v) if v != "" else math.nan for v in set(values)}
            columns[col] = pd.Series(np.fromiter((as_float[v] for v in values), float, len(values)),
                                     dtype=float)
        elif kind == "integer":
            columns[col] = pd.array([None if v == "" else int(v) for v in values], dtype="Int64")
        elif kind == "boolean":
            columns[col] = pd.Series([None if v == "" else v.strip().lower() in TRUE for v in values],
                                     dtype=object)
        else:
            # One object per distinct text: the reader makes a str per cell, and a
            # national package repeats a few thousand codes, dates and amounts a
            # million times (measured: ~85 MB less after loading it).
            shared: dict = {"": None}
            cells = np.array([shared.setdefault(v, v) for v in values], dtype=object)
            columns[col] = pd.Series(cells, dtype=object)
        del values
    return pd.DataFrame(columns, index=pd.RangeIndex(text.n_rows))


def write_package(out_dir: Path | str, meta: dict, tables: dict[str, pd.DataFrame]) -> None:
    """Write a complete package atomically: a sibling temp folder, then a swap.

    The descriptor inlines the schemas so the folder stands alone."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        descriptor = {k: v for k, v in meta.items() if k != "resources"}
        descriptor["resources"] = []
        for name in RESOURCES:
            schema = load_schema(name)
            cols = [f["name"] for f in schema["fields"]]
            frame = tables[name].reindex(columns=cols)
            frame.map(_csv_cell).to_csv(tmp / f"{name}.csv", index=False, encoding="utf-8",
                                         lineterminator="\n")
            descriptor["resources"].append(
                {"name": name, "path": f"{name}.csv", "format": "csv", "encoding": "utf-8",
                 "schema": schema})
        (tmp / DESCRIPTOR).write_text(json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n",
                                      encoding="utf-8")
        swap_in(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _csv_cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".10g") if not value.is_integer() else str(int(value))
    return str(value)


def swap_in(new: Path, target: Path) -> None:
    """Replace target by new with renames only, so a reader never sees half a folder.

    On Linux one renameat2(RENAME_EXCHANGE) swaps the two folders atomically, so
    target never goes missing; elsewhere two renames (a killed build in between
    leaves .<target>.old, which the next build puts back)."""
    if target.is_dir() and _exchange(new, target):
        shutil.rmtree(new)  # now holds the previous folder
        return
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    if old.exists():
        shutil.rmtree(old)
