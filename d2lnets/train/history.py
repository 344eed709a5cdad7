"""What a training run gives back: its :class:`History`; and the book's small helpers, ``Timer`` and ``Accumulator``."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields

from ..core.validate import short

__all__ = ["Accumulator", "History", "Timer", "TrainingDivergedError"]


class TrainingDivergedError(FloatingPointError):
    """The training loss (or the weights) became NaN or infinite.

    ``train_ch5`` first puts the network, the optimizer and the scheduler back as they were at the
    start of the epoch that diverged (before the run if it was the first); ``history`` holds the
    epochs completed before it.
    """

    def __init__(self, message: str, history: History | None = None) -> None:
        super().__init__(message)
        self.history = history


class Timer:
    """Record running times (the book's ``Timer``)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.start()

    def start(self) -> None:
        self.tik = time.perf_counter()

    def stop(self) -> float:
        self.times.append(time.perf_counter() - self.tik)
        return self.times[-1]

    def sum(self) -> float:
        return sum(self.times)


class Accumulator:
    """Sum ``n`` running totals (the book's ``Accumulator``)."""

    def __init__(self, n: int) -> None:
        self.data = [0.0] * n

    def add(self, *args) -> None:
        self.data = [a + float(b) for a, b in zip(self.data, args)]

    def reset(self) -> None:
        self.data = [0.0] * len(self.data)

    def __getitem__(self, idx: int) -> float:
        return self.data[idx]


@dataclass
class History:
    """The results of a training run: per epoch, and every few steps.

    Per epoch: ``train_loss``, ``train_acc``, ``test_acc``, ``examples_per_sec``, ``seconds``.
    Every few steps (about 10 points per epoch, every step when an epoch has at most 10 batches,
    and at the end of each epoch): ``step`` (optimizer steps so far), ``step_epoch`` (epochs so
    far, a fraction: 1.5 is half-way through the second epoch), ``step_loss`` and ``step_acc``
    (the training loss and accuracy over the batches since the point before).

    Two histories are equal when their per-epoch losses and accuracies are (timings are left out:
    they are never the same twice). :meth:`to_dict` gives plain Python types (JSON),
    :meth:`from_dict` the History back.
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    examples_per_sec: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    device: str = "cpu"
    settings: str = "fp32"
    step: list[int] = field(default_factory=list)
    step_epoch: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    step_acc: list[float] = field(default_factory=list)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, History):
            return NotImplemented
        return (self.train_loss, self.train_acc, self.test_acc) == (other.train_loss, other.train_acc, other.test_acc)

    @property
    def num_epochs(self) -> int:
        return len(self.train_loss)

    @property
    def final(self) -> dict[str, float]:
        """The last epoch's loss and accuracies."""
        if not self.train_loss:
            raise ValueError("this History holds no epoch yet: it has no final results")
        return {"train_loss": self.train_loss[-1], "train_acc": self.train_acc[-1], "test_acc": self.test_acc[-1]}

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds)

    @property
    def mean_examples_per_sec(self) -> float:
        if not self.examples_per_sec:
            raise ValueError("this History holds no epoch yet: it has no speed")
        return sum(self.examples_per_sec) / len(self.examples_per_sec)

    def summary(self) -> str:
        """The book's two summary lines."""
        f = self.final
        return (f"loss {f['train_loss']:.3f}, train acc {f['train_acc']:.3f}, test acc {f['test_acc']:.3f}\n"
                f"{self.mean_examples_per_sec:.1f} examples/sec on {self.device} ({self.settings})")

    def steps_to(self, threshold: float, metric: str = "step_acc") -> int | None:
        """The first recorded step at which ``metric`` reached ``threshold`` (an accuracy at or
        above it; for ``"step_loss"``, a loss at or below it), or None if it never did."""
        if metric not in ("step_acc", "step_loss"):
            raise ValueError(f"metric must be 'step_acc' or 'step_loss', got {metric!r}")
        values = getattr(self, metric)
        for step, value in zip(self.step, values):
            if (value <= threshold) if metric == "step_loss" else (value >= threshold):
                return step
        return None

    def add_step(self, step: int, epoch: float, loss: float, acc: float) -> None:
        self.step.append(int(step))
        self.step_epoch.append(float(epoch))
        self.step_loss.append(float(loss))
        self.step_acc.append(float(acc))

    def drop_steps_after(self, epochs: int) -> None:
        """Forget the step points past ``epochs`` complete epochs (those of an epoch that failed)."""
        keep = sum(e <= epochs for e in self.step_epoch)
        for name in ("step", "step_epoch", "step_loss", "step_acc"):
            del getattr(self, name)[keep:]

    def truncate(self, epochs: int) -> None:
        """Forget everything past ``epochs`` complete epochs (the results of an epoch that failed)."""
        for name in ("train_loss", "train_acc", "test_acc", "examples_per_sec", "seconds"):
            del getattr(self, name)[epochs:]
        self.drop_steps_after(epochs)

    def to_dict(self) -> dict:
        """Plain Python types only (lists of numbers, strings): ``json.dumps`` takes it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> History:
        """The History that :meth:`to_dict` gave ``data`` from."""
        if not isinstance(data, dict):
            raise TypeError(f"data must be the dict that History.to_dict() returned, got {short(data)}")
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"a History has no field {sorted(unknown)[0]!r}; its fields are "
                             f"{', '.join(sorted(names))}")
        return cls(**{k: list(v) if isinstance(v, (list, tuple)) else v for k, v in data.items()})
