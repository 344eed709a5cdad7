"""Colour datasets through the same data layer as Fashion-MNIST: CIFAR-10, Flowers-102, image folders.

Every dataset is looked up as :func:`d2lnets.data.locate` does it -- ``root``, ``$D2LNETS_DATA``,
the repository's ``data/`` (each also in the dataset's usual sub-folder), then
``/usr/share/datasets/<name>`` -- its files are checked against the known MD5s (torchvision's), a
dataset found nowhere raises one :class:`~d2lnets.data.DataNotFoundError` naming every folder
and every remedy, and when online the files are downloaded through torchvision's
``download_url`` into ``root`` or ``data/``. The loaders are :class:`~d2lnets.data.ImageLoader`
s: the same in-memory, seeded, batched iterable as Fashion-MNIST's, with ``X`` float32
``[B, 3, H, W]`` in [0, 1] and ``y`` int64.

- CIFAR-10: ``cifar-10-python.tar.gz``, read without unpacking it to disk. Its batches are
  Python pickles -- the official format -- of a dict with ``b'data'`` (a NumPy uint8 array
  [10000, 3072], each row the red, green and blue 32x32 planes) and ``b'labels'`` (a list of
  ints); they are read with ``pickle`` (``encoding='bytes'``, as they come from Python 2) through
  an unpickler that builds nothing but NumPy arrays and plain Python values: any other object
  in the file is rejected, naming the file. Held in memory as uint8 (about 180 MB).
- Image folders: ``root/train/<class>/*.jpg|*.jpeg|*.png`` and ``root/valid/`` (or ``val/``) with
  the same class folders, as the Flowers write-up lays them out. Decoded once, in a thread pool
  (``torchvision.io.decode_image``), resized to ``resize`` and cached as uint8.
- Flowers-102: Oxford's ``102flowers.tgz``, ``imagelabels.mat`` and ``setid.mat`` with the
  official split (1,020 train, 1,020 validation, 6,149 test images; labels 1..102 become 0..101),
  through the same decoding and cache.

**The cache.** Decoded images are stored in ``data/cache/`` (the repository's git-ignored data
folder, or ``~/.cache/d2lnets/cache`` outside a checkout): one ``.pt`` file per dataset and size,
named by a hash of the source files' names, sizes and modification times and of the size, so
that a changed file or another size makes a new one. The second epoch and the second run read
no JPEG. A cache that does not load is rebuilt. ``memory_budget`` (bytes; default half this
machine's memory) bounds the decoded images: a cache that would not fit raises ``MemoryError``
before anything is decoded.

Nothing is silently skipped: a file that does not decode, a class folder without images, a file
that is not an image, a label file that does not match the images -- each raises an error that
names the file.
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from . import data as _data
from ._validate import as_int, as_size

__all__ = [
    "CIFAR10_LABELS", "CIFAR10Loader", "CIFAR10_MEAN", "CIFAR10_STD", "CIFAR10_URL", "FLOWERS102_URL",
    "Flowers102Loader", "IMAGENET_MEAN", "ImageFolderLoader",
    "IMAGENET_STD", "IMAGE_SUFFIXES", "load_cifar10_tensors", "load_data_cifar10", "load_data_flowers102",
    "load_data_image_folder", "load_flowers102_tensors", "load_image_folder_tensors",
]

CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FLOWERS102_URL = "https://thor.robots.ox.ac.uk/datasets/flowers-102/"  # + each file's name
CIFAR10_LABELS = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
_CACHE_VERSION = 1
_TORCHVISION_IO_DEPRECATION = "The image decoding and encoding capabilities of TorchVision are deprecated"
_CIFAR_MEMBERS = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch", "batches.meta"]


class ImageFolderLoader(_data.ImageLoader):
    """An :class:`~d2lnets.data.ImageLoader` of colour photos; ``normalize=True`` uses ImageNet's statistics."""

    mean, std = IMAGENET_MEAN, IMAGENET_STD


class Flowers102Loader(ImageFolderLoader):
    """Flowers-102's :class:`ImageFolderLoader`."""


class CIFAR10Loader(_data.ImageLoader):
    """An :class:`~d2lnets.data.ImageLoader` whose ``normalize=True`` uses CIFAR-10's channel statistics."""

    mean, std = CIFAR10_MEAN, CIFAR10_STD


def _download_url(url: str, folder: Path, filename: str) -> None:
    from torchvision.datasets.utils import download_url

    download_url(url, str(folder), filename)  # checksums are checked by the loader afterwards


def _system(name: str) -> list[Path]:
    return [_data.SYSTEM_DATA_DIR / name]


class _CIFAR10Spec(_data.DatasetSpec):
    def system_dirs(self) -> list[Path]:
        return _system("cifar-10")


class _Flowers102Spec(_data.DatasetSpec):
    def system_dirs(self) -> list[Path]:
        return _system("flowers-102")


CIFAR10 = _CIFAR10Spec(
    "CIFAR-10", {"archive": "cifar-10-python.tar.gz"}, subdirs=("cifar-10",),
    remedies=((f"offline: copy cifar-10-python.tar.gz (from {CIFAR10_URL}, "
               "MD5 c58f30108f718f92721af3b95e74349a) into one of these folders"),
              ("online: connect to the network and call load_data_cifar10 again "
               "(torchvision downloads it into data/)")),
    download=lambda target: _download_url(CIFAR10_URL, target, "cifar-10-python.tar.gz"))

FLOWERS102 = _Flowers102Spec(
    "Flowers-102", {"images": "102flowers.tgz", "labels": "imagelabels.mat", "split": "setid.mat"},
    subdirs=("flowers-102",),
    remedies=(("offline: copy Oxford's 102flowers.tgz, imagelabels.mat and setid.mat (from "
               "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/) into one of these folders"),
              ("online: connect to the network and call load_data_flowers102 again "
               "(torchvision downloads them into data/flowers-102/)")),
    download=lambda target: [_download_url(FLOWERS102_URL + name, target / "flowers-102", name)
                             for name in ("102flowers.tgz", "imagelabels.mat", "setid.mat")],
    download_subdir="flowers-102")


# --- CIFAR-10 -------------------------------------------------------------------------------------

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
        raise _data.ChecksumError(f"{where} is not a CIFAR-10 batch: {type(e).__name__}: {e}") from e
    if not isinstance(batch, dict):
        raise _data.ChecksumError(f"{where} is not a CIFAR-10 batch: it holds a {type(batch).__name__}, not a dict")
    return batch


def _cifar_batch(batch: dict, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = batch.get(b"data"), batch.get(b"labels")
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != 3072:
        shape = (images.dtype, images.shape) if isinstance(images, np.ndarray) else type(images).__name__
        raise _data.ChecksumError(f"{where}: b'data' must be a uint8 array [N, 3072], got {shape}")
    if not isinstance(labels, list) or len(labels) != len(images) or not all(
            type(v) is int and 0 <= v < 10 for v in labels):
        raise _data.ChecksumError(f"{where}: b'labels' must be a list of {len(images)} integers 0-9")
    return (torch.from_numpy(images.reshape(-1, 3, 32, 32).copy()), torch.tensor(labels, dtype=torch.int64))


def load_cifar10_tensors(root: str | os.PathLike | None = None, *, download: bool = True,
                         verify: bool = True) -> dict[str, torch.Tensor]:
    """CIFAR-10 as tensors: ``train_images``/``test_images`` uint8 [N, 3, 32, 32] (50,000 and
    10,000), ``train_labels``/``test_labels`` int64. Read once per process, then served from memory."""
    archive = _data.locate(CIFAR10, root, download=download)["archive"]
    stat = archive.stat()
    key = ("cifar-10", str(archive.resolve()), stat.st_size, stat.st_mtime_ns, verify)
    if key in _data._CACHE:
        return _data._CACHE[key]
    _data.verify_file(archive, "cifar-10-python.tar.gz", verify=verify)
    batches = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers()
                       if m.isfile() and Path(m.name).parent.name == "cifar-10-batches-py"}
            missing = [name for name in _CIFAR_MEMBERS if name not in members]
            if missing:
                raise _data.ChecksumError(f"{archive} lacks cifar-10-batches-py/{', '.join(missing)}")
            for name in _CIFAR_MEMBERS:
                batches[name] = _unpickle(tar.extractfile(members[name]).read(), f"{archive}: {name}")
    except (tarfile.TarError, EOFError, OSError, ValueError) as e:
        if isinstance(e, _data.ChecksumError):
            raise
        raise _data.ChecksumError(f"{archive} is not a complete tar.gz archive ({e}); delete it and load again") from e
    names = batches["batches.meta"].get(b"label_names")
    if not isinstance(names, list) or [n.decode() if isinstance(n, bytes) else n for n in names] != CIFAR10_LABELS:
        raise _data.ChecksumError(f"{archive}: batches.meta does not name CIFAR-10's ten classes: {names!r}")
    train = [_cifar_batch(batches[f"data_batch_{i}"], f"{archive}: data_batch_{i}") for i in range(1, 6)]
    test_images, test_labels = _cifar_batch(batches["test_batch"], f"{archive}: test_batch")
    tensors = {"train_images": torch.cat([x for x, _ in train]), "train_labels": torch.cat([y for _, y in train]),
               "test_images": test_images, "test_labels": test_labels}
    _data._CACHE[key] = tensors
    return tensors


def _split_loaders(splits, batch_size, resize, augment, normalize, seed, device, classes, loader_class):
    common = dict(resize=resize, normalize=normalize, device=device, seed=seed, classes=classes)
    (train_x, train_y), (test_x, test_y) = splits
    return (loader_class(train_x, train_y, batch_size, shuffle=True, augment=augment, **common),
            loader_class(test_x, test_y, batch_size, shuffle=False, **common))


def _subsets(pairs, sizes, seed):
    out = []
    for (images, labels), (name, n) in zip(pairs, sizes):
        idx = _data._subset(len(images), n, seed, name)
        out.append((images, labels) if idx is None else (images[idx], labels[idx]))
    return out


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
) -> tuple[_data.ImageLoader, _data.ImageLoader]:
    """CIFAR-10 as ``(train_iter, test_iter)``: ``X`` float32 [B, 3, H, W] in [0, 1], ``y`` int64.

    The arguments are those of :func:`~d2lnets.load_data_fashion_mnist`; ``resize`` is a batched
    bilinear resize of the 32x32 images, ``normalize=True`` uses CIFAR-10's channel statistics.
    """
    batch_size, seed = as_int(batch_size, "batch_size"), as_int(seed, "seed", minimum=None)
    t = load_cifar10_tensors(root, download=download)
    splits = _subsets([(t["train_images"], t["train_labels"]), (t["test_images"], t["test_labels"])],
                      [("num_train", num_train), ("num_test", num_test)], seed)
    return _split_loaders(splits, batch_size, resize, augment, normalize, seed, device, CIFAR10_LABELS,
                          CIFAR10Loader)


# --- decoding, resizing and the cache ---------------------------------------------------------------

def _cache_dir() -> Path:
    return _data._default_data_dir() / "cache"


def _memory_budget(memory_budget: int | None) -> int | None:
    if memory_budget is not None:
        return as_int(memory_budget, "memory_budget", hint=" (bytes)")
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return None


def _check_budget(n: int, size: tuple[int, int], budget: int | None, what: str) -> None:
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
        raise _data.ChecksumError(f"{where} could not be decoded as an image ({type(e).__name__}: "
                                  f"{str(e).strip().splitlines()[-1]}); replace or delete it") from e
    if tuple(image.shape[-2:]) != size:
        image = TF.resize(image, list(size), antialias=True)
    return image


def _decode_all(sources: Sequence[bytes | Path], names: Sequence[str], size: tuple[int, int],
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


def _cached(tag: str, fingerprint: list, size: tuple[int, int], build: Callable[[], dict]) -> dict:
    """``build()`` once; afterwards read from ``data/cache/<tag>-<hash>-<H>x<W>.pt``."""
    key = repr((_CACHE_VERSION, tag, size, fingerprint))
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    path = _cache_dir() / f"{tag}-{digest}-{size[0]}x{size[1]}.pt"
    if ("decoded", digest) in _data._CACHE:
        return _data._CACHE[("decoded", digest)]
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
    _data._CACHE[("decoded", digest)] = found
    return found


# --- image folders -----------------------------------------------------------------------------------

def _find_folder(root: str | os.PathLike) -> Path:
    """``root`` itself if it exists or is absolute; a relative name is also looked up in the usual places."""
    given = Path(root).expanduser()
    if given.is_absolute() or given.exists():
        if not given.is_dir():
            raise _data.DataNotFoundError(f"the image folder {given} does not exist; give the folder that "
                                          "holds train/ and valid/ (one sub-folder per class in each)")
        return given
    env = _data._data_dir_setting()
    bases = ([Path(env)] if env else []) + [
        _data._default_data_dir(), _data.SYSTEM_DATA_DIR]
    places = [b.expanduser() / given for b in bases]
    found = next((p for p in places if p.is_dir()), None)
    if found is None:
        raise _data.DataNotFoundError(
            f"the image folder {str(root)!r} was not found. Looked in:\n" +
            "\n".join(f"  - {p}" for p in [Path.cwd() / given] + places) +
            "\nPut the folder (train/ and valid/, one sub-folder per class in each) in one of these places, "
            "point $D2LNETS_DATA at the folder above it, or give its full path.")
    return found


def _list_split(folder: Path, classes: list[str] | None) -> tuple[list[Path], list[int], list[str]]:
    class_dirs = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not class_dirs:
        raise _data.DataNotFoundError(f"{folder} holds no class folders (one sub-folder of images per class)")
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
        raise _data.DataNotFoundError(
            f"{folder} must hold train/ and valid/ (or val/), each with one sub-folder of images per class; "
            f"it holds: {', '.join(sorted(p.name for p in folder.iterdir())) or 'nothing'}")
    train_files, train_labels, classes = _list_split(train_dir, None)
    valid_files, valid_labels, _ = _list_split(valid_dir, classes)
    files = train_files + valid_files
    fingerprint = [(str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files]

    def build() -> dict:
        _check_budget(len(files), size, _memory_budget(memory_budget), str(folder))
        return {"train_images": _decode_all(train_files, [str(p) for p in train_files], size, workers),
                "valid_images": _decode_all(valid_files, [str(p) for p in valid_files], size, workers),
                "train_labels": torch.tensor(train_labels, dtype=torch.int64),
                "valid_labels": torch.tensor(valid_labels, dtype=torch.int64), "classes": classes}

    return _cached(f"folder-{folder.name}", [str(folder.resolve())] + fingerprint, size, build)


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
) -> tuple[_data.ImageLoader, _data.ImageLoader]:
    """``(train_iter, valid_iter)`` from ``root/train/<class>/`` and ``root/valid/<class>/`` (or ``val/``).

    Images are decoded once at ``resize`` (an int for a square, or (H, W)) and cached; the loaders
    carry ``classes`` (the class-folder names, label i is ``classes[i]``). ``normalize=True`` uses
    ImageNet's channel statistics.
    """
    batch_size, seed = as_int(batch_size, "batch_size"), as_int(seed, "seed", minimum=None)
    t = load_image_folder_tensors(root, resize, memory_budget=memory_budget, workers=workers)
    splits = _subsets([(t["train_images"], t["train_labels"]), (t["valid_images"], t["valid_labels"])],
                      [("num_train", num_train), ("num_test", num_test)], seed)
    return _split_loaders(splits, batch_size, None, augment, normalize, seed, device, t["classes"], ImageFolderLoader)


# --- Flowers-102 ---------------------------------------------------------------------------------------

FLOWERS102_SPLITS = ("train", "valid", "test")


def _loadmat(path: Path, variables: Sequence[str]) -> dict[str, np.ndarray]:
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path))
    except Exception as e:
        raise _data.ChecksumError(f"{path} is not a readable .mat file ({type(e).__name__}: {e})") from e
    missing = [v for v in variables if v not in mat]
    if missing:
        raise _data.ChecksumError(f"{path} lacks the variable(s) {', '.join(missing)}")
    out = {}
    for v in variables:
        array = np.asarray(mat[v]).reshape(-1)
        if not np.issubdtype(array.dtype, np.number) or not np.all(array == np.round(array)):
            raise _data.ChecksumError(f"{path}: {v} must hold integers, got {array.dtype}")
        out[v] = array.astype(np.int64)
    return out


def load_flowers102_tensors(root: str | os.PathLike | None = None, resize: int | tuple[int, int] = 224, *,
                            download: bool = True, verify: bool = True, memory_budget: int | None = None,
                            workers: int | None = None) -> dict:
    """Flowers-102 as tensors at ``resize``: ``{split}_images`` uint8 [N, 3, H, W] and
    ``{split}_labels`` int64 (0..101) for the official ``train``, ``valid`` and ``test`` splits."""
    size = as_size(resize, "resize")
    paths = _data.locate(FLOWERS102, root, download=download)
    fingerprint = [(name, str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for name, p in paths.items()]

    def build() -> dict:
        for key, name in FLOWERS102.files.items():
            _data.verify_file(paths[key], name, verify=verify)
        labels = _loadmat(paths["labels"], ["labels"])["labels"]
        ids = _loadmat(paths["split"], ["trnid", "valid", "tstid"])
        n = len(labels)
        if labels.min(initial=1) < 1 or labels.max(initial=1) > 102:
            raise _data.ChecksumError(f"{paths['labels']}: labels must be 1..102, got {labels.min()}..{labels.max()}")
        every = np.concatenate(list(ids.values()))
        if len(every) and (every.min() < 1 or every.max() > n):
            raise _data.ChecksumError(f"{paths['split']}: image ids must be 1..{n} (one per label in "
                                      f"{paths['labels'].name}), got {every.min()}..{every.max()}")
        if len(np.unique(every)) != len(every):
            raise _data.ChecksumError(f"{paths['split']}: an image id appears twice (splits overlap)")
        _check_budget(len(every), size, _memory_budget(memory_budget), "Flowers-102")
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
                            raise _data.ChecksumError(f"{paths['images']} holds {member.name}, which "
                                                      f"{paths['labels'].name} has no label for (it labels {n} images)")
        except (tarfile.TarError, EOFError, OSError) as e:
            if isinstance(e, _data.ChecksumError):
                raise
            raise _data.ChecksumError(f"{paths['images']} is not a complete tar.gz archive ({e}); "
                                      "delete it and load again") from e
        missing = [f"jpg/image_{i:05d}.jpg" for i in every.tolist() if i not in raw]
        if missing:
            raise _data.ChecksumError(f"{paths['images']} lacks {len(missing)} image(s) that {paths['split'].name} "
                                      f"lists, e.g. {missing[0]}")
        out = {}
        for split, var in zip(FLOWERS102_SPLITS, ("trnid", "valid", "tstid")):
            split_ids = ids[var].tolist()
            names = [f"{paths['images']}: jpg/image_{i:05d}.jpg" for i in split_ids]
            out[f"{split}_images"] = _decode_all([raw[i] for i in split_ids], names, size, workers)
            out[f"{split}_labels"] = torch.as_tensor(labels[np.array(split_ids, dtype=np.int64) - 1] - 1)
        return out

    return _cached("flowers-102", fingerprint + [verify], size, build)


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
) -> tuple[_data.ImageLoader, _data.ImageLoader]:
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
    pairs = _subsets(pairs, [("num_train", num_train), ("num_test", num_test)], seed)
    return _split_loaders(pairs, batch_size, None, augment, normalize, seed, device, None, Flowers102Loader)
