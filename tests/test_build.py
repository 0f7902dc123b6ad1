"""The real build on the sample data: MkDocs runs, the site is offline and flagged."""
from __future__ import annotations

import json
import re

from conftest import DATA


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
