"""Internal links: every page, anchor, asset and download a page links to
exists; a broken one stops the build with page → target, and the old site stays."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import DATA, ROOT
from generator.linkcheck import BrokenLink, check_site, format_report

PAGE = """<!doctype html><html lang="zh"><head>
<link rel="stylesheet" href="../assets/site.css">
<link rel="stylesheet" href="../assets/gone.css">
<script src="../assets/app.js"></script>
<script>var html = '<a href="nowhere/">not markup</a>';</script>
</head><body>
<!-- <a href="commented-out/">ignored</a> -->
<h1 id="top">页</h1><a name="legacy"></a>
<a href="../">home</a>
<a href="../unit/a/">unit</a>
<a href="../unit/a">unit without slash</a>
<a href="../unit/missing/">missing page</a>
<a href="../unit/a/#row-1">anchor ok</a>
<a href="../unit/a/#row-2">anchor missing</a>
<a href="#top">same page</a><a href="#legacy">named</a><a href="#nope">same page missing</a>
<a href="#">top</a>
<a href="/downloads/%E4%BB%B7%E6%A0%BC.csv">download ok</a>
<a href="/downloads/missing.xlsx">download missing</a>
<a href="../downloads/data.csv#row=3">fragment on a file</a>
<img src="../img/logo.png" srcset="../img/logo.png 1x, ../img/logo@2x.png 2x">
<a title="href=&quot;../fake/&quot; src=x" href="../about/">title text is not a link</a>
<a href="../../../etc/passwd">outside</a>
<a href="https://www.nhsa.gov.cn/">external</a><a href="mailto:a@b.c">mail</a>
<a href="//cdn.example.org/x.js">protocol-relative</a>
</body></html>"""


@pytest.fixture
def site(tmp_path):
    s = tmp_path / "site"
    for rel, text in {
        "index.html": '<a href="page/">page</a>',
        "page/index.html": PAGE,
        "unit/a/index.html": '<h2 id="row-1">1</h2>',
        "about/index.html": "<p>about</p>",
        "assets/site.css": "body{background:url('../img/logo.png')} /* url(commented.png) */"
                           " .x{background:url(data:image/png;base64,AA==)} .y{mask:url(#m)}"
                           " .z{background:url(\"../img/gone.png\")}",
        "assets/app.js": "",
        "downloads/价格.csv": "a\n",
        "downloads/data.csv": "a\n",
        "img/logo.png": "",
    }.items():
        (s / rel).parent.mkdir(parents=True, exist_ok=True)
        (s / rel).write_text(text, encoding="utf-8")
    return s


def test_finds_exactly_the_broken_links(site):
    found = {(b.page, b.target) for b in check_site(site)}
    assert found == {
        ("page/index.html", "../assets/gone.css"),
        ("page/index.html", "../unit/missing/"),
        ("page/index.html", "../unit/a/#row-2"),
        ("page/index.html", "#nope"),
        ("page/index.html", "/downloads/missing.xlsx"),
        ("page/index.html", "../img/logo@2x.png"),
        ("page/index.html", "../../../etc/passwd"),
        ("assets/site.css", "../img/gone.png"),
    }


def test_report_names_page_target_and_reason(site):
    report = format_report(check_site(site))
    assert "page/index.html → ../unit/a/#row-2（锚点 #row-2 在 unit/a/index.html 中不存在）" in report
    assert "page/index.html → /downloads/missing.xlsx（文件不存在）" in report


def test_report_groups_one_target_linked_from_many_pages():
    links = [BrokenLink(f"p{i}/index.html", "../gone/", "页面不存在") for i in range(5)]
    report = format_report(links)
    assert "5 个失效链接（1 个不同目标）" in report
    assert "p0/index.html、p1/index.html、p2/index.html 等 5 个页面 → ../gone/" in report


def test_built_sample_site_has_no_broken_links(sample_site):
    assert check_site(sample_site) == []


BROKEN_BUILD = """
import sys
import generator.render as render
from generator.__main__ import main

def broken_page(ctx):
    (ctx.docs_dir / "broken.md").write_text(
        '# 坏链接\\n\\n<p><a href="../no-such-page/">x</a> <a href="../about/#no-such-anchor">y</a></p>\\n',
        encoding="utf-8")

render.DOC_STAGES.append(("broken", broken_page))
sys.exit(main(sys.argv[1:]))
"""


def test_broken_link_stops_the_build_and_keeps_the_old_site(tmp_path):
    """The real CLI with one extra stage that writes a page with two broken links."""
    out = tmp_path / "site"
    out.mkdir()
    (out / "index.html").write_text("previous good site", encoding="utf-8")
    result = subprocess.run([sys.executable, "-c", BROKEN_BUILD, "build", "--data", str(DATA), "--out", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "broken/index.html → ../no-such-page/（" in result.stderr
    assert "broken/index.html → ../about/#no-such-anchor（锚点 #no-such-anchor" in result.stderr
    assert "保持原样" in result.stderr
    assert (out / "index.html").read_text(encoding="utf-8") == "previous good site"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # no staging folder left
