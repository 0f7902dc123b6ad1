"""Lookups and small formatters shared by the page renderers.

Templates get plain dicts (missing values are None, never NaN, so `{% if %}`
means what it says) and a View with indexes built once per build."""
from __future__ import annotations

import json
import math
from collections import defaultdict

import numpy as np
import pandas as pd
from markupsafe import Markup

from ..derive.prices import KIND_LABELS, present

SOURCE_KINDS = {"policy": "政策文件", "result": "结果公告", "notice": "执行通知", "dataset": "数据集",
                "sample": "示例数据"}
LEVELS = {"national": "国家组织", "alliance": "省际联盟", "provincial": "省级", "city": "地市级"}
CATEGORIES = {"drug": "药品", "consumable": "医用耗材"}
BASES = {"winning_price": "按中选价", "highest_winning_price": "按同组最高中选价", "other": "其他"}
# A page lists at most this many rows of a table that grows with the data (payment
# standards, patient rows, supplied products); beyond it the page shows a summary and
# says where the rows are. Pages then stay small at national scale (README, Benchmark).
PAGE_ROWS = 200
FINDINGS_PER_PAGE = 50  # rule-check findings per page of /checks/


def clean(value):
    return value if present(value) else None


def records(frame: pd.DataFrame) -> list[dict]:
    return Rows(frame).dicts(slice(None))


class Rows:
    """A frame's columns as arrays, turned into dicts (missing values None) only for
    the rows a page shows. Numbers stay numpy arrays: no Python object per value in
    the parent, and forked workers that read them do not touch (and so copy) it."""

    def __init__(self, frame: pd.DataFrame, columns: list[str] | None = None):
        self.columns = list(frame.columns if columns is None else columns)
        self._data = [_values(frame[c]) for c in self.columns]
        self._floats = [a.dtype.kind == "f" for a in self._data]

    def dicts(self, rows) -> list[dict]:
        """The rows at `rows` (a slice or an array of positions), in that order."""
        cols = [self.column(name, rows) for name in self.columns]
        return [dict(zip(self.columns, row)) for row in zip(*cols)]

    def column(self, name: str, rows) -> list:
        i = self.columns.index(name)
        col = self._data[i][rows]
        if not self._floats[i]:
            return col.tolist()
        values = col.astype(object)  # Python floats, missing ones None
        values[np.isnan(col)] = None
        return values.tolist()


def _values(column: pd.Series) -> np.ndarray:
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "fiub":  # not Int64 and the like
        return column.to_numpy()
    return column.to_numpy(dtype=object, na_value=None)


def sorted_positions(frame: pd.DataFrame, by: list[str]) -> np.ndarray:
    """The row positions of frame.sort_values(by) (stable, missing values last),
    without copying the frame."""
    keys = []
    for c in reversed(by):
        codes, uniques = pd.factorize(frame[c], sort=True)
        keys.append(np.where(codes < 0, len(uniques), codes))
    return np.lexsort(keys)


class Grouped:
    """Rows by a key, made into dicts only when a page asks for its group: a million
    payment standards as a million dicts would take a gigabyte. Groupings of one
    frame share its Rows; rows keep the frame's order within a group, and rows
    whose key is missing are in no group."""

    def __init__(self, rows: Rows, keys: pd.Series, order: np.ndarray | None = None):
        """`order`: the positions of the rows in the order groups list them (default
        the frame's)."""
        if order is None:
            order = np.arange(len(keys))
        codes, uniques = pd.factorize(keys.iloc[order])
        self._order = order[np.argsort(codes, kind="stable")][np.count_nonzero(codes < 0):]  # missing keys first
        ends = np.cumsum(np.bincount(codes[codes >= 0], minlength=len(uniques)))
        self._span = dict(zip(uniques.tolist(), zip((ends - np.diff(ends, prepend=0)).tolist(), ends.tolist())))
        self.rows = rows

    def __contains__(self, k) -> bool:
        return k in self._span

    def count(self, k) -> int:
        start, stop = self._span.get(k, (0, 0))
        return stop - start

    def column(self, k, name: str) -> list:
        start, stop = self._span.get(k, (0, 0))
        return self.rows.column(name, self._order[start:stop])

    def get(self, k, default=None) -> list[dict]:
        if k not in self._span:
            return [] if default is None else default
        start, stop = self._span[k]
        return self.rows.dicts(self._order[start:stop])


def group(rows: list[dict], key: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        out[r[key]].append(r)
    return out


def in_force(s: dict, day: str) -> bool:
    """A payment standard is in force on `day` (ISO dates compare as text)."""
    return s["effective_from"] <= day and not (s["effective_to"] and s["effective_to"] < day)


def standards_summary(v: "View", standards: list[dict], key: str) -> list[dict]:
    """One row per value of `key` (region_code, batch_id): how many standards, how many
    in force on the data's date, the range of those per unit of amount, and sources."""
    rows = []
    for value, group_ in group(standards, key).items():
        current = [s for s in group_ if in_force(s, v.as_of)]
        ranges = {}
        for s in current:
            lo, hi = ranges.get(s["amount_unit"], (s["amount"], s["amount"]))
            ranges[s["amount_unit"]] = (min(lo, s["amount"]), max(hi, s["amount"]))
        rows.append({key: value, "n": len(group_), "n_current": len(current),
                     "n_units": len({s["unit_id"] for s in group_}),
                     "ranges": [(lo, hi, unit) for unit, (lo, hi) in sorted(ranges.items())],
                     "bases": sorted({s["basis"] for s in current}),
                     "sources": v.src([s["source_id"] for s in current or group_])})
    return rows


def finding_pages(findings: list[dict]) -> dict[str, str]:
    """finding_id -> the page that shows it: /checks/ holds each rule's first
    FINDINGS_PER_PAGE findings, /checks/<rule_id>/<k>/ the k-th batch of the rest."""
    pages, seen = {}, defaultdict(int)
    for f in findings:
        k = seen[f["rule_id"]] // FINDINGS_PER_PAGE + 1
        seen[f["rule_id"]] += 1
        pages[f["finding_id"]] = "checks/" if k == 1 else f"checks/{f['rule_id']}/{k}/"
    return pages


def rate(value, unit: str) -> str:
    """A small price per unit of strength with four significant digits, e.g. 0.0001220 元/mg."""
    if not present(value) or value <= 0:
        return "—"
    digits = min(8, max(2, 3 - math.floor(math.log10(value))))
    return f"{value:,.{digits}f} {unit}"


def script_json(data) -> Markup:
    """JSON safe inside <script type="application/json">: <, > and & escaped."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def register_filters(env) -> None:
    env.filters.setdefault("rate", rate)
    env.filters.setdefault("script_json", script_json)


class View:
    """Everything a page needs to look up, indexed once."""

    def __init__(self, ctx):
        pkg, d = ctx.pkg, ctx.derived
        t = pkg.tables
        self.row_cache: dict = {}  # unit_id -> table rows its pages repeat (templating.Links)
        self.as_of, self.sample = pkg.as_of, pkg.sample
        self.sources = {s["source_id"]: self._source(s) for s in records(t["sources"])}
        self.region = {r["region_code"]: r["short_name"] for r in records(t["regions"])}
        self.companies = {c["company_id"]: c for c in records(t["companies"])}
        self.rounds = {b["batch_id"]: b for b in records(d["rounds"])}
        self.units = {u["unit_id"]: u for u in records(d["units"])}
        self.provinces = records(d["provinces"])
        self.province_codes = {p["region_code"] for p in self.provinces}

        products = d["products"].assign(_announced=d["products"]["batch_id"].map(
            {k: v["announced_date"] for k, v in self.rounds.items()}))
        products = products.sort_values(["_announced", "batch_id", "unit_id", "won", "price", "winner_id"],
                                        ascending=[True, True, True, False, True, True], na_position="last")
        product_list = records(products.drop(columns="_announced"))
        for p in product_list:
            p["label"] = product_label(p)
        self.products = {p["winner_id"]: p for p in product_list}
        self.by_unit = group(product_list, "unit_id")
        self.by_batch = group(product_list, "batch_id")
        self.by_company = group(product_list, "company_id")

        self.prices_of = Grouped(Rows(d["price_records"]), d["price_records"]["winner_id"])
        prices = t["prices"]
        renewals = prices[prices["kind"] == "renewal"]
        self.renewals_by_winner = Grouped(Rows(renewals), renewals["winner_id"])
        self.prices_by_batch = Grouped(Rows(prices), prices["batch_id"])
        standards = t["payment_standards"]
        self.standards = standards  # findings look up by id
        # no standard_id: only the findings show it, and it is a million distinct strings
        rows = Rows(standards, [c for c in standards.columns if c != "standard_id"])
        order = sorted_positions(standards, ["region_code", "effective_from", "standard_id"])
        self.standards_by_unit = Grouped(rows, standards["unit_id"], order)
        self.standards_by_region = Grouped(rows, standards["region_code"], order)
        self.standards_by_winner = Grouped(rows, standards["winner_id"], order)
        notices = records(d["notices"])
        self.notices = notices
        self.notices_by_batch = group(sorted(notices, key=lambda n: (n["execution_start"], n["region_code"])),
                                      "batch_id")
        self.notices_by_region = group(sorted(notices, key=lambda n: (n["execution_start"], n["batch_id"])),
                                       "region_code")
        self.supply_by_region = Grouped(Rows(d["supply"]), d["supply"]["region_code"])
        self.substitutes_of = Grouped(Rows(d["substitutes"]), d["substitutes"]["winner_id"])
        self.patient_by_unit = Grouped(Rows(d["patient"]), d["patient"]["unit_id"])
        self.findings = records(d["findings"])
        named = sorted({sid for f in self.findings for sid in f["standard_ids"]})
        # standard_id -> row of self.standards, for the standards findings name
        self.finding_standards = dict(zip(named, pd.Index(standards["standard_id"]).get_indexer(named).tolist()))
        self.findings_by_unit = group(self.findings, "unit_id")
        self.finding_page = finding_pages(self.findings)
        self.findings_by_winner: dict[str, list[dict]] = defaultdict(list)
        for f in self.findings:
            for wid in f["winner_ids"]:
                self.findings_by_winner[wid].append(f)

    @staticmethod
    def _source(s: dict) -> dict:
        url = s["url"] if s["url"] and s["url"].startswith(("http://", "https://")) else None
        number = f" {s['doc_number']}" if s["doc_number"] else ""
        return {**s, "url": url, "label": f"{SOURCE_KINDS.get(s['kind'], '来源')} {s['date']}",
                "tip": f"{s['issuer']}：{s['title']}{number}（{s['date']}）"}

    def src(self, *ids) -> list[dict]:
        """The sources of a row, each once, in the order given; lists are flattened."""
        flat = []
        for i in ids:
            flat.extend(i if isinstance(i, list) else [i])
        return [self.sources[i] for i in dict.fromkeys(flat) if i and i in self.sources]

    def sources_of(self, products: list[dict]) -> list[dict]:
        """The sources behind a row that sums up products: their prices' and their own."""
        return self.src([s for p in products for s in (p["price_source"], p["source_id"])])

    def names(self, codes) -> str:
        return "、".join(self.region.get(c, c) for c in codes)

    def kind_label(self, kind: str) -> str:
        return KIND_LABELS.get(kind, kind)


def product_label(p: dict) -> str:
    """What tells products of one unit apart: company, strength or model, pack."""
    parts = [p["company_short"], p["model"] or p["strength"]]
    if p["model"] and p["strength"] and p["strength"] != p["model"]:
        parts.append(p["strength"])
    if p["pack_size"]:
        parts.append(f"{p['pack_size']}{p['smallest_unit']}/{p['pack_unit'] or '包装'}")
    return " ".join(str(x) for x in parts if x)
