"""Checkpoints of a ``train_ch5`` run, and an exact resume from one.

``train_ch5(..., checkpoint="runs/alexnet.pt")`` writes a checkpoint at the end of every epoch
(and every ``checkpoint_every`` optimizer steps, when given); ``resume=True`` (or
``resume="path"``) goes on from it. The file is :mod:`.saving`'s format with the kind
``"checkpoint"``, plain data that ``torch.load(..., weights_only=True)`` reads (format version 2)::

    {"format": "d2lnets-model", "version": 2, "kind": "checkpoint",
     "meta": {"model": "LeNet (modern)", "run": {...what identifies the run...},
              "epoch": 2, "batch": 4, "step": 20, "date": ..., "torch": ...},
     "state_dict": {...}, "optimizer": {...}, "scheduler": {...} or None, "scaler": {...} or None,
     "history": History.to_dict(), "loop": {...the epoch's running sums...},
     "hooks": {hook name: that hook's state_dict()},
     "rng": {"python", "numpy", "torch", "cuda", and the same at the start of the epoch}}

- A save writes a temporary file beside the target and renames it over it (``os.replace``): a
  crash while saving leaves the previous checkpoint whole.
- A ``checkpoint=`` path that already holds a file is refused unless ``resume`` (go on from it)
  or ``overwrite=True`` (start anew and replace it).
- A resume checks everything before it loads anything: the network's parameter names and shapes,
  and the run (optimizer and its settings, scheduler, epochs, batches, batch size, data seed,
  precision); what differs is named, and nothing is half-loaded. A checkpoint of format version 1
  (d2lnets 0.1) is refused by name.
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
import time
from pathlib import Path

import torch

from ..core.paths import atomic_save
from ..core.state import cpu_copy, rng_state, set_rng_state
from ..core.validate import as_int, short
from .history import History
from .hooks import Hook
from .saving import FORMAT, ModelMismatchError, differences, model_name, read_saved, unwrap

__all__ = ["VERSION", "CheckpointError", "Checkpoints", "read_checkpoint", "run_identity"]

KIND, VERSION = "checkpoint", 2
_PARTS = ("meta", "state_dict", "optimizer", "history", "loop", "hooks", "rng")


class CheckpointError(ModelMismatchError):
    """A checkpoint that cannot be used: unreadable, truncated, of another version, network or run."""


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The checkpoint in ``path``, read with ``torch.load(..., weights_only=True)`` and checked to
    be whole; :class:`CheckpointError` says what is wrong otherwise."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}: train with checkpoint={str(path)!r} first (without "
                                "resume), or give the path of an existing checkpoint")
    saved = read_saved(path, CheckpointError, "a whole checkpoint",
                       "it may be truncated. Move it away, or start anew with overwrite=True")
    ours = isinstance(saved, dict) and saved.get("format") == FORMAT
    if ours and saved.get("kind") == KIND and saved.get("version") != VERSION:
        raise CheckpointError(f"{path} is a checkpoint of format version {saved.get('version')!r} (written by an "
                              f"older d2lnets); this d2lnets reads version {VERSION}. Resume it with the d2lnets "
                              "that wrote it, or start anew with overwrite=True")
    if not (ours and saved.get("kind") == KIND and all(isinstance(saved.get(p), dict) for p in _PARTS)):
        what = ("a saved model (d2l.save_model), not a checkpoint" if ours and saved.get("kind") != KIND
                else "not a checkpoint of train_ch5")
        raise CheckpointError(f"{path} is {what} (a '{FORMAT}' file of kind '{KIND}' with "
                              f"{', '.join(_PARTS)}); move it away, or start anew with overwrite=True")
    return saved


def _saved_by_torch(path: Path) -> bool:
    """Whether ``path`` starts as the files torch.save writes do (a zip archive, or an older pickle)."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError:
        return False
    return head.startswith((b"PK\x03\x04", b"\x80"))


def _check_state(state: object, what: str) -> None:
    """A hook's state is what a checkpoint can save and load back (``weights_only``): a dict of
    numbers, strings, None, tensors, and lists and dicts of them."""
    def plain(value: object) -> bool:
        if isinstance(value, (str, int, float, bool, type(None), torch.Tensor)):
            return True
        if isinstance(value, (list, tuple)):
            return all(plain(v) for v in value)
        return isinstance(value, dict) and all(isinstance(k, (str, int)) and plain(v) for k, v in value.items())

    if not isinstance(state, dict) or not plain(state):
        raise TypeError(f"{what} returned {short(state)}; a checkpoint saves a hook's state as a dict of numbers, "
                        "strings, None, tensors, and lists and dicts of them (so that it loads back with "
                        "weights_only=True): convert the rest, e.g. float(x), x.tolist()")


def _run_differences(saved: dict, here: dict) -> list[str]:
    out = []
    for key in sorted(set(saved) | set(here)):
        a, b = saved.get(key), here.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += [f"{key} {d}" for d in _run_differences(a, b)]
        elif a != b:
            out.append(f"{key} {a!r} there, {b!r} here")
    return out


def run_identity(run) -> dict:
    """What a resumed run must share with the one that wrote the checkpoint (plain data)."""
    optimizer, scheduler, train_iter = run.optimizer, run.scheduler, run.train_iter
    hyper = {k: v for k, v in optimizer.defaults.items()
             if isinstance(v, (int, float, bool, str)) and k not in ("foreach", "fused", "differentiable")}
    return {"model": model_name(unwrap(run.net)), "optimizer": type(optimizer).__name__, "hyperparameters": hyper,
            "scheduler": None if scheduler is None else type(scheduler).__name__, "num_epochs": run.num_epochs,
            "batches_per_epoch": run.num_batches, "batch_size": getattr(train_iter, "batch_size", None),
            "examples": getattr(train_iter, "num_examples", None), "data_seed": getattr(train_iter, "seed", None),
            "settings": run.settings.description}


class Checkpoints(Hook):
    """The run's checkpoints: the resume at the start, a save at the end of every epoch (and every
    ``every`` optimizer steps). Only the main process writes."""

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
        if self.path is not None and self.path.is_dir():
            raise ValueError(f"checkpoint={str(self.path)!r} is a folder; give the path of a file in it, e.g. "
                             f"{str(self.path / 'run.pt')!r}")
        if self.path is not None and not same and self.path.exists():
            if not _saved_by_torch(self.path):  # a learner's other file: never replaced, whatever overwrite says
                raise FileExistsError(f"{self.path} holds a file that torch.save did not write, so not a "
                                      "checkpoint: it is not replaced (even with overwrite=True); write the "
                                      "checkpoint to another path")
            if not overwrite:
                raise FileExistsError(f"{self.path} already holds a checkpoint: resume it (resume=True, on the "
                                      "command line --resume), or start anew and replace it (overwrite=True, "
                                      "--overwrite)")
        self.saved, self.rng_epoch = None, None

    @property
    def active(self) -> bool:
        return self.path is not None or self.source is not None

    def on_fit_start(self, run) -> None:
        if self.every is not None and run.group is not None:
            raise ValueError("checkpoint_every is for one process: with several (torchrun), checkpoints are "
                             "written at the end of every epoch; leave checkpoint_every out")
        self.identity = run_identity(run)
        if self.source is not None:
            self._resume(run)

    def _resume(self, run) -> None:
        """Load the checkpoint to resume from, after checking all of it."""
        saved = read_checkpoint(self.source)
        net = unwrap(run.net)
        diff = differences(net.state_dict(), saved["state_dict"])
        if diff:
            raise CheckpointError(f"{self.source} is a checkpoint of another network ({saved['meta'].get('model')}, "
                                  f"net is {model_name(net)}): its parameters and buffers differ: {'; '.join(diff)}. "
                                  "Nothing was loaded")
        runs = _run_differences(saved["meta"].get("run", {}), self.identity)
        if runs:
            raise CheckpointError(f"{self.source} is a checkpoint of another run (another recipe or settings): "
                                  f"{'; '.join(runs)}. Resume with the same settings, or start anew with "
                                  "overwrite=True; nothing was loaded")
        if (saved["scheduler"] is None) != (run.scheduler is None) or (saved["scaler"] is None) != (run.scaler is None):
            raise CheckpointError(f"{self.source}: the scheduler or gradient scaler differs from this run's; "
                                  "nothing was loaded")
        net.load_state_dict(saved["state_dict"])
        run.optimizer.load_state_dict(saved["optimizer"])
        for obj, state in ((run.scheduler, saved["scheduler"]), (run.scaler, saved["scaler"])):
            if obj is not None:
                obj.load_state_dict(state)
        restored = History.from_dict(saved["history"])
        for name in ("train_loss", "train_acc", "test_acc", "examples_per_sec", "seconds",
                     "step", "step_epoch", "step_loss", "step_acc"):
            setattr(run.history, name, getattr(restored, name))
        meta, loop = saved["meta"], saved["loop"]
        run.epoch, run.batch, run.step, run.resumed = meta["epoch"], meta["batch"], meta["step"], True
        run.load_hook_states(saved["hooks"])
        if run.batch == 0:
            set_rng_state(saved["rng"])
        else:  # in the middle of an epoch: its running sums, and the random states to replay it with
            run.loss_sum.copy_(loop["loss_sum"])
            run.correct.copy_(loop["correct"])
            run.n, run.elapsed = loop["n"], loop["elapsed"]
            self.saved = saved

    def on_epoch_start(self, run) -> None:
        if self.saved is not None:  # the epoch a mid-epoch checkpoint stopped in: replayed from its start
            set_rng_state(self.saved["rng"]["epoch_start"])
            run.resume_rng, self.saved = self.saved["rng"], None
        if self.path is not None and self.every is not None:
            self.rng_epoch = rng_state()  # what a mid-epoch save needs to replay the epoch

    def on_step_end(self, run) -> None:
        if self.every is None or run.step % self.every or run.batch == run.num_batches:
            return
        loop = {"loss_sum": run.loss_sum.detach().cpu().clone(), "correct": run.correct.detach().cpu().clone(),
                "n": run.n, "elapsed": time.perf_counter() - run.started}
        self._save(run, run.epoch, run.batch, loop, dict(rng_state(), epoch_start=self.rng_epoch))

    def on_epoch_end(self, run) -> None:
        if self.path is not None:
            self._save(run, run.epoch + 1, 0, {}, dict(rng_state(), epoch_start=None))

    def _save(self, run, epoch: int, batch: int, loop: dict, rng: dict) -> None:
        if self.path is None or not run.main:
            return
        hooks = run.hook_states()
        for name, state in hooks.items():
            _check_state(state, f"the hook {name}'s state_dict()")
        net = unwrap(run.net)
        meta = {"model": model_name(net), "run": self.identity, "epoch": epoch, "batch": batch, "step": run.step,
                "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "torch": torch.__version__.split("+")[0]}
        atomic_save({"format": FORMAT, "version": VERSION, "kind": KIND, "meta": meta,
                     "state_dict": cpu_copy(net.state_dict()), "optimizer": cpu_copy(run.optimizer.state_dict()),
                     "scheduler": None if run.scheduler is None else cpu_copy(run.scheduler.state_dict()),
                     "scaler": None if run.scaler is None else cpu_copy(run.scaler.state_dict()),
                     "history": run.history.to_dict(), "loop": loop, "hooks": hooks, "rng": rng},
                    self.path)
