"""CIFAR-10, read from the official ``cifar-10-python.tar.gz`` without unpacking it to disk.

Found and checked as every dataset is (:mod:`.store`). Its batches are Python pickles -- the
official format -- of a dict with ``b'data'`` (a NumPy uint8 array [10000, 3072], each row the
red, green and blue 32x32 planes) and ``b'labels'`` (a list of ints); they are read with
``pickle`` (``encoding='bytes'``, as they come from Python 2) through an unpickler that builds
nothing but NumPy arrays and plain Python values: any other object in the file is rejected,
naming the file. Held in memory as uint8 (about 180 MB).
"""
from __future__ import annotations

import io
import os
import pickle
import tarfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..core.validate import as_int
from . import store
from .loader import ImageLoader, split_loaders, subsets
from .store import ChecksumError, DatasetSpec, download_url, locate, verify_file

__all__ = ["CIFAR10", "CIFAR10Loader", "CIFAR10_LABELS", "CIFAR10_MEAN", "CIFAR10_STD", "CIFAR10_URL",
           "load_cifar10_tensors", "load_data_cifar10"]


CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"


CIFAR10_LABELS = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


_CIFAR_MEMBERS = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]


class CIFAR10Loader(ImageLoader):
    """An :class:`~d2lnets.data.ImageLoader` whose ``normalize=True`` uses CIFAR-10's channel statistics."""

    mean, std = CIFAR10_MEAN, CIFAR10_STD


class _CIFAR10Spec(DatasetSpec):
    def system_dirs(self) -> list[Path]:
        return [store.SYSTEM_DATA_DIR / "cifar-10"]


CIFAR10 = _CIFAR10Spec(
    "CIFAR-10", {"archive": "cifar-10-python.tar.gz"}, subdirs=("cifar-10",),
    remedies=((f"offline: copy cifar-10-python.tar.gz (from {CIFAR10_URL}, "
               "MD5 c58f30108f718f92721af3b95e74349a) into one of these folders"),
              ("online: connect to the network and call load_data_cifar10 again "
               "(torchvision downloads it into data/)")),
    download=lambda target: download_url(CIFAR10_URL, target, "cifar-10-python.tar.gz"))


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Builds NumPy arrays and plain Python values (dicts, lists, bytes, numbers) and nothing else."""

    def find_class(self, module: str, name: str):
        np_core = getattr(np, "_core", None) or np.core
        allowed = {
            ("numpy.core.multiarray", "_reconstruct"): np_core.multiarray._reconstruct,
            ("numpy._core.multiarray", "_reconstruct"): np_core.multiarray._reconstruct,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
            ("_codecs", "encode"): __import__("codecs").encode,  # how Python 3 pickles bytes in protocol 2
        }
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"it holds a {module}.{name}, which a CIFAR-10 batch never does")
        return allowed[(module, name)]


def _unpickle(raw: bytes, where: str) -> dict:
    """One CIFAR-10 batch: a pickled dict of NumPy arrays and lists (the official format)."""
    try:
        batch = _NumpyOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as e:  # a bad pickle can raise almost anything
        raise ChecksumError(f"{where} is not a CIFAR-10 batch: {type(e).__name__}: {e}") from e
    if not isinstance(batch, dict):
        raise ChecksumError(f"{where} is not a CIFAR-10 batch: it holds a {type(batch).__name__}, not a dict")
    return batch


def _cifar_batch(batch: dict, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = batch.get(b"data"), batch.get(b"labels")
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != 3072:
        shape = (images.dtype, images.shape) if isinstance(images, np.ndarray) else type(images).__name__
        raise ChecksumError(f"{where}: b'data' must be a uint8 array [N, 3072], got {shape}")
    if not isinstance(labels, list) or len(labels) != len(images) or not all(
            type(v) is int and 0 <= v < 10 for v in labels):
        raise ChecksumError(f"{where}: b'labels' must be a list of {len(images)} integers 0-9")
    return (torch.from_numpy(images.reshape(-1, 3, 32, 32).copy()), torch.tensor(labels, dtype=torch.int64))


def load_cifar10_tensors(root: str | os.PathLike | None = None, *, download: bool = True,
                         verify: bool = True) -> dict[str, torch.Tensor]:
    """CIFAR-10 as tensors: ``train_images``/``test_images`` uint8 [N, 3, 32, 32] (50,000 and
    10,000), ``train_labels``/``test_labels`` int64. Read once per process, then served from memory."""
    archive = locate(CIFAR10, root, download=download)["archive"]
    stat = archive.stat()
    key = ("cifar-10", str(archive.resolve()), stat.st_size, stat.st_mtime_ns, verify)
    if key in store.CACHE:
        return store.CACHE[key]
    verify_file(archive, "cifar-10-python.tar.gz", verify=verify)
    batches = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers()
                       if m.isfile() and Path(m.name).parent.name == "cifar-10-batches-py"}
            missing = [name for name in _CIFAR_MEMBERS if name not in members]
            if missing:
                raise ChecksumError(f"{archive} lacks cifar-10-batches-py/{', '.join(missing)}")
            for name in _CIFAR_MEMBERS:
                batches[name] = _unpickle(tar.extractfile(members[name]).read(), f"{archive}: {name}")
    except (tarfile.TarError, EOFError, OSError, ValueError) as e:
        if isinstance(e, ChecksumError):
            raise
        raise ChecksumError(f"{archive} is not a complete tar.gz archive ({e}); delete it and load again") from e
    names = batches["batches.meta"].get(b"label_names")
    if not isinstance(names, list) or [n.decode() if isinstance(n, bytes) else n for n in names] != CIFAR10_LABELS:
        raise ChecksumError(f"{archive}: batches.meta does not name CIFAR-10's ten classes: {names!r}")
    train = [_cifar_batch(batches[f"data_batch_{i}"], f"{archive}: data_batch_{i}") for i in range(1, 6)]
    test_images, test_labels = _cifar_batch(batches["test_batch"], f"{archive}: test_batch")
    tensors = {"train_images": torch.cat([x for x, _ in train]), "train_labels": torch.cat([y for _, y in train]),
               "test_images": test_images, "test_labels": test_labels}
    store.CACHE[key] = tensors
    return tensors


def load_data_cifar10(
    batch_size: int,
    resize: int | tuple[int, int] | None = None,
    *,
    root: str | os.PathLike | None = None,
    num_train: int | None = None,
    num_test: int | None = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    normalize: bool | tuple = False,
    seed: int = 0,
    device: torch.device | str | None = None,
    download: bool = True,
) -> tuple[CIFAR10Loader, CIFAR10Loader]:
    """CIFAR-10 as ``(train_iter, test_iter)``: ``X`` float32 [B, 3, H, W] in [0, 1], ``y`` int64.

    The arguments are those of :func:`~d2lnets.load_data_fashion_mnist`; ``resize`` is a batched
    bilinear resize of the 32x32 images, ``normalize=True`` uses CIFAR-10's channel statistics.
    """
    batch_size, seed = as_int(batch_size, "batch_size"), as_int(seed, "seed", minimum=None)
    t = load_cifar10_tensors(root, download=download)
    splits = subsets([(t["train_images"], t["train_labels"]), (t["test_images"], t["test_labels"])],
                      [("num_train", num_train), ("num_test", num_test)], seed)
    return split_loaders(splits, batch_size, resize, augment, normalize, seed, device, CIFAR10_LABELS,
                          CIFAR10Loader)
