"""Argument checks shared by the public functions.

Each raises an error that names the argument at fault, what it should be, what it got and, where
the fix is not obvious, how to get it right. Numbers may be of any kind (Python's, NumPy's, a
one-element tensor); a bool is never a number here (``batch_size=True`` is a mistake, not 1).
"""
from __future__ import annotations

import math
import numbers
import operator

import numpy as np
import torch


def short(value: object) -> str:
    """``value`` for an error message: its repr, cut short, and what it is when that is not plain."""
    if isinstance(value, type):
        return f"the class {value.__name__}"
    if isinstance(value, (torch.Tensor, np.ndarray)) and value.ndim > 0:
        return f"a {type(value).__name__} of shape {list(value.shape)}"
    text = repr(value)
    if isinstance(value, (tuple, list)) and value and len(text) > 60:
        return f"a {type(value).__name__} of {len(value)} items, the first {short(value[0])}"
    text = text if len(text) <= 60 else text[:57] + "..."
    return text if isinstance(value, (int, float, str, type(None))) else f"{text} ({type(value).__name__})"


def _is_bool(value: object) -> bool:
    return isinstance(value, (bool, np.bool_)) or (isinstance(value, torch.Tensor) and value.dtype == torch.bool)


def _bounds(at_least, above, at_most) -> str:
    if at_least is not None and at_most is not None:
        return f"in [{at_least:g}, {at_most:g}]"
    parts = [f">= {at_least:g}" if at_least is not None else "", f"> {above:g}" if above is not None else "",
             f"<= {at_most:g}" if at_most is not None else ""]
    return " and ".join(p for p in parts if p)


def as_int(value: object, name: str, minimum: int | None = 1, hint: str = "") -> int:
    """``value`` as a Python int of at least ``minimum``, else ``ValueError`` naming ``name``."""
    if not _is_bool(value):
        try:
            number = operator.index(value)
        except TypeError:
            pass
        else:
            if minimum is None or number >= minimum:
                return number
    want = {None: "an integer", 0: "a non-negative integer", 1: "a positive integer"}.get(
        minimum, f"an integer >= {minimum}")
    raise ValueError(f"{name} must be {want}, got {short(value)}{hint}")


def as_float(value: object, name: str, *, at_least: float | None = None, above: float | None = None,
             at_most: float | None = None, hint: str = "") -> float:
    """``value`` as a finite Python float within the bounds, else ``ValueError`` naming ``name``."""
    number = None
    if isinstance(value, numbers.Real) and not _is_bool(value):
        number = float(value)
    elif isinstance(value, torch.Tensor) and value.numel() == 1 and not _is_bool(value) and not value.is_complex():
        number = float(value)
    if (number is not None and math.isfinite(number) and (at_least is None or number >= at_least)
            and (above is None or number > above) and (at_most is None or number <= at_most)):
        return number
    bounds = _bounds(at_least, above, at_most)
    raise ValueError(f"{name} must be a {'number ' + bounds if bounds else 'finite number'}, got {short(value)}{hint}")


def as_size(value: object, name: str) -> tuple[int, int]:
    """A positive int or a pair of them, as ``(height, width)``."""
    pair = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    if len(pair) != 2:
        raise ValueError(f"{name} must be a positive int or a pair (height, width) of them, got {short(value)}")
    hint = " (a size is a positive int or a pair (height, width) of them)"
    return as_int(pair[0], name, hint=hint), as_int(pair[1], name, hint=hint)


def pair(value) -> tuple[int, int]:
    """A layer's int-or-pair setting (``kernel_size``, ``stride``, ``padding``) as ``(height, width)``."""
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[-1]))


def require(ok: bool, value: object, name: str, example: str) -> None:
    """``TypeError`` unless ``ok``: ``name`` must be ``example``; a class where an object belongs is named as such."""
    if ok:
        return
    built = " (a class: build an object of it first)" if isinstance(value, type) else ""
    raise TypeError(f"{name} must be {example}, got {short(value)}{built}")


def instance_of(value: object, kind: type | tuple[type, ...], name: str, example: str) -> None:
    """``TypeError`` unless ``value`` is a ``kind``."""
    require(isinstance(value, kind), value, name, example)


def input_shape(input_size: object) -> tuple[int, ...]:
    """``input_size`` as the shape of a batch: ``(C, H, W)`` (a batch of one) or ``(B, C, H, W)``."""
    try:
        shape = tuple(as_int(s, "an entry") for s in input_size)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        shape = ()
    if len(shape) not in (3, 4):
        raise ValueError(f"input_size must be (C, H, W), the shape of one image (e.g. (1, 28, 28) for "
                         f"Fashion-MNIST), or (B, C, H, W), with positive integer entries; got {short(input_size)}")
    return (1, *shape) if len(shape) == 3 else shape
