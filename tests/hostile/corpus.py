"""The hostile-input corpus (cases.yaml): loading, applying recipes to a copy of
data/, the one shared hostile site, and readers for what a page shows."""
from __future__ import annotations

import csv
import hashlib
import re
import shutil
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from conftest import DATA, copy_data, read_rows, write_rows

HERE = Path(__file__).resolve().parent
CASES = yaml.safe_load((HERE / "cases.yaml").read_text(encoding="utf-8"))
CSV_FILES = sorted(p.name for p in DATA.glob("*.csv"))


def cases(*expect: str) -> list[dict]:
    return [c for c in CASES if c["expect"] in expect]


def case_ids(selected: list[dict]) -> list[str]:
    return [c["id"] for c in selected]


# ------------------------------------------------------------------ recipes

def _files(spec: str) -> list[str]:
    return CSV_FILES if spec == "*" else [spec]


def _value(v):
    if isinstance(v, dict) and "repeat" in v:
        text, n = v["repeat"]
        return text * n
    return v


def _read_table(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def _write_table(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)


def _row_of(rows: list[dict], match: dict) -> int:
    for i, row in enumerate(rows):
        if all(row[k] == v for k, v in match.items()):
            return i
    raise AssertionError(f"no row matches {match}")


def apply(recipe: dict, data: Path) -> dict:
    """Apply one recipe to the package in `data`; return the rows it names
    ({"match": n, "last": n}, header = row 1)."""
    rows_named: dict = {}
    for op, arg in recipe.items():
        if op == "encode":
            path = data / arg["file"]
            path.write_bytes(path.read_text(encoding="utf-8").encode(arg["encoding"]))
        elif op == "set":
            path = data / arg["file"]
            rows = read_rows(path)
            i = _row_of(rows, arg["match"])
            rows[i].update({k: _value(v) for k, v in arg["values"].items()})
            write_rows(path, rows)
            rows_named["match"] = i + 2
        elif op == "bytes":
            for name in _files(arg["file"]):
                path = data / name
                raw = path.read_bytes()
                find, replace = arg["find"].encode(), arg["replace"].encode()
                assert find in raw, (name, find)
                path.write_bytes(raw.replace(find, replace, arg.get("count", -1)))
        elif op in ("prepend", "append"):
            for name in _files(arg["file"]):
                path = data / name
                extra = arg["text"].encode()
                raw = path.read_bytes()
                path.write_bytes(extra + raw if op == "prepend" else raw + extra)
        elif op == "header":
            path = data / arg["file"]
            table = _read_table(path)
            if "rename" in arg:
                table[0] = [arg["rename"].get(h, h) for h in table[0]]
            if "drop" in arg:
                col = table[0].index(arg["drop"])
                table = [r[:col] + r[col + 1:] for r in table]
            if "add" in arg:
                table = [table[0] + [arg["add"]]] + [r + [""] for r in table[1:]]
            _write_table(path, table)
        elif op == "duplicate":
            path = data / arg["file"]
            rows = read_rows(path)
            rows.append(dict(rows[_row_of(rows, arg["match"])]))
            write_rows(path, rows)
            rows_named["last"] = len(rows) + 1
        elif op == "truncate":
            path = data / arg["file"]
            header = path.read_bytes().split(b"\n", 1)[0] + b"\n"
            path.write_bytes(header if arg["keep_header"] else b"")
        elif op == "descriptor":
            path = data / "datapackage.json"
            if arg.get("remove"):
                path.unlink()
            else:
                path.write_text(arg["text"], encoding="utf-8")
        else:
            raise AssertionError(f"unknown recipe operation {op!r}")
    return rows_named


def prepared(case: dict, dest: Path) -> tuple[Path, dict]:
    data = copy_data(dest)
    return data, apply(case["recipe"], data)


# ------------------------------------------------------------------ the hostile site

@pytest.fixture(scope="session")
def hostile_data(tmp_path_factory) -> Path:
    """data/ with every `publish` case applied (each to its own record and field)."""
    data = copy_data(tmp_path_factory.mktemp("hostile") / "data")
    for case in cases("publish"):
        apply(case["recipe"], data)
    return data


@pytest.fixture(scope="session")
def hostile_site(hostile_data) -> Path:
    """The real build of the hostile data, once per session. Built in a thread of its
    own: the search stage runs asyncio, which fails inside Playwright's event loop
    if a browser test started first."""
    from generator.build import build

    out = hostile_data.parent / "site"
    with ThreadPoolExecutor(1) as pool:
        pool.submit(build, hostile_data, out).result()
    return out


# ------------------------------------------------------------------ reading pages

def norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


class _Page(HTMLParser):
    """Runs of visible text (between two tags, entities decoded; not inside
    <script>, <style> or <template>) and every element's attributes."""

    RAW = {"script", "style", "template"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.runs: list[str] = []
        self.elements: list[tuple[str, dict]] = []
        self._run: list[str] = []
        self._raw = 0

    def _flush(self):
        if self._run:
            self.runs.append(norm("".join(self._run)))
            self._run = []

    def handle_starttag(self, tag, attrs):
        self._flush()
        self.elements.append((tag, {k: v or "" for k, v in attrs}))
        if tag in self.RAW:
            self._raw += 1

    def handle_startendtag(self, tag, attrs):
        self._flush()
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        self._flush()
        if tag in self.RAW and self._raw:
            self._raw -= 1

    def handle_data(self, data):
        if not self._raw:
            self._run.append(data)

    def close(self):
        super().close()
        self._flush()


def read_page(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    page.close()
    return page


def shows_as_text(page: _Page, value: str) -> bool:
    """The value is visible as one run of text: escaped, not parsed as markup."""
    wanted = norm(value)
    return any(wanted in run for run in page.runs)


def snapshot(folder: Path) -> dict[str, str]:
    """sha256 of every file under folder, by relative path."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def copy_site(src: Path, dest: Path) -> Path:
    shutil.copytree(src, dest)
    return dest
