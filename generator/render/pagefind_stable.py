"""Make Pagefind's output the same on every build (reproducible builds, issue #10),
and its page list small.

Pagefind 1.5.2 writes each filter's values in hash-map order, which changes from
run to run (upstream: Pagefind/pagefind#638, fixed for fragments in 1.3, not for
filters). The filter files' names are hashes of their content, the metadata file
lists them, and pagefind-entry.json names the metadata file, so one shuffled
filter changes three files. `stabilise` rewrites the filters with their values
sorted, then the metadata and the entry to match; nothing else changes.

Every query first loads the metadata file, which lists every page as
[fragment hash, word count]. Pagefind names a page's fragment after 7 hex digits
of its content hash: random letters gzip cannot shrink, 210 KB of the metadata
at 37,600 pages. `compact_pages` renames the fragments to the page's number in
hex written backwards (page 0x1a2 → 2a1: consecutive names then differ in their
first digit and gzip finds the rest sixteen entries back, half the size of
numbers written forwards), in a folder named after all the old hashes together,
so a changed fragment gets a new URL and no browser shows a cached one. It also
writes every word count as 1: Pagefind uses the counts only to favour short
pages (BM25's length normalisation), our records are lists of names whose
length says nothing about relevance, and the counts were another 20 KB. The
metadata then gzips to a quarter (55 KB at 37,600 pages).
Index chunks and filters refer to pages by their number, so nothing else changes.

The files are gzip(b"pagefind_dcd" + CBOR). The filter file is
[name, [[value, [page numbers]], ...]]; the metadata file is
[version, pages, index chunks, filters [[name, file hash], ...], sorts, ...].
The small CBOR codec below covers what these files use; `stabilise` checks that
it re-encodes Pagefind's own bytes exactly before changing anything.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path

SIGNATURE = b"pagefind_dcd"


class PagefindFormatChanged(RuntimeError):
    """The bundle is not in the format this module knows (a new Pagefind?)."""


def stabilise(bundle: Path) -> None:
    """Sort every filter's values and rename the filter, metadata and entry files
    after their new content. Idempotent."""
    def sort_filters(lang: str, meta_path: Path, meta: list) -> None:
        filters = meta[3]
        if not (isinstance(filters, list) and all(isinstance(f, list) and len(f) == 2 for f in filters)):
            raise PagefindFormatChanged(f"{meta_path.name}: unexpected filter list")
        renamed = []
        for name, file_hash in filters:
            path = bundle / "filter" / f"{file_hash}.pf_filter"
            content = _read(path)
            content[1] = sorted(content[1], key=lambda value_pages: value_pages[0])
            new_hash = _write(bundle / "filter", content, f"{lang}_", 7, ".pf_filter")
            if new_hash != file_hash:
                path.unlink()
            renamed.append([name, new_hash])
        meta[3] = sorted(renamed)

    _edit_metadata(bundle, sort_filters)


def compact_pages(bundle: Path) -> None:
    """Rename every page's fragment to <folder>/<page number in hex, backwards>, set every
    word count to 1, and rewrite the metadata and the entry to match. Idempotent."""
    def compact(lang: str, meta_path: Path, meta: list) -> None:
        pages = meta[1]
        if not (isinstance(pages, list) and all(isinstance(p, list) and len(p) == 2
                                                and isinstance(p[0], str) for p in pages)):
            raise PagefindFormatChanged(f"{meta_path.name}: unexpected page list")
        if all("/" in page[0] for page in pages):
            return
        folder = hashlib.sha256("\n".join(p[0] for p in pages).encode()).hexdigest()[:7]
        fragments = bundle / "fragment"
        (fragments / folder).mkdir(exist_ok=True)
        renamed: dict[str, str] = {}  # identical pages share one fragment
        for page in pages:
            if page[0] not in renamed:
                backwards = f"{len(renamed):x}"[::-1]
                renamed[page[0]] = f"{folder}/{backwards}"
                # plain strings: Path objects cost more than the renames at 37,600 pages
                os.rename(f"{fragments}/{page[0]}.pf_fragment", f"{fragments}/{renamed[page[0]]}.pf_fragment")
            page[:] = [renamed[page[0]], 1]

    _edit_metadata(bundle, compact)


def _edit_metadata(bundle: Path, edit) -> None:
    """edit(lang, meta_path, meta) each language's metadata in place, then store it
    under a name from its new content and point the entry at that name."""
    entry_path = bundle / "pagefind-entry.json"
    entry = json.loads(entry_path.read_text(encoding="utf-8"))
    for lang, info in sorted(entry["languages"].items()):
        meta_path = bundle / f"pagefind.{info['hash']}.pf_meta"
        meta = _read(meta_path)
        edit(lang, meta_path, meta)
        new_meta = _write(bundle, meta, f"pagefind.{lang}_", 10, ".pf_meta")
        if f"{new_meta}.pf_meta" != meta_path.name:
            meta_path.unlink()
        info["hash"] = new_meta.removeprefix("pagefind.")
    entry_path.write_text(json.dumps(entry, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def _read(path: Path):
    raw = gzip.decompress(path.read_bytes())
    if not raw.startswith(SIGNATURE):
        raise PagefindFormatChanged(f"{path.name}: no {SIGNATURE!r} signature")
    value, end = decode(raw, len(SIGNATURE))
    if end != len(raw) or encode(value) != raw[len(SIGNATURE):]:
        raise PagefindFormatChanged(f"{path.name}: CBOR this module cannot re-encode exactly")
    return value


def _write(folder: Path, value, prefix: str, digits: int, suffix: str) -> str:
    """Write value under a name from its content; return the name without suffix."""
    payload = SIGNATURE + encode(value)
    name = prefix + hashlib.sha256(payload).hexdigest()[:digits]
    (folder / f"{name}{suffix}").write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))
    return name


# ------------------------------------------------------------------ minimal CBOR (RFC 8949)

def decode(data: bytes, i: int = 0):
    """One CBOR item from data[i:]: (value, next index). Definite lengths only."""
    head = data[i]
    major, info = head >> 5, head & 31
    i += 1
    if info < 24:
        n = info
    elif info <= 27:
        size = 1 << (info - 24)
        n = int.from_bytes(data[i:i + size], "big")
        i += size
    else:
        raise PagefindFormatChanged(f"CBOR additional info {info} at byte {i - 1}")
    if major == 0:
        return n, i
    if major == 1:
        return -1 - n, i
    if major == 2:
        return bytes(data[i:i + n]), i + n
    if major == 3:
        return data[i:i + n].decode("utf-8"), i + n
    if major == 4:
        out = []
        for _ in range(n):
            item, i = decode(data, i)
            out.append(item)
        return out, i
    if major == 7 and n in (20, 21, 22):
        return {20: False, 21: True, 22: None}[n], i
    raise PagefindFormatChanged(f"CBOR major type {major} at byte {i - 1}")


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | info]) + n.to_bytes(size, "big")
    raise ValueError(n)


def encode(value) -> bytes:
    if value is False or value is True or value is None:
        return bytes([0xE0 | {False: 20, True: 21, None: 22}[value]])
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, bytes):
        return _head(2, len(value)) + value
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _head(3, len(raw)) + raw
    if isinstance(value, list):
        return _head(4, len(value)) + b"".join(encode(v) for v in value)
    raise TypeError(type(value))
