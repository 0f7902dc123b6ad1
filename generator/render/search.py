"""Site search with Pagefind: one small record per thing people look up, built
from the data (not from page layout), indexed as the last step of the build.

The Chinese trap, measured with Pagefind 1.5.2 extended in Chromium: the index
segments text into words at build time (阿托伐他汀口服常释剂型 → its own words),
while the browser splits the query with Intl.Segmenter, which cuts names it
does not know into single characters (阿/托/伐/他/汀) and keeps dictionary words
(支架, 制药). Pagefind matches a query word only as the prefix of an index word,
so 阿托伐他汀, 冠脉支架 and 齐鲁制药 found nothing.

So Han text is never left to either segmenter. Every run of Han characters in a
name is indexed as Latin "words": one per pair of neighbouring characters, plus
one for the last character and an end mark (`han_words`). search.js rewrites
the query the same way (`query_terms` is its Python twin), and Pagefind
requires every query word, so a query matches when all its neighbouring pairs
occur in a name: a substring match. A single character matches by prefix.
Pinyin, full and initials (pypinyin), are indexed as plain words.

Measured too: Pagefind 1.5.2 also matches an index word that is a *prefix of*
the query word ("pharmaxyz" finds "pharma", "atfty" finds the "a" of "S.A.").
So every Han word has the same length (no Han word is a prefix of another),
Latin words shorter than two characters are not indexed, and initials are
indexed only for names of three or more characters (两字 initials such as
"zh" would catch every query starting with zh).
"""
from __future__ import annotations

import html
import logging
import os
import pickle
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd
from pypinyin import lazy_pinyin

from ..parallel import fork_map, in_child
from ..package import ROOT
from .pagefind_stable import compact_pages
from .templating import money

RECORDS_FILE = "search-records.pickle"  # in the staging folder, from collect to render

log = logging.getLogger(__name__)

# Han characters: CJK Unified Ideographs, Extension A, compatibility ideographs,
# Extensions B–G. search.js uses the same ranges.
HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")
WORD_PREFIX = "vv"  # no pinyin syllable starts with v, so no pinyin query hits a Han word
END_MARK = "zzzzz"  # stands for "end of name" after a last character (codes use only a–p)
LATIN = re.compile(r"[0-9A-Za-z\u00c0-\u024f]{2,}")  # Latin names, models, strengths

KINDS = {"unit": "品种", "product": "产品", "company": "企业", "province": "地区",
         "round": "批次", "notice": "执行通知", "page": "页面"}
CATEGORIES = {"drug": "药品", "consumable": "医用耗材"}
LEVELS = {"national": "国家组织", "alliance": "省际联盟", "provincial": "省级", "city": "市级"}
ENTITY_PREFIXES = ("unit/", "product/", "round/", "province/", "company/")
# Names people type weigh more than the text around them; a product's title holds
# its unit's generic name and its company's short name, so those pages must
# outrank it for their own names. A
# product that did not win weighs a little less than one that did.
NAME_WEIGHT = {"unit": 10.0, "company": 10.0, "province": 10.0, "round": 6.0,
               "notice": 2.0, "page": 4.0, "product": 1.0}
PAGE_TEXT_LIMIT = 3000  # characters of a hand-written page's text that are indexed
DETAIL_LIMIT = 60  # characters of a page's text shown under its title in the results
UNUSED_BUNDLE_FILES = ("pagefind-ui.js", "pagefind-ui.css", "pagefind-modular-ui.js",
                       "pagefind-modular-ui.css", "pagefind-component-ui.js",
                       "pagefind-component-ui.css", "pagefind-highlight.js")


# ---------------------------------------------------------------- words

def _char_code(ch: str) -> str:
    """A character as five letters a–p (its code point in hex, digits shifted)."""
    return "".join(chr(97 + int(d, 16)) for d in f"{ord(ch):05x}")


def han_words(text: str) -> list[str]:
    """Index words of the Han runs in text: each neighbouring pair, then the last
    character with the end mark; all of one length."""
    words = []
    for run in HAN.findall(text):
        codes = [_char_code(c) for c in run] + [END_MARK]
        words += [WORD_PREFIX + a + b for a, b in zip(codes, codes[1:])]
    return words


def query_terms(query: str) -> str:
    """What search.js sends to Pagefind for a query (tests compare the two):
    Han runs become their pair words (a lone character its own code), the rest stays."""
    parts, pos = [], 0
    for m in HAN.finditer(query):
        parts.append(query[pos:m.start()])
        codes = [_char_code(c) for c in m.group()]
        pairs = [WORD_PREFIX + a + b for a, b in zip(codes, codes[1:])]
        parts.append(" ".join(pairs) if pairs else WORD_PREFIX + codes[0])
        pos = m.end()
    parts.append(query[pos:])
    return " ".join(p.strip() for p in parts if p.strip())


def pinyin_words(text: str) -> tuple[str, ...]:
    """Full pinyin of each Han run of two or more characters, and initials of runs of
    three or more (阿托伐他汀 → atuofatating, atftt); ü is written v, as on Chinese keyboards."""
    return tuple(word for run in HAN.findall(text) for word in _run_pinyin(run))


@lru_cache(maxsize=None)
def _run_pinyin(run: str) -> tuple[str, ...]:
    if len(run) < 2:
        return ()
    syllables = [s for s in lazy_pinyin(run, errors="ignore") if s]
    full = "".join(syllables)
    return (full, "".join(s[0] for s in syllables)) if len(run) > 2 else (full,)


def search_words(texts: Iterable[str]) -> list[str]:
    """All index words of some names, each once: Latin words and numbers (names,
    strengths, models), pinyin, and the Han pair words."""
    words: list[str] = []
    for text in texts:
        if text:
            words += _text_words(text)
    return list(dict.fromkeys(words))


@lru_cache(maxsize=None)
def _text_words(text: str) -> tuple[str, ...]:
    return (*LATIN.findall(HAN.sub(" ", text)), *pinyin_words(text), *han_words(text))


# ---------------------------------------------------------------- records

@dataclass
class Record:
    """One search result: where it leads, what it is called, what finds it, what it shows."""
    url: str
    kind: str
    title: str
    names: list[str]                               # what people type, weighted
    text: list[str] = field(default_factory=list)  # other searchable text
    meta: dict[str, str] = field(default_factory=dict)
    filters: dict[str, list[str]] = field(default_factory=dict)
    weight: float | None = None                    # of the names; default by kind
    path: str | None = None                        # index path when the URL cannot be one

    def words(self) -> tuple[list[str], list[str]]:
        """(weighted name words, other words), each word once."""
        named = search_words([self.title, *self.names])
        seen = set(named)
        return named, [w for w in search_words(self.text) if w not in seen]

    def file_path(self) -> str:
        """Where the record's HTML goes for indexing. Pagefind makes a result's URL
        from this path; a record with a path of its own (several records on one
        page) carries its URL as the url meta, Pagefind's documented override."""
        return f"{(self.path or self.url).strip('/')}/index.html".lstrip("/")

    def html(self) -> str:
        """A tiny HTML document for Pagefind: meta and filters as attributes, words as text."""
        named, other = self.words()
        head = [_meta_tag("data-pagefind-meta", "title", self.title),
                _meta_tag("data-pagefind-meta", "kind", KINDS[self.kind])]
        if self.path:
            head.append(_meta_tag("data-pagefind-meta", "url", self.url))
        head += [_meta_tag("data-pagefind-meta", k, v) for k, v in self.meta.items() if v]
        head += [_meta_tag("data-pagefind-filter", name, value)
                 for name, values in self.filters.items() for value in dict.fromkeys(values) if value]
        weight = self.weight or NAME_WEIGHT[self.kind]
        body = f'<p data-pagefind-weight="{weight}">{html.escape(" ".join(named))}</p>'
        if other:
            body += f"<p>{html.escape(' '.join(other))}</p>"
        return (f'<!DOCTYPE html><html lang="zh"><head>{"".join(head)}</head>'
                f"<body>{body}</body></html>")


def _meta_tag(attr: str, key: str, value: str) -> str:
    return f'<meta {attr}="{html.escape(key)}[content]" content="{html.escape(str(value))}">'


def _present(value) -> bool:
    if value is None or value is pd.NA:
        return False
    return not (isinstance(value, float) and value != value)


def _text(value) -> str:
    return str(value) if _present(value) and str(value) else ""


def _split(value, sep: str = "|") -> list[str]:
    return [v for v in _text(value).split(sep) if v]


def _date_span(dates: Iterable[str]) -> str:
    dates = sorted({d for d in dates if d})
    if not dates:
        return ""
    return dates[0] if len(dates) == 1 else f"{dates[0]} 至 {dates[-1]}"


def _listing(names: list[str], limit: int = 2) -> str:
    if len(names) <= limit:
        return "、".join(names)
    return "、".join(names[:limit]) + f" 等 {len(names)} 个"


def records(pkg, derived: dict[str, pd.DataFrame]) -> list[Record]:
    """Every record, from the package tables and the derived products (their prices,
    as the product pages show them) and provinces (the regions that get a page)."""
    t = pkg.tables
    products = derived["products"].to_dict("records")
    batches = t["batches"].set_index("batch_id")
    regions = t["regions"].set_index("region_code")
    short = regions["short_name"].to_dict()
    # A region's province, by short name: a city counts under its province; the nation under none.
    provinces = {code: "" if r["level"] == "national"
                 else short.get(r["parent_code"], r["short_name"]) if _present(r["parent_code"])
                 else r["short_name"]
                 for code, r in regions.to_dict("index").items()}
    province_of = provinces.get
    round_name = batches["name"].to_dict().__getitem__
    by = {key: _groups(products, key) for key in ("unit_id", "company_id", "batch_id")}

    renewals = _renewals(t["prices"], regions)
    out: list[Record] = []
    out += _unit_records(t["units"], by["unit_id"], round_name)
    out += _product_records(products, t["units"].set_index("unit_id"), renewals, round_name, province_of)
    out += _company_records(t["companies"], by["company_id"], round_name)
    out += _province_records(derived["provinces"], t["execution_notices"], products, province_of)
    out += _round_records(t["batches"], by["batch_id"], t["prices"])
    out += _notice_records(t["execution_notices"], regions, round_name, province_of,
                           batches["category"])
    return out


def _groups(products: list[dict], key: str) -> dict[str, list[dict]]:
    """Products by a key, in their order."""
    out: dict[str, list[dict]] = {}
    for p in products:
        out.setdefault(p[key], []).append(p)
    return out


def _unit_records(units, by_unit, round_name) -> list[Record]:
    out = []
    for u in units.to_dict("records"):
        mine = by_unit.get(u["unit_id"], [])
        won = [p for p in mine if p["won"]]
        rounds = list(dict.fromkeys(p["batch_id"] for p in mine))
        category = CATEGORIES[u["category"]]
        out.append(Record(
            url=f"/unit/{u['unit_id']}/", kind="unit", title=u["name"],
            names=[u["generic_name"]], text=[_text(u["form_group"]), category],
            meta={"detail": " · ".join(v for v in (category, u["generic_name"], _text(u["form_group"])) if v),
                  "round": _listing([round_name(b) for b in rounds]),
                  "price": _price_range(won)},
            filters={"类型": [KINDS["unit"]], "类别": [category],
                     "批次": [round_name(b) for b in rounds],
                     "中选": ["中选" if won else "未中选"]},
        ))
    return out


def _price_range(won: list[dict]) -> str:
    """Winning prices of a unit's products, per smallest unit: 中选价 0.0900–0.5600 元/片（…）."""
    won = [p for p in won if _present(p["price"])]
    if not won:
        return "无中选产品"
    parts = []
    for unit in sorted({p["price_unit"] for p in won}):
        prices = [p["price"] for p in won if p["price_unit"] == unit]
        low, high = min(prices), max(prices)
        parts.append(money(low, unit) if low == high else f"{money(low, '').strip()}–{money(high, unit)}")
    return (f"中选价 {'；'.join(parts)}（{len(won)} 个中选产品，"
            f"{_date_span(_text(p['price_date']) for p in won)}）")


def _renewals(prices, regions) -> dict[str, tuple[str, list[str]]]:
    """winner_id → (its latest renewal (接续) prices with date and regions, renewal rounds)."""
    short = regions["short_name"].to_dict()
    by_winner = _groups(prices[prices["kind"] == "renewal"].to_dict("records"), "winner_id")
    out = {}
    for wid, rows in by_winner.items():
        date = max(r["effective_date"] for r in rows)
        shown = []
        for price, unit in sorted({(r["unit_price"], r["unit_price_unit"]) for r in rows
                                   if r["effective_date"] == date}):
            places = [short[r["region_code"]] for r in rows if r["effective_date"] == date
                      and (r["unit_price"], r["unit_price_unit"]) == (price, unit) and r["region_code"] in short]
            shown.append(f"接续价 {money(price, unit)}（{date}，{_listing(places, 3)}）")
        out[wid] = ("；".join(shown), list(dict.fromkeys(r["batch_id"] for r in rows)))
    return out


def _product_title(p) -> str:
    name = p["generic_name"]
    model = _text(p["model"])
    spec = f"{model} {p['strength']}" if model else p["strength"]
    return f"{name} {spec} · {p['company_short']}"


def _product_records(products, units, renewals, round_name, province_of) -> list[Record]:
    out = []
    units = units.to_dict("index")
    for p in products:
        p = dict(p)
        unit = units[p["unit_id"]]
        p["generic_name"] = unit["generic_name"]
        won = bool(p["won"])
        category = CATEGORIES[unit["category"]]
        if _present(p["price"]):
            label = "中选价" if won else "未中选 · 报价"
            price = f"{label} {money(p['price'], p['price_unit'])}（{_text(p['price_date'])}）"
        else:
            price = "中选" if won else "未中选"
        renewal, renewal_rounds = renewals.get(p["winner_id"], ("", []))
        if renewal:
            price += "；" + renewal
        pack = ""
        if _present(p["pack_size"]) and _present(p["pack_unit"]):
            pack = f"，{p['pack_size']}{p['smallest_unit']}/{p['pack_unit']}"
        rounds = [p["batch_id"], *renewal_rounds]
        # Found by its title alone (generic name, model, strength, company short name):
        # the unit's full name, the company's full name and the category are its
        # parents' words, and in 30,000 products they made the index's longest lists.
        out.append(Record(
            url=f"/product/{p['winner_id']}/", kind="product", title=_product_title(p), names=[],
            meta={"detail": f"{p['company_name']} · {p['strength']}{pack}",
                  "round": round_name(p["batch_id"]), "price": price},
            filters={"类型": [KINDS["product"]], "类别": [category],
                     "批次": [round_name(b) for b in rounds],
                     "省份": [province_of(c) for c in p["regions"]],
                     "中选": ["中选" if won else "未中选"]},
            weight=NAME_WEIGHT["product"] if won else NAME_WEIGHT["product"] * 0.8,
        ))
    return out


def _company_records(companies, by_company, round_name) -> list[Record]:
    out = []
    for c in companies.to_dict("records"):
        mine = by_company.get(c["company_id"], [])
        n_won = sum(1 for p in mine if p["won"])
        rounds = list(dict.fromkeys(p["batch_id"] for p in mine))
        aliases = _split(c["aliases"])
        detail = f"简称 {c['short_name']}"
        if len(mine):
            detail += f" · 中选 {n_won} 个 / 投标 {len(mine)} 个产品"
        out.append(Record(
            url=f"/company/{c['company_id']}/", kind="company", title=c["name"],
            names=[c["short_name"], *aliases],
            meta={"detail": detail, "round": _listing([round_name(b) for b in rounds])},
            filters={"类型": [KINDS["company"]],
                     "类别": [CATEGORIES[v] for v in dict.fromkeys(p["category"] for p in mine)],
                     "批次": [round_name(b) for b in rounds],
                     "中选": ["中选" if n_won else "未中选"]},
        ))
    return out


def _province_records(regions, notices, products, province_of) -> list[Record]:
    out = []
    supplied = Counter(code for p in products if p["won"] for code in p["regions"])
    notices_in = notices["region_code"].value_counts()
    for r in regions.to_dict("records"):
        code = r["region_code"]
        if r["level"] == "national":
            continue
        n_notices = int(notices_in.get(code, 0))
        n_supplied = supplied[code]
        out.append(Record(
            url=f"/province/{code}/", kind="province", title=r["name"],
            names=[r["short_name"], *_split(r["aliases"])],
            meta={"detail": f"执行通知 {n_notices} 份 · 供应的中选产品 {n_supplied} 个"},
            filters={"类型": [KINDS["province"]], "省份": [province_of(code)]},
        ))
    return out


def _round_records(batches, by_batch, prices) -> list[Record]:
    out = []
    renewed = prices[prices["kind"] == "renewal"].groupby("batch_id")["winner_id"].nunique()
    for b in batches.to_dict("records"):
        mine = by_batch.get(b["batch_id"], [])
        count = f"中选 {sum(1 for p in mine if p['won'])} 个 / 投标 {len(mine)} 个产品"
        if not mine and b["batch_id"] in renewed.index:  # a renewal round prices earlier winners
            count = f"接续 {int(renewed[b['batch_id']])} 个产品"
        category = CATEGORIES[b["category"]]
        years = b["agreement_years"]
        period = f"协议期 {b['agreement_start']} 起"
        if _present(years):
            period += f" {float(years):g} 年"
        out.append(Record(
            url=f"/round/{b['batch_id']}/", kind="round", title=b["name"],
            names=[], text=[b["organiser"], category, LEVELS.get(b["level"], "")],
            meta={"detail": f"{LEVELS.get(b['level'], b['level'])} · {category} · {b['organiser']}",
                  "count": count, "date": f"{b['announced_date']} 公布结果 · {period}"},
            filters={"类型": [KINDS["round"]], "类别": [category], "批次": [b["name"]]},
        ))
    return out


def _notice_records(notices, regions, round_name, province_of, category_of) -> list[Record]:
    out = []
    for n in notices.to_dict("records"):
        region = regions.loc[n["region_code"]]
        category = CATEGORIES[category_of[n["batch_id"]]]
        out.append(Record(
            url=f"/province/{n['region_code']}/#{n['notice_id']}", path=f"/notice/{n['notice_id']}/",
            kind="notice", title=n["title"],
            names=[_text(n["doc_number"]), n["issuer"]],
            text=[region["short_name"], region["name"], KINDS["notice"]],
            meta={"detail": f"{n['issuer']} {_text(n['doc_number'])}".strip(),
                  "round": round_name(n["batch_id"]),
                  "date": f"{n['published_date']} 发布 · {n['execution_start']} 起执行"},
            filters={"类型": [KINDS["notice"]], "类别": [category],
                     "批次": [round_name(n["batch_id"])], "省份": [province_of(n["region_code"])]},
        ))
    return out


# ---------------------------------------------------------------- other pages

ARTICLE_START = re.compile(r'<article class="md-content__inner[^"]*">')
HEADING = re.compile(r"<(h[1-3])\b[^>]*>(.*?)</\1>", re.S)
NOT_TEXT = re.compile(r'<(script|style|svg|nav|form)\b.*?</\1>|<a class="headerlink".*?</a>', re.S)
TAG = re.compile(r"<[^>]+>")
ELEMENT_ID = re.compile(r'(?<![\w-])id="([^"]*)"')  # not data-id


def _plain(fragment: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(TAG.sub(" ", fragment))).strip()


def article_text(page_html: str, limit: int | None = None) -> tuple[str, list[str], str]:
    """(h1, h2/h3 headings, text) of a built Material page's article; with a
    limit, the text is cut after at least limit characters, and only as much
    of the article is converted as that takes (a /checks/ page is ~0.5 MB of
    HTML, and converting all of it cost ~10 ms a page)."""
    start = ARTICLE_START.search(page_html)
    end = page_html.find("</article>", start.end()) if start else -1
    if end < 0:
        return "", [], ""
    article = NOT_TEXT.sub(" ", page_html[start.end():end])
    h1, headings = "", []
    for tag, inner in HEADING.findall(article):
        if tag == "h1" and not h1:
            h1 = _plain(inner)
        elif tag != "h1":
            headings.append(_plain(inner))
    return h1, [h for h in headings if h], _text_prefix(HEADING.sub(" ", article), limit)


def _text_prefix(fragment: str, limit: int | None) -> str:
    """_plain(fragment), or a prefix of it at least limit characters long: the
    fragment is cut only after a ">", so no tag or entity is split."""
    size = 8 * limit if limit else len(fragment)
    while True:
        cut = fragment if size >= len(fragment) else fragment[:fragment.rfind(">", 0, size) + 1]
        text = _plain(cut)
        if cut is fragment or len(text) > limit:
            return text
        size *= 4


def handwritten_urls(docs_src: Path = ROOT / "site_src" / "docs") -> set[str]:
    """Site URLs of the hand-written Markdown pages (their text is worth indexing)."""
    urls = set()
    for md in docs_src.rglob("*.md"):
        rel = md.relative_to(docs_src).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "index":
            parts = parts[:-1]
        urls.add("/" + "".join(f"{p}/" for p in parts))
    return urls


def _non_entity_pages(site_dir: Path) -> list[Path]:
    """Every index.html outside the entity, Pagefind and asset folders, which are
    not walked at all (they hold nearly all of a national site's 35,000 pages)."""
    skip = {prefix.rstrip("/") for prefix in ENTITY_PREFIXES} | {"pagefind", "assets"}
    pages = []
    for folder, dirs, files in os.walk(site_dir):
        if folder == str(site_dir):
            dirs[:] = [d for d in dirs if d not in skip]
        if "index.html" in files:
            pages.append(Path(folder) / "index.html")
    return pages


def page_records(site_dir: Path, full_text: set[str]) -> list[Record]:
    """Records for the pages that are not data entities: the home, sections, hand-written docs.
    Generated pages are found by title and headings only, so lists of names do not
    compete with the entities' own records; pages in full_text by their text too.
    Read on every CPU: a national site's 1,028 /checks/ pages are ~0.5 GB."""
    def record(page: Path) -> tuple[Path, Record | None]:
        rel = page.parent.relative_to(site_dir).as_posix()
        url = "/" if rel == "." else f"/{rel}/"
        limit = PAGE_TEXT_LIMIT if url in full_text else DETAIL_LIMIT
        h1, headings, body = article_text(page.read_text(encoding="utf-8"), limit)
        if not h1:
            return page, None
        text = headings + ([body[:PAGE_TEXT_LIMIT]] if url in full_text else [])
        return page, Record(
            url=url, kind="page", title=h1, names=[], text=text,
            meta={"detail": body[:DETAIL_LIMIT] + ("…" if len(body) > DETAIL_LIMIT else "")},
            filters={"类型": [KINDS["page"]]},
        )
    found = fork_map(record, _non_entity_pages(site_dir), chunk=64)
    return [rec for _, rec in sorted(found, key=lambda pair: pair[0]) if rec is not None]


# ---------------------------------------------------------------- the site stage

def _page_file(site_dir: Path, url: str) -> Path:
    return site_dir / url.split("#", 1)[0].strip("/") / "index.html"


def resolve(site_dir: Path, recs: list[Record]) -> list[Record]:
    """The records whose page exists, each #anchor dropped when its page has no such id.
    A page's ids are read once: a province page holds the anchors of all its notices."""
    ids: dict[Path, set[str]] = {}
    kept = []
    for rec in recs:
        page = _page_file(site_dir, rec.url)
        if not page.is_file():
            continue
        base, _, anchor = rec.url.partition("#")
        if anchor:
            if page not in ids:
                ids[page] = set(ELEMENT_ID.findall(page.read_text(encoding="utf-8")))
            if anchor not in ids[page]:
                rec.url = base
        kept.append(rec)
    return kept


def collect(ctx) -> None:
    """Doc stage: the records of the data, made while the tables are loaded
    (the build lets them go before MkDocs) and indexed by render. They wait in
    a file of the staging folder: the build process holds nothing made in the
    tables' time through MkDocs and Pagefind."""
    with open(ctx.staged(RECORDS_FILE), "wb") as fh:
        pickle.dump(records(ctx.pkg, ctx.derived), fh, protocol=pickle.HIGHEST_PROTOCOL)


def render(ctx) -> None:
    """Write the Pagefind bundle into site/pagefind/: every record whose page exists.

    The records are written as small HTML files and indexed as one folder by the
    Pagefind CLI: its Python API answers one call per 0.1 s (it polls), so adding
    10,000 records one by one would take 17 minutes; a folder takes seconds."""
    folder = ctx.staged("search-index")
    folder.mkdir()
    # in a child: the build process holds none of the records while Pagefind runs
    in_child(write_records, ctx, folder)
    write_index(folder, ctx.site_dir / "pagefind")
    ctx.discard(folder)


WRITE_CHUNK = 1024  # record files per task


def write_records(ctx, folder: Path) -> None:
    """Every record whose page exists, as a small HTML file under folder."""
    with open(ctx.staged(RECORDS_FILE), "rb") as fh:
        recs = pickle.load(fh) + page_records(ctx.site_dir, handwritten_urls())
    kept = resolve(ctx.site_dir, recs)
    if len(kept) < len(recs):
        missing = sorted({r.url.split("#")[0] for r in recs} - {r.url.split("#")[0] for r in kept})
        log.warning("search: %d records left out, their pages do not exist (e.g. %s)",
                    len(recs) - len(kept), ", ".join(missing[:3]))

    def write(rec: Record) -> None:
        path = folder / rec.file_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rec.html(), encoding="utf-8")
    fork_map(write, kept, chunk=WRITE_CHUNK)  # ~0.2 ms a file: 8 s for a national site's on one CPU


def write_index(records_dir: Path, out_dir: Path) -> None:
    """Run the Pagefind CLI of the pagefind[extended] wheel over the record files."""
    cmd = [sys.executable, "-m", "pagefind", "--site", str(records_dir), "--output-path", str(out_dir),
           "--force-language", "zh", "--quiet"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 or not (out_dir / "pagefind-entry.json").is_file():
        raise RuntimeError(f"Pagefind failed ({done.returncode}): {done.stdout[-2000:]}{done.stderr[-2000:]}")
    compact_pages(out_dir)
    for name in UNUSED_BUNDLE_FILES:  # search.js uses pagefind.js; Pagefind's own UIs are not shipped
        (out_dir / name).unlink(missing_ok=True)
