"""Flowers-102: Oxford's ``102flowers.tgz``, ``imagelabels.mat`` and ``setid.mat``, with the official split.

1,020 train, 1,020 validation and 6,149 test images; labels 1..102 become 0..101. Found and
checked as every dataset is (:mod:`.store`); decoded and cached as image folders are
(:mod:`.image_folder`).
"""
from __future__ import annotations

import os
import tarfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from ..core.validate import as_int, as_size
from . import store
from .decode import budget_bytes, check_budget, decode_all
from .image_folder import ImageFolderLoader, cached
from .loader import split_loaders, subsets
from .store import ChecksumError, DatasetSpec, download_url, locate, verify_file

__all__ = ["FLOWERS102", "FLOWERS102_SPLITS", "FLOWERS102_URL", "Flowers102Loader", "load_data_flowers102",
           "load_flowers102_tensors"]


FLOWERS102_URL = "https://thor.robots.ox.ac.uk/datasets/flowers-102/"  # + each file's name


class Flowers102Loader(ImageFolderLoader):
    """Flowers-102's :class:`ImageFolderLoader`."""


class _Flowers102Spec(DatasetSpec):
    def system_dirs(self) -> list[Path]:
        return [store.SYSTEM_DATA_DIR / "flowers-102"]


FLOWERS102 = _Flowers102Spec(
    "Flowers-102", {"images": "102flowers.tgz", "labels": "imagelabels.mat", "split": "setid.mat"},
    subdirs=("flowers-102",),
    remedies=(("offline: copy Oxford's 102flowers.tgz, imagelabels.mat and setid.mat (from "
               "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/) into one of these folders"),
              ("online: connect to the network and call load_data_flowers102 again "
               "(torchvision downloads them into data/flowers-102/)")),
    download=lambda target: [download_url(FLOWERS102_URL + name, target / "flowers-102", name)
                             for name in ("102flowers.tgz", "imagelabels.mat", "setid.mat")],
    download_subdir="flowers-102")


FLOWERS102_SPLITS = ("train", "valid", "test")


def _loadmat(path: Path, variables: Sequence[str]) -> dict[str, np.ndarray]:
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as e:
        raise ChecksumError(f"{path} is not a readable .mat file ({type(e).__name__}: {e})") from e
    missing = [v for v in variables if v not in mat]
    if missing:
        raise ChecksumError(f"{path} lacks the variable(s) {', '.join(missing)}")
    out = {}
    for v in variables:
        array = np.asarray(mat[v]).reshape(-1)
        if not np.issubdtype(array.dtype, np.number) or not np.all(array == np.round(array)):
            raise ChecksumError(f"{path}: {v} must hold integers, got {array.dtype}")
        out[v] = array.astype(np.int64)
    return out


def load_flowers102_tensors(root: str | os.PathLike | None = None, resize: int | tuple[int, int] = 224, *,
                            download: bool = True, verify: bool = True, memory_budget: int | None = None,
                            workers: int | None = None) -> dict:
    """Flowers-102 as tensors at ``resize``: ``{split}_images`` uint8 [N, 3, H, W] and
    ``{split}_labels`` int64 (0..101) for the official ``train``, ``valid`` and ``test`` splits."""
    size = as_size(resize, "resize")
    paths = locate(FLOWERS102, root, download=download)
    fingerprint = [(name, str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for name, p in paths.items()]

    def build() -> dict:
        for key, name in FLOWERS102.files.items():
            verify_file(paths[key], name, verify=verify)
        labels = _loadmat(paths["labels"], ["labels"])["labels"]
        ids = _loadmat(paths["split"], ["trnid", "valid", "tstid"])
        n = len(labels)
        if labels.min(initial=1) < 1 or labels.max(initial=1) > 102:
            raise ChecksumError(f"{paths['labels']}: labels must be 1..102, got {labels.min()}..{labels.max()}")
        every = np.concatenate(list(ids.values()))
        if len(every) and (every.min() < 1 or every.max() > n):
            raise ChecksumError(f"{paths['split']}: image ids must be 1..{n} (one per label in "
                                      f"{paths['labels'].name}), got {every.min()}..{every.max()}")
        if len(np.unique(every)) != len(every):
            raise ChecksumError(f"{paths['split']}: an image id appears twice (splits overlap)")
        budget = budget_bytes(memory_budget)
        check_budget(len(every), size, budget, "Flowers-102")
        wanted = {f"image_{i:05d}.jpg": i for i in every.tolist()}
        raw: dict[int, bytes] = {}
        try:
            with tarfile.open(paths["images"], "r:gz") as tar:
                for member in tar:
                    name = Path(member.name).name
                    if member.isfile() and name in wanted:
                        raw[wanted[name]] = tar.extractfile(member).read()
                    elif member.isfile() and name.startswith("image_") and name.endswith(".jpg"):
                        index = int(name[6:-4]) if name[6:-4].isdigit() else 0
                        if not 1 <= index <= n:
                            raise ChecksumError(f"{paths['images']} holds {member.name}, which "
                                                      f"{paths['labels'].name} has no label for (it labels {n} images)")
        except (tarfile.TarError, EOFError, OSError) as e:
            if isinstance(e, ChecksumError):
                raise
            raise ChecksumError(f"{paths['images']} is not a complete tar.gz archive ({e}); "
                                      "delete it and load again") from e
        missing = [f"jpg/image_{i:05d}.jpg" for i in every.tolist() if i not in raw]
        if missing:
            raise ChecksumError(f"{paths['images']} lacks {len(missing)} image(s) that {paths['split'].name} "
                                      f"lists, e.g. {missing[0]}")
        out = {}
        for split, var in zip(FLOWERS102_SPLITS, ("trnid", "valid", "tstid")):
            split_ids = ids[var].tolist()
            names = [f"{paths['images']}: jpg/image_{i:05d}.jpg" for i in split_ids]
            kept = (len(every) - len(split_ids)) * 3 * size[0] * size[1]  # the other splits' images
            out[f"{split}_images"] = decode_all([raw[i] for i in split_ids], names, size, workers, budget=budget,
                                                kept=kept)
            out[f"{split}_labels"] = torch.as_tensor(labels[np.array(split_ids, dtype=np.int64) - 1] - 1)
        return out

    return cached("flowers-102", fingerprint + [verify], size, build)


def load_data_flowers102(
    batch_size: int,
    resize: int | tuple[int, int] = 224,
    *,
    root: str | os.PathLike | None = None,
    splits: tuple[str, str] = ("train", "test"),
    num_train: int | None = None,
    num_test: int | None = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    normalize: bool | tuple = False,
    seed: int = 0,
    device: torch.device | str | None = None,
    download: bool = True,
    memory_budget: int | None = None,
    workers: int | None = None,
) -> tuple[Flowers102Loader, Flowers102Loader]:
    """Flowers-102 (Oxford's official files and split) as ``(train_iter, test_iter)`` at ``resize``.

    ``splits`` picks the two parts from ``"train"`` (1,020 images), ``"valid"`` (1,020) and
    ``"test"`` (6,149); join parts with ``+``, e.g. ``("train+valid", "test")``. Labels are 0..101.
    ``normalize=True`` uses ImageNet's channel statistics.
    """
    batch_size, seed = as_int(batch_size, "batch_size"), as_int(seed, "seed", minimum=None)
    if not isinstance(splits, (tuple, list)) or len(splits) != 2 or not all(
            isinstance(s, str) and s and all(p in FLOWERS102_SPLITS for p in s.split("+")) for s in splits):
        raise ValueError(f"splits must be two of 'train', 'valid', 'test' (parts joined by '+'), got {splits!r}")
    t = load_flowers102_tensors(root, resize, download=download, memory_budget=memory_budget, workers=workers)
    pairs = [(torch.cat([t[f"{p}_images"] for p in s.split("+")]), torch.cat([t[f"{p}_labels"] for p in s.split("+")]))
             for s in splits]
    pairs = subsets(pairs, [("num_train", num_train), ("num_test", num_test)], seed)
    return split_loaders(pairs, batch_size, None, augment, normalize, seed, device, None, Flowers102Loader)
