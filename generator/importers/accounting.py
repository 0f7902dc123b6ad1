"""The accounting report: what happened to every source row.

Each row read below a header (blank rows aside) gets exactly one outcome:
  imported  it became a record (the record is named)
  merged    its content went into a record made from another row (named)
  rejected  it was not used (the reason is given)
so that, per file and in total, rows = imported + merged + rejected."""
from __future__ import annotations

import csv
import io
import os
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

OUTCOMES = ("imported", "merged", "rejected")
COLUMNS = ["file", "sheet", "row", "outcome", "record", "reason", "note"]


@dataclass(frozen=True)
class Entry:
    file: str
    sheet: str | None
    row: int
    outcome: str
    record: str        # e.g. winners/w-nat-drug-2-…; empty when rejected
    reason: str = ""   # why rejected, or why merged
    note: str = ""     # anything a maintainer should know about an imported row


class Ledger:
    def __init__(self):
        self.entries: dict[tuple, Entry] = {}
        self.expected: dict[tuple, None] = {}
        self.blank: Counter = Counter()    # (file, sheet) → blank rows skipped
        self.counters: Counter = Counter()  # named events, e.g. placeholder prices

    def expect(self, file: str, sheet: str | None, row: int) -> None:
        self.expected[(file, sheet, row)] = None

    def record(self, file: str, sheet: str | None, row: int, outcome: str, record: str = "",
               reason: str = "", note: str = "") -> None:
        assert outcome in OUTCOMES, outcome
        k = (file, sheet, row)
        if k in self.entries:
            raise RuntimeError(f"row accounted twice: {k}")
        self.entries[k] = Entry(file, sheet, row, outcome, record, reason, note)

    def add_note(self, file: str, sheet: str | None, row: int, note: str) -> None:
        e = self.entries[(file, sheet, row)]
        self.entries[(file, sheet, row)] = Entry(e.file, e.sheet, e.row, e.outcome, e.record, e.reason,
                                                 "；".join(n for n in (e.note, note) if n))

    def unaccounted(self) -> list[tuple]:
        return [k for k in self.expected if k not in self.entries]

    def totals(self) -> dict[tuple, Counter]:
        """(file, sheet) → Counter(rows, imported, merged, rejected)."""
        out: dict[tuple, Counter] = defaultdict(Counter)
        for k in self.expected:
            out[k[:2]]["rows"] += 1
        for e in self.entries.values():
            out[(e.file, e.sheet)][e.outcome] += 1
        return dict(out)

    def balanced(self) -> bool:
        return not self.unaccounted() and all(
            c["rows"] == c["imported"] + c["merged"] + c["rejected"] for c in self.totals().values())

    def sorted_entries(self) -> list[Entry]:
        order = {k: i for i, k in enumerate(self.expected)}
        return sorted(self.entries.values(), key=lambda e: order.get((e.file, e.sheet, e.row), 1 << 30))

    def to_csv(self) -> str:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        for e in self.sorted_entries():
            w.writerow([e.file, e.sheet or "", e.row, e.outcome, e.record, e.reason, e.note])
        return buf.getvalue()

    def write_csv(self, path: Path) -> None:
        """Atomically, UTF-8 with a BOM so that Excel on Windows opens it correctly."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8-sig", newline="") as fh:
                fh.write(self.to_csv())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def summary(self, max_reasons: int = 12) -> str:
        lines = ["导入核算（每个来源行的去向）：",
                 f"  {'来源':<44} {'行数':>6} {'导入':>6} {'合并':>6} {'拒绝':>6} {'空行':>6}"]
        grand = Counter()
        for (file, sheet), c in self.totals().items():
            label = f"{file}!{sheet}" if sheet else file
            blank = self.blank[(file, sheet)]
            lines.append(f"  {_fit(label, 44)} {c['rows']:>6} {c['imported']:>6} {c['merged']:>6} "
                         f"{c['rejected']:>6} {blank:>6}")
            grand.update(c)
            grand["blank"] += blank
        lines.append(f"  {_fit('合计', 44)} {grand['rows']:>6} {grand['imported']:>6} {grand['merged']:>6} "
                     f"{grand['rejected']:>6} {grand['blank']:>6}")
        status = "平衡" if self.balanced() else "不平衡！"
        lines.append(f"  行数 = 导入 + 合并 + 拒绝：{status}（空行不计入来源行）")
        for name, n in sorted(self.counters.items()):
            lines.append(f"  {name}：{n}")
        reasons = Counter()
        examples: dict[str, str] = {}
        for e in self.sorted_entries():
            if e.outcome == "rejected":
                r = _reason_class(e.reason)
                reasons[r] += 1
                examples.setdefault(r, f"{e.file}{'!' + e.sheet if e.sheet else ''} 第 {e.row} 行")
        if reasons:
            lines.append("  拒绝原因（每行的原因见报告 CSV）：")
            for r, n in reasons.most_common(max_reasons):
                lines.append(f"    {n:>5} × {r}（如 {examples[r]}）")
            if len(reasons) > max_reasons:
                lines.append(f"    … 另有 {len(reasons) - max_reasons} 类")
        return "\n".join(lines)


def _reason_class(reason: str) -> str:
    """The reason without its row-specific detail (text after the first ：)."""
    return reason.split("：", 1)[0]


def _fit(text: str, width: int) -> str:
    w = sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
    if w <= width:
        return text + " " * (width - w)
    while sum(2 if ord(ch) > 0x2E80 else 1 for ch in text) > width - 1:
        text = text[1:]
    return "…" + text
