"""The data pipeline: ``d2lnets``' Fashion-MNIST loader against the book's
``load_data_fashion_mnist`` (torchvision ``Resize`` + ``ToTensor`` in a 4-worker DataLoader),
images/s over a whole epoch of shuffled batches of 256 at 28, 96 and 224 px, and ours at 224 px
with the paper's augmentations (random crop, flip, PCA lighting).

The book's loader reads ``../data`` from the working directory: it runs in a child process started
in a temporary directory that holds the data where it looks (``python benchmarks/loaders.py
--book SIZE``)."""
from __future__ import annotations

import argparse
import json
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from timing import book_quietly, epoch_images_per_sec

import d2lnets as d2l

SIZES = (28, 96, 224)


def write_book_data(root: Path) -> None:
    """Fashion-MNIST as the unpacked IDX files torchvision's ``FashionMNIST(root)`` reads."""
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        tensors = d2l.load_fashion_mnist_tensors()
        images, labels = tensors[f"{split}_images"], tensors[f"{split}_labels"]
        n, h, w = images.shape
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(
            struct.pack(">IIII", 2051, n, h, w) + images.to(torch.uint8).numpy().tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(
            struct.pack(">II", 2049, n) + labels.to(torch.uint8).numpy().tobytes())


def book_images_per_sec(size: int, device: torch.device, work: Path) -> float:
    """The book's loader, one epoch, in a child process working in ``work`` (beside ``../data``)."""
    out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--book", str(size), "--device", str(device)],
                         cwd=work, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])["images_per_sec"]


def book_worker(size: int, device: torch.device) -> None:
    with book_quietly() as d2l_book:
        book_iter, _ = d2l_book.load_data_fashion_mnist(256, resize=size if size != 28 else None)
        rate = epoch_images_per_sec(book_iter, device)
    print(json.dumps({"size": size, "images_per_sec": rate}))


def bench_data(device: torch.device, quick: bool) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        write_book_data(Path(tmp) / "data")
        work = Path(tmp) / "work"
        work.mkdir()
        for size in SIZES[:1] if quick else SIZES:
            train_iter, _ = d2l.load_data_fashion_mnist(256, resize=size, device=device)
            ours = epoch_images_per_sec(train_iter, device, warm_up=True)  # the book's costs recur
            book = book_images_per_sec(size, device, work)
            rows.append({"size": size, "augmented": False, "ours": ours, "book": book, "speedup": ours / book})
            print(f"  {size:>4} px  ours {ours:10.0f} images/s  book {book:8.0f} images/s  x{ours / book:.1f}",
                  flush=True)
    # the paper's augmentations, batched on the loader's device: crop, flip, PCA lighting
    images = d2l.load_fashion_mnist_tensors()["train_images"][:10_000].unsqueeze(1).float() / 255
    augment = d2l.augment.Augment(crop=224, padding=16, flip=True, lighting=d2l.augment.pca_components(images))
    train_iter, _ = d2l.load_data_fashion_mnist(256, resize=224, augment=augment, device=device, num_train=20_000)
    rate = epoch_images_per_sec(train_iter, device, warm_up=True)  # an epoch of 20,000 images
    rows.append({"size": 224, "augmented": True, "ours": rate, "book": None, "speedup": None})
    print(f"   224 px  ours {rate:10.0f} images/s  with random crop, flip and PCA lighting", flush=True)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="one epoch of the book's loader (run by bench_data)")
    parser.add_argument("--book", type=int, required=True, help="image size")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    book_worker(args.book, torch.device(args.device))
