"""Atomic publishing (issue #10): a build that fails or is killed leaves the previous
site byte for byte as it was; the next build removes what the killed one left."""
from __future__ import annotations

import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, copy_data
from hostile.corpus import snapshot

# Where the build is when it is killed: a path inside its staging folder that
# exists only from that moment on.
MOMENTS = {
    "inside MkDocs": "site/assets",           # MkDocs is writing the site
    "indexing search": "site/pagefind",       # a site stage after MkDocs (Pagefind)
}


def _build_cli(data, out, capsys) -> tuple[int, str, str]:
    """The command line, in this process (a traceback would fail the test)."""
    from generator.__main__ import main

    code = main(["build", "--data", str(data), "--out", str(out)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def published(sample_site, tmp_path):
    """A previously published site in its own folder."""
    out = tmp_path / "pub" / "site"
    shutil.copytree(sample_site, out)
    return out


def _broken_data(tmp_path):
    data = copy_data(tmp_path / "broken")
    (data / "units.csv").write_text("", encoding="utf-8")
    return data


@pytest.mark.parametrize("moment", MOMENTS)
def test_killed_build_leaves_the_previous_site(moment, published, tmp_path, capsys):
    before = snapshot(published)
    parent = published.parent
    proc = subprocess.Popen([sys.executable, "-m", "generator", "build", "--out", str(published)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # its own process group: Pagefind dies with it
    marker = MOMENTS[moment]
    deadline = time.monotonic() + 600
    try:
        while not any((s / marker).exists() for s in parent.glob(".site.build-*")):
            assert proc.poll() is None, f"the build ended (exit {proc.returncode}) before {moment}"
            assert time.monotonic() < deadline, f"no {marker} after 600 s"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    assert snapshot(published) == before, "the killed build changed the published site"
    assert [p.name for p in parent.glob(".site.build-*")], "no staging folder: was it killed midway?"
    assert not (parent / ".site.old").exists()

    # The next build removes the killed one's staging folder first, even when the
    # data then turns out to be invalid.
    code, _, _ = _build_cli(_broken_data(tmp_path), published, capsys)
    assert code == 1
    assert sorted(p.name for p in parent.iterdir()) == ["site"]
    assert snapshot(published) == before


def test_failed_build_leaves_the_previous_site(published, tmp_path, capsys):
    before = snapshot(published)
    code, out, err = _build_cli(_broken_data(tmp_path), published, capsys)
    assert code == 1
    assert "units.csv" in out and "未发布任何内容" in err
    assert snapshot(published) == before
    assert sorted(p.name for p in published.parent.iterdir()) == ["site"]


def test_site_caught_between_two_renames_is_put_back(published, tmp_path, capsys):
    """Without renameat2, swap_in renames site → .site.old, then the new site in; a
    build killed between the two leaves no site/. The next build puts it back."""
    before = snapshot(published)
    old = published.with_name(".site.old")
    published.rename(old)
    assert _build_cli(_broken_data(tmp_path), published, capsys)[0] == 1
    assert not old.exists()
    assert snapshot(published) == before


def test_a_running_build_keeps_its_staging_folder(published, tmp_path, capsys):
    """Cleanup removes only staging folders nobody holds: a build running at the same
    time into the same folder keeps its own."""
    live = published.with_name(".site.build-live")
    live.mkdir()
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert _build_cli(_broken_data(tmp_path), published, capsys)[0] == 1
        assert live.is_dir()
    finally:
        os.close(fd)
        shutil.rmtree(live)


def test_swap_replaces_the_folder_atomically(tmp_path):
    """swap_in exchanges the two folders in one step where the kernel can (Linux
    renameat2): the target is never missing."""
    from generator.package import _exchange, swap_in

    target, new = tmp_path / "site", tmp_path / "new"
    target.mkdir()
    (target / "a").write_text("old", encoding="utf-8")
    new.mkdir()
    (new / "a").write_text("new", encoding="utf-8")
    probe_a, probe_b = tmp_path / "x", tmp_path / "y"
    probe_a.mkdir()
    probe_b.mkdir()
    atomic = _exchange(probe_a, probe_b)
    swap_in(new, target)
    assert (target / "a").read_text(encoding="utf-8") == "new"
    assert not new.exists() and not (tmp_path / ".site.old").exists()
    if sys.platform.startswith("linux"):
        assert atomic, "renameat2(RENAME_EXCHANGE) unavailable on this Linux filesystem"
