"""One Jinja environment for generated pages: everything from data is escaped."""
from __future__ import annotations

import html
import itertools
import json
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup, escape

from ..package import ROOT
from .views import BASES, rate

TEMPLATES = ROOT / "site_src" / "templates"


def money(value, unit: str = "元", digits: int | None = None) -> str:
    """A price with its unit; small unit prices keep more decimals."""
    if value is None or value != value:
        return "—"
    if digits is None:
        digits = 2 if abs(value) >= 1 else 4
    return f"{value:,.{digits}f} {unit}"


def percent(value) -> str:
    if value is None or value != value:
        return "—"
    return f"{value * 100:.1f}%"


def front_matter_title(text: str) -> Markup:
    """A YAML-safe page title. Material prints page.title unescaped into <title>
    and the nav, so the title is HTML-escaped here, then JSON-quoted for YAML.
    Markup: autoescape must not escape the quotes again (a YAML value starting
    with `&` would be read as an anchor and the front matter dropped)."""
    return Markup(json.dumps(html.escape(str(text), quote=True), ensure_ascii=False))


_TAGS = ('<span class="vbp-tag">原研</span>', '<span class="vbp-tag">备供</span>',
         '<span class="vbp-tag vbp-tag-light">过评</span>')
# (originator, backup_supplier, consistency_passed) -> the tags a product shows
_FLAGS = {key: Markup("".join(tag for tag, on in zip(_TAGS, key) if on))
          for key in itertools.product((False, True), repeat=3)}


def _period(s: dict) -> str:
    """A payment standard's period, escaped: "from 起" or "from 起，至 to"."""
    period = f"{escape(s['effective_from'])} 起"
    if s["effective_to"]:
        period += f"，至 {escape(s['effective_to'])}"
    return period


class Links:
    """The links a page repeats on every row (sources, products, regions), for
    _macros.j2: as Jinja macros they took most of a product page's time (a macro
    call costs ~20 µs). `root` climbs from the page to the site root."""

    def __init__(self, v, root: str):
        self.v, self.root = v, root
        self._root = str(escape(root))
        # Made once per page: a package has few sources and regions, and a
        # product recurs on the rows of /checks/ and patient tables.
        self._srcs: dict[tuple, Markup] = {}
        self._products: dict[str, Markup] = {}
        self._regions: dict[str, Markup] = {}

    def src(self, sources) -> Markup:
        key = tuple(s["source_id"] for s in sources)
        links = self._srcs.get(key)
        if links is None:
            links = self._srcs[key] = Markup(" ".join(map(self._src, sources)))
        return links

    def _src(self, s: dict) -> str:
        # an f-string of escaped parts: Markup.format is several times slower
        href = escape(s["url"] or self.root + "downloads/#source-" + str(s["source_id"]))
        return f'<a class="vbp-src" href="{href}" title="{escape(s["tip"])}">{escape(s["label"])}</a>'

    def flags(self, p) -> Markup:
        return _FLAGS[bool(p["originator"]), bool(p["backup_supplier"]), bool(p["consistency_passed"])]

    def _link(self, folder: str, key, text) -> Markup:
        return Markup(f'<a href="{self._root}{folder}/{escape(key)}/">{escape(text)}</a>')

    def product(self, p) -> Markup:
        link = self._products.get(p["winner_id"])
        if link is None:
            link = self._products[p["winner_id"]] = self._link("product", p["winner_id"], p["label"])
        return link

    def unit(self, u) -> Markup:
        return self._link("unit", u["unit_id"], u["name"])

    def round(self, b) -> Markup:
        return self._link("round", b["batch_id"], b["name"])

    def company(self, c) -> Markup:
        return self._link("company", c["company_id"], c["short_name"])

    def region(self, code) -> Markup:
        link = self._regions.get(code)
        if link is None:
            name = self.v.region.get(code, code)
            link = self._regions[code] = (self._link("province", code, name) if code in self.v.province_codes
                                          else escape(name))
        return link

    @staticmethod
    def price(value, unit, pack=None, pack_unit=None, date=None) -> Markup:
        """A table cell: price per smallest unit, then per pack and date if known."""
        cell = f'<td class="vbp-n">{escape(money(value, unit))}'
        if pack is not None:
            cell += f"<small>{escape(money(pack, pack_unit))}</small>"
        if date:
            cell += f"<small>{escape(date)}</small>"
        return Markup(cell + "</td>")

    @staticmethod
    def cut(value, reference, unit) -> Markup:
        """A table cell: a price cut, and the price it was cut from if known."""
        cell = f'<td class="vbp-n">{escape(percent(value))}'
        if reference is not None:
            cell += f"<small>自 {escape(money(reference, unit))}</small>"
        return Markup(cell + "</td>")

    def regions(self, codes) -> Markup:
        return Markup("、").join(self.region(c) for c in codes) if codes else Markup("—")

    def standard_cells(self, s) -> Markup:
        """A payment standard's amount, basis, period and source cells (a national
        package has a million standards, most of them on product pages)."""
        return Markup(f'<td class="vbp-n">{escape(money(s["amount"], s["amount_unit"]))}</td>'
                      f'<td>{escape(BASES[s["basis"]])}</td><td>{_period(s)}</td>'
                      f'<td>{self.src(self.v.src(s["source_id"]))}</td>')

    def substitute_row(self, s: dict, self_id: str) -> Markup:
        """A row of a product page's substitutes table. Every product page of a
        unit lists the same rows, so each is made once per worker (View.row_cache)
        while the worker writes that unit's pages, one after another; the rows
        of the unit before are let go."""
        rows = self.v.row_cache.get(s["unit_id"])
        if rows is None:
            self.v.row_cache.clear()
            rows = self.v.row_cache[s["unit_id"]] = {}
        key = (self.root, s["winner_id"], s["same_strength"], s["winner_id"] == self_id)
        row = rows.get(key)
        if row is None:
            row = rows[key] = self._substitute_row(s, key[-1])
        return row

    def standard_rows(self, standards: list[dict], product: bool = False) -> Markup:
        """The rows of a payment-standards table: region, the product (or 全品种)
        if asked, then standard_cells. A product page lists ~30 at national scale."""
        rows = []
        for s in standards:
            named = ""
            if product:
                named = f'<td>{self.product(self.v.products[s["winner_id"]]) if s["winner_id"] else "全品种"}</td>'
            rows.append(f'<tr><td>{self.region(s["region_code"])}</td>{named}{self.standard_cells(s)}</tr>\n')
        return Markup("".join(rows))

    def finding_standard_rows(self, standards: list[dict]) -> Markup:
        """The rows of a finding's standards table: /checks/ pages list ~50
        findings of ~9 standards and ~9 products each (~0.8 ms a row as Jinja)."""
        rows = []
        for s in standards:
            p = self.v.products[s["winner_id"]]
            rows.append(
                f'<tr><td>{escape(s["standard_id"])}</td><td>{self.region(s["region_code"])}</td>'
                f'<td>{self.product(p)}{"（中选）" if p["won"] else "（未中选）"}</td>'
                f'<td>{self.flags(p) or "—"}</td><td>{escape(money(s["amount"], s["amount_unit"]))}</td>'
                f'<td>{escape(BASES[s["basis"]])}</td><td>{_period(s)}</td>'
                f'<td>{self.src(self.v.src(s["source_id"]))}</td></tr>\n')
        return Markup("".join(rows))

    def finding_product_rows(self, products: list[dict]) -> Markup:
        """The rows of a finding's products table."""
        return Markup("".join(
            f'<tr><td>{self.product(p)}{self.flags(p)}</td><td>{self.round(self.v.rounds[p["batch_id"]])}</td>'
            f'<td>{"中选" if p["won"] else "未中选"}</td><td>{escape(money(p["price"], p["price_unit"]))}</td>'
            f'<td>{escape(self.v.names(p["regions"]) or "—")}</td><td>{escape(p["price_date"] or "—")}</td>'
            f'<td>{self.src(self.v.src(p["price_source"], p["source_id"]))}</td></tr>\n' for p in products))

    def patient_rows(self, rows: list[dict]) -> Markup:
        """The rows of a unit page's patient table (up to PAGE_ROWS a page)."""
        v, out = self.v, []
        for x in rows:
            p = v.products[x["winner_id"]]
            elsewhere = "<small>非本地中选供应</small>" if not x["supplies"] and p["won"] else ""
            if x["price"] is not None:
                price = (f'{escape(money(x["price"], x["price_unit"]))}'
                         f'<small>{escape(v.kind_label(x["price_kind"]))} {escape(x["price_date"])}</small>')
            else:
                price = "数据中无当地价格"
            if x["standard"] is not None:
                standard = (f'{escape(money(x["standard"], x["standard_unit"]))}'
                            f'<small>{escape(x["standard_from"])} 起</small>')
            else:
                standard = "数据中无现行标准"
            out.append(
                f'<tr><td>{escape(v.region.get(x["region_code"], x["region_code"]))}</td>'
                f'<td>{self.product(p)}{elsewhere}</td><td>{price}</td><td>{standard}</td>'
                f'<td>{escape(money(x["diff"], x["price_unit"]))}</td>'
                f'<td>{escape(money(x["diff_pack"], x["diff_pack_unit"]))}</td>'
                f'<td>{self.src(v.src(x["price_source"], x["standard_source"]))}</td></tr>\n')
        return Markup("".join(out))

    def _substitute_row(self, s: dict, is_self: bool) -> Markup:
        regions = " ".join(str(escape(c)) for c in s["regions"])
        tag = '<span class="vbp-tag vbp-tag-light">同规格</span>' if s["same_strength"] else ""
        marked = ' class="vbp-self"' if is_self else ""
        return Markup(
            f'<tr data-regions="{regions}"{marked}>'
            f'<td>{"本品" if is_self else self.product(s)}</td>'
            f'<td>{escape(s["company_short"])}{self.flags(s)}</td>'
            f'<td>{escape(s["model"] or s["strength"])}{tag}</td>'
            f'<td class="vbp-n">{escape(money(s["price"], s["price_unit"]))}</td>'
            f'<td class="vbp-n">{escape(rate(s["per_strength"], s["per_strength_unit"]))}</td>'
            f'<td>{escape(self.v.rounds[s["batch_id"]]["name"])}</td>'
            f'<td>{escape(self.v.names(s["regions"]) or "—")}</td>'
            f'<td>{self.src(self.v.src(s["price_source"]))}</td></tr>')


_DICT_ATTRS = frozenset(dir(dict))


class _Environment(jinja2.Environment):
    def getattr(self, obj, attribute):
        """`row.field` on a dict row looks the key up first: Jinja tries the attribute
        first, which raises and catches an AttributeError on every field of every
        row. A plain dict's attributes are dir(dict), so the result is the same."""
        if type(obj) is dict and attribute not in _DICT_ATTRS:
            try:
                return obj[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = _Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template, .md ones too: pages embed data as HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["money"] = money
    env.filters["percent"] = percent
    env.filters["page_title"] = front_matter_title
    env.globals["links"] = Links
    return env


def write_page(docs_dir: Path, rel_path: str, template: str, **context) -> Path:
    path = docs_dir / rel_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(environment().get_template(template).render(**context), encoding="utf-8")
    return path
