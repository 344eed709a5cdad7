"""What ``train_ch5`` does beyond the book's loop, each concern a hook.

Every hook has the same methods, each called with the :class:`~.run.Run` (the network, the
optimizer, the History, where the loop is and the epoch's running sums on the device)::

    on_fit_start(run)    on_epoch_start(run)    on_step_end(run)    on_epoch_end(run)    on_fit_end(run)
    state_dict() -> dict            load_state_dict(state)

A hook keeps its own state and never reads another hook's; what it must keep across an
interruption it gives in ``state_dict`` (a checkpoint saves every hook's under ``hook.name``). No
hook reads a number from the device: between epochs the run's ``seen`` holds what the loop read
(every step on the CPU, every 50 steps on an accelerator), so a hook never makes the host wait.

The loop's own hooks, in the order they run: :class:`StepPoints` (the History's points every few
steps), :class:`DivergenceGuard` (stop and put everything back when the loss or the weights stop
being finite), :class:`ShowProgress` (live plot and progress bar in a notebook, a line per epoch
elsewhere); then the caller's ``hooks``; then checkpoints (:class:`~.checkpoint.Checkpoints`),
the run's record (:class:`~.records.RecordRun`) and the processes (:class:`~.distributed.Group`).
"""
from __future__ import annotations

import math
import time

import torch

from ..core.state import cpu_copy
from ..viz.live import Animator, Progress, in_notebook
from .history import TrainingDivergedError
from .saving import model_name, unwrap

__all__ = ["DivergenceGuard", "Hook", "ShowProgress", "StepPoints"]


class Hook:
    """A concern of the training loop; override the methods it needs (each does nothing here)."""

    @property
    def name(self) -> str:
        """The key of this hook's state in a checkpoint."""
        return type(self).__name__

    def on_fit_start(self, run) -> None: ...

    def on_epoch_start(self, run) -> None: ...

    def on_step_end(self, run) -> None: ...

    def on_epoch_end(self, run) -> None: ...

    def on_fit_end(self, run) -> None: ...

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None: ...


class StepPoints(Hook):
    """The History's training loss and accuracy every few steps: about 10 points an epoch (every
    step when an epoch has at most 10 batches) and one at each epoch's end.

    A point is the loss and accuracy over the batches since the point before. Its sums are kept
    on the device (a copy of the running sums, no waiting) and turned into numbers when the run
    has read them anyway, or at the epoch's end. With several processes every point is the sum
    over all of them. Points of an epoch whose length is not known yet (a loader without
    ``len()``) are placed on the epoch axis when it ends.
    """

    def on_epoch_start(self, run) -> None:
        if run.batch == 0:  # (not a resumed epoch: its points came back with the checkpoint)
            self.pending: list = []  # (batch, [loss_sum, correct] on the device or as numbers, n)
            self.last = (0.0, 0, 0)  # the sums at the last point recorded, over every process
            self.last_batch = 0      # the batch of the last point made
            self.placed: list = []   # points made before the epoch's length was known: (batch, loss, acc)
        self.every = max(1, run.num_batches // 10) if run.num_batches else 1

    def on_step_end(self, run) -> None:
        if run.batch % self.every == 0:
            self._add(run)
        if not any(isinstance(sums, torch.Tensor) for _, sums, _ in self.pending):  # all numbers: record them
            self._flush(run)

    def on_epoch_end(self, run) -> None:
        if self.last_batch != run.batch:  # the epoch's last point, at its end
            self._add(run)
        self._flush(run)
        for batch, loss, acc in self.placed:  # the epoch's length is known now
            run.history.add_step(run.step - run.batch + batch, run.epoch + batch / run.batch, loss, acc)

    def _add(self, run) -> None:
        fresh = run.fresh and run.group is None  # (with several processes: this process's sums, added up later)
        sums = [run.seen[0], run.seen[1]] if fresh else torch.stack((run.loss_sum.double(), run.correct.double()))
        self.pending.append((run.batch, sums, run.n))
        self.last_batch = run.batch

    def _flush(self, run) -> None:
        """Turn the pending points into numbers (one read, and one sum over the processes) and record them."""
        if not self.pending:
            return
        on_device = [p for p in self.pending if isinstance(p[1], torch.Tensor)]
        if on_device:
            stacked = torch.stack([torch.cat((s, s.new_tensor([n]))) for _, s, n in on_device])
            if run.group is not None:
                run.group.sum(stacked)
            numbers = iter(stacked.tolist())
            rows = [(b, *next(numbers)) if isinstance(s, torch.Tensor) else (b, *s, n) for b, s, n in self.pending]
        else:
            rows = [(b, *s, n) for b, s, n in self.pending]
        self.pending = []
        for batch, loss_sum, correct, n in rows:
            loss0, correct0, n0 = self.last
            point = (batch, (loss_sum - loss0) / (n - n0), (correct - correct0) / (n - n0))
            self.last = (loss_sum, correct, n)
            if run.num_batches:
                run.history.add_step(run.step - run.batch + batch, run.epoch + batch / run.num_batches, *point[1:])
            else:
                self.placed.append(point)

    def state_dict(self) -> dict:
        # (a checkpoint is written after the points due at its step were added; any still on the
        # device are turned into numbers here, which waits for the device: checkpoints are rare)
        pending = [(b, s.tolist() if isinstance(s, torch.Tensor) else list(s), n) for b, s, n in self.pending]
        return {"pending": pending, "last": list(self.last), "last_batch": self.last_batch,
                "placed": [list(p) for p in self.placed]}

    def load_state_dict(self, state: dict) -> None:
        self.pending = [(b, list(s), n) for b, s, n in state["pending"]]
        self.last, self.last_batch = tuple(state["last"]), state["last_batch"]
        self.placed = [tuple(p) for p in state["placed"]]


class DivergenceGuard(Hook):
    """Stops a run whose loss or weights stop being finite, after putting the network (weights and
    batch-norm statistics), the optimizer and the scheduler back as they were at the start of the
    epoch that diverged -- before this call if it was the call's first epoch -- so that a failed run
    never leaves NaN in a network that was trained before. It keeps one copy of that state in CPU
    memory (copied without waiting for an accelerator), and looks at the loss whenever the run has
    read it and at each epoch's end, and at the weights at each epoch's end.
    """

    def __init__(self, run) -> None:
        # built before train_ch5 sets up its one-cycle schedule: the state the caller gave it
        self.net, self.optimizer = run.net, run.optimizer
        self.snapshot = self._copy(run.scheduler)
        self.first = True

    def _copy(self, scheduler) -> list:
        objects = [o for o in (self.net, self.optimizer, scheduler) if o is not None and not isinstance(o, str)]
        return [(o, cpu_copy(o.state_dict(), non_blocking=True)) for o in objects]

    def on_epoch_start(self, run) -> None:
        if not self.first or run.resumed:  # (the call's first epoch goes back to the state before the call)
            self.snapshot = None  # one copy at a time
            self.snapshot = self._copy(run.scheduler)
        self.first = False

    def on_step_end(self, run) -> None:
        if run.fresh and not math.isfinite(run.seen[0]):
            also = "" if _all_finite(run.net.parameters()) else ", and the weights are no longer finite"
            raise self._stop(run, f"the training loss became {run.seen[0]} in epoch "
                                  f"{run.epoch + 1}, batch {run.batch}{also}")

    def on_epoch_end(self, run) -> None:
        loss = run.history.train_loss[-1]
        if not math.isfinite(loss):
            raise self._stop(run, f"the training loss became {loss} in epoch {run.epoch + 1}")
        if not _all_finite(run.net.state_dict().values()):
            raise self._stop(run, f"the weights became NaN or infinite in epoch {run.epoch + 1} although the loss "
                                  "stayed finite (gradients that were not finite, or too large for the learning "
                                  "rate)")

    def _stop(self, run, what: str) -> TrainingDivergedError:
        current_lr = self.optimizer.param_groups[0]["lr"]
        if run.device.type == "cuda":
            torch.cuda.synchronize(run.device)  # the copies were made without waiting
        for obj, state in self.snapshot:
            obj.load_state_dict(state)
        run.history.truncate(run.epoch)
        back = ("as they were before this call to train_ch5" if run.epoch == 0 else
                f"as they were at the end of epoch {run.epoch}, the last complete one (its results are in this "
                "error's .history)")
        return TrainingDivergedError(
            f"{what}: training diverged. Try a smaller learning rate (now {current_lr:g}), e.g. "
            f"{current_lr / 10:g}. The network, the optimizer and the scheduler are back {back}.", run.history)


def _all_finite(tensors) -> bool:
    """No NaN or infinity in ``tensors`` (their largest magnitudes, in one read from the device)."""
    peaks = [torch.linalg.vector_norm(t.detach(), math.inf) for t in tensors if t.is_floating_point() and t.numel()]
    return math.isfinite(torch.stack(peaks).max().item()) if peaks else True


class ShowProgress(Hook):
    """What the run shows as it goes: in a notebook a live plot of the step points and each epoch's
    test accuracy, with a progress bar; elsewhere a line per epoch; and the book's two summary
    lines at the end. Only the main process (rank 0) shows anything."""

    def __init__(self, verbose: bool, plot: bool | None) -> None:
        self.verbose, self.plot = verbose, plot
        self.animator = self.bar = None

    def on_fit_start(self, run) -> None:
        self.verbose = self.verbose and run.main
        plot = (in_notebook() if self.plot is None else self.plot) and run.main
        if plot:
            title = f"{model_name(unwrap(run.net))}: {run.num_epochs} epoch{'s' * (run.num_epochs > 1)}"
            self.animator = Animator(xlabel="epoch", xlim=[0, run.num_epochs], show=True, title=title,
                                     legend=["train loss", "train acc", "test acc"])
            total = run.num_batches and run.num_epochs * run.num_batches
            self.bar = Progress(total)
        self.points = 0  # step points plotted
        self.drawn, self.draw_seconds = 0.0, 0.0  # the last redraw: when it ended, what it cost

    def on_epoch_start(self, run) -> None:
        if self.animator is not None and self.points == 0 and run.history.num_epochs:  # a resumed run
            self._plot_points(run, draw=False)
            for epoch, acc in enumerate(run.history.test_acc, 1):
                self.animator.add(epoch, [None, None, acc], draw=False)
            self.animator.draw()

    def on_step_end(self, run) -> None:
        if self.bar is not None:
            loss = f", loss {run.seen[0] / run.seen[2]:.3f}" if run.seen and run.seen[2] else ""
            self.bar.update(run.step, f"epoch {run.epoch + 1}/{run.num_epochs}{loss}")
        if self.animator is not None and len(run.history.step) > self.points:
            # at most once a second (and after every epoch), and drawing at most a fifth of the time: a
            # figure that takes a second to draw (a busy machine, a remote kernel) is not drawn every step
            now = time.perf_counter()
            redraw = now - self.drawn > max(1.0, 4 * self.draw_seconds)
            self._plot_points(run, draw=redraw)
            if redraw:
                self.drawn = time.perf_counter()
                self.draw_seconds = self.drawn - now

    def on_epoch_end(self, run) -> None:
        h = run.history
        if self.animator is not None:
            self._plot_points(run, draw=False)
            self.animator.add(h.num_epochs, [None, None, h.test_acc[-1]])
        elif self.verbose:
            print(f"epoch {h.num_epochs}/{run.num_epochs}: loss {h.train_loss[-1]:.3f}, "
                  f"train acc {h.train_acc[-1]:.3f}, test acc {h.test_acc[-1]:.3f}, "
                  f"{h.examples_per_sec[-1]:.1f} examples/sec, {h.seconds[-1]:.1f} s", flush=True)

    def on_fit_end(self, run) -> None:
        if self.bar is not None:
            self.bar.update(run.step, f"done in {run.history.total_seconds:.1f} s", force=True)
        if self.verbose:
            print(run.history.summary())

    def _plot_points(self, run, draw: bool) -> None:
        h = run.history
        for x, loss, acc in zip(h.step_epoch[self.points:], h.step_loss[self.points:], h.step_acc[self.points:]):
            self.animator.add(x, [loss, acc, None], draw=False)
        self.points = len(h.step)
        if draw:
            self.animator.draw()
