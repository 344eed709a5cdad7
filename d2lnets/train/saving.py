"""Saving a chapter's trained model, and loading it back only where it fits.

One file per recipe and profile, ``runs/RECIPE-PROFILE.pt`` at the repository's root (git-ignored),
wherever the notebook runs from (``chapters/``, ``exercises/``, nbval). The file holds plain data
that ``torch.load(..., weights_only=True)`` reads::

    {"format": "d2lnets-model", "version": 1,
     "meta": {"recipe": "01_lenet", "profile": "cpu", "model": "LeNet (modern)",
              "accuracy": 0.87, "date": "2025-01-31T12:00:00+00:00", ...},
     "state_dict": {...}}

- The folder: ``$D2LNETS_RUNS`` if set; else, in a ``smoke`` run, a folder in the system's
  temporary directory (a smoke run never writes to ``runs/``); else ``runs/`` in the repository's
  root (the folder above the package holding ``pyproject.toml`` and ``chapters/``; for an
  installed package, the first such folder from the current directory up, else the current
  directory).
- A save writes a temporary file beside the target and renames it over the target
  (``os.replace``), so a file is never half-written; it replaces only a file of the same recipe and
  profile.
- A load takes only the file of the recipe and profile asked for, checks that the network has
  the same parameter names and shapes before copying anything, and says what differs when not.
"""
from __future__ import annotations

import datetime
import os
import re
import tempfile
from pathlib import Path

import torch
from torch import nn

from ..core.config import PROFILES, runs_dir_setting
from ..core.config import profile as current_profile
from ..core.paths import atomic_save, repo_root
from ..core.validate import as_float, instance_of, short

__all__ = ["FORMAT", "ModelMismatchError", "differences", "load_model", "model_name", "model_path", "read_saved",
           "runs_dir", "save_model", "unwrap"]

FORMAT, VERSION = "d2lnets-model", 1  # (a checkpoint, in the same format, has versions of its own)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_PLAIN = (str, int, float, bool, type(None))


class ModelMismatchError(ValueError):
    """The saved model does not fit: another recipe or profile, or another architecture."""


def runs_dir() -> Path:
    """Where models are saved and loaded: ``$D2LNETS_RUNS``, else a temporary folder in a
    ``smoke`` run, else ``runs/`` in the repository's root (see the module's docstring)."""
    env = runs_dir_setting()
    if env:
        return Path(env).expanduser()
    if current_profile().name == "smoke":
        owner = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
        return Path(tempfile.gettempdir()) / f"d2lnets-smoke-runs-{owner}"
    return repo_root() / "runs"


def _check_name(value: object, name: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(f"{name} must be a name of letters, digits, '_', '-' and '.', such as '01_lenet' "
                         f"(it becomes part of a file name), got {short(value)}")
    return value


def _profile_name(value: str | None) -> str:
    if value is None:
        return current_profile().name
    if value not in PROFILES:
        raise ValueError(f"profile must be one of {', '.join(PROFILES)} (or None: the current one, "
                         f"d2l.profile().name), got {short(value)}")
    return value


def model_path(recipe: str, profile: str | None = None) -> Path:
    """The file of ``recipe``'s model in ``profile`` (default: the current one): ``RECIPE-PROFILE.pt``
    in :func:`runs_dir`."""
    return runs_dir() / f"{_check_name(recipe, 'recipe')}-{_profile_name(profile)}.pt"


def unwrap(net: nn.Module) -> nn.Module:
    """The model inside ``torch.compile``'s and DistributedDataParallel's wrappers."""
    net = getattr(net, "_orig_mod", net)
    return net.module if isinstance(net, (nn.DataParallel, nn.parallel.DistributedDataParallel)) else net


def model_name(net: nn.Module) -> str:
    variant = getattr(net, "variant", None)
    return f"{type(net).__name__} ({variant})" if isinstance(variant, str) else type(net).__name__


def _plain(value: object, where: str) -> object:
    """``value`` if it is plain data (what ``weights_only=True`` loads), else a ``TypeError``."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {k: _plain(v, f"{where}[{k!r}]") for k, v in value.items()}
    raise TypeError(f"{where} must be plain data (str, int, float, bool, None, and lists or dicts of them) so "
                    f"that it loads with weights_only=True, got {short(value)}; convert it, e.g. float(x)")


def read_saved(path: Path, error: type[Exception], what: str, fix: str) -> object:
    """The contents of a saved file, read with ``torch.load(..., weights_only=True)`` (plain data
    only); a file that does not load raises ``error`` saying it is not ``what``, and ``fix``."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise error(f"{path} is not {what} (torch.load with weights_only=True failed: {type(e).__name__}: {e}); "
                    f"{fix}") from e


def _read(path: Path) -> dict:
    saved = read_saved(path, ModelMismatchError, "a model file saved by d2l.save_model", "move it away or delete it")
    if not (isinstance(saved, dict) and saved.get("format") == FORMAT and isinstance(saved.get("meta"), dict)
            and isinstance(saved.get("state_dict"), dict)):
        raise ModelMismatchError(f"{path} is not a model file saved by d2l.save_model (no '{FORMAT}' format "
                                 "with meta and state_dict); move it away or delete it")
    return saved


def save_model(net: nn.Module, recipe: str, *, accuracy: float | None = None, profile: str | None = None,
               model: str | None = None, extra: dict | None = None) -> Path:
    """Save ``net``'s weights (its ``state_dict``, on the CPU) with plain-typed metadata.

    Args:
        net: the trained network.
        recipe: what was trained, e.g. ``"01_lenet"`` (the chapter's recipe name).
        accuracy: its test accuracy, e.g. ``history.test_acc[-1]``.
        profile: the run profile (default: the current one, ``d2l.profile().name``).
        model: the architecture's name (default: the class name and variant, ``"LeNet (modern)"``).
        extra: more plain metadata (numbers, strings, lists, dicts), e.g. ``{"epochs": 10}``.

    Returns the file's path. A file of another recipe or profile is never replaced: the name holds
    both, and a file already there that says otherwise stops the save with ``ModelMismatchError``.
    """
    instance_of(net, nn.Module, "net", "the trained network (an nn.Module)")
    recipe, profile = _check_name(recipe, "recipe"), _profile_name(profile)
    net = unwrap(net)
    if any(isinstance(p, nn.parameter.UninitializedParameter) for p in net.parameters()):
        raise ValueError("net has lazy layers that never ran, so it has no weights to save: run a batch through "
                         "it (or train it) first")
    meta = {"recipe": recipe, "profile": profile,
            "model": model_name(net) if model is None else _check_text(model, "model"),
            "accuracy": None if accuracy is None else as_float(accuracy, "accuracy", at_least=0, at_most=1),
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
            "num_params": sum(p.numel() for p in net.parameters()),
            "torch": torch.__version__.split("+")[0]}
    if extra is not None:
        if not isinstance(extra, dict):
            raise TypeError(f"extra must be a dict of plain metadata, e.g. {{'epochs': 10}}, got {short(extra)}")
        clash = sorted(set(extra) & set(meta))
        if clash:
            raise ValueError(f"extra must not set {clash}: save_model fills those in itself")
        meta.update(_plain(extra, "extra"))
    state = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    path = model_path(recipe, profile)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        old = _read(path)["meta"]
        if (old.get("recipe"), old.get("profile")) != (recipe, profile):
            raise ModelMismatchError(f"{path} holds the model of recipe {old.get('recipe')!r} in profile "
                                     f"{old.get('profile')!r}, not {recipe!r} in {profile!r}: not replacing it; "
                                     "move it away or delete it")
    atomic_save({"format": FORMAT, "version": VERSION, "meta": meta, "state_dict": state}, path)
    return path


def _check_text(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, e.g. 'LeNet (modern)', got {short(value)}")
    return value


def differences(expected: dict, saved: dict) -> list[str]:
    """What differs between ``net``'s state_dict (``expected``) and the saved one."""
    def some(keys: list[str]) -> str:
        return ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")

    missing = [k for k in expected if k not in saved]
    unexpected = [k for k in saved if k not in expected]
    shapes = [f"{k}: saved {list(saved[k].shape)}, net {list(expected[k].shape)}" for k in expected
              if k in saved and tuple(saved[k].shape) != tuple(expected[k].shape)]
    out = []
    if missing:
        out.append(f"{len(missing)} in net but not in the file ({some(missing)})")
    if unexpected:
        out.append(f"{len(unexpected)} in the file but not in net ({some(unexpected)})")
    if shapes:
        out.append(f"{len(shapes)} of different shapes ({'; '.join(shapes[:5])}{' ...' if len(shapes) > 5 else ''})")
    return out


def load_model(net: nn.Module, recipe: str, *, profile: str | None = None) -> dict:
    """Load the saved weights of ``recipe`` in ``profile`` (default: the current one) into ``net``.

    The file is read with ``torch.load(..., weights_only=True)``. Nothing is copied unless it is the
    model of that recipe and profile and its parameter names and shapes are exactly ``net``'s;
    otherwise ``ModelMismatchError`` says what differs (``FileNotFoundError`` when there is no
    file, naming the ones there are). Returns the metadata (a dict of plain values).
    """
    instance_of(net, nn.Module, "net", "the network to load the weights into (an nn.Module)")
    recipe, profile = _check_name(recipe, "recipe"), _profile_name(profile)
    net = unwrap(net)
    path = model_path(recipe, profile)
    if not path.is_file():
        others = sorted(p.name for p in path.parent.glob(f"{recipe}-*.pt")) if path.parent.is_dir() else []
        hint = (f"; there is {', '.join(others)} (another profile: pass profile=... or set D2LNETS_PROFILE)"
                if others else f"; train the model and save it with d2l.save_model(net, {recipe!r}) first")
        raise FileNotFoundError(f"no saved model of recipe {recipe!r} in profile {profile!r}: {path} does not "
                                f"exist{hint}")
    saved = _read(path)
    meta, state = saved["meta"], saved["state_dict"]
    if (meta.get("recipe"), meta.get("profile")) != (recipe, profile):
        raise ModelMismatchError(f"{path} holds the model of recipe {meta.get('recipe')!r} in profile "
                                 f"{meta.get('profile')!r}, not {recipe!r} in {profile!r}: not loading it")
    saved_as, here = str(meta.get("model")), model_name(net)
    if saved_as != here and saved_as.startswith(f"{type(net).__name__} ("):  # same class, another variant
        raise ModelMismatchError(f"{path} holds {saved_as}, but net is {here}: the same weights' shapes, another "
                                 "network (its activations or pooling differ), so the weights would not mean the "
                                 "same. Build the variant that was saved; nothing was loaded")
    if any(isinstance(p, nn.parameter.UninitializedParameter) for p in net.parameters()):
        raise ValueError("net has lazy layers that never ran, so their shapes are unknown: run one batch "
                         "through it first, e.g. net(X) with X from the data, then load")
    diff = differences(net.state_dict(), state)
    if diff:
        raise ModelMismatchError(f"{path} ({meta.get('model')}) does not fit net ({model_name(net)}): its "
                                 f"parameters and buffers differ: {'; '.join(diff)}. Build the same architecture "
                                 "as the one saved; nothing was loaded")
    net.load_state_dict(state)
    return dict(meta, path=str(path))
