"""What every check shares."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import permutations, product
from typing import Any

import torch
from torch import nn

from ..core.validate import short
from ._forbid import guard, inspect_built


def not_written(name: str) -> AssertionError:
    """The failure for a learner's unsolved stub (it raised NotImplementedError)."""
    return AssertionError(f"{name} is not written yet: replace the `raise NotImplementedError` line "
                          "with your solution and run its cell again")


def expect(obj: object, check: str, signature: str, kind: str) -> None:
    """Fail clearly when a check is given something other than what it calls.

    ``kind`` is what ``signature`` names: ``"function"`` (called for a result), ``"class"`` or
    ``"factory"`` (called to build a module), or ``"factory or module"`` (a built one will do).
    """
    name = signature.split("(")[0]
    what = "class" if kind == "class" else "function"
    if kind == "factory or module" and isinstance(obj, nn.Module):
        return
    if obj is None:
        why = f"got None: run the cell that defines {name} first"
    elif isinstance(obj, str):
        why = f"got the string {obj!r}: pass {name} itself, without quotes"
    elif isinstance(obj, nn.Module) and kind == "function":
        why = (f"got a built {type(obj).__name__} layer: the check calls a function and checks what it returns; "
               f"write {name} as a function, def {signature}: ...")
    elif isinstance(obj, nn.Module):
        why = (f"got a built {type(obj).__name__} module: pass the {what} that builds it, {check}({name}), "
               f"not {check}({name}(...))")
    elif isinstance(obj, type) and kind == "function":
        why = (f"got the class {obj.__name__}: the check calls a function and checks what it returns; "
               f"write {name} as a function, def {signature}: ...")
    elif not callable(obj):
        why = f"got {short(obj)}: pass {name} itself, not a value it returned"
    else:
        return
    raise AssertionError(f"{check} takes your {what} {signature} itself, as in {check}({name}); {why}")


def call(fn: Callable, name: str, *args: Any, **kwargs: Any) -> Any:
    """Call the learner's ``fn`` under the running check's guards against delegation (what it
    builds is searched too), turning the stub's NotImplementedError into a clear failure, and a
    call that does not fit its parameters (a TypeError) into one that says how the check calls it."""
    try:
        with guard(name):
            result = fn(*args, **kwargs)
        inspect_built(result, name)
        return result
    except NotImplementedError as e:
        raise not_written(name) from e
    except TypeError as e:
        shown = ", ".join([_arg(a) for a in args] + [f"{k}={_arg(v)}" for k, v in kwargs.items()])
        raise AssertionError(f"the check called {name}({shown}) and it raised TypeError: {e}. Does {name} "
                             "take these arguments, and is it the function or class the exercise asks for?") from e


def _arg(value: object) -> str:
    return f"<tensor {list(value.shape)}>" if isinstance(value, torch.Tensor) else short(value)


def randomize(ref: nn.Module, seed: int = 0, scale: float = 0.3) -> nn.Module:
    """``ref`` in eval mode with random weights and batch-norm statistics (seeded), so that every
    mistake in a learner's copy of it changes the output."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in ref.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * scale)
        for m in ref.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.3)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
    return ref.eval()


def assignments(mine: nn.Module, ref: nn.Module, kinds: tuple = (nn.Conv2d, nn.BatchNorm2d)) -> Iterator[None]:
    """Load ``ref``'s layers of ``kinds`` into the learner's ``mine`` in every way that fits -- layers of
    the same kind and the same parameter shapes, in any order -- yielding after each; nothing when
    the learner's layers do not pair up with the reference's."""
    def signature(m: nn.Module) -> tuple:
        kind = next(i for i, k in enumerate(kinds) if isinstance(m, k))
        return kind, tuple((name, tuple(t.shape)) for name, t in m.state_dict().items())

    groups: dict = {}
    for side, net in enumerate((mine, ref)):
        for m in net.modules():
            if isinstance(m, kinds):
                groups.setdefault(signature(m), ([], []))[side].append(m)
    if any(len(a) != len(b) for a, b in groups.values()):
        return
    for orders in product(*[permutations(theirs) for _, theirs in groups.values()]):
        with torch.no_grad():
            for (layers, _), theirs in zip(groups.values(), orders):
                for a, b in zip(layers, theirs):
                    a.load_state_dict(b.state_dict())
        yield
