"""Keep freed CPU memory for reuse while training (Linux with glibc).

glibc's ``malloc`` hands every request of 32 MB or more to the kernel as a fresh ``mmap`` and
gives it back on ``free``. Training at 224 px allocates such blocks many times per batch (the
first activation of the book's VGG-11/4 at batch 64 is 205 MB in fp32), and the kernel zeroes
every page of each one again as it is first written. On this course's 2-core build machine that page-faulting
is a third of an fp32 VGG step: allocating and filling 51 MB takes 15 ms fresh against 3 ms reused.

:func:`reuse_freed_memory` switches ``mmap`` off and trimming off for the duration, so freed
blocks stay in the heap and the next batch reuses them; on leaving it restores glibc's usual
behaviour and hands the freed memory back to the system (``malloc_trim``). Nothing numerical
changes. ``train_ch5``, ``evaluate_accuracy`` and the Fashion-MNIST loader use it on the CPU.
Reuse sets in once the heap has settled, after two or three steps; glibc may still map a block afresh
now and then (in a long-used, fragmented heap, or for a thread it has moved off the main arena),
which costs what it costs without this. The price is a higher peak: blocks of many sizes stay
in the heap (VGG-11/4 at 224 px, batch 64: 1.4 GB instead of 1.1 GB in bf16, 2.1 instead of 1.4
in fp32). Set ``D2LNETS_REUSE_MEMORY=0`` to keep glibc's defaults; on other C libraries it does nothing.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import platform
import sys
import threading
from collections.abc import Iterator

__all__ = ["available", "reuse_freed_memory"]

# mallopt parameters (malloc.h)
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD, M_MMAP_MAX = -1, -3, -4
_INT_MAX = 2**31 - 1

_lock = threading.Lock()
_depth = 0


@functools.cache
def _glibc():
    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
    except (OSError, AttributeError):
        return None
    return libc


def available() -> bool:
    """True where :func:`reuse_freed_memory` takes effect (glibc, not switched off)."""
    from .config import reuse_memory  # noqa: PLC0415 - config imports torch; memory stays light

    return reuse_memory() and _glibc() is not None


@contextlib.contextmanager
def reuse_freed_memory(device=None) -> Iterator[bool]:
    """Within the block, CPU memory that torch frees is kept for reuse instead of unmapped.

    With a ``device`` other than the CPU it does nothing. Re-entrant and thread-safe: the
    outermost block switches the setting on and off. Yields whether it took effect.
    """
    global _depth
    on_cpu = device is None or str(device).startswith("cpu")
    libc = _glibc() if on_cpu and available() else None
    if libc is None:
        yield False
        return
    with _lock:
        _depth += 1
        if _depth == 1:
            libc.mallopt(M_MMAP_MAX, 0)                 # serve large blocks from the heap too
            libc.mallopt(M_TRIM_THRESHOLD, _INT_MAX)    # and never shrink the heap meanwhile
    try:
        yield True
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                # glibc's defaults, with the mmap threshold where its own sliding threshold settles
                # once large blocks have been freed (setting the trim threshold above fixed it)
                libc.mallopt(M_MMAP_MAX, 65536)
                libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)
                libc.mallopt(M_TRIM_THRESHOLD, 64 << 20)
                libc.malloc_trim(0)
