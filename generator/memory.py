"""Giving memory back to the system between stages."""
from __future__ import annotations

import ctypes
import gc


def return_freed() -> None:
    """Collect, then hand freed heap pages back to the system: glibc keeps them
    otherwise, and what a stage let go (~0.2 GB after validation and derive,
    the chart tables after the charts stage) would still count against the
    process that holds the tables."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the memory is reused, just not returned
        pass
