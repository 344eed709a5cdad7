"""A generated stand-in for the appendix's datasets, in their real on-disk formats.

Neither CIFAR-10 nor Flowers-102 ships with the course, and CI cannot download them; the appendix's
``smoke`` run still reads every file format through the real loaders. :func:`write_standins`
writes small files in each format, filled with synthetic images (a disc of one colour per class on
coarse noise, :func:`synthetic_images`):

- ``cifar-10/cifar-10-python.tar.gz``: CIFAR-10's pickled batches (protocol 2, as Python 2 wrote
  them) with ``batches.meta``, five training batches and a test batch;
- ``flowers-102/``: Oxford's ``102flowers.tgz`` of JPEGs with ``imagelabels.mat`` and ``setid.mat``;
- ``flowers5/``: a folder per class in ``train/`` and ``valid/`` (JPEG and PNG), as the five-flowers
  write-up keeps its photos.

The loaders check every archive against its known MD5s; the stand-in's own checksums are added to
:data:`~d2lnets.data.store.KNOWN_MD5` in this process only, so those checks run on it too. Its
images are not photos: an accuracy measured on them means nothing.
"""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import tarfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from .cifar10 import CIFAR10_LABELS
from .store import KNOWN_MD5

__all__ = ["FIVE_FLOWERS", "Standins", "synthetic_images", "write_standins"]

FIVE_FLOWERS = ["daisy", "dandelion", "rose", "sunflower", "tulip"]
CIFAR_SIZES = {**{f"data_batch_{i}": 64 for i in range(1, 6)}, "test_batch": 128}
FLOWERS = {"images": 40, "train": 12, "valid": 12}     # the rest are the test split
FOLDER = {"train": 6, "valid": 2}                       # images per class in flowers5/


@dataclass
class Standins:
    """Where :func:`write_standins` wrote each stand-in (the folder each loader takes as ``root``),
    and the MD5 of each archive it registered."""

    folder: Path
    cifar10: Path
    flowers102: Path
    flowers5: Path
    md5: dict[str, str]


def synthetic_images(labels: torch.Tensor, height: int, width: int, seed: int = 0) -> torch.Tensor:
    """uint8 images [N, 3, height, width], one per label: a disc of the class's colour on coarse
    noise (a stand-in, not photos; a class can be told from its colour)."""
    palette = torch.rand(int(labels.max()) + 1, 3, generator=torch.Generator().manual_seed(1))
    noise = torch.rand(len(labels), 3, height // 4, width // 4, generator=torch.Generator().manual_seed(seed))
    noise = noise.repeat_interleave(4, dim=-2).repeat_interleave(4, dim=-1)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, noise.shape[-2]), torch.linspace(-1, 1, noise.shape[-1]),
                            indexing="ij")
    disc = (xx ** 2 + yy ** 2 < 0.5).float()
    X = 0.35 * noise + 0.65 * palette[labels][:, :, None, None] * disc
    return (X * 255).round().to(torch.uint8)


def _add(tar: tarfile.TarFile, name: str, raw: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(raw)
    tar.addfile(info, io.BytesIO(raw))


def _write_cifar(folder: Path, g: torch.Generator) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for seed, (name, n) in enumerate(CIFAR_SIZES.items(), start=1):
            labels = torch.randint(10, (n,), generator=g)
            batch = {b"data": synthetic_images(labels, 32, 32, seed=seed).reshape(n, -1).numpy(),
                     b"labels": labels.tolist()}
            _add(tar, f"cifar-10-batches-py/{name}", pickle.dumps(batch, protocol=2))
        meta = {b"label_names": [c.encode() for c in CIFAR10_LABELS]}
        _add(tar, "cifar-10-batches-py/batches.meta", pickle.dumps(meta, protocol=2))
    return path


def _write_flowers(folder: Path, g: torch.Generator) -> list[Path]:
    import scipy.io
    from torchvision.io import encode_jpeg

    folder.mkdir(parents=True, exist_ok=True)
    n, n_train, n_valid = FLOWERS["images"], FLOWERS["train"], FLOWERS["valid"]
    labels = torch.randint(102, (n,), generator=g)
    with tarfile.open(folder / "102flowers.tgz", "w:gz") as tar:
        for i, image in enumerate(synthetic_images(labels, 96, 128, seed=6), start=1):
            _add(tar, f"jpg/image_{i:05d}.jpg", encode_jpeg(image, quality=90).numpy().tobytes())
    scipy.io.savemat(folder / "imagelabels.mat", {"labels": (labels + 1).numpy().reshape(1, -1)})
    ids = (torch.randperm(n, generator=g) + 1).numpy().reshape(1, -1)
    scipy.io.savemat(folder / "setid.mat", {"trnid": ids[:, :n_train], "valid": ids[:, n_train:n_train + n_valid],
                                            "tstid": ids[:, n_train + n_valid:]})
    return [folder / name for name in ("102flowers.tgz", "imagelabels.mat", "setid.mat")]


def _write_folder(folder: Path) -> None:
    from torchvision.io import encode_jpeg, encode_png

    for split, n in FOLDER.items():
        for c, name in enumerate(FIVE_FLOWERS):
            (folder / split / name).mkdir(parents=True, exist_ok=True)
            for i, image in enumerate(synthetic_images(torch.full((n,), c), 96, 128, seed=7 + c)):
                raw = encode_jpeg(image, quality=90) if i % 2 else encode_png(image)   # both formats
                (folder / split / name / f"{i}.{'jpg' if i % 2 else 'png'}").write_bytes(raw.numpy().tobytes())


def write_standins(folder: str | os.PathLike) -> Standins:
    """Write the stand-ins into ``folder`` (``cifar-10/``, ``flowers-102/``, ``flowers5/``), register
    the archives' checksums for this process, and say where each is (see the module's docstring).
    The same call writes the same images; the files get a fixed time, so the loaders' cache of
    decoded images recognises them on the next run."""
    folder = Path(folder)
    g = torch.Generator().manual_seed(0)
    with warnings.catch_warnings():   # torchvision 0.29 announces TorchCodec at every encode
        warnings.filterwarnings("ignore", "The image decoding and encoding capabilities", DeprecationWarning)
        archives = [_write_cifar(folder / "cifar-10", g), *_write_flowers(folder / "flowers-102", g)]
        _write_folder(folder / "flowers5")
    for p in folder.rglob("*"):
        if p.is_file():
            os.utime(p, ns=(1_600_000_000 * 10**9,) * 2)
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in archives}
    for name, digest in md5.items():   # this process only: the stand-in counts as genuine
        KNOWN_MD5[name] = {"file": KNOWN_MD5.get(name, {}).get("file", set()) | {digest}}
    return Standins(folder, folder / "cifar-10", folder / "flowers-102", folder / "flowers5", md5)
