"""Read .xlsx, .csv (and .xls when xlrd is installed) into rows of cells, find
the header row the mapping describes, and classify what lies below it.

Row numbers are what a maintainer sees when opening the file: the sheet row in
a workbook, the record number in a CSV (a record with a line break inside a
quoted cell is still one row), the header included."""
from __future__ import annotations

import ast
import csv
import io
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DataError
from .mapping import Section
from .parsers import key, text


class ReadError(Exception):
    def __init__(self, errors: list[DataError]):
        super().__init__(f"{len(errors)} read error(s)")
        self.errors = errors


@dataclass
class SourceRow:
    file: str               # the file's name
    sheet: str | None
    row: int                # 1-based, header rows included
    kind: str               # data | note | header
    cells: dict[str, object] = field(default_factory=dict)  # field → raw cell (or sheet constant)
    text: str = ""          # the row's text, for notes

    @property
    def where(self) -> str:
        return f"{self.file}!{self.sheet}" if self.sheet else self.file


@dataclass
class SourceTable:
    path: Path
    sheet: str | None
    header_row: int          # 1-based; the first row of a header over two rows
    columns: dict[str, str]  # field → header text found
    rows: list[SourceRow]
    blank_rows: int

    @property
    def where(self) -> str:
        return f"{self.path.name}!{self.sheet}" if self.sheet else self.path.name


# --- files to grids --------------------------------------------------------

def read_grids(path: Path, sheets: list[str | None], encoding: str = "utf-8",
               cache: dict | None = None) -> dict[str | None, list[list]]:
    """{sheet: rows of cells}. For a CSV the only sheet is None; for a workbook
    a None sheet means its first sheet. `cache` keeps loaded workbooks for the
    run (the results and the company names may be sheets of one workbook)."""
    name = path.name
    if not path.is_file():
        raise ReadError([DataError(name, None, None, f"找不到文件 {path}")])
    raw = path.read_bytes()
    if not raw.strip():
        raise ReadError([DataError(name, None, None, "文件为空")])
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return {None: _csv_rows(name, raw, encoding)}
    if suffix in (".xlsx", ".xlsm"):
        return _xlsx_rows(path, raw, sheets, {} if cache is None else cache.setdefault(path, {}))
    if suffix == ".xls":
        return _xls_rows(path, sheets)
    raise ReadError([DataError(name, None, None, f"不支持的文件类型 {path.suffix}：可导入 .xlsx、.csv（装有 xlrd 时也可导入 .xls）")])


def _csv_rows(name: str, raw: bytes, encoding: str) -> list[list]:
    enc = "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    try:
        content = raw.decode(enc)
    except (UnicodeDecodeError, LookupError) as exc:
        line = raw[: getattr(exc, "start", 0)].count(b"\n") + 1 if isinstance(exc, UnicodeDecodeError) else None
        hint = ""
        try:
            raw.decode("gb18030")
            hint = "看起来是 GBK/GB18030 编码；请另存为 UTF-8，或在映射中写 encoding: gbk"
        except UnicodeDecodeError:
            hint = "请另存为 UTF-8"
        raise ReadError([DataError(name, line, None, f"文件不是 {encoding} 编码：{hint}")]) from None
    if "\x00" in content:
        raise ReadError([DataError(name, None, None, "文件含有 NUL 空字节：不是文本 CSV（是否把 Excel 文件改了扩展名？）")])
    try:
        return [list(r) for r in csv.reader(io.StringIO(content, newline=""))]
    except csv.Error as exc:
        raise ReadError([DataError(name, None, None, f"CSV 格式错误：{exc}")]) from None


class FormulaValue(float):
    """A number computed here from a formula the workbook saved without its result."""
    formula: str = ""


class Uncached(str):
    """A formula saved without its result that is not plain arithmetic (=A4)."""


_ARITHMETIC = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.Constant, ast.Add, ast.Sub,
               ast.Mult, ast.Div, ast.USub, ast.UAdd)


def evaluate_formula(formula: str):
    """`=1.57/2` → 0.785 (a FormulaValue); anything but numbers, + - * / and
    brackets → Uncached. Nothing is executed: the expression is checked node
    by node and computed by hand."""
    try:
        tree = ast.parse(formula.lstrip("=").strip(), mode="eval")
    except SyntaxError:
        return Uncached(formula)
    if not all(isinstance(n, _ARITHMETIC) for n in ast.walk(tree)) or any(
            isinstance(n, ast.Constant) and not isinstance(n.value, (int, float)) for n in ast.walk(tree)):
        return Uncached(formula)

    def calc(node):
        if isinstance(node, ast.Expression):
            return calc(node.body)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.UnaryOp):
            return -calc(node.operand) if isinstance(node.op, ast.USub) else calc(node.operand)
        a, b = calc(node.left), calc(node.right)
        return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b}.get(type(node.op)) if not isinstance(
            node.op, ast.Div) else a / b

    try:
        value = FormulaValue(calc(tree))
    except ZeroDivisionError:
        return Uncached(formula)
    value.formula = formula
    return value


def _xlsx_rows(path: Path, raw: bytes, sheets: list[str | None], books: dict) -> dict[str | None, list[list]]:
    import openpyxl
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        if "values" not in books:
            books["values"] = openpyxl.load_workbook(io.BytesIO(raw), data_only=True)
        wb = books["values"]
        formulas = books.get("formulas")  # loaded only if a cell lacks its cached result
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        raise ReadError([DataError(path.name, None, None, f"不是有效的 .xlsx 工作簿：{exc}")]) from None
    out = {}
    for sheet in sheets:
        if sheet is None:
            ws = wb.worksheets[0]
        elif sheet in wb.sheetnames:
            ws = wb[sheet]
        else:
            raise ReadError([DataError(path.name, None, None,
                                       f"找不到工作表“{sheet}”（工作簿中有：{'、'.join(wb.sheetnames)}）")])
        grid = [list(r) for r in ws.iter_rows(values_only=True)]
        if formulas is None and any(v is None for r in grid for v in r):
            formulas = books["formulas"] = openpyxl.load_workbook(io.BytesIO(raw), data_only=False)
        if formulas is not None:
            for r, cells in enumerate(formulas[ws.title].iter_rows(values_only=True)):
                for c, f in enumerate(cells):
                    if isinstance(f, str) and f.startswith("=") and r < len(grid) and grid[r][c] is None:
                        grid[r][c] = evaluate_formula(f)
        for rng in ws.merged_cells.ranges:  # a merged cell's value belongs to every cell it covers
            value = ws.cell(rng.min_row, rng.min_col).value
            for r in range(rng.min_row, rng.max_row + 1):
                for c in range(rng.min_col, rng.max_col + 1):
                    if r - 1 < len(grid) and c - 1 < len(grid[r - 1]):
                        grid[r - 1][c - 1] = value
        out[sheet] = grid
    return out


def _xls_rows(path: Path, sheets: list[str | None]) -> dict[str | None, list[list]]:
    try:
        import xlrd  # optional: only for legacy .xls
    except ImportError:
        raise ReadError([DataError(path.name, None, None,
                                   "读取 .xls 需要 xlrd 库（未安装）：请在 Excel 或 LibreOffice 中另存为 .xlsx 再导入")]) from None
    try:
        book = xlrd.open_workbook(str(path))
    except Exception as exc:  # xlrd raises its own XLRDError and plain errors
        raise ReadError([DataError(path.name, None, None, f"不是有效的 .xls 工作簿：{exc}")]) from None
    out = {}
    for sheet in sheets:
        try:
            ws = book.sheet_by_index(0) if sheet is None else book.sheet_by_name(sheet)
        except xlrd.XLRDError:
            raise ReadError([DataError(path.name, None, None,
                                       f"找不到工作表“{sheet}”（工作簿中有：{'、'.join(book.sheet_names())}）")]) from None
        out[sheet] = [ws.row_values(i) for i in range(ws.nrows)]
    return out


# --- header and rows -------------------------------------------------------

def _cell_key(value) -> str:
    return key(value) if value is not None else ""


def _match_columns(keys: list[list[str]], section: Section) -> dict[str, int]:
    """field → column index, where a header cell (or its parts over two rows)
    equals one of the field's header alternatives."""
    found = {}
    for fname, spec in section.fields.items():
        wanted = [key(c) for c in spec.columns]
        for col, candidates in enumerate(keys):
            if any(w in candidates for w in wanted):
                found[fname] = col
                break
    return found


def locate_header(grid: list[list], section: Section, where: str) -> tuple[int, int, dict[str, int]]:
    """(0-based header row, rows it spans (1 or 2), field → column index)."""
    required = [f for f, s in section.fields.items() if s.from_column and s.required]
    wanted = [f for f, s in section.fields.items() if s.from_column]
    best = None  # (found count, -span, row, span, found)
    for i in range(min(section.header_rows, len(grid))):
        single = [[_cell_key(v)] for v in grid[i]]
        options = [(1, _match_columns(single, section))]
        if i + 1 < len(grid):
            top, bottom = grid[i], grid[i + 1]
            width = max(len(top), len(bottom))
            both = []
            for c in range(width):
                t = _cell_key(top[c]) if c < len(top) else ""
                b = _cell_key(bottom[c]) if c < len(bottom) else ""
                both.append([t, b, t + b])
            options.append((2, _match_columns(both, section)))
        for span, found in options:
            if all(f in found for f in required):
                score = (len(found), -span)
                if best is None or score > best[0]:
                    best = (score, i, span, found)
        if best is not None and best[1] == i and len(best[3]) == len(wanted):
            break
    if best is None:
        names = "、".join(section.fields[f].columns[0] for f in required)
        raise ReadError([DataError(where, None, None,
                                   f"找不到表头：前 {section.header_rows} 行中没有同时含有 {names} 的行"
                                   f"（检查映射中的列名，或用 header_rows 扩大查找范围）")])
    _, row, span, found = best
    return row, span, found


def read_table(path: Path, sheet: str | None, grid: list[list], section: Section) -> SourceTable:
    where = f"{path.name}!{sheet}" if sheet else path.name
    header, span, columns = locate_header(grid, section, where)
    constants = section.sheets.get(sheet, {}) if sheet in section.sheets else section.sheets.get(None, {})
    header_keys = {f: {_cell_key(grid[r][c]) for r in range(header, header + span)} - {""}
                   for f, c in columns.items()}
    for f, c in columns.items():
        if span == 2:
            header_keys[f].add(_cell_key(grid[header][c]) + _cell_key(grid[header + 1][c]))
    column_fields = [f for f in columns]
    rows, blank = [], 0
    for index in range(header + span, len(grid)):
        cells = grid[index]
        filled = [text(v) for v in cells if text(v) is not None]
        number = index + 1
        if not filled:
            blank += 1
            continue
        values = {f: (cells[c] if c < len(cells) else None) for f, c in columns.items()}
        joined = " ".join(filled)
        same_as_header = sum(1 for f in column_fields if _cell_key(values[f]) in header_keys[f])
        if column_fields and same_as_header * 2 >= len(column_fields):
            kind = "header"
        elif (len(filled) == 1 and len(column_fields) >= 3) or (
                filled[0].startswith(section.note_prefixes) and len(filled) <= 2):
            kind = "note"
        else:
            kind = "data"
        for fname, spec in section.fields.items():
            if fname in constants:
                values[fname] = constants[fname]
            elif not spec.from_column:
                values[fname] = spec.value
        rows.append(SourceRow(path.name, sheet, number, kind, values, joined))
    return SourceTable(path, sheet, header + 1,
                       {f: "".join(str(grid[header + span - 1][c] or grid[header][c]).split())
                        for f, c in columns.items()},
                       rows, blank)


def read_section(path: Path, section: Section, cache: dict | None = None) -> list[SourceTable]:
    sheets = list(section.sheets)
    if path.suffix.lower() == ".csv":
        sheets = [None]
    grids = read_grids(path, sheets, section.encoding, cache)
    tables, errors = [], []
    for sheet, grid in grids.items():
        try:
            tables.append(read_table(path, sheet, grid, section))
        except ReadError as exc:
            errors += exc.errors
    if errors:
        raise ReadError(errors)
    return tables
