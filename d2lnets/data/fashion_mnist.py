"""Fashion-MNIST, offline first, held in memory as uint8 tensors.

The four IDX files (``.gz`` or unpacked) are looked up as every dataset is (:mod:`.store`):
``root`` or ``$D2LNETS_DATA``, the repository's ``data/`` (and ``data/FashionMNIST/raw/``, where
torchvision puts them), then ``/usr/share/datasets/fashion-mnist/`` (Debian's
``dataset-fashion-mnist`` package); only when none has them are they downloaded, through
torchvision, into ``data/``. Debian's recompressed ``.gz`` files and torchvision's are both
genuine, so both sets of checksums are accepted.

Batches are made from the in-memory tensors (:class:`~.loader.ImageLoader`): shuffling is
seeded, resizing is one bilinear interpolation per batch (never per image through PIL), and no
worker processes are needed.
"""
from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from ..core.validate import as_int, short
from . import store
from .loader import ImageLoader, split_loaders, subsets
from .store import KNOWN_MD5, ChecksumError, DatasetSpec, identify, locate, search_dirs

__all__ = ["DEBIAN_DIR", "FASHION_MNIST", "FASHION_MNIST_MEAN", "FASHION_MNIST_STD", "FILES", "TEXT_LABELS",
           "FashionMNISTLoader", "data_dirs", "dataset_stats", "get_fashion_mnist_labels", "load_data_fashion_mnist",
           "load_fashion_mnist_tensors"]


FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530  # the training images' pixel mean and std
TEXT_LABELS = ["t-shirt", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle boot"]


FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


class _FashionMNISTSpec(DatasetSpec):
    """Fashion-MNIST: its four IDX files, each unpacked or ``.gz``; the module's globals are read at
    call time, so that tests can replace them."""

    def __init__(self) -> None:
        super().__init__(
            "Fashion-MNIST", FILES, subdirs=("FashionMNIST/raw",), what="the four files",
            listing=f"the four files {', '.join(f'{n}[.gz]' for n in FILES.values())}",
            remedies=("offline (Debian/Ubuntu): sudo apt-get install dataset-fashion-mnist",
                      ("online: connect to the network and call load_data_fashion_mnist again "
                       "(torchvision downloads it into data/)")),
            download=lambda target: _download(target), download_subdir="FashionMNIST/raw")
        self.looked_for = "train-images-idx3-ubyte[.gz] and its three companions"

    @property
    def files(self) -> dict[str, str]:
        return FILES

    def system_dirs(self) -> list[Path]:
        return [DEBIAN_DIR]

    def present(self, directory: Path) -> dict[str, Path]:
        return _present(directory)

    def find(self, directory: Path) -> dict[str, Path] | None:
        return _find(directory)


def _find(directory: Path) -> dict[str, Path] | None:
    """The four files in ``directory`` (unpacked preferred, else ``.gz``), or None if any is missing."""
    found = _present(directory)
    return found if len(found) == len(FILES) else None


def _present(directory: Path) -> dict[str, Path]:
    """Those of the four files that ``directory`` holds (unpacked preferred, else ``.gz``)."""
    found = {}
    for key, name in FILES.items():
        candidate = next((c for c in (directory / name, directory / f"{name}.gz") if c.is_file()), None)
        if candidate is not None:
            found[key] = candidate
    return found


FASHION_MNIST = _FashionMNISTSpec()


def data_dirs(root: str | os.PathLike | None = None, dataset: DatasetSpec | None = None) -> list[Path]:
    """Every folder searched for ``dataset``'s files (default: Fashion-MNIST's), in order."""
    return search_dirs(FASHION_MNIST if dataset is None else dataset, root)


def _read_verified(path: Path, verify: bool) -> bytes:
    raw = path.read_bytes()
    name = path.name.removesuffix(".gz")
    known = KNOWN_MD5.get(name, {"gz": set(), "raw": set()})
    is_gz = path.suffix == ".gz"
    digest = hashlib.md5(raw).hexdigest()
    if verify and digest not in known["gz" if is_gz else "raw"]:
        genuine = identify(digest)
        if genuine is not None:  # a genuine file under the wrong name
            real = genuine[0] + (".gz" if genuine[1] == "gz" else "")
            why = ("the train and test files are swapped or misnamed" if genuine[0] != name else
                   "it is gzip-compressed but lacks the .gz suffix" if genuine[1] == "gz" else
                   "it is not compressed but carries a .gz suffix")
            raise ChecksumError(f"{path} is the genuine {real} (its MD5 {digest} says so), stored as {path.name}: "
                                f"{why}. Rename it to {real}.")
        raise ChecksumError(
            f"{path} is corrupt or truncated: its MD5 {digest} matches no known copy of {name} "
            "(neither Debian's nor torchvision's). Delete it and load again; the data will be "
            "looked up elsewhere or downloaded."
        )
    if not is_gz:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as e:
        raise ChecksumError(f"{path} is not a complete gzip file ({e}); delete it and load again") from e


def _parse_idx(data: bytes, path: Path, expected_dims: int) -> torch.Tensor:
    """Decode an IDX file of unsigned bytes (magic 0x0000080N, N big-endian int32 sizes, then data)."""
    if len(data) < 4 or data[:3] != b"\x00\x00\x08" or data[3] != expected_dims:
        raise ChecksumError(f"{path} is not an IDX file of {expected_dims}-d unsigned bytes (bad magic number)")
    shape = tuple(int(s) for s in np.frombuffer(data, ">i4", count=expected_dims, offset=4))
    offset = 4 + 4 * expected_dims
    if len(data) - offset != int(np.prod(shape)):
        raise ChecksumError(
            f"{path} is truncated: its header promises {int(np.prod(shape))} bytes of shape {shape}, "
            f"but it holds {len(data) - offset}; delete it and load again"
        )
    array = np.frombuffer(data, np.uint8, offset=offset).reshape(shape)
    return torch.from_numpy(array.copy())


def _download(target: Path) -> None:
    """Fetch the dataset through torchvision into ``target/FashionMNIST/raw``."""
    import torchvision

    for train in (True, False):
        torchvision.datasets.FashionMNIST(root=str(target), train=train, download=True)


def load_fashion_mnist_tensors(
    root: str | os.PathLike | None = None, *, download: bool = True, verify: bool = True
) -> dict[str, torch.Tensor]:
    """The whole dataset as tensors: ``train_images``/``test_images`` uint8 [N, 28, 28],
    ``train_labels``/``test_labels`` int64 [N]. Loaded once per process, then served from memory."""
    paths = locate(FASHION_MNIST, root, download=download)
    key = tuple(str(p.resolve()) for p in paths.values()) + (verify,)
    if key not in store.CACHE:
        tensors = {k: _parse_idx(_read_verified(p, verify), p, 3 if k.endswith("images") else 1)
                   for k, p in paths.items()}
        for split in ("train", "test"):
            n_img, n_lab = len(tensors[f"{split}_images"]), len(tensors[f"{split}_labels"])
            if n_img != n_lab:
                raise ChecksumError(f"the {split} split has {n_img} images but {n_lab} labels")
            tensors[f"{split}_labels"] = tensors[f"{split}_labels"].long()
        store.CACHE[key] = tensors
    return store.CACHE[key]


def get_fashion_mnist_labels(labels) -> list[str]:
    """Text labels for numeric Fashion-MNIST labels (a tensor, array or sequence of ints 0–9)."""
    try:
        values = torch.as_tensor(labels).reshape(-1).tolist()
    except (TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"Fashion-MNIST labels are integers 0-9 (a tensor, array or list), "
                         f"got {short(labels)}") from e
    bad = [v for v in values if isinstance(v, bool) or not float(v).is_integer() or not 0 <= v < len(TEXT_LABELS)]
    if bad:
        raise ValueError(f"Fashion-MNIST labels are integers 0-9, got {bad[:5]}")
    return [TEXT_LABELS[int(v)] for v in values]


class FashionMNISTLoader(ImageLoader):
    """An :class:`ImageLoader` of one-channel images normalised, if asked, by Fashion-MNIST's
    pixel mean and standard deviation."""

    mean, std = (FASHION_MNIST_MEAN,), (FASHION_MNIST_STD,)


def load_data_fashion_mnist(
    batch_size: int,
    resize: int | tuple[int, int] | None = None,
    *,
    root: str | os.PathLike | None = None,
    num_train: int | None = None,
    num_test: int | None = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    normalize: bool = False,
    seed: int = 0,
    device: torch.device | str | None = None,
    download: bool = True,
) -> tuple[FashionMNISTLoader, FashionMNISTLoader]:
    """Fashion-MNIST as ``(train_iter, test_iter)``, the book's function made fast and offline.

    ``num_train``/``num_test`` take a fixed random subset (seeded by ``seed``); ``augment`` is a
    batched tensor transform applied to training batches only; ``device`` keeps the images there
    (``train_ch5`` moves a loader to its device by itself).
    """
    batch_size, seed = as_int(batch_size, "batch_size"), as_int(seed, "seed", minimum=None)
    t = load_fashion_mnist_tensors(root, download=download)
    splits = subsets([(t["train_images"], t["train_labels"]), (t["test_images"], t["test_labels"])],
                     [("num_train", num_train), ("num_test", num_test)], seed)
    return split_loaders(splits, batch_size, resize, augment, normalize, seed, device, None, FashionMNISTLoader)


def dataset_stats(images: torch.Tensor) -> tuple[float, float]:
    """Mean and standard deviation of uint8 images scaled to [0, 1]."""
    x = images.double().div(255)
    return x.mean().item(), x.std().item()
