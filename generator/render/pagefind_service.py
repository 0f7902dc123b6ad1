"""A Pagefind index built from documents sent to `pagefind --service`.

The build had Pagefind's CLI read the search records as files; on the build
machines' disks writing, then deleting, a national site's ~38,000 small files
and their folders took 10-20 s beside the CLI's own ~18 s. Service mode (what
Pagefind's Python API drives) takes the same documents over a pipe and writes
the same fragments; its pages are numbered in the order they are sent, where
the CLI numbers them in the order it found the files. The Python API reads its
answers one per 0.1 s (~1 hour for 38,000 documents), so this module speaks
the protocol itself, as pagefind.service does: base64-encoded JSON messages,
each ended by a comma, in both directions; every message gets one answer."""
from __future__ import annotations

import base64
import json
import subprocess
import threading
from collections.abc import Iterable
from pathlib import Path

from pagefind.service import get_executable


class PagefindError(RuntimeError):
    """Pagefind refused a document or ended early; nothing is published."""


class _Answers:
    """Reads Pagefind's answers on a thread of its own (a full pipe would stop it
    reading ours): how many came, the last one and the errors."""

    def __init__(self, stream):
        self._stream = stream
        self._ready = threading.Condition()
        self.count = 0
        self.last: dict = {}
        self.errors: list[str] = []
        self.ended = False
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        pending = b""
        try:
            while chunk := self._stream.read1(1 << 16):
                *messages, pending = (pending + chunk).split(b",")
                with self._ready:
                    for message in messages:
                        answer = json.loads(base64.b64decode(message)) if message.strip() else None
                        if answer is None:  # pagefind.service skips these too
                            continue
                        self.last = answer["payload"]
                        self.count += 1
                        if self.last["type"] == "Error":
                            self.errors.append(f"{self.last.get('message')}"
                                               f"（{str(self.last.get('original_message'))[:200]}）")
                    self._ready.notify_all()
        except Exception as exc:  # noqa: BLE001  an answer that cannot be read ends the build, not hangs it
            self.errors.append(f"无法读取 Pagefind 的回答：{exc!r}")
        finally:
            with self._ready:
                self.ended = True
                self._ready.notify_all()

    def wait(self, count: int) -> dict:
        """The last answer, once `count` have come (each message is answered once,
        and the build waits for all before it sends the next that it reads)."""
        with self._ready:
            while not self.ended and self.count < count:
                self._ready.wait()
            if self.errors:
                raise PagefindError("Pagefind 拒绝了文档：" + "；".join(self.errors[:5]))
            if self.count < count:
                raise PagefindError("Pagefind 进程意外结束")
            return self.last


def build_index(documents: Iterable[tuple[str, str]], out_dir: Path, language: str) -> None:
    """Index (path, html) documents as the CLI indexes files at those paths under
    --site (a page's URL comes from its path), and write the bundle to out_dir."""
    proc = subprocess.Popen([str(get_executable()), "--service"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    answers = _Answers(proc.stdout)
    sent = 0

    def send(payload: dict) -> int:
        nonlocal sent
        sent += 1
        proc.stdin.write(base64.b64encode(json.dumps({"message_id": sent, "payload": payload}).encode()) + b",")
        return sent

    try:
        new = send({"type": "NewIndex", "config": {"force_language": language}})
        proc.stdin.flush()
        index_id = answers.wait(new)["index_id"]
        for path, page in documents:
            send({"type": "AddFile", "index_id": index_id, "file_path": path, "url": None, "file_contents": page})
        proc.stdin.flush()
        answers.wait(sent)
        written = send({"type": "WriteFiles", "index_id": index_id, "output_path": str(out_dir)})
        proc.stdin.flush()
        answers.wait(written)
    finally:
        try:
            proc.stdin.close()
        except BrokenPipeError:  # it ended early: the answers said why
            pass
        proc.wait()
