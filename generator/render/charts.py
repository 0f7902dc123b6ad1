"""Charts: Altair (Vega-Lite) specs from derived tables, with their data.

For every chart this stage writes, under charts/<page>/<name>.* of the files
that go into the site as they are (BuildContext.files_dir: MkDocs need not copy
~0.5 GB of them at national scale):
  .csv  exactly the rows the chart plots (UTF-8 with BOM, for Excel)
  .svg  a static rendering (Vega in headless Chromium, Noto Sans CJK SC) for print and readers without JS
and records a ChartArtifact in ctx.charts[chart_id] for the page templates
(site_src/templates/_chart.html.j2), which embed the JSON spec in the page.
PNG is made in the reader's browser from that SVG (assets/charts.js): rendering
PNG here too cost as much again as the SVG (measured ~0.2 s per chart).
The Vega/Vega-Lite/vega-embed bundle is written once per build to
docs/assets/vendor/vega/ and loaded by assets/charts.js only on pages that
have a chart. Chart ids are "<page>/<name>"; pages are "home",
"round/<batch_id>", "unit/<unit_id>" and "province/<region_code>".

A chart's frame (Chinese column names) is the single source of its spec data,
its table and its CSV, so the three cannot disagree.

Speed (CPU time on 2 shared cores, the 0.02-scale synthetic package): the
SVGs are drawn by the Vega bundle the site ships, in headless Chromium
(generator/render/chromium.py), whose canvas measures text with the installed
Noto Sans CJK SC in microseconds; vl_convert took ~175 ms of CPU per chart,
nearly all of it measuring text (~1 ms per label).
- Drawing a chart from its own spec takes ~27 ms of CPU in the page on a
  faster machine (~45 ms on a slower one), all of it Vega: vega-embed
  compiles Vega-Lite (~6 ms), Vega parses the result (~17 ms) and runs its
  dataflow and toSVG. Unit price and payment charts (all but a few dozen of
  a national build's) are drawn from their template instead, compiled and
  parsed once per page, each chart a fresh View of it (chromium.RENDER_JS):
  wall time per chart in one page (0.1-scale package), 22.7 -> 11.2 ms per
  payment chart and 31.8 -> 23.1 ms per price chart, the SVGs byte for byte
  the same (tested). The bundle exposes Vega for this (_snippet).
- Building a spec costs ~1 ms (it took ~25 ms with Altair per chart): each
  kind of chart is drawn by Altair once per variant as a template, which
  each chart's values fill (see "charts" below).
- This process builds the specs and writes the charts; one drawing process
  (a fresh Python, not a fork) owns the one browser, with a page per CPU
  drawing at once ($VBP_CHART_WORKERS to change it), 96 charts per task and
  6 per page call, two calls queued in each page, each page's garbage
  collected every 150 charts (chromium.RENDER_JS). See "the stage" below.
  The browser and its Playwright driver take ~0.9 GB whatever the
  package's size (two renderers ~0.25 GB each, the driver ~0.16-0.19 GB,
  the browser process ~0.13 GB, the rest small); before, each of two
  forked workers ran a browser of its own, and a forked process copies
  ~0.5 GB of a national build's heap as it allocates. National (6,235
  charts, cold cache, 2 shared cores): the stage took 80-110 s (before: 130 s,
  with pages replaced every 150 charts to bound their memory, and each page
  idle ~40% of the time).
- Every SVG is cached under build/cache/chart-svg by the hash of its spec, the
  fonts, the browser, the page's scripts and the Vega bundle, so a rebuild
  renders only the charts whose data changed and starts no browser when none
  did. Set $VBP_CACHE_DIR to keep this cache (and the Vega bundle) elsewhere,
  e.g. in a fresh folder to time a cold build.
- Charts are drawn with a data placeholder and without Altair's per-object
  schema checks; the rows, title and config are set on the spec dict.
- The drawing page gets each chart without its tooltips (an SVG shows none,
  but Vega formats each mark's all the same), and a template's rows only with
  the columns the template reads: ~8% less renderer CPU per unit chart
  (alternating runs, 1,400 national unit charts), and the JSON that crosses
  Playwright about halved (drawing process, driver and browser 22 -> 13 CPU-s
  a national build). The SVGs are byte for byte the same (tested).
"""
from __future__ import annotations

import copy
import csv
import functools
import gc
import hashlib
import io
import itertools
import json
import math
import multiprocessing as mp
import os
import pickle
import re
import shutil
import subprocess
import tempfile
from collections import deque
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import altair as alt
import numpy as np
import pandas as pd
import vl_convert as vlc
from altair.utils.schemapi import debug_mode
from markupsafe import Markup, escape

from ..package import ROOT
from . import chromium

FONT_FAMILY = "Noto Sans CJK SC"
# Readers' browsers fall back in this order; the build measures with Noto Sans CJK SC.
FONT = '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", sans-serif'
CACHE_ENV = "VBP_CACHE_DIR"  # overrides build/cache (e.g. a fresh folder to time a cold build)
WORKERS_ENV = "VBP_CHART_WORKERS"  # browser pages that draw SVGs at once; default: the CPUs this process may use
WIDTH = 440
BUNDLE_DIR = "assets/vendor/vega"
BUNDLE_FILE = "vega-bundle.js"
TOP_COMPANIES = 25
CUT_FLOOR = -50.0  # cuts below this (price up by more than half) share the leftmost bin
COLOUR_COMPANIES = 10  # more companies than this: colour by kind of price, company in the tooltip
DATE_FORMAT = "%Y-%m-%d"
CATEGORIES = {"drug": "药品", "consumable": "医用耗材"}

CONFIG = {
    "font": FONT,
    "background": "white",
    "title": {"anchor": "start", "fontSize": 15, "subtitleFontSize": 11, "subtitleColor": "#555",
              "subtitlePadding": 4, "offset": 14},
    "axis": {"labelFontSize": 11, "titleFontSize": 12, "titleFontWeight": "normal", "gridColor": "#e6e6e6"},
    # Horizontal y titles above the axis: rotated Chinese is hard to read.
    "axisY": {"titleAngle": 0, "titleAlign": "left", "titleAnchor": "end", "titleBaseline": "bottom",
              "titleX": 0, "titleY": -8},
    "legend": {"labelFontSize": 11, "titleFontSize": 12, "titleFontWeight": "normal", "labelLimit": 220},
    "header": {"labelFontSize": 12, "titleFontSize": 12},
    "view": {"stroke": None},
}
COMPANY_TYPES = {"domain": ["内资企业", "外资企业", "未知"], "range": ["#1f77b4", "#ff7f0e", "#9e9e9e"]}


@dataclass
class ChartArtifact:
    """What a page needs to show one chart; file paths are relative to the docs root."""
    chart_id: str
    page: str
    title: str
    notes: list[str]
    spec: str  # the Vega-Lite spec as JSON (spec_text): far smaller than the dict, kept for the pages
    columns: list[str]
    rows: list[list[str]]
    files: dict[str, str]
    width: int = 0
    height: int = 0
    load: str = "visible"  # "visible": interactive when scrolled near; "intent": on hover, focus or tap

    @property
    def dom_id(self) -> str:
        return "chart-" + self.chart_id.replace("/", "-")

    @property
    def file_stem(self) -> str:
        """Download file name: the chart id, readable and unique."""
        return self.chart_id.replace("/", "-")

    @property
    def root(self) -> str:
        """From the page's URL back to the site root (pages use directory URLs)."""
        return "" if self.page == "home" else "../" * (self.page.count("/") + 1)

    def href(self, kind: str) -> str:
        return self.root + self.files[kind]

    @property
    def rows_html(self) -> Markup:
        """The data table's rows (a unit chart plots hundreds: ~1 ms a chart as a Jinja loop)."""
        return Markup("".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in r) + "</tr>\n"
                              for r in self.rows))

    @property
    def spec_json(self) -> Markup:
        """The spec for <script type="application/json">: <, > and & escaped, so
        no data value can end the script element."""
        text = self.spec.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
        return Markup(text)


class ChartStore:
    """ctx.charts: chart id -> ChartArtifact, each pickled in a folder of the
    staging area as it is written and read back by the page that shows it.
    A national build's artifacts (specs and table rows, ~125 MB as CSV) took
    ~0.5 GB as Python objects, which the build process held from charts to
    pages and its forked page workers shared; now it holds their ids."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._ids: set[str] = set()

    def _path(self, chart_id: str) -> Path:
        return self.folder / f"{chart_id}.pickle"

    def __setitem__(self, chart_id: str, artifact: ChartArtifact) -> None:
        path = self._path(chart_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(artifact, protocol=pickle.HIGHEST_PROTOCOL))
        self._ids.add(chart_id)

    def __getitem__(self, chart_id: str) -> ChartArtifact:
        if chart_id not in self._ids:
            raise KeyError(chart_id)
        return pickle.loads(self._path(chart_id).read_bytes())

    def get(self, chart_id: str, default=None):
        return self[chart_id] if chart_id in self._ids else default


# ---------------------------------------------------------------- frames
# Each frame function selects one page's rows of a derived table and names the
# columns as readers see them. It returns (frame, notes).

def _pct(fraction: float) -> float:
    return round(fraction * 100, 2)


def _table(columns: dict) -> pd.DataFrame:
    """A frame from columns, index 0..n-1, missing text as None (JSON null), never NaN.
    Numbers and booleans keep their dtype; any other column holds objects,
    declared so: pandas 3 would make a text column its str dtype, whose missing
    value is NaN, and reading such columns back cost the national charts'
    values, tables and CSVs ~1.6 CPU-s more. Every column gets the frame's one
    index: pandas aligns columns whose index is another object, which took
    most of the time of making a national build's 6,000 frames."""
    out, index = {}, None
    for name, values in columns.items():
        if not isinstance(values, np.ndarray):
            plain = isinstance(values, pd.Series) and isinstance(values.dtype, (np.dtype, pd.StringDtype))
            values = (values if plain else pd.Series(list(values))).to_numpy()
        if index is None:
            index = pd.RangeIndex(len(values))
        if values.dtype.kind not in "biuf":
            values = values.astype(object)
            values[pd.isna(values)] = None
            values = pd.Series(values, index=index, dtype=object, copy=False)
        out[name] = values
    return pd.DataFrame(out, index=index)


def rounds_frame(rounds: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Home: one row per round with a median cut (winning price against the
    pre-procurement median)."""
    have = rounds[rounds["median_cut"].notna()]
    frame = _table({
        "批次编号": have["batch_id"], "批次": have["name"], "类别": have["category"].map(CATEGORIES),
        "公布日期": have["announced_date"], "降幅中位数（%）": have["median_cut"].map(_pct),
        "计入降幅的产品数": have["n_cut"], "中选产品数": have["n_won"], "来源": have["source"],
    })
    notes = ["降幅 = 1 − 中选价 ÷ 集采前中位价，同一产品、同一最小单位（如 元/片）；每个批次取其中选产品降幅的中位数。"]
    missing = rounds[rounds["median_cut"].isna()]
    if len(missing):
        notes.append("未画出（缺少中选价或集采前中位价）：" + "、".join(missing["name"]) + "。")
    return frame, notes


def cuts_frame(products: pd.DataFrame, batch_id: str):
    """Round: one row per won product with a price cut."""
    won = products[(products["batch_id"] == batch_id) & products["won"]]
    rows = won[won["cut_median"].notna()].sort_values(["cut_median", "winner_id"], ascending=[False, True])
    frame = _table({
        "产品编号": rows["winner_id"], "竞争单元": rows["unit_name"], "企业": rows["company"],
        "产品": rows["product"], "企业类型": rows["company_type"], "集采前中位价": rows["median_pre"],
        "中选价": rows["price"], "价格单位": rows["price_unit"], "降幅（%）": rows["cut_median"].map(_pct),
        "来源": rows["source"],
    })
    notes = ["降幅 = 1 − 中选价 ÷ 集采前中位价，同一产品、同一最小单位；每个点是一个中选产品，按 5 个百分点分组堆叠。"]
    below = int((frame["降幅（%）"] < CUT_FLOOR).sum())
    if below:
        notes.append(f"{below} 个产品的降幅低于 {CUT_FLOOR:g}%（中选价高于集采前中位价的 1.5 倍，请核对），"
                     "画在最左侧一格，准确数值见下表。")
    if len(won) > len(frame):
        notes.append(f"另有 {len(won) - len(frame)} 个中选产品缺少集采前中位价或中选价，未画出。")
    return frame, notes


def winners_frame(products: pd.DataFrame, batch_id: str, top: int = TOP_COMPANIES):
    """Round: won products of the companies with the most winning products."""
    rows = products[(products["batch_id"] == batch_id) & products["won"]]
    counts = rows.groupby("company_id").size()
    names = rows.drop_duplicates("company_id").set_index("company_id")["company"]
    order = sorted(counts.index, key=lambda c: (-counts[c], names[c], c))
    rank = {c: i + 1 for i, c in enumerate(order)}
    shown = rows.assign(rank=rows["company_id"].map(rank))
    shown = shown[shown["rank"] <= top].sort_values(["rank", "unit_name", "product", "winner_id"])
    frame = _table({
        "企业排名": shown["rank"], "企业": shown["company"], "企业类型": shown["company_type"],
        "产品编号": shown["winner_id"], "竞争单元": shown["unit_name"], "产品": shown["product"],
        "中选价": shown["price"], "价格单位": shown["price_unit"], "来源": shown["source"],
    })
    notes = ["每一段是一个中选产品；企业按中选产品数排序。"]
    if len(order) > top:
        notes.append(f"共 {len(order)} 家企业中选，图中只画出中选产品最多的 {top} 家（数量相同按企业名称排序）。")
    return frame, notes


def unit_prices_frame(price_points: pd.DataFrame, unit_id: str):
    """Unit: every price point of the unit, by strength (drugs) or unit of sale."""
    rows = price_points[price_points["unit_id"] == unit_id]
    frame = _table({
        "分组": rows["panel"], "日期": rows["effective_date"], "价格类型": rows["kind_label"],
        "单位价格": rows["unit_price"], "价格单位": rows["unit_price_unit"], "企业": rows["company"],
        "产品": rows["product"], "产品编号": rows["winner_id"], "地区": rows["regions"],
        "批次": rows["round"], "来源": rows["source"], "价格记录": rows["price_ids"],
    })
    notes = ["每最小单位（片、粒、支、个…）的价格；不同价格单位、不同规格分开画。",
             "集采前中位价和最高有效申报价属于规格而非某个企业，画作空心符号；同一产品的各个价格（报价、中选、接续、挂网）以线相连。"]
    companies = frame["企业"].nunique()
    if companies > COLOUR_COMPANIES:
        notes.append(f"企业较多（{companies} 家），颜色表示价格类型；悬停在点上可见企业，全部数值见下表。")
    return frame, notes


def _joined(a, sep: str, b):
    """a + sep + b, missing (None) when either is, as pandas' string addition."""
    return None if pd.isna(a) or pd.isna(b) else f"{a}{sep}{b}"


def payment_frame(payment: pd.DataFrame, unit_id: str):
    """Unit: one row per product and distinct payment standard, with the regions
    that set it and the product's winning price."""
    rows = payment[payment["unit_id"] == unit_id]
    label = [p if pd.isna(c) else _joined(c, " ", p)
             for c, p in zip(rows["company"].tolist(), rows["product"].tolist())]
    # The same label for products of different rounds: name the round.
    products: dict = {}
    for text, winner in zip(label, rows["winner_id"].tolist()):
        products.setdefault(text, set()).add(None if pd.isna(winner) else winner)
    label = [text if len(products[text]) <= 1 else _joined(text, "｜", r)
             for text, r in zip(label, rows["round"].tolist())]
    frame = _table({
        "图中标签": label, "企业": rows["company"], "产品": rows["product"], "批次": rows["round"],
        "医保支付标准": rows["amount"], "中选价": rows["winning_price"], "价格单位": rows["price_unit"],
        "支付标准依据": rows["basis"], "地区数": rows["n_regions"], "地区": rows["regions"],
        "生效日期": rows["effective_from"], "截止日期": rows["effective_to"],
        "标准编号": rows["standard_ids"], "来源": rows["source"],
    })
    notes = ["每行一个产品：◆ 为医保支付标准（颜色表示依据；同一金额的各地区合为一点，悬停可见地区），竖线为该产品的中选价。",
             "中选价只在该产品中选、且与支付标准单位相同时画出。"]
    return frame, notes


def timeline_frame(execution: pd.DataFrame, region_code: str):
    """Province (or city): one row per execution notice of the region."""
    rows = execution[execution["region_code"] == region_code]
    label = rows["round"].where(~rows["round"].duplicated(keep=False), rows["round"] + "｜" + rows["notice_id"])
    frame = _table({
        "图中标签": label, "通知编号": rows["notice_id"], "批次": rows["round"],
        "通知发布日期": rows["published_date"], "执行开始日期": rows["execution_start"],
        "协议期截止日期": rows["agreement_end"], "发文机关": rows["issuer"], "文号": rows["doc_number"],
        "通知标题": rows["title"], "来源": rows["source"],
    })
    notes = ["条形为本地的采购协议期（执行开始至协议期截止）；截止日期未知时只画执行开始和通知发布。"]
    return frame, notes


# ---------------------------------------------------------------- charts
# A kind of chart (ChartKind) is two functions: `values` takes from the
# chart's frame every value its spec depends on (domains, sort orders, sizes,
# axis titles…), and `draw` makes the Altair chart from those values alone;
# its data is the DATA placeholder. Building a spec with Altair costs ~25 ms
# of CPU, so each kind is drawn once per variant (the values that change the
# spec's structure, e.g. log scale or not) with a Slot in place of every other
# value, and spec_of copies that template with each chart's own values in the
# slots (tests/test_charts.py checks, chart by chart, that this is the very
# spec, key order and all, that drawing the chart with its values gives).


def unchecked(build):
    """Build a chart without Altair's schema check of every object as it is
    made (~40 ms per chart); spec_of(validate=True) checks the whole spec."""
    @functools.wraps(build)
    def wrapper(*args, **kwargs):
        with debug_mode(False):
            return build(*args, **kwargs)
    return wrapper


class Slot:
    """Where a template takes the chart's value of this name. A draw function
    may only place it: deciding on it (if, and, or) or computing with it
    fails, as it must be a variant value then."""
    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __bool__(self):
        raise TypeError(f"{self.name!r} decides the chart's structure: name it in the ChartKind's variant")

    def __format__(self, spec):
        raise TypeError(f"{self.name!r} is formatted into a string: compute the string in the values function")

    __str__ = __format__

    def __repr__(self) -> str:
        return f"Slot({self.name!r})"


class _Slots(dict):
    """The values a template is drawn with: its variant's, a Slot for any other."""

    def __missing__(self, name: str) -> Slot:
        return Slot(name)


@dataclass(frozen=True)
class ChartKind:
    values: Callable[[pd.DataFrame], dict]  # every value of the frame that the spec depends on
    draw: Callable[[dict], alt.TopLevelMixin]  # the chart, from those values alone
    variant: tuple[str, ...] = ()  # the values that change the spec's structure
    # Drawn from its template parsed once (chromium.RENDER_JS): true only where
    # every value but the rows is placed whole where Vega takes a signal (titles,
    # not expressions or sort orders).
    templated: bool = False


PRICE_TIP_FORMAT = ",.4~f"
KIND_ORDER = ["集采前中位价", "最高有效申报价", "未中选报价", "中选价", "接续价", "挂网价"]
KIND_SHAPES = ["diamond", "triangle-down", "cross", "circle", "square", "triangle-up"]
HEADER = {"labelAngle": 0, "labelAlign": "left", "labelOrient": "top", "labelAnchor": "start",
          "labelFontWeight": "bold"}


def json_value(value):
    """A cell as JSON: missing is null, numpy numbers are plain numbers."""
    if value is None or pd.isna(value):
        return None
    return value.item() if hasattr(value, "item") else value


# Charts are drawn with this placeholder as their data; the spec takes the
# frame's rows in its place. Rows inside Altair objects are deep-copied and
# schema-checked at every step (layer, facet, properties, to_dict): that cost
# ~0.3 s per chart, more than rendering it.
ROWS = "rows"
DATA = alt.NamedData(name=ROWS)


def rows_of(columns: dict[str, tuple[str, list]]) -> list[dict]:
    """A frame's rows (ChartPlan.columns) as JSON objects, exactly as given
    (Altair's own DataFrame conversion turns None into NaN under pandas 3)."""
    return [dict(zip(columns, row)) for row in zip(*(_json_column(*c) for c in columns.values()))]


def _json_column(kind: str, values: list) -> list:
    """json_value of each value, by the column's dtype kind: _table leaves
    None for missing text, and only a float column can hold NaN."""
    if kind == "f":
        return [None if v != v else v for v in values]
    return values if kind in "biu" else [json_value(v) for v in values]


def _date_x(name: str, title: str) -> alt.X:
    """Dates on a UTC scale: "2019-12-01" is parsed as UTC, so a reader west of
    Greenwich sees the same day. Labels in ISO form."""
    return alt.X(field=name, type="temporal", title=title, scale=alt.Scale(type="utc", padding=16),
                 axis=alt.Axis(format=DATE_FORMAT, labelAngle=0, labelOverlap=True, tickCount=5))


def _tip(name: str, kind: str = "nominal", **kw) -> alt.Tooltip:
    return alt.Tooltip(field=name, type=kind, **kw)


def _present(name: str) -> str:
    """Filter: the field has a value (Vega-Lite's `valid` predicate is numeric only)."""
    return f"isValid(datum[{json.dumps(name, ensure_ascii=False)}])"


def _absent(name: str) -> str:
    return f"!{_present(name)}"


def no_values(frame: pd.DataFrame) -> dict:
    return {}


def rounds_values(frame: pd.DataFrame) -> dict:
    low = min(0.0, math.floor(frame["降幅中位数（%）"].min() / 10) * 10) if len(frame) else 0.0
    return {"low": low}


@unchecked
def rounds_chart(v: dict) -> alt.LayerChart:
    tooltip = [_tip("批次"), _tip("类别"), _tip("公布日期"),
               _tip("降幅中位数（%）", "quantitative", format=".1f"),
               _tip("计入降幅的产品数", "quantitative"), _tip("中选产品数", "quantitative"), _tip("来源")]
    base = alt.Chart(DATA).encode(
        x=_date_x("公布日期", "结果公布日期"),
        y=alt.Y(field="降幅中位数（%）", type="quantitative", title="降幅中位数（%）",
                scale=alt.Scale(domain=[v["low"], 100])),
        tooltip=tooltip,
    )
    points = base.mark_circle(size=140, opacity=0.9).encode(
        color=alt.Color(field="类别", type="nominal", title="类别",
                        scale=alt.Scale(domain=list(CATEGORIES.values()), range=["#1f77b4", "#2ca02c"])))
    labels = base.mark_text(align="left", dx=9, dy=-6, fontSize=11).encode(
        text=alt.Text(field="降幅中位数（%）", type="quantitative", format=".1f"))
    return alt.layer(points, labels).properties(width=WIDTH, height=240)


def cuts_values(frame: pd.DataFrame) -> dict:
    """Bins of 5 percentage points; cuts below CUT_FLOOR share one bin at the
    left edge (the overflow bin), labelled as such. Dots of one bin touch,
    never overlap."""
    cuts = frame["降幅（%）"]
    low = max(CUT_FLOOR, min(0.0, math.floor(cuts.min() / 5) * 5)) if len(frame) else 0.0
    edge = low - 5 if len(frame) and cuts.min() < low else low
    placed = cuts.clip(lower=edge + 2.5, upper=99.99)
    stack = int(((placed - edge) // 5).value_counts().max()) if len(frame) else 1
    height = max(120, min(14 * stack + 20, 420))
    diameter = 0.9 * (height - 10) / (stack + 0.5)
    size = max(6.0, min(90.0, math.pi / 4 * diameter ** 2))
    step = 10 if 100 - low <= 100 else 25
    ticks = list(range(int(low), 101, step))
    overflow = bool(edge < low)
    return {
        "overflow": overflow, "edge": edge, "height": height, "size": round(size, 1), "top": stack + 0.5,
        "position": f"min(max(datum['降幅（%）'], {edge + 2.5:g}), 99.99)",
        # the overflow bin is labelled, the tick at its right edge is not
        "ticks": [edge + 2.5, *ticks[1:]] if overflow else ticks,
        "labels": f"datum.value < {low:g} ? '更低' : datum.label",
    }


@unchecked
def cuts_chart(v: dict) -> alt.Chart:
    """A dot plot: one dot per product, stacked in bins of 5 percentage points."""
    axis = alt.Axis(values=v["ticks"], labelOverlap=False)
    if v["overflow"]:
        axis = alt.Axis(values=v["ticks"], labelOverlap=False, labelExpr=v["labels"])
    # The size in the constructor: .properties() checks its values, and a Slot is no number.
    return alt.Chart(DATA, width=WIDTH, height=v["height"]).transform_calculate(
        画图位置=v["position"]
    ).transform_bin(
        ["分组起点", "分组终点"], field="画图位置", bin=alt.Bin(step=5, extent=[v["edge"], 100])
    ).transform_calculate(
        分组中点="(datum.分组起点 + datum.分组终点) / 2"
    ).transform_window(
        堆叠序号="row_number()", groupby=["分组起点"],
        sort=[alt.SortField("降幅（%）", order="descending"), alt.SortField("产品编号")],
    ).mark_circle(size=v["size"], opacity=0.85, stroke="white", strokeWidth=0.5).encode(
        x=alt.X(field="分组中点", type="quantitative", title="降幅（%）", scale=alt.Scale(domain=[v["edge"], 100]),
                axis=axis),
        y=alt.Y(field="堆叠序号", type="quantitative", title="产品数（个）",
                scale=alt.Scale(domain=[0, v["top"]]), axis=alt.Axis(tickMinStep=1, format="d")),
        color=alt.Color(field="企业类型", type="nominal", title="企业类型", scale=alt.Scale(**COMPANY_TYPES)),
        tooltip=[_tip("产品"), _tip("企业"), _tip("竞争单元"),
                 _tip("降幅（%）", "quantitative", format=".1f"),
                 _tip("集采前中位价", "quantitative", format=PRICE_TIP_FORMAT),
                 _tip("中选价", "quantitative", format=PRICE_TIP_FORMAT), _tip("价格单位"), _tip("来源")],
    )


@unchecked
def winners_chart(v: dict) -> alt.Chart:
    """Stacked bars: one segment per winning product, companies by count."""
    return alt.Chart(DATA).mark_bar(stroke="white", strokeWidth=1).encode(
        y=alt.Y(field="企业", type="nominal", title="企业",
                sort=alt.EncodingSortField(field="企业排名", op="min", order="ascending")),
        x=alt.X(aggregate="count", type="quantitative", title="中选产品数（个）",
                axis=alt.Axis(tickMinStep=1, format="d")),
        detail=alt.Detail(field="产品编号", type="nominal"),
        color=alt.Color(field="企业类型", type="nominal", title="企业类型", scale=alt.Scale(**COMPANY_TYPES)),
        tooltip=[_tip("企业"), _tip("产品"), _tip("竞争单元"),
                 _tip("中选价", "quantitative", format=PRICE_TIP_FORMAT), _tip("价格单位"), _tip("来源")],
    ).properties(width=WIDTH, height=alt.Step(18))


def log_scale(frame: pd.DataFrame, value: str, panel: str) -> bool:
    """Log scale when the prices within one panel span more than a factor of 10."""
    low: dict = {}
    high: dict = {}
    for group, price in zip(frame[panel].tolist(), frame[value].tolist()):
        if not (pd.isna(group) or pd.isna(price)):
            low[group] = min(low.get(group, price), price)
            high[group] = max(high.get(group, price), price)
    return any(high[g] > 10 * low[g] for g in low)


def unit_prices_values(frame: pd.DataFrame) -> dict:
    log = log_scale(frame, "单位价格", "分组")
    units = sorted(frame["价格单位"].unique())
    unit = units[0] if len(units) == 1 else "单位见各分组标题"
    return {"log": log, "by_company": bool(frame["企业"].nunique() <= COLOUR_COMPANIES),
            "y_title": f"每最小单位价格（{unit}{'，对数刻度' if log else ''}）"}


@unchecked
def unit_prices_chart(v: dict) -> alt.FacetChart:
    """Price per smallest unit by date (each date of a round, renewal or listing
    one column), company (colour) and kind of price (shape); one panel per
    strength and price unit, so 元/片 and 元/支 never share an axis."""
    y = alt.Y(field="单位价格", type="quantitative", title=v["y_title"],
              scale=alt.Scale(type="log") if v["log"] else alt.Scale(zero=False))
    x = alt.X(field="日期", type="ordinal", title="价格日期（结果公布、接续、挂网）", sort="ascending",
              axis=alt.Axis(labelAngle=0))
    shape = alt.Shape(field="价格类型", type="nominal", title="价格类型",
                      scale=alt.Scale(domain=KIND_ORDER, range=KIND_SHAPES))
    tooltip = [_tip("产品"), _tip("企业"), _tip("价格类型"),
               _tip("单位价格", "quantitative", format=PRICE_TIP_FORMAT), _tip("价格单位"),
               _tip("日期"), _tip("地区"), _tip("批次"), _tip("来源")]
    if v["by_company"]:
        colour = alt.Color(field="企业", type="nominal", title="企业", scale=alt.Scale(scheme="tableau10"))
        reference_colour, line_colour = alt.value("#8a8a8a"), colour
    else:  # too many companies to tell apart by colour: colour the kind of price
        colour = alt.Color(field="价格类型", type="nominal", title="价格类型",
                           scale=alt.Scale(domain=KIND_ORDER, scheme="tableau10"))
        reference_colour, line_colour = colour, alt.value("#b0b0b0")
    reference = alt.Chart().transform_filter(_absent("产品编号")).mark_point(size=80, strokeWidth=2).encode(
        x=x, y=y, shape=shape, color=reference_colour, tooltip=tooltip)
    lines = alt.Chart().transform_filter(_present("产品编号")).mark_line(strokeWidth=1, opacity=0.6).encode(
        x=x, y=y, color=line_colour, detail=alt.Detail(field="产品编号", type="nominal"))
    points = alt.Chart().transform_filter(_present("产品编号")).mark_point(
        size=70, filled=True, opacity=0.9).encode(x=x, y=y, color=colour, shape=shape, tooltip=tooltip)
    return alt.layer(reference, lines, points, data=DATA).properties(width=WIDTH, height=200).facet(
        row=alt.Row(field="分组", type="nominal", title=None, sort="ascending", header=alt.Header(**HEADER)),
    ).resolve_scale(y="independent")


BASIS_ORDER = ["按中选价", "按同组最高中选价", "其他"]


def payment_values(frame: pd.DataFrame) -> dict:
    units = sorted(frame["价格单位"].unique())
    unit = units[0] if len(units) == 1 else "单位见各分组标题"
    return {"x_title": f"价格（{unit}）"}


@unchecked
def payment_chart(v: dict) -> alt.FacetChart:
    """One row per product: its payment standards in every region (diamonds,
    coloured by basis) against its winning price (tick); one panel per unit."""
    y = alt.Y(field="图中标签", type="nominal", title=None, sort="ascending", axis=alt.Axis(labelLimit=300))
    tooltip = [_tip("企业"), _tip("产品"), _tip("医保支付标准", "quantitative", format=PRICE_TIP_FORMAT),
               _tip("中选价", "quantitative", format=PRICE_TIP_FORMAT), _tip("价格单位"),
               _tip("支付标准依据"), _tip("地区数", "quantitative"), _tip("地区"),
               _tip("生效日期"), _tip("截止日期"), _tip("来源")]
    winning = alt.Chart().transform_filter(_present("中选价")).mark_tick(
        color="#222", thickness=2, size=18).encode(
        x=alt.X(field="中选价", type="quantitative", title=v["x_title"], scale=alt.Scale(zero=True)), y=y,
        tooltip=tooltip)
    standards = alt.Chart().mark_point(shape="diamond", size=90, filled=True, opacity=0.85).encode(
        x=alt.X(field="医保支付标准", type="quantitative", title=v["x_title"]), y=y,
        color=alt.Color(field="支付标准依据", type="nominal", title="支付标准依据",
                        scale=alt.Scale(domain=BASIS_ORDER, range=["#1f77b4", "#ff7f0e", "#d62728"])),
        tooltip=tooltip)
    return alt.layer(winning, standards, data=DATA).properties(
        width=WIDTH - 80, height=alt.Step(24)).facet(
        row=alt.Row(field="价格单位", type="nominal", title=None, header=alt.Header(**HEADER)),
    ).resolve_scale(y="independent", x="independent")


def timeline_values(frame: pd.DataFrame) -> dict:
    return {"labels": list(dict.fromkeys(frame["图中标签"]))}


@unchecked
def timeline_chart(v: dict) -> alt.LayerChart:
    """One row per notice: the agreement period as a bar, the notice's
    publication and the start of execution as points."""
    y = alt.Y(field="图中标签", type="nominal", title=None, sort=v["labels"], axis=alt.Axis(labelLimit=320))
    tooltip = [_tip("批次"), _tip("通知标题"), _tip("文号"), _tip("发文机关"),
               _tip("通知发布日期"), _tip("执行开始日期"), _tip("协议期截止日期"), _tip("来源")]
    bars = alt.Chart().transform_filter(_present("协议期截止日期")).mark_bar(height=10, color="#9ecae1").encode(
        x=_date_x("执行开始日期", "日期"), x2=alt.X2(field="协议期截止日期"), y=y, tooltip=tooltip)
    dates = {"domain": ["通知发布日期", "执行开始日期"]}
    points = alt.Chart().transform_fold(
        ["通知发布日期", "执行开始日期"], as_=["日期类型", "日期"]
    ).mark_point(size=70, filled=True).encode(
        x=_date_x("日期", "日期"), y=y,
        color=alt.Color(field="日期类型", type="nominal", title="日期",
                        scale=alt.Scale(**dates, range=["#7f7f7f", "#d62728"])),
        shape=alt.Shape(field="日期类型", type="nominal", title="日期",
                        scale=alt.Scale(**dates, range=["circle", "diamond"])),
        tooltip=tooltip)
    return alt.layer(bars, points, data=DATA).properties(width=WIDTH, height=alt.Step(22))


ROUNDS = ChartKind(rounds_values, rounds_chart)
CUTS = ChartKind(cuts_values, cuts_chart, variant=("overflow",))
WINNERS = ChartKind(no_values, winners_chart)
UNIT_PRICES = ChartKind(unit_prices_values, unit_prices_chart, variant=("log", "by_company"), templated=True)
PAYMENT = ChartKind(payment_values, payment_chart, templated=True)
TIMELINE = ChartKind(timeline_values, timeline_chart)


# ---------------------------------------------------------------- plan

@dataclass
class ChartPlan:
    page: str
    name: str
    title: str
    frame: pd.DataFrame
    kind: ChartKind
    notes: list[str]
    unit_line: str
    load: str = "visible"

    @property
    def chart_id(self) -> str:
        return f"{self.page}/{self.name}"

    @functools.cached_property
    def columns(self) -> dict[str, tuple[str, list]]:
        """Each column of the frame as (dtype kind, values), read once: the spec,
        the table and the CSV all read every column (a DataFrame column costs
        ~15 µs to get by name, ~60 times a chart; items() gets them in half the time)."""
        return {name: (column.dtype.kind, column.tolist()) for name, column in self.frame.items()}


def _units(frame: pd.DataFrame, column: str) -> str:
    return "、".join(sorted(frame[column].dropna().unique()))


def _by(frame: pd.DataFrame, key: str) -> dict[str, pd.DataFrame]:
    """Rows of a table by key, split once (filtering per page is quadratic)."""
    return {k: g for k, g in frame.groupby(key, sort=False)}


class _Rows:
    """Some rows of a table as unit_prices_frame and payment_frame read a
    DataFrame's: a column by name (here a numpy array), rows by a boolean mask."""

    def __init__(self, columns: dict[str, np.ndarray]):
        self._columns = columns

    def __getitem__(self, key):
        if isinstance(key, str):
            return self._columns[key]
        return _Rows({name: values[key] for name, values in self._columns.items()})


def _split(frame: pd.DataFrame, key: str) -> dict[str, _Rows]:
    """_by for the unit charts' tables: each key's rows as slices of the
    table's columns, in table order. 3,000 DataFrames of a national build,
    each read as a dozen Series, cost ~1 ms a chart."""
    keys = frame[key].to_numpy()
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    columns = {name: frame[name].to_numpy()[order] for name in frame.columns}
    starts = [0, *(np.flatnonzero(keys[1:] != keys[:-1]) + 1).tolist(), len(keys)]
    return {keys[a]: _Rows({name: values[a:b] for name, values in columns.items()})
            for a, b in zip(starts, starts[1:]) if b > a}


def plan(pkg, derived: dict[str, pd.DataFrame]):
    """Every chart of the site, page by page. A page without rows gets no chart."""
    empty = derived["chart_products"].iloc[:0]
    products = _by(derived["chart_products"], "batch_id")
    frame, notes = rounds_frame(derived["chart_rounds"])
    if len(frame):
        yield ChartPlan("home", "rounds", "各批次中选产品降价幅度（中位数）", frame, ROUNDS, notes,
                        "单位：%（降幅）", load="intent")
    for batch_id, name in derived["rounds"][["batch_id", "name"]].itertuples(index=False):
        rows = products.get(batch_id, empty)
        frame, notes = cuts_frame(rows, batch_id)
        if len(frame):
            yield ChartPlan(f"round/{batch_id}", "cuts", f"{name}：中选产品降幅分布", frame,
                            CUTS, notes, "单位：%（降幅）")
        frame, notes = winners_frame(rows, batch_id)
        if len(frame):
            yield ChartPlan(f"round/{batch_id}", "winners", f"{name}：各企业中选产品数", frame,
                            WINNERS, notes, "单位：个（中选产品）")
    prices = _split(derived["chart_price_points"], "unit_id")
    payment = _split(derived["chart_payment"], "unit_id")
    for unit_id, name in derived["units"][["unit_id", "name"]].itertuples(index=False):
        if unit_id in prices:
            frame, notes = unit_prices_frame(prices[unit_id], unit_id)
            yield ChartPlan(f"unit/{unit_id}", "prices", f"{name}：各企业、各批次的单位价格", frame,
                            UNIT_PRICES, notes, "单位：" + _units(frame, "价格单位"))
        if unit_id in payment:
            frame, notes = payment_frame(payment[unit_id], unit_id)
            yield ChartPlan(f"unit/{unit_id}", "payment", f"{name}：医保支付标准与中选价", frame,
                            PAYMENT, notes,
                            "单位：" + _units(frame, "价格单位") + "；◆ 医保支付标准，｜ 中选价")
    notices = _by(derived["chart_execution"], "region_code")
    for code, name in derived["provinces"][["region_code", "name"]].itertuples(index=False):
        if code in notices:
            frame, notes = timeline_frame(notices[code], code)
            yield ChartPlan(f"province/{code}", "timeline", f"{name}：集采结果执行时间", frame,
                            TIMELINE, notes, "日期：年-月-日")


def wrap(text: str, limit: float) -> list[str]:
    """Lines of at most `limit` ems: a CJK character is one em, ASCII about half."""
    lines, line, width = [], "", 0.0
    for ch in text:
        w = 0.55 if ord(ch) < 0x2E80 else 1.0
        if width + w > limit and line:
            lines.append(line)
            line, width = "", 0.0
        line += ch
        width += w
    return lines + [line] if line else lines


def subtitle(plan_: ChartPlan, pkg) -> list[str]:
    """Unit, sources, date: a downloaded image says where its figures come from."""
    sources = list(dict.fromkeys(s for s in plan_.columns["来源"][1] if isinstance(s, str)))
    shown = "；".join(sources[:2]) + (f" 等 {len(sources)} 个来源" if len(sources) > 2 else "")
    tail = f"数据截至 {pkg.as_of} · 数据版本 {pkg.version} · 集采公开"
    if pkg.sample:
        tail += " · 示例数据，非真实价格"
    return [line for text in (plan_.unit_line, f"来源：{shown}", tail) for line in wrap(text, 52)]


def chart_values(plan_: ChartPlan, pkg) -> dict:
    """Every value of the chart's spec that its data gives: its kind's values,
    the frame's rows, its title and subtitle."""
    values = plan_.kind.values(plan_.frame)
    values.update(rows=rows_of(plan_.columns), title=wrap(plan_.title, 36), subtitle=subtitle(plan_, pkg),
                  description=plan_.title)
    return values


def drawn(kind: ChartKind, values: dict) -> dict:
    """The spec of a chart of this kind drawn by Altair with these values
    (Slots in a template), its title, config and rows in place of the DATA
    placeholder. These are set on the dict: Altair's .properties() and
    .configure() deep-copy every layer of the chart again."""
    spec = kind.draw(values).to_dict(validate=False)
    if spec.get("data") != {"name": ROWS}:
        raise ValueError(f"{kind.draw.__name__}: the chart's data is not the DATA placeholder: {spec.get('data')}")
    spec["data"] = {"values": values["rows"]}
    spec["title"] = {"text": values["title"], "subtitle": values["subtitle"]}
    spec["description"] = values["description"]
    spec["config"] = copy.deepcopy(CONFIG)
    return spec


@lru_cache(maxsize=None)
def template(kind: ChartKind, variant: tuple) -> dict:
    """The spec of a chart of this kind and variant ((name, value) pairs),
    drawn once, with a Slot for every other value. Never changed: filled
    into a copy."""
    return drawn(kind, _Slots(variant))


def _fill(node, values: dict):
    """A copy of a template with each Slot replaced by its value."""
    kind = type(node)
    if kind is dict:
        return {k: _fill(v, values) for k, v in node.items()}
    if kind is list:
        return [_fill(v, values) for v in node]
    if kind is Slot:
        return values[node.name]
    return node


def _variant(kind: ChartKind, values: dict) -> tuple:
    return tuple((k, values[k]) for k in kind.variant)


def _filled(plan_: ChartPlan, pkg) -> tuple[dict, dict]:
    """The chart's values, and its kind's template for its variant filled with them."""
    values = chart_values(plan_, pkg)
    return values, _fill(template(plan_.kind, _variant(plan_.kind, values)), values)


def spec_of(plan_: ChartPlan, pkg, validate: bool = False) -> dict:
    """The Vega-Lite spec as published: its kind's template for its variant,
    filled with its values. Altair checks specs against the Vega-Lite schema
    only when asked (the tests do)."""
    spec = _filled(plan_, pkg)[1]
    if validate:
        alt.vegalite.v6.schema.core.Root.validate(spec)
    return spec


class _Sentinels(dict):
    def __missing__(self, name: str) -> str:
        return chromium.SENTINEL + name


def untipped(node):
    """A spec without its tooltips, as the drawing page draws it: a static SVG
    shows none, and Vega formats every mark's tooltip all the same (~8% of a
    unit chart's drawing time). The SVGs are byte for byte those of the
    published spec (tested)."""
    kind = type(node)
    if kind is dict:
        return {k: untipped(v) for k, v in node.items() if k != "tooltip"}
    if kind is list:
        return [untipped(v) for v in node]
    return node


@lru_cache(maxsize=None)
def sentinel_template(kind: ChartKind, variant: tuple) -> tuple[str, str]:
    """(key, JSON text) of a template as the drawing page takes it, without
    tooltips: the string SENTINEL + name where each chart's value of that
    name goes."""
    key = json.dumps([kind.draw.__name__, variant], ensure_ascii=False)
    return key, spec_text(_fill(untipped(template(kind, variant)), _Sentinels()))


@lru_cache(maxsize=None)
def _drawn_columns(sentinels: str, columns: tuple[str, ...]) -> tuple[str, ...]:
    """The columns a template without tooltips may read: every column whose
    name is in its text (a field, a sort, an expression). The others (the
    regions, ids and sources of the tooltips and the table) do not reach
    the drawing page."""
    return tuple(c for c in columns if c in sentinels)


@dataclass(frozen=True)
class Drawing:
    """A chart as the stage hands it on: its spec text (published, and hashed
    for the SVG cache) and what the drawing page gets (chromium.RENDER_JS):
    the spec without tooltips, or its template's key and its values."""
    text: str
    item: str
    template: tuple[str, str] | None = None  # sentinel_template()

    @classmethod
    def of_spec(cls, spec: dict) -> Drawing:
        return cls(spec_text(spec), spec_item(spec_text(untipped(spec))))


def spec_item(text: str) -> str:
    """A chart the drawing page draws from its spec text."""
    return '{"spec":' + text + "}"


def drawing_of(plan_: ChartPlan, pkg) -> Drawing:
    values, spec = _filled(plan_, pkg)
    kind = plan_.kind
    if not kind.templated:
        return Drawing.of_spec(spec)
    key, sentinels = sentinel_template(kind, _variant(kind, values))
    drawn_columns = _drawn_columns(sentinels, tuple(plan_.columns))
    own = {k: v for k, v in values.items() if k not in kind.variant}
    own["rows"] = rows_of({c: plan_.columns[c] for c in drawn_columns})
    return Drawing(spec_text(spec), f'{{"t":{json.dumps(key, ensure_ascii=False)},"v":{spec_text(own)}}}',
                   (key, sentinels))


# ---------------------------------------------------------------- output

def cell(value) -> str:
    """One value as the CSV and the data table show it."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(value, ".10g")
    return str(value)


def _cell_column(kind: str, values: list) -> list[str]:
    """cell() of each value; a text column (None where missing) the short way."""
    if kind == "O":
        return ["" if v is None else v if type(v) is str else cell(v) for v in values]
    return [cell(v) for v in values]


def csv_text(columns: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    """CSV for spreadsheets: a text cell that starts like a formula gets a
    leading apostrophe (generator/render/spreadsheet.py); numbers stay numbers."""
    from .spreadsheet import neutralise

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([v if i in numeric else neutralise(v) for i, v in enumerate(row)])
    return buf.getvalue()


def vl_version() -> str | None:
    """The Vega-Lite version Altair writes, when vl_convert has it."""
    major_minor = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    return major_minor if major_minor in vlc.get_vegalite_versions() else None


def _atomic_dir(target: Path, fill) -> Path:
    """Create target by filling a sibling temp folder and renaming it; another
    build that got there first wins and its folder is used."""
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        fill(tmp)
        os.replace(tmp, target)
    except OSError:
        if not target.is_dir():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _snippet() -> str:
    """The bundle's globals: vegaEmbed for the readers' pages, and Vega itself
    for the drawing page, which parses a template once (chromium.RENDER_JS).
    vl_convert's own snippet sets window.vega to null (it imports Vega's
    default export, and Vega has none): Vega's module is named here by the
    address vl_convert bundles it from."""
    return (f'import * as vg from "https://cdn.jsdelivr.net/npm/vega@{vlc.get_vega_version()}/+esm";\n'
            "window.vegaEmbed = vegaEmbed;\nwindow.vega = vg;\n")


def _bundle_key() -> str:
    snippet = hashlib.sha256(_snippet().encode()).hexdigest()[:8]
    return f"{vlc.get_vega_version()}-{vl_version()}-{vlc.get_vega_embed_version()}-{snippet}"


def bundle_file() -> Path:
    """Vega, Vega-Lite and vega-embed as one script with their licences, in the
    cache (generating it takes ~2 s, and starts vl_convert's runtime: see "the
    stage" for why the parent process never does)."""
    version = vl_version()

    def fill(folder: Path) -> None:
        (folder / BUNDLE_FILE).write_text(vlc.javascript_bundle(_snippet(), vl_version=version), encoding="utf-8")
        (folder / "LICENSES.txt").write_text(
            f"{BUNDLE_FILE} is generated at build time by vl-convert-python (vl_convert.javascript_bundle()).\n"
            f"It contains Vega {vlc.get_vega_version()}, Vega-Lite {version or 'latest'} and vega-embed "
            f"{vlc.get_vega_embed_version()} with vega-tooltip and vega-interpreter:\n"
            "  BSD-3-Clause, Copyright (c) University of Washington Interactive Data Lab.\n"
            "  https://github.com/vega/vega  https://github.com/vega/vega-lite  https://github.com/vega/vega-embed\n"
            "and their dependencies: the d3 modules (ISC, Copyright Mike Bostock) and small npm packages\n"
            "under the MIT or ISC licence (lodash.debounce, fast-json-patch, json-stringify-pretty-compact,\n"
            "semver and others), as stated in each package.\n", encoding="utf-8")

    return _atomic_dir(_bundle_dir(), fill) / BUNDLE_FILE


def _bundle_dir() -> Path:
    return cache_dir() / "vega" / _bundle_key()



def write_bundle(docs_dir: Path) -> Path:
    """The bundle, for the readers' browsers (assets/charts.js loads it)."""
    out = docs_dir / BUNDLE_DIR
    shutil.copytree(bundle_file().parent, out, dirs_exist_ok=True)
    return out / BUNDLE_FILE


# ---------------------------------------------------------------- fonts and cache

def cache_dir() -> Path:
    """Where rendered SVGs and the Vega bundle are kept between builds:
    build/cache, or the folder named by $VBP_CACHE_DIR."""
    return Path(os.environ.get(CACHE_ENV) or ROOT / "build" / "cache")


@lru_cache(maxsize=1)
def cjk_fonts() -> list[list]:
    """[style, file, index in the collection, size, mtime] of the faces
    fontconfig gives Chromium for Noto Sans CJK SC, regular and bold."""
    faces = []
    for style in ("regular", "bold"):
        try:
            found = subprocess.run(["fc-match", "-f", "%{family}\t%{file}\t%{index}", f"{FONT_FAMILY}:{style}"],
                                   capture_output=True, text=True, check=True).stdout.split("\t")
        except (OSError, subprocess.CalledProcessError):
            found = []
        if len(found) != 3 or FONT_FAMILY not in found[0].split(","):
            raise RuntimeError("找不到 Noto Sans CJK SC 字体（Debian 包 fonts-noto-cjk）：运行 `make system` 安装。"
                               "没有中文字体，图表中的中文无法正确测量和绘制。")
        st = os.stat(found[1])
        faces.append([style, found[1], int(found[2]), st.st_size, int(st.st_mtime)])
    return faces


@lru_cache(maxsize=1)
def render_identity() -> str:
    """What an SVG depends on besides its spec: fonts, browser, Vega bundle.
    Part of every cache key."""
    return json.dumps([cjk_fonts(), chromium.identity(), _bundle_key(), getattr(vlc, "__version__", "")])


def spec_text(spec: dict) -> str:
    """The spec as rendered and as hashed for the cache (key order kept:
    Vega-Lite follows it, e.g. for the order of fields in labels)."""
    return json.dumps(spec, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _cache_path(text: str) -> Path:
    key = hashlib.sha256((text + render_identity()).encode()).hexdigest()
    return cache_dir() / "chart-svg" / key[:2] / f"{key}.svg"


def cached_svgs(drawings: list[Drawing], names: list[str], draw) -> Callable[[], list[str]]:
    """What waits for the SVG of each chart. An SVG depends only on its spec,
    the fonts and the renderer, so it is cached by their hash: a rebuild
    renders only the charts whose data changed, and starts no browser when
    there are none. draw(items, names, templates) sets the uncached ones
    drawing and returns what waits for their SVGs."""
    paths = [_cache_path(d.text) for d in drawings]
    svgs = [p.read_text(encoding="utf-8") if p.is_file() else None for p in paths]
    todo = [i for i, s in enumerate(svgs) if s is None]
    drawn_ = None
    if todo:
        templates = dict(drawings[i].template for i in todo if drawings[i].template)
        drawn_ = draw([drawings[i].item for i in todo], [names[i] for i in todo], templates)

    def wait() -> list[str]:
        for i, svg in zip(todo, drawn_() if drawn_ else []):
            svgs[i] = svg
            paths[i].parent.mkdir(parents=True, exist_ok=True)
            tmp = paths[i].with_name(f".{paths[i].name}.{os.getpid()}")
            tmp.write_text(svg, encoding="utf-8")
            os.replace(tmp, paths[i])
        return svgs
    return wait


def render_svgs(specs: list[dict]) -> list[str]:
    """SVGs of specs, uncached, by a browser started and closed for them (in
    a process of its own, like the stage's)."""
    with chromium.SvgProcess(_bundle()) as drawing:
        return drawing.draw([Drawing.of_spec(s).item for s in specs], [str(i) for i in range(len(specs))])()


def _svg_size(svg: str) -> tuple[int, int]:
    head = svg[:500]
    w = re.search(r'\bwidth="([\d.]+)"', head)
    h = re.search(r'\bheight="([\d.]+)"', head)
    return (round(float(w.group(1))) if w else 0, round(float(h.group(1))) if h else 0)


def write_chart(plan_: ChartPlan, spec: str, svg: str, files_dir: Path) -> ChartArtifact:
    folder = files_dir / "charts" / plan_.page
    folder.mkdir(parents=True, exist_ok=True)
    columns = list(plan_.columns)
    numeric = {i for i, (kind, _) in enumerate(plan_.columns.values()) if kind in "biufc"}
    rows = [list(r) for r in zip(*(_cell_column(*c) for c in plan_.columns.values()))]
    (folder / f"{plan_.name}.csv").write_text(csv_text(columns, rows, numeric), encoding="utf-8-sig")
    (folder / f"{plan_.name}.svg").write_text(svg, encoding="utf-8")
    base = f"charts/{plan_.chart_id}"
    width, height = _svg_size(svg)
    return ChartArtifact(plan_.chart_id, plan_.page, plan_.title, plan_.notes, spec, columns, rows,
                         {"csv": f"{base}.csv", "svg": f"{base}.svg"}, width, height, plan_.load)


# ---------------------------------------------------------------- the stage
# This process builds every spec (a filled template, ~1 ms) and writes the
# charts; one drawing process (chromium.SvgProcess) owns the browser, with a
# page per CPU drawing at once, and draws the specs that are not cached,
# while this one builds and writes the next chunk. Making the Vega bundle
# starts vl_convert's runtime (~0.2 GB, kept until the process ends), and
# forking a process where that runtime runs (its tokio and V8 threads are not
# copied) makes children that hang in it (the pages stage forks), so a
# short-lived fork makes it, unless the runtime already runs here.

CHUNK = 96  # charts per task for the drawing process


def _fork_safe() -> bool:
    """True unless vl_convert's runtime threads already run in this process."""
    try:
        names = [(Path("/proc/self/task") / t / "comm").read_text().strip() for t in os.listdir("/proc/self/task")]
    except OSError:
        return False
    return not any(n.startswith(("tokio-runtime", "V8 ")) for n in names)


def _bundle() -> Path:
    """bundle_file(), made in a forked process when it is not cached yet."""
    if not _bundle_dir().is_dir() and _fork_safe() and "fork" in mp.get_all_start_methods():
        gc.freeze()  # the fork does not copy this process's objects by walking them
        try:
            with mp.get_context("fork").Pool(1) as maker:
                maker.apply(bundle_file)
        finally:
            gc.unfreeze()
    return bundle_file()


def workers() -> int:
    env = os.environ.get(WORKERS_ENV)
    if env:
        return max(1, int(env))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _write(ctx, plans: list[ChartPlan], drawings: list[Drawing], svgs: Callable[[], list[str]]) -> None:
    for p, d, svg in zip(plans, drawings, svgs()):
        ctx.charts[p.chart_id] = write_chart(p, d.text, svg, ctx.files_dir)


def render(ctx) -> None:
    """The charts stage: runs before "pages", which embed ctx.charts. Plans are
    made a chunk at a time, so only two chunks' frames are held at once."""
    ctx.charts = ChartStore(ctx.staged("chart-artifacts"))
    plans = plan(ctx.pkg, ctx.derived)
    render_identity()  # fails early, with the fix, when the CJK font is missing
    with chromium.SvgProcess(_bundle(), pages=workers()) as drawing:
        pending: deque = deque()
        while chunk := list(itertools.islice(plans, CHUNK)):
            drawings = [drawing_of(p, ctx.pkg) for p in chunk]
            pending.append((chunk, drawings, cached_svgs(drawings, [p.chart_id for p in chunk], drawing.draw)))
            if len(pending) > 1:
                _write(ctx, *pending.popleft())
        while pending:
            _write(ctx, *pending.popleft())
    write_bundle(ctx.docs_dir)
