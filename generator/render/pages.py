"""Generated Markdown pages (HTML inside, escaped by Jinja)."""
from __future__ import annotations

from .templating import write_page


def render(ctx) -> None:
    pkg = ctx.pkg
    notices = pkg.tables["execution_notices"].sort_values(
        ["published_date", "notice_id"], ascending=[False, True]).head(10)
    regions = pkg.tables["regions"].set_index("region_code")["short_name"]
    write_page(ctx.docs_dir, "index.md", "home.md.j2",
               meta=pkg.meta, headline=ctx.derived["headline"].to_dict("records"),
               notices=notices.to_dict("records"), regions=regions.to_dict())
