"""The training loop: ``train_ch5`` and ``evaluate_accuracy``.

Unlike the book's ``train_ch6``, ``train_ch5`` never re-initialises the caller's weights (a model
initialises itself), honours an optimizer the caller built, stops on a NaN or infinite loss, returns
a :class:`History`, and picks fast settings for the device: ``channels_last`` tensors on the CPU and
on CUDA, with bf16 autocast on a CPU with native bf16 and on CUDA (fp16 with a gradient scaler on
GPUs without bf16). On the CPU it also keeps freed memory for reuse while it trains
(:mod:`d2lnets.memory`), which spares large activations the kernel's page faults.
``precision="fp32"`` gives fp32 arithmetic; on the CPU the same seed then gives the same History.
"""
from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from .config import default_device
from .memory import reuse_freed_memory
from .plot import Animator, in_notebook

__all__ = ["Accumulator", "History", "Timer", "TrainingDivergedError", "cpu_has_native_bf16",
           "evaluate_accuracy", "train_ch5"]


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite."""


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
    """Per-epoch results of a training run.

    Two histories are equal when their losses and accuracies are (timings are left out: they are
    never the same twice).
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    examples_per_sec: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    device: str = "cpu"
    settings: str = "fp32"

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
        return {"train_loss": self.train_loss[-1], "train_acc": self.train_acc[-1], "test_acc": self.test_acc[-1]}

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds)

    @property
    def mean_examples_per_sec(self) -> float:
        return sum(self.examples_per_sec) / len(self.examples_per_sec)

    def summary(self) -> str:
        """The book's two summary lines."""
        f = self.final
        return (f"loss {f['train_loss']:.3f}, train acc {f['train_acc']:.3f}, test acc {f['test_acc']:.3f}\n"
                f"{self.mean_examples_per_sec:.1f} examples/sec on {self.device} ({self.settings})")

    def to_dict(self) -> dict:
        return asdict(self)


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True when the CPU computes in bf16 natively (AVX-512 BF16 or AMX), where autocast pays off."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def _choose_settings(device: torch.device, precision: str, channels_last: bool | str):
    """(autocast dtype or None, use a GradScaler, channels_last) for ``device``."""
    if precision not in ("auto", "fp32", "bf16", "fp16"):
        raise ValueError(f"precision must be 'auto', 'fp32', 'bf16' or 'fp16', got {precision!r}")
    if precision == "auto":
        if device.type == "cuda":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        elif device.type == "cpu" and cpu_has_native_bf16():
            precision = "bf16"
        else:
            precision = "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("precision='fp16' needs a CUDA device; use 'bf16' or 'fp32' on the CPU")
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    if channels_last == "auto":  # oneDNN's and cuDNN's fastest convolutions read NHWC
        channels_last = device.type in ("cpu", "cuda")
    return dtype, precision == "fp16", bool(channels_last)


def _autocast(device: torch.device, dtype):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _to_device(data_iter, device: torch.device):
    """Let an in-memory loader make its batches on ``device`` (resize and augment there too)."""
    return data_iter.to(device) if hasattr(data_iter, "to") and hasattr(data_iter, "set_epoch") else data_iter


def _model_device(net: nn.Module) -> torch.device:
    p = next(net.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def evaluate_accuracy(net: nn.Module, data_iter, device=None, *, precision: str = "fp32") -> float:
    """Fraction of examples in ``data_iter`` that ``net`` classifies correctly (in eval mode)."""
    device = torch.device(device) if device is not None else _model_device(net)
    dtype, _, channels_last = _choose_settings(device, precision, "auto" if precision != "fp32" else False)
    was_training = net.training
    net.eval()
    correct, total = 0, 0
    with torch.no_grad(), _autocast(device, dtype), reuse_freed_memory(device):
        for X, y in _to_device(data_iter, device):
            X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
            if channels_last:
                X = X.contiguous(memory_format=torch.channels_last)
            correct += (net(X).argmax(dim=1) == y).sum().item()
            total += y.numel()
    net.train(was_training)
    if total == 0:
        raise ValueError("data_iter yielded no examples")
    return correct / total


class _Progress:
    """A one-line progress bar that updates in place in a notebook."""

    def __init__(self, total_batches: int) -> None:
        from IPython.display import display

        self.total, self.last = total_batches, 0.0
        self.handle = display(self._text(0, 0, ""), display_id=True)

    @staticmethod
    def _text(done: int, total: int, msg: str):
        from IPython.display import Pretty

        width = 30
        filled = width * done // total if total else 0
        return Pretty(f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} batches  {msg}")

    def update(self, done: int, msg: str, force: bool = False) -> None:
        now = time.perf_counter()
        if force or now - self.last > 0.5:
            self.last = now
            self.handle.update(self._text(done, self.total, msg))


def train_ch5(
    net: nn.Module,
    train_iter,
    test_iter,
    num_epochs: int,
    lr: float | None = None,
    device: torch.device | str | None = None,
    *,
    optimizer: torch.optim.Optimizer | None = None,
    loss: nn.Module | None = None,
    scheduler: str | torch.optim.lr_scheduler.LRScheduler | None = None,
    precision: str = "auto",
    channels_last: bool | str = "auto",
    compile: bool = False,
    verbose: bool = True,
    plot: bool | None = None,
) -> History:
    """Train ``net`` on ``train_iter``, evaluate on ``test_iter`` after every epoch.

    - ``optimizer``: used as given; by default SGD with learning rate ``lr`` (give one or the other).
    - ``loss``: default cross-entropy.
    - ``scheduler``: ``"onecycle"`` (one-cycle schedule peaking at ``lr`` or at the optimizer's
      learning rate, stepped every batch)
      or a scheduler built on ``optimizer``, stepped every batch.
    - ``precision``: ``"auto"`` (bf16 autocast where the device computes bf16 natively, fp16 with
      a gradient scaler on older GPUs, else fp32), or ``"fp32"``, ``"bf16"``, ``"fp16"``.
    - ``channels_last``: NHWC memory format; ``"auto"`` uses it on the CPU and on CUDA, in every
      precision (the same arithmetic, summed in another order: ``channels_last=False`` with
      ``precision="fp32"`` repeats the book's loop operation for operation).
    - ``compile``: run the model through ``torch.compile``.
    - ``plot``: a live plot of loss and accuracies (default: in notebooks).

    On the CPU, freed memory is kept for reuse during training
    (:func:`d2lnets.memory.reuse_freed_memory`; ``D2LNETS_REUSE_MEMORY=0`` switches that off).
    The weights are never re-initialised. A loss that becomes NaN or infinite raises
    :class:`TrainingDivergedError`.
    """
    if not isinstance(num_epochs, int) or num_epochs < 1:
        raise ValueError(f"num_epochs must be a positive integer, got {num_epochs!r}")
    if optimizer is None and lr is None:
        raise ValueError("give a learning rate (lr=0.1) or an optimizer (optimizer=torch.optim.Adam(...))")
    if optimizer is not None and lr is not None:
        raise ValueError(f"got both lr={lr} and an optimizer: set the learning rate on the optimizer "
                         "and leave lr out")
    device = torch.device(device) if device is not None else default_device()
    required = os.environ.get("D2LNETS_REQUIRE_DEVICE")
    if required and device.type != required:
        raise RuntimeError(f"D2LNETS_REQUIRE_DEVICE={required} but training would run on {device}")
    dtype, use_scaler, channels_last = _choose_settings(device, precision, channels_last)
    settings = ", ".join(filter(None, [f"{str(dtype).removeprefix('torch.')} autocast" if dtype else "fp32",
                                       "channels_last" if channels_last else "", "compiled" if compile else ""]))

    net.to(device)
    if channels_last:
        net.to(memory_format=torch.channels_last)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model = torch.compile(net) if compile else net
    if optimizer is None:
        optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss_fn = loss if loss is not None else nn.CrossEntropyLoss()
    train_iter, test_iter = _to_device(train_iter, device), _to_device(test_iter, device)
    num_batches = len(train_iter)
    if scheduler == "onecycle":  # peaks at lr, or at the learning rate the optimizer was built with
        peak = lr if lr is not None else optimizer.param_groups[0]["lr"]
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peak, total_steps=num_epochs * num_batches)
    elif isinstance(scheduler, str):
        raise ValueError(f"scheduler must be 'onecycle', a scheduler object or None, got {scheduler!r}")
    scaler = torch.amp.GradScaler(device.type) if use_scaler else None

    plot = in_notebook() if plot is None else plot
    animator = Animator(xlabel="epoch", xlim=[1, num_epochs], legend=["train loss", "train acc", "test acc"],
                        show=plot) if plot else None
    progress = _Progress(num_epochs * num_batches) if plot else None
    history = History(device=str(device), settings=settings)
    check_every = 1 if device.type == "cpu" else 25

    with reuse_freed_memory(device):  # big activations reuse freed memory (CPU, glibc)
        for epoch in range(num_epochs):
            if hasattr(train_iter, "set_epoch"):
                train_iter.set_epoch(epoch)
            model.train()
            epoch_start = time.perf_counter()
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            n = 0
            for i, (X, y) in enumerate(train_iter):
                X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
                if channels_last:
                    X = X.contiguous(memory_format=torch.channels_last)
                with _autocast(device, dtype):
                    y_hat = model(X)
                    l = loss_fn(y_hat, y)
                if l.dim() > 0:
                    l = l.mean()
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(l).backward()
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    l.backward()
                    optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                with torch.no_grad():
                    loss_sum += l.detach().float() * y.numel()
                    correct += (y_hat.argmax(dim=1) == y).sum()
                n += y.numel()
                if (i + 1) % check_every == 0 or i + 1 == num_batches:
                    running = loss_sum.item()
                    if not math.isfinite(running):
                        current_lr = optimizer.param_groups[0]["lr"]
                        raise TrainingDivergedError(
                            f"the training loss became {running} in epoch {epoch + 1}, batch {i + 1}: training "
                            f"diverged. Try a smaller learning rate (now {current_lr:g}), e.g. {current_lr / 10:g}."
                        )
                    if progress is not None:
                        progress.update(epoch * num_batches + i + 1,
                                        f"epoch {epoch + 1}/{num_epochs}, loss {running / n:.3f}")
            if n == 0:
                raise ValueError("train_iter yielded no examples")
            train_seconds = time.perf_counter() - epoch_start
            test_acc = evaluate_accuracy(model, test_iter, device, precision=precision)
            history.train_loss.append(loss_sum.item() / n)
            history.train_acc.append(correct.item() / n)
            history.test_acc.append(test_acc)
            history.examples_per_sec.append(n / train_seconds)
            history.seconds.append(time.perf_counter() - epoch_start)
            if animator is not None:
                animator.add(epoch + 1, [history.train_loss[-1], history.train_acc[-1], test_acc])
            elif verbose:
                print(f"epoch {epoch + 1}/{num_epochs}: loss {history.train_loss[-1]:.3f}, "
                      f"train acc {history.train_acc[-1]:.3f}, test acc {test_acc:.3f}, "
                      f"{history.examples_per_sec[-1]:.1f} examples/sec, {history.seconds[-1]:.1f} s", flush=True)
    if progress is not None:
        progress.update(num_epochs * num_batches, f"done in {history.total_seconds:.1f} s", force=True)
    if verbose:
        print(history.summary())
    _log_run(history)
    return history


def _log_run(history: History) -> None:
    """Append the run to ``$D2LNETS_RUN_LOG`` (CI uses it to prove training ran on the GPU)."""
    path = os.environ.get("D2LNETS_RUN_LOG")
    if path:
        record = {"device": history.device, "settings": history.settings, **history.final,
                  "examples_per_sec": history.mean_examples_per_sec, "epochs": history.num_epochs}
        with open(path, "a") as f:
            f.write(json.dumps(record) + "\n")
