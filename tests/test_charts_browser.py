"""Charts in a real browser (issue #6): a round page and a unit page draw every
chart (an SVG with marks, one mark per plotted row where the chart says so),
under Content-Security-Policy script-src 'self' (no eval), with no console
error and no request leaving the site; tooltips name product, company and
source; without JavaScript the static SVG shows; the home page loads Vega only
when the reader turns to its chart; PNG downloads work; dates read the same
west of Greenwich."""
from __future__ import annotations

import csv
import html
import io
import re
import struct

import pytest

CSP = "script-src 'self'"  # stricter than the site's own policy: no 'wasm-unsafe-eval' either
ROUND = "round/nat-drug-1x"
UNIT = "unit/u-atorvastatin-oral"


@pytest.fixture(scope="module")
def base(sample_site, serve):
    return serve(sample_site)


def rows(site, chart_id):
    text = (site / "charts" / f"{chart_id}.csv").read_text(encoding="utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


class Watch:
    """A page with its console errors, page errors, CSP violations and requests."""

    def __init__(self, browser, base, **context):
        self.context = browser.new_context(**context)
        self.page = self.context.new_page()
        self.errors, self.requests = [], []
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.add_init_script(
            "document.addEventListener('securitypolicyviolation', e =>"
            " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));")

        def with_csp(route):
            response = route.fetch()
            headers = dict(response.headers)
            if "text/html" in headers.get("content-type", ""):
                headers["content-security-policy"] = CSP
            route.fulfill(response=response, headers=headers)

        self.context.route(f"{base}/**", with_csp)
        self.base = base

    def assert_policy_enforced(self):
        """The policy is in force: an inline script is refused (and reported)."""
        ran = self.page.evaluate("() => { window.vbpInline = 0; const s = document.createElement('script');"
                                 " s.textContent = 'window.vbpInline = 1'; document.head.append(s);"
                                 " return window.vbpInline; }")
        assert ran == 0
        self.page.wait_for_function("() => true")
        assert any("Content Security Policy" in e or "CSP violation" in e for e in self.errors), self.errors
        self.errors.clear()

    def open(self, path):
        self.page.goto(f"{self.base}/{path}/" if path else f"{self.base}/")
        self.page.wait_for_load_state("load")
        return self.page

    def draw_all(self):
        figures = self.page.locator("figure.vbp-chart")
        assert figures.count() > 0
        for i in range(figures.count()):
            figure = figures.nth(i)
            figure.scroll_into_view_if_needed()
            figure.hover()
            self.page.wait_for_function("f => ['live', 'failed'].includes(f.getAttribute('data-state'))",
                                        arg=figure.element_handle(), timeout=30_000)
        return figures

    def close(self):
        self.context.close()


def test_round_and_unit_pages_draw_every_chart_under_csp_without_errors(sample_site, base, browser):
    w = Watch(browser, base)
    try:
        for path, names in ((ROUND, ("cuts", "winners")), (UNIT, ("prices", "payment"))):
            page = w.open(path)
            w.assert_policy_enforced()
            figures = w.draw_all()
            assert figures.count() == len(names)
            for i, name in enumerate(names):
                figure = figures.nth(i)
                assert figure.get_attribute("data-chart") == f"{path}/{name}"
                assert figure.get_attribute("data-state") == "live", (path, name, w.errors)
                marks = figure.locator(".vbp-chart-live svg g.role-mark > *")
                assert marks.count() > 0, (path, name)
                assert figure.locator("img.vbp-chart-static").is_hidden()
        page = w.open(ROUND)
        w.draw_all()
        dots = page.locator("#chart-round-nat-drug-1x-cuts .vbp-chart-live svg g.mark-symbol.role-mark > path")
        assert dots.count() == len(rows(sample_site, f"{ROUND}/cuts")), "one dot per plotted product"
        assert w.errors == []
        assert w.requests and all(u.startswith(base + "/") for u in w.requests), \
            [u for u in w.requests if not u.startswith(base + "/")]
    finally:
        w.close()


def test_tooltip_names_product_company_and_source(sample_site, base, browser):
    w = Watch(browser, base)
    try:
        page = w.open(ROUND)
        w.draw_all()
        dot = page.locator("#chart-round-nat-drug-1x-cuts .vbp-chart-live svg g.mark-symbol.role-mark > path").first
        dot.scroll_into_view_if_needed()
        box = dot.bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        tip = page.locator("#vg-tooltip-element")
        tip.wait_for(state="visible", timeout=10_000)
        text = tip.inner_text()
        plotted = rows(sample_site, f"{ROUND}/cuts")
        hit = [r for r in plotted if r["产品"] in text and r["企业"] in text]
        assert hit, text
        assert hit[0]["来源"] in text and "降幅" in text
        assert w.errors == []
    finally:
        w.close()


def test_without_javascript_the_static_svg_shows(browser, base):
    w = Watch(browser, base, java_script_enabled=False)
    try:
        page = w.open(UNIT)
        figures = page.locator("figure.vbp-chart")
        assert figures.count() == 2
        for i in range(figures.count()):
            img = figures.nth(i).locator("img.vbp-chart-static")
            img.scroll_into_view_if_needed()
            page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=img.element_handle())
            assert img.is_visible() and img.bounding_box()["height"] > 50
            assert figures.nth(i).locator(".vbp-chart-png").is_hidden()
            assert figures.nth(i).locator("a[download$='.csv']").is_visible()
        assert not any("vega-bundle" in u for u in w.requests)
    finally:
        w.close()


def test_vega_loads_only_where_a_chart_is_and_on_the_home_page_only_on_intent(browser, base):
    w = Watch(browser, base)
    try:
        w.open("about")
        page = w.open("")
        page.wait_for_timeout(1500)
        assert not any("vega-bundle" in u for u in w.requests), "the home page visit stays light"
        figure = page.locator("#chart-home-rounds")
        assert figure.locator("img.vbp-chart-static").is_visible()
        figure.scroll_into_view_if_needed()
        figure.hover()
        page.wait_for_function("f => f.getAttribute('data-state') === 'live'", arg=figure.element_handle(),
                               timeout=30_000)
        assert sum("vega-bundle" in u for u in w.requests) == 1
        assert figure.locator(".vbp-chart-live svg g.role-mark > *").count() > 0
        assert w.errors == []
    finally:
        w.close()


def test_png_download_is_the_chart_at_twice_its_size(sample_site, base, browser):
    w = Watch(browser, base, accept_downloads=True)
    try:
        page = w.open(ROUND)
        link = page.locator("#chart-round-nat-drug-1x-winners .vbp-chart-png a")
        link.scroll_into_view_if_needed()
        with page.expect_download() as info:
            link.click()
        download = info.value
        assert download.suggested_filename == "round-nat-drug-1x-winners.png"
        data = open(download.path(), "rb").read()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", data[16:24])
        svg = (sample_site / "charts" / ROUND / "winners.svg").read_text(encoding="utf-8")
        svg_w, svg_h = (float(x) for x in re.search(r'width="([\d.]+)" height="([\d.]+)"', svg).groups())
        assert (width, height) == (round(svg_w * 2), round(svg_h * 2))
        assert w.errors == []
    finally:
        w.close()


def test_dates_read_the_same_west_of_greenwich(sample_site, base, browser):
    """Dates are parsed and shown in UTC: in Los Angeles the interactive axis
    shows the same ISO dates as the static SVG drawn at build time."""
    w = Watch(browser, base, timezone_id="America/Los_Angeles")
    try:
        page = w.open("province/330000")
        w.draw_all()
        live = page.locator("#chart-province-330000-timeline .vbp-chart-live svg").inner_html()
        static = (sample_site / "charts" / "province" / "330000" / "timeline.svg").read_text(encoding="utf-8")
        iso = re.compile(r">(\d{4}-\d{2}-\d{2})<")
        assert iso.findall(static) and iso.findall(html.unescape(live)) == iso.findall(static)
        assert w.errors == []
    finally:
        w.close()
