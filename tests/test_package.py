"""Validation: the sample package passes; each schema rule and each extra check
fails on a copy of data/ broken in exactly one place, naming file, row and field."""
from __future__ import annotations

import json

import pytest

from conftest import DATA, copy_data, read_rows, write_rows
from generator.package import RESOURCES, validate


@pytest.fixture
def data(tmp_path):
    return copy_data(tmp_path / "data")


def mutate(data_dir, file, match, **changes):
    """Change the first row of `file` whose fields equal `match`; return its row number."""
    rows = read_rows(data_dir / file)
    for i, row in enumerate(rows):
        if all(row[k] == v for k, v in match.items()):
            row.update(changes)
            write_rows(data_dir / file, rows)
            return i + 2
    raise AssertionError(f"no row in {file} matches {match}")


def first(file, **match):
    for row in read_rows(DATA / file):
        if all(row[k] == v for k, v in match.items()):
            return row
    raise AssertionError(f"no row in {file} matches {match}")


def assert_error(errors, file, row, field, *words):
    hits = [e for e in errors if e.file == file and e.row == row and e.field == field]
    assert hits, f"expected an error at {file} row {row} field {field}, got {errors}"
    for word in words:
        assert any(word in e.message for e in hits), (word, hits)


def test_sample_package_is_valid():
    assert validate(DATA) == []


def test_sample_package_is_flagged_and_complete():
    meta = json.loads((DATA / "datapackage.json").read_text(encoding="utf-8"))
    assert meta["sample"] is True
    assert [r["name"] for r in meta["resources"]] == RESOURCES
    winners = read_rows(DATA / "winners.csv")
    assert len(winners) >= 40
    assert any(w["won"] == "false" for w in winners)
    batches = read_rows(DATA / "batches.csv")
    assert sum(b["category"] == "drug" for b in batches) >= 3
    assert sum(b["category"] == "consumable" for b in batches) >= 1
    assert any(p["kind"] == "renewal" for p in read_rows(DATA / "prices.csv"))
    provinces = {c for w in winners for c in w["supply_regions"].split("|") if c}
    assert len(provinces) >= 6


# --- schema rules (Frictionless) -------------------------------------------------

def test_negative_price(data):
    p = first("prices.csv")
    row = mutate(data, "prices.csv", {"price_id": p["price_id"]}, unit_price="-1.5")
    assert_error(validate(data), "prices.csv", row, "unit_price", "constraint")


def test_duplicate_primary_key(data):
    rows = read_rows(data / "winners.csv")
    rows.append(dict(rows[0]))
    write_rows(data / "winners.csv", rows)
    errors = validate(data)
    assert any(e.file == "winners.csv" and e.row == len(rows) + 1 and "primary" in e.message.lower()
               for e in errors), errors


def test_foreign_key_to_missing_round(data):
    w = first("winners.csv")
    row = mutate(data, "winners.csv", {"winner_id": w["winner_id"]}, batch_id="no-such-round")
    errors = validate(data)
    assert any(e.file == "winners.csv" and e.row == row and "foreign" in e.message.lower()
               for e in errors), errors


def test_bad_date(data):
    n = first("execution_notices.csv")
    row = mutate(data, "execution_notices.csv", {"notice_id": n["notice_id"]}, published_date="2021/3/1")
    assert_error(validate(data), "execution_notices.csv", row, "published_date", "type")


def test_gbk_encoded_file(data):
    text = (data / "companies.csv").read_text(encoding="utf-8")
    (data / "companies.csv").write_bytes(text.encode("gbk"))
    errors = validate(data)
    assert len(errors) == 1
    assert errors[0].file == "companies.csv" and "UTF-8" in errors[0].message and "GBK" in errors[0].message
    assert errors[0].row is not None


@pytest.mark.parametrize("file,field,value,word", [
    ("batches.csv", "level", "county", "constraint"),           # enum
    ("winners.csv", "company_id", "", "constraint"),            # required
    ("winners.csv", "winner_id", "W Bad Id", "constraint"),     # pattern
    ("winners.csv", "supply_regions", "33000", "constraint"),   # pattern of a list
    ("prices.csv", "unit_price_unit", "元", "constraint"),       # pattern of a unit
    ("winners.csv", "pack_size", "0", "constraint"),            # minimum
    ("batches.csv", "agreement_years", "40", "constraint"),     # maximum
    ("winners.csv", "won", "maybe", "type"),                    # boolean type
    ("sources.csv", "url", "javascript:alert(1)", "constraint"),  # only http(s)
])
def test_schema_rules(data, file, field, value, word):
    row_data = first(file)
    key = list(row_data)[0]
    row = mutate(data, file, {key: row_data[key]}, **{field: value})
    assert_error(validate(data), file, row, field, word)


def test_unique_unit_name(data):
    units = read_rows(data / "units.csv")
    row = mutate(data, "units.csv", {"unit_id": units[1]["unit_id"]}, name=units[0]["name"])
    errors = validate(data)
    assert any(e.file == "units.csv" and e.row == row and "unique" in e.message.lower() for e in errors), errors


def test_missing_file_and_descriptor(data):
    (data / "prices.csv").unlink()
    assert [(e.file, e.message) for e in validate(data)] == [("prices.csv", "文件不存在")]
    (data / "datapackage.json").unlink()
    assert validate(data)[0].file == "datapackage.json"


def test_descriptor_needs_as_of_and_version(data):
    meta = json.loads((data / "datapackage.json").read_text(encoding="utf-8"))
    meta["as_of"] = "yesterday"
    meta["version"] = "v1"
    (data / "datapackage.json").write_text(json.dumps(meta), encoding="utf-8")
    fields = {e.field for e in validate(data)}
    assert {"as_of", "version"} <= fields


# --- checks beyond the schema ----------------------------------------------------

def _priced_pack():
    winners = {w["winner_id"]: w for w in read_rows(DATA / "winners.csv")}
    for p in read_rows(DATA / "prices.csv"):
        if p["pack_price"] and winners[p["winner_id"]]["pack_size"]:
            return p
    raise AssertionError("sample data has no pack price")


def test_check_pack_price(data):
    p = _priced_pack()
    row = mutate(data, "prices.csv", {"price_id": p["price_id"]},
                 pack_price=f"{float(p['pack_price']) + 0.02:.2f}")
    assert_error(validate(data), "prices.csv", row, "pack_price", "包装数量")


def test_check_pack_price_to_the_fen(data):
    """A rounding difference under half a fen is not an error."""
    p = _priced_pack()
    mutate(data, "prices.csv", {"price_id": p["price_id"]}, pack_price=f"{float(p['pack_price']) + 0.004:.3f}")
    assert validate(data) == []


def test_check_price_unit_matches_product(data):
    p = first("prices.csv")
    row = mutate(data, "prices.csv", {"price_id": p["price_id"]}, unit_price_unit="元/吨")
    assert_error(validate(data), "prices.csv", row, "unit_price_unit", "最小单位")


def test_winning_price_above_max_bid_is_published_not_rejected(data):
    """Real results contain one (特拉唑嗪 2mg, 第二批): a finding for /checks/, not a build stop."""
    prices = read_rows(DATA / "prices.csv")
    caps = {p["winner_id"]: p for p in prices if p["kind"] == "max_bid"}
    win = next(p for p in prices if p["kind"] == "winning_bid" and p["winner_id"] in caps and not p["pack_price"])
    cap = float(caps[win["winner_id"]]["unit_price"])
    mutate(data, "prices.csv", {"price_id": win["price_id"]}, unit_price=str(cap * 2))
    assert not [e for e in validate(data) if e.file == "prices.csv"]


def test_check_execution_not_before_announcement(data):
    n = first("execution_notices.csv")
    row = mutate(data, "execution_notices.csv", {"notice_id": n["notice_id"]},
                 published_date="2000-01-01", execution_start="2000-01-02")
    assert_error(validate(data), "execution_notices.csv", row, "execution_start", "公布日期")


def test_check_payment_standard_equals_winning_price(data):
    s = first("payment_standards.csv", basis="winning_price")
    row = mutate(data, "payment_standards.csv", {"standard_id": s["standard_id"]},
                 amount=f"{float(s['amount']) + 1:.4f}")
    assert_error(validate(data), "payment_standards.csv", row, "amount", "中选价")


def test_check_supply_region_exists(data):
    w = first("winners.csv", won="true")
    row = mutate(data, "winners.csv", {"winner_id": w["winner_id"]}, supply_regions="990000")
    assert_error(validate(data), "winners.csv", row, "supply_regions", "990000")


def test_check_loser_supplies_nothing(data):
    w = first("winners.csv", won="false")
    row = mutate(data, "winners.csv", {"winner_id": w["winner_id"]}, supply_regions="110000")
    assert_error(validate(data), "winners.csv", row, "supply_regions", "未中选")


def test_check_alias_leads_to_one_region(data):
    mutate(data, "regions.csv", {"region_code": "110000"}, aliases="新疆（含兵团）")
    errors = validate(data)
    assert len(errors) == 1 and errors[0].file == "regions.csv" and errors[0].field == "aliases"
    assert "新疆（含兵团）" in errors[0].message and "110000" in errors[0].message


def test_check_standard_dates_in_order(data):
    s = first("payment_standards.csv")
    row = mutate(data, "payment_standards.csv", {"standard_id": s["standard_id"]},
                 effective_to="2000-01-01")
    assert_error(validate(data), "payment_standards.csv", row, "effective_to", "早于")


def _winner_with(**want):
    for w in read_rows(DATA / "winners.csv"):
        if all((w[k] != "") == v if isinstance(v, bool) else w[k] == v for k, v in want.items()):
            return w
    raise AssertionError(f"sample data has no winner with {want}")


def _pack_price_unit_of(winner_id):
    return next(p for p in read_rows(DATA / "prices.csv") if p["winner_id"] == winner_id and p["pack_price"])


@pytest.mark.parametrize("case", [
    "duplicate_supply_region", "pack_price_without_pack_size", "pack_price_without_unit",
    "pack_unit_mismatch", "agreement_start_early", "agreement_end_early",
    "winning_basis_without_product", "standard_unit_mismatch", "standard_amount_unit",
    "winning_basis_for_loser",
])
def test_other_checks(data, case):
    """Each remaining rule of generator/checks.py, broken once."""
    if case == "duplicate_supply_region":
        w = _winner_with(won="true", supply_regions=True)
        code = w["supply_regions"].split("|")[0]
        where = ("winners.csv", mutate(data, "winners.csv", {"winner_id": w["winner_id"]},
                                       supply_regions=f"{w['supply_regions']}|{code}"), "supply_regions", "重复")
    elif case in ("pack_price_without_pack_size", "pack_price_without_unit", "pack_unit_mismatch"):
        p = _priced_pack()
        if case == "pack_price_without_pack_size":
            mutate(data, "winners.csv", {"winner_id": p["winner_id"]}, pack_size="")
            row = [i + 2 for i, r in enumerate(read_rows(data / "prices.csv")) if r["price_id"] == p["price_id"]][0]
            where = ("prices.csv", row, "pack_price", "包装数量")
        elif case == "pack_price_without_unit":
            where = ("prices.csv", mutate(data, "prices.csv", {"price_id": p["price_id"]}, pack_price_unit=""),
                     "pack_price_unit", "同时")
        else:
            where = ("prices.csv", mutate(data, "prices.csv", {"price_id": p["price_id"]}, pack_price_unit="元/吨"),
                     "pack_price_unit", "单位应为")
    elif case == "agreement_start_early":
        b = first("batches.csv")
        where = ("batches.csv", mutate(data, "batches.csv", {"batch_id": b["batch_id"]}, agreement_start="2000-01-01"),
                 "agreement_start", "早于")
    elif case == "agreement_end_early":
        n = first("execution_notices.csv")
        where = ("execution_notices.csv", mutate(data, "execution_notices.csv", {"notice_id": n["notice_id"]},
                                                 agreement_end=n["execution_start"].replace(n["execution_start"][:4], str(int(n["execution_start"][:4]) - 1))),
                 "agreement_end", "早于")
    else:
        s = first("payment_standards.csv", basis="winning_price")
        change = {
            "winning_basis_without_product": {"winner_id": ""},
            "standard_unit_mismatch": {"unit_id": next(u["unit_id"] for u in read_rows(DATA / "units.csv") if u["unit_id"] != s["unit_id"])},
            "standard_amount_unit": {"amount_unit": "元/吨"},
            "winning_basis_for_loser": {"winner_id": _winner_with(won="false", unit_id=s["unit_id"])["winner_id"]},
        }[case]
        field, word = {"winning_basis_without_product": ("winner_id", "winner_id"),
                       "standard_unit_mismatch": ("unit_id", "属于品种"),
                       "standard_amount_unit": ("amount_unit", "单位应为"),
                       "winning_basis_for_loser": ("basis", "没有中选价")}[case]
        where = ("payment_standards.csv", mutate(data, "payment_standards.csv", {"standard_id": s["standard_id"]}, **change),
                 field, word)
    file, row, field, word = where
    assert_error(validate(data), file, row, field, word)


# ------------------------------------------------------------------ the schema gate
# package._schema_may_fail lets a valid package skip Frictionless's row-by-row pass.
# It may say "maybe" too often, never "no" when Frictionless finds an error: checked
# here on valid data, on every hostile case, and on inputs aimed at each of its rules.

def _gate_and_frictionless(data_dir):
    """(gate says maybe, Frictionless's errors), or None when the file checks stop first."""
    from generator.package import _check_cells, _frictionless_errors, _read_text, _schema_may_fail

    texts = {}
    for name in RESOURCES:
        errors, text = _read_text(data_dir, name)
        if errors:
            return None
        texts[name] = text
    if any(_check_cells(name, texts[name]) for name in RESOURCES):
        return None  # cell errors: load() runs Frictionless anyway
    return _schema_may_fail(texts), _frictionless_errors(data_dir)


def test_schema_gate_passes_valid_data():
    maybe, errors = _gate_and_frictionless(DATA)
    assert errors == [] and maybe is False


def _units_row(data, **values):
    return mutate(data, "units.csv", {"unit_id": first("units.csv")["unit_id"]}, **values)


GATE_CASES = {
    "enum": lambda d: mutate(d, "batches.csv", {"batch_id": first("batches.csv")["batch_id"]}, level="county"),
    "required": lambda d: mutate(d, "winners.csv", {"winner_id": first("winners.csv")["winner_id"]}, company_id=""),
    "pattern": lambda d: mutate(d, "winners.csv", {"winner_id": first("winners.csv")["winner_id"]}, winner_id="W Bad"),
    "pattern-newline": lambda d: mutate(d, "prices.csv", {"price_id": first("prices.csv")["price_id"]},
                                        unit_price_unit="元/片\n"),
    "minimum": lambda d: mutate(d, "winners.csv", {"winner_id": first("winners.csv")["winner_id"]}, pack_size="0"),
    "exclusive-minimum": lambda d: mutate(d, "prices.csv", {"price_id": first("prices.csv")["price_id"]},
                                          unit_price="0.0"),
    "maximum-edge": lambda d: mutate(d, "prices.csv", {"price_id": first("prices.csv")["price_id"]},
                                     unit_price="10000000.0000000000001"),
    "maximum-exact": lambda d: mutate(d, "prices.csv", {"price_id": first("prices.csv")["price_id"]},
                                      unit_price="10000000"),
    "impossible-date": lambda d: mutate(d, "prices.csv", {"price_id": first("prices.csv")["price_id"]},
                                        effective_date="2021-02-30"),
    "year-zero": lambda d: mutate(d, "prices.csv", {"price_id": first("prices.csv")["price_id"]},
                                  effective_date="0000-01-01"),
    "boolean": lambda d: mutate(d, "winners.csv", {"winner_id": first("winners.csv")["winner_id"]}, won="yes"),
    "unique": lambda d: mutate(d, "units.csv", {"unit_id": read_rows(DATA / "units.csv")[1]["unit_id"]},
                               name=first("units.csv")["name"]),
    "primary-key": lambda d: write_rows(d / "sources.csv", read_rows(d / "sources.csv") + read_rows(d / "sources.csv")[:1]),
    "foreign-key": lambda d: mutate(d, "prices.csv", {"price_id": first("prices.csv")["price_id"]},
                                    winner_id="w-nobody"),
    "self-foreign-key": lambda d: mutate(d, "regions.csv", {"region_code": first("regions.csv")["region_code"]},
                                         parent_code="999999"),
    "blank-row": lambda d: (d / "sources.csv").write_bytes((d / "sources.csv").read_bytes() + b",,,,\n"),
    "empty-line": lambda d: (d / "sources.csv").write_bytes((d / "sources.csv").read_bytes() + b"\n"),
    "short-row": lambda d: (d / "regions.csv").write_bytes((d / "regions.csv").read_bytes() + b"990000\n"),
    "long-row": lambda d: (d / "batches.csv").write_bytes(
        (d / "batches.csv").read_bytes().replace(b"\n", b",x\n", 2).replace(b",x\n", b"\n", 1)),
    "quoted": lambda d: (d / "units.csv").write_bytes(
        (d / "units.csv").read_bytes().replace(b"\n", b"\n\"", 2).replace(b"\n\"", b"\n", 1)),
}


@pytest.mark.parametrize("case", sorted(GATE_CASES))
def test_schema_gate_never_misses_a_frictionless_error(data, case):
    GATE_CASES[case](data)
    result = _gate_and_frictionless(data)
    if result is not None:
        maybe, errors = result
        assert maybe or not errors, errors


def test_schema_gate_on_the_hostile_corpus(tmp_path):
    from hostile.corpus import CASES, prepared

    checked = 0
    for i, case in enumerate(c for c in CASES if c["expect"] != "publish"):
        data, _ = prepared(case, tmp_path / str(i))
        result = _gate_and_frictionless(data)
        if result is not None:
            maybe, errors = result
            assert maybe or not errors, (case["id"], errors)
            checked += 1
    assert checked >= 5


# ------------------------------------------------------------------ the quick reader
# package._read_plain reads a CSV without quotes with pandas' C parser. It must
# read exactly what the csv module reads (_read_records), or decline.

def _plain_text(*rows, header=None, end="\n"):
    from generator.package import load_schema

    fields = [f["name"] for f in load_schema("payment_standards")["fields"]]
    width = len(fields)
    lines = [",".join(header or fields)] + [",".join((row + [""] * width)[:width]) if isinstance(row, list)
                                            else row for row in rows]
    return "\n".join(lines) + end


PLAIN_READ = {
    "rows": _plain_text(["ps-1", "110000", "b-1"], ["ps-2", "", "", "3.5"]),
    "no final newline": _plain_text(["ps-1", "110000"], end=""),
    "header only": _plain_text(),
    "spaces kept": _plain_text([" ps-1 ", " 110000", "b-1 "]),
    "words that pandas could read as missing": _plain_text(["NA", "null", "#N/A", "nan", "None", "-", "NaN"]),
    "numbers kept as written": _plain_text(["007", "1e5", "0.10", "-0", "1000"]),
    "backslash, hash and Han": _plain_text(["#ps", "\\x", "国家组织", "元/片", "😀"]),
    "a whitespace-only row": _plain_text(["ps-1"], [" "] * 11),
}
PLAIN_DECLINED = {
    "blank line": _plain_text(["ps-1"], "", ["ps-2"]),
    "blank line at the end": _plain_text(["ps-1"], end="\n\n"),
    "narrow row": _plain_text(["ps-1"], ",".join(["x"] * 10)),
    "narrow and wide rows": _plain_text(",".join(["x"] * 10), ",".join(["x"] * 12)),
    "wide row": _plain_text(",".join(["x"] * 12)),
    "a row of empty cells": _plain_text(["ps-1"], [""] * 11),
    "header not the schema's": _plain_text(["ps-1"], header=["region_code", "standard_id"] + ["x"] * 9),
    "short header": _plain_text(["ps-1"], header=["standard_id"]),
}


@pytest.mark.parametrize("case", list(PLAIN_READ) + list(PLAIN_DECLINED))
def test_the_quick_reader_reads_what_the_csv_module_reads_or_declines(tmp_path, case):
    import csv

    from generator.package import _checked_data, _read_plain, _read_records, _shape, load_schema

    text = {**PLAIN_READ, **PLAIN_DECLINED}[case]
    path = tmp_path / "payment_standards.csv"
    path.write_bytes(text.encode("utf-8"))
    with open(path, encoding="utf-8-sig", newline="") as fh:
        slow = _read_records(path.name, "payment_standards", csv.reader(fh), True, False)
    quick = _read_plain(path, [f["name"] for f in load_schema("payment_standards")["fields"]], _shape(text))
    if case in PLAIN_DECLINED:
        assert quick is None
        assert slow[0] or not slow[1].regular  # what was declined is wrong, as the csv module reads it
    else:
        assert quick is not None
        assert _checked_data(path.name, "payment_standards", *quick) == slow
        assert slow[1].regular


def test_the_sample_package_loads_the_same_with_either_reader(data, monkeypatch):
    from generator.package import _read_plain, _shape, load, load_schema

    monkeypatch.setattr("generator.package.CHUNK", 7)  # many chunks, as a national file has
    for name in RESOURCES:
        path = data / f"{name}.csv"
        fields = [f["name"] for f in load_schema(name)["fields"]]
        assert _read_plain(path, fields, _shape(path.read_text(encoding="utf-8-sig"))) is not None, name
    quick = load(data)
    for name in RESOURCES:  # a carriage return sends every file to the csv module
        path = data / f"{name}.csv"
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    slow = load(data)
    for name in RESOURCES:
        assert quick.tables[name].equals(slow.tables[name]), name
