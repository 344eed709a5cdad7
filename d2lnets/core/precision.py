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

**The TF32 policy.** On CUDA the fast path multiplies fp32 matrices in TensorFloat-32 (10-bit
mantissa products, fp32 sums: ``torch.set_float32_matmul_precision("high")`` and
``torch.backends.cudnn.allow_tf32``), lets cuDNN pick its fastest convolutions
(``cudnn.benchmark``), and so is fast but not reproducible bit for bit. ``precision="exact"`` is
the other end: IEEE fp32 everywhere (TF32 off), the book's memory layout (NCHW, unless
``channels_last=True`` is asked for), deterministic algorithms (``torch.use_deterministic_algorithms``
with ``warn_only``: an operation torch has no deterministic version of warns, naming itself, rather
than failing), cuDNN deterministic and not autotuned, and no captured or compiled steps. It is the
mode of the bit-for-bit tests: on the CPU it computes exactly the book's loop. :func:`math_mode`
sets these flags for a run and puts back what they were afterwards (also after an error).
"""
from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from . import config

__all__ = ["PRECISIONS", "Settings", "autocast", "choose_settings", "cpu_has_native_bf16", "math_mode"]

PRECISIONS = ("auto", "fp32", "bf16", "fp16", "exact")


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
    - ``tf32``: fp32 matrix products and convolutions in TensorFloat-32 (CUDA's fast path).
    - ``exact``: the exact mode (see the module's docstring).
    """

    dtype: torch.dtype | None
    channels_last: bool
    scaler: bool
    description: str
    tf32: bool = False
    exact: bool = False

    def __str__(self) -> str:
        return self.description


def choose_settings(device: torch.device | str, precision: str = "auto",
                    channels_last: bool | str = "auto") -> Settings:
    """The :class:`Settings` for training on ``device``.

    ``precision``: ``"auto"``, ``"fp32"``, ``"bf16"``, ``"fp16"`` (CUDA only) or ``"exact"`` (IEEE
    fp32, deterministic); ``"auto"`` is fp32 when ``D2LNETS_PRECISION=fp32``. ``channels_last``:
    True, False or ``"auto"`` (in the exact mode: False).
    """
    device = torch.device(device)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be 'auto', 'fp32', 'bf16', 'fp16' or 'exact', got {precision!r}")
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
    exact = precision == "exact"
    dtype = {"fp32": None, "exact": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    if channels_last == "auto":
        channels_last = device.type in ("cpu", "cuda") and not exact
    tf32 = device.type == "cuda" and not exact
    description = ", ".join(filter(None, ["exact fp32 (IEEE, deterministic)" if exact else
                                          f"{str(dtype).removeprefix('torch.')} autocast" if dtype else "fp32",
                                          "channels_last" if channels_last else "", "TF32" if tf32 else ""]))
    return Settings(dtype=dtype, channels_last=bool(channels_last), scaler=precision == "fp16",
                    description=description, tf32=tf32, exact=exact)


@contextlib.contextmanager
def math_mode(device: torch.device | str, settings: Settings) -> Iterator[None]:
    """Set torch's global arithmetic flags for a run on ``device`` in ``settings``, and put back
    what they were afterwards: on CUDA, TF32 on (``settings.tf32``) or off and cuDNN's autotuning
    (off in the exact mode); in the exact mode, deterministic algorithms and deterministic cuDNN,
    on every device. Elsewhere nothing is changed."""
    cuda, exact = torch.device(device).type == "cuda", settings.exact
    saved, workspace = _flags(), os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    try:
        if cuda:
            torch.set_float32_matmul_precision("high" if settings.tf32 else "highest")
            torch.backends.cudnn.allow_tf32 = settings.tf32
            torch.backends.cudnn.benchmark = not exact
        if exact:
            if cuda:  # cuBLAS is deterministic only with a fixed workspace (torch asks for this variable)
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
            torch.backends.cudnn.deterministic = True
            torch.use_deterministic_algorithms(True, warn_only=True)
        yield
    finally:
        _set_flags(saved)
        if workspace is None:
            os.environ.pop("CUBLAS_WORKSPACE_CONFIG", None)


def _flags() -> dict:
    return {"matmul": torch.get_float32_matmul_precision(), "cudnn_tf32": torch.backends.cudnn.allow_tf32,
            "benchmark": torch.backends.cudnn.benchmark, "deterministic": torch.backends.cudnn.deterministic,
            "algorithms": (torch.are_deterministic_algorithms_enabled(),
                           torch.is_deterministic_algorithms_warn_only_enabled())}


def _set_flags(flags: dict) -> None:
    if torch.get_float32_matmul_precision() != flags["matmul"]:
        torch.set_float32_matmul_precision(flags["matmul"])
    torch.backends.cudnn.allow_tf32 = flags["cudnn_tf32"]
    torch.backends.cudnn.benchmark = flags["benchmark"]
    torch.backends.cudnn.deterministic = flags["deterministic"]
    enabled, warn_only = flags["algorithms"]
    torch.use_deterministic_algorithms(enabled, warn_only=warn_only)


def autocast(device: torch.device | str, settings: Settings | torch.dtype | None, cache: bool = True):
    """A context that computes in ``settings``' autocast dtype on ``device`` (nothing for fp32).

    ``settings`` may also be a dtype, or None for fp32. ``cache=False``: no cache of the weights'
    casts (what a CUDA graph's capture needs).
    """
    dtype = settings.dtype if isinstance(settings, Settings) else settings
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=dtype, cache_enabled=cache)
