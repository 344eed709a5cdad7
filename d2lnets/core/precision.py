"""The device and precision policy: which arithmetic and memory layout training uses.

:func:`choose_settings` decides, :func:`autocast` applies it::

    settings = choose_settings(device)            # e.g. bfloat16 autocast, channels_last
    with autocast(device, settings):
        y_hat = net(X)

``precision="auto"`` picks bf16 autocast where the device computes bf16 natively (a CPU with
AVX-512 BF16 or AMX, a GPU with bf16), fp16 with a gradient scaler on older GPUs, else fp32;
``D2LNETS_PRECISION=fp32`` (read through :mod:`d2lnets.config`) makes ``"auto"`` mean fp32 for
every run. ``channels_last="auto"`` stores images and weights NHWC on the CPU and on CUDA, where
oneDNN's and cuDNN's fastest convolutions read that layout.
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import torch

from . import config

__all__ = ["PRECISIONS", "Settings", "autocast", "choose_settings", "cpu_has_native_bf16"]

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@functools.cache
def cpu_has_native_bf16() -> bool:
    """True when the CPU computes in bf16 natively (AVX-512 BF16 or AMX), where autocast pays off."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


@dataclass(frozen=True)
class Settings:
    """How to train on a device.

    - ``dtype``: the autocast dtype (``torch.bfloat16``, ``torch.float16``), or None for fp32.
    - ``channels_last``: images and weights in NHWC memory format.
    - ``scaler``: use a ``torch.amp.GradScaler`` (fp16).
    - ``description``: in words, e.g. ``"bfloat16 autocast, channels_last"`` or ``"fp32"``.
    """

    dtype: torch.dtype | None
    channels_last: bool
    scaler: bool
    description: str

    def __str__(self) -> str:
        return self.description


def choose_settings(device: torch.device | str, precision: str = "auto",
                    channels_last: bool | str = "auto") -> Settings:
    """The :class:`Settings` for training on ``device``.

    ``precision``: ``"auto"``, ``"fp32"``, ``"bf16"`` or ``"fp16"`` (CUDA only); ``"auto"`` is fp32
    when ``D2LNETS_PRECISION=fp32``. ``channels_last``: True, False or ``"auto"``.
    """
    device = torch.device(device)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be 'auto', 'fp32', 'bf16' or 'fp16', got {precision!r}")
    if channels_last not in (True, False, "auto"):
        raise ValueError(f"channels_last must be True, False or 'auto', got {channels_last!r}")
    if precision == "auto":
        if config.forced_precision() == "fp32":
            precision = "fp32"
        elif device.type == "cuda":
            precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        elif device.type == "cpu" and cpu_has_native_bf16():
            precision = "bf16"
        else:
            precision = "fp32"
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("precision='fp16' needs a CUDA device; use 'bf16' or 'fp32' on the CPU")
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    if channels_last == "auto":
        channels_last = device.type in ("cpu", "cuda")
    description = ", ".join(filter(None, [f"{str(dtype).removeprefix('torch.')} autocast" if dtype else "fp32",
                                          "channels_last" if channels_last else ""]))
    return Settings(dtype=dtype, channels_last=bool(channels_last), scaler=precision == "fp16",
                    description=description)


def autocast(device: torch.device | str, settings: Settings | torch.dtype | None):
    """A context that computes in ``settings``' autocast dtype on ``device`` (nothing for fp32).

    ``settings`` may also be a dtype, or None for fp32.
    """
    dtype = settings.dtype if isinstance(settings, Settings) else settings
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype)
