"""One Jinja environment for generated pages: everything from data is escaped."""
from __future__ import annotations

import html
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


class Links:
    """The links a page repeats on every row (sources, products, regions), for
    _macros.j2: as Jinja macros they took most of a product page's time (a macro
    call costs ~20 µs). `root` climbs from the page to the site root."""

    _TAGS = (("originator", Markup('<span class="vbp-tag">原研</span>')),
             ("backup_supplier", Markup('<span class="vbp-tag">备供</span>')),
             ("consistency_passed", Markup('<span class="vbp-tag vbp-tag-light">过评</span>')))

    def __init__(self, v, root: str):
        self.v, self.root = v, root

    def src(self, sources) -> Markup:
        return Markup(" ".join(map(self._src, sources)))

    def _src(self, s: dict) -> str:
        # an f-string of escaped parts: Markup.format is several times slower
        href = escape(s["url"] or self.root + "downloads/#source-" + str(s["source_id"]))
        return f'<a class="vbp-src" href="{href}" title="{escape(s["tip"])}">{escape(s["label"])}</a>'

    def flags(self, p) -> Markup:
        return Markup("").join(tag for key, tag in self._TAGS if p[key])

    def _link(self, folder: str, key, text) -> Markup:
        return Markup(f'<a href="{escape(self.root)}{folder}/{escape(key)}/">{escape(text)}</a>')

    def product(self, p) -> Markup:
        return self._link("product", p["winner_id"], p["label"])

    def unit(self, u) -> Markup:
        return self._link("unit", u["unit_id"], u["name"])

    def round(self, b) -> Markup:
        return self._link("round", b["batch_id"], b["name"])

    def company(self, c) -> Markup:
        return self._link("company", c["company_id"], c["short_name"])

    def region(self, code) -> Markup:
        name = self.v.region.get(code, code)
        return self._link("province", code, name) if code in self.v.province_codes else escape(name)

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
        period = f"{escape(s['effective_from'])} 起"
        if s["effective_to"]:
            period += f"，至 {escape(s['effective_to'])}"
        return Markup(f'<td class="vbp-n">{escape(money(s["amount"], s["amount_unit"]))}</td>'
                      f'<td>{escape(BASES[s["basis"]])}</td><td>{period}</td>'
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
