"""Rule checks: where the data contradicts the published rules.

Unlike generator/checks.py (which rejects a package that cannot be right), these
are findings about the world the data describes, published on /checks/ for
journalists. Each finding names the rows involved and their sources."""
from __future__ import annotations

import pandas as pd

from .prices import present
from .substitutes import _same_strength

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


def _nonwinner_above_highest(pkg, products):
    by_id = {p["winner_id"]: p for p in products.to_dict("records")}
    groups: dict[tuple, list[dict]] = {}
    for w in by_id.values():
        if w["won"] and present(w["price"]):
            groups.setdefault((w["batch_id"], w["unit_id"]), []).append(w)
    region = _region_names(pkg)
    for s in pkg.tables["payment_standards"].sort_values("standard_id").to_dict("records"):
        if not present(s["winner_id"]):
            continue
        p = by_id[s["winner_id"]]
        if p["won"]:
            continue
        group = [w for w in groups.get((p["batch_id"], p["unit_id"]), [])
                 if w["price_unit"] == s["amount_unit"]
                 and (p["category"] != "drug" or _same_strength(p, w))]
        if not group:
            continue
        top = max(w["price"] for w in group)
        if s["amount"] <= top + EPS:
            continue
        tops = [w for w in group if abs(w["price"] - top) <= EPS]
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
    by_id = {p["winner_id"]: p for p in products.to_dict("records")}
    region = _region_names(pkg)
    s = pkg.tables["payment_standards"]
    groups: dict[tuple, list[tuple[dict, dict]]] = {}
    for r in s[s["winner_id"].map(present).astype(bool)].sort_values("standard_id").to_dict("records"):
        p = by_id[r["winner_id"]]
        if p["category"] == "drug":
            groups.setdefault((r["region_code"], r["unit_id"]), []).append((r, p))
    for (code, unit), rows in sorted(groups.items()):
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
    for p in products[products["won"]].sort_values("winner_id").to_dict("records"):
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
    for p in products[products["won"]].sort_values("winner_id").to_dict("records"):
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
