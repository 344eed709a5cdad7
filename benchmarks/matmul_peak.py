"""The machine's yardsticks: the matrix-multiply peak (fp32, bf16, and fp16 on CUDA), and how much
faster one 3x3 convolution of ResNet-18 trains in the default settings than in the book's (the
ceiling for a network made of such layers)."""
from __future__ import annotations

import statistics
import time

import torch
from timing import default_settings, sync
from torch import nn

from d2lnets.core.precision import autocast


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int = 4096, reps: int = 4) -> float:
    """Best-of-``reps`` FLOP/s of an n x n matrix product."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        sync(device)
        start = time.perf_counter()
        torch.mm(a, b)
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def measure_peaks(device: torch.device) -> dict[str, float]:
    """FLOP/s by precision."""
    peaks = {"fp32": matmul_peak(device, torch.float32), "bf16": matmul_peak(device, torch.bfloat16)}
    if device.type == "cuda":
        peaks["fp16"] = matmul_peak(device, torch.float16)
    print("  " + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in peaks.items()), flush=True)
    return peaks


def conv_speedup(device: torch.device, batch: int = 128, channels: int = 128, size: int = 12,
                 reps: int = 30) -> float:
    """How much faster one 3x3 convolution trains (forward + backward) in the default settings
    than in the book's (fp32, NCHW): the layer of ResNet-18's second stage at 96 px. The two take
    turns ``reps`` times; the ratio of their median times."""
    settings = default_settings(device)
    setups = {}
    for name, (dtype, nhwc) in {"default": (settings.dtype, settings.channels_last), "book": (None, False)}.items():
        fmt = torch.channels_last if nhwc else torch.contiguous_format
        conv = nn.Conv2d(channels, channels, 3, padding=1).to(device, memory_format=fmt)
        X = torch.randn(batch, channels, size, size, device=device).contiguous(memory_format=fmt).requires_grad_()
        setups[name] = (conv, X, dtype)
    times = {name: [] for name in setups}
    for rep in range(reps + 1):
        for name, (conv, X, dtype) in setups.items():
            sync(device)
            start = time.perf_counter()
            with autocast(device, dtype):
                out = conv(X)
            out.float().sum().backward()
            sync(device)
            if rep:  # the first is a warm-up
                times[name].append(time.perf_counter() - start)
    return statistics.median(times["book"]) / statistics.median(times["default"])
