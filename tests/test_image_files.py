"""Image files of every kind a learner's folder may hold, and images that would exhaust memory.

Each kind is generated here with PIL and decoded by the image-folder loader; the reference is
PIL's own reading of the same file (``ImageOps.exif_transpose(...).convert("RGB")``), or the
16-bit values written, scaled to 8 bits.
"""
from __future__ import annotations

import struct
import warnings
import zlib

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

import d2lnets as d2l
from d2lnets.data import decode, store

pytestmark = [pytest.mark.usefixtures("one_thread", "isolated_search"),
              pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")]

H, W = 20, 30


def pixels(seed: int = 0, h: int = H, w: int = W) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def folder(root, special: dict) -> None:
    """train/a, train/b, valid/a, valid/b: one plain PNG each, and the ``special`` files
    ({relative path: function writing it})."""
    for i, split_class in enumerate(("train/a", "train/b", "valid/a", "valid/b")):
        (root / split_class).mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels(i)).save(root / split_class / "plain.png")
    for name, write in special.items():
        write(root / name)


def loaded(root, **kwargs) -> torch.Tensor:
    """The training images as the loader decodes them, at their own size (no resizing)."""
    kwargs.setdefault("resize", (H, W))
    return d2l.load_image_folder_tensors(root, **kwargs)["train_images"]


def pil_rgb(path) -> torch.Tensor:
    with Image.open(path) as im:
        return torch.from_numpy(np.array(ImageOps.exif_transpose(im).convert("RGB"))).permute(2, 0, 1)


def with_exif(orientation):
    def write(path):
        exif = Image.Exif()
        exif[0x0112] = orientation
        Image.fromarray(pixels(5)).save(path, exif=exif, quality=95)
    return write


KINDS = {
    "palette": lambda p: Image.fromarray(pixels(5)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(p),
    "palette with transparency": lambda p: Image.fromarray(pixels(5)).convert(
        "P", palette=Image.Palette.ADAPTIVE, colors=16).save(p, transparency=3),
    "grey": lambda p: Image.fromarray(pixels(5)[..., 0]).save(p),
    "grey with alpha": lambda p: Image.fromarray(pixels(5)[..., :2].copy(), "LA").save(p),
    "RGBA": lambda p: Image.fromarray(np.dstack([pixels(5), pixels(6)[..., :1]])).save(p),
    "CMYK JPEG": lambda p: Image.fromarray(pixels(5)).convert("CMYK").save(p, quality=95),
    "grey JPEG": lambda p: Image.fromarray(pixels(5)[..., 0]).save(p, quality=95),
}


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_of_image_becomes_rgb_as_pil_makes_it(tmp_path, kind):
    name = "train/a/x.jpg" if "JPEG" in kind else "train/a/x.png"
    folder(tmp_path, {name: KINDS[kind]})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning for any of these
        got = loaded(tmp_path)[1]  # (train/a: plain.png, then x)
    diff = (got.int() - pil_rgb(tmp_path / name).int()).abs().max().item()
    assert diff <= 1, f"{kind}: differs from PIL's RGB by {diff}"


@pytest.mark.parametrize("orientation, shape", [(3, (H, W)), (6, (W, H)), (8, (W, H))])
def test_exif_orientation_is_applied(tmp_path, orientation, shape):
    folder(tmp_path, {"train/a/x.jpg": with_exif(orientation)})
    with Image.open(tmp_path / "train/a/x.jpg") as im:
        assert im.size == (W, H)  # stored as it was taken
    expected = pil_rgb(tmp_path / "train/a/x.jpg")
    assert tuple(expected.shape[-2:]) == shape
    got = loaded(tmp_path, resize=shape)[1]
    assert (got.int() - expected.int()).abs().max() <= 1
    unrotated = Image.open(tmp_path / "train/a/x.jpg").convert("RGB")
    if orientation == 3:  # the same shape: the content says it was turned
        assert (got.int() - torch.from_numpy(np.array(unrotated)).permute(2, 0, 1).int()).abs().float().mean() > 20


def test_a_16_bit_png_is_scaled_to_8_bits_not_clipped_or_wrapped(tmp_path):
    values = np.random.default_rng(1).integers(0, 65536, (H, W)).astype(np.uint16)
    folder(tmp_path, {"train/a/x.png": lambda p: Image.fromarray(values).save(p)})
    with Image.open(tmp_path / "train/a/x.png") as im:
        assert im.mode == "I;16"
    got = loaded(tmp_path)[1]
    want = torch.from_numpy(np.round(values / 257).astype(np.uint8))
    assert all(torch.equal(got[c], want) for c in range(3))


def test_animated_and_multi_picture_files_give_their_first_frame_said_once(tmp_path):
    frames = [Image.fromarray(pixels(10 + i)) for i in range(3)]

    def apng(p):
        frames[0].save(p, save_all=True, append_images=frames[1:], duration=100)

    def mpo(p):
        frames[0].save(p, format="MPO", save_all=True, append_images=frames[1:2], quality=95)

    folder(tmp_path, {"train/a/anim.png": apng, "train/b/two.jpg": mpo})
    with Image.open(tmp_path / "train/b/two.jpg") as im:
        assert im.format == "MPO" and im.n_frames == 2
    with pytest.warns(UserWarning, match=r"2 images hold several frames.*anim.png \(3 frames\).*first frame") as said:
        got = loaded(tmp_path)
    assert len([w for w in said if "frames" in str(w.message)]) == 1
    assert torch.equal(got[0], torch.from_numpy(pixels(10)).permute(2, 0, 1))  # (train/a: anim.png, plain.png)
    with Image.open(tmp_path / "train/b/two.jpg") as im:
        first = torch.from_numpy(np.array(im.convert("RGB"))).permute(2, 0, 1)
    assert (got[3].int() - first.int()).abs().max() <= 1  # (train/b: plain.png, two.jpg)


def png_header_only(path, width, height) -> None:
    """A PNG file that says it holds ``width`` x ``height`` RGB pixels (its data is a stub)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))


def test_a_decompression_bomb_is_refused_before_anything_is_decoded(tmp_path, monkeypatch):
    folder(tmp_path, {"valid/b/bomb.png": lambda p: png_header_only(p, 30_000, 30_000)})
    assert (tmp_path / "valid/b/bomb.png").stat().st_size < 200
    monkeypatch.setattr(decode, "_decode", lambda *a: pytest.fail("an image was decoded before the check"))
    with pytest.raises(decode.ImageTooLargeError) as err:
        d2l.load_data_image_folder(tmp_path, 2, resize=8)
    message = str(err.value)
    for phrase in (str(tmp_path / "valid/b/bomb.png"), "30,000 x 30,000 pixels (900 megapixels)",
                   "limit of 50 megapixels", "max_pixels=1_800_000_000"):
        assert phrase in message, f"the message does not say {phrase!r}: {message}"
    assert decode.MAX_PIXELS == 50_000_000


def test_max_pixels_is_the_limit_and_raises_it(tmp_path):
    folder(tmp_path, {"train/a/big.png": lambda p: Image.fromarray(pixels(0, 100, 120)).save(p)})
    with pytest.raises(decode.ImageTooLargeError, match=r"big.png is 120 x 100 pixels.*limit of 0.01 megapixels"):
        d2l.load_image_folder_tensors(tmp_path, 8, max_pixels=10_000)
    assert d2l.load_image_folder_tensors(tmp_path, 8, max_pixels=12_000)["train_images"].shape == (3, 3, 8, 8)
    with pytest.raises(ValueError, match="max_pixels must be a positive integer"):
        d2l.load_data_image_folder(tmp_path, 2, resize=8, max_pixels=0)


def test_the_memory_budget_counts_decoding_at_full_size(tmp_path, monkeypatch):
    folder(tmp_path, {"train/a/big.png": lambda p: Image.fromarray(pixels(0, 500, 600)).save(p)})
    (big,) = decode.read_headers([tmp_path / "train/a/big.png"], ["big"])
    (plain,) = decode.read_headers([tmp_path / "train/a/plain.png"], ["plain"])
    kept = 5 * 3 * 8 * 8  # the five images at 8x8
    # 5 images at 8x8 are 960 bytes, but decoding the 500 x 600 one takes 3.6 MB (12 bytes a pixel) and its file
    with pytest.raises(MemoryError, match=r"decoding .*big.png \(600 x 500 pixels\) takes about .*memory budget"):
        d2l.load_image_folder_tensors(tmp_path, 8, memory_budget=big.decode_bytes + kept - 1)
    store.CACHE.clear()
    threads = []
    real = decode.ThreadPoolExecutor
    monkeypatch.setattr(decode, "ThreadPoolExecutor", lambda max_workers: threads.append(max_workers) or real(1))
    fits_one = big.decode_bytes + kept + plain.decode_bytes - 1  # the big image and another would not fit at once
    assert d2l.load_image_folder_tensors(tmp_path, 8, memory_budget=fits_one, workers=4)["train_images"].shape[0] == 3
    assert threads[0] == 1
    store.CACHE.clear()
    threads.clear()
    d2l.load_image_folder_tensors(tmp_path, 9, memory_budget=10**9, workers=4)  # (another size: not cached)
    assert threads == [4, 4]


def test_headers_are_read_without_decoding(tmp_path):
    """A header names the size, the kind and the frames of a file, from its first bytes."""
    png_header_only(tmp_path / "x.png", 12_345, 678)
    (h,) = decode.read_headers([tmp_path / "x.png"], ["x.png"])
    assert (h.width, h.height, h.mode, h.frames) == (12_345, 678, "RGB", 1)
    assert h.decode_bytes == 12_345 * 678 * decode.DECODE_BYTES_PER_PIXEL + (tmp_path / "x.png").stat().st_size


def test_a_png_with_too_little_data_is_an_error_not_a_crash(tmp_path):
    """torchvision 0.29 ends the process (a segmentation fault) on such a PNG; PIL decodes PNGs here.
    Run in a subprocess, so that a regression fails this test instead of killing the test run."""
    import subprocess
    import sys

    png_header_only(tmp_path / "short.png", 300, 200)  # a whole file, whose data stream is 64 bytes
    code = ("import sys; from pathlib import Path; from d2lnets.data import decode, store\n"
            "try:\n    decode._decode(Path(sys.argv[1]), (8, 8), 'short.png')\n"
            "except store.ChecksumError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", code, str(tmp_path / "short.png")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"the process ended with {done.returncode}: {done.stderr[-500:]}"
    assert done.stdout.startswith("short.png could not be decoded as an image (OSError: image file is truncated")
