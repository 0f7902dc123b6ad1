"""One error shape for every stage: file, row, field, message."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class DataError:
    file: str
    row: int | None  # 1-based line number in the file, header = 1; None = whole file
    field: str | None
    message: str

    def as_dict(self) -> dict:
        return {"file": self.file, "row": self.row, "field": self.field, "message": self.message}


class InvalidPackage(Exception):
    """Raised when a data package fails validation; carries every error."""

    def __init__(self, errors: list[DataError]):
        super().__init__(f"{len(errors)} validation error(s)")
        self.errors = errors

    def __reduce__(self):  # pickled whole: the build validates in a child process
        return InvalidPackage, (self.errors,)


def format_table(errors: list[DataError]) -> str:
    """A plain-text table a maintainer can read in a terminal or CI log."""
    rows = [("文件 file", "行 row", "字段 field", "问题 message")]
    rows += [(e.file, "" if e.row is None else str(e.row), e.field or "", e.message) for e in errors]
    widths = [max(_width(r[i]) for r in rows[:200]) for i in range(3)]
    lines = []
    for r in rows:
        cells = [_pad(r[i], widths[i]) for i in range(3)] + [r[3]]
        lines.append(" | ".join(cells))
        if r is rows[0]:
            lines.append("-+-".join("-" * w for w in widths) + "-+-" + "-" * 20)
    return "\n".join(lines)


def _width(text: str) -> int:
    # CJK characters take two terminal columns.
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))
