"""MkDocs hooks (mkdocs.yml `hooks:`): generated pages skip Markdown.

Pages whose front matter says `vbp_html: true` are written by our templates as
finished, escaped HTML (generator/render/templating.py). Python-Markdown would
only re-parse that HTML (its raw-HTML and md_in_html passes cost ~95% of the
MkDocs stage, measured on a synthetic package) and pass it through unchanged,
so for those pages the Markdown step gets nothing and the theme gets the body
as written. The body is read when the page's template is rendered and dropped
right after, so the build holds one generated page in memory at a time, not all
of them (MkDocs otherwise keeps every page's source and HTML to the end).

Material renders the whole navigation into every page. A generated page is not
in the navigation (mkdocs.yml `not_in_nav`), so its navigation differs from
another generated page's only by where the page is (links are relative): it is
rendered once per folder of pages and reused (on_env). Per folder, not per
depth: a link to `checks/` reads `../../` from `checks/r/2/` but
`../../../checks/` from another page three deep.

Most generated pages never reach these hooks' page events:
generator/mkdocs_pages.py reads them and writes them from a frame of the
theme, the bytes MkDocs and these hooks would write (checked as it goes and by
tests/test_build.py).

What these pages give up is nothing they used: they have no Markdown headings
(so no table of contents) and MkDocs never checked links inside raw HTML; the
`links` stage (generator/linkcheck.py) checks every link of the built site.

Loaded by MkDocs from its path, not imported as part of the package."""
from __future__ import annotations

import jinja2
from mkdocs.utils import meta

FLAG = "vbp_html"
NAV = "partials/nav.html"


def _raw(page) -> bool:
    return bool(page.meta.get(FLAG))


def on_page_markdown(markdown, page, config, files):
    return "" if _raw(page) else markdown


def on_page_context(context, page, config, nav):
    if _raw(page):
        page.content, _ = meta.get_data(page.file.content_string)
    return context


def on_post_page(output, page, config):
    if _raw(page):
        page.content = None
    return output


def on_env(env, config, files):
    try:
        template = env.get_template(NAV)
    except jinja2.TemplateNotFound:  # a theme without Material's partials
        return env
    render, by_folder = template.root_render_func, {}

    def once_per_depth(context):
        page = context.get("page")
        if page is None or not _raw(page) or not page.file.inclusion.is_not_in_nav():
            yield from render(context)
            return
        folder = page.url.rstrip("/").rpartition("/")[0]
        if folder not in by_folder:
            by_folder[folder] = "".join(render(context))
        yield by_folder[folder]

    template.root_render_func = once_per_depth
    return env
