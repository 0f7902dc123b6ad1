"""Static chart SVGs drawn by Vega in headless Chromium (Debian `chromium`).

The page holds nothing but the Vega bundle the site ships (charts.write_bundle);
each call converts a batch of Vega-Lite specs with vega-embed and View.toSVG()
(renderer "none": no DOM drawing). Text is measured by the browser's canvas
with the installed Noto Sans CJK SC in microseconds, where vl_convert took
~1 ms per label. No request leaves the page: every request is aborted, and
the specs carry their data inline.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-quic", "--disable-extensions"]
# One batch per call: specs as one JSON string (Playwright serialises a string
# far faster than nested objects), an SVG or an error message per spec.
RENDER_JS = """async (text) => {
  const out = [];
  for (const spec of JSON.parse(text)) {
    try {
      const result = await vegaEmbed(document.createElement("div"), spec,
                                     {renderer: "none", actions: false, mode: "vega-lite"});
      out.push({svg: await result.view.toSVG()});
      result.finalize();
    } catch (e) {
      out.push({error: String(e)});
    }
  }
  return out;
}"""
LAUNCH_ERROR = ("无法启动无头 Chromium（Debian 包 chromium，{path}）：运行 `make system` 安装。"
                "静态图表 SVG 由 Chromium 中的 Vega 绘制。原因：{reason}")


def identity() -> str:
    """What a rendering depends on besides the spec and the fonts: the
    browser build and this module's script."""
    try:
        st = os.stat(CHROMIUM)
        browser = [CHROMIUM, st.st_size, int(st.st_mtime)]
    except OSError:
        browser = [CHROMIUM, None]
    return json.dumps([browser, hashlib.sha256(RENDER_JS.encode()).hexdigest()[:16]])


class SvgRenderer:
    """One headless Chromium with one page that has the Vega bundle loaded;
    started on first use, so a build whose SVGs are all cached starts none."""

    def __init__(self, bundle: Path):
        self.bundle = bundle
        self._pw = self._browser = self._page = None

    def _start(self) -> None:
        from playwright.sync_api import Error, sync_playwright

        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Error as exc:
            self.close()
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RuntimeError(LAUNCH_ERROR.format(path=CHROMIUM, reason=reason)) from None
        # UTC: a chart's dates never depend on the machine's time zone.
        context = self._browser.new_context(timezone_id="UTC")
        context.route("**/*", lambda route: route.abort())
        self._page = context.new_page()
        self._page.add_script_tag(content=self.bundle.read_text(encoding="utf-8"))

    def svgs(self, texts: list[str], names: list[str]) -> list[str]:
        """The SVG of each spec (its JSON text); names say which chart failed."""
        if self._page is None:
            self._start()
        results = self._page.evaluate(RENDER_JS, "[" + ",".join(texts) + "]")
        for name, result in zip(names, results):
            if "error" in result:
                raise RuntimeError(f"{name}: Vega could not draw the chart: {result['error']}")
        return [r["svg"] for r in results]

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._pw is not None:
            self._pw.stop()
        self._pw = self._browser = self._page = None

    def __enter__(self) -> SvgRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
