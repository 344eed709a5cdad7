"""Checkpoints of a ``train_ch5`` run, and an exact resume from one.

``train_ch5(..., checkpoint="runs/alexnet.pt")`` writes a checkpoint at the end of every epoch
(and every ``checkpoint_every`` optimizer steps, when given); ``resume=True`` (or
``resume="path"``) goes on from it. The file is :mod:`d2lnets.saving`'s format with the kind
``"checkpoint"``, plain data that ``torch.load(..., weights_only=True)`` reads::

    {"format": "d2lnets-model", "version": 1, "kind": "checkpoint",
     "meta": {"model": "LeNet (modern)", "run": {...what identifies the run...},
              "epoch": 2, "batch": 4, "step": 20, "date": ..., "torch": ...},
     "state_dict": {...}, "optimizer": {...}, "scheduler": {...} or None, "scaler": {...} or None,
     "history": History.to_dict(), "loop": {...the epoch's running sums...},
     "rng": {"python", "numpy", "torch", "cuda", and the same at the start of the epoch}}

- A save writes a temporary file beside the target and renames it over it (``os.replace``): a
  crash while saving leaves the previous checkpoint whole.
- A ``checkpoint=`` path that already holds a file is refused unless ``resume`` (go on from it)
  or ``overwrite=True`` (start anew and replace it).
- A resume checks everything before it loads anything: the network's parameter names and shapes,
  and the run (optimizer and its settings, scheduler, epochs, batches, batch size, data seed,
  precision); what differs is named, and nothing is half-loaded.
- Exactness: the random-number states (Python, NumPy, torch CPU and CUDA) at the checkpoint and
  at the start of its epoch are restored, and a resume in the middle of an epoch replays the
  loader's pass of that epoch (from the epoch's random state, ``set_epoch`` fixing an in-memory
  loader's shuffle) up to the batch where it stopped, without training on those batches. On the
  CPU in fp32 the resumed run ends with the same History and weights, bit for bit, as a run that
  was never interrupted.
"""
from __future__ import annotations

import datetime
import os
import random
from pathlib import Path

import numpy as np
import torch

from ._validate import as_int, short
from .saving import FORMAT, VERSION, ModelMismatchError, _differences, _model_name, _unwrap, atomic_save

__all__ = ["CheckpointError", "Checkpointer", "read_checkpoint"]

KIND = "checkpoint"


class CheckpointError(ModelMismatchError):
    """A checkpoint that cannot be used: unreadable, truncated, or of another network or run."""


# --- random-number states as plain data (weights_only=True) ----------------------------------------

def rng_state() -> dict:
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": [version, list(internal), gauss],
            "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def _cpu(state):
    """A copy of ``state`` with its tensors on the CPU (tuples become lists: plain data)."""
    if isinstance(state, torch.Tensor):
        return state.detach().to("cpu", copy=True)
    if isinstance(state, dict):
        return {k: _cpu(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return [_cpu(v) for v in state]
    return state


# --- reading ---------------------------------------------------------------------------------------

def read_checkpoint(path: str | os.PathLike) -> dict:
    """The checkpoint in ``path``, read with ``torch.load(..., weights_only=True)`` and checked to
    be whole; :class:`CheckpointError` says what is wrong otherwise."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: train with checkpoint={str(path)!r} first (without "
                                "resume), or give the path of an existing checkpoint")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise CheckpointError(f"{path} is not a whole checkpoint (torch.load with weights_only=True failed: "
                              f"{type(e).__name__}: {e}); it may be truncated. Move it away, or start anew "
                              "with overwrite=True") from e
    parts = ("meta", "state_dict", "optimizer", "history", "loop", "rng")
    if not (isinstance(saved, dict) and saved.get("format") == FORMAT and saved.get("kind") == KIND
            and all(isinstance(saved.get(p), dict) for p in parts)):
        what = ("a saved model (d2l.save_model), not a checkpoint" if isinstance(saved, dict)
                and saved.get("format") == FORMAT and saved.get("kind") != KIND else "not a checkpoint of train_ch5")
        raise CheckpointError(f"{path} is {what} (a '{FORMAT}' file of kind '{KIND}' with "
                              f"{', '.join(parts)}); move it away, or start anew with overwrite=True")
    if saved.get("version") != VERSION:
        raise CheckpointError(f"{path} is a checkpoint of format version {saved.get('version')!r}; this d2lnets "
                              f"reads version {VERSION}")
    return saved


def _run_differences(saved: dict, here: dict) -> list[str]:
    out = []
    for key in sorted(set(saved) | set(here)):
        a, b = saved.get(key), here.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += [f"{key} {d}" for d in _run_differences(a, b)]
        elif a != b:
            out.append(f"{key} {a!r} there, {b!r} here")
    return out


def run_identity(net, optimizer, scheduler, num_epochs: int, num_batches, train_iter, settings) -> dict:
    """What a resumed run must share with the one that wrote the checkpoint (plain data)."""
    hyper = {k: v for k, v in optimizer.defaults.items()
             if isinstance(v, (int, float, bool, str)) and k not in ("foreach", "fused", "differentiable")}
    return {"model": _model_name(_unwrap(net)), "optimizer": type(optimizer).__name__, "hyperparameters": hyper,
            "scheduler": None if scheduler is None else type(scheduler).__name__, "num_epochs": num_epochs,
            "batches_per_epoch": num_batches, "batch_size": getattr(train_iter, "batch_size", None),
            "examples": getattr(train_iter, "num_examples", None), "data_seed": getattr(train_iter, "seed", None),
            "settings": settings.description}


# --- the run's checkpointing ---------------------------------------------------------------------

class Checkpointer:
    """What ``train_ch5`` asks of checkpoints: checked arguments, a resume, saves."""

    def __init__(self, checkpoint=None, resume=False, overwrite: bool = False, every=None) -> None:
        if checkpoint is not None and not isinstance(checkpoint, (str, os.PathLike)):
            raise TypeError(f"checkpoint must be a file path, e.g. 'runs/alexnet.pt', or None, got {short(checkpoint)}")
        if not isinstance(resume, (bool, str, os.PathLike)):
            raise TypeError(f"resume must be True, False or the path of a checkpoint, got {short(resume)}")
        if not isinstance(overwrite, bool):
            raise TypeError(f"overwrite must be True or False, got {short(overwrite)}")
        self.path = None if checkpoint is None else Path(checkpoint)
        self.source = (self.path if resume is True else None if resume is False else Path(resume))
        if resume is True and self.path is None:
            raise ValueError("resume=True resumes from checkpoint=PATH: give the checkpoint's path (or resume=PATH)")
        same = self.path is not None and self.source is not None and os.path.abspath(self.path) == os.path.abspath(
            self.source)
        if same and overwrite:
            raise ValueError("resume and overwrite=True contradict each other: resume goes on from the checkpoint, "
                             "overwrite starts anew and replaces it; choose one")
        self.every = None if every is None else as_int(every, "checkpoint_every")
        if self.every is not None and self.path is None:
            raise ValueError("checkpoint_every needs checkpoint=PATH, the file to write")
        if self.path is not None and not same and not overwrite and self.path.exists():
            raise FileExistsError(f"{self.path} already holds a checkpoint: resume it (resume=True, on the command "
                                  "line --resume), or start anew and replace it (overwrite=True, --overwrite)")
        self.epoch, self.batch, self.saved, self.identity = 0, 0, None, None
        self.write = True  # False in every process but rank 0's (torchrun)

    @property
    def active(self) -> bool:
        return self.path is not None or self.source is not None

    def resume(self, net, optimizer, scheduler, scaler, history, identity: dict) -> bool:
        """Load the checkpoint to resume from, after checking all of it; False when not resuming."""
        self.identity = identity
        if self.source is None:
            return False
        saved = read_checkpoint(self.source)
        net = _unwrap(net)
        diff = _differences(net.state_dict(), saved["state_dict"])
        if diff:
            raise CheckpointError(f"{self.source} is a checkpoint of another network ({saved['meta'].get('model')}, "
                                  f"net is {_model_name(net)}): its parameters and buffers differ: {'; '.join(diff)}. "
                                  "Nothing was loaded")
        runs = _run_differences(saved["meta"].get("run", {}), identity)
        if runs:
            raise CheckpointError(f"{self.source} is a checkpoint of another run (another recipe or settings): "
                                  f"{'; '.join(runs)}. Resume with the same settings, or start anew with "
                                  "overwrite=True; nothing was loaded")
        if (saved["scheduler"] is None) != (scheduler is None) or (saved["scaler"] is None) != (scaler is None):
            raise CheckpointError(f"{self.source}: the scheduler or gradient scaler differs from this run's; "
                                  "nothing was loaded")
        net.load_state_dict(saved["state_dict"])
        optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(saved["scheduler"])
        if scaler is not None:
            scaler.load_state_dict(saved["scaler"])
        from .train import History
        restored = History.from_dict(saved["history"])
        for name in ("train_loss", "train_acc", "test_acc", "examples_per_sec", "seconds",
                     "step", "step_epoch", "step_loss", "step_acc"):
            setattr(history, name, getattr(restored, name))
        self.epoch, self.batch, self.saved = saved["meta"]["epoch"], saved["meta"]["batch"], saved
        self.steps_before = saved["meta"]["step"] - self.batch  # the steps of the epochs before
        if self.batch == 0:
            set_rng_state(saved["rng"])
        return True

    def epoch_start(self, epoch: int) -> None:
        """At the start of an epoch, before its first batch: the random state a mid-epoch save needs."""
        if self.path is not None and self.every is not None:
            self.rng_epoch = rng_state()

    def batches(self, batches, epoch: int, sums, monitor):
        """The epoch's batches, and the number already trained: in the epoch a mid-epoch
        checkpoint stopped in, its pass is replayed up to where it stopped, and the running sums,
        the step points and the random states are put back as they were there."""
        if self.saved is None or self.batch == 0 or epoch != self.epoch:
            return batches, 0, 0.0
        saved, loop = self.saved, self.saved["loop"]
        set_rng_state(saved["rng"]["epoch_start"])
        batches = iter(batches)
        for _ in range(self.batch):  # the loader's pass as it was, without training on it
            next(batches)
        set_rng_state(saved["rng"])
        sums.loss.copy_(loop["sums_loss"])
        sums.correct.copy_(loop["sums_correct"])
        sums.n = loop["sums_n"]
        monitor.last = tuple(loop["last"])
        monitor.last_n = monitor.last[2]   # (step checkpoints: one process, so its n is the whole)
        monitor.pending = [tuple(p) for p in loop["pending"]]
        monitor.every = loop["every"]
        monitor.steps_before = loop["steps_before"]
        self.rng_epoch = saved["rng"]["epoch_start"]
        return batches, self.batch, loop["elapsed"]

    def step_done(self, parts, epoch: int, i: int, num_batches, sums, monitor, elapsed: float) -> None:
        """After optimizer step ``i`` of ``epoch``: a checkpoint every ``checkpoint_every`` steps."""
        if self.every is None or (monitor.steps_before + i) % self.every or i == num_batches:
            return
        loop = {"sums_loss": sums.loss.detach().cpu().clone(), "sums_correct": sums.correct.detach().cpu().clone(),
                "sums_n": sums.n, "last": list(monitor.last), "pending": [list(p) for p in monitor.pending],
                "every": monitor.every, "steps_before": monitor.steps_before, "elapsed": elapsed}
        rng = dict(rng_state(), epoch_start=self.rng_epoch)
        self._save(parts, epoch, i, monitor.steps_before + i, loop, rng)

    def epoch_done(self, parts, epoch: int, steps: int) -> None:
        """After epoch ``epoch`` (its results in the History): a checkpoint at the epoch's end."""
        if self.path is not None:
            self._save(parts, epoch + 1, 0, steps, {}, dict(rng_state(), epoch_start=None))

    def _save(self, parts, epoch: int, batch: int, step: int, loop: dict, rng: dict) -> None:
        if not self.write:
            return
        net, optimizer, scheduler, scaler, history = parts
        net = _unwrap(net)
        meta = {"model": _model_name(net), "run": self.identity, "epoch": epoch, "batch": batch, "step": step,
                "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "torch": torch.__version__.split("+")[0]}
        atomic_save({"format": FORMAT, "version": VERSION, "kind": KIND, "meta": meta,
                     "state_dict": _cpu(net.state_dict()), "optimizer": _cpu(optimizer.state_dict()),
                     "scheduler": None if scheduler is None else _cpu(scheduler.state_dict()),
                     "scaler": None if scaler is None else _cpu(scaler.state_dict()),
                     "history": history.to_dict(), "loop": loop, "rng": rng}, self.path)
