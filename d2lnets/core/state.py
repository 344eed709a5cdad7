"""Copies of training state: state dicts on the CPU, and every random-number generator's state;
and copies from the host to the device that do not make the host wait.

A run's divergence guard keeps a copy of the network's and the optimizer's state to go back to,
and a checkpoint saves them; both use :func:`cpu_copy`. A checkpoint also saves the random
states (:func:`rng_state`) as plain data that ``torch.load(..., weights_only=True)`` reads.
Numbers made on the host for a batch on the device (augmentation's random draws, a shuffle's
order) travel with :func:`to_device`; small constants (a normalisation's mean and std) are copied
once per device with :func:`constant`.
"""
from __future__ import annotations

import copy
import functools
import random

import numpy as np
import torch

__all__ = ["constant", "cpu_copy", "rng_state", "set_rng_state", "to_device"]


def to_device(t: torch.Tensor, device: torch.device | str) -> torch.Tensor:
    """``t``, a CPU tensor, on ``device`` without making the host wait: on CUDA through pinned
    memory with ``non_blocking=True`` (a copy from ordinary memory blocks until it is done); ``t``
    itself when it is there already."""
    device = torch.device(device)
    if t.device == device or device.type == "cpu":
        return t.to(device)
    if device.type == "cuda" and t.device.type == "cpu":
        t = t.pin_memory()
    return t.to(device, non_blocking=True)


@functools.lru_cache(maxsize=64)
def constant(values: tuple[float, ...], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """A 1-d tensor of ``values`` on ``device``, made (and copied there) once and then reused: never
    change it in place."""
    return to_device(torch.tensor(values, dtype=dtype), device)


def cpu_copy(state, non_blocking: bool = False):
    """A copy of ``state`` (a state dict, or any nesting of dicts, lists and tuples) with its tensors
    in CPU memory, keeping the containers' types (and a module state dict's ``_metadata``).

    ``non_blocking=True`` copies from an accelerator into pinned memory without waiting for it; the
    copy may then be read only after the device has been synchronised (the guard does so before it
    restores).
    """
    if isinstance(state, torch.Tensor):
        t = state.detach()
        if non_blocking and t.device.type != "cpu":
            out = torch.empty(t.shape, dtype=t.dtype, pin_memory=True)
            return out.copy_(t, non_blocking=True)
        return t.to("cpu", copy=True)
    if isinstance(state, dict):  # a shallow copy first keeps the dict's type and a module's _metadata
        copied = copy.copy(state)
        copied.update((k, cpu_copy(v, non_blocking)) for k, v in state.items())
        return copied
    if isinstance(state, (list, tuple)):
        return type(state)(cpu_copy(v, non_blocking) for v in state)
    return copy.deepcopy(state)


def rng_state() -> dict:
    """Python's, NumPy's and torch's (CPU and every GPU) random states, as plain data."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": [version, list(internal), gauss],
            "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict) -> None:
    """Put back the random states :func:`rng_state` gave."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
