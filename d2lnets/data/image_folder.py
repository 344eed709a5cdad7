"""Folders of images (one sub-folder per class), decoded once, resized and cached as uint8.

``root/train/<class>/*.jpg|*.jpeg|*.png`` and ``root/valid/`` (or ``val/``) with the same class
folders, as the Flowers write-up lays them out. Decoding runs in a thread pool
(``torchvision.io.decode_image``), at ``resize``; Flowers-102 uses the same decoding and cache.
Every file's header is read before anything is decoded (:mod:`.decode`): an image of more than
``max_pixels`` pixels (default 50 megapixels) is refused, naming the file; animated, 16-bit,
palette, CMYK and EXIF-rotated files are each handled on purpose.

**The cache.** Decoded images are stored in ``data/cache/`` (the repository's git-ignored data
folder, or ``~/.cache/d2lnets/cache`` outside a checkout): one ``.pt`` file per dataset and size,
named by a hash of the source files' names, sizes and modification times and of the size, so
that a changed file or another size makes a new one. The second epoch and the second run read
no JPEG. A cache that does not load is rebuilt. ``memory_budget`` (bytes; default half this
machine's memory) bounds the decoded images and the decoding itself (each thread holds one image
at full size): what would not fit raises ``MemoryError`` before anything is decoded. A cache that
cannot be written (a full disk) is said, and the images are used all the same.

Nothing is silently skipped: a file that does not decode, a class folder without images, a file
that is not an image -- each raises an error that names the file.
"""
from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from ..core.config import data_dir as data_dir_setting
from ..core.paths import DiskFullError, atomic_save
from ..core.validate import as_int, as_size
from . import store
from .decode import MAX_PIXELS, budget_bytes, check_budget, decode_all, read_headers
from .loader import ImageLoader, split_loaders, subsets
from .store import DataNotFoundError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "IMAGE_SUFFIXES", "MAX_PIXELS", "ImageFolderLoader", "budget_bytes",
           "cached", "check_budget", "decode_all", "load_data_image_folder", "load_image_folder_tensors"]


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


_CACHE_VERSION = 1


class ImageFolderLoader(ImageLoader):
    """An :class:`~d2lnets.data.ImageLoader` of colour photos; ``normalize=True`` uses ImageNet's statistics."""

    mean, std = IMAGENET_MEAN, IMAGENET_STD


def _cache_dir() -> Path:
    return store.default_data_dir() / "cache"


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
        try:
            atomic_save(found, path)
        except DiskFullError as e:  # the images are decoded: use them, and say why the next run decodes again
            warnings.warn(f"the decoded images could not be cached ({e}); they are used all the same, and the "
                          "next run decodes them again", UserWarning, stacklevel=3)
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
                              memory_budget: int | None = None, workers: int | None = None,
                              max_pixels: int = MAX_PIXELS) -> dict:
    """A folder of class folders as tensors: ``train_images``/``valid_images`` uint8
    [N, 3, H, W] at ``resize``, ``train_labels``/``valid_labels`` int64, ``classes`` (sorted
    class-folder names of ``train/``). Decoded once, then read from the cache (see the module);
    an image of more than ``max_pixels`` pixels is refused (:class:`~.decode.ImageTooLargeError`)."""
    size = as_size(resize, "resize")
    max_pixels = as_int(max_pixels, "max_pixels", hint=" (pixels an image may have)")
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
        budget = budget_bytes(memory_budget)
        check_budget(len(files), size, budget, str(folder))
        headers = read_headers(files, [str(p) for p in files], max_pixels)
        kept = len(valid_files) * 3 * size[0] * size[1]  # beside the training images while they are decoded
        train_images = decode_all(train_files, [str(p) for p in train_files], size, workers,
                                  headers=headers[:len(train_files)], budget=budget, kept=kept)
        kept = len(train_files) * 3 * size[0] * size[1]
        valid_images = decode_all(valid_files, [str(p) for p in valid_files], size, workers,
                                  headers=headers[len(train_files):], budget=budget, kept=kept)
        return {"train_images": train_images, "valid_images": valid_images,
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
    max_pixels: int = MAX_PIXELS,
) -> tuple[ImageFolderLoader, ImageFolderLoader]:
    """``(train_iter, valid_iter)`` from ``root/train/<class>/`` and ``root/valid/<class>/`` (or ``val/``).

    Images are decoded once at ``resize`` (an int for a square, or (H, W)) and cached; the loaders
    carry ``classes`` (the class-folder names, label i is ``classes[i]``). ``normalize=True`` uses
    ImageNet's channel statistics. An image of more than ``max_pixels`` pixels (default 50
    megapixels) is refused before anything is decoded; raise the limit if it is meant.
    """
    batch_size, seed = as_int(batch_size, "batch_size"), as_int(seed, "seed", minimum=None)
    t = load_image_folder_tensors(root, resize, memory_budget=memory_budget, workers=workers, max_pixels=max_pixels)
    splits = subsets([(t["train_images"], t["train_labels"]), (t["valid_images"], t["valid_labels"])],
                      [("num_train", num_train), ("num_test", num_test)], seed)
    return split_loaders(splits, batch_size, None, augment, normalize, seed, device, t["classes"], ImageFolderLoader)
