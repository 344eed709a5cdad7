"""No check passes by delegation: a learner's answer runs with the library's own implementation of
the thing its exercise asks for made unavailable.

A check names what its exercise forbids with :func:`forbids`; everything else stays allowed. Four
guards, together, every time the check runs the learner's code (:func:`d2lnets.checks._util.call`):

1. **torch functions** (``F.dropout``, ``F.batch_norm``, ``torch.ops.aten...``): a
   ``TorchFunctionMode`` sees each call however it is reached -- an alias, a helper, a layer that
   calls it;
2. **layers** (``nn.BatchNorm2d``, ``d2l.LocalResponseNorm``, torchvision's ``Bottleneck``): a global
   forward pre-hook sees any call of one, and what an answer builds (or is) is searched for one;
3. **pure-Python functions and classes** (the course's ``receptive_field`` or ``summary``,
   torchvision's ``ten_crop``): while the learner's code runs, the function object itself raises
   (its code is swapped for a stub; a class's ``__init__`` is), so every name it goes by, in every
   module and in the notebook (``d2l.receptive_field`` and ``from ... import ... as x`` alike),
   raises the message; restored afterwards, even on error;
4. **the answer's source**, before it runs: calls and imports of forbidden things, also on paths
   the check's inputs do not take, and of packages that are not even imported yet.

An entry is an object, a dotted name (``"torch.nn.functional.dropout"``; a module name forbids
everything defined in it) or a pair ``(entry, "runs the layer, ...")`` for a message of its own
(the words after "which"). Dotted names are looked up among the modules already imported (torch's
and torchvision's may be imported); nothing here imports a module that plots.
"""
from __future__ import annotations

import ast
import contextlib
import contextvars
import functools
import importlib
import inspect
import sys
import textwrap
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn.modules.module import register_module_forward_pre_hook
from torch.overrides import TorchFunctionMode

__all__ = ["Delegation", "Rule", "forbids", "guard", "inspect_built"]

WHAT = "is the thing this exercise asks you to write"
_IMPORTABLE = ("torch", "torchvision")   # packages a dotted name may import (they plot nothing)


class Delegation(AssertionError):
    """An answer used the library's implementation of what its exercise asks to write."""


@dataclass(frozen=True)
class Rule:
    entries: tuple
    instead: str

    def message(self, who: str, verb: str, name: str, what: str | None) -> str:
        return f"your {who} {verb} {name}, which {what or WHAT}; {self.instead}"


_ACTIVE: contextvars.ContextVar[Rule | None] = contextvars.ContextVar("d2lnets_forbidden", default=None)
_RUNNING = contextvars.ContextVar("d2lnets_learner_running", default=False)
_UNREAD = contextvars.ContextVar("d2lnets_answers_not_read_yet", default=None)   # scanned when first run


def forbids(*entries, instead: str) -> Callable[[Callable], Callable]:
    """Decorate a check: while it runs, its learner's code may not use ``entries``; ``instead``
    says what to use (the message reads "your lrn calls X, which is the thing this exercise asks
    you to write; {instead}"). The check leaves torch's random numbers (CPU) as it found them, and
    runs on one thread (its many tiny operations gain nothing from more, and on a busy machine
    OpenMP's waiting threads slow each one down many times), restored afterwards."""
    rule = Rule(tuple(entries), instead)

    def decorate(check: Callable) -> Callable:
        @functools.wraps(check)
        def checked(*args, **kwargs):
            tokens = _ACTIVE.set(rule), _UNREAD.set([*args, *kwargs.values()])
            threads = torch.get_num_threads()
            try:
                torch.set_num_threads(1)
                with torch.random.fork_rng(devices=[]):
                    return check(*args, **kwargs)
            finally:
                torch.set_num_threads(threads)
                _ACTIVE.reset(tokens[0])
                _UNREAD.reset(tokens[1])

        checked.rule = rule
        return checked
    return decorate


# ----------------------------------------------------------------------------------------------
# what a rule forbids, resolved to objects
# ----------------------------------------------------------------------------------------------
def _lookup(dotted: str) -> object | None:
    """The object a dotted name stands for, among the modules already imported (torch's and
    torchvision's are imported when needed); None when there is none."""
    parts = dotted.split(".")
    if parts[0] in _IMPORTABLE:
        for i in range(len(parts), 0, -1):
            try:
                importlib.import_module(".".join(parts[:i]))
                break
            except ImportError:
                continue
    for i in range(len(parts), 0, -1):
        module = sys.modules.get(".".join(parts[:i]))
        if module is not None:
            obj = module
            for attr in parts[i:]:
                obj = getattr(obj, attr, None)
            return obj
    return None


def display(obj: object, fallback: str = "") -> str:
    """``d2lnets.analysis.shapes.receptive_field (d2l.receptive_field)``: where ``obj`` lives, and its short name."""
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if not module or not name or module == "torch._ops.aten":
        return fallback or str(obj)
    full = f"{module}.{name}"
    if module.startswith("torch.nn.modules.") and getattr(nn, name, None) is obj:
        full = f"torch.nn.{name}"
    top = sys.modules.get("d2lnets")
    if module.startswith("d2lnets") and top is not None and getattr(top, name, None) is obj:
        full += f" (d2l.{name})"
    return full


@dataclass
class _Resolved:
    named: dict          # id(obj) -> (obj, display name, what)
    modules: tuple       # nn.Module subclasses
    dotted: dict         # dotted name or module prefix -> (display name, what), for the source scan


def _members(module: types.ModuleType) -> list:
    return [v for v in vars(module).values()
            if getattr(v, "__module__", None) == module.__name__ and (isinstance(v, (type, types.FunctionType)))]


def _resolve(rule: Rule) -> _Resolved:
    key = (rule, len(sys.modules))   # a module imported since may hold more of what is forbidden
    if _CACHE.get(id(rule), (None,))[0] != key:
        _CACHE[id(rule)] = (key, _resolve_now(rule))
    return _CACHE[id(rule)][1]


_CACHE: dict = {}


def _resolve_now(rule: Rule) -> _Resolved:
    named, dotted = {}, {}
    for entry in rule.entries:
        entry, what = entry if isinstance(entry, tuple) else (entry, None)
        obj = _lookup(entry) if isinstance(entry, str) else entry
        if isinstance(entry, str):
            dotted[entry] = (entry, what)
        if obj is None:
            continue
        if isinstance(obj, types.ModuleType):
            dotted[obj.__name__] = (obj.__name__, what)
            for member in _members(obj):
                named.setdefault(id(member), (member, display(member), what))
            continue
        name = entry if isinstance(entry, str) and not display(obj).startswith("d2lnets") else display(obj, entry)
        named.setdefault(id(obj), (obj, name, what))
        dotted.setdefault(display(obj).split(" ")[0], (name, what))
    modules = tuple(obj for obj, _, _ in named.values() if isinstance(obj, type) and issubclass(obj, nn.Module))
    return _Resolved(named, modules, dotted)


# ----------------------------------------------------------------------------------------------
# the guards, while the learner's code runs
# ----------------------------------------------------------------------------------------------
class _NoDelegation(TorchFunctionMode):
    def __init__(self, forbidden: dict, who: str, rule: Rule) -> None:
        super().__init__()
        self.forbidden, self.who, self.rule = forbidden, who, rule

    def __torch_function__(self, func, types, args=(), kwargs=None):
        try:
            found = self.forbidden.get(id(getattr(func, "overloadpacket", func)))
        except TypeError:
            found = None
        if found is not None:
            _, name, what = found
            raise Delegation(self.rule.message(self.who, "calls", name, what))
        return func(*args, **(kwargs or {}))


def _stub_code(message: str, n_free: int) -> types.CodeType:
    """The code of a function that raises Delegation(message), with ``n_free`` free variables."""
    free = [f"_free{i}" for i in range(n_free)]
    src = ("def _outer():\n"
           + "".join(f"    {v} = None\n" for v in free)
           + "    def _not_allowed(*_args, **_kwargs):\n"
           + "".join(f"        {v}\n" for v in free)
           + f"        raise __import__({__name__!r}, fromlist=['Delegation']).Delegation({message!r})\n"
           + "    return _not_allowed\n")
    ns: dict = {}
    exec(compile(src, "<not allowed in this exercise>", "exec"), ns)  # noqa: S102 - our own text
    return ns["_outer"]().__code__


@contextlib.contextmanager
def _stubbed(resolved: _Resolved, who: str, rule: Rule) -> Iterator[None]:
    undo = []
    try:
        for obj, name, what in resolved.named.values():
            message = rule.message(who, "calls", name, what)
            if isinstance(obj, types.FunctionType):
                code = obj.__code__
                obj.__code__ = _stub_code(message, len(code.co_freevars))
                undo.append(functools.partial(setattr, obj, "__code__", code))
            elif isinstance(obj, type) and not issubclass(obj, nn.Module):
                own = obj.__dict__.get("__init__")
                try:
                    obj.__init__ = types.FunctionType(_stub_code(message, 0), {})
                except TypeError:   # a built-in type: the torch-function guard sees it
                    continue
                undo.append(functools.partial(setattr, obj, "__init__", own) if own is not None
                            else functools.partial(delattr, obj, "__init__"))
        yield
    finally:
        for restore in reversed(undo):
            restore()


@contextlib.contextmanager
def guard(who: str) -> Iterator[None]:
    """Run the learner's code (``who``, e.g. ``"lrn"`` or ``"Residual.forward"``) under every guard
    of the check that is running; nothing when no check with a rule is running."""
    rule = _ACTIVE.get()
    if rule is None or _RUNNING.get():
        yield
        return
    resolved = _resolve(rule)
    answers = _UNREAD.get()
    if answers:   # the check has looked at what it was given (expect); now read the answers' source
        _UNREAD.set([])
        for answer in answers:
            _scan(answer, rule, resolved, who.split(".")[0])

    def hook(module: nn.Module, args: tuple) -> None:
        if isinstance(module, resolved.modules):
            name, what = _layer(type(module), resolved)
            raise Delegation(rule.message(who, "runs a", name, what))

    token = _RUNNING.set(True)
    handle = register_module_forward_pre_hook(hook) if resolved.modules else None
    try:
        with _stubbed(resolved, who, rule), _NoDelegation(resolved.named, who, rule):
            yield
    finally:
        if handle is not None:
            handle.remove()
        _RUNNING.reset(token)


def _layer(kind: type, resolved: _Resolved) -> tuple[str, str | None]:
    """The name of a forbidden layer and what it is: the library's class itself (nn.BatchNorm2d for a
    forbidden base class of it), or the forbidden class a learner's class derives from."""
    _, name, what = resolved.named[id(next(c for c in kind.__mro__ if c in resolved.modules))]
    library = kind.__module__.split(".")[0] in ("torch", "torchvision", "d2lnets", "d2l")
    return (display(kind) if library and resolved.named.get(id(kind), (None,))[0] is not kind else name), what


def inspect_built(obj: object, who: str) -> None:
    """Fail when ``obj``, a module the answer built or is, holds a forbidden layer."""
    rule = _ACTIVE.get()
    if rule is None or not isinstance(obj, nn.Module):
        return
    resolved = _resolve(rule)
    if not resolved.modules:
        return
    for m in obj.modules():
        if isinstance(m, resolved.modules):
            raise Delegation(rule.message(who, "is or holds a", *_layer(type(m), resolved)))


# ----------------------------------------------------------------------------------------------
# the answer's source
# ----------------------------------------------------------------------------------------------
def _functions(answer: object) -> list[types.FunctionType]:
    if isinstance(answer, types.FunctionType):
        return [answer]
    if isinstance(answer, type):
        return [f for f in vars(answer).values() if isinstance(f, types.FunctionType)]
    return []


def _chain(node: ast.AST) -> list[str] | None:
    """``["nn", "functional", "dropout"]`` for ``nn.functional.dropout``; None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def _follow(obj: object, attrs: list[str]) -> object | None:
    """Attributes of modules and classes only: never a property of a learner's object."""
    for attr in attrs:
        if not isinstance(obj, (types.ModuleType, type)):
            return None
        obj = getattr(obj, attr, None)
    return obj


def _scan(answer: object, rule: Rule, resolved: _Resolved, who: str) -> None:
    """Fail when the answer is a forbidden thing, holds one, or its own source calls or imports one."""
    found = _named(answer, resolved)
    if found:
        itself = resolved.named.get(id(answer), (None,))[0] is answer
        raise Delegation(rule.message(who, "is" if itself else "is built on", found[0], found[1]))
    if isinstance(answer, nn.Module):
        inspect_built(answer, who)
    functions = [f for f in _functions(answer) if f.__name__ != "<lambda>"]   # a lambda's source is its whole line

    def forbidden_name(dotted: str) -> tuple[str, str | None] | None:
        for prefix, (name, what) in resolved.dotted.items():
            if dotted == prefix or dotted.startswith(prefix + "."):
                return (name if dotted == prefix else dotted), what
        return None

    for fn in functions:
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
        except (OSError, TypeError, SyntaxError, IndentationError):
            continue
        try:
            names = {**fn.__globals__, **inspect.getclosurevars(fn).nonlocals}
        except (TypeError, ValueError):
            names = dict(fn.__globals__)
        imported = {}   # names bound by imports inside the answer -> dotted names
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    top = alias.name.split(".")[0]   # `import a.b` binds a; `import a.b as c` binds c to a.b
                    imported[alias.asname or top] = alias.name if alias.asname else top
                    found = forbidden_name(alias.name)
                    if found:
                        raise Delegation(rule.message(who, "imports", found[0], found[1]))
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    dotted = f"{node.module}.{alias.name}"
                    imported[alias.asname or alias.name] = dotted
                    found = forbidden_name(dotted) or _named(_lookup(dotted), resolved)
                    if found:
                        raise Delegation(rule.message(who, "imports", found[0], found[1]))
        for node in ast.walk(tree):
            chain = _chain(node.func) if isinstance(node, ast.Call) else None
            if not chain:
                continue
            if chain[0] in imported:
                dotted = ".".join([imported[chain[0]], *chain[1:]])
                found = forbidden_name(dotted) or _named(_lookup(dotted), resolved)
            else:
                found = _named(_follow(names.get(chain[0]), chain[1:]) if chain[0] in names else None, resolved)
            if found:
                raise Delegation(rule.message(who, "calls", found[0], found[1]))


def _named(obj: object, resolved: _Resolved) -> tuple[str, str | None] | None:
    if obj is None:
        return None
    hit = resolved.named.get(id(obj))
    if hit is not None and hit[0] is obj:
        return hit[1], hit[2]
    if isinstance(obj, type) and issubclass(obj, nn.Module) and resolved.modules and issubclass(obj, resolved.modules):
        return _layer(obj, resolved)
    return None
