"""Run profiles, devices and seeds.

One notebook runs on every machine: ``D2LNETS_PROFILE`` says how much work it does.

========  ==========================================  ==============================================
profile   for                                         budget on a 2-core CPU
========  ==========================================  ==============================================
smoke     CI: proves every cell runs                  a chapter in well under a minute
cpu       a learner's laptop: real results            a chapter in at most 9 minutes (12 in fp32)
full      a GPU: the book's and paper's settings      —
========  ==========================================  ==============================================

The default is ``full`` when CUDA is available, else ``cpu``. ``D2LNETS_DEVICE`` overrides
the device (``cpu``, ``cuda``, ``cuda:1``, ``mps``).

The environment variables the package reads, each through :func:`env` (or the small function
named after what it holds, below it):

==========================  ==============================================================================
variable                    what it does
==========================  ==============================================================================
``D2LNETS_PROFILE``         the run profile: ``smoke``, ``cpu`` or ``full`` (:func:`profile`)
``D2LNETS_DEVICE``          the device to train on, e.g. ``cpu``, ``cuda:1`` (:func:`default_device`)
``D2LNETS_PRECISION``       ``fp32``: ``precision="auto"`` means fp32 in every run (:mod:`d2lnets.core.precision`)
``D2LNETS_DATA``            a folder holding the dataset files, searched first (:mod:`d2lnets.data.store`)
``D2LNETS_RUNS``            where models are saved and loaded (:mod:`d2lnets.train.saving`)
``D2LNETS_RESULTS``         a JSON-lines file that chapters' results and reports go to (:mod:`d2lnets.train.records`)
``D2LNETS_RUN_LOG``         a JSON-lines file that every training run goes to (:mod:`d2lnets.train.records`)
``D2LNETS_REQUIRE_DEVICE``  a device type (``cuda``) training must run on, else it stops (CI's GPU job)
``D2LNETS_REUSE_MEMORY``    ``0``: keep glibc's memory defaults while training (:mod:`d2lnets.core.memory`)
==========================  ==============================================================================
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .validate import as_int

__all__ = ["ENV", "PROFILES", "Profile", "as_device", "data_dir", "default_device", "env", "forced_precision",
           "profile", "required_device", "results_path", "reuse_memory", "run_log_path", "runs_dir_setting",
           "set_seed", "try_gpu"]

PROFILES = ("smoke", "cpu", "full")

# The variables of the table above (the docstring says what each does).
ENV = ("D2LNETS_PROFILE", "D2LNETS_DEVICE", "D2LNETS_PRECISION", "D2LNETS_DATA", "D2LNETS_RUNS",
       "D2LNETS_RESULTS", "D2LNETS_RUN_LOG", "D2LNETS_REQUIRE_DEVICE", "D2LNETS_REUSE_MEMORY")


def env(name: str) -> str:
    """The value of the package's environment variable ``name``, stripped ("" when unset)."""
    if name not in ENV:
        raise KeyError(f"{name} is not one of the package's environment variables: {', '.join(ENV)}")
    return os.environ.get(name, "").strip()


def forced_precision() -> str | None:
    """``"fp32"`` when ``$D2LNETS_PRECISION`` forces fp32, else None."""
    value = env("D2LNETS_PRECISION").lower()
    if value in ("", "auto"):
        return None
    if value != "fp32":
        raise ValueError(f"D2LNETS_PRECISION={value!r}: set it to 'fp32' (fp32 in every run) or leave it unset")
    return value


def data_dir() -> str | None:
    """``$D2LNETS_DATA``: a folder that holds the dataset files, or None."""
    return env("D2LNETS_DATA") or None


def runs_dir_setting() -> str | None:
    """``$D2LNETS_RUNS``: where models are saved, or None."""
    return env("D2LNETS_RUNS") or None


def results_path() -> str | None:
    """``$D2LNETS_RESULTS``: the file chapters' results and reports go to, or None."""
    return env("D2LNETS_RESULTS") or None


def run_log_path() -> str | None:
    """``$D2LNETS_RUN_LOG``: the file every training run is logged to, or None."""
    return env("D2LNETS_RUN_LOG") or None


def required_device() -> str | None:
    """``$D2LNETS_REQUIRE_DEVICE``: the device type training must run on, or None."""
    return env("D2LNETS_REQUIRE_DEVICE") or None


def reuse_memory() -> bool:
    """False when ``D2LNETS_REUSE_MEMORY=0``."""
    return env("D2LNETS_REUSE_MEMORY") != "0"


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


def accelerator() -> torch.device | None:
    """This machine's accelerator, preferring NVIDIA's CUDA, then Apple's MPS, then Intel's XPU, then
    whatever ``torch.accelerator`` reports (in a torch that has it); None when there is none."""
    if torch.cuda.is_available() and torch.cuda.device_count() > 0:
        return torch.device("cuda:0")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    xpu = getattr(torch, "xpu", None)
    if xpu is not None and xpu.is_available():
        return torch.device("xpu:0")
    other = getattr(torch, "accelerator", None)
    if other is not None and other.is_available():
        return torch.device(other.current_accelerator())
    return None


def default_device() -> torch.device:
    """The device training uses unless told otherwise: ``$D2LNETS_DEVICE``, else the machine's
    :func:`accelerator` (CUDA, MPS, XPU), else the CPU. (:func:`try_gpu` keeps the book's meaning:
    a CUDA GPU or the CPU.) On MPS and XPU, training runs in fp32 without ``channels_last``: the
    faster settings have been measured on CPUs and CUDA only."""
    name = env("D2LNETS_DEVICE")
    if name:
        return as_device(name, "D2LNETS_DEVICE")
    return accelerator() or torch.device("cpu")


def set_seed(seed: int) -> None:
    """Seed Python's, NumPy's and torch's random number generators (CPU and every GPU)."""
    seed = as_int(seed, "seed", minimum=None)
    if not -(2**63) <= seed < 2**64:
        raise ValueError(f"seed must be an integer from -2**63 to 2**64 - 1 (torch's range), got {seed}")
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


def profile(name: str | None = None) -> Profile:
    """The run profile ``name``, by default the one ``$D2LNETS_PROFILE`` names (default: ``full``
    with CUDA, else ``cpu``)."""
    device = default_device()
    given = name is not None
    name = (name if given else env("D2LNETS_PROFILE")).lower()
    if not name:
        name = "full" if device.type == "cuda" else "cpu"
    if name not in PROFILES:
        where = "profile" if given else "D2LNETS_PROFILE"
        raise ValueError(f"{where}={name!r} is not a profile; choose one of {', '.join(PROFILES)}")
    if name == "smoke":
        return Profile(name, device, num_train=2048, num_test=1024)
    return Profile(name, device, num_train=None, num_test=None)
