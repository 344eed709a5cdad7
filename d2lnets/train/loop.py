"""The training loop: ``train_ch5``.

Unlike the book's ``train_ch6``, ``train_ch5`` never re-initialises the caller's weights (a model
initialises itself), honours an optimizer the caller built, stops on a NaN or infinite loss, returns
a :class:`~.history.History` (per epoch, and every few steps), and trains in the device's fast
settings (:mod:`d2lnets.core.precision`). Its body is the book's loop; everything else it does is
set up by :class:`~.run.Run` or done by a hook (:mod:`.hooks`): the step points, the divergence
guard, the progress shown, checkpoints, the run's record, several processes.
"""
from __future__ import annotations

import torch
from torch import nn

from ..analysis.evaluate import accuracy
from ..core.legacy import legacy_forms
from ..core.precision import autocast
from ..core.validate import short
from .checkpoint import Checkpoints
from .history import History
from .hooks import DivergenceGuard, Hook, ShowProgress, StepPoints
from .legacy import ALEXNET_WRITEUP, CURRENT, FIRST_EDITION, looks_old
from .records import RecordRun
from .run import Run

__all__ = ["train_ch5", "update"]


@legacy_forms(CURRENT, FIRST_EDITION, ALEXNET_WRITEUP, looks_old=looks_old)
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
    compile: bool | str = False,
    capture: bool | str = "auto",
    verbose: bool = True,
    plot: bool | None = None,
    checkpoint: str | None = None,
    checkpoint_every: int | None = None,
    resume: bool | str = False,
    overwrite: bool = False,
    sync_batchnorm: bool = False,
    hooks: tuple[Hook, ...] = (),
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
      ``"fp32"``, ``"bf16"``, ``"fp16"``: :func:`d2lnets.core.precision.choose_settings`. On CUDA
      fp32 products use TF32; ``"exact"`` is IEEE fp32 in the book's memory layout with
      deterministic algorithms and no captured steps, the mode of the bit-for-bit tests
      (:mod:`d2lnets.core.precision`). The flags are put back after training.
    - ``channels_last``: NHWC memory format; ``"auto"`` uses it on the CPU and on CUDA, in every
      precision (the same arithmetic, summed in another order: ``channels_last=False`` with
      ``precision="fp32"`` repeats the book's loop operation for operation). The network comes
      back in the memory format it came in.
    - ``compile``: run the model through ``torch.compile`` (True, or a backend's name, e.g. ``"aot_eager"``).
    - ``capture``: ``"auto"`` replays whole steps (forward, backward, SGD) from a CUDA graph where it
      can, on CUDA only (:mod:`d2lnets.train.graph` says when it cannot); ``False`` never does.
    - ``plot``: a live plot of loss and accuracies, with a progress bar (default: in notebooks).
    - ``checkpoint``: a file to write a checkpoint to at the end of every epoch (and every
      ``checkpoint_every`` optimizer steps); a file already there is refused unless ``resume=True``
      goes on from it or ``overwrite=True`` replaces it. ``resume``: True (from ``checkpoint``) or
      a checkpoint's path; on the CPU in fp32 the resumed run gives the same History and weights,
      bit for bit, as one never interrupted. See :mod:`d2lnets.train.checkpoint`.
    - Under torchrun (or in a torch.distributed process group already set up) every process
      trains its share of each global batch (``batch_size`` per process) in DistributedDataParallel,
      the History holds the global results, and only rank 0 prints, plots, records and writes
      checkpoints; ``sync_batchnorm=True`` makes batch norm layers SyncBatchNorm there.
      See :mod:`d2lnets.train.distributed`.
    - ``hooks``: more concerns of your own, each a :class:`~d2lnets.train.hooks.Hook` (called after
      the loop's own: step points, divergence guard, progress; before checkpoints).

    The History holds the per-epoch results and the training loss and accuracy every few steps
    (about 10 points an epoch). Each run is recorded (:func:`d2lnets.train.records.log_run`; to
    ``$D2LNETS_RUN_LOG`` when set). On the CPU, freed memory is kept for reuse during training
    (:func:`d2lnets.core.memory.reuse_freed_memory`; ``D2LNETS_REUSE_MEMORY=0`` switches that off).
    The weights are never re-initialised. A loss or weights that become NaN or infinite raise
    :class:`~d2lnets.TrainingDivergedError` after the network (weights and batch-norm statistics),
    the optimizer and the scheduler are put back as they were at the start of the epoch that
    diverged: before this call if it was the first epoch, else after the last complete epoch, whose
    results the error carries in ``.history``. Lazy layers get their weights from a first forward
    pass (eval mode, no gradients) before training starts.

    Two older positional forms are accepted too, recognised by their arguments' types, and
    trained exactly as the keyword form they stand for (a line says which):
    ``train_ch5(net, train_iter, test_iter, batch_size, optimizer, device, num_epochs)`` (the
    book's first edition, PyTorch port) and ``train_ch5(net, train_iter, test_iter, criterion,
    num_epochs, batch_size, device, lr)`` (SGD with ``lr``, as in the AlexNet write-up).
    """
    hooks = _check_hooks(hooks)
    saving = Checkpoints(checkpoint, resume, overwrite, checkpoint_every)  # (its arguments checked first)
    run = Run.prepare(net, train_iter, test_iter, num_epochs, lr, device, optimizer=optimizer, loss=loss,
                      scheduler=scheduler, steps_per_epoch=steps_per_epoch, precision=precision,
                      channels_last=channels_last, compile=compile, sync_batchnorm=sync_batchnorm, capture=capture,
                      hooks=lambda run: [StepPoints(), DivergenceGuard(run), ShowProgress(verbose, plot), *hooks,
                                         saving, RecordRun(), *([run.group] if run.group else [])])
    model, optimizer, scheduler, scaler = run.model, run.optimizer, run.scheduler, run.scaler
    with run.fit():  # (a resumed run starts at the epoch where its checkpoint stopped: run.epoch)
        for epoch in range(run.epoch, run.num_epochs):
            run.start_epoch(epoch)
            model.train()
            for X, y in run.batches():
                if run.replayed(X, y):  # on CUDA, the whole step from a captured graph (train/graph.py)
                    continue
                with autocast(run.device, run.settings):
                    y_hat, l = run.forward(X, y)  # model(X), loss(y_hat, y)
                update(l, optimizer, scaler, scheduler)
                run.end_step(l, y_hat, y)
            run.end_epoch(accuracy(run.evaluated, run.test_iter, run.device, precision, "test_iter"))
    return run.history


def _check_hooks(hooks) -> tuple[Hook, ...]:
    """``hooks`` as a tuple of :class:`Hook` objects (None: none), or an error that says what to pass."""
    if hooks is None:
        return ()
    example = "hooks=[MyHook()], where class MyHook(d2l.Hook) overrides the methods it needs"
    if isinstance(hooks, Hook) or isinstance(hooks, type) or not isinstance(hooks, (list, tuple)):
        raise TypeError(f"hooks must be a list of hooks, got {short(hooks)}; e.g. {example}")
    for i, hook in enumerate(hooks):
        if not isinstance(hook, Hook):
            what = (f"the class {hook.__name__}, not a hook made from it (add the brackets: {hook.__name__}())"
                    if isinstance(hook, type) and issubclass(hook, Hook) else short(hook))
            raise TypeError(f"hooks[{i}] is {what}; each hook is a d2l.Hook, e.g. {example}")
    return tuple(hooks)


def update(l: torch.Tensor, optimizer: torch.optim.Optimizer, scaler=None, scheduler=None) -> None:
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
