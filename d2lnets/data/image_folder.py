"""Folders of images (one sub-folder per class), decoded once, resized and cached as uint8.

``root/train/<class>/*.jpg|*.jpeg|*.png`` and ``root/valid/`` (or ``val/``) with the same class
folders, as the Flowers write-up lays them out. Decoding runs in a thread pool
(``torchvision.io.decode_image``), at ``resize``; Flowers-102 uses the same decoding and cache.

**The cache.** Decoded images are stored in ``data/cache/`` (the repository's git-ignored data
folder, or ``~/.cache/d2lnets/cache`` outside a checkout): one ``.pt`` file per dataset and size,
named by a hash of the source files' names, sizes and modification times and of the size, so
that a changed file or another size makes a new one. The second epoch and the second run read
no JPEG. A cache that does not load is rebuilt. ``memory_budget`` (bytes; default half this
machine's memory) bounds the decoded images: a cache that would not fit raises ``MemoryError``
before anything is decoded.

Nothing is silently skipped: a file that does not decode, a class folder without images, a file
that is not an image -- each raises an error that names the file.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from ..core.config import data_dir as data_dir_setting
from ..core.validate import as_int, as_size
from . import store
from .loader import ImageLoader, split_loaders, subsets
from .store import ChecksumError, DataNotFoundError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "IMAGE_SUFFIXES", "ImageFolderLoader", "budget_bytes", "cached",
           "check_budget", "decode_all", "load_data_image_folder", "load_image_folder_tensors"]


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


_CACHE_VERSION = 1


_TORCHVISION_IO_DEPRECATION = "The image decoding and encoding capabilities of TorchVision are deprecated"


class ImageFolderLoader(ImageLoader):
    """An :class:`~d2lnets.data.ImageLoader` of colour photos; ``normalize=True`` uses ImageNet's statistics."""

    mean, std = IMAGENET_MEAN, IMAGENET_STD


def _cache_dir() -> Path:
    return store.default_data_dir() / "cache"


def budget_bytes(memory_budget: int | None) -> int | None:
    if memory_budget is not None:
        return as_int(memory_budget, "memory_budget", hint=" (bytes)")
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return None


def check_budget(n: int, size: tuple[int, int], budget: int | None, what: str) -> None:
    need = n * 3 * size[0] * size[1]
    if budget is not None and need > budget:
        raise MemoryError(
            f"{what}: {n} images at 3x{size[0]}x{size[1]} need {need / 2**30:.2f} GiB as uint8, more than the "
            f"memory budget of {budget / 2**30:.2f} GiB (default: half this machine's memory). Ask for a "
            "smaller resize (e.g. resize=112), fewer images, or pass memory_budget=... (bytes) if it fits.")


def _decode(raw: bytes | Path, size: tuple[int, int], where: str) -> torch.Tensor:
    """One image file's bytes -> uint8 [3, H, W] resized to ``size`` (antialiased bilinear)."""
    from torchvision.io import ImageReadMode, decode_image, read_file
    from torchvision.transforms.v2 import functional as TF

    try:
        encoded = read_file(str(raw)) if isinstance(raw, Path) else torch.frombuffer(bytearray(raw), dtype=torch.uint8)
        image = decode_image(encoded, mode=ImageReadMode.RGB)
    except Exception as e:  # torchvision raises RuntimeError, ValueError, ...
        raise ChecksumError(f"{where} could not be decoded as an image ({type(e).__name__}: "
                                  f"{str(e).strip().splitlines()[-1]}); replace or delete it") from e
    if tuple(image.shape[-2:]) != size:
        image = TF.resize(image, list(size), antialias=True)
    return image


def decode_all(sources: Sequence[bytes | Path], names: Sequence[str], size: tuple[int, int],
                workers: int | None) -> torch.Tensor:
    out = torch.empty(len(sources), 3, *size, dtype=torch.uint8)

    def one(i: int) -> None:
        out[i] = _decode(sources[i], size, names[i])

    workers = workers or min(8, os.cpu_count() or 1)
    with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=workers) as pool:
        # torchvision 0.29 announces, at every call, that TorchCodec will take over image decoding
        warnings.filterwarnings("ignore", _TORCHVISION_IO_DEPRECATION, DeprecationWarning)
        for _ in pool.map(one, range(len(sources))):  # re-raises the first error, naming its file
            pass
    return out


def cached(tag: str, fingerprint: list, size: tuple[int, int], build: Callable[[], dict]) -> dict:
    """``build()`` once; afterwards read from ``data/cache/<tag>-<hash>-<H>x<W>.pt``."""
    key = repr((_CACHE_VERSION, tag, size, fingerprint))
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    path = _cache_dir() / f"{tag}-{digest}-{size[0]}x{size[1]}.pt"
    if ("decoded", digest) in store.CACHE:
        return store.CACHE[("decoded", digest)]
    found = None
    if path.is_file():
        try:
            found = torch.load(path, map_location="cpu", weights_only=True)
            if not isinstance(found, dict) or found.get("key") != key:
                found = None
        except Exception:  # noqa: BLE001 - a damaged cache is rebuilt from the images
            found = None
    if found is None:
        found = build()
        found["key"] = key
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + f".{os.getpid()}.part")
        torch.save(found, partial)
        os.replace(partial, path)
    store.CACHE[("decoded", digest)] = found
    return found


def _find_folder(root: str | os.PathLike) -> Path:
    """``root`` itself if it exists or is absolute; a relative name is also looked up in the usual places."""
    given = Path(root).expanduser()
    if given.is_absolute() or given.exists():
        if not given.is_dir():
            raise DataNotFoundError(f"the image folder {given} does not exist; give the folder that "
                                          "holds train/ and valid/ (one sub-folder per class in each)")
        return given
    env = data_dir_setting()
    bases = ([Path(env)] if env else []) + [
        store.default_data_dir(), store.SYSTEM_DATA_DIR]
    places = [b.expanduser() / given for b in bases]
    found = next((p for p in places if p.is_dir()), None)
    if found is None:
        raise DataNotFoundError(
            f"the image folder {str(root)!r} was not found. Looked in:\n" +
            "\n".join(f"  - {p}" for p in [Path.cwd() / given] + places) +
            "\nPut the folder (train/ and valid/, one sub-folder per class in each) in one of these places, "
            "point $D2LNETS_DATA at the folder above it, or give its full path.")
    return found


def _list_split(folder: Path, classes: list[str] | None) -> tuple[list[Path], list[int], list[str]]:
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise DataNotFoundError(f"{folder} holds no class folders (one sub-folder of images per class)")
    names = [p.name for p in class_dirs]
    if classes is not None:
        unknown = sorted(set(names) - set(classes))
        if unknown:
            raise ValueError(f"{folder} has class folders that the training split lacks: {', '.join(unknown)}")
    classes = classes or names
    files, labels = [], []
    for class_dir in class_dirs:
        entries = sorted(p for p in class_dir.iterdir() if not p.name.startswith("."))
        others = [p for p in entries if not (p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)]
        if others:
            raise ValueError(f"{others[0]} is not a JPEG or PNG image ({', '.join(IMAGE_SUFFIXES)}); "
                             "a class folder holds only images: move it out")
        if not entries:
            raise ValueError(f"the class folder {class_dir} holds no images")
        files += entries
        labels += [classes.index(class_dir.name)] * len(entries)
    return files, labels, classes


def load_image_folder_tensors(root: str | os.PathLike, resize: int | tuple[int, int] = 224, *,
                              memory_budget: int | None = None, workers: int | None = None) -> dict:
    """A folder of class folders as tensors: ``train_images``/``valid_images`` uint8
    [N, 3, H, W] at ``resize``, ``train_labels``/``valid_labels`` int64, ``classes`` (sorted
    class-folder names of ``train/``). Decoded once, then read from the cache (see the module)."""
    size = as_size(resize, "resize")
    folder = _find_folder(root)
    train_dir = folder / "train"
    valid_dir = next((folder / n for n in ("valid", "val") if (folder / n).is_dir()), None)
    if not train_dir.is_dir() or valid_dir is None:
        raise DataNotFoundError(
            f"{folder} must hold train/ and valid/ (or val/), each with one sub-folder of images per class; "
            f"it holds: {', '.join(sorted(p.name for p in folder.iterdir())) or 'nothing'}")
    train_files, train_labels, classes = _list_split(train_dir, None)
    valid_files, valid_labels, _ = _list_split(valid_dir, classes)
    files = train_files + valid_files
    fingerprint = [(str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]

    def build() -> dict:
        check_budget(len(files), size, budget_bytes(memory_budget), str(folder))
        return {"train_images": decode_all(train_files, [str(p) for p in train_files], size, workers),
                "valid_images": decode_all(valid_files, [str(p) for p in valid_files], size, workers),
                "train_labels": torch.tensor(train_labels, dtype=torch.int64),
                "valid_labels": torch.tensor(valid_labels, dtype=torch.int64), "classes": classes}

    return cached(f"folder-{folder.name}", [str(folder.resolve())] + fingerprint, size, build)


def load_data_image_folder(
    root: str | os.PathLike,
    batch_size: int,
    resize: int | tuple[int, int] = 224,
    *,
    num_train: int | None = None,
    num_test: int | None = None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    normalize: bool | tuple = False,
    seed: int = 0,
    device: torch.device | str | None = None,
    memory_budget: int | None = None,
    workers: int | None = None,
) -> tuple[ImageFolderLoader, ImageFolderLoader]:
    """``(train_iter, valid_iter)`` from ``root/train/<class>/`` and ``root/valid/<class>/`` (or ``val/``).

    Images are decoded once at ``resize`` (an int for a square, or (H, W)) and cached; the loaders
    carry ``classes`` (the class-folder names, label i is ``classes[i]``). ``normalize=True`` uses
    ImageNet's channel statistics.
    """
    batch_size, seed = as_int(batch_size, "batch_size"), as_int(seed, "seed", minimum=None)
    t = load_image_folder_tensors(root, resize, memory_budget=memory_budget, workers=workers)
    splits = subsets([(t["train_images"], t["train_labels"]), (t["valid_images"], t["valid_labels"])],
                      [("num_train", num_train), ("num_test", num_test)], seed)
    return split_loaders(splits, batch_size, None, augment, normalize, seed, device, t["classes"], ImageFolderLoader)
