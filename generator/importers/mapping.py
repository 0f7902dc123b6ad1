"""A mapping file describes one layout of published result tables: which
files and sheets, where the header is, which column feeds which field, the
constants per sheet, and the reference rows (batches, sources) it brings.

The loader checks the whole file up front and reports every problem as a
DataError(mapping file, None, dotted key, message)."""
from __future__ import annotations

import datetime as dt
import fnmatch
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import yaml

from ..errors import DataError
from .parsers import MISSING, key, squash
from .resolve import FormGroup, UnitSplitter

ID = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
KINDS = ("drug-results",)

# field → (required, default parser, parsers allowed). The parser decides how a
# cell is read; `labels` (a value map) may replace the parser on text fields.
TEXT = ("text",)
BOOL = ("yes_no",)
MONEY = ("price", "number")
CATALOGUE = {
    "results": {
        "batch": (True, "text", TEXT), "unit": (True, "text", TEXT),
        "strength": (True, "text", TEXT), "company": (True, "text", TEXT),
        "company_short": (False, "text", TEXT), "foreign": (False, "yes_no", BOOL),
        "originator": (True, "yes_no", BOOL), "consistency_passed": (False, "yes_no", BOOL),
        "won": (True, "yes_no", BOOL), "backup_supplier": (False, "yes_no", BOOL),
        "max_bid": (False, "price", MONEY), "median_pre": (False, "price", MONEY),
        "bid": (False, "price", MONEY), "supply_regions": (False, "region_list", ("region_list",)),
        "ref_sheet": (False, "text", TEXT), "ref_row": (False, "text", TEXT),
    },
    "volumes": {
        "batch": (True, "text", TEXT), "region": (True, "text", TEXT),
        "unit": (True, "text", TEXT), "strength": (True, "text", TEXT),
        "volume": (True, "number", MONEY),
    },
    "companies": {
        "name": (True, "text", TEXT), "short_name": (False, "text", TEXT),
        "foreign": (False, "yes_no", BOOL),
    },
}
SECTION_KEYS = {"match", "file", "sheet", "sheets", "fields", "header_rows", "encoding",
                "missing", "note_prefixes", "source_id", "source_ref", "unit_prefix",
                "unit_aliases", "strength_aliases", "merge_truncated"}
BATCH_LEVELS = ("national", "alliance", "provincial", "city")
SOURCE_KINDS = ("policy", "result", "notice", "dataset", "sample")


@dataclass
class FieldSpec:
    name: str
    columns: list[str] = field(default_factory=list)  # header alternatives
    value: object = None                              # a constant instead of a column
    parse: str = "text"
    labels: dict | None = None                        # cell text → value; None value = reject row
    unmapped: str = "error"                           # a label not listed: error | reject
    placeholders: list[Decimal] = field(default_factory=list)
    required: bool = False

    @property
    def from_column(self) -> bool:
        return bool(self.columns)


@dataclass
class Section:
    """One table to read: the results, the agreed volumes or a company-name list."""
    name: str
    match: list[str]
    file: str | None
    sheets: dict[str | None, dict]     # sheet name (None = the only/first one) → constants
    fields: dict[str, FieldSpec]
    header_rows: int = 30
    encoding: str = "utf-8"
    missing: frozenset = MISSING
    note_prefixes: tuple = ("注", "备注", "说明")
    source_id: str | None = None
    source_ref: str = "{sheet}!{row}"
    unit_prefix: str = "万"
    unit_aliases: dict = field(default_factory=dict)
    strength_aliases: dict = field(default_factory=dict)
    merge_truncated: bool = True

    def matches(self, path: Path) -> bool:
        return any(fnmatch.fnmatch(path.name, pattern) for pattern in self.match)


@dataclass
class Mapping:
    path: Path
    kind: str
    package: dict
    sources: list[dict]
    batches: list[dict]
    units: UnitSplitter
    category: str
    results: Section
    volumes: Section | None
    companies: Section | None

    @property
    def batch_ids(self) -> set[str]:
        return {b["batch_id"] for b in self.batches}


class MappingError(Exception):
    def __init__(self, errors: list[DataError]):
        super().__init__(f"{len(errors)} mapping error(s)")
        self.errors = errors


def load_mapping(path: Path | str) -> Mapping:
    path = Path(path)
    raw = _read_yaml(path)
    problems = _Problems(path.name)
    mapping = _build(path, raw, problems)
    if problems.errors:
        raise MappingError(problems.errors)
    return mapping


def _read_yaml(path: Path, seen: tuple = ()) -> dict:
    """The mapping file, with `extends: other.yaml` merged under it (top-level
    keys of this file replace the other's)."""
    if not path.is_file():
        raise MappingError([DataError(path.name, None, None, f"找不到映射文件 {path}")])
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise MappingError([DataError(path.name, None, None, f"不是有效的 UTF-8 YAML：{exc}")]) from None
    if not isinstance(raw, dict):
        raise MappingError([DataError(path.name, None, None, "映射文件顶层必须是键值对")])
    base = raw.pop("extends", None)
    if base:
        base_path = (path.parent / base).resolve()
        if base_path in seen:
            raise MappingError([DataError(path.name, None, "extends", "extends 形成循环")])
        merged = _read_yaml(base_path, seen + (path.resolve(),))
        merged.update(raw)
        raw = merged
    return raw


class _Problems:
    def __init__(self, file: str):
        self.file = file
        self.errors: list[DataError] = []

    def add(self, where: str, message: str) -> None:
        self.errors.append(DataError(self.file, None, where, message))


def _build(path: Path, raw: dict, p: _Problems) -> Mapping:
    kind = raw.get("kind")
    if kind not in KINDS:
        p.add("kind", f"kind 必须是 {' / '.join(KINDS)}，实为 {kind!r}")
    package = raw.get("package") or {}
    for k in ("name", "title", "version", "licenses"):
        if not package.get(k):
            p.add(f"package.{k}", f"缺少 package.{k}")
    if package.get("version") and not re.match(r"^\d+\.\d+\.\d+$", str(package["version"])):
        p.add("package.version", "version 必须形如 1.0.0")
    sources = [_row(s, f"sources[{i}]", p, ("source_id", "kind", "issuer", "title", "date"),
                    ("doc_number", "url"), date_keys=("date",))
               for i, s in enumerate(raw.get("sources") or [])]
    for i, s in enumerate(sources):
        if s.get("kind") and s["kind"] not in SOURCE_KINDS:
            p.add(f"sources[{i}].kind", f"kind 必须是 {'/'.join(SOURCE_KINDS)} 之一")
    batches = [_row(b, f"batches[{i}]", p,
                    ("batch_id", "name", "level", "category", "organiser", "announced_date", "source_id"),
                    ("agreement_start", "agreement_years", "renewal_of"),
                    date_keys=("announced_date", "agreement_start"))
               for i, b in enumerate(raw.get("batches") or [])]
    if not batches:
        p.add("batches", "至少需要一个批次（batches）")
    for i, b in enumerate(batches):
        if b.get("level") and b["level"] not in BATCH_LEVELS:
            p.add(f"batches[{i}].level", f"level 必须是 {'/'.join(BATCH_LEVELS)} 之一")
    for what, rows, id_key in (("sources", sources, "source_id"), ("batches", batches, "batch_id")):
        ids = [r.get(id_key) for r in rows]
        for i, v in enumerate(ids):
            if v is not None and not ID.match(str(v)):
                p.add(f"{what}[{i}].{id_key}", f"编号“{v}”必须由小写字母、数字和 - 组成")
            if v is not None and ids.count(v) > 1 and ids.index(v) == i:
                p.add(f"{what}[{i}].{id_key}", f"编号“{v}”重复")
    units_raw = raw.get("units") or {}
    category = units_raw.get("category", "drug")
    splitter = _units(units_raw, p)
    results = _section("results", raw.get("results"), p, required=True)
    volumes = _section("volumes", raw.get("volumes"), p) if raw.get("volumes") else None
    companies = _section("companies", raw.get("companies"), p) if raw.get("companies") else None
    batch_ids = {b.get("batch_id") for b in batches}
    source_ids = {s.get("source_id") for s in sources}
    if results and results.source_id and results.source_id not in source_ids:
        p.add("results.source_id", f"来源“{results.source_id}”不在 sources 中")
    if results and not results.source_id:
        p.add("results.source_id", "缺少 results.source_id（投标记录的出处）")
    for sec in (results, volumes):
        if not sec:
            continue
        for sheet, constants in sec.sheets.items():
            b = constants.get("batch")
            if b is not None and b not in batch_ids:
                p.add(f"{sec.name}.sheets.{sheet}.batch", f"批次“{b}”不在 batches 中")
        f = sec.fields.get("batch")
        if f and f.labels:
            for label, b in f.labels.items():
                if b is not None and b not in batch_ids:
                    p.add(f"{sec.name}.fields.batch.labels.{label}", f"批次“{b}”不在 batches 中")
        if f and f.value is not None and f.value not in batch_ids:
            p.add(f"{sec.name}.fields.batch", f"批次“{f.value}”不在 batches 中")
        if f and not f.from_column and f.value is None and not all("batch" in c for c in sec.sheets.values()):
            p.add(f"{sec.name}.fields.batch", "每行的批次必须来自一列（column + labels）或每个工作表的常量（sheets）")
    return Mapping(path, kind, package, sources, batches, splitter, category, results, volumes, companies)


def _row(raw, where, p: _Problems, required, optional, date_keys=()) -> dict:
    if not isinstance(raw, dict):
        p.add(where, "必须是键值对")
        return {}
    out = {}
    for k in required:
        if raw.get(k) in (None, ""):
            p.add(f"{where}.{k}", f"缺少 {k}")
    for k in (*required, *optional):
        v = raw.get(k)
        if v is None:
            continue
        if k in date_keys:
            if isinstance(v, dt.date):
                v = v.isoformat()
            elif not re.match(r"^\d{4}-\d{2}-\d{2}$", str(v)):
                p.add(f"{where}.{k}", f"日期必须形如 2021-02-03，实为 {v!r}")
        out[k] = str(v) if not isinstance(v, (int, float)) or k not in ("agreement_years",) else v
    for k in sorted(set(raw) - set(required) - set(optional)):
        p.add(f"{where}.{k}", f"未知的键 {k}")
    return out


def _units(raw: dict, p: _Problems) -> UnitSplitter:
    suffixes, prefixes, overrides = {}, {}, {}
    for suffix, spec in (raw.get("form_groups") or {}).items():
        if isinstance(spec, str):
            suffixes[str(suffix)] = FormGroup(str(suffix), spec)
        elif isinstance(spec, dict) and spec.get("smallest_unit"):
            suffixes[str(suffix)] = FormGroup(str(spec.get("form_group", suffix)), str(spec["smallest_unit"]))
        else:
            p.add(f"units.form_groups.{suffix}", "写成 后缀: 最小单位，或 {form_group, smallest_unit}")
    for prefix, spec in (raw.get("prefixes") or {}).items():
        if isinstance(spec, dict) and spec.get("form_group") and spec.get("smallest_unit"):
            prefixes[str(prefix)] = FormGroup(str(spec["form_group"]), str(spec["smallest_unit"]))
        else:
            p.add(f"units.prefixes.{prefix}", "需要 form_group 与 smallest_unit")
    for name, spec in (raw.get("overrides") or {}).items():
        if isinstance(spec, dict) and spec.get("generic_name"):
            group = (FormGroup(str(spec["form_group"]), str(spec["smallest_unit"]))
                     if spec.get("form_group") and spec.get("smallest_unit") else None)
            overrides[str(name)] = (str(spec["generic_name"]), group)
        else:
            p.add(f"units.overrides.{name}", "需要 generic_name（以及 form_group、smallest_unit）")
    if not suffixes and not prefixes and not overrides:
        p.add("units.form_groups", "至少需要一个剂型组后缀（form_groups），用来确定计价的最小单位")
    return UnitSplitter(suffixes, prefixes, overrides)


def _section(name: str, raw, p: _Problems, required: bool = False) -> Section | None:
    if raw is None:
        if required:
            p.add(name, f"缺少 {name} 段")
        return None
    if not isinstance(raw, dict):
        p.add(name, "必须是键值对")
        return None
    for k in sorted(set(raw) - SECTION_KEYS):
        p.add(f"{name}.{k}", f"未知的键 {k}")
    catalogue = CATALOGUE[name]
    match = raw.get("match") or []
    match = [match] if isinstance(match, str) else [str(m) for m in match]
    sheets_raw = raw.get("sheets")
    if sheets_raw is None and raw.get("sheet"):
        sheets_raw = {raw["sheet"]: {}}
    sheets: dict[str | None, dict] = {}
    if isinstance(sheets_raw, dict):
        for sheet, constants in sheets_raw.items():
            constants = constants or {}
            if not isinstance(constants, dict):
                p.add(f"{name}.sheets.{sheet}", "工作表的常量必须是键值对，如 {batch: nat-drug-4}")
                constants = {}
            for k in constants:
                if k not in catalogue:
                    p.add(f"{name}.sheets.{sheet}.{k}", f"未知字段 {k}（可用：{', '.join(catalogue)}）")
            sheets[str(sheet)] = {k: str(v) if v is not None else None for k, v in constants.items()}
    elif isinstance(sheets_raw, list):
        sheets = {str(s): {} for s in sheets_raw}
    elif sheets_raw is not None:
        p.add(f"{name}.sheets", "sheets 必须是 工作表名: {常量} 的键值对或工作表名列表")
    if not sheets:
        sheets = {None: {}}
    fields_raw = raw.get("fields") or {}
    fields: dict[str, FieldSpec] = {}
    for fname, spec in fields_raw.items():
        if fname not in catalogue:
            p.add(f"{name}.fields.{fname}", f"未知字段 {fname}（可用：{', '.join(catalogue)}）")
            continue
        fields[fname] = _field(name, fname, spec, catalogue[fname], p)
    for fname, (req, default, _) in catalogue.items():
        if fname in fields:
            continue
        constant_everywhere = all(fname in c for c in sheets.values())
        if req and not constant_everywhere:
            p.add(f"{name}.fields.{fname}", f"缺少必填字段 {fname}（给出来源列 column 或常量 value）")
        if constant_everywhere:
            fields[fname] = FieldSpec(fname, parse=default, required=req)
    missing = raw.get("missing")
    header_rows = raw.get("header_rows", 30)
    if not isinstance(header_rows, int) or header_rows < 1:
        p.add(f"{name}.header_rows", "header_rows 必须是正整数")
        header_rows = 30
    return Section(
        name=name, match=match, file=raw.get("file"), sheets=sheets, fields=fields,
        header_rows=header_rows, encoding=str(raw.get("encoding", "utf-8")),
        missing=frozenset(squash(m) for m in missing) if missing else MISSING,
        note_prefixes=tuple(raw.get("note_prefixes", ("注", "备注", "说明"))),
        source_id=raw.get("source_id"), source_ref=str(raw.get("source_ref", "{sheet}!{row}")),
        unit_prefix=str(raw.get("unit_prefix", "万")),
        unit_aliases={key(k): str(v) for k, v in (raw.get("unit_aliases") or {}).items()},
        strength_aliases={key(k).replace("µ", "μ"): str(v) for k, v in (raw.get("strength_aliases") or {}).items()},
        merge_truncated=bool(raw.get("merge_truncated", True)),
    )


def _field(section: str, name: str, spec, entry, p: _Problems) -> FieldSpec:
    required, default, allowed = entry
    where = f"{section}.fields.{name}"
    if isinstance(spec, (str, list)):
        spec = {"column": spec}
    if not isinstance(spec, dict):
        p.add(where, "写成 来源列名、来源列名列表，或 {column, parse, labels, placeholders, value}")
        return FieldSpec(name, required=required)
    unknown = set(spec) - {"column", "value", "parse", "labels", "unmapped", "placeholders"}
    for k in sorted(unknown):
        p.add(f"{where}.{k}", f"未知的键 {k}")
    columns = spec.get("column") or []
    columns = [columns] if isinstance(columns, str) else [str(c) for c in columns]
    if not columns and spec.get("value") is None:
        p.add(where, "需要来源列 column 或常量 value")
    parse = spec.get("parse", default)
    if parse not in allowed:
        p.add(f"{where}.parse", f"字段 {name} 可用的解析器：{', '.join(allowed)}；实为 {parse!r}")
    labels = spec.get("labels")
    if labels is not None and not isinstance(labels, dict):
        p.add(f"{where}.labels", "labels 必须是 原文: 值 的键值对")
        labels = None
    unmapped = spec.get("unmapped", "error")
    if unmapped not in ("error", "reject"):
        p.add(f"{where}.unmapped", "unmapped 必须是 error 或 reject")
    placeholders = []
    for v in spec.get("placeholders") or []:
        try:
            placeholders.append(Decimal(str(v)))
        except ArithmeticError:
            p.add(f"{where}.placeholders", f"占位值必须是数字：{v!r}")
    value = spec.get("value")
    return FieldSpec(name, columns, str(value) if value is not None else None, parse,
                     {key(k): v for k, v in labels.items()} if labels else None,
                     unmapped, placeholders, required)
