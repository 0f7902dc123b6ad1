"""Derived tables, checked against the source CSV rows (read here with csv, not
through the generator)."""
from __future__ import annotations

import statistics

import pytest
from conftest import DATA, copy_data, read_rows, write_rows

from generator.derive import derive
from generator.derive.rounds import agreement_end
from generator.package import load


@pytest.fixture(scope="module")
def derived():
    return derive(load(DATA))


@pytest.fixture(scope="module")
def csv():
    return {name: read_rows(DATA / f"{name}.csv") for name in
            ("winners", "prices", "payment_standards", "execution_notices")}


def price_row(csv, winner_id, kind, region="000000"):
    rows = [p for p in csv["prices"] if p["winner_id"] == winner_id and p["kind"] == kind
            and p["region_code"] == region]
    assert len(rows) == 1, (winner_id, kind, rows)
    return rows[0]


def product(derived, winner_id):
    rows = derived["products"][derived["products"]["winner_id"] == winner_id]
    assert len(rows) == 1
    return rows.iloc[0]


def test_winning_price_pack_price_and_cuts_come_from_the_price_rows(derived, csv):
    wid = "w-nat-drug-1x-atv-10-qilu"
    win, median, cap = (price_row(csv, wid, k) for k in ("winning_bid", "median_pre", "max_bid"))
    p = product(derived, wid)
    assert p["price"] == float(win["unit_price"]) and p["price_unit"] == win["unit_price_unit"]
    assert p["pack_price"] == float(win["pack_price"]) and p["pack_price_unit"] == win["pack_price_unit"]
    assert p["price_date"] == win["effective_date"] and p["price_source"] == win["source_id"]
    m, c, w = float(median["unit_price"]), float(cap["unit_price"]), float(win["unit_price"])
    assert p["cut_median"] == pytest.approx((m - w) / m)
    assert p["cut_max"] == pytest.approx((c - w) / c)


def test_a_losing_bid_is_priced_at_its_bid_and_a_cut_needs_both_prices(derived, csv):
    wid = "w-nat-drug-1x-aml-5-dongrui"  # a losing bid without a pre-procurement median
    p = product(derived, wid)
    assert not p["won"] and p["price"] == float(price_row(csv, wid, "bid")["unit_price"])
    assert not any(r["kind"] == "median_pre" for r in csv["prices"] if r["winner_id"] == wid)
    assert p["cut_median"] != p["cut_median"]  # NaN: shown as "—"
    assert p["cut_max"] == pytest.approx(1 - p["price"] / float(price_row(csv, wid, "max_bid")["unit_price"]))


def test_price_per_mg_converts_grams(derived, csv):
    wid = "w-nat-drug-2-met-500-csyy"
    row = next(w for w in csv["winners"] if w["winner_id"] == wid)
    assert row["strength_unit"] == "g"
    p = product(derived, wid)
    mg = float(row["strength_value"]) * 1000
    assert p["per_strength"] == pytest.approx(float(price_row(csv, wid, "winning_bid")["unit_price"]) / mg)
    assert p["per_strength_unit"] == "元/mg"


def test_no_price_per_strength_for_consumables(derived):
    p = product(derived, "w-nat-cons-stent-firebird2-microport")
    assert p["per_strength"] != p["per_strength"] and p["pack_price"] != p["pack_price"]


def test_pack_price_is_computed_from_pack_size_only_when_known(tmp_path):
    data = copy_data(tmp_path / "data")
    prices = read_rows(data / "prices.csv")
    wid = "w-nat-drug-1x-atv-10-qilu"
    for p in prices:
        if p["winner_id"] == wid:
            p["pack_price"] = p["pack_price_unit"] = ""
    write_rows(data / "prices.csv", prices)
    products = derive(load(data))["products"].set_index("winner_id")
    pack_size = int(next(w for w in read_rows(data / "winners.csv") if w["winner_id"] == wid)["pack_size"])
    assert products.at[wid, "pack_price"] == round(products.at[wid, "price"] * pack_size, 2)
    assert products.at[wid, "pack_price_unit"] == "元/盒"


def test_substitutes_are_the_other_winners_of_the_unit(derived, csv):
    wid = "w-nat-drug-1x-atv-20-pfizer"  # a losing originator: whom can a clinician switch to?
    unit = next(w["unit_id"] for w in csv["winners"] if w["winner_id"] == wid)
    expected = {w["winner_id"] for w in csv["winners"]
                if w["unit_id"] == unit and w["won"] == "true" and w["winner_id"] != wid}
    subs = derived["substitutes"]
    got = subs[subs["winner_id"] == wid]
    assert set(got["substitute_id"]) == expected and len(expected) >= 3
    same = set(got.loc[got["same_strength"], "substitute_id"])
    assert same == {w["winner_id"] for w in csv["winners"] if w["winner_id"] in expected and w["strength"] == "20mg"}


def test_province_supply_lists_the_winners_that_name_it(derived, csv):
    supply = derived["supply"]
    for code in ("330000", "350500"):
        expected = {w["winner_id"] for w in csv["winners"] if code in w["supply_regions"].split("|")}
        assert set(supply.loc[supply["region_code"] == code, "winner_id"]) == expected and expected


def test_agreement_end():
    assert agreement_end("2019-12-01", 2) == "2021-11-30"
    assert agreement_end("2021-05-01", 0.5) == "2021-10-31"
    assert agreement_end(None, 2) is None


def test_headline_median_cut_over_winners_with_both_prices(derived, csv):
    cuts = []
    for w in csv["winners"]:
        if w["won"] != "true":
            continue
        kinds = {p["kind"]: float(p["unit_price"]) for p in csv["prices"]
                 if p["winner_id"] == w["winner_id"] and p["batch_id"] == w["batch_id"]}
        if "median_pre" in kinds and "winning_bid" in kinds:
            cuts.append((kinds["median_pre"] - kinds["winning_bid"]) / kinds["median_pre"])
    head = derived["headline"].set_index("figure")
    assert head.at["median_cut", "value"] == pytest.approx(statistics.median(cuts))
    assert head.at["median_cut", "basis"] == len(cuts)
    assert head.at["winning_products", "value"] == sum(w["won"] == "true" for w in csv["winners"])


def test_patient_pays_the_difference_above_the_standard(derived, csv):
    wid, region = "w-nat-drug-1x-atv-10-pfizer", "330000"
    listed = price_row(csv, wid, "listed", region)
    std = next(s for s in csv["payment_standards"] if s["winner_id"] == wid and s["region_code"] == region)
    pack = int(next(w for w in csv["winners"] if w["winner_id"] == wid)["pack_size"])
    rows = derived["patient"]
    row = rows[(rows["winner_id"] == wid) & (rows["region_code"] == region)].iloc[0]
    diff = float(listed["unit_price"]) - float(std["amount"])
    assert row["price"] == float(listed["unit_price"]) and row["price_kind"] == "listed"
    assert row["standard"] == float(std["amount"]) and row["standard_id"] == std["standard_id"]
    assert row["diff"] == pytest.approx(diff) and row["diff_pack"] == round(diff * pack, 2)


def test_patient_view_uses_the_renewal_price_where_there_is_one(derived, csv):
    wid, region = "w-nat-drug-1x-aml-5-jingxin", "330000"
    renewal = price_row(csv, wid, "renewal", region)
    rows = derived["patient"]
    row = rows[(rows["winner_id"] == wid) & (rows["region_code"] == region)].iloc[0]
    assert row["price"] == float(renewal["unit_price"]) and row["price_date"] == renewal["effective_date"]


def test_no_difference_when_the_price_is_the_standard(derived):
    rows = derived["patient"]
    row = rows[(rows["winner_id"] == "w-nat-drug-1x-atv-10-qilu") & (rows["region_code"] == "330000")].iloc[0]
    assert row["diff"] == 0


def test_expired_standards_do_not_apply(derived, csv):
    expired = [s for s in csv["payment_standards"] if s["effective_to"]]
    assert expired
    rows = derived["patient"]
    for s in expired:
        assert s["standard_id"] not in set(rows["standard_id"].dropna())


def findings_of(derived, rule_id):
    f = derived["findings"]
    return f[f["rule_id"] == rule_id].to_dict("records")


def test_nonwinner_standard_above_the_highest_winning_price(derived, csv):
    winners = {w["winner_id"]: w for w in csv["winners"]}
    win_price = {p["winner_id"]: float(p["unit_price"]) for p in csv["prices"] if p["kind"] == "winning_bid"}
    expected = set()
    for s in csv["payment_standards"]:
        w = winners[s["winner_id"]]
        if w["won"] == "true":
            continue
        group = [win_price[o["winner_id"]] for o in csv["winners"] if o["won"] == "true"
                 and o["unit_id"] == w["unit_id"] and o["batch_id"] == w["batch_id"] and o["strength"] == w["strength"]]
        if group and float(s["amount"]) > max(group):
            expected.add(s["standard_id"])
    found = findings_of(derived, "nonwinner-standard-above-highest")
    assert {sid for f in found for sid in f["standard_ids"]} == expected and len(expected) == 1
    assert "0.2500 元/片" in found[0]["summary"] and "0.2090 元/片" in found[0]["summary"]


def test_originator_and_passing_generic_standards_differ(derived, csv):
    found = findings_of(derived, "originator-generic-standards-differ")
    assert len(found) == 1
    f = found[0]
    standards = {s["standard_id"]: s for s in csv["payment_standards"]}
    winners = {w["winner_id"]: w for w in csv["winners"]}
    rows = [standards[sid] for sid in f["standard_ids"]]
    assert len({r["region_code"] for r in rows}) == 1 and len({r["unit_id"] for r in rows}) == 1
    orig = {r["amount"] for r in rows if winners[r["winner_id"]]["originator"] == "true"}
    gen = {r["amount"] for r in rows if winners[r["winner_id"]]["consistency_passed"] == "true"}
    assert orig and gen and orig != gen


def test_winner_that_supplies_no_province(derived, csv):
    expected = {w["winner_id"] for w in csv["winners"] if w["won"] == "true" and not w["supply_regions"]}
    found = findings_of(derived, "winner-without-province")
    assert {f["winner_ids"][0] for f in found} == expected and len(expected) == 1


def test_rules_find_nothing_once_the_data_agrees(tmp_path):
    data = copy_data(tmp_path / "data")
    standards = read_rows(data / "payment_standards.csv")
    for s in standards:
        if s["standard_id"] == "ps-360000-1x-etv-05-qingfeng":
            s["amount"] = "0.2090"  # the highest winning price of its group
        if s["standard_id"] == "ps-330000-2-aca-50-bayer":
            s["amount"], s["basis"] = "0.2800", "highest_winning_price"
        if s["standard_id"] == "ps-330000-2-aca-50-huadong":
            s["amount"] = "0.2800"
            s["basis"] = "other"
    write_rows(data / "payment_standards.csv", standards)
    winners = read_rows(data / "winners.csv")
    for w in winners:
        if w["winner_id"] == "w-nat-drug-2-met-500-tianan":
            w["supply_regions"] = "450000"
    write_rows(data / "winners.csv", winners)
    assert derive(load(data))["findings"].empty


def test_winning_price_above_the_maximum_valid_bid(tmp_path):
    data = copy_data(tmp_path / "data")
    prices = read_rows(data / "prices.csv")
    wid = "w-nat-drug-4-pan-40-beite"
    cap = next(float(p["unit_price"]) for p in prices if p["winner_id"] == wid and p["kind"] == "max_bid")
    for p in prices:
        if p["winner_id"] == wid and p["kind"] == "winning_bid":
            p["unit_price"], p["pack_price"] = f"{cap + 1:.4f}", f"{cap + 1:.2f}"  # pack of 1
    write_rows(data / "prices.csv", prices)
    standards = read_rows(data / "payment_standards.csv")
    write_rows(data / "payment_standards.csv", [s for s in standards if s["winner_id"] != wid])
    found = derive(load(data))["findings"]
    found = found[found["rule_id"] == "winning-price-above-max-bid"].to_dict("records")
    assert [f["winner_ids"] for f in found] == [[wid]]
    assert found[0]["amount"] == cap + 1 and found[0]["limit"] == cap
