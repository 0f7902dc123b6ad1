"""Downloads for readers who take the data away (issue 7).

For every data release (the working tree's package and each older release in
git history, see versions.py) this stage writes into docs/downloads/<version>/:

- <name>.csv         the source file byte for byte (a leading BOM removed):
                     faithful, UTF-8, the stable form to cite and diff;
- <name>-excel.csv   UTF-8 with a byte-order mark and CRLF for Excel on
                     Windows; text cells neutralised (spreadsheet.py);
- <name>.xlsx        sheet 1: row 1 Chinese titles, row 2 field names, data
                     from row 3, panes frozen at A3 (pandas:
                     read_excel(path, header=1)); sheet 2 "说明": release,
                     licence, citation and the field dictionary; typed cells
                     (numbers, booleans, dates), text neutralised;
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
data are byte-identical. The /dictionary/ and /cite/ pages come from here too.
"""
from __future__ import annotations

import codecs
import csv
import hashlib
import io
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
    name: str
    schema: dict
    raw: bytes               # the source CSV without a leading BOM
    header: list[str]
    rows: list[list[str]]    # cells as text, exactly as in the CSV
    last_change: str = ""    # as_of of the newest release that changed `raw`

    @property
    def title(self) -> str:
        return DATASETS.get(self.name, (self.name, ""))[0]

    @property
    def about(self) -> str:
        return DATASETS.get(self.name, ("", ""))[1]

    @property
    def fields(self) -> list[dict]:
        return self.schema["fields"]

    def typed_rows(self):
        """Rows as Python values: Decimal, int, bool, date, str, None (missing)."""
        missing = set(self.schema.get("missingValues", [""]))
        casts = [_caster(f) for f in self.fields]
        for n, row in enumerate(self.rows, start=2):
            try:
                yield [None if v in missing else cast(v) for v, cast in zip(row, casts)]
            except ValueError as exc:
                raise ValueError(f"{self.name}.csv 第 {n} 行：{exc}") from exc


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
    editions = collect_editions(ctx.pkg)
    mark_last_changes(editions)
    site_url = _site_url()
    root = ctx.docs_dir / DOWNLOADS
    written = {}
    for ed in editions:
        folder = root / ed.version
        written[ed.version] = write_edition(ed, folder, site_url)
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
    write_page(docs_dir, rel, "downloads.md.j2", edition=ed, latest=latest,
               root="../" if latest else "../../", latest_version=editions[0].version,
               tables=[(t, files.tables[t.name]) for t in ed.tables.values()],
               main=MAIN, package=files.package, all_files=files.all(),
               releases=[(e.version, e.as_of) for e in editions],
               citation=citation(ed, site_url), licenses=ed.meta.get("licenses", []),
               sources=_records(ed.tables.get("sources")))


def _records(table: Table | None) -> list[dict]:
    """Rows as {field: text} (what the page shows; pages link to #source-<id>)."""
    if table is None:
        return []
    return [dict(zip(table.header, row)) for row in table.rows]


# --------------------------------------------------------------------------- editions

def collect_editions(pkg) -> list[Edition]:
    """The working tree's package first, then each older committed release, newest first."""
    current = _edition(pkg.meta, {
        name: ((pkg.path / f"{name}.csv").read_bytes(), load_schema(name))
        for name in _resource_names(pkg.meta)})
    editions = [current]
    for rel in versions.releases(pkg.path):
        if rel.version == pkg.version:
            continue  # the working tree is what this build publishes as that version
        if not SEMVER.match(rel.version):
            log.warning("skipping release %r at %s: not a version like 1.2.3", rel.version, rel.rev)
            continue
        with tempfile.TemporaryDirectory() as tmp:
            folder = versions.checkout(pkg.path, rel.rev, Path(tmp) / "data")
            meta = json.loads((folder / DESCRIPTOR_NAME).read_text(encoding="utf-8-sig"))
            sources = {}
            for res in meta["resources"]:
                schema = res.get("schema")
                if isinstance(schema, str):
                    schema = json.loads(_git_show(pkg.path, rel.rev, schema))
                sources[res["name"]] = ((folder / res["path"]).read_bytes(), schema)
            editions.append(_edition(meta, sources))
    return editions


def _resource_names(meta: dict) -> list[str]:
    return [r["name"] for r in meta["resources"]]


def _git_show(data_dir: Path, rev: str, rel_path: str) -> bytes:
    """A file at `rev`, by a path relative to the data folder (e.g. ../schemas/x.json)."""
    return subprocess.run(["git", "show", f"{rev}:./{rel_path}"], cwd=data_dir,
                          capture_output=True, check=True).stdout


def _edition(meta: dict, sources: dict[str, tuple[bytes, dict]]) -> Edition:
    order = [n for n in DATASETS if n in sources] + [n for n in sources if n not in DATASETS]
    return Edition(meta, {name: _table(name, *sources[name]) for name in order})


def _table(name: str, raw: bytes, schema: dict) -> Table:
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    records = [r for r in csv.reader(io.StringIO(raw.decode("utf-8"), newline="")) if r]
    header = records[0] if records else []
    names = [f["name"] for f in schema["fields"]]
    if header != names:
        raise ValueError(f"{name}.csv: header {header} does not match its schema {names}")
    return Table(name, schema, raw, header, records[1:])


def mark_last_changes(editions: list[Edition]) -> None:
    """For each table of each edition: the as_of of the newest release, at or before
    that edition, whose file differs from the release before it (or is its first)."""
    for i, ed in enumerate(editions):
        for name, table in ed.tables.items():
            j = i
            while (j + 1 < len(editions) and name in editions[j + 1].tables
                   and editions[j + 1].tables[name].raw == table.raw):
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

def plain_csv(table: Table) -> bytes:
    return table.raw


def excel_csv(table: Table) -> bytes:
    """UTF-8 with BOM, CRLF, text neutralised; numbers of number fields untouched."""
    numeric = [f.get("type") in ("number", "integer") for f in table.fields]
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralise(h) for h in table.header])
    for row in table.rows:
        writer.writerow([v if num and _is_number(v) else neutralise(v)
                         for v, num in zip(row, numeric)])
    return codecs.BOM_UTF8 + out.getvalue().encode("utf-8")


def _is_number(text: str) -> bool:
    try:
        return Decimal(text).is_finite()
    except InvalidOperation:
        return False


def json_records(table: Table) -> bytes:
    keys = [json.dumps(n, ensure_ascii=False) for n in table.header]
    lines = ["{" + ",".join(f"{k}:{_json_value(v)}" for k, v in zip(keys, row)) + "}"
             for row in table.typed_rows()]
    return ("[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n").encode("utf-8")


def xlsx(table: Table, ed: Edition, site_url: str | None) -> bytes:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=table.name[:31])
    ws.freeze_panes = "A3"
    titles = [f.get("title", f["name"]) for f in table.fields]
    typed = list(table.typed_rows())
    for i, width in enumerate(_widths(table, titles), start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    bold = Font(bold=True)
    for header_row in (titles, table.header):
        cells = []
        for text in header_row:
            cell = WriteOnlyCell(ws, value=_xlsx_text(text))
            cell.font = bold
            cells.append(cell)
        ws.append(cells)
    for row in typed:
        ws.append([_xlsx_value(v) for v in row])

    info = wb.create_sheet(title="说明")
    info.column_dimensions["A"].width = 16
    info.column_dimensions["B"].width = 80
    cite = citation(ed, site_url)
    for label, value in (
        ("数据表", f"{table.title}（{table.name}）"), ("每行是", table.about),
        ("数据包", ed.meta.get("title", ed.meta.get("name", ""))), ("版本", ed.version),
        ("数据截至", ed.as_of), ("本表最近变更", table.last_change),
        ("许可", "；".join(_license_text(lic) for lic in ed.meta.get("licenses", []))),
        ("引用", cite["text"]),
        ("说明", "第 1 行为中文列名，第 2 行为字段名，数据从第 3 行开始。"
                 "以 = + - @ 等开头的文本已在前面加上 ' 以防被当作公式；原始数据见同名 CSV。"),
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

    when = _as_of_datetime(ed.as_of)
    wb.properties.creator = SITE_NAME
    wb.properties.title = f"{table.title} {ed.version}"
    wb.properties.created = wb.properties.modified = when
    buf = io.BytesIO()
    ExcelWriter(wb, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED)).save()
    # openpyxl stamps zip entries with the clock; rewrite them with as_of.
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src:
        entries = [(i.filename, src.read(i)) for i in src.infolist()]
    return deterministic_zip(entries, ed.as_of)


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
    widths = []
    for i, name in enumerate(table.header):
        longest = max([_display_width(titles[i]), _display_width(name)]
                      + [_display_width(r[i]) for r in table.rows])
        widths.append(min(max(longest + 2, 8), 60))
    return widths


def _display_width(text: str) -> int:
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _as_of_datetime(as_of: str) -> datetime:
    return datetime.fromisoformat(as_of)


def deterministic_zip(entries: list[tuple[str, bytes]], as_of: str) -> bytes:
    """A zip whose bytes depend only on its entries and the as_of date."""
    stamp = _as_of_datetime(as_of).timetuple()[:6]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = 0o644 << 16
            zf.writestr(info, data, compresslevel=9)
    return buf.getvalue()


def standalone_descriptor(ed: Edition) -> dict:
    """The release's descriptor with schemas inlined and each CSV's bytes and sha256."""
    descriptor = {"$schema": V2_PROFILE}  # the schemas use v2 constraints (exclusiveMinimum)
    descriptor.update((k, v) for k, v in ed.meta.items() if k != "resources")
    resources = []
    for res in ed.meta["resources"]:
        table = ed.tables[res["name"]]
        out = {k: v for k, v in res.items() if k != "schema"}
        out.setdefault("title", table.title)
        out.update(path=f"{table.name}.csv", format="csv", mediatype="text/csv",
                   encoding="utf-8", bytes=len(table.raw),
                   hash="sha256:" + hashlib.sha256(table.raw).hexdigest(),
                   schema=table.schema)
        resources.append(out)
    descriptor["resources"] = resources
    return descriptor


def _json_bytes(obj) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def sha256sums(files: dict[str, bytes]) -> bytes:
    return "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n"
                   for name, data in sorted(files.items())).encode("utf-8")


def package_zip(ed: Edition, site_url: str | None) -> bytes:
    files = {DESCRIPTOR_NAME: _json_bytes(standalone_descriptor(ed)),
             "README.md": readme(ed, site_url).encode("utf-8")}
    files.update({f"{t.name}.csv": t.raw for t in ed.tables.values()})
    entries = list(files.items()) + [(SUMS_NAME, sha256sums(files))]
    return deterministic_zip(entries, ed.as_of)


def readme(ed: Edition, site_url: str | None) -> str:
    return environment().get_template("package_readme.md.j2").render(
        edition=ed, citation=citation(ed, site_url), licenses=ed.meta.get("licenses", []),
        datasets=dictionary(ed), zip_name=ZIP_NAME)


def write_edition(ed: Edition, folder: Path, site_url: str | None) -> Written:
    folder.mkdir(parents=True, exist_ok=True)
    written = Written()
    contents: dict[str, bytes] = {}

    def put(name: str, data: bytes, label: str = "") -> FileInfo:
        (folder / name).write_bytes(data)
        contents[name] = data
        return FileInfo(name, len(data), hashlib.sha256(data).hexdigest(), label)

    for table in ed.tables.values():
        makers = {"csv": lambda: plain_csv(table), "excel_csv": lambda: excel_csv(table),
                  "xlsx": lambda: xlsx(table, ed, site_url), "json": lambda: json_records(table)}
        written.tables[table.name] = [put(pattern.format(name=table.name), makers[key](), label)
                                      for key, label, pattern in FORMATS]
    written.package = [put(ZIP_NAME, package_zip(ed, site_url), "数据包 ZIP"),
                       put(DESCRIPTOR_NAME, _json_bytes(standalone_descriptor(ed)), "datapackage.json")]
    (folder / SUMS_NAME).write_bytes(sha256sums(contents))
    return written


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
