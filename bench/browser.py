"""What the browser transfers, measured in Chromium against a local server.

The server compresses text (HTML, CSS, JS, JSON, SVG) with gzip when the
browser asks for it, as GitHub Pages and nginx do, and leaves binary files
alone (Pagefind's index chunks and WebAssembly are gzipped already). It counts
every byte it writes, headers included, per request: that count is the
transfer. Requests from web workers are counted too, which the page's own
network events would miss. The browser's own figure (Playwright's
request.sizes(), from Chromium's network stack) is kept beside it as a check."""
from __future__ import annotations

import functools
import gzip
import http.server
import io
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic"]
COMPRESSED_TYPES = (".html", ".css", ".js", ".mjs", ".json", ".svg", ".xml", ".txt", ".csv",
                    ".map", ".webmanifest")
# How to reach a search box: a visible search input, or a control that opens one.
SEARCH_INPUTS = ("input[type=search]", "input.md-search__input", "input[name=q]", "input[name=query]")
SEARCH_OPENERS = ("[aria-controls*=search]", "label[for=__search]", "button[title*=搜索]",
                  "[data-md-component=search] label")
QUIET_S = 1.0  # network idle: no request started or finished for this long


@dataclass
class Hit:
    path: str
    sent: int          # bytes written to the socket: status line, headers, body
    body: int          # body bytes as sent (compressed when gzip)
    raw: int           # body bytes of the file on disk
    gzip: bool
    at: float = field(default_factory=time.monotonic)


class Log:
    def __init__(self):
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.in_flight = 0
        self.last_change = time.monotonic()

    def mark(self) -> int:
        with self.lock:
            return len(self.hits)

    def since(self, mark: int) -> list[Hit]:
        with self.lock:
            return list(self.hits[mark:])

    def wait_idle(self, quiet: float = QUIET_S, timeout: float = 60.0) -> None:
        """Until no request has started or ended for `quiet` seconds, counted
        from the call at the earliest (what the last action set off has come in)."""
        start = time.monotonic()
        deadline = start + timeout
        while time.monotonic() < deadline:
            with self.lock:
                idle = self.in_flight == 0 and time.monotonic() - max(self.last_change, start) >= quiet
            if idle:
                return
            time.sleep(0.05)


class _Counter:
    """Wraps the socket's file: counts what the handler writes."""

    def __init__(self, raw):
        self.raw, self.count = raw, 0

    def write(self, data):
        self.count += len(data)
        return self.raw.write(data)

    def __getattr__(self, name):
        return getattr(self.raw, name)


class Handler(http.server.SimpleHTTPRequestHandler):
    log_: Log

    def log_message(self, *args):
        pass

    def handle_one_request(self):
        with self.log_.lock:
            self.log_.in_flight += 1
            self.log_.last_change = time.monotonic()
        self.wfile = _Counter(self.wfile)
        self._hit = None
        try:
            super().handle_one_request()
        finally:
            counted, self.wfile = self.wfile, self.wfile.raw
            with self.log_.lock:
                self.log_.in_flight -= 1
                self.log_.last_change = time.monotonic()
                if self._hit is not None:
                    self._hit.sent = counted.count
                    self.log_.hits.append(self._hit)

    def send_head(self):
        path = Path(self.translate_path(self.path))
        if path.is_dir():
            if not urlsplit(self.path).path.endswith("/"):
                self._hit = Hit(unquote(urlsplit(self.path).path), 0, 0, 0, False)
                return super().send_head()  # the redirect to the folder
            path = path / "index.html"
        wants_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        if not path.is_file() or not (wants_gzip and path.suffix in COMPRESSED_TYPES):
            size = path.stat().st_size if path.is_file() else 0
            self._hit = Hit(unquote(urlsplit(self.path).path), 0, size, size, False)
            return super().send_head()
        data = path.read_bytes()
        body = gzip.compress(data, compresslevel=6, mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        self._hit = Hit(unquote(urlsplit(self.path).path), 0, len(body), len(data), True)
        return io.BytesIO(body)


class Server:
    """A local HTTP server for a site folder, counting bytes per request."""

    def __init__(self, site: Path):
        self.log = Log()
        handler = type("BoundHandler", (Handler,), {"log_": self.log})
        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(handler, directory=str(site)))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "Server":
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def summarise(hits: list[Hit], browser_bytes: int | None = None) -> dict:
    out = {
        "bytes": sum(h.sent for h in hits),
        "body_bytes": sum(h.body for h in hits),
        "uncompressed_bytes": sum(h.raw for h in hits),
        "requests": len(hits),
        "by_path": {},
    }
    for h in sorted(hits, key=lambda h: -h.sent):
        key = h.path
        out["by_path"][key] = out["by_path"].get(key, 0) + h.sent
    if browser_bytes is not None:
        out["browser_reported_bytes"] = browser_bytes
    return out


def _open_search(page) -> object:
    """The search input, opening the search panel first when it is hidden. A
    field that hands focus on to a search panel (a home-page entry) is followed:
    the field that has the focus after a click is the one to type into."""
    for sel in SEARCH_INPUTS:
        box = page.locator(sel).first
        if box.count() and box.is_visible():
            box.click()
            page.wait_for_timeout(300)
            focused = page.locator("input:focus")
            return focused.first if focused.count() else box
    for sel in SEARCH_OPENERS:
        opener = page.locator(sel).first
        if opener.count() and opener.is_visible():
            opener.click()
            break
    for sel in SEARCH_INPUTS:
        box = page.locator(sel).first
        try:
            box.wait_for(state="visible", timeout=5000)
            return box
        except Exception:
            continue
    raise RuntimeError("no search box found on the home page")


def measure(site: Path, queries: list[str], timeout_ms: int = 120_000) -> dict:
    """Home-page visit and search queries with a cold cache, bytes per step."""
    from playwright.sync_api import sync_playwright

    result: dict = {}
    with Server(site) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.set_default_timeout(timeout_ms)
            reported: list[int] = []

            def on_finished(request):
                try:
                    sizes = request.sizes()
                    reported.append(sizes["responseBodySize"] + sizes["responseHeadersSize"])
                except Exception:
                    pass

            page.on("requestfinished", on_finished)
            mark = server.log.mark()
            page.goto(server.url + "/", wait_until="load")
            server.log.wait_idle()
            page.evaluate("0")  # delivers Playwright's pending request events
            result["home"] = summarise(server.log.since(mark), sum(reported))
            result["home"]["url"] = "/"
            result["queries"] = []
            box = None
            for query in queries:
                mark, before = server.log.mark(), len(reported)
                if box is None:  # the first query pays for opening the search too
                    box = _open_search(page)
                box.fill(query)
                server.log.wait_idle()
                page.evaluate("0")
                step = summarise(server.log.since(mark), sum(reported[before:]))
                step["query"] = query
                step["results_shown"] = page.evaluate(
                    """() => { const el = document.querySelector(
                         '[id*=search-results], .md-search-result__list, [class*=results]');
                       return el ? el.querySelectorAll('li').length : null; }""")
                result["queries"].append(step)
            context.close()
        finally:
            browser.close()
    return result
