"""One import run: mapping + source files → a validated data package, written
atomically, with its accounting report and, over an existing package, the
list of changes printed before anything is replaced.

Nothing is written unless every source row was read and accounted for and the
staged package validates (Frictionless + generator/checks.py)."""
from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from .. import package as pkgmod
from ..diff import DiffReport, diff_packages, open_package, to_markdown
from ..errors import DataError, InvalidPackage
from .accounting import Ledger
from .assemble import Assembler
from .mapping import Mapping, MappingError, Section, load_mapping
from .readers import ReadError, SourceTable, read_section
from .volumes import join_volumes

REFERENCE_DIR = pkgmod.DEFAULT_DATA  # regions.csv and sources.csv come from the repository
CARRIED = ("payment_standards", "execution_notices")  # tables an import of results does not make


class ImportFailed(Exception):
    """The import stopped and wrote nothing; `errors` say file, row, field, message."""

    def __init__(self, message: str, errors: list[DataError]):
        super().__init__(message)
        self.message = message
        self.errors = errors


@dataclass
class ImportResult:
    out_dir: Path
    report_path: Path | None
    ledger: Ledger
    changes: DiffReport
    tables: dict[str, pd.DataFrame]
    written: bool


def default_report_path(out_dir: Path) -> Path:
    return out_dir.parent / f"{out_dir.name}.import-report.csv"


@dataclass
class Prepared:
    """Everything an import decides before writing: the package's descriptor
    and tables, and the accounting of every source row."""
    mapping: Mapping
    meta: dict
    tables: dict[str, pd.DataFrame]
    ledger: Ledger
    notes: list[str]


def prepare(mapping_path: Path | str, sources: list[Path | str], out_dir: Path | str | None = None) -> Prepared:
    """Read and assemble; raise ImportFailed on any unreadable source row.
    With out_dir, tables an import does not make are carried over from it."""
    sources = [Path(s).resolve() for s in sources]
    try:
        mapping = load_mapping(mapping_path)
    except MappingError as exc:
        raise ImportFailed("映射文件有误", exc.errors) from None
    files = assign_sources(mapping, sources)
    ledger = Ledger()
    asm = Assembler(mapping, _read_reference("regions"), ledger)
    books: dict = {}  # workbooks loaded once per run
    asm.read_results(_read(mapping.results, files["results"], books))
    if mapping.companies and files["companies"]:
        asm.read_company_names(_read(mapping.companies, files["companies"], books))
    if asm.errors:
        raise ImportFailed(f"来源数据有 {len(asm.errors)} 处无法导入，未写入任何文件", asm.errors)
    asm.settle_winners()
    if mapping.volumes and files["volumes"]:
        errors = join_volumes(asm, _read(mapping.volumes, files["volumes"], books), ledger)
        if errors:
            raise ImportFailed(f"约定采购量表有 {len(errors)} 处无法导入，未写入任何文件", errors)
    missing = ledger.unaccounted()
    if missing or not ledger.balanced():  # a bug in the importer, never the data's fault
        raise ImportFailed("导入核算不平衡（导入程序错误），未写入任何文件",
                           [DataError(f, r, None, "该行没有去向") for f, _, r in missing[:50]])
    tables = asm.tables(_sources_table(mapping))
    notes = _carry_over(Path(out_dir).resolve(), tables) if out_dir else []
    return Prepared(mapping, _meta(mapping, tables), tables, ledger, notes)


def run_import(mapping_path: Path | str, sources: list[Path | str], out_dir: Path | str,
               report_path: Path | str | None = None, dry_run: bool = False,
               echo: Callable[[str], None] = print) -> ImportResult:
    """Import, print the accounting and the changes, then replace the package
    in out_dir atomically, or raise ImportFailed having written nothing."""
    out_dir = Path(out_dir).resolve()
    _check_target(out_dir)
    prep = prepare(mapping_path, sources, out_dir)
    echo(prep.ledger.summary())
    for line in prep.notes:
        echo(line)

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.import-", dir=out_dir.parent))
    try:
        staged = staging / "package"
        pkgmod.write_package(staged, prep.meta, prep.tables)
        try:  # package.validate() is load() with the errors caught; the diff needs the loaded package
            new = pkgmod.load(staged)
        except InvalidPackage as exc:
            raise ImportFailed(f"导入得到的数据包未通过校验（{len(exc.errors)} 个错误），未写入任何文件",
                               exc.errors) from None
        old, _ = open_package(out_dir, strict=False)  # no package there yet: an empty one
        changes = diff_packages(old, new)
        if (out_dir / pkgmod.DESCRIPTOR).is_file():
            echo(to_markdown(changes, f"{out_dir}（现有）", "本次导入", limit=20))
        else:
            counts = "，".join(f"{name} {len(frame)}" for name, frame in prep.tables.items())
            echo(f"{out_dir} 原先没有数据包，将新建：{counts}")
        if dry_run:
            echo("试运行（--dry-run）：未写入任何文件")
            return ImportResult(out_dir, None, prep.ledger, changes, prep.tables, False)
        pkgmod.swap_in(staged, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    report = Path(report_path).resolve() if report_path else default_report_path(out_dir)
    prep.ledger.write_csv(report)
    echo(f"数据包已写入：{out_dir}")
    echo(f"核算报告：{report}")
    return ImportResult(out_dir, report, prep.ledger, changes, prep.tables, True)


def _check_target(out_dir: Path) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise ImportFailed("输出位置不是目录", [DataError(str(out_dir), None, None, "--out 必须是目录")])
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / pkgmod.DESCRIPTOR).is_file():
        raise ImportFailed("输出目录不是数据包，拒绝覆盖", [DataError(
            str(out_dir), None, None, "目录非空且没有 datapackage.json：请换一个目录或先清空它")])


def assign_sources(mapping: Mapping, sources: list[Path]) -> dict[str, list[Path]]:
    """Which SOURCE feeds which section: by the sections' `match` patterns;
    volumes and company names named by `file:` are looked for beside the
    results file when not given."""
    files = {"results": [], "volumes": [], "companies": []}
    errors = []
    for path in sources:
        for name in ("volumes", "companies", "results"):
            sec: Section | None = getattr(mapping, name)
            if sec and sec.match and sec.matches(path):
                files[name].append(path)
                break
        else:
            if mapping.results.match:
                patterns = "；".join(f"{n}: {', '.join(getattr(mapping, n).match)}"
                                     for n in ("results", "volumes", "companies")
                                     if getattr(mapping, n) and getattr(mapping, n).match)
                errors.append(DataError(path.name, None, None, f"文件名不匹配映射中任何一段的 match（{patterns}）"))
            else:
                files["results"].append(path)
    if not files["results"] and not errors:
        errors.append(DataError(mapping.path.name, None, "results.match", "没有给出结果表（results）文件"))
    if errors:
        raise ImportFailed("来源文件与映射不符", errors)
    base = files["results"][0].parent
    for name in ("volumes", "companies"):
        sec = getattr(mapping, name)
        if sec is None or files[name]:
            continue
        if sec.file:
            path = Path(sec.file) if Path(sec.file).is_absolute() else base / sec.file
            if not path.is_file():
                raise ImportFailed("映射指定的文件不存在", [DataError(
                    mapping.path.name, None, f"{name}.file",
                    f"找不到 {path}：把它作为 SOURCE 给出，或修改映射中的 {name}.file")])
            files[name] = [path]
        elif list(sec.sheets) != [None]:
            files[name] = [p for p in files["results"] if p.suffix.lower() in (".xlsx", ".xlsm", ".xls")]
    return files


def _read(section: Section, paths: list[Path], books: dict | None = None) -> list[SourceTable]:
    tables, errors = [], []
    for path in paths:
        try:
            tables += read_section(path, section, books)
        except ReadError as exc:
            errors += exc.errors
    if errors:
        raise ImportFailed(f"无法读取来源文件（{len(errors)} 个错误），未写入任何文件", errors)
    return tables


def _read_reference(name: str, data_dir: Path = REFERENCE_DIR) -> pd.DataFrame:
    return pd.read_csv(data_dir / f"{name}.csv", dtype=str, keep_default_na=False,
                       encoding="utf-8-sig").replace({"": None}).astype(object)


def _sources_table(mapping: Mapping) -> pd.DataFrame:
    """The repository's sources (the sample's own row left out) plus the mapping's."""
    repo = _read_reference("sources")
    repo = repo[repo["kind"] != "sample"]
    ours = pd.DataFrame(mapping.sources).astype(object)
    out = pd.concat([repo[~repo["source_id"].isin(ours["source_id"])], ours], ignore_index=True)
    return out.reindex(columns=[f["name"] for f in pkgmod.load_schema("sources")["fields"]]).astype(object)


def _carry_over(out_dir: Path, tables: dict[str, pd.DataFrame]) -> list[str]:
    """Re-importing results must not lose what the results do not hold: keep the
    existing package's payment standards and execution notices (and the source
    rows they cite). Validation then checks they still fit the new winners."""
    if not (out_dir / pkgmod.DESCRIPTOR).is_file():
        return []
    lines = []
    cited = set()
    for name in CARRIED:
        path = out_dir / f"{name}.csv"
        if not path.is_file():
            continue
        old = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        if old.empty:
            continue
        old = old.replace({"": None}).astype(object)
        tables[name] = old.reindex(columns=[f["name"] for f in pkgmod.load_schema(name)["fields"]])
        cited |= set(old.get("source_id", pd.Series(dtype=object)).dropna())
        lines.append(f"保留现有数据包中的 {name}：{len(old)} 行（导入的结果表不含此表）")
    old_sources = out_dir / "sources.csv"
    if cited and old_sources.is_file():
        have = set(tables["sources"]["source_id"])
        old = pd.read_csv(old_sources, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        keep = old[old["source_id"].isin(cited - have)].replace({"": None}).astype(object)
        if len(keep):
            tables["sources"] = pd.concat([tables["sources"], keep], ignore_index=True)
            lines.append(f"保留现有数据包中被引用的来源：{len(keep)} 行")
    return lines


def _meta(mapping: Mapping, tables: dict[str, pd.DataFrame]) -> dict:
    """Descriptor fields; as_of is the latest date in the imported data."""
    p = mapping.package
    dates = [b["announced_date"] for b in mapping.batches] + [s["date"] for s in mapping.sources]
    dates += [d for d in tables["prices"]["effective_date"].dropna()]
    meta = {
        "name": str(p["name"]), "title": str(p["title"]), "version": str(p["version"]),
        "as_of": max(dates), "sample": False, "licenses": p["licenses"],
        "sources": [{"title": s["title"], **({"path": s["url"]} if s.get("url") else {})}
                    for s in mapping.sources],
    }
    if p.get("description"):
        meta["description"] = str(p["description"])
    json.dumps(meta)  # fail here, not half-way through writing, if the mapping holds odd values
    return meta
