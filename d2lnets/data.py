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

The same layer serves every dataset (:mod:`d2lnets.datasets`: CIFAR-10, Flowers-102, any folder
of images): a :class:`DatasetSpec` says which files make the dataset, and :func:`locate` searches
``root``, ``$D2LNETS_DATA``, the repository's ``data/`` (each also in the dataset's usual
sub-folder) and the system folders, in that order; :func:`verify_file` checks a file against
:data:`KNOWN_MD5`; a dataset found nowhere raises one :class:`DataNotFoundError` naming every
folder searched and every remedy; :class:`ImageLoader` (of which :class:`FashionMNISTLoader` is
the one-channel case) batches any uint8 images held in memory.
"""
from __future__ import annotations

import gzip
import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ._validate import as_int, as_size, instance_of, require, short
from .config import as_device
from .config import data_dir as _data_dir_setting  # $D2LNETS_DATA, read in one place
from .memory import reuse_freed_memory

__all__ = [
    "FASHION_MNIST_MEAN", "FASHION_MNIST_STD", "TEXT_LABELS", "ChecksumError", "DataNotFoundError",
    "DatasetSpec", "FashionMNISTLoader", "ImageLoader", "data_dirs", "get_fashion_mnist_labels",
    "load_data_fashion_mnist", "load_fashion_mnist_tensors", "locate", "verify_file",
    # from d2lnets.datasets
    "CIFAR10_LABELS", "load_cifar10_tensors", "load_data_cifar10", "load_data_flowers102",
    "load_data_image_folder", "load_flowers102_tensors", "load_image_folder_tensors",
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
# Other datasets' files, checked as stored ("file": the MD5 of the file's bytes; torchvision's values).
KNOWN_MD5.update({
    "cifar-10-python.tar.gz": {"file": {"c58f30108f718f92721af3b95e74349a"}},
    "102flowers.tgz": {"file": {"52808999861908f626f3c1f4e79d11fa"}},
    "imagelabels.mat": {"file": {"e0620be6f572b9609742df49c70aed4d"}},
    "setid.mat": {"file": {"a5357ecc9cb78c4bef273ce3793fc85c"}},
})
SYSTEM_DATA_DIR = Path("/usr/share/datasets")  # where system packages put datasets (Debian's convention)
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


class DatasetSpec:
    """What makes a dataset on disk, and where and how :func:`locate` looks for it.

    ``files`` maps a key to the file's name; ``subdirs`` are searched below every base folder
    (``root``, ``$D2LNETS_DATA``, ``data/``) after the base folders themselves; ``system_dirs``
    last. ``remedies`` are the ways to get the data, one line each, for the not-found message;
    ``download(target)`` fetches the files into ``target / download_subdir``.
    """

    def __init__(self, name: str, files: dict[str, str], *, subdirs: Sequence[str] = (),
                 system_dirs: Sequence[Path] = (), remedies: Sequence[str] = (), what: str | None = None,
                 listing: str | None = None, download: Callable[[Path], None] | None = None,
                 download_subdir: str = "") -> None:
        self.name, self._files, self.subdirs = name, dict(files), tuple(subdirs)
        self._system_dirs, self.remedies = [Path(d) for d in system_dirs], tuple(remedies)
        self.what = what or (f"the file {next(iter(files.values()))}" if len(files) == 1 else
                             f"the {_NUMBER_WORDS.get(len(files), len(files))} files")
        if listing is None:
            listing = f"{self.what} {', '.join(files.values())}" if len(files) > 1 else next(iter(files.values()))
        self.listing = listing
        self._download, self.download_subdir = download, download_subdir

    @property
    def files(self) -> dict[str, str]:
        return self._files

    def system_dirs(self) -> list[Path]:
        return list(self._system_dirs)

    def present(self, directory: Path) -> dict[str, Path]:
        """Those of the files that ``directory`` holds."""
        return {key: directory / name for key, name in self.files.items() if (directory / name).is_file()}

    def find(self, directory: Path) -> dict[str, Path] | None:
        """All the files in ``directory``, or None if any is missing."""
        found = self.present(directory)
        return found if len(found) == len(self.files) else None

    @property
    def can_download(self) -> bool:
        return self._download is not None

    def download(self, target: Path) -> None:
        self._download(target)

    def __repr__(self) -> str:
        return f"DatasetSpec({self.name!r}, files={list(self.files.values())})"


_NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}


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


def data_dirs(root: str | os.PathLike | None = None, dataset: DatasetSpec | None = None) -> list[Path]:
    """Every folder searched for ``dataset``'s files (default: Fashion-MNIST's), in order."""
    spec = FASHION_MNIST if dataset is None else dataset
    bases: list[Path] = []
    if root is not None:
        bases.append(Path(root))
    env = _data_dir_setting()
    if env:
        bases.append(Path(env))
    bases.append(_default_data_dir())
    dirs = bases + [base / sub for sub in spec.subdirs for base in bases] + spec.system_dirs()
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


FASHION_MNIST = _FashionMNISTSpec()


def _not_in(said: str, folder: Path, spec: DatasetSpec | None = None) -> DataNotFoundError:
    """The error for a folder the caller named that does not hold the dataset's files."""
    spec = FASHION_MNIST if spec is None else spec
    present = max([spec.present(folder)] + [spec.present(folder / sub) for sub in spec.subdirs], key=len)
    if not folder.is_dir():
        what = "no such folder exists"
    elif not present:
        what = f"the folder holds none of {spec.what}" if len(spec.files) > 1 else f"the folder lacks {spec.what}"
    else:
        missing = [name for key, name in spec.files.items() if key not in present]
        what = (f"the folder holds only {len(present)} of {spec.what}; missing: {', '.join(missing)}")
    inside = f" (or in its {' or '.join(f'{sub}/' for sub in spec.subdirs)})" if spec.subdirs else ""
    return DataNotFoundError(
        f"{spec.name} was not found in {said} ({folder}): {what}. Put {spec.listing} "
        f"there{inside}, or leave it out to use the other copies.")


def locate(spec: DatasetSpec, root: str | os.PathLike | None = None, *, download: bool = True) -> dict[str, Path]:
    """The paths of ``spec``'s files (key -> path), searched in the order of :func:`data_dirs`.

    A folder the caller named (``root``, else ``$D2LNETS_DATA``) must hold them: a missing, empty
    or incomplete one is an error, never a silent switch to another copy -- except that ``root``
    is downloaded into when ``download``. With no copy anywhere the files are downloaded (if the
    dataset has a download and ``download``) into ``root`` or ``data/``; failing that, one
    :class:`DataNotFoundError` names every folder searched and every way to get the data.
    """
    dirs = data_dirs(root, spec)
    env = _data_dir_setting()
    named = (f"root={str(root)!r}", Path(root)) if root is not None else (
        ("$D2LNETS_DATA", Path(env)) if env else None)
    paths = None
    if named is not None:  # a folder the caller named must hold the data: never another copy silently
        said, folder = named
        folder = folder.expanduser()
        for candidate in [folder] + [folder / sub for sub in spec.subdirs]:
            paths = spec.find(candidate)
            if paths is not None:
                break
        if paths is None and not (root is not None and download and spec.can_download):
            raise _not_in(said, folder, spec)
    else:
        paths = next((p for p in map(spec.find, dirs) if p is not None), None)
    if paths is not None:
        return paths
    if not download:
        reason = "downloading was switched off (download=False)"
    elif not spec.can_download:
        reason = f"{spec.name} has no download"
    else:
        target = Path(root).expanduser() if root is not None else _default_data_dir()
        try:
            spec.download(target)
        except Exception as e:  # noqa: BLE001 - any failure leads to the same advice
            reason = f"the download into {target} failed: {type(e).__name__}: {e}"
        else:
            reason = f"the download into {target} did not produce {spec.what}"
        paths = spec.find(target / spec.download_subdir if spec.download_subdir else target)
        if paths is not None:
            return paths
    searched = "\n".join(f"  - {d}" for d in dirs)
    ways = {1: "this way", 2: "either of two ways"}.get(len(spec.remedies), f"any of {len(spec.remedies)} ways")
    looked_for = getattr(spec, "looked_for", None) or ", ".join(spec.files.values())
    raise DataNotFoundError(
        f"{spec.name} was not found. Looked for {looked_for} in:\n{searched}\nand {reason}.\n"
        f"Get the data in {ways}:\n" + "\n".join(f"  - {r}" for r in spec.remedies) +
        f",\nor point $D2LNETS_DATA at a folder that holds {spec.what}."
    )


def verify_file(path: Path, name: str | None = None, *, verify: bool = True) -> None:
    """Check ``path`` against the known MD5s of the genuine file ``name`` (default: its own name).

    Raises :class:`ChecksumError` naming the file: corrupt or truncated, or a genuine file of
    another name (the two were swapped). Reads the file in chunks (large archives stay out of memory).
    """
    if not verify:
        return
    path = Path(path)
    name = name or path.name
    known = KNOWN_MD5.get(name, {}).get("file")
    if known is None:
        raise ChecksumError(f"no checksum is known for {name} ({path}); pass verify=False to read it unchecked")
    md5 = hashlib.md5()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                md5.update(block)
    except OSError as e:
        raise ChecksumError(f"{path} could not be read: {e}") from e
    digest = md5.hexdigest()
    if digest in known:
        return
    genuine = _identify(digest)
    if genuine is not None and genuine[0] != name:
        raise ChecksumError(f"{path} is the genuine {genuine[0]} (its MD5 {digest} says so), stored as "
                            f"{path.name}: the files are swapped or misnamed. Rename it to {genuine[0]}.")
    raise ChecksumError(
        f"{path} is corrupt or truncated: its MD5 {digest} matches no known copy of {name} "
        f"(known: {', '.join(sorted(known))}). Delete it and load again; the data will be looked up "
        "elsewhere or downloaded.")


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
    paths = locate(FASHION_MNIST, root, download=download)
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


class ImageLoader:
    """Batches ``(X, y)`` from images held in memory: ``X`` float32 [B, C, H, W] in [0, 1]
    (normalised if asked), ``y`` int64 [B].

    ``images`` are uint8, ``[N, H, W]`` (one channel, as Fashion-MNIST) or ``[N, C, H, W]``.
    Each pass over the loader shuffles anew (if ``shuffle``) with a generator seeded from
    ``seed`` and the epoch number; :meth:`set_epoch` fixes the epoch, as ``train_ch5`` does, so a
    training run is reproducible however often the loader was iterated before. Resizing (one
    bilinear interpolation per batch), ``augment`` and normalisation run where the images are:
    :meth:`to` moves them, e.g. to the training device. ``normalize``: ``True`` for the loader's
    ``mean``/``std`` (per channel), or a pair ``(mean, std)``; ``classes`` names the labels.
    ``rank``/``world_size``: with several processes (torch.distributed), this process's share of
    each global batch of ``batch_size * world_size`` examples (:meth:`shard`).
    """

    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    rank, world_size = 0, 1  # this process's share of each batch (torch.distributed): shard()

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
        normalize: bool | tuple = False,
        augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
        device: torch.device | str | None = None,
        classes: Sequence[str] | None = None,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        batch_size, seed = as_int(batch_size, "batch_size"), as_int(seed, "seed", minimum=None)
        self.rank, self.world_size = _check_shard(rank, world_size)
        for name, t in (("images", images), ("labels", labels)):
            instance_of(t, torch.Tensor, name, "a tensor")
        if images.dtype != torch.uint8 or images.dim() not in (3, 4):
            raise ValueError(f"images must be uint8 [N, H, W] or [N, C, H, W], got {images.dtype} "
                             f"{tuple(images.shape)}")
        if len(images) != len(labels):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        resize = None if resize is None else as_size(resize, "resize")
        require(augment is None or callable(augment), augment, "augment",
                "None or a function of a batch of images, e.g. d2l.augment.Augment(crop=28, padding=2)")
        channels = 1 if images.dim() == 3 else images.shape[1]
        if isinstance(normalize, (tuple, list)):
            if len(normalize) != 2:
                raise ValueError("normalize must be True, False or a pair (mean, std), each a number or one per channel")
            mean, std = (tuple(float(v) for v in torch.as_tensor(t, dtype=torch.float64).reshape(-1).tolist())
                         for t in normalize)
            self.mean, self.std, normalize = mean, std, True
        elif normalize and (self.mean is None or self.std is None):
            raise ValueError(f"{type(self).__name__} knows no mean and std to normalise with: "
                             "pass normalize=(mean, std)")
        if normalize and not all(len(t) in (1, channels) for t in (self.mean, self.std)):
            raise ValueError(f"normalize needs one mean and one std, or one per channel ({channels}), "
                             f"got {len(self.mean)} and {len(self.std)}")
        self.device = as_device(device) if device is not None else images.device
        self.images, self.labels = images.to(self.device), labels.to(self.device)
        self.batch_size, self.shuffle, self.resize, self.seed = batch_size, shuffle, resize, seed
        self.drop_last, self.normalize, self.augment = drop_last, bool(normalize), augment
        self.classes = None if classes is None else list(classes)
        self.epoch = 0

    @property
    def num_examples(self) -> int:
        return len(self.images)

    @property
    def num_channels(self) -> int:
        return 1 if self.images.dim() == 3 else self.images.shape[1]

    @property
    def image_size(self) -> tuple[int, int]:
        return self.resize or tuple(self.images.shape[-2:])

    def __len__(self) -> int:
        n, b = self.num_examples, self.batch_size
        if self.world_size > 1:  # whole global batches only: every process takes as many steps
            return n // (b * self.world_size)
        return n // b if self.drop_last else -(-n // b)

    def shard(self, rank: int, world_size: int) -> ImageLoader:
        """The same loader for process ``rank`` of ``world_size`` (torch.distributed): each pass
        takes the same seeded order as the whole loader, cut into global batches of
        ``batch_size * world_size`` examples, and gives this process its ``batch_size`` of each
        (the ``rank``-th slice); an incomplete last global batch is left out."""
        rank, world_size = _check_shard(rank, world_size)
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__, rank=rank, world_size=world_size)
        if world_size > 1 and len(new) == 0:
            raise ValueError(f"{self.num_examples} examples make no global batch of {self.batch_size} x "
                             f"{world_size} processes: use a smaller batch_size")
        return new

    def set_epoch(self, epoch: int) -> None:
        """Use the shuffle of epoch ``epoch`` on the next pass."""
        self.epoch = epoch

    def to(self, device: torch.device | str) -> ImageLoader:
        """The same loader with its tensors on ``device`` (batches are then made there)."""
        device = as_device(device)
        if device == self.device:
            return self
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__, device=device)
        new.images, new.labels = self.images.to(device), self.labels.to(device)
        return new

    def transform(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [B, H, W] or [B, C, H, W] -> float32 [B, C, H', W'] in [0, 1] (resized, augmented, normalised)."""
        X = (images.unsqueeze(1) if images.dim() == 3 else images).float().div_(255)
        if self.resize is not None and tuple(X.shape[-2:]) != self.resize:
            X = F.interpolate(X, size=self.resize, mode="bilinear", align_corners=False,
                              antialias=self.resize[0] < X.shape[-2])
        if self.augment is not None:
            X = self.augment(X)
        if self.normalize:
            mean, std = (torch.tensor(t, dtype=X.dtype, device=X.device).reshape(1, -1, 1, 1)
                         for t in (self.mean, self.std))
            X = (X - mean) / std
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
        w = self.world_size
        starts = (range(0, stop, b) if w == 1 else  # this process's slice of each whole global batch
                  range(self.rank * b, n - n % (b * w), b * w))
        with reuse_freed_memory(self.device):  # large batches reuse memory instead of page-faulting
            for start in starts:
                idx = slice(start, min(start + b, n)) if order is None else order[start:start + b]
                yield self.transform(self.images[idx]), self.labels[idx]

    def __repr__(self) -> str:
        h, w = self.image_size
        size = f"{h}x{w}" if self.images.dim() == 3 else f"{self.num_channels}x{h}x{w}"
        return (f"{type(self).__name__}({self.num_examples} examples, batch_size={self.batch_size}, "
                f"{size}, shuffle={self.shuffle}, device={self.device})")


def _check_shard(rank, world_size) -> tuple[int, int]:
    world_size = as_int(world_size, "world_size")
    rank = as_int(rank, "rank", minimum=0)
    if rank >= world_size:
        raise ValueError(f"rank must be from 0 to world_size - 1 = {world_size - 1}, got {rank}")
    return rank, world_size


class FashionMNISTLoader(ImageLoader):
    """An :class:`ImageLoader` of one-channel images normalised, if asked, by Fashion-MNIST's
    pixel mean and standard deviation."""

    mean, std = (FASHION_MNIST_MEAN,), (FASHION_MNIST_STD,)


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


# The other datasets share this module's search, checksums and loader (imported last: they use it).
from .datasets import (
    CIFAR10_LABELS,
    load_cifar10_tensors,
    load_data_cifar10,
    load_data_flowers102,
    load_data_image_folder,
    load_flowers102_tensors,
    load_image_folder_tensors,
)
