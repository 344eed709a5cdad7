"""Image files decoded safely: each file's header read first, then decoded at a size, in threads.

Used by folders of images and Flowers-102. Before anything is decoded, every file's header is
read (its size, kind and frames: PIL reads only the header) and checked:

- **Size.** An image of more than ``max_pixels`` pixels (default :data:`MAX_PIXELS`, 50
  megapixels: a 7,000 x 7,000 photo) is refused, naming the file, its size and how to raise the
  limit. A small file can hold a huge image (a "decompression bomb": a 100 KB PNG of 30,000 x
  30,000 pixels takes 2.7 GB once decoded), so the file's size says nothing.
- **Memory.** The memory budget counts the decoded images that are kept (uint8 at ``resize``) and
  the decoding itself: each thread holds one image at full size while it decodes it (about
  :data:`DECODE_BYTES_PER_PIXEL` bytes a pixel, plus the file). Fewer
  threads are used when that fits and all of them would not; when not even one fits, a
  ``MemoryError`` names the largest image.
- **Kinds**, each on purpose: an animated PNG or a multi-picture JPEG (MPO) gives its first frame
  (one warning says so, for all of them); a 16-bit PNG is scaled to 8 bits (``round(v / 257)``,
  not clipped); palette, grey and CMYK images become RGB as PIL's ``convert("RGB")`` makes them,
  and transparency is dropped (the colour under it is kept, as there); a JPEG's EXIF orientation
  is applied, so a photo taken upright comes out upright (as ``PIL.ImageOps.exif_transpose``).
- **Decoders**: JPEGs by torchvision (libjpeg-turbo, in threads); PNGs by PIL, which says that a
  damaged file is truncated where torchvision 0.29 crashes the whole process (a notebook's kernel
  dies) on a PNG whose data is shorter than its header says.
"""
from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from ..core.paths import byte_size
from ..core.validate import as_int
from .store import ChecksumError

__all__ = ["DECODE_BYTES_PER_PIXEL", "MAX_PIXELS", "Header", "ImageTooLargeError", "budget_bytes", "check_budget",
           "decode_all", "read_headers"]

MAX_PIXELS = 50_000_000
# Measured (torchvision 0.29, Pillow 12): decoding one image at full size and resizing it takes about 4
# (JPEG) to 10 (PNG, 8 or 16 bits) bytes a pixel beyond the file itself; 12 leaves room.
DECODE_BYTES_PER_PIXEL = 12

_TORCHVISION_IO_DEPRECATION = "The image decoding and encoding capabilities of TorchVision are deprecated"
_PNG, _JPEG = b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"


class ImageTooLargeError(ValueError):
    """An image with more pixels than the limit (``max_pixels``): refused before it is decoded."""


@dataclass(frozen=True)
class Header:
    """What an image file's header says: ``width``, ``height``, PIL's ``mode``, ``frames``, and
    ``file_bytes``, the size of the file."""

    width: int
    height: int
    mode: str
    frames: int
    file_bytes: int

    @property
    def pixels(self) -> int:
        return self.width * self.height

    @property
    def decode_bytes(self) -> int:
        """The memory decoding it takes at full size (see the module)."""
        return self.pixels * DECODE_BYTES_PER_PIXEL + self.file_bytes


def _header(source: bytes | Path, where: str) -> Header:
    from PIL import JpegImagePlugin, PngImagePlugin

    # The format's own reader, not Image.open, whose decompression-bomb check would refuse a large
    # image before its size could be read: the limit here is max_pixels.
    try:
        with (io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else open(source, "rb")) as f:
            magic = f.read(8)
            f.seek(0)
            if magic.startswith(_PNG):
                image = PngImagePlugin.PngImageFile(f)
            elif magic.startswith(_JPEG):
                image = JpegImagePlugin.jpeg_factory(f)
            else:
                raise ChecksumError(f"{where} could not be decoded as an image: it is neither a JPEG nor a PNG (its "
                                    f"first bytes are {magic!r}); replace or delete it")
            size = len(source) if isinstance(source, (bytes, bytearray)) else os.fstat(f.fileno()).st_size
            return Header(*image.size, image.mode, int(getattr(image, "n_frames", 1)), size)
    except ChecksumError:
        raise
    except Exception as e:  # PIL raises SyntaxError, OSError, struct.error, ... for a damaged header
        raise ChecksumError(f"{where} could not be decoded as an image: its header is damaged or the file is "
                            f"truncated ({type(e).__name__}: {(str(e).strip().splitlines() or [''])[-1]}); replace "
                            "or delete it") from e


def read_headers(sources: Sequence[bytes | Path], names: Sequence[str], max_pixels: int = MAX_PIXELS) -> list[Header]:
    """Every file's :class:`Header`; an image above ``max_pixels`` raises :class:`ImageTooLargeError`,
    and files of several frames are said, once, to give their first frame."""
    max_pixels = as_int(max_pixels, "max_pixels", hint=" (pixels an image may have)")
    headers = [_header(s, n) for s, n in zip(sources, names)]
    big = [(n, h) for n, h in zip(names, headers) if h.pixels > max_pixels]
    if big:
        name, h = big[0]
        more = f" (and {len(big) - 1} more)" if len(big) > 1 else ""
        raise ImageTooLargeError(
            f"{name} is {h.width:,} x {h.height:,} pixels ({h.pixels / 1e6:,.0f} megapixels){more}: more than the "
            f"limit of {max_pixels / 1e6:g} megapixels an image may have, as decoding it would take about "
            f"{byte_size(h.decode_bytes)} of memory (a small file can hold a huge image). Shrink it or move it "
            f"out; or, if it is meant and this machine has the memory, raise the limit, e.g. "
            f"max_pixels={2 * h.pixels:_}")
    animated = [(n, h) for n, h in zip(names, headers) if h.frames > 1]
    if animated:
        name, h = animated[0]
        count = f"{len(animated)} images hold" if len(animated) > 1 else "1 image holds"
        warnings.warn(f"{count} several frames (an animated PNG or a multi-picture JPEG), e.g. {name} ({h.frames} "
                      "frames): the first frame of each is used", UserWarning, stacklevel=3)
    return headers


def budget_bytes(memory_budget: int | None) -> int | None:
    """``memory_budget`` checked, or half this machine's memory (None where that is not known)."""
    if memory_budget is not None:
        return as_int(memory_budget, "memory_budget", hint=" (bytes)")
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):
        return None


def check_budget(n: int, size: tuple[int, int], budget: int | None, what: str) -> None:
    """Refuse (``MemoryError``) ``n`` images kept at ``size`` that do not fit in ``budget`` bytes."""
    need = n * 3 * size[0] * size[1]
    if budget is not None and need > budget:
        raise MemoryError(
            f"{what}: {n} images at 3x{size[0]}x{size[1]} need {need / 2**30:.2f} GiB as uint8, more than the "
            f"memory budget of {budget / 2**30:.2f} GiB (default: half this machine's memory). Ask for a "
            "smaller resize (e.g. resize=112), fewer images, or pass memory_budget=... (bytes) if it fits.")


def _threads(headers: list[Header], names: Sequence[str], kept: int, budget: int | None, workers: int) -> int:
    """As many of ``workers`` threads as fit in ``budget`` beside the ``kept`` bytes, each decoding
    one of the largest images at once (at least one, or ``MemoryError``)."""
    if budget is None or not headers:
        return workers
    largest = sorted(range(len(headers)), key=lambda i: headers[i].decode_bytes, reverse=True)
    while workers > 1 and kept + sum(headers[i].decode_bytes for i in largest[:workers]) > budget:
        workers -= 1
    need = kept + headers[largest[0]].decode_bytes
    if need > budget:
        h = headers[largest[0]]
        raise MemoryError(
            f"decoding {names[largest[0]]} ({h.width:,} x {h.height:,} pixels) takes about "
            f"{byte_size(h.decode_bytes)} at full size, which with the {byte_size(kept)} of decoded images kept is "
            f"more than the memory budget of {byte_size(budget)} (default: half this machine's "
            "memory). Shrink that image, ask for fewer images or a smaller resize, or pass memory_budget=... "
            "(bytes) if it fits.")
    return workers


def _to_uint8(image: torch.Tensor) -> torch.Tensor:
    """A 16-bit image scaled to 8 bits, ``round(v / 257)``, one channel at a time (little memory)."""
    out = torch.empty(image.shape, dtype=torch.uint8)
    for c in range(image.shape[0]):
        out[c] = image[c].to(torch.float32).div_(257).round_()
    return out


def _png(data: bytes) -> torch.Tensor:
    """A PNG's pixels as uint8 [3, H, W], decoded by PIL (see :func:`_decode`): its first frame,
    16-bit values scaled to 8 bits, any other mode converted to RGB, EXIF orientation applied."""
    import numpy as np
    from PIL import ImageOps, PngImagePlugin

    image = PngImagePlugin.PngImageFile(io.BytesIO(data))  # (the size was checked: no bomb check here)
    image.load()
    image = ImageOps.exif_transpose(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16 bits of grey
        grey = _to_uint8(torch.from_numpy(np.asarray(image).astype(np.int32))[None].clamp_(0, 65535))
        return grey.expand(3, -1, -1).contiguous()
    rgb = np.array(image if image.mode == "RGB" else image.convert("RGB"))  # (one copy of the pixels)
    return torch.from_numpy(rgb).permute(2, 0, 1)


def _decode(raw: bytes | Path, size: tuple[int, int], where: str) -> torch.Tensor:
    """One image file's bytes -> uint8 [3, H, W] resized to ``size`` (antialiased bilinear).

    JPEGs are decoded by torchvision (libjpeg-turbo); PNGs by PIL, because torchvision 0.29 ends the
    whole process (a segmentation fault, a notebook's kernel dies) on a PNG whose data stream is
    shorter than its header says, where PIL raises an error that names the file."""
    from torchvision.io import ImageReadMode, decode_image
    from torchvision.transforms.v2 import functional as TF

    try:
        data = raw.read_bytes() if isinstance(raw, Path) else bytes(raw)
        if data.startswith(_PNG):
            image = _png(data)
        else:
            image = decode_image(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=ImageReadMode.RGB,
                                 apply_exif_orientation=True)
    except Exception as e:  # torchvision raises RuntimeError, ValueError, ...; PIL OSError, SyntaxError, ...
        raise ChecksumError(f"{where} could not be decoded as an image ({type(e).__name__}: "
                            f"{(str(e).strip().splitlines() or [''])[-1]}); replace or delete it") from e
    if image.dtype != torch.uint8:
        image = _to_uint8(image)
    if tuple(image.shape[-2:]) != size:
        image = TF.resize(image, list(size), antialias=True)
    return image


def decode_all(sources: Sequence[bytes | Path], names: Sequence[str], size: tuple[int, int], workers: int | None,
               *, headers: list[Header] | None = None, budget: int | None = None, kept: int = 0) -> torch.Tensor:
    """The images of ``sources`` (paths or bytes) decoded at ``size``: uint8 [N, 3, H, W].

    ``headers``: their :func:`read_headers` (read here when not given); ``budget``: bytes that
    the images kept (these, and ``kept`` bytes of others) and the decoding must fit in."""
    headers = read_headers(sources, names) if headers is None else headers
    out_bytes = len(sources) * 3 * size[0] * size[1]
    workers = _threads(headers, names, kept + out_bytes, budget, workers or min(8, os.cpu_count() or 1))
    out = torch.empty(len(sources), 3, *size, dtype=torch.uint8)

    def one(i: int) -> None:
        out[i] = _decode(sources[i], size, names[i])

    with warnings.catch_warnings(), ThreadPoolExecutor(max_workers=workers) as pool:
        # torchvision 0.29 announces, at every call, that TorchCodec will take over image decoding
        warnings.filterwarnings("ignore", _TORCHVISION_IO_DEPRECATION, DeprecationWarning)
        for _ in pool.map(one, range(len(sources))):  # re-raises the first error, naming its file
            pass
    return out
