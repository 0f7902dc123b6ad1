"""The /changelog/ page is generated from the data's git history: what changed
between consecutive releases, and a graceful page when there is one release."""
from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from types import SimpleNamespace

import pytest

from conftest import DATA, ROOT, copy_data
from datachanges import edit_package
from generator.package import load
from generator.render import changelog

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", "-c", "commit.gpgsign=false"]


def article(page) -> str:
    text = page.read_text(encoding="utf-8")
    return text[text.index("<article"):text.index("</article>")]


def cells(row: str) -> list[str]:
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td>(.*?)</td>", row)]


@pytest.fixture(scope="module")
def two_releases(tmp_path_factory):
    repo = tmp_path_factory.mktemp("changelog") / "repo"
    shutil.copytree(DATA, repo / "data")
    shutil.copytree(ROOT / "schemas", repo / "schemas")  # the repository's layout: schemas beside data
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run([*GIT, "add", "data", "schemas"], cwd=repo, check=True)
    subprocess.run([*GIT, "commit", "-qm", "release 0.1.0"], cwd=repo, check=True)
    edit = edit_package(repo / "data", version="0.2.0")
    subprocess.run([*GIT, "commit", "-qam", "release 0.2.0"], cwd=repo, check=True)
    out = tmp_path_factory.mktemp("changelog-site") / "site"
    result = subprocess.run([sys.executable, "-m", "generator", "build", "--data", str(repo / "data"),
                             "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    return article(out / "changelog" / "index.html"), edit


def test_releases_newest_first_each_compared_with_the_one_before(two_releases):
    page, _ = two_releases
    headings = re.findall(r'<h2 id="([^"]+)">数据版本 ([0-9.]+)</h2>', page)
    assert headings == [("v0-2-0", "0.2.0"), ("v0-1-0", "0.1.0")]
    assert "与上一版本 0.1.0" in page
    assert re.findall(r'<a href="#(v[0-9-]+)">', page) == ["v0-2-0", "v0-1-0"]


def test_changelog_shows_the_moved_price_removed_winner_and_new_notice(two_releases):
    page, edit = two_releases
    section = page[page.index('id="v0-2-0"'):page.index('id="v0-1-0"')]
    old, new = edit.price_fields["unit_price"]
    row = next(r for r in re.findall(r"<tr>.*?</tr>", section) if "最小单位价格" in r)
    c = cells(row)
    assert Decimal(c[2].split()[0]) == Decimal(old)
    assert Decimal(c[3].split()[0]) == Decimal(new)
    assert c[4] == f"+{edit.pct('unit_price')}%"
    counts = {cells(r)[0]: cells(r)[1:] for r in re.findall(r"<tr>.*?</tr>", section)
              if re.search(r"（[a-z_]+\.csv）</td>", r)}
    assert counts["投标与中选结果（winners.csv）"] == ["0", "1", "0"]
    assert counts["执行通知（execution_notices.csv）"] == ["1", "0", "0"]
    assert counts["价格（prices.csv）"] == ["0", str(len(edit.removed["prices"])), "1"]
    assert edit.winner_id in section
    assert html.escape(edit.notice_title, quote=False) in section


def test_single_release_says_so(sample_site):
    page = article(sample_site / "changelog" / "index.html")
    assert "只有一个数据版本" in page
    assert "<h2" not in page
    home = (sample_site / "index.html").read_text(encoding="utf-8")
    assert 'href="changelog/"' in home  # in the navigation


def test_no_git_history_says_so(tmp_path):
    pkg = load(copy_data(tmp_path / "data"))  # a folder outside any repository
    docs = tmp_path / "docs"
    changelog.render(SimpleNamespace(pkg=pkg, docs_dir=docs))
    text = (docs / "changelog.md").read_text(encoding="utf-8")
    assert "尚无已发布的数据版本记录" in text
