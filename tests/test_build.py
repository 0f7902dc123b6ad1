"""The real build on the sample data: MkDocs runs, the site is offline and flagged."""
from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import DATA, ROOT
from mkdocs.commands.build import build as mkdocs_build
from mkdocs.exceptions import Abort
from mkdocs.utils.meta import get_data

from generator import build as build_module
from generator.build import BuildContext, mkdocs_config
from generator.mkdocs_pages import HOOKS, _front, build_deferred, generated_pages_deferred
from generator.errors import DataError, InvalidPackage
from generator.parallel import Background, RemoteTraceback, cpus, in_child
from generator.render.templating import front_matter_title


def test_home_page_exists_with_as_of_and_version(sample_site):
    meta = json.loads((DATA / "datapackage.json").read_text(encoding="utf-8"))
    html = (sample_site / "index.html").read_text(encoding="utf-8")
    assert meta["as_of"] in html and meta["version"] in html
    assert '<html lang="zh"' in html


def test_sample_banner_on_every_page(sample_site):
    pages = list(sample_site.rglob("*.html"))
    assert pages
    for page in pages:
        assert "示例数据，非真实价格" in page.read_text(encoding="utf-8"), page


def test_no_request_leaves_the_site(sample_site):
    """Nothing loads from another host: src/href of scripts, styles, fonts, images."""
    pattern = re.compile(r'<(?:script|link|img|iframe)[^>]+(?:src|href)="(https?:)?//', re.I)
    for page in sample_site.rglob("*.html"):
        assert not pattern.search(page.read_text(encoding="utf-8")), page
    for css in sample_site.rglob("*.css"):
        assert "fonts.googleapis" not in css.read_text(encoding="utf-8"), css


NAV_PAGES = ["index.md", "units.md", "rounds.md", "provinces.md", "companies.md", "checks.md",
             "changelog.md", "downloads/index.md", "dictionary/index.md", "cite/index.md"]
TITLES = ["阿托伐他汀钙片 & 10mg", "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>',
          "{{ config.site_name }} {% raw %}", "😀 עברית \u202eRTL\u200b", "sentinel \ue000", "a\\b",
          "tab\there", "line\u2028break", "$1 \\g<0> %s"]
BODIES = ["<h1>{title}</h1>\n<p>x &amp; y</p>\n", "\n\n<p>no heading: {{{{ page.title }}}}</p>\n---\n<p>after a rule</p>\n",
          "<table><tr><td>*not markdown*</td></tr></table>\n"]


FOLDERS = ["unit", "product", "unit/deep", "checks/r1", "checks/r2/sub"]


def generated_docs(docs: Path) -> int:
    """The real site's config and hand-written pages with generated pages around
    them, as render/templating.py writes them: every title and body shape above,
    in folders at several depths (checks/ is also in the navigation, and
    checks/r1/ is as deep as unit/deep/). Returns how
    many pages can be written from a frame."""
    shutil.copytree(ROOT / "site_src" / "docs", docs)
    for rel in NAV_PAGES:
        (docs / rel).parent.mkdir(parents=True, exist_ok=True)
        (docs / rel).write_text(f"# {rel}\n\n*hand-written*\n", encoding="utf-8")
    framable = 0
    for folder in FOLDERS:
        for i, title in enumerate(TITLES):
            for j, body in enumerate(BODIES):
                front = f"---\ntitle: {front_matter_title(title)}\nvbp_html: true\n---\n"
                page = docs / folder / f"p{i}-{j}.md"
                page.parent.mkdir(parents=True, exist_ok=True)
                page.write_text(front + body.format(title=title), encoding="utf-8")
                framable += "\\" not in front and "\u2028" not in front
    # what goes MkDocs' way: other front matter, a byte-order mark, a flagged page in the nav
    (docs / "unit" / "described.md").write_text(
        '---\ntitle: "d"\ndescription: "说明"\nvbp_html: true\n---\n<p>d</p>\n', encoding="utf-8")
    (docs / "unit" / "bom.md").write_text('\ufeff---\ntitle: "bom"\nvbp_html: true\n---\n<p>b</p>\n',
                                          encoding="utf-8")
    (docs / "units.md").write_text('---\ntitle: "品种"\nvbp_html: true\n---\n<p>units</p>\n', encoding="utf-8")
    return framable + 1  # bom.md: MkDocs reads the file without the mark


def build_both(tmp_path, monkeypatch):
    """The same docs built as run_mkdocs builds them, and by MkDocs alone page by
    page (no deferral, no frames, the navigation rendered for every page; the hook
    still hands MkDocs each generated page's body instead of Markdown)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    framable = generated_docs(tmp_path / "docs")
    pkg = SimpleNamespace(sample=True, as_of="2026-01-01", version="1")
    fast = BuildContext(pkg, {}, tmp_path / "docs", tmp_path / "fast")
    stock = BuildContext(pkg, {}, tmp_path / "docs", tmp_path / "stock")

    config = mkdocs_config(fast)
    with generated_pages_deferred(config) as deferred:
        mkdocs_build(config)
    framed = build_deferred(deferred)

    config = mkdocs_config(stock)
    config.plugins.events["env"] = [fn for fn in config.plugins.events["env"]
                                    if Path(fn.__code__.co_filename).resolve() != HOOKS]
    mkdocs_build(config)
    return fast.site_dir, stock.site_dir, framed, framable


def test_generated_pages_are_the_bytes_mkdocs_writes(tmp_path, monkeypatch):
    fast, stock, framed, framable = build_both(tmp_path, monkeypatch)
    files = sorted(p.relative_to(stock).as_posix() for p in stock.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(fast).as_posix() for p in fast.rglob("*") if p.is_file())
    different = [f for f in files if (fast / f).read_bytes() != (stock / f).read_bytes()]
    assert different == []
    # the rest came from a frame: per frame (folder, <h1> or not) each worker renders
    # its first two pages both ways
    assert framable - 2 * 2 * len(FOLDERS) * cpus() <= framed <= framable
    page = (fast / "checks" / "r1" / "p1-0" / "index.html").read_text(encoding="utf-8")
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt; - 集采公开</title>" in page
    assert '<a href="../../" class="md-nav__link">' in page  # checks/ from inside it
    page = (fast / "unit" / "deep" / "p1-0" / "index.html").read_text(encoding="utf-8")
    assert '<a href="../../../checks/" class="md-nav__link">' in page


def test_generated_front_matter_is_read_as_yaml_reads_it():
    """The short reading of a generated page's front matter gives what MkDocs'
    YAML gives, and declines what it cannot read verbatim."""
    read = 0
    for title in TITLES + [chr(c) for c in range(0x20, 0x3000, 7)] + ["\ufeff", "\U0001f600", ""]:
        text = f"---\ntitle: {front_matter_title(title)}\nvbp_html: true\n---\n\n<p>body</p>\n"
        short = _front(text.encode("utf-8"))
        if short is not None:
            read += 1
            body, meta = get_data(text)
            assert (short[0], short[1].lstrip(b"\n").decode()) == (meta["title"], body), title
            assert meta == {"title": short[0], "vbp_html": True}
    assert read > 1000


def test_a_warning_on_a_generated_page_aborts_the_build(tmp_path, monkeypatch):
    """Strict, as MkDocs is: here a plugin warns while one generated page is
    rendered, after MkDocs has finished with every other page."""
    generated_docs(tmp_path / "docs")
    (tmp_path / "warns.py").write_text(
        "import logging\n\n"
        "def on_page_context(context, page, config, nav):\n"
        "    if page.file.src_uri == 'product/p3-2.md':\n"
        "        logging.getLogger('mkdocs.plugins.warns').warning('this page is wrong')\n"
        "    return context\n", encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text(
        f"INHERIT: {ROOT / 'mkdocs.yml'}\ntheme:\n  custom_dir: {ROOT / 'site_src/overrides'}\n"
        f"hooks:\n  - {HOOKS}\n  - {tmp_path / 'warns.py'}\n", encoding="utf-8")
    monkeypatch.setattr(build_module, "MKDOCS_YML", tmp_path / "mkdocs.yml")
    pkg = SimpleNamespace(sample=True, as_of="2026-01-01", version="1")
    with pytest.raises(Abort, match="1 warnings"):
        build_module.run_mkdocs(BuildContext(pkg, {}, tmp_path / "docs", tmp_path / "site"))
    assert (tmp_path / "site" / "product" / "p3-1" / "index.html").is_file()  # every other page was written


def _allocate_and_report(n: int) -> tuple[int, int]:
    import resource
    block = bytearray(n)  # zero-filled, so resident: counts in the child's peak
    assert len(block) == n
    return os.getpid(), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def test_in_child_runs_in_a_process_of_its_own_and_brings_back_the_result():
    pid, child_peak = in_child(_allocate_and_report, 400 * 2**20)
    assert pid != os.getpid()
    assert child_peak >= 400 * 2**20  # the memory was the child's


def _invalid(errors):
    raise InvalidPackage(errors)


def test_in_child_raises_the_childs_exception_with_its_data_and_traceback():
    errors = [DataError("winners.csv", 3, "price", "不是数字")]
    with pytest.raises(InvalidPackage) as caught:
        in_child(_invalid, errors)
    assert caught.value.errors == errors
    assert isinstance(caught.value.__cause__, RemoteTraceback)
    assert "_invalid" in str(caught.value.__cause__)


def test_in_child_says_so_when_the_child_dies():
    with pytest.raises(RuntimeError, match="exit code 3"):
        in_child(os._exit, 3)


def _wait_for(path: str, seconds: float) -> int | None:
    deadline = time.monotonic() + seconds
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            return None
        time.sleep(0.01)
    return os.getpid()


def test_a_background_job_runs_while_its_caller_goes_on(tmp_path):
    """derive runs the rule checks so, beside the chart tables: the job waits
    for a file its caller writes only once Background has returned."""
    go = tmp_path / "go"
    job = Background(_wait_for, str(go), 60)
    go.write_text("")
    assert job.result() not in (None, os.getpid())
