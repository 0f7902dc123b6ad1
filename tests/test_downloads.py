"""Downloads (issue 7): every file a reader takes away is opened with the
library that reader would use (pandas, openpyxl, json, zipfile, frictionless)
and compared with data/ read independently; checksums match; formula-like text
is neutralised only in the spreadsheet formats; releases keep stable files."""
from __future__ import annotations

import codecs
import csv
import hashlib
import html
import io
import json
import re
import shutil
import subprocess
import zipfile
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from conftest import DATA, ROOT, copy_data, read_rows, write_rows
from generator.build import BuildContext
from generator.package import load

META = json.loads((DATA / "datapackage.json").read_text(encoding="utf-8"))
NAMES = [r["name"] for r in META["resources"]]
VERSION, AS_OF = META["version"], META["as_of"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false",
       "-c", "core.hooksPath=/dev/null"]


def schema(name: str) -> dict:
    return json.loads((ROOT / "schemas" / f"{name}.json").read_text(encoding="utf-8"))


def kinds(name: str) -> dict[str, str]:
    return {f["name"]: f["type"] for f in schema(name)["fields"]}


def spreadsheet_text(value: str) -> str:
    """What a text cell must look like in BOM-CSV and XLSX."""
    return "'" + value if value.startswith(FORMULA_START) else value


def render_downloads(data_dir: Path, docs: Path) -> Path:
    """Run only the downloads stage on a package; return the folder of its files
    (the pages are in docs/downloads)."""
    from generator.render import downloads

    ctx = BuildContext(load(data_dir), {}, docs, docs.parent / "site")
    downloads.render(ctx)
    return ctx.files_dir / "downloads"


@pytest.fixture(scope="module")
def dl(sample_site) -> Path:
    return sample_site / "downloads"


# --------------------------------------------------------------------------- every file

def test_every_dataset_in_every_format_at_latest_and_versioned_address(dl):
    page = (dl / "index.html").read_text(encoding="utf-8")
    for name in NAMES:
        for file in (f"{name}.csv", f"{name}-excel.csv", f"{name}.xlsx", f"{name}.json"):
            assert (dl / file).is_file(), file
            assert (dl / VERSION / file).read_bytes() == (dl / file).read_bytes(), file
            assert f'href="{file}"' in page, file
    for file in ("vbp-open-data.zip", "datapackage.json", "SHA256SUMS"):
        assert (dl / VERSION / file).read_bytes() == (dl / file).read_bytes(), file
    assert (dl / VERSION / "index.html").is_file()


def test_page_shows_rows_last_change_size_and_checksum(dl):
    page = html.unescape((dl / "index.html").read_text(encoding="utf-8"))
    for name in NAMES:
        rows = len(read_rows(DATA / f"{name}.csv"))
        row = re.search(rf'<tr><td><a href="[^"]*#{name}">.*?</tr>', page, re.S).group(0)
        cells = [re.sub(r"<[^>]+>", " ", c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
        assert cells[2] == f"{rows:,}", name
        assert cells[3] == AS_OF, name  # one release: every table last changed in it
        for file in (f"{name}.csv", f"{name}.xlsx"):
            data = (dl / file).read_bytes()
            assert hashlib.sha256(data).hexdigest() in page, file
            assert f"{len(data):,}" in page, file


def test_sha256sums_file_matches_every_file(dl):
    listed = {}
    for line in (dl / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    files = {p.name for p in dl.iterdir() if p.is_file()} - {"index.html", "SHA256SUMS"}
    assert set(listed) == files
    for name, digest in listed.items():
        assert hashlib.sha256((dl / name).read_bytes()).hexdigest() == digest, name


# --------------------------------------------------------------------------- formats

@pytest.mark.parametrize("name", NAMES)
def test_plain_csv_is_the_source_file(dl, name):
    source = (DATA / f"{name}.csv").read_bytes()
    if source.startswith(codecs.BOM_UTF8):
        source = source[3:]
    assert (dl / f"{name}.csv").read_bytes() == source


@pytest.mark.parametrize("name", NAMES)
def test_excel_csv_has_bom_and_the_data(dl, name):
    raw = (dl / f"{name}-excel.csv").read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    got = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig", dtype=str, keep_default_na=False)
    want = read_rows(DATA / f"{name}.csv")
    types = kinds(name)
    assert list(got.columns) == list(types)
    assert len(got) == len(want)
    for g, w in zip(got.to_dict("records"), want):
        for field, value in w.items():
            expected = value if types[field] in ("number", "integer") else spreadsheet_text(value)
            assert g[field] == expected, (name, field)


def _typed_expectation(kind: str, text: str):
    if text == "":
        return None
    if kind == "number":
        return float(text)
    if kind == "integer":
        return int(text)
    if kind == "boolean":
        return text in ("true", "True", "TRUE", "1")
    if kind == "date":
        return datetime.fromisoformat(text)
    return spreadsheet_text(text)  # text stays text: region code 000000 is not the number 0


@pytest.mark.parametrize("name", NAMES)
def test_xlsx_two_header_rows_frozen_typed_cells(dl, name):
    wb = openpyxl.load_workbook(dl / f"{name}.xlsx")
    ws = wb.worksheets[0]
    fields = schema(name)["fields"]
    assert ws.freeze_panes == "A3"
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == [f["title"] for f in fields]
    assert list(rows[1]) == [f["name"] for f in fields]
    want = read_rows(DATA / f"{name}.csv")
    assert len(rows) - 2 == len(want)
    for got, w in zip(rows[2:], want):
        for value, f in zip(got, fields):
            assert value == _typed_expectation(f["type"], w[f["name"]]), (name, f["name"])
    assert ws.column_dimensions["A"].width >= 8
    assert "说明" in wb.sheetnames


def test_xlsx_longer_than_a_sheet_continues_on_the_next(tmp_path):
    from generator.render import downloads

    ed = downloads.collect_editions(load(DATA), tmp_path)[0]
    table = ed.tables["prices"]
    downloads.write_xlsx(table, ed, None, tmp_path / "p.xlsx", max_rows=50)
    wb = openpyxl.load_workbook(tmp_path / "p.xlsx")
    data = [ws for ws in wb.worksheets if ws.title != "说明"]
    assert [ws.title for ws in data][:2] == ["prices", "prices_2"]
    assert len(data) == -(-table.rows // 48)
    ids = []
    for ws in data:
        rows = list(ws.iter_rows(values_only=True))
        assert ws.freeze_panes == "A3" and rows[1][0] == "price_id" and len(rows) <= 50
        ids += [r[0] for r in rows[2:]]
    assert ids == [r["price_id"] for r in read_rows(DATA / "prices.csv")]


@pytest.mark.parametrize("name", ["prices", "winners"])
def test_pandas_reads_xlsx_with_header_1(dl, name):
    types = kinds(name)
    text = [f for f, k in types.items() if k == "string"]
    got = pd.read_excel(dl / f"{name}.xlsx", header=1, dtype={f: str for f in text})
    want = pd.read_csv(DATA / f"{name}.csv", dtype={f: str for f in text}, keep_default_na=False)
    assert list(got.columns) == list(types)
    assert len(got) == len(want)
    for field, kind in types.items():
        if kind == "number":
            pd.testing.assert_series_equal(got[field].astype(float),
                                           pd.to_numeric(want[field]).astype(float), check_names=False)


@pytest.mark.parametrize("name", NAMES)
def test_json_records_typed_and_exact(dl, name):
    text = (dl / f"{name}.json").read_text(encoding="utf-8")
    records = json.loads(text, parse_float=Decimal)
    want = read_rows(DATA / f"{name}.csv")
    types = kinds(name)
    assert len(records) == len(want)
    for got, w in zip(records, want):
        assert list(got) == list(types)
        for field, value in w.items():
            kind, g = types[field], got[field]
            if value == "":
                assert g is None, (name, field)
            elif kind == "number":
                assert isinstance(g, (Decimal, int)) and not isinstance(g, bool)
                assert Decimal(g) == Decimal(value), (name, field)
            elif kind == "integer":
                assert type(g) is int and g == int(value)
            elif kind == "boolean":
                assert g is (value == "true")
            else:
                assert g == value, (name, field)  # faithful: no apostrophes in JSON
    frame = pd.read_json(io.StringIO(text), dtype=False)
    assert list(frame.columns) == list(types) and len(frame) == len(want)


def test_json_keeps_the_digits_of_prices(dl):
    """0.1200 元 stays 0.1200, not a binary approximation of it."""
    text = (dl / "prices.json").read_text(encoding="utf-8")
    first = read_rows(DATA / "prices.csv")[0]
    assert f'"unit_price":{first["unit_price"]}' in text


# --------------------------------------------------------------------------- the zip

def test_zip_holds_package_readme_and_checksums(dl, tmp_path):
    with zipfile.ZipFile(dl / "vbp-open-data.zip") as zf:
        names = set(zf.namelist())
        assert names == {"datapackage.json", "README.md", "SHA256SUMS"} | {f"{n}.csv" for n in NAMES}
        for name in NAMES:
            assert zf.read(f"{name}.csv") == (DATA / f"{name}.csv").read_bytes().removeprefix(codecs.BOM_UTF8)
            got = pd.read_csv(zf.open(f"{name}.csv"), dtype=str, keep_default_na=False)
            assert got.to_dict("records") == read_rows(DATA / f"{name}.csv")
        sums = dict(reversed(line.split("  ", 1)) for line in zf.read("SHA256SUMS").decode().splitlines())
        assert set(sums) == names - {"SHA256SUMS"}
        for entry, digest in sums.items():
            assert hashlib.sha256(zf.read(entry)).hexdigest() == digest, entry
        stamps = {i.date_time for i in zf.infolist()}
        readme = zf.read("README.md").decode("utf-8")
        zf.extractall(tmp_path)
    assert stamps == {tuple(int(x) for x in AS_OF.split("-")) + (0, 0, 0)}  # no clock
    assert VERSION in readme and AS_OF in readme and "@misc{" in readme
    assert META["licenses"][0]["name"] in readme
    for name in NAMES:
        for f in schema(name)["fields"]:
            assert f"`{f['name']}` {f['title']}" in readme, (name, f["name"])

    from frictionless import Package, system
    with system.use_context(trusted=False):
        report = Package(str(tmp_path / "datapackage.json")).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])[:5]


def test_standalone_descriptor_checksums_match(dl):
    descriptor = json.loads((dl / "datapackage.json").read_text(encoding="utf-8"))
    assert descriptor["version"] == VERSION and descriptor["licenses"] == META["licenses"]
    for res in descriptor["resources"]:
        data = (dl / res["path"]).read_bytes()
        assert res["hash"] == "sha256:" + hashlib.sha256(data).hexdigest()
        assert res["bytes"] == len(data)
        assert res["schema"] == schema(res["name"])


# --------------------------------------------------------------------------- hostile input

HOSTILE = {
    "name": '=HYPERLINK("http://evil.example","点此查看")',
    "short_name": "+1+2恶意",
    "aliases": "@SUM(1,2)",
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    data = copy_data(tmp_path_factory.mktemp("hostile") / "data")
    rows = read_rows(data / "companies.csv")
    rows[0].update(HOSTILE)
    title = "-开头的标题"
    sources = read_rows(data / "sources.csv")
    sources[0]["title"] = title
    write_rows(data / "companies.csv", rows)
    write_rows(data / "sources.csv", sources)
    out = render_downloads(data, tmp_path_factory.mktemp("hostile-docs") / "docs")
    return data, out, rows[0]["company_id"], title


def test_hostile_text_neutralised_in_excel_csv_and_xlsx(hostile):
    _, out, company, title = hostile
    excel = pd.read_csv(out / "companies-excel.csv", encoding="utf-8-sig", dtype=str,
                        keep_default_na=False).set_index("company_id").loc[company]
    for field, value in HOSTILE.items():
        assert excel[field] == "'" + value
    ws = openpyxl.load_workbook(out / "companies.xlsx").worksheets[0]
    header = [c.value for c in ws[2]]
    row = next(r for r in ws.iter_rows(min_row=3) if r[header.index("company_id")].value == company)
    for field, value in HOSTILE.items():
        cell = row[header.index(field)]
        assert cell.data_type == "s" and cell.value == "'" + value  # text, never a formula
    sources = openpyxl.load_workbook(out / "sources.xlsx").worksheets[0]
    assert "'" + title in [c.value for c in sources[3]]


def test_hostile_text_faithful_in_csv_json_and_zip(hostile):
    data, out, company, _ = hostile
    assert (out / "companies.csv").read_bytes() == (data / "companies.csv").read_bytes()
    record = next(r for r in json.loads((out / "companies.json").read_text(encoding="utf-8"))
                  if r["company_id"] == company)
    for field, value in HOSTILE.items():
        assert record[field] == value
    with zipfile.ZipFile(out / "vbp-open-data.zip") as zf:
        assert zf.read("companies.csv") == (data / "companies.csv").read_bytes()


# --------------------------------------------------------------------------- releases

def test_two_builds_are_byte_identical(tmp_path):
    a = render_downloads(DATA, tmp_path / "a" / "docs")
    b = render_downloads(DATA, tmp_path / "b" / "docs")
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    with zipfile.ZipFile(a / "winners.xlsx") as zf:  # openpyxl would stamp the clock
        assert {i.date_time[:3] for i in zf.infolist()} == {tuple(int(x) for x in AS_OF.split("-"))}
        assert f"{AS_OF}T00:00:00Z" in zf.read("docProps/core.xml").decode()


def _commit(repo: Path, message: str) -> None:
    subprocess.run([*GIT, "add", "-A", "."], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-qm", message], cwd=repo, check=True)


@pytest.fixture(scope="module")
def two_releases(tmp_path_factory):
    """A repository with release 0.1.0 (the sample) and 0.2.0 (one source retitled);
    the downloads of 0.1.0 rendered while it was current, and again after 0.2.0."""
    repo = tmp_path_factory.mktemp("releases") / "repo"
    shutil.copytree(DATA, repo / "data")
    shutil.copytree(ROOT / "schemas", repo / "schemas")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    meta = json.loads((repo / "data" / "datapackage.json").read_text(encoding="utf-8"))
    meta["version"], meta["as_of"] = "0.1.0", "2026-11-01"
    (repo / "data" / "datapackage.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    _commit(repo, "release 0.1.0")
    before = render_downloads(repo / "data", tmp_path_factory.mktemp("r1") / "docs")

    sources = read_rows(repo / "data" / "sources.csv")
    sources[0]["title"] += "（修订）"
    write_rows(repo / "data" / "sources.csv", sources)
    meta["version"], meta["as_of"] = "0.2.0", "2026-12-01"
    (repo / "data" / "datapackage.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    _commit(repo, "release 0.2.0")
    after = render_downloads(repo / "data", tmp_path_factory.mktemp("r2") / "docs")
    return repo, before, after


def test_a_published_version_never_changes(two_releases):
    _, before, after = two_releases
    files = sorted(p.name for p in (before / "0.1.0").iterdir() if p.name != "index.md")
    assert files == sorted(p.name for p in (after / "0.1.0").iterdir() if p.name != "index.md")
    for name in files:
        assert (after / "0.1.0" / name).read_bytes() == (before / "0.1.0" / name).read_bytes(), name


def test_latest_address_follows_the_newest_release(two_releases):
    repo, _, after = two_releases
    assert (after / "sources.csv").read_bytes() == (repo / "data" / "sources.csv").read_bytes()
    assert (after / "0.2.0" / "sources.csv").read_bytes() == (repo / "data" / "sources.csv").read_bytes()
    old = subprocess.run(["git", "show", "HEAD~1:data/sources.csv"], cwd=repo, capture_output=True,
                         check=True).stdout
    assert (after / "0.1.0" / "sources.csv").read_bytes() == old != (after / "sources.csv").read_bytes()


def test_last_change_is_the_release_that_changed_the_file(two_releases):
    _, _, after = two_releases
    page = (after.parent.parent / "docs" / "downloads" / "index.md").read_text(encoding="utf-8")  # the page
    last = {m.group(1): m.group(2) for m in re.finditer(
        r'dictionary/#(\w+)">.*?</td><td>.*?</td><td>\d+</td><td>([0-9-]+)</td>', page)}
    assert last["sources"] == "2026-12-01"
    assert {last[n] for n in NAMES if n != "sources"} == {"2026-11-01"}
    assert 'href="../downloads/0.1.0/"' in page and 'href="../downloads/0.2.0/"' in page


# --------------------------------------------------------------------------- pages

def test_dictionary_lists_every_field_of_every_schema(sample_site):
    page = html.unescape((sample_site / "dictionary" / "index.html").read_text(encoding="utf-8"))
    rows = dict(re.findall(r'<tr id="([\w]+\.[\w]+)">(.*?)</tr>', page, re.S))
    expected = {}
    for path in sorted((ROOT / "schemas").glob("*.json")):
        for f in json.loads(path.read_text(encoding="utf-8"))["fields"]:
            expected[f"{path.stem}.{f['name']}"] = f
    assert set(rows) == set(expected)
    for key, f in expected.items():
        row = rows[key]
        for part in (f["name"], f["title"], f["description"], str(f.get("example", "")), f.get("unit", "")):
            assert part in row, (key, part)
        for value in f.get("constraints", {}).get("enum", []):
            assert f"<code>{value}</code>" in row, (key, value)


def test_cite_page_has_text_and_bibtex_with_version_and_date(sample_site):
    page = html.unescape((sample_site / "cite" / "index.html").read_text(encoding="utf-8"))
    blocks = re.findall(r"<pre[^>]*><code[^>]*>(.*?)</code></pre>", page, re.S)
    text, bibtex = blocks[0], blocks[1]
    assert VERSION in text and AS_OF in text and META["title"] in text
    assert re.match(r"@misc\{\w+,", bibtex)
    assert f"version   = {{{VERSION}}}" in bibtex and f"date      = {{{AS_OF}}}" in bibtex
    assert bibtex.count("{") == bibtex.count("}")


def test_downloads_page_links_changelog_dictionary_cite_and_sources(sample_site):
    page = (sample_site / "downloads" / "index.html").read_text(encoding="utf-8")
    for target in ("../changelog/", "../dictionary/", "../cite/"):
        assert f'href="{target}"' in page, target
    for source in read_rows(DATA / "sources.csv"):  # row source links land here
        assert f'id="source-{source["source_id"]}"' in page


# --------------------------------------------------------------------------- browser

def _download_csv(page, button) -> list[list[str]]:
    with page.expect_download() as info:
        button.click()
    raw = Path(info.value.path()).read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_table_download_button_on_site_page(sample_site, serve, browser):
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(serve(sample_site) + "/dictionary/")
    buttons = page.locator(".vbp-table-download button")
    assert buttons.count() == page.locator(".md-content table").count() == len(NAMES)
    rows = _download_csv(page, buttons.first)
    first = page.locator(".md-content table").first.get_attribute("data-dataset")
    assert rows[0][:2] == ["字段", "中文名"]
    assert [r[0] for r in rows[1:]] == [f["name"] for f in schema(first)["fields"]]
    context.close()


def test_table_download_neutralises_and_quotes(sample_site, serve, browser, tmp_path):
    shutil.copy(sample_site / "assets" / "table-download.js", tmp_path / "table-download.js")
    (tmp_path / "index.html").write_text(
        '<!doctype html><meta charset="utf-8"><div class="md-content"><table>'
        "<thead><tr><th>企业</th><th>说明</th></tr></thead><tbody>"
        '<tr><td>=HYPERLINK("http://evil.example")</td><td>含,逗号 "引号"</td></tr>'
        '<tr><td>@SUM(1)</td><td><a href="https://example.org/doc">原文</a><span>过评</span></td></tr>'
        "<tr><td>-5</td><td>+1</td></tr>"
        '</tbody></table></div><script src="table-download.js"></script>', encoding="utf-8")
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(serve(tmp_path) + "/index.html")
    rows = _download_csv(page, page.locator(".vbp-table-download button"))
    assert rows == [
        ["企业", "说明", "链接"],
        ["'=HYPERLINK(\"http://evil.example\")", '含,逗号 "引号"', ""],
        ["'@SUM(1)", "原文 过评", "https://example.org/doc"],
        ["'-5", "'+1", ""],
    ]
    context.close()


# --------------------------------------------------------------------------- block-wise writers

def test_writers_agree_with_csv_module_across_small_blocks(tmp_path, monkeypatch):
    """The writers read the file in blocks and take a fast way through plain
    blocks: with tiny blocks, quoted newlines, escapes, formula triggers, number
    forms and missing cells land on every side of a block edge and in both ways."""
    from generator.render import downloads

    fields = [{"name": "id", "type": "string", "title": "编号"},
              {"name": "text", "type": "string", "title": "文本"},
              {"name": "n", "type": "number", "title": "数"},
              {"name": "k", "type": "integer", "title": "整数"},
              {"name": "ok", "type": "boolean", "title": "是否"},
              {"name": "day", "type": "date", "title": "日期"}]
    texts = ["plain", "a,b", 'say "hi"', "two\nlines", "=1+2", "-x", "@a", "+y", "<&>", "back\\slash",
             " pad ", "tab\tin", "中文", "", "ctl\x01"]
    numbers = ["0.1200", "-3", "1e5", "+1", ".5", "7", ""]
    rows = [[f"r{i}", texts[i % len(texts)], numbers[i % len(numbers)], str(i - 20),
             ["true", "false", ""][i % 3], ["2024-02-29", "", "1900-01-01"][i % 3]] for i in range(60)]
    path = tmp_path / "t.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([[f["name"] for f in fields]] + rows)
    monkeypatch.setattr(downloads, "BLOCK_BYTES", 64)
    monkeypatch.setattr(downloads.record_blocks, "__defaults__", (64,))
    table = downloads._table("t", path, {"fields": fields})
    assert table.rows == len(rows) and list(table.records()) == rows

    downloads.write_json(table, tmp_path / "t.json")
    got = json.loads((tmp_path / "t.json").read_text(encoding="utf-8"), parse_float=Decimal)
    for g, r in zip(got, rows):
        assert g["id"] == r[0] and g["text"] == (r[1] or None)
        assert (g["n"] is None) if r[2] == "" else Decimal(str(g["n"])) == Decimal(r[2])
        assert g["k"] == int(r[3]) and g["ok"] == {"true": True, "false": False, "": None}[r[4]]
        assert g["day"] == (r[5] or None)
    assert len(got) == len(rows)

    downloads.write_excel_csv(table, tmp_path / "t-excel.csv")
    excel = list(csv.reader(io.StringIO((tmp_path / "t-excel.csv").read_text(encoding="utf-8-sig"),
                                        newline="")))
    assert excel[1:] == [[spreadsheet_text(r[0]), spreadsheet_text(r[1]), r[2], r[3], r[4], r[5]]
                         for r in rows]

    ed = downloads.collect_editions(load(DATA), tmp_path / "eds")[0]
    downloads.write_xlsx(table, ed, None, tmp_path / "t.xlsx", max_rows=25)
    wb = openpyxl.load_workbook(tmp_path / "t.xlsx")
    cells = [r for ws in wb.worksheets[:-1] for r in list(ws.iter_rows(values_only=True))[2:]]
    assert len(cells) == len(rows) and len(wb.worksheets) == 4
    for g, r in zip(cells, rows):
        want_text = spreadsheet_text(r[1]).replace("\x01", "\ufffd") if r[1] else None
        assert g[1] == want_text, r
        assert (g[2] is None) if r[2] == "" else g[2] == float(r[2])
        assert g[3] == int(r[3]) and g[4] == {"true": True, "false": False, "": None}[r[4]]
        assert g[5] == (datetime.fromisoformat(r[5]) if r[5] else None)
