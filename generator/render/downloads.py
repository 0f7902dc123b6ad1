"""Downloads for readers who take the data away (issue 7).

For every data release (the working tree's package and each older release in
git history, see versions.py) this stage writes into docs/downloads/<version>/:

- <name>.csv         the source file byte for byte (a leading BOM removed):
                     faithful, UTF-8, the stable form to cite and diff;
- <name>-excel.csv   UTF-8 with a byte-order mark and CRLF for Excel on
                     Windows; text cells neutralised (spreadsheet.py);
- <name>.xlsx        sheet 1: row 1 Chinese titles, row 2 field names, data
                     from row 3, panes frozen at A3 (pandas:
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

The newest release's files are also copied to docs/downloads/ itself, so
/downloads/winners.csv is always the latest and /downloads/0.1.0/winners.csv
never changes. Everything is a function of the data: zip entries carry the
release's as_of date, XLSX document properties too, so two builds of the same
data are byte-identical. Files are streamed, never held whole in memory.
The /dictionary/ and /cite/ pages come from here too.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import itertools
import json
import logging
import re
import shutil
import subprocess
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from .. import versions
from ..package import ROOT, SEMVER, load_schema
from .spreadsheet import neutralise
from .templating import environment, write_page

log = logging.getLogger(__name__)

DOWNLOADS = "downloads"
ZIP_NAME = "vbp-open-data.zip"
SUMS_NAME = "SHA256SUMS"
DESCRIPTOR_NAME = "datapackage.json"
SITE_NAME = "集采公开"
V2_PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"

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
    """One CSV of a release. Rows are read from the file when needed, never all
    held in memory: a national package has a million payment standards."""
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

    def open_raw(self):
        """The file's bytes from after a leading BOM, if any."""
        fh = open(self.path, "rb")
        if fh.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
            fh.seek(0)
        return fh

    def records(self):
        """Data rows as lists of cell text, exactly as in the CSV."""
        with open(self.path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            next(reader, None)
            yield from (r for r in reader if r)

    def typed_rows(self):
        """Rows as Python values: Decimal, int, bool, date, str, None (missing)."""
        missing = set(self.schema.get("missingValues", [""]))
        casts = [_caster(f) for f in self.fields]
        for n, row in enumerate(self.records(), start=1):
            try:
                yield [None if v in missing else cast(v) for v, cast in zip(row, casts)]
            except ValueError as exc:
                raise ValueError(f"{self.name}.csv 第 {n} 条记录：{exc}") from exc


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
    root = ctx.docs_dir / DOWNLOADS
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
            shutil.copyfile(root / latest.version / name, root / name)
        _page(ctx.docs_dir, f"{DOWNLOADS}/index.md", latest, written[latest.version], editions,
              site_url, latest=True)
        write_page(ctx.docs_dir, "dictionary/index.md", "dictionary.md.j2",
                   edition=latest, datasets=dictionary(latest))
        write_page(ctx.docs_dir, "cite/index.md", "cite.md.j2", edition=latest,
                   citation=citation(latest, site_url), licenses=latest.meta.get("licenses", []),
                   releases=[(ed.version, ed.as_of) for ed in editions])


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
    digest, size = hashlib.sha256(), 0
    table = Table(name, schema, path, [], 0, 0, "")
    with table.open_raw() as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, [])
        rows = sum(1 for r in reader if r)
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

def _caster(fdesc: dict):
    kind = fdesc.get("type", "string")
    if kind == "number":
        return _number
    if kind == "integer":
        return int
    if kind == "boolean":
        true = set(fdesc.get("trueValues", DEFAULT_TRUE))
        false = set(fdesc.get("falseValues", DEFAULT_FALSE))

        def boolean(v):
            if v in true:
                return True
            if v in false:
                return False
            raise ValueError(f"{fdesc['name']}: {v!r} is not a boolean")
        return boolean
    if kind == "date":
        fmt = fdesc.get("format", "default")
        if fmt in ("default", "any"):
            return date.fromisoformat
        return lambda v: datetime.strptime(v, fmt).date()
    return str  # string and any type we do not convert: the text as written


def _number(text: str) -> Decimal:
    """The exact number written in the CSV (no binary rounding on the way)."""
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} cannot be written to JSON or a spreadsheet")
    return value


def _json_value(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (Decimal, int)):
        return str(value)  # str(Decimal) of a finite number is valid JSON: 0.1200, 1E-7
    if isinstance(value, date):
        return json.dumps(value.isoformat())
    return json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------- writers

class StampedZip(zipfile.ZipFile):
    """A zip whose bytes depend only on what is put in it and the as_of date:
    every entry gets that date and the same attributes (openpyxl, given one of
    these, would otherwise stamp the clock and temp-file times)."""

    def __init__(self, file, as_of: str):
        super().__init__(file, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
        self._stamp = datetime.fromisoformat(as_of).timetuple()[:6]

    def _info(self, name: str, size: int = 0) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(name, date_time=self._stamp)
        info.compress_type = zipfile.ZIP_DEFLATED
        info.create_system = 3
        info.external_attr = 0o644 << 16
        info.file_size = size  # lets zipfile choose ZIP64 for big streamed entries
        return info

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):
        name = getattr(zinfo_or_arcname, "filename", zinfo_or_arcname)
        super().writestr(self._info(name), data)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):
        with open(filename, "rb") as src:
            self.write_stream(arcname or Path(filename).name, src, Path(filename).stat().st_size)

    def write_stream(self, name: str, src, size: int) -> None:
        with self.open(self._info(name, size), "w") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)


def write_plain_csv(table: Table, dest: Path) -> None:
    with table.open_raw() as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)


def write_excel_csv(table: Table, dest: Path) -> None:
    """UTF-8 with BOM, CRLF, text neutralised; numbers of number fields untouched."""
    numeric = [f.get("type") in ("number", "integer") for f in table.fields]
    with open(dest, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow([neutralise(h) for h in table.header])
        for row in table.records():
            writer.writerow([v if num and _is_number(v) else neutralise(v)
                             for v, num in zip(row, numeric)])


def _is_number(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def write_json(table: Table, dest: Path) -> None:
    keys = [json.dumps(n, ensure_ascii=False) for n in table.header]
    with open(dest, "w", encoding="utf-8", newline="\n") as out:
        first = True
        for row in table.typed_rows():
            out.write("[\n" if first else ",\n")
            out.write("{" + ",".join(f"{k}:{_json_value(v)}" for k, v in zip(keys, row)) + "}")
            first = False
        out.write("[]\n" if first else "\n]\n")


EXCEL_MAX_ROWS = 1_048_576  # per worksheet
WIDTH_SAMPLE = 1000         # rows looked at to size the columns


def write_xlsx(table: Table, ed: Edition, site_url: str | None, dest: Path,
               max_rows: int = EXCEL_MAX_ROWS) -> None:
    """Typed cells, two header rows, frozen at A3. A table longer than a worksheet
    continues on <name>_2, <name>_3 … each with the same two header rows."""
    wb = Workbook(write_only=True)
    titles = [f.get("title", f["name"]) for f in table.fields]
    widths = _widths(table, titles)
    per_sheet = max_rows - 2
    sheets = max(1, -(-table.rows // per_sheet))
    rows = table.typed_rows()
    bold = Font(bold=True)
    for k in range(sheets):
        ws = wb.create_sheet(title=table.name[:31] if k == 0 else f"{table.name[:27]}_{k + 1}")
        ws.freeze_panes = "A3"
        for i, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = width
        for header_row in (titles, table.header):
            cells = []
            for text in header_row:
                cell = WriteOnlyCell(ws, value=_xlsx_text(text))
                cell.font = bold
                cells.append(cell)
            ws.append(cells)
        for row in itertools.islice(rows, per_sheet):
            ws.append([_xlsx_value(v) for v in row])

    info = wb.create_sheet(title="说明")
    info.column_dimensions["A"].width = 16
    info.column_dimensions["B"].width = 80
    layout = "第 1 行为中文列名，第 2 行为字段名，数据从第 3 行开始。"
    if sheets > 1:
        layout += f"Excel 每个工作表最多 {EXCEL_MAX_ROWS:,} 行，本表数据依次分在 {sheets} 个工作表中。"
    for label, value in (
        ("数据表", f"{table.title}（{table.name}）"), ("每行是", table.about),
        ("数据包", ed.meta.get("title", ed.meta.get("name", ""))), ("版本", ed.version),
        ("数据截至", ed.as_of), ("本表最近变更", table.last_change), ("行数", f"{table.rows:,}"),
        ("许可", "；".join(_license_text(lic) for lic in ed.meta.get("licenses", []))),
        ("引用", citation(ed, site_url)["text"]),
        ("说明", layout + "以 = + - @ 等开头的文本已在前面加上 ' 以防被当作公式；原始数据见同名 CSV。"),
    ):
        info.append([_xlsx_text(label), _xlsx_text(value)])
    if ed.sample:
        info.append(["注意", "示例数据，价格为虚构，请勿引用为真实价格。"])
    info.append([])
    info.append([_bold(info, t) for t in ("字段", "中文名", "类型", "单位", "说明", "示例")])
    for f in table.fields:
        info.append([_xlsx_text(str(v)) for v in (
            f["name"], f.get("title", ""), TYPE_LABELS.get(f.get("type"), f.get("type")),
            f.get("unit", ""), f.get("description", ""), f.get("example", ""))])

    wb.properties.creator = SITE_NAME
    wb.properties.title = f"{table.title} {ed.version}"
    wb.properties.created = wb.properties.modified = datetime.fromisoformat(ed.as_of)
    ExcelWriter(wb, StampedZip(dest, ed.as_of)).save()  # save() closes the zip


def _bold(ws, text):
    cell = WriteOnlyCell(ws, value=text)
    cell.font = Font(bold=True)
    return cell


def _xlsx_text(text: str) -> str:
    # XML cannot hold most control characters; show them as U+FFFD instead of failing.
    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", neutralise(text))


def _xlsx_value(value):
    if isinstance(value, str):
        return _xlsx_text(value)
    if isinstance(value, Decimal):
        return float(value)
    return value  # None, bool, int, date (openpyxl formats dates yyyy-mm-dd)


def _widths(table: Table, titles: list[str]) -> list[float]:
    sample = list(itertools.islice(table.records(), WIDTH_SAMPLE))
    return [min(max(max([_display_width(titles[i]), _display_width(name)]
                        + [_display_width(r[i]) for r in sample]) + 2, 8), 60)
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


def write_package_zip(ed: Edition, site_url: str | None, dest: Path) -> None:
    small = {DESCRIPTOR_NAME: standalone_descriptor(ed),
             "README.md": readme(ed, site_url).encode("utf-8")}
    digests = {name: hashlib.sha256(data).hexdigest() for name, data in small.items()}
    digests.update({f"{t.name}.csv": t.sha256 for t in ed.tables.values()})
    with StampedZip(dest, ed.as_of) as zf:
        for name, data in small.items():
            zf.writestr(name, data)
        for t in ed.tables.values():
            with t.open_raw() as src:
                zf.write_stream(f"{t.name}.csv", src, t.size)
        zf.writestr(SUMS_NAME, sha256sums(digests))


def readme(ed: Edition, site_url: str | None) -> str:
    return environment().get_template("package_readme.md.j2").render(
        edition=ed, citation=citation(ed, site_url), licenses=ed.meta.get("licenses", []),
        datasets=dictionary(ed))


def write_edition(ed: Edition, folder: Path, site_url: str | None) -> Written:
    folder.mkdir(parents=True, exist_ok=True)
    written = Written()

    def put(name: str, write, label: str = "") -> FileInfo:
        path = folder / name
        write(path)
        return FileInfo(name, path.stat().st_size, _sha256_file(path), label)

    for t in ed.tables.values():
        writers = {"csv": lambda p, t=t: write_plain_csv(t, p),
                   "excel_csv": lambda p, t=t: write_excel_csv(t, p),
                   "xlsx": lambda p, t=t: write_xlsx(t, ed, site_url, p),
                   "json": lambda p, t=t: write_json(t, p)}
        written.tables[t.name] = [put(pattern.format(name=t.name), writers[key], label)
                                  for key, label, pattern in FORMATS]
    written.package = [
        put(ZIP_NAME, lambda p: write_package_zip(ed, site_url, p), "数据包 ZIP"),
        put(DESCRIPTOR_NAME, lambda p: p.write_bytes(standalone_descriptor(ed)), "datapackage.json")]
    (folder / SUMS_NAME).write_bytes(sha256sums({f.file: f.sha256 for f in written.all()}))
    return written


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
