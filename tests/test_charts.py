"""Charts (issue #6): every chart's CSV holds exactly the rows it plots, the
plotted values are recomputed here from data/ (with csv, not the generator),
the spec embedded in the page plots those same rows, the static SVG is drawn
with a CJK font and names its unit, date and source, and nothing from the data
can break out of the page."""
from __future__ import annotations

import csv
import dataclasses
import html
import http.server
import io
import itertools
import json
import re
import shutil
import statistics
import threading
from pathlib import Path

import pytest

from conftest import DATA, copy_data, read_rows, write_rows
from generator.derive import derive
from generator.package import load
from generator.render import charts as C

REFERENCE = {"median_pre", "max_bid"}
KIND = {"median_pre": "集采前中位价", "max_bid": "最高有效申报价", "bid": "未中选报价",
        "winning_bid": "中选价", "renewal": "接续价", "listed": "挂网价"}
BASIS = {"winning_price": "按中选价", "highest_winning_price": "按同组最高中选价", "other": "其他"}
SPEC = re.compile(r'<figure class="vbp-chart" id="([^"]+)" data-chart="([^"]+)".*?'
                  r'<script type="application/json" class="vbp-chart-spec">(.*?)</script>', re.S)


@pytest.fixture(scope="module")
def data():
    return {name: read_rows(DATA / f"{name}.csv") for name in
            ("batches", "units", "winners", "prices", "companies", "regions", "payment_standards",
             "execution_notices")}


def chart_csv(site: Path, chart_id: str) -> list[dict]:
    raw = (site / "charts" / f"{chart_id}.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "BOM for Excel"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def num(text: str) -> float | None:
    return None if text == "" else float(text)


def plotted_rows(spec: dict) -> list[dict]:
    """The one dataset every mark of the chart draws from."""
    datasets = spec.get("datasets", {})
    assert len(datasets) <= 1, list(datasets)
    data = spec["data"]
    return data["values"] if "values" in data else datasets[data["name"]]


def unneutralised(text: str) -> str:
    """A CSV cell without the apostrophe that keeps spreadsheets from running it."""
    return text[1:] if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@", "\t", "\r") else text


def embedded(site: Path) -> dict[str, dict]:
    """chart id -> (spec, page) for every chart block in the built site."""
    found = {}
    for page in site.rglob("*.html"):
        for dom_id, chart_id, spec in SPEC.findall(page.read_text(encoding="utf-8")):
            assert chart_id not in found, chart_id
            found[chart_id] = {"spec": json.loads(spec), "page": page, "dom_id": dom_id}
    return found


def company_names(data) -> dict[str, str]:
    """Each company's name in charts: its short name, or its full name where
    two companies share the short name."""
    shorts = [c["short_name"] for c in data["companies"]]
    return {c["company_id"]: c["short_name"] if shorts.count(c["short_name"]) == 1 else c["name"]
            for c in data["companies"]}


def own_price(data, winner, kind):
    """The product's price of a kind: from its own round first (as the pages show it)."""
    rows = [p for p in data["prices"] if p["winner_id"] == winner["winner_id"] and p["kind"] == kind]
    own = [p for p in rows if p["batch_id"] == winner["batch_id"]]
    rows = own or rows
    return max(rows, key=lambda p: (p["effective_date"], p["price_id"])) if rows else None


def expected_cuts(data, batch_id):
    out = {}
    for w in data["winners"]:
        if w["batch_id"] != batch_id or w["won"] != "true":
            continue
        win, pre = own_price(data, w, "winning_bid"), own_price(data, w, "median_pre")
        if win and pre:
            m, p = float(pre["unit_price"]), float(win["unit_price"])
            out[w["winner_id"]] = {"pre": m, "win": p, "unit": win["unit_price_unit"],
                                   "cut": (m - p) / m * 100}
    return out


# ---------------------------------------------------------------- each chart, recomputed from data/

def test_round_cut_charts_plot_every_won_product_with_both_prices(sample_site, data):
    for b in data["batches"]:
        expected = expected_cuts(data, b["batch_id"])
        path = sample_site / "charts" / "round" / b["batch_id"] / "cuts.csv"
        if not expected:
            assert not path.exists(), path
            continue
        rows = chart_csv(sample_site, f"round/{b['batch_id']}/cuts")
        assert {r["产品编号"] for r in rows} == set(expected), b["batch_id"]
        for r in rows:
            e = expected[r["产品编号"]]
            assert num(r["集采前中位价"]) == e["pre"] and num(r["中选价"]) == e["win"]
            assert r["价格单位"] == e["unit"]
            assert num(r["降幅（%）"]) == pytest.approx(e["cut"], abs=0.005)
            assert r["来源"], r


def test_home_chart_has_each_rounds_median_cut(sample_site, data):
    rows = {r["批次编号"]: r for r in chart_csv(sample_site, "home/rounds")}
    expected = {b["batch_id"]: b for b in data["batches"] if expected_cuts(data, b["batch_id"])}
    assert set(rows) == set(expected)
    for batch_id, b in expected.items():
        cuts = [e["cut"] for e in expected_cuts(data, batch_id).values()]
        r = rows[batch_id]
        assert num(r["降幅中位数（%）"]) == pytest.approx(statistics.median(cuts), abs=0.005)
        assert int(r["计入降幅的产品数"]) == len(cuts)
        assert int(r["中选产品数"]) == sum(1 for w in data["winners"]
                                        if w["batch_id"] == batch_id and w["won"] == "true")
        assert r["公布日期"] == b["announced_date"] and r["批次"] == b["name"]


def test_round_winner_charts_have_every_winning_product_by_company(sample_site, data):
    short = company_names(data)
    for b in data["batches"]:
        won = {w["winner_id"]: w for w in data["winners"] if w["batch_id"] == b["batch_id"] and w["won"] == "true"}
        path = sample_site / "charts" / "round" / b["batch_id"] / "winners.csv"
        if not won:
            assert not path.exists()
            continue
        rows = chart_csv(sample_site, f"round/{b['batch_id']}/winners")
        assert len({w["company_id"] for w in won.values()}) <= C.TOP_COMPANIES  # else only the top ones
        assert sorted(r["产品编号"] for r in rows) == sorted(won)
        counts = {}
        for r in rows:
            w = won[r["产品编号"]]
            assert r["企业"] == short[w["company_id"]]
            price = own_price(data, w, "winning_bid")
            assert num(r["中选价"]) == (float(price["unit_price"]) if price else None)
            counts[r["企业"]] = counts.get(r["企业"], 0) + 1
        ranks = [int(r["企业排名"]) for r in rows]
        assert ranks == sorted(ranks)
        by_rank = [counts[r["企业"]] for r in rows]
        assert by_rank == sorted(by_rank, reverse=True), "companies with more winning products first"


def test_unit_price_charts_plot_every_price_once_in_one_unit_per_panel(sample_site, data):
    winners = {w["winner_id"]: w for w in data["winners"]}
    short = company_names(data)
    for u in data["units"]:
        prices = {p["price_id"]: p for p in data["prices"] if winners[p["winner_id"]]["unit_id"] == u["unit_id"]}
        if not prices:
            continue
        rows = chart_csv(sample_site, f"unit/{u['unit_id']}/prices")
        seen = []
        panels = {}
        for r in rows:
            ids = r["价格记录"].split("|")
            seen += ids
            panels.setdefault(r["分组"], set()).add(r["价格单位"])
            for pid in ids:
                p = prices[pid]
                assert (num(r["单位价格"]), r["价格单位"], r["日期"], r["价格类型"]) == (
                    float(p["unit_price"]), p["unit_price_unit"], p["effective_date"], KIND[p["kind"]])
                if p["kind"] in REFERENCE:
                    assert r["企业"] == "" and r["产品编号"] == ""
                else:
                    assert r["企业"] == short[winners[p["winner_id"]]["company_id"]]
                    assert r["产品编号"] == p["winner_id"]
        assert sorted(seen) == sorted(prices), u["unit_id"]
        assert all(len(units) == 1 for units in panels.values()), panels


def test_payment_charts_have_every_standard_beside_the_winning_price(sample_site, data):
    winners = {w["winner_id"]: w for w in data["winners"]}
    for u in data["units"]:
        standards = {s["standard_id"]: s for s in data["payment_standards"] if s["unit_id"] == u["unit_id"]}
        path = sample_site / "charts" / "unit" / u["unit_id"] / "payment.csv"
        if not standards:
            assert not path.exists()
            continue
        rows = chart_csv(sample_site, f"unit/{u['unit_id']}/payment")
        seen = []
        for r in rows:
            ids = r["标准编号"].split("|")
            seen += ids
            assert int(r["地区数"]) == len({standards[i]["region_code"] for i in ids})
            for sid in ids:
                s = standards[sid]
                assert (num(r["医保支付标准"]), r["价格单位"], r["支付标准依据"]) == (
                    float(s["amount"]), s["amount_unit"], BASIS[s["basis"]])
                w = winners.get(s["winner_id"])
                win = own_price(data, w, "winning_bid") if w and w["won"] == "true" else None
                expected = float(win["unit_price"]) if win and win["unit_price_unit"] == s["amount_unit"] else None
                assert num(r["中选价"]) == expected, sid
        assert sorted(seen) == sorted(standards)


def test_province_timelines_have_every_notice_of_the_region(sample_site, data):
    pages = [p.parent.name for p in (sample_site / "province").glob("*/index.html")]
    assert pages
    for code in pages:
        notices = {n["notice_id"]: n for n in data["execution_notices"] if n["region_code"] == code}
        path = sample_site / "charts" / "province" / code / "timeline.csv"
        if not notices:
            assert not path.exists()
            continue
        rows = chart_csv(sample_site, f"province/{code}/timeline")
        assert sorted(r["通知编号"] for r in rows) == sorted(notices)
        for r in rows:
            n = notices[r["通知编号"]]
            assert (r["通知发布日期"], r["执行开始日期"], r["协议期截止日期"], r["文号"]) == (
                n["published_date"], n["execution_start"], n["agreement_end"], n["doc_number"])
        starts = [r["执行开始日期"] for r in rows]
        assert starts == sorted(starts)


# ---------------------------------------------------------------- what the page plots

def test_static_svgs_leave_out_aria_and_interactive_charts_keep_it(sample_site):
    """The static SVG is an <img> (its alt names the chart): the marks' and
    axes' ARIA labels would never be read there, so only the title and
    subtitle keep theirs. The embedded spec, which the reader's browser draws,
    keeps Vega-Lite's default ARIA."""
    charts = embedded(sample_site)
    assert charts
    for chart_id, found in charts.items():
        svg = (sample_site / "charts" / f"{chart_id}.svg").read_text(encoding="utf-8")
        assert "<path" in svg or "<text" in svg, chart_id
        labels = re.findall(r'aria-label="([^"]*)"', svg)
        assert labels and all(t.startswith(("Title text", "Subtitle text")) for t in labels), (chart_id, labels)
        assert "aria" not in found["spec"].get("config", {}), chart_id

def test_every_chart_plots_exactly_the_rows_of_its_csv_and_table(sample_site):
    charts = embedded(sample_site)
    files = sorted(p.relative_to(sample_site / "charts").with_suffix("").as_posix()
                   for p in (sample_site / "charts").rglob("*.csv"))
    assert files and sorted(charts) == files
    for chart_id, found in charts.items():
        values = plotted_rows(found["spec"])
        rows = chart_csv(sample_site, chart_id)
        assert len(values) == len(rows), chart_id
        for plotted, row in zip(values, rows):
            assert list(plotted) == list(row), chart_id
            for key, text in row.items():
                value = plotted[key]
                if value is None:
                    assert text == "", (chart_id, key)
                elif isinstance(value, (int, float)):
                    assert float(text) == value, (chart_id, key)
                else:
                    assert unneutralised(text) == value, (chart_id, key)
        page = found["page"].read_text(encoding="utf-8")
        block = page[page.index(f'id="{found["dom_id"]}"'):]
        block = block[: block.index("</figure>")]
        cells = [html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", block, re.S)]
        assert cells == [unneutralised(v) for row in rows for v in row.values()], chart_id


def test_each_chart_links_its_static_svg_and_downloads(sample_site):
    for chart_id, found in embedded(sample_site).items():
        page = found["page"].read_text(encoding="utf-8")
        block = page[page.index(f'id="{found["dom_id"]}"'):]
        block = block[: block.index("</figure>")]
        for ext in ("svg", "csv"):
            hrefs = re.findall(rf'(?:src|href)="([^"]+/{re.escape(chart_id.rsplit("/", 1)[1])}\.{ext})"', block)
            assert hrefs, (chart_id, ext)
            for href in hrefs:
                assert (found["page"].parent / href).resolve() == (sample_site / "charts" / f"{chart_id}.{ext}").resolve()
        assert "图片 PNG" in block and "图表数据" in block and "<details" in block


def test_static_svgs_name_unit_source_and_date_and_use_a_cjk_font(sample_site):
    meta = json.loads((DATA / "datapackage.json").read_text(encoding="utf-8"))
    svgs = sorted((sample_site / "charts").rglob("*.svg"))
    assert svgs
    for path in svgs:
        svg = path.read_text(encoding="utf-8")
        joined = html.unescape(re.sub(r"<[^>]+>", "", svg))
        assert f"数据截至 {meta['as_of']}" in joined and "来源：" in joined, path
        assert "单位：" in joined or "日期：" in joined, path
        assert "示例数据，非真实价格" in joined, path
        assert set(re.findall(r'font-family="([^"]*)"', svg)) == {html.escape(C.FONT)}, path
        assert "<script" not in svg and "onload" not in svg, path


def test_axes_name_their_units_and_dates_are_iso(sample_data_plans):
    for plan, spec in sample_data_plans:
        titles, formats = [], []

        def walk(node):
            if isinstance(node, dict):
                for channel in ("x", "y"):
                    enc = node.get("encoding", {}).get(channel)
                    if isinstance(enc, dict) and enc.get("title"):
                        if enc.get("type") == "quantitative":
                            titles.append(enc["title"])
                        if enc.get("type") == "temporal":
                            formats.append(enc["axis"]["format"])
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(spec)
        assert titles or formats, plan.chart_id
        for title in titles:
            assert re.search(r"（.*(%|元/|个).*）", title), (plan.chart_id, title)
        assert all(f == "%Y-%m-%d" for f in formats), plan.chart_id


@pytest.fixture(scope="module")
def sample_data_plans():
    pkg = load(DATA)
    plans = list(C.plan(pkg, derive(pkg)))
    # validate=True: Altair checks each spec against the Vega-Lite schema
    return [(p, C.spec_of(p, pkg, validate=True)) for p in plans]


def test_tooltips_name_product_or_round_company_and_source(sample_data_plans):
    for plan, spec in sample_data_plans:
        fields = set()

        def walk(node):
            if isinstance(node, dict):
                tips = node.get("encoding", {}).get("tooltip")
                for t in tips or []:
                    fields.add(t["field"])
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(spec)
        assert "来源" in fields, plan.chart_id
        assert fields & {"产品", "批次"}, plan.chart_id
        if plan.name in ("cuts", "winners", "prices", "payment"):
            assert {"产品", "企业"} <= fields, plan.chart_id


# ---------------------------------------------------------------- templates

@pytest.fixture(scope="module")
def synthetic_package(tmp_path_factory) -> Path:
    from bench import synth

    return synth.write(tmp_path_factory.mktemp("synth") / "data", *synth.generate(0.02))


def _edited(plan, column: str, values) -> C.ChartPlan:
    frame = plan.frame.copy()
    frame[column] = values
    return dataclasses.replace(plan, frame=frame)


def test_templates_give_exactly_the_spec_altair_draws_for_every_chart_and_variant(synthetic_package):
    """spec_of fills a template drawn once per kind and variant; drawing each
    chart with its own values must give the same spec, key order and all
    (the text that is hashed, rendered and published), for every chart of
    data/ and of a synthetic package, and for every variant of every kind."""
    seen, kinds = set(), set()
    for folder in (DATA, synthetic_package):
        pkg = load(folder)
        plans = list(C.plan(pkg, derive(pkg)))
        # the variants these packages lack: an overflow bin, many companies at one price
        cuts = next(p for p in plans if p.kind is C.CUTS)
        plans.append(_edited(cuts, "降幅（%）", [-80.0, *cuts.frame["降幅（%）"][1:]]))
        for p in [p for p in plans if p.kind is C.UNIT_PRICES and not p.kind.values(p.frame)["by_company"]][:1]:
            plans.append(_edited(p, "单位价格", 1.0))
        for p in plans:
            values = C.chart_values(p, pkg)
            assert C.spec_text(C.spec_of(p, pkg)) == C.spec_text(C.drawn(p.kind, values)), p.chart_id
            kinds.add(p.kind)
            seen.add((p.kind, tuple(values[k] for k in p.kind.variant)))
    assert seen == {(k, combo) for k in kinds for combo in itertools.product((False, True), repeat=len(k.variant))}
    assert len(kinds) == 6


def test_charts_drawn_from_a_parsed_template_are_the_very_svgs_of_their_specs(synthetic_package, monkeypatch):
    """The drawing page parses a templated kind's spec once and draws each
    chart as a fresh View of it with the chart's values: byte for byte the
    SVG that vega-embed draws from the chart's own spec, for every templated
    chart of data/ and of a synthetic package and every variant, also on the
    pages that replace others and are told which templates passed, and with
    garbage collected every few charts; and no template fell back to drawing
    from specs. Every chart, templated or not, is drawn without its tooltips
    and a template's rows without the columns it does not read: the SVG is
    still the published spec's."""
    monkeypatch.setattr(C.chromium, "RECYCLE", 24)
    assert "const GC_EVERY = 150;" in C.chromium.RENDER_JS
    monkeypatch.setattr(C.chromium, "RENDER_JS", C.chromium.RENDER_JS.replace("const GC_EVERY = 150;",
                                                                               "const GC_EVERY = 5;"))
    drawings, names, variants = [], [], set()
    for folder in (DATA, synthetic_package):
        pkg = load(folder)
        plans = list(C.plan(pkg, derive(pkg)))
        # many companies at one price: the variant these packages lack
        for p in [p for p in plans if p.kind is C.UNIT_PRICES and not p.kind.values(p.frame)["by_company"]][:1]:
            plans.append(_edited(p, "单位价格", 1.0))
        for p in plans:
            d = C.drawing_of(p, pkg)
            drawings.append(d)
            names.append(p.chart_id)
            if d.template:
                variants.add(d.template[0])
                rows = json.loads(d.item)["v"]["rows"]
                assert rows and "来源" not in rows[0]  # a column only the tooltips and the table read
            assert '"tooltip"' in d.text and '"tooltip"' not in d.item
    assert len(variants) == 5  # prices: log or not × by company or not; payment
    assert {C.spec_item(d.text) == d.item for d in drawings} == {False}
    with C.chromium.SvgRenderer(C._bundle(), pages=2) as renderer:
        templated = renderer.svgs([d.item for d in drawings], names, dict(d.template for d in drawings if d.template))
        assert [page.evaluate("() => window.fallbacks") for page in renderer._pages] == [[], []]
        assert renderer._passed  # told to the pages that replaced the first
        assert renderer._passed.union(*(p.evaluate("() => window.passed") for p in renderer._pages)) == variants
        from_specs = renderer.svgs([C.spec_item(d.text) for d in drawings], names)
    assert [i for i, (a, b) in enumerate(zip(templated, from_specs)) if a != b] == []
    assert all(svg.startswith("<svg") and ("mark-symbol" in svg or not d.template)
               for svg, d in zip(templated, drawings))


# ---------------------------------------------------------------- units never share an axis

def test_a_unit_priced_per_tablet_and_per_capsule_gets_one_panel_per_unit(tmp_path):
    data = copy_data(tmp_path / "data")
    wid = "w-nat-drug-1x-atv-10-qilu"
    winners = read_rows(data / "winners.csv")
    for w in winners:
        if w["winner_id"] == wid:
            w["smallest_unit"] = "粒"
    write_rows(data / "winners.csv", winners)
    for name, field in (("prices", "unit_price_unit"), ("payment_standards", "amount_unit")):
        rows = read_rows(data / f"{name}.csv")
        for r in rows:
            if r["winner_id"] == wid:
                r[field] = "元/粒"
        write_rows(data / f"{name}.csv", rows)
    pkg = load(data)
    d = derive(pkg)
    frame, _ = C.unit_prices_frame(d["chart_price_points"], "u-atorvastatin-oral")
    units_by_panel = frame.groupby("分组")["价格单位"].unique()
    assert all(len(u) == 1 for u in units_by_panel), units_by_panel
    assert {"10mg（元/粒）", "10mg（元/片）"} <= set(units_by_panel.index)
    spec = C.unit_prices_chart(C.unit_prices_values(frame)).to_dict()
    assert spec["resolve"]["scale"]["y"] == "independent" and spec["facet"]["row"]["field"] == "分组"
    assert "单位见各分组标题" in json.dumps(spec, ensure_ascii=False)
    frame, _ = C.payment_frame(d["chart_payment"], "u-atorvastatin-oral")
    spec = C.payment_chart(C.payment_values(frame)).to_dict()
    assert set(frame["价格单位"]) == {"元/片", "元/粒"}
    assert spec["facet"]["row"]["field"] == "价格单位" and spec["resolve"]["scale"]["x"] == "independent"


# ---------------------------------------------------------------- rendering and escaping

def _label_spec(label: str) -> dict:
    return {"$schema": "https://vega.github.io/schema/vega-lite/v6.json",
            "data": {"values": [{"a": label, "b": 1}]}, "mark": "point",
            "encoding": {"y": {"field": "a", "type": "nominal", "title": None,
                               "axis": {"labelFontSize": 11, "labelLimit": 0}},
                         "x": {"field": "b", "type": "quantitative", "title": None}},
            "config": {"font": C.FONT}}


def _plot_x(svg: str) -> float:
    """Where the plot starts: right of the widest y label."""
    return float(re.search(r'class="marks"[^>]*>.*?<g[^>]*transform="translate\(([\d.]+),', svg, re.S).group(1))


def test_chinese_labels_are_measured_with_a_cjk_font_and_rendering_is_deterministic():
    """20 Han characters at 11 px take about 220 px, 20 Latin letters about
    half that; a font without CJK glyphs measures Han as something else, and
    the axis would overlap its labels. Two browsers draw the same bytes."""
    specs = [_label_spec("阿托伐他汀" * 4), _label_spec("atorvastat" * 2)]
    cjk, latin = C.render_svgs(specs)
    assert 20 * 11 * 0.95 <= _plot_x(cjk) <= 20 * 11 * 1.25, _plot_x(cjk)
    assert _plot_x(latin) < 0.7 * _plot_x(cjk), (_plot_x(latin), _plot_x(cjk))
    assert set(re.findall(r'font-family="([^"]*)"', cjk)) == {html.escape(C.FONT)}
    assert C.render_svgs(specs) == [cjk, latin]


def test_the_renderer_fetches_nothing():
    """A spec that names a URL gets no data from it: the browser sends no request."""
    seen = []

    class Count(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(self.path)
            body = '[{"a": "甲", "b": 1}]'.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Count)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    spec = _label_spec("乙")
    spec["data"] = {"url": f"http://127.0.0.1:{server.server_address[1]}/rows.json"}
    try:
        svgs = C.render_svgs([spec])
    except RuntimeError:  # Vega may report the refused load as an error
        svgs = [""]
    finally:
        server.shutdown()
    assert seen == [] and "甲" not in svgs[0]


def test_a_missing_browser_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setattr(C.chromium, "CHROMIUM", str(tmp_path / "no-chromium"))
    with pytest.raises(RuntimeError, match="make system"):
        C.render_svgs([_label_spec("甲")])


def test_a_rebuild_with_cached_svgs_starts_no_browser(tmp_path, monkeypatch):
    from generator.build import BuildContext

    monkeypatch.setenv(C.CACHE_ENV, str(tmp_path / "cache"))
    pkg = load(DATA)
    derived = derive(pkg)

    def stage(name, **kw):
        ctx = BuildContext(pkg=pkg, derived=derived, docs_dir=tmp_path / name, site_dir=tmp_path / "site")
        C.render(ctx)
        folder = ctx.files_dir / "charts"
        svgs = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*.svg")}
        shutil.rmtree(folder)
        return svgs

    first = stage("cold")
    assert first

    def refuse(self):
        raise AssertionError("a browser was started for a cached chart")

    monkeypatch.setattr(C.chromium.SvgProcess, "_start", refuse)
    assert stage("warm") == first


def test_chart_block_escapes_everything_from_the_data():
    hostile = '</script><script>alert(1)</script><img src=x onerror=alert(2)>&amp;'
    artifact = C.ChartArtifact(
        chart_id="unit/u-x/prices", page="unit/u-x", title=hostile, notes=[hostile],
        spec=C.spec_text({"data": {"values": [{"企业": hostile}]}, "mark": "point"}),
        columns=["企业", hostile], rows=[[hostile, "1"]],
        files={"csv": "charts/unit/u-x/prices.csv", "svg": "charts/unit/u-x/prices.svg"}, width=10, height=10)
    from generator.render.templating import environment

    out = environment().from_string('{% from "_chart.html.j2" import chart %}{{ chart(c) }}').render(c=artifact)
    assert "<img src=x" not in out and "<script>alert" not in out and "onerror=alert(2)>" not in out
    assert out.count("<script") == 1 and out.count("</script>") == 1
    spec = out[out.index('class="vbp-chart-spec">') + len('class="vbp-chart-spec">'): out.index("</script>")]
    assert "<" not in spec and ">" not in spec and "&" not in spec
    assert json.loads(spec)["data"]["values"][0]["企业"] == hostile
    assert 'src="../../charts/unit/u-x/prices.svg"' in out
    assert html.unescape(re.search(r"<td>(.*?)</td>", out).group(1)) == hostile
    assert environment().from_string('{% from "_chart.html.j2" import chart %}{{ chart(none) }}').render() == ""


def test_csv_neutralises_formulas_in_text_only():
    text = C.csv_text(["企业", "降幅（%）"], [["=HYPERLINK(1)", "-3.5"], ["@x", "12"]], numeric={1})
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1] == ["'=HYPERLINK(1)", "-3.5"] and rows[2] == ["'@x", "12"]


def test_bundle_is_served_from_the_site_with_its_licence_and_only_loaded_by_charts_js(sample_site):
    bundle = sample_site / "assets" / "vendor" / "vega" / "vega-bundle.js"
    assert bundle.stat().st_size > 500_000
    text = bundle.read_text(encoding="utf-8")
    assert "vegaEmbed" in text and "expressionInterpreter" in text
    assert "BSD-3-Clause" in (bundle.parent / "LICENSES.txt").read_text(encoding="utf-8")
    for page in sample_site.rglob("*.html"):
        html_text = page.read_text(encoding="utf-8")
        assert "vega-bundle.js" not in html_text, page
        assert re.search(r'<script src="[^"]*assets/charts\.js"', html_text), page


# ---------------------------------------------------------------- the real national rounds

def test_real_rounds_plot_every_cut_and_the_companies_with_most_winners(real_package, real_site):
    data = {name: read_rows(real_package / f"{name}.csv") for name in
            ("batches", "units", "winners", "prices", "companies")}
    names = company_names(data)
    for b in data["batches"]:
        expected = expected_cuts(data, b["batch_id"])
        rows = chart_csv(real_site, f"round/{b['batch_id']}/cuts")
        assert {r["产品编号"] for r in rows} == set(expected), b["batch_id"]
        for r in rows:
            assert num(r["降幅（%）"]) == pytest.approx(expected[r["产品编号"]]["cut"], abs=0.005)
        won = [w for w in data["winners"] if w["batch_id"] == b["batch_id"] and w["won"] == "true"]
        counts = {}
        for w in won:
            counts[w["company_id"]] = counts.get(w["company_id"], 0) + 1
        top = sorted(counts, key=lambda c: (-counts[c], names[c], c))[: C.TOP_COMPANIES]
        rows = chart_csv(real_site, f"round/{b['batch_id']}/winners")
        assert sorted(r["产品编号"] for r in rows) == sorted(w["winner_id"] for w in won if w["company_id"] in top)
        assert len({r["企业"] for r in rows}) == len(top), "one bar per company, names never merge two"
        page = (real_site / "round" / b["batch_id"] / "index.html").read_text(encoding="utf-8")
        if len(counts) > C.TOP_COMPANIES:
            assert f"共 {len(counts)} 家企业中选" in page
    units_with_prices = {w["unit_id"] for w in data["winners"]
                         if any(p["winner_id"] == w["winner_id"] for p in data["prices"])}
    drawn = {p.parent.name for p in (real_site / "charts" / "unit").glob("*/prices.svg")}
    assert drawn == units_with_prices
