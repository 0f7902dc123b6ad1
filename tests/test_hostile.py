"""Hostile and broken input (issue #10): every case of tests/hostile/cases.yaml gets
the behaviour written there. Rejected input stops the build with file, row, field
and problem and leaves the previous site alone; legal text that looks like code is
published escaped, inert and neutralised."""
from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile

import pandas as pd
import pytest

from conftest import DATA, ROOT
from generator.build import build
from generator.errors import InvalidPackage
from generator.package import load, validate
from hostile.corpus import (CASES, case_ids, cases, norm, prepared, read_page, shows_as_text,
                            snapshot)

REJECT = cases("reject")
CLI = [c for c in REJECT if c.get("cli")]
ACCEPT = cases("accept", "accept-empty")
PUBLISH = cases("publish")
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def test_corpus_is_complete():
    """At least 30 cases, unique ids, each with a known behaviour, and every kind of
    input the issue names is covered."""
    ids = [c["id"] for c in CASES]
    assert len(ids) >= 30 and len(ids) == len(set(ids))
    assert {c["expect"] for c in CASES} <= {"reject", "accept", "accept-empty", "publish"}
    for c in REJECT:
        assert c["errors"], c["id"]
    for c in PUBLISH:
        assert c["lands_on"], c["id"]
    text = "\n".join(_strings(CASES))
    for needle in ["gbk", "gb18030", "utf-16", "\ufeff", "\r\n", "drop", "add", "rename",
                   "duplicate", "c-nobody", "-3.5700", "０", "0.56元", "1,099.96", "43732",
                   "2021/5/1", "keep_header", "药", "\x00", "\u200b", "\u202e", "شركة",
                   "💊", "<script>", "onerror=", "javascript:", " | ", "\n\n", "{{", "{%",
                   "=HYPERLINK("]:
        assert needle in text, needle


def _strings(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)
    else:
        yield str(node)


def _error_matches(err, want: dict, named: dict) -> bool:
    row = want["row"]
    row = named.get(row, row) if isinstance(row, str) else row
    return (err.file == want["file"] and err.row == row and err.field == want["field"]
            and all(str(w) in err.message for w in want.get("words", [])))


@pytest.fixture
def previous_site(tmp_path):
    """A published site that a refused build must leave byte for byte."""
    out = tmp_path / "site"
    (out / "assets").mkdir(parents=True)
    (out / "index.html").write_text("<!doctype html><title>上一版</title>", encoding="utf-8")
    (out / "assets" / "x.css").write_bytes(b"body{}")
    return out


@pytest.mark.parametrize("case", REJECT, ids=case_ids(REJECT))
def test_reject(case, tmp_path, previous_site):
    data, named = prepared(case, tmp_path / "data")
    before = snapshot(previous_site)
    with pytest.raises(InvalidPackage) as raised:
        build(data, previous_site)
    errors = raised.value.errors
    for want in case["errors"]:
        assert any(_error_matches(e, want, named) for e in errors), \
            f"{case['id']}: expected {want} (rows {named}), got {errors[:10]}"
    assert snapshot(previous_site) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "site"]  # no staging left


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "generator", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)


def _no_traceback(result):
    assert "Traceback" not in result.stdout + result.stderr, result.stderr


@pytest.mark.parametrize("case", CLI, ids=case_ids(CLI))
def test_reject_on_the_command_line(case, tmp_path, previous_site):
    data, named = prepared(case, tmp_path / "data")
    before = snapshot(previous_site)
    result = _cli("build", "--data", str(data), "--out", str(previous_site))
    assert result.returncode == 1, result.stdout + result.stderr
    _no_traceback(result)
    for want in case["errors"]:
        row = want["row"]
        row = named.get(row, row) if isinstance(row, str) else row
        cells = [want["file"], "" if row is None else str(row), want["field"] or ""]
        lines = [[c.strip() for c in line.split(" | ")] for line in result.stdout.splitlines()]
        assert any(line[:3] == cells and all(str(w) in line[3] for w in want.get("words", []))
                   for line in lines if len(line) >= 4), (cells, result.stdout)
    assert "未发布任何内容" in result.stderr
    assert snapshot(previous_site) == before


def test_command_line_without_a_package(tmp_path):
    """A folder that does not exist, in a real process: a table, exit 1, no traceback."""
    result = _cli("build", "--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "site"))
    assert result.returncode == 1
    _no_traceback(result)
    assert "datapackage.json" in result.stdout and "找不到" in result.stdout
    assert not (tmp_path / "site").exists()


@pytest.mark.parametrize("args,words", [
    (["validate", "--data", "/nonexistent/vbp-data"], ["datapackage.json", "找不到"]),
    (["build", "--data", str(ROOT / "README.md")], ["datapackage.json"]),
    (["build", "--out", str(ROOT)], ["--out", "整个替换"]),
    (["build", "--out", str(DATA)], ["--out", "整个替换"]),
    (["build", "--out", str(ROOT / "README.md")], ["不是目录"]),
])
def test_command_line_refuses_without_a_traceback(args, words, capsys):
    """The CLI's own handling (in this process: a traceback would fail the test)."""
    from generator.__main__ import main

    before = snapshot(DATA)
    assert main(args) == 1
    out = capsys.readouterr()
    for word in words:
        assert word in out.out + out.err, (word, out)
    assert snapshot(DATA) == before
    assert (ROOT / "README.md").is_file()


def test_out_dir_that_is_not_a_site_is_left_alone(tmp_path, capsys):
    """--out pointing at a folder of other files: refused before anything is built."""
    from generator.__main__ import main

    out = tmp_path / "notes"
    out.mkdir()
    (out / "draft.txt").write_text("不要删除", encoding="utf-8")
    assert main(["build", "--out", str(out)]) == 1
    assert "index.html" in capsys.readouterr().err
    assert (out / "draft.txt").read_text(encoding="utf-8") == "不要删除"


def test_unexpected_error_is_one_line_not_a_traceback(tmp_path, monkeypatch, capsys):
    """A bug a strange input could reach (here: a stage that raises) still ends with
    a short message and exit 2, and the previous site stays."""
    import generator.render as render
    from generator.__main__ import main

    def broken_stage(ctx):
        raise KeyError("supply_regions")

    monkeypatch.setattr(render, "DOC_STAGES", [("broken", broken_stage)])
    monkeypatch.delenv("VBP_TRACEBACK", raising=False)
    out = tmp_path / "site"
    out.mkdir()
    (out / "index.html").write_text("上一版", encoding="utf-8")
    assert main(["build", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "KeyError" in err and "supply_regions" in err and "未发布任何内容" in err
    assert "Traceback" not in err
    assert (out / "index.html").read_text(encoding="utf-8") == "上一版"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


@pytest.fixture(scope="module")
def sample_tables():
    return load(DATA).tables


@pytest.mark.parametrize("case", ACCEPT, ids=case_ids(ACCEPT))
def test_accept_loads_the_same_figures(case, tmp_path, sample_tables):
    data, _ = prepared(case, tmp_path / "data")
    assert validate(data) == []
    tables = load(data).tables
    for name, frame in tables.items():
        if name in case.get("empty", []):
            assert frame.empty and list(frame.columns) == list(sample_tables[name].columns)
        else:
            pd.testing.assert_frame_equal(frame, sample_tables[name], obj=name)


# ------------------------------------------------------------------ published safely

def test_hostile_site_builds(hostile_site):
    """The whole hostile package builds; generator/safety.py (the last stage) found no
    inline script, event handler or script URL on any page."""
    assert (hostile_site / "index.html").is_file()


@pytest.fixture(scope="module")
def pages(hostile_site):
    cache = {}

    def get(rel):
        if rel not in cache:
            path = hostile_site / rel
            assert path.is_file(), f"page {rel} is missing from the hostile site"
            cache[rel] = read_page(path)
        return cache[rel]
    return get


def _value(case) -> str:
    (values,) = [v for op, arg in case["recipe"].items() if op == "set" for v in arg["values"].values()]
    return values


@pytest.mark.parametrize("case", PUBLISH, ids=case_ids(PUBLISH))
def test_published_as_text(case, pages):
    """On each page it lands on, the value is one run of visible text (or, for a link,
    the exact href): not HTML, not Markdown, not Jinja."""
    value = _value(case)
    for rel in case["lands_on"]:
        page = pages(rel)
        if case.get("link"):
            hrefs = [a.get("href") for tag, a in page.elements if tag == "a"]
            assert value in hrefs, f"{case['id']}: {value!r} is not an href on {rel}"
        else:
            assert shows_as_text(page, value), \
                f"{case['id']}: {norm(value)!r} is not shown as text on {rel}"


ACTIVE_ATTRS = {"href", "src", "srcset", "action", "formaction", "xlink:href", "poster", "data",
                "style"}


def test_nothing_from_the_data_became_markup(hostile_site):
    """No link, source, style or handler anywhere carries a payload from the data (a
    Markdown image or autolink, an <img>, <svg onload>), except a link's own href.
    Text attributes (title, aria-label, data-*) may carry the text, escaped."""
    links = {_value(c) for c in PUBLISH if c.get("link")}
    bad = []
    for path in sorted(hostile_site.rglob("*.html")):
        for tag, attrs in read_page(path).elements:
            for name, value in attrs.items():
                if name not in ACTIVE_ATTRS and not name.startswith("on"):
                    continue
                if name == "href" and value in links:
                    continue
                if any(marker in value for marker in ("evil.example", "hx-", "已篡改", "alert(")):
                    bad.append((path.relative_to(hostile_site).as_posix(), tag, name, value))
    assert not bad, bad[:20]


def _spreadsheets(site):
    """Text cells of every spreadsheet download: BOM-CSV (for Excel) and XLSX."""
    from openpyxl import load_workbook

    for path in sorted(site.rglob("*")):
        rel = path.relative_to(site).as_posix()
        if path.suffix == ".csv" and path.read_bytes().startswith(b"\xef\xbb\xbf"):
            text = path.read_text(encoding="utf-8-sig")
            for row in csv.reader(io.StringIO(text)):
                for cell in row:
                    yield rel, cell, "s"
        elif path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as zf:
                assert not any(n.startswith("xl/externalLinks") for n in zf.namelist()), rel
            wb = load_workbook(path)
            for ws in wb.worksheets:
                for row in ws.iter_rows():
                    for c in row:
                        if c.value is not None:
                            yield rel, c.value, c.data_type


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_spreadsheet_downloads_are_neutralised(hostile_site):
    """No formula and no text cell that a spreadsheet would run, in any BOM-CSV or
    XLSX; each formula-like value is there, behind an apostrophe."""
    cells = list(_spreadsheets(hostile_site))
    if not cells:
        pytest.skip("the site has no spreadsheet downloads yet (issue 7)")
    dangerous = [(rel, v) for rel, v, kind in cells
                 if kind == "f" or (kind == "s" and isinstance(v, str) and v.startswith(FORMULA)
                                    and not _is_number(v))]
    assert not dangerous, dangerous[:20]
    texts = {v for _, v, kind in cells if kind == "s"}
    for case in PUBLISH:
        if case.get("spreadsheet"):
            assert "'" + _value(case) in texts, f"{case['id']}: neutralised value not in any download"
