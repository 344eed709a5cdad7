"""Run profiles, devices and seeds.

One notebook runs on every machine: ``D2LNETS_PROFILE`` says how much work it does.

========  ==========================================  =======================================
profile   for                                          budget on a 2-core CPU
========  ==========================================  =======================================
smoke     CI: proves every cell runs                   a chapter in well under a minute
cpu       a learner's laptop: real results             a chapter in at most 10 minutes
full      a GPU: the book's and paper's settings       —
========  ==========================================  =======================================

The default is ``full`` when CUDA is available, else ``cpu``. ``D2LNETS_DEVICE`` overrides
the device (``cpu``, ``cuda``, ``cuda:1``, ``mps``).
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ._validate import as_int

__all__ = ["PROFILES", "Profile", "as_device", "default_device", "profile", "set_seed", "try_gpu"]

PROFILES = ("smoke", "cpu", "full")


def try_gpu(i: int = 0) -> torch.device:
    """``cuda:i`` if that GPU exists, else the CPU (the book's helper)."""
    i = as_int(i, "i (the GPU's index)", minimum=0)
    if torch.cuda.is_available() and torch.cuda.device_count() > i:
        return torch.device(f"cuda:{i}")
    return torch.device("cpu")


def as_device(device: torch.device | str | int | None, name: str = "device") -> torch.device:
    """``device`` as a ``torch.device`` that exists on this machine (None: :func:`default_device`).

    Anything else -- a name torch does not know, CUDA or MPS where there is none, a GPU index past
    the last GPU -- raises ``ValueError`` naming ``name`` and what to use instead.
    """
    if device is None:
        return default_device()
    said = f"{name}={str(device)!r}"
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"{said} is not a device torch knows; use e.g. 'cpu', 'cuda' or 'cuda:0'") from e
    fix = "; use 'cpu', or d2l.try_gpu() for the GPU when there is one"
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"{said} asks for CUDA, but torch sees no CUDA device here{fix}")
        if device.index is not None and device.index >= count:
            raise ValueError(f"{said} asks for GPU {device.index}, but torch sees {count} "
                             f"(cuda:0 to cuda:{count - 1}){fix}")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"{said} asks for Apple's MPS, which this machine does not have{fix}")
    return device


def default_device() -> torch.device:
    """The device training uses unless told otherwise: ``$D2LNETS_DEVICE``, else :func:`try_gpu`."""
    name = os.environ.get("D2LNETS_DEVICE", "").strip()
    return as_device(name, "D2LNETS_DEVICE") if name else try_gpu()


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and torch's random number generators (CPU and every GPU)."""
    seed = as_int(seed, "seed", minimum=None)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@dataclass(frozen=True)
class Profile:
    """What a chapter may spend: read its settings with :meth:`choose`, never by editing cells.

    ``num_train``/``num_test`` cap the examples loaded (``None``: the whole dataset).
    """

    name: str
    device: torch.device
    num_train: int | None
    num_test: int | None

    @property
    def is_smoke(self) -> bool:
        return self.name == "smoke"

    def choose(self, *, smoke: Any, cpu: Any, full: Any) -> Any:
        """The value for the current profile: ``epochs = P.choose(smoke=1, cpu=6, full=10)``."""
        return {"smoke": smoke, "cpu": cpu, "full": full}[self.name]

    def __str__(self) -> str:
        subset = "all data" if self.num_train is None else f"{self.num_train} train / {self.num_test} test examples"
        return f"profile {self.name!r} on {self.device} ({subset})"


def profile() -> Profile:
    """The run profile from ``$D2LNETS_PROFILE`` (default: ``full`` with CUDA, else ``cpu``)."""
    device = default_device()
    name = os.environ.get("D2LNETS_PROFILE", "").strip().lower()
    if not name:
        name = "full" if device.type == "cuda" else "cpu"
    if name not in PROFILES:
        raise ValueError(f"D2LNETS_PROFILE={name!r} is not a profile; choose one of {', '.join(PROFILES)}")
    if name == "smoke":
        return Profile(name, device, num_train=2048, num_test=1024)
    return Profile(name, device, num_train=None, num_test=None)
