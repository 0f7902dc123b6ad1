"""Synthetic data packages at named sizes, valid against schemas/ and generator/checks.py.

    python -m bench.synth --size small|national --out DIR
    python -m bench.synth --scale 2.5 --out DIR      # 2.5 × national

Every table but the reference tables (regions, sources: copied from data/)
grows linearly with the scale. The seed is fixed: a size always gives the same
bytes. Generation is vectorised (numpy, pandas) so a million payment standards
take seconds. Prices are invented; the package is flagged `sample: true`."""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
from pypinyin import lazy_pinyin

from generator.package import DEFAULT_DATA, DESCRIPTOR, RESOURCES, load_schema, swap_in

SEED = 20261101
AS_OF = "2026-11-01"
SIZES = {"small": 0.01, "national": 1.0}
# Row counts at scale 1 ("national"): every national and provincial round,
# drugs and consumables, payment standards for every province.
NATIONAL = {
    "batches": 100,
    "companies": 1500,
    "units": 3000,
    "winners": 30000,
    "prices": 100000,
    "payment_standards": 1000000,
    "execution_notices": 3000,
}
# Floors keep tiny scales meaningful (both categories, several rounds).
MINIMUM = {"batches": 4, "companies": 10, "units": 6, "winners": 12, "prices": 36,
           "payment_standards": 12, "execution_notices": 4}
CONSUMABLE_SHARE = 0.15
WON_SHARE = 0.6
UNIT_LEVEL_STANDARDS = 0.03  # standards for a whole competition unit (no winner_id)

# --- name parts: invented, shaped like real generic names and companies --------
DRUG_PREFIXES = ["阿", "奥", "贝", "苯", "比", "地", "多", "恩", "伏", "格", "卡", "克",
                 "拉", "雷", "利", "罗", "美", "莫", "帕", "瑞", "索", "替", "缬", "依"]
DRUG_MIDDLES = ["托", "美", "那", "奈", "西", "卡", "莫", "氯", "格", "普", "达", "曲"]
DRUG_STEMS = [("他汀", "statin"), ("沙坦", "sartan"), ("地平", "dipine"), ("普利", "pril"),
              ("洛尔", "olol"), ("拉唑", "prazole"), ("沙星", "floxacin"), ("替尼", "tinib"),
              ("西坦", "racetam"), ("韦", "vir"), ("霉素", "mycin"), ("格列汀", "gliptin"),
              ("膦酸钠", "dronate"), ("哌嗪", "perazine"), ("唑仑", "zolam"), ("司琼", "setron")]
DRUG_FORMS = [("口服常释剂型", "oral", ["片", "粒"]), ("注射剂", "inj", ["支", "瓶"]),
              ("缓释控释剂型", "sr", ["片", "粒"]), ("口服液体剂", "liquid", ["袋", "瓶"]),
              ("吸入剂", "inh", ["支"]), ("外用制剂", "topical", ["贴", "支"])]
CONS_CATEGORIES = [("冠脉支架", "stent"), ("人工髋关节", "hip"), ("人工膝关节", "knee"),
                   ("骨科脊柱类耗材", "spine"), ("骨科创伤类耗材", "trauma"), ("人工晶体", "iol"),
                   ("吻合器", "stapler"), ("心脏起搏器", "pacemaker"), ("冠脉扩张球囊", "balloon"),
                   ("一次性使用输液器", "infusion"), ("静脉留置针", "cannula"), ("超声刀头", "harmonic"),
                   ("血管介入导管", "catheter"), ("运动医学类耗材", "sportsmed"), ("人工耳蜗", "cochlear"),
                   ("止血材料", "hemostat"), ("疝修补片", "hernia"), ("种植牙", "implant"),
                   ("神经外科类耗材", "neuro"), ("电生理类耗材", "ep")]
CONS_GROUPS = ["钴铬合金", "铂铬合金", "不锈钢", "钛合金", "陶瓷对陶瓷", "陶瓷对聚乙烯",
               "可吸收", "不可吸收", "单腔", "双腔", "精密过滤", "药物涂层"]
CONS_SPECS = ["A组", "B组", "C组", "D组", "E组", "F组", "G组", "H组", "I组", "J组"]
PLACES = ["北京", "上海", "天津", "重庆", "广州", "深圳", "杭州", "南京", "苏州", "武汉",
          "成都", "西安", "济南", "青岛", "石家庄", "哈尔滨", "长春", "沈阳", "大连", "郑州",
          "长沙", "南昌", "合肥", "福州", "厦门", "昆明", "贵阳", "南宁", "海口", "太原",
          "兰州", "西宁", "银川", "宁波", "温州", "无锡", "常州", "扬州", "烟台", "潍坊",
          "台州", "绍兴", "珠海", "佛山", "东莞", "中山", "泉州", "漳州", "连云港", "泰州",
          "淄博", "临沂", "保定", "洛阳", "宜昌", "株洲", "赣州", "芜湖", "徐州", "南通"]
WORDS = ["华康", "恒瑞", "信立", "泰安", "健民", "德康", "正元", "仁和", "永安", "福瑞",
         "海正", "天宇", "新华", "金城", "博源", "安泰", "康恩", "瑞阳", "鲁南", "百川",
         "中孚", "同和", "广济", "九洲", "东阳", "悦康", "万邦", "飞利", "汇宇", "科伦",
         "普利", "远大", "华海", "京新", "联邦", "国瑞", "新天", "济川", "亚宝", "三生"]
COMPANY_SUFFIXES = [("药业有限公司", "药业"), ("制药股份有限公司", "制药"),
                    ("生物制药有限公司", "生物"), ("医疗器械有限公司", "医疗"),
                    ("医疗科技股份有限公司", "医疗科技")]
STRENGTHS = [(0.5, "mg"), (1, "mg"), (2.5, "mg"), (5, "mg"), (10, "mg"), (20, "mg"), (25, "mg"),
             (40, "mg"), (50, "mg"), (100, "mg"), (200, "mg"), (250, "mg"), (0.5, "g"), (1, "g"),
             (5, "ml"), (10, "ml"), (40, "万IU")]
PACK_SIZES = [7, 10, 14, 20, 28, 30, 48, 60, 100]


def counts(scale: float) -> dict[str, int]:
    """Rows per table at a scale (1 = national)."""
    return {name: max(MINIMUM[name], int(round(n * scale))) for name, n in NATIONAL.items()}


def scale_of(size: str) -> float:
    return SIZES[size]


def slug(text: str) -> str:
    return "".join(lazy_pinyin(text)).lower()


def _pick_cells(rng, n_cells: int, n: int) -> np.ndarray:
    """n distinct cells of a grid of n_cells, sorted; repeats the grid when n > n_cells."""
    if n <= n_cells:
        return np.sort(rng.choice(n_cells, size=n, replace=False))
    return np.arange(n)  # caller folds with % n_cells and numbers the repeats


def _dates(base: np.ndarray, days: np.ndarray) -> np.ndarray:
    return (base.astype("datetime64[D]") + days.astype("timedelta64[D]"))


def _iso(d: np.ndarray) -> np.ndarray:
    return np.datetime_as_string(d.astype("datetime64[D]"), unit="D")


def _money(k: np.ndarray) -> list[str]:
    """Prices are drawn as integers in 1/10,000 yuan and written with 4 decimals."""
    return [f"{v / 10000:.4f}" for v in k.tolist()]


def _blank(values, mask) -> np.ndarray:
    out = np.asarray(values, dtype=object).copy()
    out[np.asarray(mask)] = ""
    return out


def _dedupe(ids) -> np.ndarray:
    """Number the repeats of an id: a, a-1, a-2 …"""
    ids = pd.Series(np.asarray(ids, dtype=object))
    dup = ids.groupby(ids).cumcount().to_numpy()
    return np.where(dup > 0, ids + "-" + dup.astype(str), ids).astype(object)


def _bool(values) -> np.ndarray:
    return np.where(np.asarray(values, dtype=bool), "true", "false").astype(object)


# --- tables --------------------------------------------------------------------

def make_batches(rng, n: int, regions: pd.DataFrame) -> pd.DataFrame:
    provinces = regions[regions["level"] == "province"]
    cities = regions[regions["level"] == "city"]
    n_cons = max(1, int(round(n * 0.25)))
    category = np.array(["drug"] * n, dtype=object)
    category[rng.choice(n, n_cons, replace=False)] = "consumable"
    cat_cn = {"drug": "药品", "consumable": "医用耗材"}
    level = np.empty(n, dtype=object)
    u = rng.random(n)
    level[:] = np.where(u < 0.2, "national", np.where(u < 0.4, "alliance",
                        np.where(u < 0.9, "provincial", "city")))
    level[0] = "national"
    announced = _dates(np.full(n, np.datetime64("2018-12-07")), np.sort(rng.integers(0, 2500, n)))
    ids, names, organisers, renewal_of = [], [], [], []
    seen: dict[tuple, int] = {}
    for i in range(n):
        cat, lev = category[i], level[i]
        short = "drug" if cat == "drug" else "cons"
        if lev == "national":
            key = ("nat", short)
            k = seen[key] = seen.get(key, 0) + 1
            ids.append(f"nat-{short}-{k}")
            names.append(f"第{k}批国家组织{cat_cn[cat]}集中带量采购")
            organisers.append("国家组织药品联合采购办公室" if cat == "drug" else "国家组织高值医用耗材联合采购办公室")
        elif lev == "alliance":
            lead = provinces.iloc[int(rng.integers(len(provinces)))]
            key = ("ali", short)
            k = seen[key] = seen.get(key, 0) + 1
            ids.append(f"ali-{short}-{k}")
            names.append(f"{lead['short_name']}牵头省际联盟{cat_cn[cat]}集中带量采购（第{k}批）")
            organisers.append(f"{lead['name']}医药集中采购中心（联盟牵头）")
        else:
            pool = provinces if lev == "provincial" else cities
            reg = pool.iloc[int(rng.integers(len(pool)))]
            key = (reg["region_code"], short)
            k = seen[key] = seen.get(key, 0) + 1
            ids.append(f"{'prov' if lev == 'provincial' else 'city'}-{reg['region_code']}-{short}-{k}")
            names.append(f"{reg['name']}{cat_cn[cat]}集中带量采购（第{k}批）")
            organisers.append(f"{reg['name']}医疗保障局")
        earlier = [j for j in range(i) if category[j] == cat and level[j] == "national"]
        renewal_of.append(ids[earlier[int(rng.integers(len(earlier)))]]
                          if lev == "alliance" and earlier and rng.random() < 0.5 else "")
    agreement_start = _dates(announced, rng.integers(40, 120, n))
    years = rng.choice([1, 2, 3], n, p=[0.2, 0.4, 0.4])
    return pd.DataFrame({
        "batch_id": ids, "name": names, "level": level, "category": category,
        "organiser": organisers, "announced_date": _iso(announced),
        "agreement_start": _iso(agreement_start), "agreement_years": years.astype(str),
        "renewal_of": renewal_of, "source_id": "sample",
    })


def make_companies(rng, n: int) -> pd.DataFrame:
    i = np.arange(n)
    place = i % len(PLACES)
    word = (i // len(PLACES)) % len(WORDS)
    suffix = (i // (len(PLACES) * len(WORDS))) % len(COMPANY_SUFFIXES)
    lap = i // (len(PLACES) * len(WORDS) * len(COMPANY_SUFFIXES))
    place_slug = [slug(p) for p in PLACES]
    word_slug = [slug(w) for w in WORDS]
    names, shorts, ids = [], [], []
    for p, w, s, k in zip(place.tolist(), word.tolist(), suffix.tolist(), lap.tolist()):
        extra = f"第{k + 1}" if k else ""
        names.append(f"{PLACES[p]}{WORDS[w]}{extra}{COMPANY_SUFFIXES[s][0]}")
        shorts.append(f"{WORDS[w]}{COMPANY_SUFFIXES[s][1]}")
        ids.append(f"c-{word_slug[w]}-{place_slug[p]}" + (f"-{s}" if s else ""))
    names_arr = np.array(names, dtype=object)
    aliases = _blank(names_arr + "（集团）", rng.random(n) >= 0.3)
    return pd.DataFrame({
        "company_id": _dedupe(ids), "name": names, "short_name": shorts, "aliases": aliases,
        "foreign": _bool(rng.random(n) < 0.1),
    })


def make_units(rng, n: int) -> pd.DataFrame:
    n_cons = max(1, int(round(n * CONSUMABLE_SHARE)))
    n_drug = n - n_cons
    g_total = len(DRUG_PREFIXES) * len(DRUG_MIDDLES) * len(DRUG_STEMS)
    drug_cells = _pick_cells(rng, g_total * len(DRUG_FORMS), n_drug)
    cons_total = len(CONS_CATEGORIES) * len(CONS_GROUPS) * len(CONS_SPECS)
    cons_cells = _pick_cells(rng, cons_total, n_cons)
    pre_slug = [slug(p) for p in DRUG_PREFIXES]
    mid_slug = [slug(m) for m in DRUG_MIDDLES]
    rows = []
    for j, cell in enumerate(drug_cells.tolist()):
        lap, c = divmod(cell, g_total * len(DRUG_FORMS))
        form, g = divmod(c, g_total)
        p, rest = divmod(g, len(DRUG_MIDDLES) * len(DRUG_STEMS))
        m, s = divmod(rest, len(DRUG_STEMS))
        generic = DRUG_PREFIXES[p] + DRUG_MIDDLES[m] + DRUG_STEMS[s][0]
        form_cn, form_slug, _ = DRUG_FORMS[form]
        extra, extra_id = (f"（第{lap + 1}组）", f"-{lap + 1}") if lap else ("", "")
        rows.append((f"u-{pre_slug[p]}{mid_slug[m]}{DRUG_STEMS[s][1]}-{form_slug}{extra_id}",
                     f"{generic}{form_cn}{extra}", "drug", generic, form_cn))
    for cell in cons_cells.tolist():
        lap, c = divmod(cell, cons_total)
        cat, rest = divmod(c, len(CONS_GROUPS) * len(CONS_SPECS))
        grp, spec = divmod(rest, len(CONS_SPECS))
        cat_cn, cat_slug = CONS_CATEGORIES[cat]
        extra, extra_id = (f"第{lap + 1}轮", f"-{lap + 1}") if lap else ("", "")
        rows.append((f"u-{cat_slug}-g{grp}-s{spec}{extra_id}",
                     f"{cat_cn}（{CONS_GROUPS[grp]}，{CONS_SPECS[spec]}{extra}）", "consumable",
                     cat_cn, f"{CONS_GROUPS[grp]} {CONS_SPECS[spec]}"))
    units = pd.DataFrame(rows, columns=["unit_id", "name", "category", "generic_name", "form_group"])
    assert units["unit_id"].is_unique and units["name"].is_unique
    return units


def make_winners(rng, n: int, units: pd.DataFrame, batches: pd.DataFrame,
                 companies: pd.DataFrame, provinces: list[str]) -> pd.DataFrame:
    n_units = len(units)
    # every unit has at least one bid; the rest spread at random
    unit_ix = np.sort(np.concatenate([np.arange(n_units), rng.integers(0, n_units, n - n_units)]))
    unit_cat = units["category"].to_numpy()[unit_ix]
    # each unit has a main round of its category; 30% of bids come from another round
    batch_cat = batches["category"].to_numpy()
    by_cat = {c: np.flatnonzero(batch_cat == c) for c in ("drug", "consumable")}
    main = np.empty(n_units, dtype=int)
    for c, pool in by_cat.items():
        sel = units["category"].to_numpy() == c
        main[sel] = pool[rng.integers(0, len(pool), sel.sum())]
    batch_ix = main[unit_ix]
    other = rng.random(n) < 0.3
    for c, pool in by_cat.items():
        sel = other & (unit_cat == c)
        batch_ix[sel] = pool[rng.integers(0, len(pool), sel.sum())]
    company_ix = rng.integers(0, len(companies), n)
    drug = unit_cat == "drug"
    won = rng.random(n) < WON_SHARE

    # Strengths and smallest units as in the real batches 1–4: a unit is offered
    # in one strength (132 of 158 units), two (25) or three (1), and in one
    # smallest unit; a bid takes one of its unit's.
    n_strengths = rng.choice([1, 2, 3], n_units, p=[0.835, 0.158, 0.007])
    unit_strengths = np.argsort(rng.random((n_units, len(STRENGTHS))), axis=1)[:, :3]
    st = unit_strengths[unit_ix, (rng.random(n) * n_strengths[unit_ix]).astype(int)]
    st_value = np.array([STRENGTHS[k][0] for k in range(len(STRENGTHS))])[st]
    st_unit = np.array([STRENGTHS[k][1] for k in range(len(STRENGTHS))], dtype=object)[st]
    strength = np.array([f"{v:g}{u}" for v, u in zip(st_value.tolist(), st_unit.tolist())], dtype=object)
    form_of = {f[0]: f for f in DRUG_FORMS}
    unit_forms = units["form_group"].to_numpy()[unit_ix]
    smallest = np.empty(n, dtype=object)
    pick = rng.integers(0, 2, n_units)[unit_ix]
    for form_cn, (_, _, choices) in form_of.items():
        sel = drug & (unit_forms == form_cn)
        smallest[sel] = np.array(choices, dtype=object)[pick[sel] % len(choices)]
    cons_units = np.array(["个", "根", "套", "枚"], dtype=object)
    smallest[~drug] = cons_units[rng.integers(0, 4, (~drug).sum())]
    pack_size = np.where(drug, np.array(PACK_SIZES)[rng.integers(0, len(PACK_SIZES), n)], 1)
    no_pack = rng.random(n) < 0.05
    pack_unit = np.where(drug, "盒", np.where(smallest == "套", "套", "个")).astype(object)
    model = np.where(drug, "", np.char.add("SYN-", rng.integers(100, 999, n).astype(str))).astype(object)
    strength[~drug] = np.char.add(np.char.add(rng.integers(2, 5, (~drug).sum()).astype(str), ".0×"),
                                  np.char.add(rng.integers(8, 38, (~drug).sum()).astype(str), "mm"))
    originator = drug & (rng.random(n) < 0.1)
    consistency = _blank(_bool(rng.random(n) < 0.95), originator | ~drug)

    # supply provinces for winners: 1–6 distinct provinces
    n_won = int(won.sum())
    k = rng.integers(1, 7, n_won)
    order = np.argsort(rng.random((n_won, len(provinces))), axis=1)
    prov = np.array(provinces, dtype=object)
    supply = np.full(n, "", dtype=object)
    supply[won] = ["|".join(prov[row[:m]]) for row, m in zip(order, k.tolist())]
    volume = _blank([f"{v:.2f}" for v in rng.uniform(1, 10000, n).tolist()], ~won)
    volume_unit = _blank(np.char.add("万", smallest.astype(str)).astype(object), ~won)

    batch_id = batches["batch_id"].to_numpy()[batch_ix]
    unit_token = units["unit_id"].str.split("-").str[1].to_numpy()[unit_ix]
    company_token = companies["company_id"].str.split("-").str[1].to_numpy()[company_ix]
    strength_token = pd.Series(strength).map(slug_strength).to_numpy()
    ids = _dedupe("w-" + batch_id.astype(object) + "-" + unit_token + "-" + strength_token
                  + "-" + company_token)
    return pd.DataFrame({
        "winner_id": ids, "batch_id": batch_id, "unit_id": units["unit_id"].to_numpy()[unit_ix],
        "strength": strength,
        "strength_value": _blank(pd.Series(st_value).map("{:g}".format).to_numpy(), ~drug),
        "strength_unit": _blank(st_unit, ~drug),
        "pack_size": _blank(pack_size.astype(str), no_pack),
        "smallest_unit": smallest, "pack_unit": _blank(pack_unit, no_pack), "model": model,
        "company_id": companies["company_id"].to_numpy()[company_ix],
        "originator": _bool(originator), "consistency_passed": consistency, "won": _bool(won),
        "supply_regions": supply, "agreed_volume": volume, "agreed_volume_unit": volume_unit,
        "backup_supplier": _bool(won & (rng.random(n) < 0.05)), "source_id": "sample",
        "source_ref": np.char.add(np.where(won, "拟中选结果!", "未中选企业!"),
                                  (np.arange(n) + 2).astype(str)).astype(object),
    })


def slug_strength(text: str) -> str:
    out = "".join(ch if ch.isascii() and ch.isalnum() else "-" for ch in text.lower().replace(".", "p"))
    out = "-".join(part for part in out.split("-") if part)
    return out or "x"


def winning_price_k(winners: pd.DataFrame, prices: pd.DataFrame) -> pd.Series:
    """The price a winning_price standard must equal: the latest winning or renewal price."""
    wp = prices[prices["kind"].isin(["winning_bid", "renewal"])]
    last = wp.sort_values(["effective_date", "price_id"]).groupby("winner_id")["_k"].last()
    return last.reindex(winners["winner_id"])


def make_prices(rng, n: int, winners: pd.DataFrame, batches: pd.DataFrame,
                provinces: list[str]) -> pd.DataFrame:
    nw = len(winners)
    won = winners["won"].to_numpy() == "true"
    drug = winners["model"].to_numpy() == ""
    # a base price per unit and a factor per product, in 1/10,000 yuan
    unit_codes, unit_ix = np.unique(winners["unit_id"].to_numpy(), return_inverse=True)
    base = np.exp(rng.uniform(np.log(0.05), np.log(300), len(unit_codes)))[unit_ix]
    base = np.where(drug, base, base * 100)
    median_k = np.maximum(np.round(base * rng.uniform(0.6, 1.8, nw) * 10000), 300).astype(np.int64)
    max_k = np.maximum(np.round(median_k * rng.uniform(0.3, 0.9, nw)), 200).astype(np.int64)
    bid_k = np.where(won, np.floor(max_k * rng.uniform(0.05, 0.7, nw)),
                     np.floor(max_k * rng.uniform(0.3, 1.0, nw)))
    bid_k = np.minimum(np.maximum(bid_k, 100), max_k).astype(np.int64)

    batch_date = dict(zip(batches["batch_id"], batches["announced_date"]))
    renewal_batch = {r: b for b, r in zip(batches["batch_id"], batches["renewal_of"]) if r}
    w_batch = winners["batch_id"].to_numpy()
    w_date = np.array([batch_date[b] for b in w_batch], dtype="datetime64[D]")

    extra = n - 3 * nw
    won_ix = np.flatnonzero(won)
    n_ren = min(extra // 2, len(won_ix))
    ren_ix = np.sort(rng.choice(won_ix, n_ren, replace=False))
    n_list = extra - n_ren
    list_ix = np.sort(rng.integers(0, nw, n_list))

    frames = []

    def frame(ix, kind, slug_kind, k, dates, region, batch):
        frames.append(pd.DataFrame({
            "_w": ix, "_k": k, "kind": kind, "_slug": slug_kind, "effective_date": _iso(dates),
            "region_code": region, "batch_id": batch}))

    all_ix = np.arange(nw)
    frame(all_ix, "median_pre", "median-pre", median_k, w_date, "000000", w_batch)
    frame(all_ix, "max_bid", "max-bid", max_k, w_date, "000000", w_batch)
    frame(all_ix, np.where(won, "winning_bid", "bid"), np.where(won, "winning-bid", "bid"),
          bid_k, w_date, "000000", w_batch)
    ren_k = np.maximum(np.floor(bid_k[ren_ix] * rng.uniform(0.8, 1.0, n_ren)), 100).astype(np.int64)
    ren_k = np.minimum(ren_k, bid_k[ren_ix])
    ren_batch = np.array([renewal_batch.get(b, b) for b in w_batch[ren_ix]], dtype=object)
    frame(ren_ix, "renewal", "renewal", ren_k, _dates(w_date[ren_ix], rng.integers(700, 1100, n_ren)),
          "000000", ren_batch)
    list_k = np.round(bid_k[list_ix] * rng.uniform(1.0, 1.3, n_list)).astype(np.int64)
    list_region = np.array(provinces, dtype=object)[rng.integers(0, len(provinces), n_list)]
    frame(list_ix, "listed", "listed-" + list_region, list_k,
          _dates(w_date[list_ix], rng.integers(60, 400, n_list)), list_region, w_batch[list_ix])

    p = pd.concat(frames, ignore_index=True)
    w_ids = winners["winner_id"].to_numpy()[p["_w"].to_numpy()]
    p["price_id"] = _dedupe("p-" + pd.Series(w_ids).str[2:] + "-" + p["_slug"])
    p["winner_id"] = w_ids
    smallest = winners["smallest_unit"].to_numpy()[p["_w"].to_numpy()]
    pack = winners["pack_size"].to_numpy()[p["_w"].to_numpy()]
    pack_unit = winners["pack_unit"].to_numpy()[p["_w"].to_numpy()]
    p["unit_price"] = _money(p["_k"].to_numpy())
    p["unit_price_unit"] = "元/" + pd.Series(smallest, dtype=object)
    # the same float arithmetic as generator/checks.py: round(unit_price × pack_size, 2)
    p["pack_price"] = [f"{round((k / 10000) * int(s), 2):.2f}" if s else ""
                       for k, s in zip(p["_k"].tolist(), pack.tolist())]
    p["pack_price_unit"] = np.where(pack == "", "", "元/" + pack_unit.astype(str)).astype(object)
    p["source_id"] = "sample"
    return p.sort_values("_w", kind="stable").reset_index(drop=True)


def make_payment_standards(rng, n: int, winners: pd.DataFrame, prices: pd.DataFrame,
                           batches: pd.DataFrame, regions: list[str]) -> pd.DataFrame:
    nw, nr = len(winners), len(regions)
    cells = _pick_cells(rng, nw * nr, n)
    lap, cells = np.divmod(cells, nw * nr)
    r_ix, w_ix = np.divmod(cells, nw)
    won_w = winners["won"].to_numpy() == "true"
    won = won_w[w_ix]
    win_k = winning_price_k(winners, prices).to_numpy()[w_ix]
    own_k = prices[prices["kind"].isin(["winning_bid", "bid"])].set_index("winner_id")["_k"] \
        .reindex(winners["winner_id"]).to_numpy()
    # As the rules ask (医保发〔2021〕31号, 国办发〔2021〕2号): a group of comparable
    # products (round, unit, strength for drugs, smallest unit) mostly shares one
    # standard, the group's highest winning bid; some winners keep their own price.
    drug = winners["model"].to_numpy() == ""
    group = (winners["batch_id"] + "|" + winners["unit_id"] + "|"
             + np.where(drug, winners["strength"], "") + "|" + winners["smallest_unit"])
    top_k = pd.Series(np.where(won_w, own_k, np.nan)).groupby(group.to_numpy()).transform("max").to_numpy()
    top_k = np.where(np.isnan(top_k), np.round(own_k * 1.2), top_k)[w_ix]
    u = rng.random(n)
    unit_level = rng.random(n) < UNIT_LEVEL_STANDARDS
    basis = np.where(won & ~unit_level & (u < 0.15), "winning_price",
                     np.where(u < 0.85, "highest_winning_price", "other")).astype(object)
    amount_k = np.where(basis == "winning_price", np.nan_to_num(win_k, nan=1), top_k).astype(np.int64)
    # a few standards above the group's highest winning bid: findings for /checks/
    above = ~won & (rng.random(n) < 0.002)
    amount_k = np.where(above, np.round(amount_k * rng.uniform(1.05, 1.5, n)), amount_k).astype(np.int64)
    batch_id = winners["batch_id"].to_numpy()[w_ix]
    announced = dict(zip(batches["batch_id"], batches["announced_date"]))
    start = _dates(np.array([announced[b] for b in batch_id], dtype="datetime64[D]"),
                   rng.integers(40, 200, n))
    end = _dates(start, rng.integers(365, 1100, n))
    w_id = winners["winner_id"].to_numpy()[w_ix]
    region = np.array(regions, dtype=object)[r_ix]
    sid = "ps-" + region + "-" + pd.Series(w_id, dtype=object).str[2:].to_numpy()
    sid = np.where(lap > 0, sid + "-" + lap.astype(str), sid)
    return pd.DataFrame({
        "standard_id": sid, "region_code": region, "batch_id": batch_id,
        "unit_id": winners["unit_id"].to_numpy()[w_ix],
        "winner_id": _blank(w_id, unit_level),
        "amount": _money(amount_k),
        "amount_unit": "元/" + winners["smallest_unit"].to_numpy()[w_ix],
        "effective_from": _iso(start),
        "effective_to": _blank(_iso(end), rng.random(n) >= 0.2),
        "basis": basis, "source_id": "sample",
    })


def make_notices(rng, n: int, batches: pd.DataFrame, regions: pd.DataFrame) -> pd.DataFrame:
    sub = regions[regions["region_code"] != "000000"].reset_index(drop=True)
    nb, nr = len(batches), len(sub)
    cells = _pick_cells(rng, nb * nr, n)
    lap, cells = np.divmod(cells, nb * nr)
    b_ix, r_ix = np.divmod(cells, nr)
    announced = batches["announced_date"].to_numpy().astype("datetime64[D]")[b_ix]
    published = _dates(announced, rng.integers(5, 60, n))
    start = _dates(published, rng.integers(5, 40, n))
    years = batches["agreement_years"].astype(int).to_numpy()[b_ix]
    end = _dates(start, years * 365 - 1)
    code = sub["region_code"].to_numpy()[r_ix]
    name = sub["name"].to_numpy()[r_ix]
    short = sub["short_name"].to_numpy()[r_ix]
    batch_id = batches["batch_id"].to_numpy()[b_ix]
    year = published.astype("datetime64[Y]").astype(int) + 1970
    nid = "n-" + code.astype(object) + "-" + batch_id.astype(object)
    nid = np.where(lap > 0, nid + "-" + lap.astype(str), nid)
    doc = [f"{s}医保发〔{y}〕{k}号" for s, y, k in zip(short, year.tolist(), rng.integers(1, 120, n).tolist())]
    return pd.DataFrame({
        "notice_id": nid, "region_code": code, "batch_id": batch_id,
        "issuer": name + "医疗保障局", "doc_number": _blank(doc, rng.random(n) < 0.1),
        "title": "关于做好" + batches["name"].to_numpy()[b_ix] + "中选结果落地实施工作的通知",
        "published_date": _iso(published), "execution_start": _iso(start),
        "agreement_end": _blank(_iso(end), rng.random(n) < 0.1),
        "url": "https://www.nhsa.gov.cn/", "source_id": "sample",
    })


def generate(scale: float, seed: int = SEED) -> tuple[dict, dict[str, pd.DataFrame]]:
    """(descriptor, tables) of a package at `scale` (1 = national)."""
    rng = np.random.default_rng(seed)
    c = counts(scale)
    regions = pd.read_csv(DEFAULT_DATA / "regions.csv", dtype=str, keep_default_na=False)
    sources = pd.read_csv(DEFAULT_DATA / "sources.csv", dtype=str, keep_default_na=False)
    provinces = regions.loc[regions["level"] == "province", "region_code"].tolist()
    sub_regions = regions.loc[regions["region_code"] != "000000", "region_code"].tolist()
    batches = make_batches(rng, c["batches"], regions)
    companies = make_companies(rng, c["companies"])
    units = make_units(rng, c["units"])
    winners = make_winners(rng, c["winners"], units, batches, companies, provinces)
    prices = make_prices(rng, c["prices"], winners, batches, provinces)
    standards = make_payment_standards(rng, c["payment_standards"], winners, prices, batches, sub_regions)
    notices = make_notices(rng, c["execution_notices"], batches, regions)
    tables = {"sources": sources, "regions": regions, "companies": companies, "batches": batches,
              "units": units, "winners": winners, "prices": prices,
              "payment_standards": standards, "execution_notices": notices}
    sample = json.loads((DEFAULT_DATA / DESCRIPTOR).read_text(encoding="utf-8"))
    meta = {
        "name": "vbp-open-synthetic",
        "title": f"集采公开 合成数据包（规模 {scale:g}）",
        "description": "用于性能基准的合成数据：品种、企业与价格均为随机生成，仅用于测试。",
        "version": "0.1.0", "as_of": AS_OF, "sample": True,
        "licenses": sample["licenses"], "sources": sample.get("sources", []),
        "x_synthetic": {"generator": "bench/synth.py", "seed": seed, "scale": scale},
    }
    return meta, tables


def write(out_dir: Path | str, meta: dict, tables: dict[str, pd.DataFrame]) -> Path:
    """Write the CSVs and a descriptor with inlined schemas (the folder stands alone)."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        resources = []
        for name in RESOURCES:
            schema = load_schema(name)
            cols = [f["name"] for f in schema["fields"]]
            tables[name][cols].to_csv(tmp / f"{name}.csv", index=False, encoding="utf-8",
                                      lineterminator="\n")
            resources.append({"name": name, "path": f"{name}.csv", "format": "csv",
                              "encoding": "utf-8", "schema": schema})
        descriptor = dict(meta, resources=resources)
        (tmp / DESCRIPTOR).write_text(json.dumps(descriptor, ensure_ascii=False, indent=2) + "\n",
                                      encoding="utf-8")
        swap_in(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.synth", description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--size", choices=sorted(SIZES))
    group.add_argument("--scale", type=float, help="multiple of national (e.g. 2 = twice national)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    scale = SIZES[args.size] if args.size else args.scale
    if scale <= 0:
        parser.error("--scale must be positive")
    meta, tables = generate(scale, args.seed)
    write(args.out, meta, tables)
    print(f"{args.out}: " + ", ".join(f"{n} {len(tables[n]):,}" for n in RESOURCES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
