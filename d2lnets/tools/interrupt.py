"""Ctrl-C in a tool: one line of ours that says what was interrupted and what was kept; exit status 130.

A tool's ``main`` is wrapped in :func:`one_line`. Where the tool knows what it was doing, it raises
:class:`Interrupted` with that line (``raise Interrupted("...") from None``); any other
``KeyboardInterrupt`` gets the general line. :func:`noting_sigint` lets a tool take Ctrl-C at a step
of its own choosing, and tell it from the errors it sets off (nbclient's ``DeadKernelError``).
"""
from __future__ import annotations

import contextlib
import functools
import signal
import sys
import threading
from collections.abc import Callable, Iterator

__all__ = ["EXIT_STATUS", "Interrupted", "noting_sigint", "one_line"]

EXIT_STATUS = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with ``line``: what was interrupted and what was kept."""

    def __init__(self, line: str) -> None:
        super().__init__(line)
        self.line = line


def one_line(prog: str) -> Callable:
    """Wrap a tool's ``main(argv)``: Ctrl-C prints ``PROG: LINE`` on stderr (no traceback) and returns 130."""
    def wrap(main: Callable) -> Callable:
        @functools.wraps(main)
        def run(argv: list[str] | None = None) -> int:
            try:
                return main(argv)
            except KeyboardInterrupt as e:
                line = e.line if isinstance(e, Interrupted) else "interrupted; files already written are kept whole"
                print(f"\n{prog}: {line}", file=sys.stderr, flush=True)
                return EXIT_STATUS
        return run
    return wrap


class _Noted:
    interrupted = False


@contextlib.contextmanager
def noting_sigint() -> Iterator[_Noted]:
    """Within: a first Ctrl-C only sets ``.interrupted`` of what this yields, for the tool to act on
    at its next step; a second one raises ``KeyboardInterrupt``. The previous handler comes back after
    (outside the main thread, where signals cannot be handled, nothing changes)."""
    noted = _Noted()
    if threading.current_thread() is not threading.main_thread():
        yield noted
        return

    def handler(signum, frame):
        if noted.interrupted:
            raise KeyboardInterrupt
        noted.interrupted = True

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, previous)
