"""Internal links: every page, anchor, asset and download a page links to
exists; a broken one stops the build with page → target, and the old site stays."""
from __future__ import annotations

import html
import re
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


def test_caches_that_overflow_change_nothing(site, monkeypatch):
    from generator import linkcheck
    expected = check_site(site)
    monkeypatch.setattr(linkcheck, "CACHE_LIMIT", 2)
    assert check_site(site) == expected


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


def test_anchors_into_pages_read_by_other_workers(tmp_path, monkeypatch):
    """Pages are read in chunks on every CPU; an anchor into a page of another chunk
    is still checked against that page's ids, and the report keeps page order."""
    from generator import linkcheck
    monkeypatch.setattr(linkcheck, "CHUNK", 3)
    site = tmp_path / "site"
    n = 40
    for i in range(n):
        (site / f"p{i:02d}").mkdir(parents=True)
        body = f'<h2 id="here-{i}">{i}</h2><a name="named-{i}"></a>'
        j = (i * 7 + 5) % n  # another page, mostly in another chunk
        body += f'<a href="../p{j:02d}/#here-{j}">ok</a><a href="../p{j:02d}/#named-{j}">ok</a>'
        body += f'<a href="../p{j:02d}/#gone-{j}">missing</a><a href="#here-{i}">ok</a><a href="#gone">missing</a>'
        (site / f"p{i:02d}" / "index.html").write_text(body, encoding="utf-8")
    broken = check_site(site)
    expected = []
    for i in range(n):
        j = (i * 7 + 5) % n
        expected += [BrokenLink(f"p{i:02d}/index.html", f"../p{j:02d}/#gone-{j}",
                                f"锚点 #gone-{j} 在 p{j:02d}/index.html 中不存在"),
                     BrokenLink(f"p{i:02d}/index.html", "#gone", f"锚点 #gone 在 p{i:02d}/index.html 中不存在")]
    assert broken == expected


# The reader before it read bytes (str regexes over the whole page): the fast reader
# must find the same links, in the same order, and the same ids.
_REF_TAG = re.compile(
    r"<([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[^\s\"'>/=]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?)*)\s*/?>")
_REF_ATTR = re.compile(r"([^\s\"'>/=]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
_REF_RAW = re.compile(r"<(?:!--.*?-->|(script|style)\b([^>]*)>.*?</\1\s*>)", re.S | re.I)


def _reference_links_and_ids(text: str) -> tuple[list[str], set[str]]:
    links, ids = [], set()
    text = _REF_RAW.sub(lambda m: f"<{m.group(1)}{m.group(2)}>" if m.group(1) else "", text)
    for name, attrs in _REF_TAG.findall(text):
        name = name.lower()
        for key, v1, v2, v3 in _REF_ATTR.findall(attrs):
            key, value = key.lower(), v1 or v2 or v3
            if not value:
                continue
            value = html.unescape(value).strip()
            if key == "id" or (key == "name" and name == "a"):
                ids.add(value)
            elif key in {"href", "src", "srcset", "poster", "data"} and name not in {"form", "base"}:
                if key == "data" and name != "object":
                    continue
                if key == "srcset":
                    links += [c.split()[0] for c in value.split(",") if c.split()]
                else:
                    links.append(value)
    return links, ids


TRICKY = [
    PAGE,
    "<A HREF='Upper.html' ID=Top>x</A><a  href = \"spaced/\" ><a href=bare/ id=b>",
    "<p>1 < 2, a<b and <3</p><a href=\"after/\">",
    "<!-- unterminated <a href=\"in-open-comment/\">",
    "<!-- <a href=\"c1/\"> --><a href=\"c2/\"><!----><!-- x -- y --><a href=\"c3/\">",
    "<script src=\"a.js\">var s = '<a href=\"in-script/\">';</script ><a href=\"after-script/\">",
    "<SCRIPT>x = '<a href=\"upper-script/\">'</script><STYLE id=st>a{b:url(x)}</Style><a href=y>",
    "<script id=\"__config\" type=\"application/json\">{\"href\": \"<a href='json/'>\"}</script>",
    "<script>never closed <a href=\"after-open-script/\">",
    "<style>never closed <a href=\"after-open-style/\" id=s2>",
    "<script-x src=\"dash.js\"><a href=\"inside-dash/\"></script><scripts src=\"plural.js\">",
    "<a href=\"x\"title=\"no space\"><a href=\"ok/\" title=\"<!-- not a comment -->\">",
    "<img srcset=\" a.png 1x,b.png 2x , ,c.png\" src=\"d.png\"><video poster=\"p.jpg\" src=v.mp4></video>",
    "<object data=\"obj.svg\"></object><div data=\"not-a-link\" data-href=\"nor-this\"></div>",
    "<form action=\"f/\" src=\"form-src\"><base href=\"b/\"><div name=\"div-name\"><a name=\"a-name\">",
    "<a href=\"&#x2e;&#x2e;/ent/?a=1&amp;b=2#fr&eacute;\" id=\"&lt;id&gt;\"><a href=\"  padded  \">",
    "<a href=\"line\r\nbreak/\"><a href=\"\"><a href><a href=''><a id=\"\"><br/><hr />",
    "<my-el src=\"custom.png\"><svg><use href=\"#icon\"></use><image href=\"i.png\"/></svg>",
    "<a\nhref=\"newline-sep/\"\tid=tab><a href=x/><a/href=\"slash-sep/\">",
    "<td class=\"n\" data-v=\"3\">3</td><a class=\"vbp-src\" href=\"../../downloads/#s\" title=\"来源：示例\">",
]


@pytest.mark.parametrize("text", TRICKY)
def test_fast_reader_reads_as_the_reference_reader(text):
    from generator.linkcheck import _links_and_ids
    assert _links_and_ids(text.encode()) == _reference_links_and_ids(text.replace("\r\n", "\n"))
    assert _links_and_ids(text.encode()) == _links_and_ids(text.encode())  # again, from the tag cache
