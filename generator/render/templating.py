"""One Jinja environment for generated pages: everything from data is escaped."""
from __future__ import annotations

import html
import json
from functools import lru_cache
from pathlib import Path

import jinja2
from markupsafe import Markup

from ..package import ROOT

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


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
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
    return env


def write_page(docs_dir: Path, rel_path: str, template: str, **context) -> Path:
    path = docs_dir / rel_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(environment().get_template(template).render(**context), encoding="utf-8")
    return path
