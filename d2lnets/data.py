"""Fashion-MNIST, offline first, held in memory as uint8 tensors.

The four IDX files are looked up (``.gz`` or unpacked) in this order:

1. ``root`` if given, then ``$D2LNETS_DATA``;
2. the repository's ``data/`` folder (and ``data/FashionMNIST/raw/``, where torchvision puts them);
3. ``/usr/share/datasets/fashion-mnist/`` (Debian's ``dataset-fashion-mnist`` package).

Only when none has them are they downloaded, through torchvision, into ``data/``. A folder the
caller names must hold them: ``root`` (else they are downloaded there) or, without it,
``$D2LNETS_DATA`` -- a missing, empty or incomplete one is an error, never a silent switch to
another copy. Every file is checked against the known checksums; Debian's recompressed ``.gz``
files and torchvision's are both genuine, so both sets are accepted, and a genuine file under
another's name (train and test swapped) is named for what it is.

Batches are made from the in-memory tensors: shuffling is seeded, resizing is one bilinear
interpolation per batch (never per image through PIL), and no worker processes are needed.
"""
from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ._validate import as_int, as_size, instance_of, require, short
from .config import as_device
from .memory import reuse_freed_memory

__all__ = [
    "FASHION_MNIST_MEAN", "FASHION_MNIST_STD", "TEXT_LABELS", "ChecksumError", "DataNotFoundError",
    "FashionMNISTLoader", "data_dirs", "get_fashion_mnist_labels", "load_data_fashion_mnist",
    "load_fashion_mnist_tensors",
]

TEXT_LABELS = ["t-shirt", "trouser", "pullover", "dress", "coat",
               "sandal", "shirt", "sneaker", "bag", "ankle boot"]
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# MD5 of each file as stored: "gz" for the compressed files (Debian's set, then torchvision's),
# "raw" for the unpacked bytes, which both sets share.
KNOWN_MD5: dict[str, dict[str, set[str]]] = {
    "train-images-idx3-ubyte": {"gz": {"cf8536b0aa1a6ac5fa3f23001093305c", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"},
                                "raw": {"f4a8712d7a061bf5bd6d2ca38dc4d50a"}},
    "train-labels-idx1-ubyte": {"gz": {"10bea18fdb374794d4bb42e356e600c9", "25c81989df183df01b3e8a0aad5dffbe"},
                                "raw": {"9018921c3c673c538a1fc5bad174d6f9"}},
    "t10k-images-idx3-ubyte": {"gz": {"f78720b4224f21cce2f2ccf2d7a94c9a", "bef4ecab320f06d8554ea6380940ec79"},
                               "raw": {"8181f5470baa50b63fa0f6fddb340f0a"}},
    "t10k-labels-idx1-ubyte": {"gz": {"0d30e22e447f3c33dab9ed536400ac01", "bb300cfdad3c16e7a12a480ee83cd310"},
                               "raw": {"15d484375f8d13e6eb1aabb0c3f46965"}},
}
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
_REPO_DATA = Path(__file__).resolve().parent.parent / "data"
_CACHE: dict[tuple, dict[str, torch.Tensor]] = {}


class ChecksumError(OSError):
    """A dataset file is corrupt, truncated or not the file it claims to be."""


class DataNotFoundError(FileNotFoundError):
    """No copy of the dataset was found and none could be downloaded."""


def _default_data_dir() -> Path:
    """Where downloads go: the repository's ``data/`` when installed from a checkout."""
    if (_REPO_DATA / "README.md").exists():
        return _REPO_DATA
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "d2lnets"


def data_dirs(root: str | os.PathLike | None = None) -> list[Path]:
    """Every folder searched for the IDX files, in order."""
    dirs: list[Path] = []
    if root is not None:
        dirs.append(Path(root))
    if os.environ.get("D2LNETS_DATA"):
        dirs.append(Path(os.environ["D2LNETS_DATA"]))
    dirs.append(_default_data_dir())
    dirs += [d / "FashionMNIST" / "raw" for d in list(dirs)]
    dirs.append(DEBIAN_DIR)
    return list(dict.fromkeys(d.expanduser() for d in dirs))


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


def _not_in(said: str, folder: Path) -> DataNotFoundError:
    """The error for a folder the caller named that does not hold the four files."""
    present = max(_present(folder), _present(folder / "FashionMNIST" / "raw"), key=len)
    if not folder.is_dir():
        what = "no such folder exists"
    elif not present:
        what = "the folder holds none of the four files"
    else:
        missing = [FILES[k] for k in FILES if k not in present]
        what = f"the folder holds only {len(present)} of the four files; missing: {', '.join(missing)}"
    return DataNotFoundError(
        f"Fashion-MNIST was not found in {said} ({folder}): {what}. Put the four files "
        f"{', '.join(f'{n}[.gz]' for n in FILES.values())} there (or in its FashionMNIST/raw/), "
        "or leave it out to use the other copies.")


def _identify(digest: str) -> tuple[str, str] | None:
    """(file name, "gz" or "raw") of the genuine file with MD5 ``digest``, if it is one."""
    return next(((name, kind) for name, kinds in KNOWN_MD5.items() for kind, digests in kinds.items()
                 if digest in digests), None)


def _read_verified(path: Path, verify: bool) -> bytes:
    raw = path.read_bytes()
    name = path.name.removesuffix(".gz")
    known = KNOWN_MD5.get(name, {"gz": set(), "raw": set()})
    is_gz = path.suffix == ".gz"
    digest = hashlib.md5(raw).hexdigest()
    if verify and digest not in known["gz" if is_gz else "raw"]:
        genuine = _identify(digest)
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
    dirs = data_dirs(root)
    env = os.environ.get("D2LNETS_DATA")
    named = (f"root={str(root)!r}", Path(root)) if root is not None else (
        ("$D2LNETS_DATA", Path(env)) if env else None)
    if named is not None:  # a folder the caller named must hold the data: never another copy silently
        said, folder = named
        folder = folder.expanduser()
        paths = _find(folder) or _find(folder / "FashionMNIST" / "raw")
        if paths is None and not (root is not None and download):
            raise _not_in(said, folder)
    else:
        paths = next((p for p in map(_find, dirs) if p is not None), None)
    if paths is None and download:
        target = Path(root) if root is not None else _default_data_dir()
        try:
            _download(target)
        except Exception as e:  # noqa: BLE001 - any failure leads to the same advice
            reason = f"the download into {target} failed: {type(e).__name__}: {e}"
        else:
            reason = f"the download into {target} did not produce the four files"
        paths = _find(target / "FashionMNIST" / "raw")
    else:
        reason = "downloading was switched off (download=False)"
    if paths is None:
        searched = "\n".join(f"  - {d}" for d in dirs)
        raise DataNotFoundError(
            "Fashion-MNIST was not found. Looked for train-images-idx3-ubyte[.gz] and its three "
            f"companions in:\n{searched}\nand {reason}.\nGet the data in either of two ways:\n"
            "  - offline (Debian/Ubuntu): sudo apt-get install dataset-fashion-mnist\n"
            "  - online: connect to the network and call load_data_fashion_mnist again "
            "(torchvision downloads it into data/),\n"
            "or point $D2LNETS_DATA at a folder that holds the four files."
        )
    key = tuple(str(p.resolve()) for p in paths.values()) + (verify,)
    if key not in _CACHE:
        tensors = {k: _parse_idx(_read_verified(p, verify), p, 3 if k.endswith("images") else 1)
                   for k, p in paths.items()}
        for split in ("train", "test"):
            n_img, n_lab = len(tensors[f"{split}_images"]), len(tensors[f"{split}_labels"])
            if n_img != n_lab:
                raise ChecksumError(f"the {split} split has {n_img} images but {n_lab} labels")
            tensors[f"{split}_labels"] = tensors[f"{split}_labels"].long()
        _CACHE[key] = tensors
    return _CACHE[key]


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


class FashionMNISTLoader:
    """Batches ``(X, y)`` from images held in memory: ``X`` float32 [B, 1, H, W] in [0, 1]
    (normalised if asked), ``y`` int64 [B].

    Each pass over the loader shuffles anew (if ``shuffle``) with a generator seeded from
    ``seed`` and the epoch number; :meth:`set_epoch` fixes the epoch, as ``train_ch5`` does, so a
    training run is reproducible however often the loader was iterated before.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        batch_size: int,
        *,
        shuffle: bool = False,
        resize: int | tuple[int, int] | None = None,
        seed: int = 0,
        drop_last: bool = False,
        normalize: bool = False,
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
        device: torch.device | str | None = None,
    ) -> None:
        batch_size, seed = as_int(batch_size, "batch_size"), as_int(seed, "seed", minimum=None)
        for name, t in (("images", images), ("labels", labels)):
            instance_of(t, torch.Tensor, name, "a tensor")
        if images.dtype != torch.uint8 or images.dim() != 3:
            raise ValueError(f"images must be uint8 [N, H, W], got {images.dtype} {tuple(images.shape)}")
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        resize = None if resize is None else as_size(resize, "resize")
        require(augment is None or callable(augment), augment, "augment",
                "None or a function of a batch of images, e.g. d2l.augment.Augment(crop=28, padding=2)")
        self.device = as_device(device) if device is not None else images.device
        self.images, self.labels = images.to(self.device), labels.to(self.device)
        self.batch_size, self.shuffle, self.resize, self.seed = batch_size, shuffle, resize, seed
        self.drop_last, self.normalize, self.augment = drop_last, normalize, augment
        self.epoch = 0

    @property
    def num_examples(self) -> int:
        return len(self.images)

    @property
    def image_size(self) -> tuple[int, int]:
        return self.resize or tuple(self.images.shape[-2:])

    def __len__(self) -> int:
        n, b = self.num_examples, self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def set_epoch(self, epoch: int) -> None:
        """Use the shuffle of epoch ``epoch`` on the next pass."""
        self.epoch = epoch

    def to(self, device: torch.device | str) -> "FashionMNISTLoader":
        """The same loader with its tensors on ``device`` (batches are then made there)."""
        device = as_device(device)
        if device == self.device:
            return self
        new = FashionMNISTLoader.__new__(FashionMNISTLoader)
        new.__dict__.update(self.__dict__, device=device)
        new.images, new.labels = self.images.to(device), self.labels.to(device)
        return new

    def transform(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [B, H, W] -> float32 [B, 1, H', W'] in [0, 1] (resized, augmented, normalised)."""
        X = images.unsqueeze(1).float().div_(255)
        if self.resize is not None and tuple(X.shape[-2:]) != self.resize:
            X = F.interpolate(X, size=self.resize, mode="bilinear", align_corners=False,
                              antialias=self.resize[0] < X.shape[-2])
        if self.augment is not None:
            X = self.augment(X)
        if self.normalize:
            X = (X - FASHION_MNIST_MEAN) / FASHION_MNIST_STD
        return X

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, b = self.num_examples, self.batch_size
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = torch.randperm(n, generator=g).to(self.device)
        else:
            order = None
        self.epoch += 1
        stop = n - n % b if self.drop_last else n
        with reuse_freed_memory(self.device):  # large batches reuse memory instead of page-faulting
            for start in range(0, stop, b):
                idx = slice(start, min(start + b, n)) if order is None else order[start:start + b]
                yield self.transform(self.images[idx]), self.labels[idx]

    def __repr__(self) -> str:
        h, w = self.image_size
        return (f"FashionMNISTLoader({self.num_examples} examples, batch_size={self.batch_size}, "
                f"{h}x{w}, shuffle={self.shuffle}, device={self.device})")


def _subset(n_total: int, n: int | None, seed: int, name: str) -> torch.Tensor | None:
    if n is None:
        return None
    hint = f" (an integer from 1 to {n_total}, or None for all)"
    n = as_int(n, name, hint=hint)
    if n > n_total:
        raise ValueError(f"{name} must be an integer from 1 to {n_total}, got {n!r}")
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))[:n]


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
    splits = []
    for split, n in (("train", num_train), ("test", num_test)):
        images, labels = t[f"{split}_images"], t[f"{split}_labels"]
        idx = _subset(len(images), n, seed, f"num_{split}")
        if idx is not None:
            images, labels = images[idx], labels[idx]
        splits.append((images, labels))
    common = dict(resize=resize, normalize=normalize, device=device, seed=seed)
    train_iter = FashionMNISTLoader(*splits[0], batch_size, shuffle=True, augment=augment, **common)
    test_iter = FashionMNISTLoader(*splits[1], batch_size, shuffle=False, **common)
    return train_iter, test_iter


def dataset_stats(images: torch.Tensor) -> tuple[float, float]:
    """Mean and standard deviation of uint8 images scaled to [0, 1]."""
    x = images.double().div(255)
    return x.mean().item(), x.std().item()
