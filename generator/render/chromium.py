"""Static chart SVGs drawn by Vega in headless Chromium (Debian `chromium`).

Each page holds nothing but the Vega bundle the site ships (charts.write_bundle)
and RENDER_JS; each call converts a batch of charts to SVG with Vega's
View.toSVG() (renderer "none": no DOM drawing). Text is measured by the
browser's canvas with the installed Noto Sans CJK SC in microseconds, where
vl_convert took ~1 ms per label. No request leaves the page: every request is
aborted, and the specs carry their data inline.
"""
from __future__ import annotations

import hashlib
import json
import os
import queue
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
# --expose-gc: see GC_EVERY in RENDER_JS. The features turned off are a spare
# renderer and the omnibox popups that Chromium's headless mode still loads in
# a renderer per browser context (~0.07 GB in all, nothing to do with charts).
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-quic", "--disable-extensions", "--js-flags=--expose-gc",
        "--disable-features=SpareRendererForSitePerProcess,WebUIOmniboxPopup,WebUIOmniboxAimPopup,"
        "WebUIOmniboxFullPopup"]
# Loaded into each page after the bundle: draw() converts a batch (one JSON
# string: Playwright serialises a string far faster than nested objects) to
# an SVG or an error message per chart. START sets a batch going and returns
# at once; FINISH waits for it. So one process keeps a page per CPU busy with
# Playwright's sync API: each page is a renderer process of its own (a
# browser context each) that draws while the others are set going or read.
#
# A chart comes as its Vega-Lite spec ({"spec": ...}), drawn with vega-embed,
# or as a template's key and its values ({"t": ..., "v": ...}): templates
# (charts.sentinel_template) hold SENTINEL + name where a chart's value goes.
# Vega-Lite compiles a template and Vega parses it once per page, each whole
# sentinel string a signal and the rows a named dataset; each chart is then a
# fresh View of that parsed spec with its values, which skips compiling and
# parsing (~60% of a payment chart's time, ~30% of a price chart's). A fresh
# View, not one View fed chart after chart: a reused View keeps the axis
# labels both charts share and appends the others, so its SVG differs. The
# first chart of a template is drawn both ways: if the SVGs differ in one
# byte, that template's charts are drawn from their specs on that page (and
# the key is listed in window.fallbacks); a page that replaces one is told
# which templates passed (window.passed), and draws none of those twice. Without ARIA: the page shows the SVG as an
# <img> (whose alt text names the chart, the data table under it), where the
# marks' ARIA labels are never read; leaving them out made SVGs a third
# smaller and drawing ~8% faster.
SENTINEL = "\u0001"
RENDER_JS = r"""(() => {
const SENTINEL = "\u0001";
// A page's live data stays ~10 MB, but V8 let its garbage grow the renderer
// by ~0.11 MB a chart (0.5 GB over a national build's 3,000 charts a page).
// A full collection that gives memory back, every 150 charts, holds a page
// under ~0.25 GB at no measurable cost in time; every 60 cost ~20% more time.
const GC_EVERY = 150;
let drawn = 0;
const templates = {};
window.fallbacks = [];
window.passed = [];
const isSlot = (node) => typeof node === "string" && node.length > 1 && node[0] === SENTINEL;

function walk(node, leaf) {
  if (Array.isArray(node)) return node.map((n) => walk(n, leaf));
  if (node && typeof node === "object") {
    const out = {};
    for (const k in node) out[k] = walk(node[k], leaf);
    return out;
  }
  return isSlot(node) ? leaf(node.slice(1)) : node;
}

async function fresh(spec) {
  spec.config = {...spec.config, aria: false};
  const result = await vegaEmbed(document.createElement("div"), spec,
                                 {renderer: "none", actions: false, mode: "vega-lite"});
  try { return await result.view.toSVG(); } finally { result.finalize(); }
}

async function parse(t) {
  const vl = {...t.spec, data: {name: "rows"}, config: {...t.spec.config, aria: false}};
  const compiled = await vegaEmbed(document.createElement("div"), vl,
                                   {renderer: "none", actions: false, mode: "vega-lite"});
  const vg = compiled.vgSpec;
  compiled.finalize();
  delete vg.description;  // a string only, and not in the SVG without ARIA
  const names = new Set();
  const spec = walk(vg, (name) => { names.add(name); return {signal: "slot_" + name}; });
  spec.signals = [...(spec.signals || []), ...[...names].map((n) => ({name: "slot_" + n, value: null}))];
  t.names = [...names];
  t.runtime = vega.parse(spec);
}

async function fromTemplate(t, values) {
  const view = new vega.View(t.runtime, {renderer: "none"});
  try {
    for (const name of t.names) view.signal("slot_" + name, values[name]);
    view.data("rows", values.rows);
    await view.runAsync();
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

async function drawOne(item) {
  if (item.spec) return fresh(item.spec);
  const t = templates[item.t];
  if (t.runtime === undefined) {
    try { await parse(t); } catch (e) { t.runtime = null; window.fallbacks.push(item.t); }
  }
  if (t.runtime && t.checked) return fromTemplate(t, item.v);
  const svg = await fresh(walk(t.spec, (name) => item.v[name]));
  if (t.runtime && !t.checked) {
    t.checked = true;
    if (await fromTemplate(t, item.v) === svg) window.passed.push(item.t);
    else { t.runtime = null; window.fallbacks.push(item.t); }
  }
  return svg;
}

window.draw = async (text) => {
  const task = JSON.parse(text);
  for (const [key, spec] of Object.entries(task.templates)) templates[key] = {spec, checked: task.checked.includes(key)};
  const out = [];
  for (const item of task.items) {
    try {
      out.push({svg: await drawOne(item)});
    } catch (e) {
      out.push({error: String(e)});
    }
    if (++drawn % GC_EVERY === 0) window.collectGarbage({type: "major", execution: "sync", flavor: "last-resort"});
    // Let the caller's next message in: it waits for the page's current task
    // to end, and a batch is one task unless it yields (without this each of
    // two pages was busy ~60% of the time, since the caller drives both).
    await scheduler.yield();
  }
  return out;
};
})();"""
# A page queues the batches it is given and draws them one after another, so
# it has its next batch while the caller waits for another page's.
START_JS = ("(text) => { const prev = window.last || Promise.resolve();"
            " window.last = prev.then(() => window.draw(text)); (window.jobs ||= []).push(window.last); }")
FINISH_JS = "() => window.jobs.shift()"
BATCH = 6  # charts per page call: pages finish their last batches of a call close together
AHEAD = 2  # batches a page holds at once
# Charts a page draws before a fresh one replaces it: a bound on memory, should
# it grow despite GC_EVERY, that a national build (~3,000 charts a page) does
# not reach. Replacing a page costs ~1.4 s (the bundle and the templates parsed
# again, its code compiled again): at every 150 charts, a third of the time.
RECYCLE = 5000
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
    scripts = "\n".join([RENDER_JS, START_JS, FINISH_JS])
    return json.dumps([browser, hashlib.sha256(scripts.encode()).hexdigest()[:16]])


class SvgRenderer:
    """One headless Chromium with `pages` pages that have the Vega bundle
    loaded, each in a browser context (and so a renderer process) of its own;
    started on first use, so a build whose SVGs are all cached starts none."""

    def __init__(self, bundle: Path, pages: int = 1):
        self.bundle, self.n_pages = bundle, max(1, pages)
        self._pw = self._browser = None
        self._pages: list = []
        self._drawn: list[int] = []  # charts each page has drawn
        self._templates: dict[str, str] = {}  # every template key and text the caller gave
        self._sent: list[set] = []  # template keys each page has
        self._passed: set[str] = set()  # templates whose first chart matched its spec's SVG
        self._script = ""

    def _start(self) -> None:
        from playwright.sync_api import Error, sync_playwright

        self._pw = sync_playwright().start()
        try:
            self._browser = self._pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        except Error as exc:
            self.close()
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise RuntimeError(LAUNCH_ERROR.format(path=CHROMIUM, reason=reason)) from None
        self._script = self.bundle.read_text(encoding="utf-8")
        self._pages = [self._new_page() for _ in range(self.n_pages)]
        self._drawn = [0] * self.n_pages
        self._sent = [set() for _ in range(self.n_pages)]

    def _new_page(self):
        # UTC: a chart's dates never depend on the machine's time zone.
        context = self._browser.new_context(timezone_id="UTC")
        context.route("**/*", lambda route: route.abort())
        page = context.new_page()
        page.evaluate("() => { window.collectGarbage = window.gc; }")  # the bundle's globals include a gc()
        page.add_script_tag(content=self._script)
        page.add_script_tag(content=RENDER_JS)
        return page

    def svgs(self, items: list[str], names: list[str], templates: dict[str, str] | None = None) -> list[str]:
        """The SVG of each chart: items are JSON texts, {"spec": ...} or
        {"t": key, "v": values} of a template in `templates` (key: JSON text)
        or in an earlier call's; names say which chart failed. Each batch goes
        to the page that holds fewest; a page holds up to AHEAD, so it draws
        on while the batch read first is another page's."""
        if not self._pages:
            self._start()
        self._templates.update(templates or {})
        out: list[str] = []
        batches = [range(i, min(i + BATCH, len(items))) for i in range(0, len(items), BATCH)]
        running: deque = deque()
        for batch in batches:
            if len(running) == AHEAD * len(self._pages):
                out += self._finish(*running.popleft(), names)
            held = [sum(p is q for q, _ in running) for p in self._pages]
            i = held.index(min(held))
            if self._drawn[i] >= RECYCLE:  # a fresh page (context, renderer process) takes its place
                while any(p is self._pages[i] for p, _ in running):
                    out += self._finish(*running.popleft(), names)
                self._passed.update(self._pages[i].evaluate("() => window.passed"))
                self._pages[i].context.close()
                self._pages[i], self._drawn[i], self._sent[i] = self._new_page(), 0, set()
            page = self._pages[i]
            self._drawn[i] += len(batch)
            new = [k for k in self._templates if k not in self._sent[i]]
            self._sent[i].update(new)
            task = ('{"templates":{' + ",".join(f"{json.dumps(k)}:{self._templates[k]}" for k in new)
                    + '},"checked":' + json.dumps(sorted(self._passed))
                    + ',"items":[' + ",".join(items[j] for j in batch) + "]}")
            page.evaluate(START_JS, task)
            running.append((page, batch))
        while running:
            out += self._finish(*running.popleft(), names)
        return out

    @staticmethod
    def _finish(page, batch: range, names: list[str]) -> list[str]:
        results = page.evaluate(FINISH_JS)
        for i, result in zip(batch, results):
            if "error" in result:
                raise RuntimeError(f"{names[i]}: Vega could not draw the chart: {result['error']}")
        return [r["svg"] for r in results]

    def close(self) -> None:
        if self._browser is not None:
            self._browser.close()
        if self._pw is not None:
            self._pw.stop()
        self._pw = self._browser = None
        self._pages = []

    def __enter__(self) -> SvgRenderer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SvgProcess:
    """An SvgRenderer in a process of its own, `python chromium.py CHROMIUM
    BUNDLE PAGES`, started on first use: a task's charts go in and its
    SVGs come out as one JSON line each way, tasks answered in order. A task
    is sent by a thread, so the caller builds the next while this one draws.
    A fresh process rather than a fork of the build: a fork of a national
    build copied ~0.5 GB of its heap as it allocated, and the parent may
    already drive a browser with Playwright's sync API (one per thread)."""

    def __init__(self, bundle: Path, pages: int = 1):
        self.bundle, self.pages = bundle, pages
        self._proc = self._sender = None
        self._tasks: queue.Queue = queue.Queue()

    def _start(self) -> None:
        self._proc = subprocess.Popen([sys.executable, __file__, CHROMIUM, str(self.bundle), str(self.pages)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._sender = threading.Thread(target=self._send, daemon=True)
        self._sender.start()

    def _send(self) -> None:
        try:
            for line in iter(self._tasks.get, None):
                self._proc.stdin.write(line)
                self._proc.stdin.flush()
            self._proc.stdin.close()
        except OSError:  # the process ended: the reader says why
            pass

    def draw(self, items: list[str], names: list[str], templates: dict[str, str] | None = None):
        """Sends the task (SvgRenderer.svgs' arguments); returns what waits
        for its SVGs (call those in order)."""
        if self._proc is None:
            self._start()
        task = {"items": items, "names": names, "templates": templates or {}}
        self._tasks.put(json.dumps(task, ensure_ascii=False).encode() + b"\n")
        return self._reply

    def _reply(self) -> list[str]:
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the chart drawing process ended (exit code {self._proc.wait()})")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["svgs"]

    def close(self) -> None:
        if self._proc is None:
            return
        self._tasks.put(None)
        self._sender.join(timeout=5)
        try:
            self._proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._proc.stdout.close()
        self._proc = self._sender = None

    def __enter__(self) -> SvgProcess:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None and self._proc is not None:
            self._proc.kill()  # tasks still queued are not drawn
        self.close()


def main(argv: list[str]) -> int:
    """The drawing process of SvgProcess: tasks on stdin, replies on stdout."""
    global CHROMIUM
    CHROMIUM, bundle, pages = argv[0], Path(argv[1]), int(argv[2])
    out = sys.stdout.buffer
    with SvgRenderer(bundle, pages) as renderer:
        for line in sys.stdin.buffer:
            task = json.loads(line)
            try:
                reply = {"svgs": renderer.svgs(task["items"], task["names"], task["templates"])}
            except RuntimeError as exc:
                reply = {"error": str(exc)}
            out.write(json.dumps(reply, ensure_ascii=False).encode() + b"\n")
            out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
