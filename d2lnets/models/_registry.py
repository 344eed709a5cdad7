"""Every model name, registered once: ``list_models``, ``get_model``, the package's ``__all__``,
the converter and the ``variant="d2l"`` error all read this registry (as torchvision's
``register_model``)."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from torch import nn

__all__ = ["book_models", "check_variant", "get_model", "list_models", "register_model"]

F = TypeVar("F", bound=Callable[..., nn.Module])
_MODELS: dict[str, Callable[..., nn.Module]] = {}
_BOOK: list[str] = []  # the factories that build the book's network with variant="d2l", in course order


def register_model(name: str | None = None, *, book: bool = False) -> Callable[[F], F]:
    """Register a factory under ``name`` (default: its function name); ``book=True`` when
    ``factory(variant="d2l")`` builds one of the book's networks."""
    def wrap(fn: F) -> F:
        key = name or fn.__name__
        if key in _MODELS:
            raise ValueError(f"a model named {key!r} is already registered")
        _MODELS[key] = fn
        if book:
            _BOOK.append(key)
        return fn
    return wrap


def list_models() -> list[str]:
    """Names of the model factories, sorted: ``get_model(name)`` builds one."""
    return sorted(_MODELS)


def get_model(name: str, **kwargs) -> nn.Module:
    """Call the factory ``name`` (see :func:`list_models`) with ``kwargs``."""
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; available: {', '.join(list_models())}")
    return _MODELS[name](**kwargs)


def book_models() -> str:
    """The calls that build the book's networks, for messages."""
    course = ("lenet", "alexnet", "vgg", "resnet", "densenet")  # the chapters' order
    names = sorted(_BOOK, key=lambda n: next((i for i, f in enumerate(course) if n.startswith(f)), len(course)))
    return ", ".join(f'{n}(variant="d2l")' + (" (width_ratio=4: the book's 1/4 width)" if n == "vgg11" else "")
                     for n in names)


def check_variant(factory: str, variant: str, variants: tuple[str, ...]) -> str:
    """``variant`` if ``factory`` builds it; else a ``ValueError`` that lists what it builds (and,
    for ``"d2l"``, which factories build the book's networks)."""
    if variant in variants:
        return variant
    if variant == "d2l":
        raise ValueError(f"{factory} has no book version (variant='d2l'); the book's five networks are "
                         f"{book_models()}. variant must be one of {variants}")
    raise ValueError(f"variant must be one of {variants}, got {variant!r}")
