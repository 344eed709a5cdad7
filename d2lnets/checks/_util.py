"""What every check shares."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any


def not_written(name: str) -> AssertionError:
    """The failure for a learner's unsolved stub (it raised NotImplementedError)."""
    return AssertionError(f"{name} is not written yet: replace the `raise NotImplementedError` line "
                          "with your solution and run its cell again")


def call(fn: Callable, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call the learner's ``fn``, turning the stub's NotImplementedError into a clear failure."""
    try:
        return fn(*args, **kwargs)
    except NotImplementedError as e:
        raise not_written(name) from e
