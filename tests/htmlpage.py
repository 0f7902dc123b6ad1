"""Read a built page the way a reader sees it: the article's text, its tables
(cell text and links), and JSON data blocks. Standard library only."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path


@dataclass
class Cell:
    text: str = ""
    main: str = ""  # the text outside <small> notes (a price without its date, a strength without its pack)
    links: list[str] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)  # classes of <a> inside, e.g. vbp-src


@dataclass
class Row:
    cells: list[Cell]
    attrs: dict

    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.cells]

    @property
    def text(self) -> str:
        return " | ".join(self.texts)

    @property
    def links(self) -> list[str]:
        return [link for c in self.cells for link in c.links]


@dataclass
class Table:
    id: str | None
    head: list[str]
    rows: list[Row]


class _Parser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tables: list[Table] = []
        self.stack: list[Table] = []
        self.row: Row | None = None
        self.cell: Cell | None = None
        self.in_head = False
        self.text: list[str] = []
        self.skip = 0  # inside <script> or <style>
        self.small = 0  # inside <small>

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "style"):
            self.skip += 1
        elif tag == "table":
            self.stack.append(Table(a.get("id"), [], []))
        elif tag == "thead":
            self.in_head = True
        elif tag == "tr" and self.stack:
            self.row = Row([], a)
        elif tag in ("td", "th") and self.row is not None:
            self.cell = Cell()
        elif tag == "a" and self.cell is not None:
            self.cell.links.append(a.get("href") or "")
            self.cell.classes.append(a.get("class") or "")
        elif tag in ("small", "br") and self.cell is not None:
            self.cell.text += " "
            self.small += tag == "small"

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip -= 1
        elif tag == "table" and self.stack:
            self.tables.append(self.stack.pop())
        elif tag == "thead":
            self.in_head = False
        elif tag == "small":
            self.small -= 1
        elif tag in ("td", "th") and self.cell is not None and self.row is not None:
            self.cell.text = " ".join(self.cell.text.split())
            self.cell.main = " ".join(self.cell.main.split())
            self.row.cells.append(self.cell)
            self.cell = None
        elif tag == "tr" and self.row is not None and self.stack:
            if self.in_head:
                self.stack[-1].head = self.row.texts
            else:
                self.stack[-1].rows.append(self.row)
            self.row = None

    def handle_data(self, data):
        if self.skip:
            return
        self.text.append(data)
        if self.cell is not None:
            self.cell.text += data
            if not self.small:
                self.cell.main += data


@dataclass
class Page:
    path: Path
    html: str
    article: str
    text: str
    tables: list[Table]

    def table_after(self, heading: str) -> Table:
        """The first table after the first occurrence of `heading` (markup such as
        "<h2>价格记录") in the article."""
        start = self.article.index(heading)
        index = self.article[:start].count("<table")
        return self.tables[index]

    def tables_after_each(self, heading: str) -> list[Table]:
        """The table after every occurrence of `heading` (one per round on a unit page)."""
        starts = [m.start() for m in re.finditer(re.escape(heading), self.article)]
        return [self.tables[self.article[:start].count("<table")] for start in starts]

    def json(self, element_id: str):
        m = re.search(rf'<script type="application/json" id="{re.escape(element_id)}">(.*?)</script>',
                      self.html, re.S)
        assert m, f"no JSON block #{element_id} in {self.path}"
        return json.loads(m.group(1))


CHART = re.compile(r'<figure class="vbp-chart".*?</figure>', re.S)


def read_page(path: Path) -> Page:
    """The page's article without chart blocks (issue 6 tests those)."""
    html = path.read_text(encoding="utf-8")
    article = CHART.sub("", html[html.index("<article"):html.index("</article>")])
    parser = _Parser()
    parser.feed(article)
    # Tables are recorded when they close; ours are never nested, so that is document order.
    assert len(parser.tables) == article.count("<table"), f"nested or unbalanced tables in {path}"
    return Page(path, html, article, " ".join("".join(parser.text).split()), parser.tables)
