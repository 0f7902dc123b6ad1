"""Rule checks: where the data contradicts the published rules.

Unlike generator/checks.py (which rejects a package that cannot be right), these
are findings about the world the data describes, published on /checks/ for
journalists. Each finding names the rows involved and their sources."""
from __future__ import annotations

import numpy as np
import pandas as pd

from .prices import present
from .substitutes import _same_strength, same_strength

EPS = 1e-6  # prices per smallest unit carry four decimals: compare exactly, not to the fen

RULES = [
    {
        "rule_id": "nonwinner-standard-above-highest",
        "title": "非中选产品的医保支付标准高于同组最高中选价",
        "quotes": [
            {"source_id": "nhsa-2021-31", "doc": "医保发〔2021〕31号", "date": "2021-04-30", "clause": "（十二）",
             "text": "中选产品医保支付标准按照中选价格确定，非中选产品医保支付标准不高于类别相同、功能相近中选产品的最高中选价格。"},
            {"source_id": "gov-2021-2", "doc": "国办发〔2021〕2号", "date": "2021-01-22", "clause": "（十四）",
             "text": "对医保目录内的集中带量采购药品，以中选价格为基准确定医保支付标准。"},
        ],
        "test": "对每条针对未中选产品的支付标准，与同一批次、同一竞争单元（药品再限同一规格）全部中选产品的最高中选价（每最小单位）比较；高出即列为发现。"
                "耗材的上限直接见医保发〔2021〕31号；药品的文件只规定“以中选价格为基准”，这里按同一上限核对，供读者判断。",
    },
    {
        "rule_id": "originator-generic-standards-differ",
        "title": "同通用名的原研药与通过一致性评价的仿制药支付标准不同",
        "quotes": [
            {"source_id": "gov-2021-2", "doc": "国办发〔2021〕2号", "date": "2021-01-22", "clause": "（十四）",
             "text": "对同通用名下的原研药、参比制剂、通过一致性评价的仿制药，实行同一医保支付标准。"},
        ],
        "test": "在同一地区、同一竞争单元、同一规格内，比较原研药（含参比制剂）与通过一致性评价的仿制药的支付标准；"
                "执行期间重叠而金额不同即列为发现。",
    },
    {
        "rule_id": "winner-without-province",
        "title": "中选产品没有任何供应省份",
        "quotes": [
            {"source_id": "gov-2021-2", "doc": "国办发〔2021〕2号", "date": "2021-01-22", "clause": "（八）",
             "text": "中选结果应体现量价挂钩原则，明确各家中选企业的约定采购量。"},
            {"source_id": "nhsa-2021-31", "doc": "医保发〔2021〕31号", "date": "2021-04-30", "clause": "（七）",
             "text": "按照量价挂钩原则，明确各中选企业的约定采购量，合理确定采购协议期。"},
        ],
        "test": "中选产品的供应省份为空：没有供应地区，就没有约定采购量，“以量换价”无从落实。",
    },
    {
        "rule_id": "winning-price-above-max-bid",
        "title": "中选价高于最高有效申报价",
        "quotes": [
            {"source_id": "gov-2021-2", "doc": "国办发〔2021〕2号", "date": "2021-01-22", "clause": "（八）",
             "text": "基于现有市场价格确定采购药品最高有效申报价等入围条件。"},
        ],
        "test": "最高有效申报价是有效报价的上限；中选价（每最小单位）高于同一产品的最高有效申报价即列为发现。"
                "未中选的报价高于上限只说明该报价无效，不列出。",
    },
]
RULE_TITLES = {r["rule_id"]: r["title"] for r in RULES}

COLUMNS = ["finding_id", "rule_id", "unit_id", "batch_id", "region_code", "winner_ids",
           "standard_ids", "source_ids", "amount", "limit", "amount_unit", "summary"]


def findings(pkg, products: pd.DataFrame) -> pd.DataFrame:
    rows = [*_nonwinner_above_highest(pkg, products), *_originator_generic_differ(pkg, products),
            *_winner_without_province(products), *_winning_above_max_bid(products)]
    return pd.DataFrame(rows, columns=COLUMNS)


def _region_names(pkg) -> pd.Series:
    return pkg.tables["regions"].set_index("region_code")["short_name"]


def _fmt(value: float) -> str:
    return f"{value:,.4f}" if abs(value) < 1 else f"{value:,.2f}"


def _records(frame: pd.DataFrame, rows, columns) -> list[dict]:
    """Rows of frame (by position) as dicts of the given columns: records for a few rows only."""
    part = frame[columns].take(np.asarray(rows, dtype=np.int64))
    return [dict(zip(columns, v)) for v in zip(*(part[c].tolist() for c in columns))]


def _winner_positions(products: pd.DataFrame, winner_ids) -> np.ndarray:
    pos = pd.Index(products["winner_id"]).get_indexer(winner_ids)
    if (pos < 0).any():
        raise KeyError(list(pd.Series(winner_ids)[pos < 0])[:5])
    return pos


def _repeat_within(group_a: np.ndarray, group_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All pairs (i, j) with group_a[i] == group_b[j]: i ascending, then j ascending."""
    by_b = np.argsort(group_b, kind="stable")
    sorted_b = group_b[by_b]
    starts = np.searchsorted(sorted_b, group_a, "left")
    counts = np.searchsorted(sorted_b, group_a, "right") - starts
    i = np.repeat(np.arange(len(group_a)), counts)
    within = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return i, by_b[np.repeat(starts, counts) + within]


PRODUCT_FIELDS = ["winner_id", "batch_id", "unit_id", "category", "won", "price", "price_unit", "price_source",
                  "source_id", "company_short", "unit_name", "strength", "strength_base", "strength_base_unit",
                  "originator", "consistency_passed"]
STANDARD_FIELDS = ["standard_id", "region_code", "batch_id", "unit_id", "winner_id", "amount", "amount_unit",
                   "effective_from", "effective_to", "source_id"]


def _nonwinner_above_highest(pkg, products):
    """Standards of losing products above the highest winning price of their group.

    Found with arrays (every losing product against the priced winners of its round and
    unit); only the standards found are turned into records."""
    st = pkg.tables["payment_standards"]
    with_winner = np.flatnonzero(st["winner_id"].notna().to_numpy(bool))
    pos = _winner_positions(products, st["winner_id"].to_numpy(object)[with_winner])
    won = products["won"].to_numpy(bool)
    losing = ~won[pos]
    rows, pos = with_winner[losing], pos[losing]
    if not len(rows):
        return
    price = products["price"].to_numpy(dtype=float, na_value=np.nan)
    priced = np.flatnonzero(won & ~np.isnan(price))
    # Group of a product: (round, unit) — and price unit, matched against the standard's unit.
    group = pd.MultiIndex.from_arrays([products["batch_id"], products["unit_id"]])
    group_codes = pd.factorize(group)[0]
    units, unit_names = pd.factorize(np.concatenate([products["price_unit"].to_numpy(object),
                                                     st["amount_unit"].to_numpy(object)[rows]]))
    price_unit = units[:len(products)]
    losers = np.unique(pos)
    li, wi = _repeat_within(group_codes[losers], group_codes[priced])
    loser, winner = losers[li], priced[wi]
    drug = (products["category"].to_numpy(object) == "drug")
    keep = (~drug[loser] | same_strength(products, loser, winner)) & (price_unit[winner] >= 0)
    loser, winner = loser[keep], winner[keep]
    n_units = max(len(unit_names), 1)
    key = loser.astype(np.int64) * n_units + price_unit[winner]
    tops = pd.Series(price[winner]).groupby(key).max()
    std_key = pos.astype(np.int64) * n_units + units[len(products):]
    top = np.array(tops.reindex(std_key), dtype=float)
    top[units[len(products):] < 0] = np.nan
    amount = st["amount"].to_numpy(float)[rows]
    found = ~np.isnan(top) & ~(amount <= top + EPS)
    rows, pos, top = rows[found], pos[found], top[found]
    order = np.argsort(st["standard_id"].to_numpy(object)[rows], kind="stable")
    rows, pos, top = rows[order], pos[order], top[order]
    p_records = _records(products, pos, PRODUCT_FIELDS)
    s_records = _records(st, rows, STANDARD_FIELDS)
    # The group of each loser found: its priced winners of the same strength, in product order.
    involved = np.isin(loser, pos)
    group_of: dict[int, list[int]] = {}
    for lo, w in zip(loser[involved].tolist(), winner[involved].tolist()):
        group_of.setdefault(lo, []).append(w)
    region = _region_names(pkg)
    for s, p, loser_pos, top_ in zip(s_records, p_records, pos.tolist(), top.tolist()):
        tops = [w for w in group_of[loser_pos]
                if unit_names[price_unit[w]] == s["amount_unit"] and abs(price[w] - top_) <= EPS]
        tops = _records(products, tops, PRODUCT_FIELDS)
        top = top_
        yield {
            "finding_id": f"nonwinner-standard-above-highest-{s['standard_id']}",
            "rule_id": "nonwinner-standard-above-highest",
            "unit_id": p["unit_id"], "batch_id": p["batch_id"], "region_code": s["region_code"],
            "winner_ids": [p["winner_id"], *[w["winner_id"] for w in tops]],
            "standard_ids": [s["standard_id"]],
            "source_ids": _unique([s["source_id"], p["source_id"], *[w["price_source"] for w in tops]]),
            "amount": s["amount"], "limit": top, "amount_unit": s["amount_unit"],
            "summary": (f"{region.get(s['region_code'], s['region_code'])}自 {s['effective_from']} 起对未中选产品"
                        f"{p['company_short']} {p['unit_name']} {p['strength']} 执行的支付标准为 "
                        f"{_fmt(s['amount'])} {s['amount_unit']}，高于同组最高中选价 {_fmt(top)} {s['amount_unit']}"
                        f"（{'、'.join(w['company_short'] for w in tops)}），高出 {_fmt(s['amount'] - top)} {s['amount_unit']}。"),
        }


def _overlap(a, b) -> bool:
    a_to = a["effective_to"] if present(a["effective_to"]) else "9999-12-31"
    b_to = b["effective_to"] if present(b["effective_to"]) else "9999-12-31"
    return a["effective_from"] <= b_to and b["effective_from"] <= a_to


def _originator_generic_differ(pkg, products):
    """Originator and generic standards that differ in one region, unit and strength.

    Arrays find the (region, unit) groups where some originator's standard differs from
    an overlapping generic's of the same strength; only those groups are walked in Python."""
    region = _region_names(pkg)
    st = pkg.tables["payment_standards"]
    with_winner = np.flatnonzero(st["winner_id"].notna().to_numpy(bool))
    pos = _winner_positions(products, st["winner_id"].to_numpy(object)[with_winner])
    drug = products["category"].to_numpy(object)[pos] == "drug"
    rows, pos = with_winner[drug], pos[drug]
    originator = np.array([bool(v) for v in products["originator"]], dtype=bool)
    passed = np.array([present(v) and bool(v) for v in products["consistency_passed"]], dtype=bool)
    # Groups numbered in (region, unit) order.
    region_codes = pd.factorize(st["region_code"].to_numpy(object)[rows], sort=True)[0].astype(np.int64)
    unit_codes, unit_names = pd.factorize(st["unit_id"].to_numpy(object)[rows], sort=True)
    group = region_codes * max(len(unit_names), 1) + unit_codes
    o = np.flatnonzero(originator[pos])
    g = np.flatnonzero(~originator[pos] & passed[pos])
    oi, gi = _repeat_within(group[o], group[g])
    o, g = o[oi], g[gi]
    start = st["effective_from"].to_numpy(object)[rows]
    end = st["effective_to"].to_numpy(object)[rows].copy()
    end[pd.isna(end)] = "9999-12-31"
    amount = st["amount"].to_numpy(float)[rows]
    amount_unit = st["amount_unit"].to_numpy(object)[rows]
    differ = ((start[o] <= end[g]) & (start[g] <= end[o]) & (amount_unit[g] == amount_unit[o])
              & (np.abs(amount[g] - amount[o]) > EPS))
    differ[differ] = same_strength(products, pos[o[differ]], pos[g[differ]])
    found = np.isin(group, np.unique(group[o[differ]]))
    rows, pos, group = rows[found], pos[found], group[found]
    order = np.lexsort([pd.factorize(st["standard_id"].to_numpy(object)[rows], sort=True)[0], group])
    group, rows, pos = group[order], rows[order], pos[order]
    bounds = np.flatnonzero(np.r_[True, group[1:] != group[:-1], True]) if len(group) else np.array([0])
    # Records one group at a time: a group's rows are few, the groups found many.
    s_part = st[STANDARD_FIELDS].take(rows)
    p_part = products[PRODUCT_FIELDS].take(pos)
    s_cols = [s_part[c].tolist() for c in STANDARD_FIELDS]
    p_cols = [p_part[c].tolist() for c in PRODUCT_FIELDS]
    del s_part, p_part
    for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        rows = [(dict(zip(STANDARD_FIELDS, r)), dict(zip(PRODUCT_FIELDS, p)))
                for r, p in zip(zip(*(c[lo:hi] for c in s_cols)), zip(*(c[lo:hi] for c in p_cols)))]
        code, unit = rows[0][0]["region_code"], rows[0][0]["unit_id"]
        originators = [(r, p) for r, p in rows if p["originator"]]
        generics = [(r, p) for r, p in rows
                    if not p["originator"] and present(p["consistency_passed"]) and bool(p["consistency_passed"])]
        seen: set[str] = set()
        for o, op in originators:
            if o["standard_id"] in seen:
                continue
            differing = [(g, gp) for g, gp in generics
                         if _same_strength(op, gp) and _overlap(o, g) and g["amount_unit"] == o["amount_unit"]
                         and abs(g["amount"] - o["amount"]) > EPS]
            if not differing:
                continue
            same = [(r, p) for r, p in originators if _same_strength(op, p)]
            seen |= {r["standard_id"] for r, _ in same}
            peers = [(g, gp) for g, gp in generics if _same_strength(op, gp) and _overlap(o, g)]
            involved = same + peers
            amounts = sorted({g["amount"] for g, _ in peers})
            span = _fmt(amounts[0]) if len(amounts) == 1 else f"{_fmt(amounts[0])}–{_fmt(amounts[-1])}"
            unit_ = o["amount_unit"]
            yield {
                "finding_id": f"originator-generic-standards-differ-{code}-{o['standard_id']}",
                "rule_id": "originator-generic-standards-differ",
                "unit_id": unit, "batch_id": o["batch_id"], "region_code": code,
                "winner_ids": _unique([p["winner_id"] for _, p in involved]),
                "standard_ids": [r["standard_id"] for r, _ in involved],
                "source_ids": _unique([r["source_id"] for r, _ in involved]),
                "amount": o["amount"], "limit": None, "amount_unit": unit_,
                "summary": (f"{region.get(code, code)}：{op['unit_name']} {op['strength']} 的原研药"
                            f"（{'、'.join(p['company_short'] for _, p in same)}）支付标准为 "
                            f"{'、'.join(_fmt(r['amount']) for r, _ in same)} {unit_}，"
                            f"通过一致性评价的仿制药为 {span} {unit_}。"),
            }


def _winner_without_province(products):
    won = products[products["won"].to_numpy(bool) & (products["regions"].map(len) == 0).to_numpy(bool)]
    for p in won.sort_values("winner_id").to_dict("records"):
        if p["regions"]:
            continue
        volume = (f"，约定采购量记为 {p['agreed_volume']:g} {p['agreed_volume_unit']}"
                  if present(p["agreed_volume"]) and present(p["agreed_volume_unit"]) else "")
        yield {
            "finding_id": f"winner-without-province-{p['winner_id']}",
            "rule_id": "winner-without-province",
            "unit_id": p["unit_id"], "batch_id": p["batch_id"], "region_code": None,
            "winner_ids": [p["winner_id"]], "standard_ids": [],
            "source_ids": _unique([p["source_id"], p["price_source"]]),
            "amount": p["price"], "limit": None, "amount_unit": p["price_unit"],
            "summary": (f"{p['company_short']} {p['unit_name']} {p['strength']} 以 {_fmt(p['price'])} {p['price_unit']}"
                        f" 中选，但数据中没有任何供应省份{volume}。") if present(p["price"]) else
                       f"{p['company_short']} {p['unit_name']} {p['strength']} 中选，但数据中没有任何供应省份{volume}。",
        }


def _winning_above_max_bid(products):
    above = ~(products["price"] <= products["max_bid"] + EPS)  # only these can be found below
    won = products[(products["won"] & products["price"].notna() & products["max_bid"].notna() & above).to_numpy(bool)]
    for p in won.sort_values("winner_id").to_dict("records"):
        if not present(p["price"]) or not present(p["max_bid"]) or p["price"] <= p["max_bid"] + EPS:
            continue
        yield {
            "finding_id": f"winning-price-above-max-bid-{p['winner_id']}",
            "rule_id": "winning-price-above-max-bid",
            "unit_id": p["unit_id"], "batch_id": p["batch_id"], "region_code": None,
            "winner_ids": [p["winner_id"]], "standard_ids": [],
            "source_ids": _unique([p["price_source"], p["max_bid_source"], p["source_id"]]),
            "amount": p["price"], "limit": p["max_bid"], "amount_unit": p["price_unit"],
            "summary": (f"{p['company_short']} {p['unit_name']} {p['strength']} 的中选价为 {_fmt(p['price'])} "
                        f"{p['price_unit']}，高于最高有效申报价 {_fmt(p['max_bid'])} {p['price_unit']}"
                        f"（高出 {_fmt(p['price'] - p['max_bid'])} {p['price_unit']}）。"),
        }


def _unique(values) -> list:
    return [v for v in dict.fromkeys(values) if present(v)]
