"""One call of ``train_ch5``: what it trains and how, where the loop is, and the epoch's running sums.

:meth:`Run.prepare` checks the arguments and sets everything up (device, precision, optimizer,
schedule, data, processes, hooks); the loop in :mod:`.loop` then asks the run for its epochs and
batches and tells it when a step or an epoch ends, and the run calls the hooks (:mod:`.hooks`).

Reading a number from an accelerator makes the host wait for it, so the run reads its running
sums from the device only every :func:`read_every` steps (every step on the CPU, where reading
costs nothing; every 50 steps elsewhere) and at the end of each epoch. Hooks see what was read in
``run.seen`` and never read the device themselves.

On CUDA the run also fights launch overhead: the SGD it builds is fused (one kernel for the whole
update; an optimizer the caller built is used as given), and its steps are replayed from a CUDA
graph where they can be (:mod:`.graph`: ``run.graph``, asked through :meth:`Run.replayed`).
``History.settings`` names the path taken, e.g. ``"bfloat16 autocast, channels_last, TF32, fused
SGD, CUDA graph"``.
"""
from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Iterator

import torch
from torch import nn

from ..core import config
from ..core.batches import END, check_batch, check_not_meta, first_forward, iterable, length, on_device, weight_dtype
from ..core.config import as_device
from ..core.memory import reuse_freed_memory
from ..core.precision import Settings, choose_settings, math_mode
from ..core.state import set_rng_state
from ..core.validate import as_float, as_int, instance_of, require, short
from .distributed import group_for
from .graph import GraphStep, why_not_captured
from .history import History

__all__ = ["READ_EVERY", "Run", "read_every"]

# How often the loop reads its running sums from the device, by device type: every step on the CPU
# (free there), every 50 steps elsewhere (each read waits for the device). A test can set the CPU's
# to 50 to run the accelerators' policy.
READ_EVERY = {"cpu": 1}


def read_every(device: torch.device) -> int:
    """Steps between two reads of the running sums on ``device`` (see :data:`READ_EVERY`)."""
    return READ_EVERY.get(device.type, 50)


class Run:
    """A training run's state. Built by :meth:`prepare`; the attributes hooks may read:

    - ``net`` (the caller's network), ``model`` (what is called: compiled or wrapped for several
      processes), ``optimizer``, ``scheduler``, ``scaler``, ``loss_fn``, ``history``, ``hooks``;
    - ``device``, ``settings``, ``num_epochs``, ``num_batches`` (per epoch; None until known),
      ``group`` (the processes, or None) and ``main`` (this process prints and writes);
    - where the loop is: ``epoch`` (from 0; after a resume, where the checkpoint stopped),
      ``batch`` (batches done in this epoch), ``step`` (optimizer steps so far, over all epochs);
      ``resumed`` (from a checkpoint);
    - the step just taken: ``loss`` (its mean loss), ``y_hat``, ``y``, all on the device;
    - the epoch so far: ``loss_sum`` and ``correct`` (device tensors), ``n`` (examples);
    - ``seen``: ``(loss_sum, correct, n)`` as numbers at the last read, taken at step ``seen_step``;
    - ``left_out``: batches of one example left out (batch normalisation cannot train on one).
    - ``graph``: the captured step (:class:`~.graph.GraphStep`, CUDA only) or None, and
      ``not_captured``: why not, in words. A replayed step's ``loss`` and ``y_hat`` are the graph's
      own tensors, overwritten by the next replay.
    """

    def __init__(self, **fields) -> None:
        self.__dict__.update(fields)
        self.epoch = self.batch = self.step = 0
        self.resumed, self.resume_rng, self.elapsed = False, None, 0.0
        self.unchecked_batch = self.unchecked_forward = True  # the call's first batch and output get checked
        self.loss = self.y_hat = self.y = None
        self.seen, self.seen_step = None, -1
        self.left_out = 0
        self._reset_sums()

    # --- set-up ----------------------------------------------------------------------------------

    @classmethod
    def prepare(cls, net, train_iter, test_iter, num_epochs, lr, device, *, optimizer, loss, scheduler,
                steps_per_epoch, precision, channels_last, compile, sync_batchnorm, hooks, capture="auto") -> Run:
        """Check the arguments and set up the run (see ``train_ch5``)."""
        num_epochs, lr, loss_fn = _check_arguments(net, num_epochs, lr, optimizer, loss, channels_last)
        device = _training_device(device)
        group = group_for(device)  # several processes (torchrun), or None
        if group is not None:
            device, train_iter = group.device(device), group.shard(train_iter)
        settings = choose_settings(device, precision, channels_last)
        fused = optimizer is None and device.type == "cuda" and not settings.exact and not hasattr(net, "devices")
        optimizer = _optimizer(optimizer, net, lr, loss_fn, fused)
        scheduler = _scheduler(scheduler, optimizer, built_here=lr is not None)
        train_iter, test_iter, num_batches = _data(train_iter, test_iter, num_epochs, steps_per_epoch, scheduler)
        restore_format = _came_in_contiguous(net)
        train_iter, test_iter = _place(net, train_iter, test_iter, device, settings)
        model = _compiled(net, compile)
        evaluated = model
        if group is not None:
            model = group.wrap(model, device, sync_batchnorm)
        run = cls(net=net, model=model, evaluated=evaluated, optimizer=optimizer, loss_fn=loss_fn,
                  train_iter=train_iter, test_iter=test_iter, device=device, settings=settings,
                  precision=precision, num_epochs=num_epochs, num_batches=num_batches, group=group,
                  main=group is None or group.main, restore_format=restore_format, hooks=[],
                  summed=getattr(loss_fn, "reduction", None) == "sum", read_every=read_every(device),
                  drop_single=group is None and _has_batch_norm(net),
                  path=[settings.description, *(["fused SGD"] if fused else []),
                        *([f"compiled ({compile})" if isinstance(compile, str) else "compiled"] if compile else [])])
        run.not_captured = why_not_captured(run, capture)
        run.graph = GraphStep(run) if run.not_captured is None else None
        run.history = History(device=str(device), settings=run.describe())
        run.scheduler = scheduler
        run.hooks = hooks(run)  # built before the schedule: the divergence guard keeps the state before the call
        run.scheduler = _one_cycle(scheduler, optimizer, lr, num_epochs * (num_batches or 0))
        run.scaler = torch.amp.GradScaler(device.type) if settings.scaler else None
        return run

    # --- the loop's questions and reports ---------------------------------------------------------

    def describe(self) -> str:
        """The path the run takes, in words: precision, memory format, TF32, fused SGD, CUDA graph."""
        return ", ".join(self.path + (["CUDA graph"] if self.graph is not None and self.graph.failed is None else []))

    @contextlib.contextmanager
    def fit(self) -> Iterator[Run]:
        """Around the whole run: the hooks' start and end, in the settings' arithmetic flags (TF32,
        cuDNN's autotuning, deterministic algorithms: :func:`~d2lnets.core.precision.math_mode`);
        afterwards (also after an error) the network is back in the memory format it came in and the
        flags as they were."""
        try:
            with math_mode(self.device, self.settings), reuse_freed_memory(self.device):  # (CPU, glibc)
                self._call("on_fit_start")
                yield self
            self._call("on_fit_end")
        finally:
            if self.restore_format:
                self.net.to(memory_format=torch.contiguous_format)

    def start_epoch(self, epoch: int) -> None:
        """Before an epoch's first batch: the loader's shuffle for it, the clock, the hooks."""
        self.epoch = epoch
        if hasattr(self.train_iter, "set_epoch"):
            self.train_iter.set_epoch(epoch)
        self.started = time.perf_counter() - self.elapsed  # (elapsed: the part of the epoch before a resume)
        self.elapsed = 0.0
        self._call("on_epoch_start")

    def batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The epoch's batches on the device, in the memory format training uses (the first one of
        the call checked). In an epoch that a checkpoint stopped in, the loader's pass is replayed up
        to where it stopped, without training on those batches, and the random state put back."""
        source = iter(self.train_iter)
        for _ in range(self.batch):
            next(source)
        if self.resume_rng is not None:
            set_rng_state(self.resume_rng)
            self.resume_rng = None
        for batch in source:
            if self.unchecked_batch:
                batch, self.unchecked_batch = check_batch(batch, "train_iter"), False
            X, y = batch
            if self.drop_single and len(X) == 1:
                self._leave_out_single()
                continue
            X, y = X.to(self.device, torch.float32, non_blocking=True), y.to(self.device, non_blocking=True)
            if self.settings.channels_last and X.dim() == 4:
                X = X.contiguous(memory_format=torch.channels_last)
            yield X, y
        self.train_seconds = time.perf_counter() - self.started

    def forward(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The scores and the mean loss (on the call's first batch with errors that say what is wrong)."""
        if self.unchecked_forward:
            y_hat, l = first_forward(self.model, self.loss_fn, X, y, "train_iter")
            self.unchecked_forward = False
        else:
            y_hat = self.model(X)
            l = self.loss_fn(y_hat, y)
        return y_hat, (l.mean() if l.dim() > 0 else l)

    def replayed(self, X: torch.Tensor, y: torch.Tensor) -> bool:
        """Whether this step was trained by replaying the captured CUDA graph (forward, backward,
        SGD), the schedule stepped and the step ended; False: the loop trains it eagerly."""
        if self.graph is None:
            return False
        out = self.graph(X, y)
        if out is None:
            if self.graph.failed is not None:
                self.history.settings = self.describe()
            return False
        y_hat, l = out
        if self.scheduler is not None:
            self.scheduler.step()
        self.end_step(l, y_hat, y)
        return True

    def end_step(self, l: torch.Tensor, y_hat: torch.Tensor, y: torch.Tensor) -> None:
        """After an optimizer step: add to the running sums (on the device), read them when due, call the hooks."""
        with torch.no_grad():
            self.loss_sum += l.detach().float() * (1 if self.summed else y.numel())
            self.correct += (y_hat.argmax(dim=1) == y).sum()
        self.n += y.numel()
        self.batch, self.step = self.batch + 1, self.step + 1
        self.loss, self.y_hat, self.y = l, y_hat, y
        if self.batch % self.read_every == 0:
            self.read()
        self._call("on_step_end")

    def end_epoch(self, test_acc: float) -> None:
        """After an epoch's training and evaluation: its results in the History (the sums over every
        process), then the hooks."""
        if self.n == 0:
            raise ValueError("train_iter yielded no examples" + (
                ": every batch held one example, and batch normalisation cannot train on one; use a batch size of "
                "2 or more" if self.left_out else ""))
        loss_sum, correct, n = self.read(over_processes=True)
        h = self.history
        h.train_loss.append(loss_sum / n)
        h.train_acc.append(correct / n)
        h.test_acc.append(test_acc)
        h.examples_per_sec.append(n / self.train_seconds)
        h.seconds.append(time.perf_counter() - self.started)
        self.num_batches = self.num_batches or self.batch
        self._call("on_epoch_end")
        self.epoch, self.batch = self.epoch + 1, 0
        self._reset_sums()

    def read(self, over_processes: bool = False) -> tuple[float, int, int]:
        """The running sums as numbers (one read from the device), also kept as ``run.seen``;
        ``over_processes``: summed over every process (this process's own sums stay as they are)."""
        sums = torch.stack((self.loss_sum.double(), self.correct.double()))
        if over_processes and self.group is not None:
            sums = torch.cat((sums, sums.new_tensor([self.n])))
            self.group.sum(sums)
            loss_sum, correct, n = sums.tolist()
        else:
            (loss_sum, correct), n = sums.tolist(), self.n
        self.seen, self.seen_step = (loss_sum, int(correct), int(n)), self.step
        return self.seen

    @property
    def fresh(self) -> bool:
        """Whether ``seen`` was read at this step."""
        return self.seen_step == self.step

    def hook_states(self) -> dict:
        return {hook.name: hook.state_dict() for hook in self.hooks}

    def load_hook_states(self, states: dict) -> None:
        for hook in self.hooks:
            if hook.name in states:
                hook.load_state_dict(states[hook.name])

    # --- inside -----------------------------------------------------------------------------------

    def _call(self, event: str) -> None:
        for hook in self.hooks:
            getattr(hook, event)(self)

    def _leave_out_single(self) -> None:
        """A batch of one example, which batch normalisation cannot train on: left out, said once."""
        if not self.left_out and self.main:
            print("train_ch5: a batch of train_iter holds 1 example (its last, when the number of examples leaves 1 "
                  "over after whole batches), and batch normalisation cannot train on a batch of one. It is left "
                  "out, in every epoch. To train on every example, pick a batch size that leaves 0 or 2 and more "
                  "over; to say you mean it, make the loader with drop_last=True.", flush=True)
        self.left_out += 1

    def _reset_sums(self) -> None:
        self.loss_sum = torch.zeros((), device=self.device)
        self.correct = torch.zeros((), device=self.device, dtype=torch.long)
        self.n = 0


# --- checking the arguments and setting up -----------------------------------------------------------

def _check_arguments(net, num_epochs, lr, optimizer, loss, channels_last):
    """num_epochs, lr and the loss function, checked; clear errors for what cannot be trained."""
    instance_of(net, nn.Module, "net", "the network to train (an nn.Module)")
    check_not_meta(net)
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
    weights = weight_dtype(net)
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
    check_not_meta(None, device)
    required = config.required_device()
    if required and device.type != required:
        raise RuntimeError(f"D2LNETS_REQUIRE_DEVICE={required} but training would run on {device}")
    return device


def _optimizer(optimizer, net: nn.Module, lr: float | None, loss, fused: bool) -> torch.optim.Optimizer:
    """The optimizer to use: SGD with ``lr`` (``fused``: in one kernel, on CUDA), or the caller's,
    which must update ``net``."""
    if optimizer is None:
        params = [p for p in net.parameters() if p.requires_grad]
        if not params:
            raise ValueError(f"net ({type(net).__name__}) has no trainable parameters: there is nothing to train")
        return torch.optim.SGD(params, lr=lr, fused=fused or None)
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


def _data(train_iter, test_iter, num_epochs: int, steps_per_epoch, scheduler):
    """The two iterables, checked, and the number of batches per epoch (None when unknown)."""
    kind = type(train_iter).__name__
    train_iter = iterable(train_iter, "train_iter", num_epochs)
    test_iter = iterable(test_iter, "test_iter", num_epochs, peek=True)
    num_batches = length(train_iter)
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


def _has_batch_norm(net: nn.Module) -> bool:
    """Whether ``net`` has batch normalisation, which fails on a training batch of one example."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in net.modules())


def _came_in_contiguous(net: nn.Module) -> bool:
    """Whether ``net``'s image-shaped weights are in the default (contiguous) memory format, so that
    training in channels_last must put them back afterwards."""
    return all(p.is_contiguous() for p in net.parameters()
               if not isinstance(p, nn.parameter.UninitializedParameter) and p.dim() == 4)


def _place(net: nn.Module, train_iter, test_iter, device: torch.device, settings: Settings):
    """Move the network and the data to ``device`` in its memory format. A network spread over
    devices (``TwoTowerAlexNet``: ``net.devices``) stays where it is and takes its data on its
    first device."""
    placed = getattr(net, "devices", None)
    if placed is None:
        net.to(device)
    elif torch.device(placed[0]) != device:
        raise ValueError(f"the network is spread over {', '.join(map(str, placed))} and takes its input on "
                         f"{placed[0]}; train it with device={str(placed[0])!r} (got {str(device)!r})")
    train_iter, test_iter = on_device(train_iter, device), on_device(test_iter, device)
    train_iter = _materialise(net, train_iter, device)
    if settings.channels_last:
        net.to(memory_format=torch.channels_last)
    return train_iter, test_iter


def _materialise(net: nn.Module, data, device: torch.device):
    """Give lazy layers (``nn.LazyConv2d``, ...) their weights with one forward pass of the first
    batch, in eval mode and without gradients, so that they can be copied and converted before
    training; returns ``data``, with that batch put back if it is an iterator."""
    if not any(isinstance(t, nn.parameter.UninitializedTensorMixin)
               for t in itertools.chain(net.parameters(), net.buffers())):
        return data
    batches = iter(data)
    first = next(batches, END)
    if first is END:
        return data
    X, _ = check_batch(first, "train_iter")
    was_training = net.training
    with torch.no_grad():
        net.eval()
        net(X.to(device, torch.float32))
    net.train(was_training)
    return itertools.chain([first], batches) if isinstance(data, Iterator) else data


def _compiled(net: nn.Module, compile: bool | str):
    """``net`` through ``torch.compile`` (``compile``: True, or the name of a backend, e.g.
    ``"aot_eager"``), or ``net`` itself. The course's networks compile whole (``fullgraph``), and a
    new network of an architecture already compiled reuses its code (no recompiling per seed)."""
    if compile is False:
        return net
    if compile is not True and not isinstance(compile, str):
        raise ValueError(f"compile must be True, False or the name of a torch.compile backend, got {short(compile)}")
    return torch.compile(net) if compile is True else torch.compile(net, backend=compile)


def _one_cycle(scheduler, optimizer, lr, total_steps: int):
    """``"onecycle"`` as a OneCycleLR peaking at ``lr``, or at the learning rate the optimizer was
    built with (PyTorch's defaults: it also cycles momentum between 0.95 and 0.85)."""
    if scheduler != "onecycle":
        return scheduler
    peak = lr if lr is not None else optimizer.param_groups[0]["lr"]
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peak, total_steps=total_steps)
