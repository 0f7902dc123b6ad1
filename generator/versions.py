"""Data versions from git history: every commit that changed a package's
datapackage.json `version` is a release; older releases can be checked out
into a folder and loaded like any package."""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Release:
    version: str
    as_of: str
    rev: str  # newest commit that holds this version


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True,
                          check=True).stdout


def _repo_path(data_dir: Path) -> tuple[Path, str] | None:
    """(repository root, data_dir relative to it), or None outside a git work tree."""
    try:
        top = Path(_git(data_dir, "rev-parse", "--show-toplevel").strip())
    except (subprocess.CalledProcessError, FileNotFoundError, NotADirectoryError):
        return None
    return top, data_dir.resolve().relative_to(top.resolve()).as_posix()


def releases(data_dir: Path | str) -> list[Release]:
    """Committed releases of the package in data_dir, newest first (empty outside git)."""
    data_dir = Path(data_dir)
    found = _repo_path(data_dir)
    if found is None:
        return []
    top, rel = found
    revs = _git(top, "log", "--format=%H", "--", rel).split()
    out: dict[str, Release] = {}
    for rev in revs:
        try:
            meta = json.loads(_git(top, "show", f"{rev}:{rel}/datapackage.json"))
        except (subprocess.CalledProcessError, json.JSONDecodeError):
            continue
        version = str(meta.get("version", ""))
        if version and version not in out:
            out[version] = Release(version, str(meta.get("as_of", "")), rev)
    return list(out.values())


def checkout(data_dir: Path | str, rev: str, dest: Path | str) -> Path:
    """Write the package as it was at `rev` into dest (a new folder)."""
    data_dir, dest = Path(data_dir), Path(dest)
    top, rel = _repo_path(data_dir)
    dest.mkdir(parents=True)
    for name in _git(top, "ls-tree", "--name-only", f"{rev}:{rel}").split("\n"):
        if name:
            blob = subprocess.run(["git", "show", f"{rev}:{rel}/{name}"], cwd=top,
                                  capture_output=True, check=True).stdout
            (dest / name).write_bytes(blob)
    return dest
