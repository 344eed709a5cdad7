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
import copy
import functools
import itertools
import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ._validate import as_float, as_int, instance_of, require, short
from .config import as_device
from .memory import reuse_freed_memory
from .plot import Animator, in_notebook

__all__ = ["Accumulator", "History", "Timer", "TrainingDivergedError", "cpu_has_native_bf16",
           "evaluate_accuracy", "train_ch5"]


class TrainingDivergedError(FloatingPointError):
    """The training loss (or the weights) became NaN or infinite.

    ``train_ch5`` first puts the network, the optimizer and the scheduler back as they were at the
    start of the epoch that diverged (before the run if it was the first); ``history`` holds the
    epochs completed before it.
    """

    def __init__(self, message: str, history: "History | None" = None) -> None:
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


def _weight_dtype(net: nn.Module) -> torch.dtype:
    """The floating dtype of ``net``'s weights (float32 when it has none yet)."""
    dtypes = {p.dtype for p in net.parameters()
              if not isinstance(p, nn.parameter.UninitializedParameter) and p.is_floating_point()}
    if len(dtypes) > 1:
        raise ValueError(f"net mixes weights of dtypes {sorted(map(str, dtypes))}; convert them to one, "
                         "e.g. net.float()")
    return dtypes.pop() if dtypes else torch.float32


def _length(data) -> int | None:
    try:
        return len(data)
    except TypeError:  # no len(), or a torch IterableDataset's loader, whose len() raises
        return None


_END = object()


def _iterable(data, name: str, passes: int, peek: bool = False):
    """``data`` ready to give ``passes`` passes of batches, or a clear error before any work.

    A one-shot iterator (a generator, ``zip``, ``iter(loader)``) gives one pass only. Emptiness is
    found by ``len()``, or by taking the first batch (of an iterator, which is then put back; of
    other iterables without ``len()`` only when ``peek``).
    """
    if isinstance(data, (str, bytes, dict, torch.Tensor, nn.Module)) or not hasattr(data, "__iter__"):
        raise TypeError(f"{name} must be an iterable of (X, y) batches (a loader, a list of (X, y) pairs, "
                        f"a generator), got {short(data)}")
    one_shot = isinstance(data, Iterator)
    if one_shot and passes > 1:
        raise ValueError(f"{name} is an iterator ({type(data).__name__}): it is used up after one pass, but "
                         f"train_ch5 goes over it {passes} times (once per epoch). Pass something that can be "
                         "iterated again: a loader, or a list of its batches, list(...)")
    if _length(data) == 0:
        raise ValueError(f"{name} is empty: it has no batches")
    if one_shot or (peek and _length(data) is None):
        first = next(iter(data), _END)
        if first is _END:
            raise ValueError(f"{name} yielded no batches")
        if one_shot:
            data = itertools.chain([first], data)
    return data


def _batch(batch, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The first batch of ``name`` as ``(X, y)``, with a clear error for what the loop cannot use."""
    where = f"the first batch of {name}"
    if isinstance(batch, dict):
        raise TypeError(f"{where} is a dict with keys {list(batch)[:5]}; batches must be (X, y) pairs of "
                        "images and labels: yield (batch[images_key], batch[labels_key]) instead")
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        what = (f"a {type(batch).__name__} of {len(batch)} items" if isinstance(batch, (tuple, list))
                else f"a tensor of shape {list(batch.shape)}" if isinstance(batch, torch.Tensor) else short(batch))
        raise TypeError(f"{where} is {what}; batches must be (X, y) pairs of images and labels. For "
                        "(X, y, ...) batches pass ((X, y) for X, y, *_ in loader); for a single batch, [(X, y)]")
    X, y = batch
    for label, t in (("X (the images)", X), ("y (the labels)", y)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"in {where}, {label} is {short(t)}, not a tensor; convert it with torch.as_tensor")
    if not X.is_floating_point():
        fix = "X.float() / 255 (pixels 0-255 to [0, 1])" if X.dtype == torch.uint8 else "X.float()"
        raise ValueError(f"in {where}, the images X are {X.dtype}; networks take floating-point images: "
                         f"convert with {fix}")
    if y.dim() == 2 and len(y) == len(X) and y.shape[1] > 1:
        raise ValueError(f"in {where}, the labels y have shape {list(y.shape)}: one-hot vectors or "
                         "probabilities; train_ch5 and evaluate_accuracy take class indices: y.argmax(dim=1)")
    if y.dtype != torch.int64 or y.dim() != 1:
        fix = "y" + (".long()" if y.dtype != torch.int64 else "") + (".reshape(-1)" if y.dim() != 1 else "")
        raise ValueError(f"in {where}, the labels y are {y.dtype} of shape {list(y.shape)}; labels are class "
                         f"indices, int64 of shape [batch]: convert with {fix}")
    if len(y) != len(X):
        raise ValueError(f"in {where}, X holds {len(X)} images but y {len(y)} labels")
    return X, y


def _check_outputs(y_hat, y: torch.Tensor, name: str) -> None:
    """On the first batch: ``net`` returns a score per class and the labels are among its classes."""
    if not isinstance(y_hat, torch.Tensor) or y_hat.dim() != 2 or len(y_hat) != len(y):
        got = f"shape {list(y_hat.shape)}" if isinstance(y_hat, torch.Tensor) else short(y_hat)
        raise ValueError(f"net must return class scores of shape [batch, classes], here [{len(y)}, classes]; "
                         f"it returned {got}")
    if y.numel() == 0:
        return
    classes, lo, hi = y_hat.shape[1], int(y.min()), int(y.max())
    said = f"the labels in the first batch of {name} go from {lo} to {hi}"
    if lo < 0:
        raise ValueError(f"{said}, but class indices start at 0 (net has {classes} outputs, classes 0 to "
                         f"{classes - 1}): map the labels to 0..{classes - 1}")
    if hi >= classes:
        from_one = " or, if the labels count from 1, use y - 1" if lo >= 1 and hi == classes else ""
        raise ValueError(f"{said}, but net has {classes} outputs (classes 0 to {classes - 1}): build the network "
                         f"with num_classes={hi + 1}{from_one}")


def _first_forward(net: nn.Module, loss, X: torch.Tensor, y: torch.Tensor, name: str):
    """The first batch's scores (and loss, if ``loss``), with errors that say which call failed on what."""
    try:
        y_hat = net(X)
    except RuntimeError as e:  # torch's words; the course's models raise ValueErrors that say more
        raise ValueError(f"net failed on the first batch of {name}, images X of shape {list(X.shape)}: {e}. Does "
                         "the network take images of this size and number of channels?") from e
    _check_outputs(y_hat, y, name)
    if loss is None:
        return y_hat, None
    try:
        l = loss(y_hat, y)
    except (RuntimeError, TypeError, ValueError) as e:
        raise ValueError(f"the loss failed on the first batch ({e}); train_ch5 calls loss(y_hat, y) with the "
                         "scores y_hat [batch, classes] and the int64 labels y [batch], as nn.CrossEntropyLoss "
                         "takes them") from e
    if not isinstance(l, torch.Tensor) or not l.requires_grad:
        raise TypeError(f"the loss returned {short(l)}; it must return a tensor computed from the network's "
                        "output, so that it has a gradient")
    return y_hat, l


def evaluate_accuracy(net: nn.Module, data_iter, device=None, *, precision: str = "fp32") -> float:
    """Fraction of examples in ``data_iter`` that ``net`` classifies correctly (in eval mode).

    The first edition's order, ``evaluate_accuracy(data_iter, net)``, works as well.
    """
    if isinstance(data_iter, nn.Module) and not isinstance(net, nn.Module):
        net, data_iter = data_iter, net
    instance_of(net, nn.Module, "net", "the network to evaluate (an nn.Module)")
    device = as_device(device) if device is not None else _model_device(net)
    return _evaluate(net, data_iter, device, precision, "data_iter")


def _evaluate(net: nn.Module, data_iter, device: torch.device, precision: str, name: str) -> float:
    dtype, _, channels_last = _choose_settings(device, precision, "auto" if precision != "fp32" else False)
    weights, data_iter = _weight_dtype(net), _iterable(data_iter, name, 1)
    was_training = net.training
    net.eval()
    correct, total = torch.zeros((), dtype=torch.long, device=device), 0
    try:
        with torch.no_grad(), _autocast(device, dtype), reuse_freed_memory(device):
            for i, batch in enumerate(_to_device(data_iter, device)):
                X, y = _batch(batch, name) if i == 0 else batch
                X, y = X.to(device, weights, non_blocking=True), y.to(device, non_blocking=True)
                if channels_last and X.dim() == 4:
                    X = X.contiguous(memory_format=torch.channels_last)
                y_hat = _first_forward(net, None, X, y, name)[0] if i == 0 else net(X)
                correct += (y_hat.argmax(dim=1) == y).sum()
                total += y.numel()
    finally:  # also on an error or Ctrl-C: the network goes back to the mode it was in
        net.train(was_training)
    if total == 0:
        raise ValueError(f"{name} yielded no examples")
    return correct.item() / total


class _Progress:
    """A one-line progress bar that updates in place in a notebook (a count when the total is unknown)."""

    def __init__(self, total_batches: int | None) -> None:
        from IPython.display import display

        self.total, self.last = total_batches, 0.0
        self.handle = display(self._text(0, total_batches, ""), display_id=True)

    @staticmethod
    def _text(done: int, total: int | None, msg: str):
        from IPython.display import Pretty

        if not total:
            return Pretty(f"{done} batches  {msg}")
        width = 30
        filled = width * min(done, total) // total
        return Pretty(f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total} batches  {msg}")

    def update(self, done: int, msg: str, force: bool = False) -> None:
        now = time.perf_counter()
        if self.handle is not None and (force or now - self.last > 0.5):  # None: not in a notebook
            self.last = now
            self.handle.update(self._text(done, self.total, msg))


def _cpu_copy(state):
    """A copy of a state dict with its tensors in CPU memory (a GPU's is better spent on activations)."""
    if isinstance(state, torch.Tensor):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):  # a shallow copy first keeps the dict's type and a module's _metadata
        copied = copy.copy(state)
        copied.update((k, _cpu_copy(v)) for k, v in state.items())
        return copied
    if isinstance(state, (list, tuple)):
        return type(state)(_cpu_copy(v) for v in state)
    return copy.deepcopy(state)


class _Snapshot:
    """Copies of the state of the network, the optimizer and the scheduler, put back when training
    diverges, so that a failed run never leaves NaN in a network that was trained before."""

    def __init__(self, *objects) -> None:
        self.objects = [o for o in objects if o is not None]
        self.states = [_cpu_copy(o.state_dict()) for o in self.objects]

    def restore(self) -> None:
        for o, state in zip(self.objects, self.states):
            o.load_state_dict(state)


def _materialise(net: nn.Module, data, device: torch.device):
    """Give lazy layers (``nn.LazyConv2d``, ...) their weights with one forward pass of the first
    batch, in eval mode and without gradients, so that they can be copied and converted before
    training; returns ``data``, with that batch put back if it is an iterator."""
    if not any(isinstance(t, nn.parameter.UninitializedTensorMixin)
               for t in itertools.chain(net.parameters(), net.buffers())):
        return data
    batches = iter(data)
    first = next(batches, _END)
    if first is _END:
        return data
    X, _ = _batch(first, "train_iter")
    was_training = net.training
    with torch.no_grad():
        net.eval()
        net(X.to(device, torch.float32))
    net.train(was_training)
    return itertools.chain([first], batches) if isinstance(data, Iterator) else data


def _all_finite(tensors) -> bool:
    """No NaN or infinity in ``tensors`` (their largest magnitudes, in one sync with the device)."""
    peaks = [torch.linalg.vector_norm(t.detach(), math.inf) for t in tensors if t.is_floating_point() and t.numel()]
    return math.isfinite(torch.stack(peaks).max().item()) if peaks else True


# How often the loop looks at the loss, by device type: every batch on the CPU, where it costs
# nothing; every 25 batches elsewhere, as reading it waits for the device. A test can set the
# CPU's to 25 to run the accelerators' path.
FINITE_CHECK_EVERY = {"cpu": 1}


def _optimizer(optimizer, net: nn.Module, lr: float | None, loss) -> torch.optim.Optimizer:
    """The optimizer to use: SGD with ``lr``, or the caller's, which must update ``net``."""
    if optimizer is None:
        params = [p for p in net.parameters() if p.requires_grad]
        if not params:
            raise ValueError(f"net ({type(net).__name__}) has no trainable parameters: there is nothing to train")
        return torch.optim.SGD(params, lr=lr)
    instance_of(optimizer, torch.optim.Optimizer, "optimizer",
                "an optimizer built over net's parameters, e.g. torch.optim.SGD(net.parameters(), lr=0.1)")
    ours = {id(p) for m in (net, loss) if isinstance(m, nn.Module) for p in m.parameters()}
    theirs = [p for group in optimizer.param_groups for p in group["params"]]
    foreign = sum(id(p) not in ours for p in theirs)
    if foreign:
        raise ValueError(
            f"the optimizer updates {foreign} of its {len(theirs)} parameter tensors that are not net's: it was "
            "built over another network (a copy, or an earlier one), so training would not change net. Build "
            f"it over this one: torch.optim.{type(optimizer).__name__}(net.parameters(), ...)")
    return optimizer


def _scheduler(scheduler, optimizer: torch.optim.Optimizer, built_here: bool):
    """Check a scheduler object: built on the optimizer that train_ch5 steps, stepped per batch."""
    if scheduler is None or scheduler == "onecycle":
        return scheduler
    if isinstance(scheduler, str):
        raise ValueError(f"scheduler must be 'onecycle', a scheduler object or None, got {scheduler!r}")
    lr_scheduler = torch.optim.lr_scheduler
    instance_of(scheduler, lr_scheduler.LRScheduler, "scheduler",
                "'onecycle', None or a scheduler built on the optimizer, e.g. "
                "torch.optim.lr_scheduler.StepLR(optimizer, step_size=1000)")
    if isinstance(scheduler, lr_scheduler.ReduceLROnPlateau):
        raise ValueError("ReduceLROnPlateau steps on a measured metric, but train_ch5 steps its scheduler "
                         "after every batch, without one: use a schedule by step count (e.g. 'onecycle')")
    if scheduler.optimizer is not optimizer:
        why = (" (with lr=..., train_ch5 builds its own SGD)" if built_here else "")
        raise ValueError(f"the scheduler was built on another optimizer than the one train_ch5 steps{why}, so "
                         "it would change a learning rate that nothing uses: build it on the optimizer and "
                         "pass both, optimizer=optimizer, scheduler=...(optimizer, ...)")
    return scheduler


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
    steps_per_epoch: int | None = None,
    precision: str = "auto",
    channels_last: bool | str = "auto",
    compile: bool = False,
    verbose: bool = True,
    plot: bool | None = None,
) -> History:
    """Train ``net`` on ``train_iter``, evaluate on ``test_iter`` after every epoch.

    - ``train_iter``, ``test_iter``: iterables of ``(X, y)`` batches, ``X`` floating-point images
      and ``y`` int64 class indices: a loader, a list, or (for one epoch) a generator.
    - ``optimizer``: used as given; by default SGD with learning rate ``lr`` (give one or the other).
    - ``loss``: default cross-entropy; with ``reduction="sum"`` the loss reported is still per example.
    - ``scheduler``: ``"onecycle"`` (one-cycle schedule peaking at ``lr`` or at the optimizer's
      learning rate, stepped every batch)
      or a scheduler built on ``optimizer``, stepped every batch.
    - ``steps_per_epoch``: the batches per epoch, for the progress bar and ``"onecycle"`` when
      ``train_iter`` has no ``len()``.
    - ``precision``: ``"auto"`` (bf16 autocast where the device computes bf16 natively, fp16 with
      a gradient scaler on older GPUs, else fp32), or ``"fp32"``, ``"bf16"``, ``"fp16"``.
    - ``channels_last``: NHWC memory format; ``"auto"`` uses it on the CPU and on CUDA, in every
      precision (the same arithmetic, summed in another order: ``channels_last=False`` with
      ``precision="fp32"`` repeats the book's loop operation for operation).
    - ``compile``: run the model through ``torch.compile``.
    - ``plot``: a live plot of loss and accuracies (default: in notebooks).

    On the CPU, freed memory is kept for reuse during training
    (:func:`d2lnets.memory.reuse_freed_memory`; ``D2LNETS_REUSE_MEMORY=0`` switches that off).
    The weights are never re-initialised. A loss or weights that become NaN or infinite raise
    :class:`TrainingDivergedError` after the network (weights and batch-norm statistics), the
    optimizer and the scheduler are put back as they were at the start of the epoch that diverged:
    before this call if it was the first epoch, else after the last complete epoch, whose results
    the error carries in ``.history``. For that it keeps one copy of that state in CPU memory.
    Lazy layers get their weights from a first forward pass (eval mode, no gradients) before
    training starts.
    """
    instance_of(net, nn.Module, "net", "the network to train (an nn.Module)")
    num_epochs = as_int(num_epochs, "num_epochs")
    if optimizer is None and lr is None:
        raise ValueError("give a learning rate (lr=0.1) or an optimizer (optimizer=torch.optim.Adam(...))")
    if optimizer is not None and lr is not None:
        raise ValueError(f"got both lr={lr} and an optimizer: set the learning rate on the optimizer "
                         "and leave lr out")
    if lr is not None:
        lr = as_float(lr, "lr", at_least=0)
    if channels_last not in (True, False, "auto"):
        raise ValueError(f"channels_last must be True, False or 'auto', got {short(channels_last)}")
    device = as_device(device)
    required = os.environ.get("D2LNETS_REQUIRE_DEVICE")
    if required and device.type != required:
        raise RuntimeError(f"D2LNETS_REQUIRE_DEVICE={required} but training would run on {device}")
    dtype, use_scaler, channels_last = _choose_settings(device, precision, channels_last)
    settings = ", ".join(filter(None, [f"{str(dtype).removeprefix('torch.')} autocast" if dtype else "fp32",
                                       "channels_last" if channels_last else "", "compiled" if compile else ""]))
    weights = _weight_dtype(net)
    if weights != torch.float32:
        raise ValueError(f"net's weights are {weights}, but train_ch5 trains float32 weights (for "
                         "bf16 arithmetic use precision='bf16', which keeps them float32): convert with net.float()")
    if loss is not None:
        require(callable(loss) and not isinstance(loss, type), loss, "loss",
                "a loss object or function, e.g. nn.CrossEntropyLoss()")
    loss_fn = loss if loss is not None else nn.CrossEntropyLoss()
    optimizer = _optimizer(optimizer, net, lr, loss_fn)
    scheduler = _scheduler(scheduler, optimizer, built_here=lr is not None)
    kind = type(train_iter).__name__
    train_iter = _iterable(train_iter, "train_iter", num_epochs)
    test_iter = _iterable(test_iter, "test_iter", num_epochs, peek=True)
    num_batches = _length(train_iter)
    if steps_per_epoch is not None:
        steps_per_epoch = as_int(steps_per_epoch, "steps_per_epoch")
        if num_batches not in (None, steps_per_epoch):
            raise ValueError(f"steps_per_epoch={steps_per_epoch}, but train_iter has {num_batches} batches; "
                             "leave steps_per_epoch out")
        num_batches = steps_per_epoch
    if scheduler == "onecycle" and num_batches is None:
        raise ValueError(f"scheduler='onecycle' needs the number of batches per epoch, but train_iter "
                         f"({kind}) has no len(): pass steps_per_epoch=N as well")

    net.to(device)
    train_iter, test_iter = _to_device(train_iter, device), _to_device(test_iter, device)
    train_iter = _materialise(net, train_iter, device)
    if channels_last:
        net.to(memory_format=torch.channels_last)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    model = torch.compile(net) if compile else net
    snapshot = _Snapshot(net, optimizer, scheduler if scheduler != "onecycle" else None)
    if scheduler == "onecycle":  # peaks at lr, or at the learning rate the optimizer was built with
        peak = lr if lr is not None else optimizer.param_groups[0]["lr"]
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peak, total_steps=num_epochs * num_batches)
    scaler = torch.amp.GradScaler(device.type) if use_scaler else None
    summed = getattr(loss_fn, "reduction", None) == "sum"  # a sum over the batch, not a mean

    plot = in_notebook() if plot is None else plot
    animator = Animator(xlabel="epoch", xlim=[1, num_epochs], legend=["train loss", "train acc", "test acc"],
                        show=plot) if plot else None
    progress = _Progress(num_batches and num_epochs * num_batches) if plot else None
    history = History(device=str(device), settings=settings)
    check_every = FINITE_CHECK_EVERY.get(device.type, 25)
    first_batch = True

    def diverged(what: str, epoch: int) -> TrainingDivergedError:
        current_lr = optimizer.param_groups[0]["lr"]
        snapshot.restore()
        back = ("as they were before this call to train_ch5" if epoch == 0 else
                f"as they were at the end of epoch {epoch}, the last complete one (its results are in this "
                "error's .history)")
        return TrainingDivergedError(
            f"{what}: training diverged. Try a smaller learning rate (now {current_lr:g}), e.g. "
            f"{current_lr / 10:g}. The network, the optimizer and the scheduler are back {back}.",
            history)

    with reuse_freed_memory(device):  # big activations reuse freed memory (CPU, glibc)
        for epoch in range(num_epochs):
            if hasattr(train_iter, "set_epoch"):
                train_iter.set_epoch(epoch)
            model.train()
            epoch_start = time.perf_counter()
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.long)
            n = i = 0
            for i, batch in enumerate(train_iter, 1):
                X, y = _batch(batch, "train_iter") if first_batch else batch
                X, y = X.to(device, torch.float32, non_blocking=True), y.to(device, non_blocking=True)
                if channels_last and X.dim() == 4:
                    X = X.contiguous(memory_format=torch.channels_last)
                with _autocast(device, dtype):
                    if first_batch:
                        y_hat, l = _first_forward(model, loss_fn, X, y, "train_iter")
                        first_batch = False
                    else:
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
                    loss_sum += l.detach().float() * (1 if summed else y.numel())
                    correct += (y_hat.argmax(dim=1) == y).sum()
                n += y.numel()
                if i % check_every == 0:
                    running = loss_sum.item()
                    if not math.isfinite(running):
                        also = "" if _all_finite(net.parameters()) else ", and the weights are no longer finite"
                        raise diverged(f"the training loss became {running} in epoch {epoch + 1}, batch {i}{also}",
                                       epoch)
                    if progress is not None:
                        progress.update(epoch * (num_batches or 0) + i,
                                        f"epoch {epoch + 1}/{num_epochs}, loss {running / n:.3f}")
            if n == 0:
                raise ValueError("train_iter yielded no examples")
            running = loss_sum.item()
            if not math.isfinite(running):
                raise diverged(f"the training loss became {running} in epoch {epoch + 1}", epoch)
            if not _all_finite(net.state_dict().values()):
                raise diverged(f"the weights became NaN or infinite in epoch {epoch + 1} although the loss "
                               "stayed finite (gradients that were not finite, or too large for the learning "
                               "rate)", epoch)
            train_seconds = time.perf_counter() - epoch_start
            test_acc = _evaluate(model, test_iter, device, precision, "test_iter")
            history.train_loss.append(running / n)
            history.train_acc.append(correct.item() / n)
            history.test_acc.append(test_acc)
            history.examples_per_sec.append(n / train_seconds)
            history.seconds.append(time.perf_counter() - epoch_start)
            if epoch + 1 < num_epochs:  # what a later epoch that diverges goes back to
                snapshot = None  # (one copy at a time)
                snapshot = _Snapshot(net, optimizer, scheduler)
            if animator is not None:
                animator.add(epoch + 1, [history.train_loss[-1], history.train_acc[-1], test_acc])
            elif verbose:
                print(f"epoch {epoch + 1}/{num_epochs}: loss {history.train_loss[-1]:.3f}, "
                      f"train acc {history.train_acc[-1]:.3f}, test acc {test_acc:.3f}, "
                      f"{history.examples_per_sec[-1]:.1f} examples/sec, {history.seconds[-1]:.1f} s", flush=True)
    if progress is not None:
        progress.update(num_epochs * (num_batches or 0) or i, f"done in {history.total_seconds:.1f} s", force=True)
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
