"""Older call forms of a function, recognised by their arguments' types (as torchvision's
``handle_legacy_interface`` recognises its old keywords).

The write-ups the course grew from call ``train_ch5`` and ``evaluate_accuracy`` in positional forms
of their own. :func:`legacy_forms` lets such a call run as the keyword call it stands for, saying
so in one line; a call that looks old but fits no form gets a ``TypeError`` that shows every form.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Form", "legacy_forms"]


@dataclass(frozen=True)
class Form:
    """One older call form.

    ``signature`` and ``source`` describe it (``"train_ch5(net, ..., num_epochs)"``, ``"the book's
    first edition"``); ``match(args, kwargs)`` gives the keyword arguments the call stands for, or
    None when it does not fit; ``said(call)`` is the line printed when it does. ``once``: say it
    only the first time (for a function called after every epoch).
    """

    signature: str
    source: str
    match: Callable[[tuple, dict], dict | None]
    said: Callable[[dict], str]
    once: bool = False


def _describe(args: tuple) -> str:
    return f"{len(args)} positional arguments: " + ", ".join(type(a).__name__ for a in args)


def legacy_forms(current: str, *forms: Form, looks_old: Callable[[tuple], bool]):
    """Decorate a function whose ``current`` form (its signature, in words) is the one it is written
    in, so that calls in the older ``forms`` also work. ``looks_old(args)`` says whether a call's
    positional arguments are not in the current form; such a call must fit one of ``forms``."""
    table = "\n".join([f"  {current}   this package's"] + [f"  {f.signature}   {f.source}" for f in forms])
    said_before: set[str] = set()

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if not looks_old(args):
                return fn(*args, **kwargs)
            for form in forms:
                call = form.match(args, kwargs)
                if call is None:
                    continue
                text = form.said(call)
                if kwargs.get("verbose", True) and not (form.once and text in said_before):
                    said_before.add(text)
                    print(text, flush=True)
                return fn(**{**kwargs, **call})
            raise TypeError(f"{fn.__name__} takes one of these forms:\n{table}\nthis call has {_describe(args)}")

        wrapper.forms = forms
        wrapper.said_before = said_before  # what was said already (tests clear it)
        return wrapper

    return decorate
