"""Downloads for readers who take the data away (issue 7).

For every data release (the working tree's package and each older release in
git history, see versions.py) this stage writes into docs/downloads/<version>/:

- <name>.csv         the source file byte for byte (a leading BOM removed):
                     faithful, UTF-8, the stable form to cite and diff;
- <name>-excel.csv   UTF-8 with a byte-order mark and CRLF for Excel on
                     Windows; text cells neutralised (spreadsheet.py);
- <name>.xlsx        (spreadsheet.XlsxBook) sheet 1: row 1 Chinese titles,
                     row 2 field names, data from row 3, panes frozen at A3 (pandas:
                     read_excel(path, header=1)); a table longer than Excel's
                     1,048,576 rows continues on <name>_2 …; last sheet "说明":
                     release, licence, citation and the field dictionary;
                     typed cells (numbers, booleans, dates), text neutralised;
- <name>.json        an array of records, one object per row keyed by field
                     name in schema order: numbers as JSON numbers written
                     from the source digits (0.1200 stays 0.1200), integers,
                     booleans, dates as "YYYY-MM-DD" strings, missing as null;
- datapackage.json   standalone descriptor: schemas inlined, each CSV with its
                     bytes and sha256, so `frictionless validate` checks it;
- vbp-open-data.zip  datapackage.json, the CSVs, README.md (licence, citation,
                     dictionary) and SHA256SUMS;
- SHA256SUMS         `sha256sum -c` list of the files above;
- index.md           the page of that release.

The newest release's files are also in docs/downloads/ itself (hard links,
copies where the file system has none), so /downloads/winners.csv is always
the latest and /downloads/0.1.0/winners.csv never changes. Everything is a
function of the data: zip entries carry the release's as_of date, XLSX
document properties too, so two builds of the same data are byte-identical.

Speed (a national package has a million payment standards): files are read
in blocks of ~4 MiB of whole records, never held whole in memory; each row
becomes JSON or XLSX through one function generated for the schema, and the
files of a release are written by a pool of two forked processes. Sizes and
sha256 are taken while writing.
The /dictionary/ and /cite/ pages come from here too.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
import itertools
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from pathlib import Path

from .. import versions
from ..parallel import fork_map
from ..package import ROOT, SEMVER, load_schema
from .spreadsheet import (FORMULA_TRIGGERS, STYLE_BOLD, STYLE_DATE, XlsxBook, column_letter,
                          neutralise, text_row, text_xml)
from .templating import environment, write_page

log = logging.getLogger(__name__)

DOWNLOADS = "downloads"
ZIP_NAME = "vbp-open-data.zip"
SUMS_NAME = "SHA256SUMS"
DESCRIPTOR_NAME = "datapackage.json"
SITE_NAME = "集采公开"
V2_PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
ZIP_LEVEL = 6  # deflate level of the package zip

# name: (Chinese title, what one row is). The four main datasets come first.
DATASETS = {
    "winners": ("中选结果", "一个产品在一个批次中的投标结果（中选或未中选），含供应省份与约定采购量"),
    "prices": ("价格", "一个价格点：集采前中位价、最高有效申报价、申报价、中选价、接续价或挂网价"),
    "payment_standards": ("医保支付标准", "一个地区对一个品种或产品的医保支付标准"),
    "execution_notices": ("执行通知", "一份让某批次集采结果在某地区落地执行的通知"),
    "batches": ("采购批次", "一个采购批次：国家批次、耗材批次、省级或联盟批次"),
    "units": ("品种（竞争单元）", "一个竞争单元，通常是通用名加剂型组"),
    "companies": ("企业", "一家生产企业，含简称与别名"),
    "regions": ("地区", "一个 GB/T 2260 行政区划，含别名"),
    "sources": ("来源文件", "一份数据出处文件：发文机关、文号、日期与网址"),
}
MAIN = ("winners", "prices", "payment_standards", "execution_notices")

# (key, label, file name). The plain CSV and JSON are faithful; the other two
# are for spreadsheets and neutralise formula-like text.
FORMATS = (
    ("csv", "CSV", "{name}.csv"),
    ("excel_csv", "Excel 用 CSV", "{name}-excel.csv"),
    ("xlsx", "XLSX", "{name}.xlsx"),
    ("json", "JSON", "{name}.json"),
)
TYPE_LABELS = {
    "string": "文本", "number": "数值", "integer": "整数", "boolean": "布尔（true/false）",
    "date": "日期", "datetime": "日期时间", "year": "年份",
}
DEFAULT_TRUE = ("true", "True", "TRUE", "1")
DEFAULT_FALSE = ("false", "False", "FALSE", "0")


@dataclass
class Table:
    """One CSV of a release. Rows are read from the file a block at a time, never
    all held in memory: a national package has a million payment standards."""
    name: str
    schema: dict
    path: Path               # the CSV as released (working tree or a git checkout)
    header: list[str]
    rows: int                # data rows
    size: int                # bytes without a leading BOM
    sha256: str              # of those bytes
    last_change: str = ""    # as_of of the newest release that changed the file

    @property
    def title(self) -> str:
        return DATASETS.get(self.name, (self.name, ""))[0]

    @property
    def about(self) -> str:
        return DATASETS.get(self.name, ("", ""))[1]

    @property
    def fields(self) -> list[dict]:
        return self.schema["fields"]

    @property
    def missing(self) -> frozenset:
        return frozenset(self.schema.get("missingValues", [""]))

    def open_raw(self):
        """The file's bytes from after a leading BOM, if any."""
        fh = open(self.path, "rb")
        if fh.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
            fh.seek(0)
        return fh

    def blocks(self):
        """The data records (header left out) as blocks of raw bytes, each ending
        at a record boundary."""
        with self.open_raw() as fh:
            blocks = record_blocks(fh)
            first = next(blocks, b"")
            first = first[_first_record_end(first):]
            if first:
                yield first
            yield from blocks

    def chunks(self):
        """(raw block, its rows as lists of cell text exactly as in the CSV); every
        row has one cell per field (a short row is padded with empty cells)."""
        width = len(self.fields)
        for block in self.blocks():
            rows = parse_block(block)
            if any(len(r) != width for r in rows):
                rows = [(r + [""] * width)[:width] for r in rows]
            yield block, rows

    def records(self):
        """Data rows as lists of cell text, exactly as in the CSV."""
        for block in self.blocks():
            yield from parse_block(block)


BLOCK_BYTES = 1 << 22  # records are read and converted ~4 MiB at a time


def record_blocks(fh, size: int = BLOCK_BYTES):
    """The whole stream in blocks that each end at a record boundary: a newline
    with an even number of quote characters before it (RFC 4180 doubles quotes
    inside quoted fields, so a newline inside one always follows an odd count)."""
    carry = b""
    while data := fh.read(size):
        buf = carry + data if carry else data
        cut = buf.rfind(b"\n") + 1
        if cut and b'"' in buf:
            odd = buf.count(b'"', 0, cut) % 2
            while cut and odd:
                prev = buf.rfind(b"\n", 0, cut - 1) + 1
                odd ^= buf.count(b'"', prev, cut) % 2
                cut = prev
        if cut:
            yield buf[:cut]
        carry = buf[cut:]
    if carry:
        yield carry


def _first_record_end(block: bytes) -> int:
    end = block.find(b"\n")
    while end != -1 and block.count(b'"', 0, end) % 2:
        end = block.find(b"\n", end + 1)
    return len(block) if end == -1 else end + 1


def parse_block(block: bytes) -> list[list[str]]:
    """The non-empty records of a block, as the csv module reads them (a block with
    no quote, CR or NUL is plain lines of comma-separated cells: split it)."""
    text = block.decode("utf-8")
    if b'"' in block or b"\r" in block or b"\0" in block:
        return [r for r in csv.reader(io.StringIO(text, newline="")) if r]
    return [line.split(",") for line in text.split("\n") if line]


def count_records(block: bytes) -> int:
    """What len(parse_block(block)) is, without parsing when the block is plain lines."""
    if b'"' in block or b"\r" in block or b"\n\n" in block or block.startswith(b"\n"):
        return len(parse_block(block))
    return block.count(b"\n") + (not block.endswith(b"\n"))


@dataclass
class Edition:
    """One data release: its descriptor and tables."""
    meta: dict
    tables: dict[str, Table]

    @property
    def version(self) -> str:
        return self.meta["version"]

    @property
    def as_of(self) -> str:
        return self.meta["as_of"]

    @property
    def sample(self) -> bool:
        return bool(self.meta.get("sample"))


@dataclass
class FileInfo:
    file: str
    bytes: int
    sha256: str
    label: str = ""

    @property
    def size(self) -> str:
        return human_size(self.bytes)


@dataclass
class Written:
    """What was written for one edition: per table its four files, and the package files."""
    tables: dict[str, list[FileInfo]] = field(default_factory=dict)
    package: list[FileInfo] = field(default_factory=list)

    def all(self) -> list[FileInfo]:
        return [f for files in self.tables.values() for f in files] + self.package


# --------------------------------------------------------------------------- stage

def render(ctx) -> None:
    site_url = _site_url()
    root = ctx.files_dir / DOWNLOADS  # the files; their pages go to the docs
    with tempfile.TemporaryDirectory(prefix="vbp-releases-") as tmp:
        editions = collect_editions(ctx.pkg, Path(tmp))
        mark_last_changes(editions)
        written = {}
        for ed in editions:
            written[ed.version] = write_edition(ed, root / ed.version, site_url)
            _page(ctx.docs_dir, f"{DOWNLOADS}/{ed.version}/index.md", ed, written[ed.version],
                  editions, site_url, latest=False)
        latest = editions[0]
        for name in [f.file for f in written[latest.version].all()] + [SUMS_NAME]:
            _link_or_copy(root / latest.version / name, root / name)
        _page(ctx.docs_dir, f"{DOWNLOADS}/index.md", latest, written[latest.version], editions,
              site_url, latest=True)
        write_page(ctx.docs_dir, "dictionary/index.md", "dictionary.md.j2",
                   edition=latest, datasets=dictionary(latest))
        write_page(ctx.docs_dir, "cite/index.md", "cite.md.j2", edition=latest,
                   citation=citation(latest, site_url), licenses=latest.meta.get("licenses", []),
                   releases=[(ed.version, ed.as_of) for ed in editions])


def _link_or_copy(src: Path, dest: Path) -> None:
    """The latest address is the same file as the versioned one: a hard link where
    the file system has them (no second copy written), else a copy."""
    dest.unlink(missing_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def _page(docs_dir, rel, ed, files, editions, site_url, latest):
    sources = ed.tables.get("sources")
    write_page(docs_dir, rel, "downloads.md.j2", edition=ed, latest=latest,
               root="../" if latest else "../../", latest_version=editions[0].version,
               tables=[(t, files.tables[t.name]) for t in ed.tables.values()],
               main=MAIN, package=files.package, all_files=files.all(),
               releases=[(e.version, e.as_of) for e in editions],
               citation=citation(ed, site_url), licenses=ed.meta.get("licenses", []),
               # pages link a row's source to #source-<id> here
               sources=[dict(zip(sources.header, r)) for r in sources.records()] if sources else [])


# --------------------------------------------------------------------------- editions

def collect_editions(pkg, workdir: Path) -> list[Edition]:
    """The working tree's package first, then each older committed release, newest
    first; older releases are checked out under workdir, which must outlive them."""
    editions = [_edition(pkg.meta, {
        name: (pkg.path / f"{name}.csv", load_schema(name)) for name in _resource_names(pkg.meta)})]
    for rel in versions.releases(pkg.path):
        if rel.version == pkg.version:
            continue  # the working tree is what this build publishes as that version
        if not SEMVER.match(rel.version):
            log.warning("skipping release %r at %s: not a version like 1.2.3", rel.version, rel.rev)
            continue
        folder = versions.checkout(pkg.path, rel.rev, workdir / rel.version)
        meta = json.loads((folder / DESCRIPTOR_NAME).read_text(encoding="utf-8-sig"))
        sources = {}
        for res in meta["resources"]:
            schema = res.get("schema")
            if isinstance(schema, str):
                schema = json.loads(_git_show(pkg.path, rel.rev, schema))
            sources[res["name"]] = (folder / res["path"], schema)
        editions.append(_edition(meta, sources))
    return editions


def _resource_names(meta: dict) -> list[str]:
    return [r["name"] for r in meta["resources"]]


def _git_show(data_dir: Path, rev: str, rel_path: str) -> bytes:
    """A file at `rev`, by a path relative to the data folder (e.g. ../schemas/x.json)."""
    return subprocess.run(["git", "show", f"{rev}:./{rel_path}"], cwd=data_dir,
                          capture_output=True, check=True).stdout


def _edition(meta: dict, sources: dict[str, tuple[Path, dict]]) -> Edition:
    order = [n for n in DATASETS if n in sources] + [n for n in sources if n not in DATASETS]
    return Edition(meta, {name: _table(name, *sources[name]) for name in order})


def _table(name: str, path: Path, schema: dict) -> Table:
    """A table's header, row count, size and sha256, in one pass over its bytes."""
    digest, size, rows, header = hashlib.sha256(), 0, 0, None
    table = Table(name, schema, path, [], 0, 0, "")
    with table.open_raw() as fh:
        for block in record_blocks(fh):
            digest.update(block)
            size += len(block)
            if header is None:
                end = _first_record_end(block)
                header = (parse_block(block[:end]) or [[]])[0]
                block = block[end:]
            rows += count_records(block)
    names = [f["name"] for f in schema["fields"]]
    if header != names:
        raise ValueError(f"{name}.csv: header {header} does not match its schema {names}")
    table.header, table.rows, table.size, table.sha256 = header, rows, size, digest.hexdigest()
    return table


def mark_last_changes(editions: list[Edition]) -> None:
    """For each table of each edition: the as_of of the newest release, at or before
    that edition, whose file differs from the release before it (or is its first)."""
    for i, ed in enumerate(editions):
        for name, table in ed.tables.items():
            j = i
            while (j + 1 < len(editions) and name in editions[j + 1].tables
                   and editions[j + 1].tables[name].sha256 == table.sha256):
                j += 1
            table.last_change = editions[j].as_of


# --------------------------------------------------------------------------- typed values
#
# A million rows are converted a block (~4 MiB) at a time. Per block, each
# typed column's distinct values are converted once into a dict (text as in
# the CSV → what JSON or XLSX gets), checking them on the way; then one
# function generated for the table's schema (see _compile) turns each row into
# its JSON object or XLSX row in a single f-string. Text cells go through
# escaping (json, XML) and spreadsheet.neutralise only in a block that holds a
# byte needing it; most blocks hold none.

# A number exactly as JSON writes it and an XML double reads it: the source
# digits go out as they are (0.1200 stays 0.1200); other forms (1e5, +1, .5) are
# written as Decimal prints them.
JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
JSON_INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)")


def _marks(special: bytes) -> bytes:
    """A bytes.translate table that maps the special bytes to NUL, any other to 1:
    one table pass and one memchr find a special byte faster than a regex."""
    return bytes(0 if b in special else 1 for b in range(256))


_CONTROL = bytes(range(0x20)).replace(b"\n", b"")  # a newline in a value is quoted
_JSON_SPECIAL = _marks(_CONTROL + b'\\"')
_XML_SPECIAL = _marks(_CONTROL + b"&<>")              # tab and CR also start formulas
_TRIGGERS = tuple(t.encode() for t in FORMULA_TRIGGERS)
EXCEL_EPOCH = date(1899, 12, 30).toordinal()  # Excel's day 0 (its 1900 leap-day bug included)


def _kind(fdesc: dict) -> str:
    kind = fdesc.get("type", "string")
    return kind if kind in ("number", "integer", "boolean", "date") else "string"


def _number(text: str) -> Decimal:
    """The exact number written in the CSV (no binary rounding on the way)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} cannot be written to JSON or a spreadsheet")
    return value


def _date(fdesc: dict, text: str) -> date:
    fmt = fdesc.get("format", "default")
    if fmt in ("default", "any"):
        return date.fromisoformat(text)
    return datetime.strptime(text, fmt).date()


def _boolean(fdesc: dict, text: str) -> bool:
    if text in fdesc.get("trueValues", DEFAULT_TRUE):
        return True
    if text in fdesc.get("falseValues", DEFAULT_FALSE):
        return False
    raise ValueError(f"{fdesc['name']}: {text!r} is not a boolean")


def json_value(fdesc: dict, text: str) -> str:
    """One typed, non-missing cell as JSON text."""
    kind = _kind(fdesc)
    if kind == "number":
        number = _number(text)
        return text if JSON_NUMBER.fullmatch(text) else str(number)
    if kind == "integer":
        return text if JSON_INTEGER.fullmatch(text) else str(int(text))
    if kind == "boolean":
        return "true" if _boolean(fdesc, text) else "false"
    if kind == "date":
        return f'"{_date(fdesc, text).isoformat()}"'
    return json_string(text)


def json_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def xlsx_value(fdesc: dict, text: str) -> str:
    """One typed, non-missing cell as the rest of its XLSX <c> element after r="A1 (from the closing quote)."""
    kind = _kind(fdesc)
    if kind == "number":
        number = _number(text)
        return f'"><v>{text if JSON_NUMBER.fullmatch(text) else repr(float(number))}</v></c>'
    if kind == "integer":
        return f'"><v>{text if JSON_INTEGER.fullmatch(text) else int(text)}</v></c>'
    if kind == "boolean":
        return f'" t="b"><v>{int(_boolean(fdesc, text))}</v></c>'
    if kind == "date":
        day = _date(fdesc, text).toordinal() - EXCEL_EPOCH
        return f'" s="{STYLE_DATE}"><v>{day - 1 if 0 < day <= 60 else day}</v></c>'
    return f'" t="inlineStr"><is>{text_xml(text)}</is></c>'


class RowWriter:
    """Turns a table's rows into JSON objects or XLSX rows, a block at a time.

    Per block: a number or integer column whose every value is already a JSON
    number (or missing) is written as it is; other typed columns go through a
    dict of their distinct values (converted and checked once each); text is
    escaped only when the block's bytes hold something to escape. The row
    function for each such combination is generated once (see _compile)."""

    def __init__(self, table: Table, fmt: str):
        self.table, self.fmt = table, fmt
        self.missing = table.missing
        self.typed = [(j, f) for j, f in enumerate(table.fields) if _kind(f) != "string"]
        self.values = {j: {} for j, _ in self.typed}  # per typed column: text → output
        self.done = 0  # rows converted so far, for error messages
        self.functions = {}
        numbers = {"number": JSON_NUMBER.pattern, "integer": JSON_INTEGER.pattern}
        self.checks = {}  # column → a pattern its whole block column must match to go raw
        if self.missing <= {""}:
            for j, f in self.typed:
                if _kind(f) in numbers:
                    one = f"(?:{numbers[_kind(f)]})?"
                    self.checks[j] = re.compile(f"{one}(?:\n{one})*+")

    def _prepare(self, rows, escape: bool):
        convert = json_value if self.fmt == "json" else xlsx_value
        raw = []
        for j, fdesc in self.typed:
            column = list(map(itemgetter(j), rows))
            if j in self.checks and self.checks[j].fullmatch("\n".join(column)):
                raw.append(j)
                continue
            known = self.values[j]
            if len(known) > 200_000:
                known.clear()
            for text in set(column).difference(known):
                if text in self.missing:
                    known[text] = "null" if self.fmt == "json" else ""
                    continue
                try:
                    known[text] = convert(fdesc, text)
                except ValueError as exc:
                    n = self.done + column.index(text) + 1
                    raise ValueError(f"{self.table.name}.csv 第 {n} 条记录：{exc}") from exc
        key = (escape, tuple(raw))
        if key not in self.functions:
            self.functions[key] = _compile(self.table, self.fmt, escape, set(raw), self.values)
        self.done += len(rows)
        return self.functions[key]

    def json(self, block: bytes, rows) -> str:
        """The rows as JSON objects, each on its own line, joined by ",\n"."""
        fn = self._prepare(rows, escape=b"\0" in block.translate(_JSON_SPECIAL))
        return ",\n".join([fn(r) for r in rows])

    def xlsx(self, block: bytes, rows, first: int) -> str:
        """The rows as <row> elements numbered from `first`."""
        fn = self._prepare(rows, escape=needs_neutralising(block) or b"\0" in block.translate(_XML_SPECIAL))
        return "".join([fn(str(n), r) for n, r in zip(range(first, first + len(rows)), rows)])


def needs_neutralising(block: bytes) -> bool:
    """Whether some cell of the block may start like a formula. A false alarm only
    sends the block the slower, escaping way; a miss cannot happen: a cell starts
    the block, follows a comma or newline, or follows its opening quote."""
    if block[:1] in _TRIGGERS or b"\t" in block or b"\r" in block:
        return True
    quoted = b'"' in block
    for t in (b"=", b"+", b"@", b"-"):
        if t != b"-" and t not in block:  # one fast scan for the rare ones
            continue
        if b"," + t in block or b"\n" + t in block or (quoted and b'"' + t in block):
            return True
    return False


def _compile(table: Table, fmt: str, escape: bool, raw: set[int], values: dict[int, dict]):
    """A function of one row (and for XLSX its row number as text) that returns the
    row's JSON object or <row> element, generated for this schema: one f-string a
    cell. raw: typed columns written as they are (checked JSON numbers)."""
    names = {"J": json_string, "X": text_xml, "M": table.missing}
    lines, parts = [], []
    for j, fdesc in enumerate(table.fields):
        v, kind = f"v{j}", _kind(fdesc)
        absent = f"not {v}" if table.missing == {""} else f"{v} in M"
        names[f"D{j}"] = values.get(j)  # filled per block by RowWriter._prepare
        if fmt == "json":
            names[f"K{j}"] = json.dumps(fdesc["name"], ensure_ascii=False) + ":"
            if j in raw:
                value = f"{v} or 'null'"
            elif kind != "string":
                value = f"D{j}[{v}]"
            elif escape:
                value = f"'null' if {absent} else J({v})"
            else:
                value = f"'null' if {absent} else f'\"{{{v}}}\"'"
            lines.append(f"e{j} = {value}")
            parts.append(f"{{K{j}}}{{e{j}}}")
            continue
        ref = f'<c r="{column_letter(j + 1)}{{n}}'
        if j in raw:
            cell = f"f'{ref}\"><v>{{{v}}}</v></c>'"
        elif kind != "string":
            cell = f"f'{ref}{{D{j}[{v}]}}'"
        elif escape:
            cell = f"f'{ref}\" t=\"inlineStr\"><is>{{X({v})}}</is></c>'"
        else:
            cell = f"f'{ref}\" t=\"inlineStr\"><is><t>{{{v}}}</t></is></c>'"
        lines.append(f"e{j} = '' if {absent} else {cell}")
        parts.append(f"{{e{j}}}")
    unpack = ", ".join(f"v{j}" for j in range(len(table.fields))) + ","
    if fmt == "json":
        args, body = "r", "return f'{{" + ",".join(parts) + "}}'"
    else:
        args, body = "n, r", "return f'<row r=\"{n}\">" + "".join(parts) + "</row>'"
    source = f"def row({args}):\n    {unpack} = r\n" + "".join(f"    {x}\n" for x in lines) + f"    {body}\n"
    namespace = dict(names)
    exec(compile(source, "<downloads row>", "exec"), namespace)  # noqa: S102 (our own code)
    return namespace["row"]



# --------------------------------------------------------------------------- writers

class StampedZip(zipfile.ZipFile):
    """A zip whose bytes depend only on what is put in it and the as_of date:
    every entry gets that date and the same attributes."""

    def __init__(self, file, as_of: str, compresslevel: int | None = None):
        super().__init__(file, "w", zipfile.ZIP_DEFLATED, allowZip64=True,
                         compresslevel=compresslevel)
        self._stamp = datetime.fromisoformat(as_of).timetuple()[:6]

    def _info(self, name: str, size: int = 0) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self._stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info._compresslevel = self.compresslevel
        info.create_system = 3
        info.external_attr = 0o644 << 16
        info.file_size = size  # lets zipfile choose ZIP64 for big streamed entries
        return info

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):
        name = getattr(zinfo_or_arcname, "filename", zinfo_or_arcname)
        super().writestr(self._info(name), data)

    def open_entry(self, name: str, force_zip64: bool = False):
        """A writable entry of unknown size (force_zip64 when it may pass 2 GiB)."""
        return self.open(self._info(name), "w", force_zip64=force_zip64)

    def write_stream(self, name: str, src, size: int) -> None:
        with self.open(self._info(name, size), "w") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)


class HashingFile:
    """A binary file written once, front to back, that knows its size and sha256."""

    def __init__(self, path: Path):
        self._fh = open(path, "wb")
        self._digest = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> None:
        self._digest.update(data)
        self.bytes += len(data)
        self._fh.write(data)

    def close(self) -> tuple[int, str]:
        self._fh.close()
        return self.bytes, self._digest.hexdigest()


def write_plain_csv(table: Table, dest: Path) -> tuple[int, str]:
    with table.open_raw() as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)
    return table.size, table.sha256  # the same bytes: no need to hash them again


def write_excel_csv(table: Table, dest: Path) -> tuple[int, str]:
    """UTF-8 with BOM, CRLF, text neutralised; numbers of number fields untouched.
    A block with no quote, CR, blank line or cell starting like a formula is the
    source with CRLF line ends, byte for byte what csv.writer would write."""
    numeric = [f.get("type") in ("number", "integer") for f in table.fields]
    out = HashingFile(dest)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in table.header])
    out.write(codecs.BOM_UTF8 + text.getvalue().encode("utf-8"))
    for block in table.blocks():
        if not (b'"' in block or b"\r" in block or b"\n\n" in block or block.startswith(b"\n")
                or needs_neutralising(block)):
            out.write(block.replace(b"\n", b"\r\n") + (b"" if block.endswith(b"\n") else b"\r\n"))
            continue
        text.seek(0)
        text.truncate()
        writer.writerows([v if num and _is_number(v) else neutralise(v)
                          for v, num in zip(row, numeric)] for row in parse_block(block))
        out.write(text.getvalue().encode("utf-8"))
    return out.close()


def _is_number(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def write_json(table: Table, dest: Path) -> tuple[int, str]:
    """An array of objects, one a line: '[\\n{…},\\n{…}\\n]\\n' ('[]\\n' when empty)."""
    rows_json = RowWriter(table, "json")
    out = HashingFile(dest)
    first = True
    for block, rows in table.chunks():
        if rows:
            out.write(("[\n" if first else ",\n").encode("utf-8"))
            out.write(rows_json.json(block, rows).encode("utf-8"))
            first = False
    out.write(b"[]\n" if first else b"\n]\n")
    return out.close()


EXCEL_MAX_ROWS = 1_048_576  # per worksheet
WIDTH_SAMPLE = 1000         # rows looked at to size the columns
XLSX_LEVEL = 1              # deflate level of sheets: 6 took 3× the time for ~1/3 less size


def write_xlsx(table: Table, ed: Edition, site_url: str | None, dest: Path,
               max_rows: int = EXCEL_MAX_ROWS) -> tuple[int, str]:
    """Typed cells, two header rows, frozen at A3. A table longer than a worksheet
    continues on <name>_2, <name>_3 … each with the same two header rows."""
    try:
        _write_xlsx(table, ed, site_url, dest, max_rows, force_zip64=False)
    except RuntimeError as exc:  # a sheet's XML passed 2 GiB: write again with ZIP64
        if "force_zip64" not in str(exc):
            raise
        _write_xlsx(table, ed, site_url, dest, max_rows, force_zip64=True)
    return dest.stat().st_size, _sha256_file(dest)


def _write_xlsx(table, ed, site_url, dest, max_rows, force_zip64):
    titles = [f.get("title", f["name"]) for f in table.fields]
    widths = _widths(table, titles)
    per_sheet = max_rows - 2
    sheets = max(1, -(-table.rows // per_sheet))
    names = [table.name[:31] if k == 0 else f"{table.name[:27]}_{k + 1}" for k in range(sheets)]
    rows_xml = RowWriter(table, "xlsx")
    chunks = table.chunks()
    pending = []  # rows of a block that did not fit on the previous sheet

    def sheet_rows():
        yield text_row(1, titles, STYLE_BOLD) + text_row(2, table.header, STYLE_BOLD)
        number, left = 3, per_sheet
        while left:
            if not pending:
                chunk = next(chunks, None)
                if chunk is None:
                    return
                pending.append(chunk)
            block, rows = pending.pop()
            if len(rows) > left:
                pending.append((block, rows[left:]))
                rows = rows[:left]
            yield rows_xml.xlsx(block, rows, number)
            number += len(rows)
            left -= len(rows)

    with StampedZip(dest, ed.as_of, XLSX_LEVEL) as zf:
        book = XlsxBook(zf, names + ["说明"], title=f"{table.title} {ed.version}",
                        creator=SITE_NAME, created=f"{ed.as_of}T00:00:00Z")
        for _ in names:
            book.write_sheet(sheet_rows(), widths, freeze="A3", force_zip64=force_zip64)
        book.write_sheet(_about_rows(table, ed, site_url, sheets), [16, 80])


def _about_rows(table: Table, ed: Edition, site_url: str | None, sheets: int):
    """The 说明 sheet: release, licence, citation, layout, then the field dictionary."""
    layout = "第 1 行为中文列名，第 2 行为字段名，数据从第 3 行开始。"
    if sheets > 1:
        layout += f"Excel 每个工作表最多 {EXCEL_MAX_ROWS:,} 行，本表数据依次分在 {sheets} 个工作表中。"
    lines = [
        ("数据表", f"{table.title}（{table.name}）"), ("每行是", table.about),
        ("数据包", ed.meta.get("title", ed.meta.get("name", ""))), ("版本", ed.version),
        ("数据截至", ed.as_of), ("本表最近变更", table.last_change), ("行数", f"{table.rows:,}"),
        ("许可", "；".join(_license_text(lic) for lic in ed.meta.get("licenses", []))),
        ("引用", citation(ed, site_url)["text"]),
        ("说明", layout + "以 = + - @ 等开头的文本已在前面加上 ' 以防被当作公式；原始数据见同名 CSV。"),
    ]
    if ed.sample:
        lines.append(("注意", "示例数据，价格为虚构，请勿引用为真实价格。"))
    rows = [text_row(n, line) for n, line in enumerate(lines, start=1)]
    n = len(lines) + 2  # one empty row before the field dictionary
    rows.append(text_row(n, ("字段", "中文名", "类型", "单位", "说明", "示例"), STYLE_BOLD))
    for n, f in enumerate(table.fields, start=n + 1):
        rows.append(text_row(n, [str(v) for v in (
            f["name"], f.get("title", ""), TYPE_LABELS.get(f.get("type"), f.get("type")),
            f.get("unit", ""), f.get("description", ""), f.get("example", ""))]))
    return rows


def _widths(table: Table, titles: list[str]) -> list[float]:
    sample = list(itertools.islice(table.records(), WIDTH_SAMPLE))
    return [min(max(max([_display_width(titles[i]), _display_width(name)]
                        + [_display_width(r[i]) for r in sample if i < len(r)]) + 2, 8), 60)
            for i, name in enumerate(table.header)]


def _display_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def standalone_descriptor(ed: Edition) -> bytes:
    """The release's descriptor with schemas inlined and each CSV's bytes and sha256."""
    descriptor = {"$schema": V2_PROFILE}  # the schemas use v2 constraints (exclusiveMinimum)
    descriptor.update((k, v) for k, v in ed.meta.items() if k != "resources")
    resources = []
    for res in ed.meta["resources"]:
        table = ed.tables[res["name"]]
        out = {k: v for k, v in res.items() if k != "schema"}
        out.setdefault("title", table.title)
        out.update(path=f"{table.name}.csv", format="csv", mediatype="text/csv",
                   encoding="utf-8", bytes=table.size, hash=f"sha256:{table.sha256}",
                   schema=table.schema)
        resources.append(out)
    descriptor["resources"] = resources
    return (json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def sha256sums(digests: dict[str, str]) -> bytes:
    """`sha256sum -c` format, sorted by file name."""
    return "".join(f"{digests[name]}  {name}\n" for name in sorted(digests)).encode("utf-8")


def write_package_zip(ed: Edition, site_url: str | None, dest: Path) -> tuple[int, str]:
    small = {DESCRIPTOR_NAME: standalone_descriptor(ed),
             "README.md": readme(ed, site_url).encode("utf-8")}
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in small.items()}
    digests.update({f"{t.name}.csv": t.sha256 for t in ed.tables.values()})
    with StampedZip(dest, ed.as_of, ZIP_LEVEL) as zf:
        for name, data in small.items():
            zf.writestr(name, data)
        for t in ed.tables.values():
            with t.open_raw() as src:
                zf.write_stream(f"{t.name}.csv", src, t.size)
        zf.writestr(SUMS_NAME, sha256sums(digests))
    return dest.stat().st_size, _sha256_file(dest)


def write_descriptor(ed: Edition, dest: Path) -> tuple[int, str]:
    data = standalone_descriptor(ed)
    dest.write_bytes(data)
    return len(data), hashlib.sha256(data).hexdigest()


def readme(ed: Edition, site_url: str | None) -> str:
    return environment().get_template("package_readme.md.j2").render(
        edition=ed, citation=citation(ed, site_url), licenses=ed.meta.get("licenses", []),
        datasets=dictionary(ed))


def write_edition(ed: Edition, folder: Path, site_url: str | None) -> Written:
    """Every file of one release. The files are independent, so they are written
    by a pool of processes (one per CPU), biggest first."""
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [(pattern.format(name=t.name), label, key, t.name)
            for t in ed.tables.values() for key, label, pattern in FORMATS]
    jobs += [(ZIP_NAME, "数据包 ZIP", "zip", None), (DESCRIPTOR_NAME, "datapackage.json", "descriptor", None)]
    done = dict(fork_map(lambda job: _write_file(ed, folder, site_url, job),
                         sorted(jobs, key=lambda job: -_cost(ed, job))))
    written = Written()
    for t in ed.tables.values():
        written.tables[t.name] = [done[pattern.format(name=t.name)] for _, _, pattern in FORMATS]
    written.package = [done[ZIP_NAME], done[DESCRIPTOR_NAME]]
    (folder / SUMS_NAME).write_bytes(sha256sums({f.file: f.sha256 for f in written.all()}))
    return written


# Rough CPU seconds per source byte, to start the longest jobs first.
_COST = {"xlsx": 40, "json": 15, "excel_csv": 4, "zip": 10, "csv": 1, "descriptor": 0}


def _cost(ed: Edition, job) -> float:
    _, _, key, name = job
    size = ed.tables[name].size if name else sum(t.size for t in ed.tables.values())
    return _COST[key] * size


def _write_file(ed: Edition, folder: Path, site_url: str | None, job) -> tuple[str, FileInfo]:
    file, label, key, name = job
    path, table = folder / file, ed.tables.get(name)
    if key == "csv":
        size, sha = write_plain_csv(table, path)
    elif key == "excel_csv":
        size, sha = write_excel_csv(table, path)
    elif key == "xlsx":
        size, sha = write_xlsx(table, ed, site_url, path)
    elif key == "json":
        size, sha = write_json(table, path)
    elif key == "zip":
        size, sha = write_package_zip(ed, site_url, path)
    else:
        size, sha = write_descriptor(ed, path)
    return file, FileInfo(file, size, sha, label)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# --------------------------------------------------------------------------- dictionary, citation

def dictionary(ed: Edition) -> list[dict]:
    """Per table: title, what a row is, keys, and every field with its rules in Chinese."""
    out = []
    for table in ed.tables.values():
        schema = table.schema
        pk = schema.get("primaryKey", [])
        pk = [pk] if isinstance(pk, str) else list(pk)
        refs = {}
        for fk in schema.get("foreignKeys", []):
            fields = fk["fields"] if isinstance(fk["fields"], list) else [fk["fields"]]
            ref = fk["reference"]
            ref_fields = ref["fields"] if isinstance(ref["fields"], list) else [ref["fields"]]
            for own, other in zip(fields, ref_fields):
                refs[own] = (ref.get("resource") or table.name, other)
        numeric = {f["name"] for f in table.fields if f.get("type") in ("number", "integer")}
        names = {f["name"] for f in table.fields}
        fields = []
        for f in table.fields:
            fields.append({
                "name": f["name"], "title": f.get("title", ""),
                "type": _type_label(f), "unit": f.get("unit", ""),
                # prices.unit_price is in 元, and unit_price_unit says 元/片 or 元/盒 per row
                "unit_column": f"{f['name']}_unit"
                if f["name"] in numeric and f"{f['name']}_unit" in names else "",
                "rules": _rules(f, f["name"] in pk, refs.get(f["name"])),
                "description": f.get("description", ""),
                "example": str(f["example"]) if "example" in f else "",
            })
        out.append({"name": table.name, "title": table.title, "about": table.about,
                    "primary_key": pk, "fields": fields})
    return out


def _type_label(f: dict) -> str:
    label = TYPE_LABELS.get(f.get("type", "string"), f.get("type", "string"))
    fmt = f.get("format", "default")
    if f.get("type") == "date":
        shown = "YYYY-MM-DD" if fmt in ("default", "any", "%Y-%m-%d") else fmt
        label += f"（{shown}）"
    return label


def _rules(f: dict, in_pk: bool, ref: tuple[str, str] | None) -> list[dict]:
    """What a value may be, as short Chinese phrases, each with optional code values."""
    c = f.get("constraints", {})
    rules = []
    if in_pk:
        rules.append({"text": "主键"})
    rules.append({"text": "必填" if c.get("required") or in_pk else "可为空"})
    if c.get("unique"):
        rules.append({"text": "不重复"})
    if "enum" in c:
        rules.append({"text": "取值", "codes": [str(v) for v in c["enum"]]})
    for key, sign in (("minimum", "≥"), ("exclusiveMinimum", ">"),
                      ("maximum", "≤"), ("exclusiveMaximum", "<")):
        if key in c:
            rules.append({"text": f"{sign} {c[key]}"})
    if "minLength" in c:
        rules.append({"text": f"至少 {c['minLength']} 个字符"})
    if "maxLength" in c:
        rules.append({"text": f"至多 {c['maxLength']} 个字符"})
    if "pattern" in c:
        rules.append({"text": "格式", "codes": [c["pattern"]]})
    if ref:
        rules.append({"text": "对应", "codes": [f"{ref[0]}.{ref[1]}"],
                      "anchor": f"{ref[0]}.{ref[1]}"})
    return [{"codes": [], "anchor": "", **r} for r in rules]


def citation(ed: Edition, site_url: str | None) -> dict:
    """Ready-to-copy citation text and BibTeX for one release."""
    title = ed.meta.get("title") or ed.meta.get("name", SITE_NAME)
    url = f"{site_url.rstrip('/')}/{DOWNLOADS}/{ed.version}/" if site_url else ""
    note = f"数据截至 {ed.as_of}" + ("；示例数据，价格为虚构" if ed.sample else "")
    text = f"{SITE_NAME}：《{title}》，版本 {ed.version}，数据截至 {ed.as_of}"
    text += (f"，{url}" if url else "") + ("（示例数据，价格为虚构）" if ed.sample else "") + "。"
    key = re.sub(r"[^A-Za-z0-9]+", "_", f"{ed.meta.get('name', 'vbp-open')}_{ed.version}")
    lines = [f"@misc{{{key},",
             f"  author    = {{{{{_bibtex(SITE_NAME)}}}}},",
             f"  title     = {{{{{_bibtex(title)}}}}},",
             f"  year      = {{{ed.as_of[:4]}}},",
             f"  date      = {{{ed.as_of}}},",
             f"  version   = {{{ed.version}}},"]
    if url:
        lines.append(f"  url       = {{{url}}},")
    lines += [f"  note      = {{{_bibtex(note)}}}", "}"]
    return {"text": text, "bibtex": "\n".join(lines), "url": url}


_BIBTEX = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "%": r"\%", "&": r"\&",
           "$": r"\$", "#": r"\#", "_": r"\_", "^": r"\^{}", "~": r"\~{}"}


def _bibtex(text: str) -> str:
    return "".join(_BIBTEX.get(ch, ch) for ch in text)


def _license_text(lic: dict) -> str:
    name = lic.get("name") or lic.get("title", "")
    parts = [name]
    if lic.get("title") and lic.get("title") != name:
        parts.append(f"（{lic['title']}）")
    if lic.get("path"):
        parts.append(f" {lic['path']}")
    return "".join(parts)


def _site_url() -> str | None:
    from mkdocs.utils.yaml import yaml_load

    with open(ROOT / "mkdocs.yml", encoding="utf-8") as fh:
        return (yaml_load(fh) or {}).get("site_url") or None


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    for unit in ("KB", "MB", "GB"):
        n /= 1024
        if n < 1024 or unit == "GB":
            return f"{n:.1f} {unit}"
