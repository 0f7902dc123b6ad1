"""Content-Security-Policy (issue #10): every page carries a policy that lets only the
site's own scripts run, before any script; the build refuses a page that breaks it
(generator/safety.py); and the site still works under it in a real browser."""
from __future__ import annotations

import re
import time

import pytest

from conftest import DATA
from generator.safety import UnsafeSite, check_bytes, check_page, check_site

POLICY = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; "
          "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
          "base-uri 'self'; form-action 'self'")
META = re.compile(r'<meta http-equiv="Content-Security-Policy" content="([^"]*)">')
CSP_HEAD = f'<meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{POLICY}">'


def test_every_page_has_the_policy_before_any_script(sample_site):
    pages = sorted(sample_site.rglob("*.html"))
    assert pages
    for page in pages:
        html = page.read_text(encoding="utf-8")
        found = META.findall(html)
        assert found == [POLICY], (page, found)
        head = html[: html.index("<title")]
        assert head.index('<meta charset="utf-8">') < head.index("Content-Security-Policy"), page
        assert html.index("Content-Security-Policy") < html.index("<script"), page
        assert check_page(html) == [], page


@pytest.mark.parametrize("body,problem", [
    ("<script>alert(1)</script>", "内联脚本"),
    ('<script type="module">alert(1)</script>', "内联脚本"),
    ('<script type="text/javascript">alert(1)</script>', "内联脚本"),
    ('<img src="x" onerror="alert(1)">', "onerror"),
    ("<svg/onload=alert(1)>", "onload"),
    ('<a href="javascript:alert(1)">x</a>', "javascript:"),
    ('<a href=" Java\tScript:alert(1)">x</a>', "不安全的链接"),
    ('<a href="data:text/html,&lt;script&gt;">x</a>', "data:text/html"),
    ('<form action="javascript:alert(1)"></form>', "action"),
    ('<iframe src="/x"></iframe>', "<iframe>"),
    ('<object data="/x.swf"></object>', "<object>"),
    ('<base href="https://evil.example/">', "<base>"),
    ('<script src="https://cdn.example/x.js"></script>', "其他站点"),
    ('<script src="//cdn.example/x.js"></script>', "其他站点"),
])
def test_safety_check_refuses(body, problem):
    problems = check_page(f"<!doctype html><html><head>{CSP_HEAD}</head><body>{body}</body></html>")
    assert any(problem in p for p in problems), problems


@pytest.mark.parametrize("body", [
    '<script type="application/json">{"a": "\\u003c/script\\u003e"}</script>',
    '<script src="../assets/site.js"></script>',
    '<img src="data:image/png;base64,iVBORw0KGgo=" alt="">',
    '<a href="https://example.org/?a=1&amp;b=2">x</a><a href="mailto:a@example.org">m</a>',
    '<a href="#top">t</a><a href="../unit/u-x/">u</a>',
    '<p>onerror=alert(1) &lt;script&gt;alert(1)&lt;/script&gt; javascript:alert(1)</p>',
])
def test_safety_check_allows(body):
    assert check_page(f"<!doctype html><html><head>{CSP_HEAD}</head><body>{body}</body></html>") == []


@pytest.mark.parametrize("head,problem", [
    ('<meta charset="utf-8">', "没有 Content-Security-Policy"),
    ('<meta charset="utf-8"><script src="a.js"></script>' + CSP_HEAD[len('<meta charset="utf-8">'):], "之前"),
    (CSP_HEAD.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'"), "'unsafe-inline'"),
    (CSP_HEAD.replace("script-src 'self'", "script-src 'self' https://cdn.example"), "https://cdn.example"),
    (CSP_HEAD.replace("default-src 'self'", "default-src *").replace("script-src 'self' 'wasm-unsafe-eval'; ", ""),
     "允许 *"),
])
def test_safety_check_needs_a_strict_policy_first(head, problem):
    page = f'<!doctype html><html><head>{head}</head><body><script src="b.js"></script></body></html>'
    problems = check_page(page)
    assert any(problem in p for p in problems), problems


def test_default_src_governs_scripts_without_script_src():
    head = CSP_HEAD.replace("script-src 'self' 'wasm-unsafe-eval'; ", "")
    assert check_page(f'<head>{head}</head><body><script src="b.js"></script></body>') == []


# Tags the byte scan must not mistake for tags it may skip: odd spacing, case,
# quoting and entities, "on" names after quotes, "<" inside values, raw text.
TRICKY = [
    '<a href="../x/" title="a onclick=b">x</a>',
    '<a title="x" onclick="alert(1)">x</a>', '<a title="x"onclick="y">x</a>', "<a title='x' onclick=y>x</a>",
    '<a a=b="onclick">x</a>', '<a OnClick="y">x</a>', '<a\u3000onclick="y">x</a>', '<a\x1conclick="y">x</a>',
    '<a HREF="javascript:x">x</a>', '<a href = "javascript:x">x</a>', '<a href=javascript:x>x</a>',
    '<a href="&#106;avascript:x">x</a>', '<a xlink:href="data:text/html,x">x</a>', '<a data-href="x:y">x</a>',
    '<a formaction="vbscript:x">x</a>', '<a style="color: red" class="a&amp;b">x</a>',
    '<a title="x>" onclick="y">x</a>', '<a title="<script>alert(1)</script>">x</a>', '<b title="x><y" onload=z>',
    '<SCRIPT>alert(1)</SCRIPT>', '<ScRiPt src="//x/y.js"></ScRiPt>', '<Iframe src=x></Iframe>', '<framesetx>',
    '<style>a{}</style><a onclick=x>', '<script type="application/json">"<a onclick=x>"</script><p>',
    '<svg:script>x</svg:script>', '<a title="unterminated>x</a><a onclick=y>', '<p>x</p\n>< a onclick=x>',
    "<p>onerror=alert(1) javascript:alert(1)</p>", '<img src="data:image/png;base64,AA==">',
]


@pytest.mark.parametrize("body", TRICKY)
@pytest.mark.parametrize("svg", [False, True])
def test_byte_scan_finds_what_the_text_scan_finds(body, svg):
    """check_site reads bytes with check_bytes, which skips most tags unparsed; it must
    report exactly what check_page reports, line numbers included."""
    page = f"<!doctype html><html><head>{CSP_HEAD}</head>\n<body>\n{body}\n</body></html>"
    assert check_bytes(page.encode(), svg) == check_page(page, svg)


def test_unsafe_svg_is_refused(tmp_path):
    (tmp_path / "index.html").write_text(f"<!doctype html><head>{CSP_HEAD}</head>", encoding="utf-8")
    (tmp_path / "chart.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script>'
                                        '<a xlink:href="javascript:alert(2)"><text>x</text></a></svg>',
                                        encoding="utf-8")
    with pytest.raises(UnsafeSite) as raised:
        check_site(tmp_path)
    assert len(raised.value.problems) == 2 and all("chart.svg" in p for p in raised.value.problems)


def test_build_refuses_an_unsafe_page_and_publishes_nothing(tmp_path, monkeypatch, capsys):
    """The safety check is the build's last stage: a page with an inline script stops
    the build, the previous site stays, and the CLI says why without a traceback."""
    import generator.build as build_module
    import generator.render as render
    from generator.__main__ import main

    def fake_mkdocs(ctx):
        ctx.site_dir.mkdir(parents=True)
        (ctx.site_dir / "index.html").write_text(
            f"<!doctype html><head>{CSP_HEAD}</head><body><script>alert(1)</script></body>", encoding="utf-8")

    monkeypatch.setattr(build_module, "run_mkdocs", fake_mkdocs)
    monkeypatch.setattr(render, "DOC_STAGES", [])
    monkeypatch.setattr(render, "SITE_STAGES", [])
    out = tmp_path / "site"
    out.mkdir()
    (out / "index.html").write_text("上一版", encoding="utf-8")
    assert main(["build", "--data", str(DATA), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "index.html" in err and "内联脚本" in err and "Traceback" not in err
    assert [p.name for p in tmp_path.iterdir()] == ["site"]
    assert (out / "index.html").read_text(encoding="utf-8") == "上一版"


# ------------------------------------------------------------------ in the browser

WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation",
  e => window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sourceFile || "") + ":" + e.lineNumber));
"""
CHARTS_DONE = ("[...document.querySelectorAll('figure.vbp-chart')]"
               ".every(f => ['live', 'failed'].includes(f.getAttribute('data-state')))")
PAGES = ["", "unit/u-atorvastatin-oral/", "round/nat-drug-1x/", "province/330000/",
         "company/c-qilu/", "downloads/", "about/"]


@pytest.fixture(scope="module")
def csp_context(browser, sample_site, serve):
    base = serve(sample_site)
    context = browser.new_context(locale="zh-CN")  # the page's own policy applies
    context.add_init_script(WATCH)
    yield base, context
    context.close()


def _open(context, url):
    page = context.new_page()
    problems = []
    page.on("console", lambda m: m.type == "error" and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(url, wait_until="load")
    return page, problems


def _wait_until(page, expression: str, timeout: float = 30.0) -> None:
    """Poll from Python: Playwright's wait_for_function evals a string in the page,
    which the page's CSP (no 'unsafe-eval') rightly refuses."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(100)


def _violations(page):
    return page.evaluate("window.__csp")


@pytest.mark.parametrize("rel", PAGES)
def test_pages_work_under_the_policy(csp_context, rel):
    base, context = csp_context
    page, problems = _open(context, f"{base}/{rel}")
    try:
        # Material's bundle ran (it replaces no-js and exposes its observables).
        _wait_until(page, "typeof window.document$ !== 'undefined' && typeof __md_get === 'function'")
        assert page.evaluate("__md_scope.href") == base + "/"
        for figure in page.query_selector_all("figure.vbp-chart"):
            figure.scroll_into_view_if_needed()
            figure.dispatch_event("pointerenter")  # data-load="intent" charts start on pointer
        _wait_until(page, CHARTS_DONE)
        assert not page.query_selector("figure.vbp-chart[data-state=failed]"), rel
        page.wait_for_timeout(200)
        assert _violations(page) == [], rel
        assert problems == [], problems
    finally:
        page.close()


def test_search_and_navigation_work_under_the_policy(csp_context):
    base, context = csp_context
    page, problems = _open(context, base + "/")
    try:
        page.click("#vbp-search-open")
        page.fill("#vbp-search-input", "阿托伐他汀")
        page.wait_for_selector("#vbp-search-results a", timeout=20_000)
        first = page.query_selector("#vbp-search-results a")
        href = first.get_attribute("href")
        first.click()
        page.wait_for_load_state("load")
        assert page.url != base + "/", href
        page.wait_for_timeout(200)
        assert _violations(page) == []
        assert problems == [], problems
    finally:
        page.close()
