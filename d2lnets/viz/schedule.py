"""The one-cycle schedule in the open: the learning rate and the momentum at every step.

``torch.optim.lr_scheduler.OneCycleLR`` (Smith and Topin, 2017, "Super-convergence") warms the
learning rate up from ``max_lr / div_factor`` to ``max_lr`` over the first ``pct_start`` of the
steps, then anneals it down to ``max_lr / (div_factor * final_div_factor)``; the momentum moves
the other way, from ``max_momentum`` (0.95) down to ``base_momentum`` (0.85) at the peak and back.
It does so even for an optimizer built without momentum (``torch.optim.SGD(params, lr)``): with
``cycle_momentum=True``, its default, it sets the momentum of every step. :func:`one_cycle`
computes both curves by running torch's own scheduler on a throw-away parameter;
:func:`plot_one_cycle` draws them.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from matplotlib.figure import Figure

from ..core.validate import as_float, as_int, short
from .show import show_figure

__all__ = ["OneCycle", "one_cycle", "plot_one_cycle"]


@dataclass
class OneCycle:
    """A one-cycle schedule step by step: ``lr[i]`` and ``momentum[i]`` are used by step ``i``
    (``momentum`` is None when the schedule leaves it alone); ``peak_step`` has the highest rate."""

    lr: list[float]
    momentum: list[float] | None
    peak_step: int
    settings: dict
    fig: Figure | None = None

    @property
    def total_steps(self) -> int:
        return len(self.lr)


def _from_scheduler(s: torch.optim.lr_scheduler.OneCycleLR) -> dict:
    """The arguments ``s`` was built with, read back from it and its optimizer's first group."""
    group = s.optimizer.param_groups[0]
    phases = s._schedule_phases
    anneal = getattr(s, "_anneal_func_type", None)
    if anneal is None:  # torch before 2.4 kept the function itself
        anneal = "cos" if "cos" in getattr(s.anneal_func, "__name__", "cos") else "linear"
    settings = dict(max_lr=group["max_lr"], total_steps=s.total_steps,
                    pct_start=(phases[0]["end_step"] + 1) / s.total_steps, anneal_strategy=anneal,
                    div_factor=group["max_lr"] / group["initial_lr"],
                    final_div_factor=group["initial_lr"] / group["min_lr"],
                    three_phase=len(phases) == 3, cycle_momentum=s.cycle_momentum)
    if s.cycle_momentum:
        settings.update(base_momentum=group["base_momentum"], max_momentum=group["max_momentum"])
    return settings


def one_cycle(scheduler: torch.optim.lr_scheduler.OneCycleLR | torch.optim.Optimizer | None = None, *,
              max_lr: float | None = None, total_steps: int | None = None, epochs: int | None = None,
              steps_per_epoch: int | None = None, pct_start: float = 0.3, anneal_strategy: str = "cos",
              div_factor: float = 25.0, final_div_factor: float = 1e4, three_phase: bool = False,
              cycle_momentum: bool = True, base_momentum: float = 0.85, max_momentum: float = 0.95) -> OneCycle:
    """The learning rate and momentum of every step of a one-cycle schedule.

    Give either a ``OneCycleLR`` (its settings are read back from it), or the schedule's
    arguments as ``OneCycleLR`` takes them (``max_lr`` and ``total_steps``, or ``epochs`` and
    ``steps_per_epoch``). An optimizer in place of the scheduler supplies ``max_lr`` (its
    learning rate, as ``train_ch5(..., scheduler="onecycle")`` peaks there) and whether it has a
    momentum to cycle.
    """
    if isinstance(scheduler, torch.optim.lr_scheduler.OneCycleLR):
        settings = _from_scheduler(scheduler)
    else:
        if scheduler is not None and not isinstance(scheduler, torch.optim.Optimizer):
            raise TypeError(f"scheduler must be a torch.optim.lr_scheduler.OneCycleLR, an optimizer or None "
                            f"(then give max_lr and total_steps), got {short(scheduler)}")
        if isinstance(scheduler, torch.optim.Optimizer):
            group = scheduler.param_groups[0]
            max_lr = group.get("max_lr", group["lr"]) if max_lr is None else max_lr
            cycle_momentum = cycle_momentum and ("momentum" in scheduler.defaults or "betas" in scheduler.defaults)
        if max_lr is None:
            raise ValueError("give max_lr (the peak learning rate, train_ch5's lr) or a OneCycleLR scheduler")
        if total_steps is None:
            if epochs is None or steps_per_epoch is None:
                raise ValueError("give total_steps, or epochs and steps_per_epoch (e.g. epochs=10, "
                                 "steps_per_epoch=len(train_iter))")
            total_steps = as_int(epochs, "epochs") * as_int(steps_per_epoch, "steps_per_epoch")
        settings = dict(max_lr=as_float(max_lr, "max_lr", above=0), total_steps=as_int(total_steps, "total_steps"),
                        pct_start=as_float(pct_start, "pct_start", at_least=0, at_most=1),
                        anneal_strategy=anneal_strategy, div_factor=as_float(div_factor, "div_factor", above=0),
                        final_div_factor=as_float(final_div_factor, "final_div_factor", above=0),
                        three_phase=bool(three_phase), cycle_momentum=bool(cycle_momentum))
        if cycle_momentum:
            settings.update(base_momentum=as_float(base_momentum, "base_momentum", at_least=0, at_most=1),
                            max_momentum=as_float(max_momentum, "max_momentum", at_least=0, at_most=1))
    if settings["anneal_strategy"] not in ("cos", "linear"):
        raise ValueError(f"anneal_strategy must be 'cos' or 'linear', got {settings['anneal_strategy']!r}")
    if settings["total_steps"] < 2:
        raise ValueError(f"total_steps must be at least 2 (a warm-up and an annealing), got "
                         f"{settings['total_steps']}")
    dummy = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=settings["max_lr"], momentum=0.9)
    s = torch.optim.lr_scheduler.OneCycleLR(dummy, **settings)
    lr, momentum = [], []
    for step in range(settings["total_steps"]):
        lr.append(dummy.param_groups[0]["lr"])
        momentum.append(dummy.param_groups[0]["momentum"])
        if step + 1 < settings["total_steps"]:
            dummy.step()
            s.step()
    peak = max(range(len(lr)), key=lr.__getitem__)
    return OneCycle(lr, momentum if settings["cycle_momentum"] else None, peak, settings)


def plot_one_cycle(scheduler=None, *, steps_per_epoch: int | None = None, show: bool | None = None,
                   figsize: tuple[float, float] = (9.0, 3.0), **kwargs) -> OneCycle:
    """Draw the learning rate and the momentum of a one-cycle schedule over the steps.

    Takes what :func:`one_cycle` takes, e.g. ``plot_one_cycle(max_lr=0.1, total_steps=10 *
    len(train_iter))`` or ``plot_one_cycle(scheduler)``. With ``steps_per_epoch`` the x axis is in
    epochs. The peak (end of the warm-up) is marked. Returns the :class:`OneCycle` with ``.fig``.
    """
    if steps_per_epoch is not None:
        steps_per_epoch = as_int(steps_per_epoch, "steps_per_epoch")
        if "total_steps" not in kwargs and "epochs" in kwargs:
            kwargs["steps_per_epoch"] = steps_per_epoch
    sched = one_cycle(scheduler, **kwargs)
    per = steps_per_epoch or 1
    x = [i / per for i in range(sched.total_steps)]
    unit = "epoch" if steps_per_epoch else "step"
    panels = [("learning rate", sched.lr)] + ([("momentum", sched.momentum)] if sched.momentum else [])
    fig = Figure(figsize=figsize if len(panels) == 2 else (figsize[0] / 2 + 0.5, figsize[1]))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    peak_x = sched.peak_step / per
    for ax, (name, values) in zip(axes, panels):
        ax.plot(x, values, color="#1155cc")
        ax.axvline(peak_x, color="#888888", linestyle="--", linewidth=1)
        ax.set_xlabel(unit)
        ax.set_title(name, fontsize=10)
        ax.grid(True, alpha=0.4)
    st = sched.settings
    top = sched.lr[sched.peak_step]
    axes[0].annotate(f"peak {top:.3g}\nat {unit} {peak_x:.3g}", (peak_x, top), fontsize=8,
                     xytext=(8, -22), textcoords="offset points")
    axes[0].text(0.99, 0.97, f"start {sched.lr[0]:.3g}\nend {sched.lr[-1]:.2g}", transform=axes[0].transAxes,
                 ha="right", va="top", fontsize=8)
    if sched.momentum:
        axes[1].text(0.99, 0.05, f"{st['max_momentum']:g} → {st['base_momentum']:g} → {st['max_momentum']:g}",
                     transform=axes[1].transAxes, ha="right", va="bottom", fontsize=8)
    fig.suptitle(f"one-cycle schedule over {sched.total_steps} steps (pct_start {st['pct_start']:.2g}, "
                 f"{st['anneal_strategy']} annealing)", fontsize=9)
    fig.tight_layout()
    sched.fig = fig
    show_figure(fig, show)
    return sched
