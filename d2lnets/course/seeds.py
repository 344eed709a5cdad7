"""Experiments over seeds: one configuration trained from several seeds, two compared seed by seed.

An experiment trains each configuration it compares (each *arm*) from the same seeds. The seed fixes
the initial weights and the run's other random draws (dropout's masks, an augmentation seeded with
it); the loaders deal their batches in an order of their own, the same for every seed and arm. Two
runs with the same seed therefore differ only in what the experiment changes, and their difference,
seed by seed (:func:`paired`), is what ``d2l.report(..., paired=...)`` judges.

    M = d2l.recipe("02_alexnet", "mini_alexnet")
    tiling = seeds.train_seeds(lambda: mini_alexnet(overlap=False), M, train_iter, test_iter)
    print(seeds.table({"overlapping": overlapping, "tiling": tiling}))
    d2l.report("overlap_gain", paired=seeds.paired(overlapping, tiling), what="overlapping pooling")

A race (ReLU against tanh) counts the optimizer steps each run took to reach a training error
(:func:`steps_to_error`); :func:`speedup` divides them seed by seed.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from ..analysis.evaluate import evaluate_accuracy
from ..core.config import set_seed
from ..core.validate import as_float, short
from ..train.history import History
from ..train.loop import train_ch5
from .recipes import Recipe

__all__ = ["Runs", "finals", "make_optimizer", "paired", "race", "speedup", "spread", "steps_to_error", "table",
           "train_seeds"]

# gap: training accuracy minus test accuracy; final_test_acc: on train_seeds' final_test_iter
KEYS = ("train_loss", "train_acc", "test_acc", "gap", "final_test_acc")


class Runs(list):
    """The Histories of one configuration, one per seed (a list), with the ``seeds`` they were
    trained from and, when :func:`train_seeds` was given a ``final_test_iter``, ``final_test_acc``:
    each trained network's accuracy on it."""

    def __init__(self, histories: Sequence[History], seeds: Sequence[int], final_test_acc=None) -> None:
        super().__init__(histories)
        self.seeds = list(seeds)
        self.final_test_acc = None if final_test_acc is None else list(final_test_acc)


def make_optimizer(net: nn.Module, R: Recipe, lr: float | None = None) -> torch.optim.Optimizer:
    """The optimizer ``R`` names for ``net``: SGD with its momentum, or Adam; its weight decay and
    its lr (or ``lr``)."""
    lr = R.lr if lr is None else as_float(lr, "lr", above=0)
    if R.optimizer == "adam":
        return torch.optim.Adam(net.parameters(), lr=lr, weight_decay=R.weight_decay)
    return torch.optim.SGD(net.parameters(), lr=lr, momentum=R.momentum, weight_decay=R.weight_decay)


def train_seeds(make_net: Callable[[], nn.Module], R: Recipe, train_iter, test_iter, *,
                seeds: Sequence[int] | None = None, num_epochs: int | None = None, lr: float | None = None,
                final_test_iter=None) -> Runs:
    """Train ``make_net()`` once per seed as the recipe ``R`` says (its optimizer, momentum, weight
    decay and schedule; ``lr``, else ``R.lr``; ``num_epochs``, else ``R.num_epochs``; ``seeds``,
    else ``R.options["seeds"]``), quietly, and return the runs' Histories.

    ``train_iter`` may be a function of the seed that returns the batches (an augmentation seeded
    with the run's seed). ``final_test_iter``: after training, each network's accuracy on it (the
    whole test set, while the curves use a part) is kept in the result's ``final_test_acc``.
    """
    if not callable(make_net) or isinstance(make_net, nn.Module):
        raise TypeError(f"make_net must be a function that builds a new network, e.g. lambda: mini_alexnet(), "
                        f"got {short(make_net)}")
    if not isinstance(R, Recipe):
        raise TypeError(f"R must be a recipe, e.g. d2l.recipe('02_alexnet', 'mini_alexnet'), got {short(R)}")
    seeds = R.options.get("seeds") if seeds is None else seeds
    if (not isinstance(seeds, Sequence) or isinstance(seeds, str) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)):
        raise ValueError(f"seeds must be a non-empty list of integers, e.g. (0, 1, 2), got {short(seeds)}"
                         + ("" if "seeds" in R.options else f" (recipe {R.name!r} lists no seeds: pass seeds=...)"))
    histories, accuracies = [], []
    for seed in seeds:
        set_seed(seed)
        net = make_net()
        batches = train_iter(seed) if callable(train_iter) and not hasattr(train_iter, "__iter__") else train_iter
        optimizer = make_optimizer(net, R, lr)
        histories.append(train_ch5(net, batches, test_iter, num_epochs or R.num_epochs, optimizer=optimizer,
                                   scheduler=R.schedule, plot=False, verbose=False))
        if final_test_iter is not None:
            accuracies.append(evaluate_accuracy(net, final_test_iter))
    return Runs(histories, seeds, accuracies if final_test_iter is not None else None)


def finals(runs: Sequence[History], key: str = "test_acc") -> list[float]:
    """Each run's final value of ``key``: ``train_loss``, ``train_acc``, ``test_acc``, ``gap`` (the
    training accuracy minus the test accuracy) or ``final_test_acc`` (the accuracy on
    :func:`train_seeds`' ``final_test_iter``)."""
    if key not in KEYS:
        raise ValueError(f"key must be one of {', '.join(KEYS)}, got {key!r}")
    if not runs or not all(isinstance(h, History) for h in runs):
        raise TypeError(f"runs must be a non-empty list of Histories (what train_seeds returns), got {short(runs)}")
    if key == "final_test_acc":
        if getattr(runs, "final_test_acc", None) is None:
            raise ValueError("these runs hold no final_test_acc: train them with train_seeds(..., final_test_iter=...)")
        return list(runs.final_test_acc)
    if key == "gap":
        return [h.final["train_acc"] - h.final["test_acc"] for h in runs]
    return [h.final[key] for h in runs]


def paired(a, b, key: str = "test_acc") -> list[float]:
    """Arm ``a`` minus arm ``b``, seed by seed: two lists of per-seed values, or two :class:`Runs`
    (their final ``key``, as :func:`finals`), trained from the same seeds in the same order."""
    if isinstance(a, Runs) and isinstance(b, Runs) and a.seeds != b.seeds:
        raise ValueError(f"the two arms were trained from different seeds ({a.seeds} and {b.seeds}); a paired "
                         "comparison needs the same seeds in the same order")
    a = finals(a, key) if a and isinstance(a[0], History) else list(a)
    b = finals(b, key) if b and isinstance(b[0], History) else list(b)
    if len(a) != len(b) or not a:
        raise ValueError(f"paired needs one value per seed in each arm, the same number: got {len(a)} and {len(b)}")
    return [x - y for x, y in zip(a, b)]


def spread(values: Sequence[float]) -> str:
    """``mean (min-max)`` of per-seed values, to three decimals."""
    values = list(values)
    if not values:
        raise ValueError("spread needs at least one value")
    return f"{sum(values) / len(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def table(runs: dict[str, Sequence[History]], keys: Sequence[str] = ("train_acc", "test_acc", "gap")) -> str:
    """A table of each configuration's final ``keys`` over its seeds: mean (min-max)."""
    if not isinstance(runs, dict) or not runs:
        raise TypeError(f"runs must be a dict {{name: runs of train_seeds}}, got {short(runs)}")
    names = {"train_loss": "train loss", "train_acc": "train acc", "test_acc": "test acc", "gap": "train-test gap"}
    width = max(len(name) for name in runs)
    counts = sorted({len(hs) for hs in runs.values()})
    lines = [f"final values over {'/'.join(map(str, counts))} seeds: mean (min-max)",
             " " * width + "".join(f" {names.get(k, k):>19}" for k in keys)]
    for name, hs in runs.items():
        lines.append(f"{name:<{width}}" + "".join(f" {spread(finals(hs, k)):>19}" for k in keys))
    return "\n".join(lines)


def steps_to_error(history: History, error: float) -> tuple[int, bool]:
    """The first recorded optimizer step at which the run's training error (over the batches since
    the point before) was at most ``error``, and True; or, when it never got there, the run's last
    step and False (the steps it would have needed are more than that)."""
    error = as_float(error, "error", above=0, at_most=1)
    if not isinstance(history, History) or not history.step:
        raise ValueError(f"history must be a History with step points (what train_ch5 returns), got "
                         f"{short(history)}")
    step = history.steps_to(1 - error)
    return (step, True) if step is not None else (history.step[-1], False)


def race(runs: dict[str, Sequence[History]], error: float) -> str:
    """A table of the steps each run took to reach the training ``error``, per seed (``>N``: it
    had not reached it after its N steps)."""
    lines = [f"optimizer steps to {error:.0%} training error, per seed:"]
    for name, hs in runs.items():
        cells = [f"{'' if reached else '>'}{step}" for step, reached in (steps_to_error(h, error) for h in hs)]
        lines.append(f"{name:>8}: " + " ".join(f"{c:>5}" for c in cells))
    return "\n".join(lines)


def speedup(fast: Sequence[History], slow: Sequence[History], error: float) -> list[float]:
    """Per seed, the steps ``slow`` needed to reach the training ``error`` divided by the steps
    ``fast`` needed: above 1 where ``fast`` got there sooner. A run that never got there counts its
    last step, a lower bound of what it needed; that keeps the ratio's direction and moves it
    towards 1."""
    if len(fast) != len(slow) or not fast:
        raise ValueError(f"speedup needs one run per seed in each arm, the same number: got {len(fast)} and "
                         f"{len(slow)}")
    out = []
    for f, s in zip(fast, slow):
        (steps_f, _), (steps_s, _) = steps_to_error(f, error), steps_to_error(s, error)
        out.append(steps_s / steps_f)
    return out
