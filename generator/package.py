"""Load and validate a data package: Frictionless for what the schemas say,
checks.py for what they cannot, both reported as DataError."""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from frictionless import Package as FlPackage
from frictionless import system

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
    """Validate and load a package; raise InvalidPackage with every error found."""
    from .checks import run_checks  # checks need typed tables, so they come after

    data_dir = Path(data_dir)
    meta, errors = _read_descriptor(data_dir)
    if errors:
        raise InvalidPackage(errors)
    errors = [e for name in RESOURCES for e in _check_file(data_dir, name)]
    if errors:
        raise InvalidPackage(errors)
    errors = _frictionless_errors(data_dir)
    if errors:
        raise InvalidPackage(errors)
    pkg = Package(data_dir, meta, {name: _read_table(data_dir, name) for name in RESOURCES})
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


def _check_file(data_dir: Path, name: str) -> list[DataError]:
    """What must hold before a CSV parser may look at the file."""
    file = f"{name}.csv"
    path = data_dir / file
    if not path.is_file():
        return [DataError(file, None, None, "文件不存在")]
    raw = path.read_bytes()
    if not raw.strip():
        return [DataError(file, None, None, "文件为空，至少需要表头行")]
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        return [DataError(file, line, None, "文件含有 NUL 空字节，可能是二进制文件或编码错误")]
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        guess = ""
        try:
            raw.decode("gb18030")
            guess = "（看起来是 GBK/GB18030 编码）"
        except UnicodeDecodeError:
            pass
        return [DataError(file, line, None, f"文件不是 UTF-8 编码{guess}，请另存为 UTF-8")]
    return []


def _frictionless_errors(data_dir: Path) -> list[DataError]:
    descriptor = {
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": "package",
        "resources": [
            {"name": n, "path": f"{n}.csv", "format": "csv", "encoding": "utf-8-sig",
             "schema": load_schema(n)}
            for n in RESOURCES
        ],
    }
    with system.use_context(trusted=False):
        report = FlPackage(descriptor, basepath=str(data_dir)).validate(limit_errors=1000)
    errors = []
    for task in report.tasks:
        file = f"{task.name}.csv"
        for err in task.errors:
            row = getattr(err, "row_number", None)
            fld = getattr(err, "field_name", None)
            errors.append(DataError(file, row, fld, _describe(err)))
    for err in report.errors:
        errors.append(DataError(DESCRIPTOR, None, None, f"{err.title}：{err.note}"))
    return errors


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


def _read_table(data_dir: Path, name: str) -> pd.DataFrame:
    """Read a CSV that passed Frictionless into typed columns (missing = None/NaN)."""
    schema = load_schema(name)
    df = pd.read_csv(data_dir / f"{name}.csv", dtype=object, keep_default_na=False,
                     encoding="utf-8-sig")
    for fdesc in schema["fields"]:
        col, kind = fdesc["name"], fdesc["type"]
        values = [None if v == "" else v for v in df[col]]
        if kind == "number":
            df[col] = pd.Series([float("nan") if v is None else float(v) for v in values], dtype=float)
        elif kind == "integer":
            df[col] = pd.array([None if v is None else int(v) for v in values], dtype="Int64")
        elif kind == "boolean":
            df[col] = pd.Series([None if v is None else v.strip().lower() in TRUE for v in values], dtype=object)
        else:
            df[col] = pd.Series(values, dtype=object)
    return df


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


def _csv_cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, ".10g") if not value.is_integer() else str(int(value))
    return str(value)


def swap_in(new: Path, target: Path) -> None:
    """Replace target by new with renames only, so a reader never sees half a folder."""
    old = target.with_name(f".{target.name}.old")
    if old.exists():
        shutil.rmtree(old)
    if target.exists():
        os.replace(target, old)
    os.replace(new, target)
    if old.exists():
        shutil.rmtree(old)
