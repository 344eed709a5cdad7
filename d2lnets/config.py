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

__all__ = ["PROFILES", "Profile", "default_device", "profile", "set_seed", "try_gpu"]

PROFILES = ("smoke", "cpu", "full")


def try_gpu(i: int = 0) -> torch.device:
    """``cuda:i`` if that GPU exists, else the CPU (the book's helper)."""
    if torch.cuda.is_available() and torch.cuda.device_count() > i:
        return torch.device(f"cuda:{i}")
    return torch.device("cpu")


def default_device() -> torch.device:
    """The device training uses unless told otherwise: ``$D2LNETS_DEVICE``, else :func:`try_gpu`."""
    name = os.environ.get("D2LNETS_DEVICE", "").strip()
    if not name:
        return try_gpu()
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise ValueError(
            f"D2LNETS_DEVICE={name!r} is not a device torch knows; use e.g. 'cpu', 'cuda' or 'cuda:0'"
        ) from e
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"D2LNETS_DEVICE={name!r} asks for CUDA, but torch sees no CUDA device here")
    return device


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and torch's random number generators (CPU and every GPU)."""
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
