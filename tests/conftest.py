"""Shared fixtures. Each site is built once per test run and shared."""
from __future__ import annotations

import csv
import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
REALDATA = ROOT.parent / "shared" / "realdata"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-quic"]


def copy_data(dest: Path) -> Path:
    """A private copy of data/ that a test may break."""
    shutil.copytree(DATA, dest)
    return dest


def read_rows(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def write_rows(path: Path, rows: list[dict], fieldnames: list[str] | None = None) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fieldnames or list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="session")
def sample_site(tmp_path_factory) -> Path:
    """The site built from data/ by the real build (MkDocs and all)."""
    from generator.build import build

    out = tmp_path_factory.mktemp("sample") / "site"
    build(DATA, out)
    return out


@pytest.fixture(scope="session")
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real published data not found at {REALDATA} (it lives beside the repository, in ../shared/realdata)")
    return REALDATA


@pytest.fixture(scope="session")
def real_package(realdata, tmp_path_factory) -> Path:
    """The real workbook (national drug batches 1 extension to 4) imported by
    `python -m generator import` into a data package; returns its folder."""
    from generator.errors import format_table
    from generator.importers import ImportFailed, run_import

    out = tmp_path_factory.mktemp("real") / "package"
    mapping = ROOT / "generator" / "importers" / "mappings" / "vbp_results_workbook.yaml"
    try:
        run_import(mapping, [realdata / "vbp_results_batches_1ext-4.xlsx"], out, echo=lambda _: None)
    except ImportFailed as exc:
        pytest.fail(f"importing the real workbook failed: {exc.message}\n{format_table(exc.errors[:30])}",
                    pytrace=False)
    return out


@pytest.fixture(scope="session")
def real_site(real_package, tmp_path_factory) -> Path:
    """The site built from the imported real package by the real build."""
    from generator.build import build

    out = tmp_path_factory.mktemp("real-site") / "site"
    build(real_package, out)
    return out


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def serve():
    """serve(site_dir) -> base URL of a local HTTP server for that folder."""
    servers = []

    def start(directory: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(directory))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()


@pytest.fixture(scope="session")
def browser():
    """Debian Chromium driven by Playwright (no browser download)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} missing: run `make system` (scripts/system-deps.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


# The hostile-input corpus (issue #10): its data and the site built from it, once per run.
from hostile.corpus import hostile_data, hostile_site  # noqa: E402,F401
