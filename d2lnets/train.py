"""The training loop: ``train_ch5`` and ``evaluate_accuracy``.

Unlike the book's ``train_ch6``, ``train_ch5`` never re-initialises the caller's weights (a model
initialises itself), honours an optimizer the caller built, stops on a NaN or infinite loss, returns
a :class:`History` (per epoch, and every few steps), and trains in the device's fast settings
(:mod:`d2lnets.precision`). On the CPU it also keeps freed memory for reuse while it trains
(:mod:`d2lnets.memory`), which spares large activations the kernel's page faults.
``precision="fp32"`` gives fp32 arithmetic; on the CPU the same seed then gives the same History.
The live plot and progress bar are :mod:`d2lnets.plot`'s; the record of each run is
:mod:`d2lnets.records`'.
"""
from __future__ import annotations

import copy
import itertools
import math
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields

import torch
from torch import nn

from . import config, records
from ._validate import as_float, as_int, instance_of, require, short
from .checkpoint import Checkpointer, run_identity
from .config import as_device
from .distributed import group_for
from .memory import reuse_freed_memory
from .plot import Animator, Progress, in_notebook
from .precision import Settings, autocast, choose_settings, cpu_has_native_bf16

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

    def to_dict(self) -> dict:
        """Plain Python types only (lists of numbers, strings): ``json.dumps`` takes it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        """The History that :meth:`to_dict` gave ``data`` from."""
        if not isinstance(data, dict):
            raise TypeError(f"data must be the dict that History.to_dict() returned, got {short(data)}")
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"a History has no field {sorted(unknown)[0]!r}; its fields are {', '.join(sorted(names))}")
        return cls(**{k: list(v) if isinstance(v, (list, tuple)) else v for k, v in data.items()})


# The settings once lived here; benchmarks/run.py still reads them under these names.
def _choose_settings(device: torch.device, precision: str, channels_last: bool | str):
    """(autocast dtype or None, use a GradScaler, channels_last): :func:`d2lnets.precision.choose_settings`
    as a tuple, for code written before it."""
    s = choose_settings(device, precision, channels_last)
    return s.dtype, s.scaler, s.channels_last


_autocast = autocast  # takes an autocast dtype (or None) as well as Settings
_Progress = Progress  # now d2lnets.plot.Progress
_log_run = records.log_run  # now d2lnets.records.log_run

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


_EVALUATE_FORMS = (
    "  evaluate_accuracy(net, data_iter, device=None)   this package's (the book's evaluate_accuracy_gpu)\n"
    "  evaluate_accuracy(data_iter, net, device=None)   the book's first edition (PyTorch port)")


_SAID: set[str] = set()  # the lines about older call forms said so far


def evaluate_accuracy(net: nn.Module, data_iter, device=None, *extra, precision: str = "fp32") -> float:
    """Fraction of examples in ``data_iter`` that ``net`` classifies correctly (in eval mode).

    The first edition's order, ``evaluate_accuracy(data_iter, net, device)``, works as well (it
    says so in one line, the first time).
    """
    if extra or (not isinstance(net, nn.Module) and not isinstance(data_iter, nn.Module)):
        if extra or (not hasattr(net, "__iter__") and not hasattr(data_iter, "__iter__")):
            raise TypeError("evaluate_accuracy takes one of these forms:\n" + _EVALUATE_FORMS +
                            f"\nthis call has {_describe_args((net, data_iter, device, *extra))}")
    if isinstance(data_iter, nn.Module) and not isinstance(net, nn.Module):
        net, data_iter = data_iter, net
        where = "" if device is None else f", device={str(device)!r}"
        said = (f"evaluate_accuracy(data_iter, net{', device' if device is not None else ''}) is the first "
                f"edition's order; it stands for evaluate_accuracy(net, data_iter{where})")
        if said not in _SAID:  # once: the first edition calls it after every epoch
            _SAID.add(said)
            print(said, flush=True)
    instance_of(net, nn.Module, "net", "the network to evaluate (an nn.Module)")
    device = as_device(device) if device is not None else _model_device(net)
    return _evaluate(net, data_iter, device, precision, "data_iter")


def _evaluate(net: nn.Module, data_iter, device: torch.device, precision: str, name: str) -> float:
    settings = choose_settings(device, precision, "auto" if precision != "fp32" else False)
    weights, data_iter = _weight_dtype(net), _iterable(data_iter, name, 1)
    was_training = net.training
    net.eval()
    correct, total = torch.zeros((), dtype=torch.long, device=device), 0
    try:
        with torch.no_grad(), autocast(device, settings), reuse_freed_memory(device):
            for i, batch in enumerate(_to_device(data_iter, device)):
                X, y = _batch(batch, name) if i == 0 else batch
                X, y = X.to(device, weights, non_blocking=True), y.to(device, non_blocking=True)
                if settings.channels_last and X.dim() == 4:
                    X = X.contiguous(memory_format=torch.channels_last)
                y_hat = _first_forward(net, None, X, y, name)[0] if i == 0 else net(X)
                correct += (y_hat.argmax(dim=1) == y).sum()
                total += y.numel()
    finally:  # also on an error or Ctrl-C: the network goes back to the mode it was in
        net.train(was_training)
    if total == 0:
        raise ValueError(f"{name} yielded no examples")
    return correct.item() / total


def _describe_args(args) -> str:
    return f"{len(args)} positional arguments: " + ", ".join(type(a).__name__ for a in args)


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


# --- the calls that the write-ups use --------------------------------------------------------------

_TRAIN_FORMS = (
    "  train_ch5(net, train_iter, test_iter, num_epochs, lr=None, device=None, *, optimizer=None, loss=None, ...)"
    "   this package's\n"
    "  train_ch5(net, train_iter, test_iter, batch_size, optimizer, device, num_epochs)"
    "   the book's first edition (PyTorch port)\n"
    "  train_ch5(net, train_iter, test_iter, criterion, num_epochs, batch_size, device, lr)"
    "   the AlexNet write-up")


def _is_count(x) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _is_loss(x) -> bool:
    return (isinstance(x, nn.Module) or callable(x)) and not isinstance(x, (type, torch.optim.Optimizer))


def _legacy_train_call(args: tuple, keywords: dict) -> dict | None:
    """The keyword form of a ``train_ch5`` call in an older positional form, or None for a call in
    this package's form; a TypeError that shows the forms for a call that fits none.

    ``args`` are the positional arguments (net, train_iter, test_iter, and what came after them),
    ``keywords`` the keyword arguments.
    """
    net, train_iter, test_iter, fourth, fifth, sixth, *rest = args
    if not rest and not isinstance(fifth, torch.optim.Optimizer) and not _is_loss(fourth):
        return None  # this package's form (its own checks say what is wrong in it)
    head = dict(net=net, train_iter=train_iter, test_iter=test_iter)
    if (isinstance(fifth, torch.optim.Optimizer) and len(rest) == 1 and _is_count(fourth)
            and _is_count(rest[0]) and keywords.get("optimizer") is None):
        call = dict(head, num_epochs=rest[0], optimizer=fifth, device=sixth)
        said = ("train_ch5(net, train_iter, test_iter, batch_size, optimizer, device, num_epochs) is the book's "
                "first edition's call; it stands for train_ch5(net, train_iter, test_iter, "
                f"num_epochs={rest[0]}, optimizer=optimizer, device={_said(sixth)}) (the loaders set the batch size)")
    elif (_is_loss(fourth) and 1 <= len(rest) <= 2 and _is_count(fifth) and (sixth is None or _is_count(sixth))
          and keywords.get("loss") is None):
        lr = rest[1] if len(rest) == 2 else None
        call = dict(head, num_epochs=fifth, lr=lr, loss=fourth, device=rest[0])
        said = ("train_ch5(net, train_iter, test_iter, criterion, num_epochs, batch_size, device, lr) is the "
                "AlexNet write-up's call; it stands for train_ch5(net, train_iter, test_iter, "
                f"num_epochs={fifth}, lr={lr}, loss=criterion, device={_said(rest[0])}) (SGD with lr; "
                "the loaders set the batch size)")
    else:
        given = list(args)
        while given and given[-1] is None:  # lr and device left out
            given.pop()
        raise TypeError("train_ch5 takes one of these forms:\n" + _TRAIN_FORMS +
                        f"\nthis call has {_describe_args(given)}")
    if keywords.get("verbose", True):
        print(said, flush=True)
    return {**keywords, **call}


def _said(device) -> str:
    return repr(str(device)) if device is not None else "None"


# --- what train_ch5 adds to the book's loop, each in a helper ----------------------------------------

def _check_arguments(net, num_epochs, lr, optimizer, loss, channels_last):
    """num_epochs, lr and the loss function, checked; clear errors for what cannot be trained."""
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
    weights = _weight_dtype(net)
    if weights != torch.float32:
        raise ValueError(f"net's weights are {weights}, but train_ch5 trains float32 weights (for "
                         "bf16 arithmetic use precision='bf16', which keeps them float32): convert with net.float()")
    if loss is not None:
        require(callable(loss) and not isinstance(loss, type), loss, "loss",
                "a loss object or function, e.g. nn.CrossEntropyLoss()")
    return num_epochs, lr, loss if loss is not None else nn.CrossEntropyLoss()


def _training_device(device) -> torch.device:
    """``device`` checked, and the one ``$D2LNETS_REQUIRE_DEVICE`` demands (CI's GPU job)."""
    device = as_device(device)
    required = config.required_device()
    if required and device.type != required:
        raise RuntimeError(f"D2LNETS_REQUIRE_DEVICE={required} but training would run on {device}")
    return device


def _data(train_iter, test_iter, num_epochs: int, steps_per_epoch, scheduler):
    """The two iterables, checked, and the number of batches per epoch (None when unknown)."""
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
    return train_iter, test_iter, num_batches


def _prepare(net: nn.Module, train_iter, test_iter, device: torch.device, settings: Settings, compile: bool):
    """Move the network and the data to ``device`` in its memory format; the model to call. A network
    spread over devices (``TwoTowerAlexNet``: ``net.devices``) stays where it is and takes its data on
    its first device."""
    placed = getattr(net, "devices", None)
    if placed is None:
        net.to(device)
    elif torch.device(placed[0]) != device:
        raise ValueError(f"the network is spread over {', '.join(map(str, placed))} and takes its input on "
                         f"{placed[0]}; train it with device={str(placed[0])!r} (got {str(device)!r})")
    train_iter, test_iter = _to_device(train_iter, device), _to_device(test_iter, device)
    train_iter = _materialise(net, train_iter, device)
    if settings.channels_last:
        net.to(memory_format=torch.channels_last)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    return (torch.compile(net) if compile else net), train_iter, test_iter


def _one_cycle(scheduler, optimizer, lr, total_steps: int):
    """``"onecycle"`` as a OneCycleLR peaking at ``lr``, or at the learning rate the optimizer was
    built with (PyTorch's defaults: it also cycles momentum between 0.95 and 0.85)."""
    if scheduler != "onecycle":
        return scheduler
    peak = lr if lr is not None else optimizer.param_groups[0]["lr"]
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peak, total_steps=total_steps)


def _batches(train_iter, device: torch.device, settings: Settings, first: bool):
    """The batches on ``device`` in the memory format training uses (the first one checked)."""
    for i, batch in enumerate(train_iter):
        X, y = _batch(batch, "train_iter") if first and i == 0 else batch
        X, y = X.to(device, torch.float32, non_blocking=True), y.to(device, non_blocking=True)
        if settings.channels_last and X.dim() == 4:
            X = X.contiguous(memory_format=torch.channels_last)
        yield X, y


def _forward(model, loss_fn, X, y, first: bool):
    """Scores and the mean loss (the first batch's with errors that say what is wrong)."""
    if first:
        y_hat, l = _first_forward(model, loss_fn, X, y, "train_iter")
    else:
        y_hat = model(X)
        l = loss_fn(y_hat, y)
    return y_hat, (l.mean() if l.dim() > 0 else l)


def _update(l, optimizer, scaler, scheduler) -> None:
    """Backward and one optimizer step (through the gradient scaler for fp16), then the schedule."""
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


class _Sums:
    """An epoch's running loss and correct predictions, kept on the device (read only when needed)."""

    def __init__(self, device: torch.device, summed: bool) -> None:
        self.loss = torch.zeros((), device=device)
        self.correct = torch.zeros((), device=device, dtype=torch.long)
        self.n, self.summed = 0, summed

    def add(self, l, y_hat, y) -> None:
        with torch.no_grad():
            self.loss += l.detach().float() * (1 if self.summed else y.numel())
            self.correct += (y_hat.argmax(dim=1) == y).sum()
        self.n += y.numel()


def _summed(group, sums: _Sums, device: torch.device) -> int:
    """Add an epoch's loss and correct predictions over the processes; the examples of all."""
    n = torch.tensor(sums.n, device=device)
    group.sum(sums.loss, sums.correct, n)
    return int(n.item())


class _Guard:
    """Divergence: a snapshot of the network, the optimizer and the scheduler at the start of each
    epoch, put back (and a :class:`TrainingDivergedError` raised) when the loss or the weights stop
    being finite."""

    def __init__(self, net, optimizer, scheduler, history: History) -> None:
        self.net, self.optimizer, self.history = net, optimizer, history
        self.snapshot = _Snapshot(net, optimizer, scheduler if scheduler != "onecycle" else None)

    def renew(self, scheduler) -> None:
        self.snapshot = None  # (one copy at a time)
        self.snapshot = _Snapshot(self.net, self.optimizer, scheduler)

    def error(self, what: str, epoch: int) -> TrainingDivergedError:
        current_lr = self.optimizer.param_groups[0]["lr"]
        self.snapshot.restore()
        self.history.drop_steps_after(epoch)
        back = ("as they were before this call to train_ch5" if epoch == 0 else
                f"as they were at the end of epoch {epoch}, the last complete one (its results are in this "
                "error's .history)")
        return TrainingDivergedError(
            f"{what}: training diverged. Try a smaller learning rate (now {current_lr:g}), e.g. "
            f"{current_lr / 10:g}. The network, the optimizer and the scheduler are back {back}.",
            self.history)

    def check_loss(self, running: float, epoch: int, i: int | None) -> None:
        if not math.isfinite(running):
            if i is None:
                raise self.error(f"the training loss became {running} in epoch {epoch + 1}", epoch)
            also = "" if _all_finite(self.net.parameters()) else ", and the weights are no longer finite"
            raise self.error(f"the training loss became {running} in epoch {epoch + 1}, batch {i}{also}", epoch)

    def check_weights(self, epoch: int) -> None:
        if not _all_finite(self.net.state_dict().values()):
            raise self.error(f"the weights became NaN or infinite in epoch {epoch + 1} although the loss "
                             "stayed finite (gradients that were not finite, or too large for the learning "
                             "rate)", epoch)


class _Monitor:
    """What the loop reports as it goes: the History's step points (about 10 an epoch), the live
    plot and progress bar (in notebooks), and a line per epoch (elsewhere)."""

    def __init__(self, history: History, num_epochs: int, num_batches: int | None, plot: bool | None,
                 verbose: bool, device: torch.device, group=None) -> None:
        self.history, self.num_epochs, self.num_batches, self.verbose = history, num_epochs, num_batches, verbose
        self.group, self.device = group, device   # group: step points are sums over the processes
        plot = in_notebook() if plot is None else plot
        self.animator = Animator(xlabel="epoch", xlim=[0, num_epochs], legend=["train loss", "train acc", "test acc"],
                                 show=plot) if plot else None
        self.progress = Progress(num_batches and num_epochs * num_batches) if plot else None
        self.check_every = FINITE_CHECK_EVERY.get(device.type, 25)
        self.steps_before, self.drawn = 0, 0.0

    def start_epoch(self, epoch: int) -> None:
        self.epoch, self.last, self.last_n, self.pending = epoch, (0.0, 0, 0), 0, []
        self.every = max(1, self.num_batches // 10) if self.num_batches else 1

    def due(self, i: int) -> bool:
        return i % self.check_every == 0 or i % self.every == 0

    def step(self, i: int, sums: _Sums, running: float) -> None:
        """After batch ``i`` (running: the epoch's loss so far, already read): a point every few steps."""
        if self.progress is not None:
            self.progress.update(self.steps_before + i, f"epoch {self.epoch + 1}/{self.num_epochs}, "
                                 f"loss {running / sums.n:.3f}")
        if i % self.every == 0:
            self._point(i, sums, running)

    def _point(self, i: int, sums: _Sums, running: float) -> None:
        loss0, correct0, n0 = self.last
        now = (running, sums.correct.item(), sums.n)
        if self.group is not None:  # every process the same point: the global batches' (exact on resume)
            t = torch.tensor(now, dtype=torch.float64, device=self.device)
            self.group.sum(t)
            now = (t[0].item(), int(t[1].item()), int(t[2].item()))
        running, correct, n = now
        loss, acc = (running - loss0) / (n - n0), (correct - correct0) / (n - n0)
        self.last, self.last_n = now, sums.n
        if self.num_batches:
            self.history.add_step(self.steps_before + i, self.epoch + i / self.num_batches, loss, acc)
            self._plot(self.epoch + i / self.num_batches, loss, acc)
        else:  # the first epoch of a loader without len(): placed on the epoch once its length is known
            self.pending.append((i, loss, acc))

    def _plot(self, x: float, loss: float, acc: float) -> None:
        """A step point on the live plot, redrawn at most once a second (and after every epoch)."""
        if self.animator is not None:
            now = time.perf_counter()
            redraw = now - self.drawn > 1.0
            self.animator.add(x, [loss, acc, None], draw=redraw)
            self.drawn = now if redraw else self.drawn

    def end_epoch(self, i: int, sums: _Sums, running: float) -> None:
        if sums.n > self.last_n:
            self._point(i, sums, running)
        for j, loss, acc in self.pending:
            self.history.add_step(self.steps_before + j, self.epoch + j / i, loss, acc)
            self._plot(self.epoch + j / i, loss, acc)
        self.num_batches = self.num_batches or i
        self.steps_before += i

    def epoch_done(self) -> None:
        h = self.history
        if self.animator is not None:
            self.animator.add(h.num_epochs, [None, None, h.test_acc[-1]])
        elif self.verbose:
            print(f"epoch {h.num_epochs}/{self.num_epochs}: loss {h.train_loss[-1]:.3f}, "
                  f"train acc {h.train_acc[-1]:.3f}, test acc {h.test_acc[-1]:.3f}, "
                  f"{h.examples_per_sec[-1]:.1f} examples/sec, {h.seconds[-1]:.1f} s", flush=True)

    def done(self) -> None:
        if self.progress is not None:
            self.progress.update(self.steps_before, f"done in {self.history.total_seconds:.1f} s", force=True)
        if self.verbose:
            print(self.history.summary())


def train_ch5(
    net: nn.Module,
    train_iter,
    test_iter,
    num_epochs: int,
    lr: float | None = None,
    device: torch.device | str | None = None,
    *legacy,
    optimizer: torch.optim.Optimizer | None = None,
    loss: nn.Module | None = None,
    scheduler: str | torch.optim.lr_scheduler.LRScheduler | None = None,
    steps_per_epoch: int | None = None,
    precision: str = "auto",
    channels_last: bool | str = "auto",
    compile: bool = False,
    verbose: bool = True,
    plot: bool | None = None,
    checkpoint: str | None = None,
    checkpoint_every: int | None = None,
    resume: bool | str = False,
    overwrite: bool = False,
    sync_batchnorm: bool = False,
) -> History:
    """Train ``net`` on ``train_iter``, evaluate on ``test_iter`` after every epoch.

    - ``train_iter``, ``test_iter``: iterables of ``(X, y)`` batches, ``X`` floating-point images
      and ``y`` int64 class indices: a loader, a list, or (for one epoch) a generator.
    - ``optimizer``: used as given; by default SGD with learning rate ``lr`` (give one or the other).
    - ``loss``: default cross-entropy; with ``reduction="sum"`` the loss reported is still per example.
    - ``scheduler``: ``"onecycle"`` or a scheduler built on ``optimizer``, stepped every batch.
      ``"onecycle"`` is PyTorch's ``OneCycleLR`` with its defaults, peaking at ``lr`` or at the
      optimizer's learning rate: the learning rate rises from a 25th of the peak over the first
      30 % of the steps, then anneals (cosine) to a 10,000th of where it started. It also cycles
      the momentum (Adam's beta1), from 0.95 down to 0.85 at the peak and back up to 0.95,
      whatever momentum the optimizer was built with: the chapters' ``SGD(..., momentum=0.9)``
      trains with 0.95-0.85 (their results were measured so). The optimizer's own settings come
      back only if training diverges.
    - ``steps_per_epoch``: the batches per epoch, for the progress bar and ``"onecycle"`` when
      ``train_iter`` has no ``len()``.
    - ``precision``: ``"auto"`` (bf16 autocast where the device computes bf16 natively, fp16 with
      a gradient scaler on older GPUs, else fp32; fp32 when ``D2LNETS_PRECISION=fp32``), or
      ``"fp32"``, ``"bf16"``, ``"fp16"``: :func:`d2lnets.precision.choose_settings`.
    - ``channels_last``: NHWC memory format; ``"auto"`` uses it on the CPU and on CUDA, in every
      precision (the same arithmetic, summed in another order: ``channels_last=False`` with
      ``precision="fp32"`` repeats the book's loop operation for operation).
    - ``compile``: run the model through ``torch.compile``.
    - ``plot``: a live plot of loss and accuracies, with a progress bar (default: in notebooks).
    - ``checkpoint``: a file to write a checkpoint to at the end of every epoch (and every
      ``checkpoint_every`` optimizer steps); a file already there is refused unless ``resume=True``
      goes on from it or ``overwrite=True`` replaces it. ``resume``: True (from ``checkpoint``) or
      a checkpoint's path; on the CPU in fp32 the resumed run gives the same History and weights,
      bit for bit, as one never interrupted. See :mod:`d2lnets.checkpoint`.
    - Under torchrun (or in a torch.distributed process group already set up) every process
      trains its share of each global batch (``batch_size`` per process) in DistributedDataParallel,
      the History holds the global results, and only rank 0 prints, plots, records and writes
      checkpoints; ``sync_batchnorm=True`` makes batch norm layers SyncBatchNorm there.
      See :mod:`d2lnets.distributed`.

    The History holds the per-epoch results and the training loss and accuracy every few steps
    (about 10 points an epoch). Each run is recorded (:func:`d2lnets.records.log_run`; to
    ``$D2LNETS_RUN_LOG`` when set). On the CPU, freed memory is kept for reuse during training
    (:func:`d2lnets.memory.reuse_freed_memory`; ``D2LNETS_REUSE_MEMORY=0`` switches that off).
    The weights are never re-initialised. A loss or weights that become NaN or infinite raise
    :class:`TrainingDivergedError` after the network (weights and batch-norm statistics), the
    optimizer and the scheduler are put back as they were at the start of the epoch that diverged:
    before this call if it was the first epoch, else after the last complete epoch, whose results
    the error carries in ``.history``. For that it keeps one copy of that state in CPU memory.
    Lazy layers get their weights from a first forward pass (eval mode, no gradients) before
    training starts.

    Two older positional forms are accepted too, recognised by their arguments' types, and
    trained exactly as the keyword form they stand for (a line says which):
    ``train_ch5(net, train_iter, test_iter, batch_size, optimizer, device, num_epochs)`` (the
    book's first edition, PyTorch port) and ``train_ch5(net, train_iter, test_iter, criterion,
    num_epochs, batch_size, device, lr)`` (SGD with ``lr``, as in the AlexNet write-up).
    """
    keywords = dict(optimizer=optimizer, loss=loss, scheduler=scheduler, steps_per_epoch=steps_per_epoch,
                    precision=precision, channels_last=channels_last, compile=compile, verbose=verbose, plot=plot,
                    checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume, overwrite=overwrite,
                    sync_batchnorm=sync_batchnorm)
    call = _legacy_train_call((net, train_iter, test_iter, num_epochs, lr, device, *legacy), keywords)
    if call is not None:
        return train_ch5(**call)
    num_epochs, lr, loss = _check_arguments(net, num_epochs, lr, optimizer, loss, channels_last)
    ckpt = Checkpointer(checkpoint, resume, overwrite, checkpoint_every)
    device = _training_device(device)
    group = group_for(device)  # several processes (torchrun), or None
    if group is not None:
        device, train_iter = group.device(device), group.shard(train_iter)
        verbose, plot, ckpt.write = verbose and group.main, plot if group.main else False, group.main
        if ckpt.every is not None:
            raise ValueError("checkpoint_every is for one process: with several (torchrun), checkpoints are "
                             "written at the end of every epoch; leave checkpoint_every out")
    settings = choose_settings(device, precision, channels_last)
    optimizer = _optimizer(optimizer, net, lr, loss)
    scheduler = _scheduler(scheduler, optimizer, built_here=lr is not None)
    train_iter, test_iter, num_batches = _data(train_iter, test_iter, num_epochs, steps_per_epoch, scheduler)
    model, train_iter, test_iter = _prepare(net, train_iter, test_iter, device, settings, compile)
    evaluated = model
    if group is not None:
        model = group.wrap(model, device, sync_batchnorm)
    history = History(device=str(device), settings=settings.description + (", compiled" if compile else ""))
    guard = _Guard(net, optimizer, scheduler, history)  # snapshots the state before training
    scheduler = _one_cycle(scheduler, optimizer, lr, num_epochs * (num_batches or 0))
    scaler = torch.amp.GradScaler(device.type) if settings.scaler else None
    monitor = _Monitor(history, num_epochs, num_batches, plot, verbose, device, group)
    parts = (net, optimizer, scheduler, scaler, history)
    if ckpt.resume(*parts, run_identity(net, optimizer, scheduler, num_epochs, num_batches, train_iter, settings)):
        monitor.steps_before = ckpt.steps_before
        guard.renew(scheduler)  # a later divergence goes back to the resumed state
    i = 0
    with reuse_freed_memory(device):  # big activations reuse freed memory (CPU, glibc)
        for epoch in range(ckpt.epoch, num_epochs):
            if hasattr(train_iter, "set_epoch"):
                train_iter.set_epoch(epoch)
            model.train()
            start, sums = time.perf_counter(), _Sums(device, getattr(loss, "reduction", None) == "sum")
            monitor.start_epoch(epoch)
            ckpt.epoch_start(epoch)
            batches, i, elapsed = ckpt.batches(_batches(train_iter, device, settings, first=epoch == 0), epoch,
                                               sums, monitor)  # i: the batches a resumed epoch had done
            start, done = start - elapsed, i
            for i, (X, y) in enumerate(batches, done + 1):
                with autocast(device, settings):
                    y_hat, l = _forward(model, loss, X, y, first=epoch == 0 and i == 1)
                _update(l, optimizer, scaler, scheduler)
                sums.add(l, y_hat, y)
                if monitor.due(i):
                    running = sums.loss.item()
                    guard.check_loss(running, epoch, i)
                    monitor.step(i, sums, running)
                ckpt.step_done(parts, epoch, i, num_batches, sums, monitor, time.perf_counter() - start)
            if sums.n == 0:
                raise ValueError("train_iter yielded no examples")
            running = sums.loss.item()
            guard.check_loss(running, epoch, None)
            guard.check_weights(epoch)
            monitor.end_epoch(i, sums, running)
            if group is not None:  # the epoch's results: the sums over all the processes
                sums.n = _summed(group, sums, device)
                running = sums.loss.item()
            train_seconds = time.perf_counter() - start
            test_acc = _evaluate(evaluated, test_iter, device, precision, "test_iter")
            history.train_loss.append(running / sums.n)
            history.train_acc.append(sums.correct.item() / sums.n)
            history.test_acc.append(test_acc)
            history.examples_per_sec.append(sums.n / train_seconds)
            history.seconds.append(time.perf_counter() - start)
            if epoch + 1 < num_epochs:  # what a later epoch that diverges goes back to
                guard.renew(scheduler)
            ckpt.epoch_done(parts, epoch, monitor.steps_before)
            monitor.epoch_done()
    monitor.done()
    if group is None or group.main:
        records.log_run(history)
    if group is not None:
        group.close()
    return history


# --- the command line: python -m d2lnets.train RECIPE [options] (d2lnets.cli) --------------------------

# ``python -m d2lnets.train`` runs this file a second time, as __main__, after the package imported
# it; runpy warns about that, harmlessly: main() only calls the package's own copy.
warnings.filterwarnings("ignore", message=r"'d2lnets\.train' found in sys\.modules", category=RuntimeWarning)


def main(argv: list[str] | None = None) -> int:
    """``python -m d2lnets.train RECIPE [--epochs N --checkpoint PATH --resume ...]``: see :mod:`d2lnets.cli`."""
    from .cli import train_main

    return train_main(argv)


if __name__ == "__main__":
    sys.exit(main())
