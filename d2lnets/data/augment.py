"""Batched data augmentation on float image tensors, the AlexNet paper's three kinds.

Every function takes a batch ``X`` of shape ``[B, C, H, W]`` (floating point) and returns a new
tensor on the same device with the same dtype; nothing loops over images and nothing goes through
PIL. Used as ``load_data_fashion_mnist(..., augment=Augment(...))`` they run where the loader
makes its batches, which ``train_ch5`` puts on the training device: on the GPU when there is one.

- :func:`random_crop`: pad by ``padding`` zeros on every side, then cut a random ``size`` window
  out of each image (its own offsets per image); :func:`crop` cuts at given offsets.
- :func:`random_horizontal_flip`: mirror each image left-right (the width axis, ``dim=-1``) with
  probability ``p``.
- :func:`pca_components` and :func:`pca_lighting`: the paper's "fancy PCA" colour augmentation.
  With ``eigvals`` (λ) and ``eigvecs`` (columns p_i) of the C x C covariance of pixel values over
  the training set (:func:`pca_components`, from a tensor or a loader, in one pass, on [0, 1]),
  every pixel of image b gets ``eigvecs @ (alpha_b * eigvals)`` added, with
  ``alpha_b[i] ~ N(0, alpha_std**2)`` drawn once per image and per component (the paper: 0.1).
- :func:`sample_photos`: real colour photos (those shipped with scikit-learn or scikit-image) to
  show what the augmentations do.

Random numbers come from ``generator`` (a CPU ``torch.Generator``; ``None``: torch's global one)
and are drawn on the CPU, so the same seed gives the same augmentation on every device; they reach
a GPU from pinned memory without the host waiting for it (:func:`d2lnets.core.state.to_device`), and
nothing in an augmentation of random draws reads a number back from the device. Draw
order, for who wants to reproduce a call: :func:`random_crop` draws ``B`` tops, then ``B`` lefts
(``torch.randint``); :func:`random_horizontal_flip` draws ``B`` uniforms (``torch.rand``), image b
is flipped when its uniform is below ``p``; :func:`pca_lighting` draws the ``[B, C]`` alphas of
:func:`lighting_alphas`.
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor

from ..core.state import to_device
from ..core.validate import as_float, as_int, as_size

__all__ = ["Augment", "crop", "lighting_alphas", "pca_components", "pca_lighting", "random_crop",
           "random_horizontal_flip", "sample_photos"]

# Devices on which a crop cuts image by image (one slice copy each: on a CPU 5x faster than a gather);
# elsewhere all windows are cut in one gather. (A test empties it to run the accelerators' way on the CPU.)
CROP_BY_SLICES = {"cpu"}


def _check_batch(X: Tensor, name: str) -> None:
    if not isinstance(X, Tensor) or X.dim() != 4:
        shape = tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__
        raise ValueError(f"{name} expects a batch of images [B, C, H, W], got {shape}; "
                         "add a batch dimension with X.unsqueeze(0) for a single image")
    if not X.is_floating_point():
        raise ValueError(f"{name} expects floating-point images, got {X.dtype}; convert with X.float() / 255")




def _check_padding(padding) -> int:
    return as_int(padding, "padding", minimum=0, hint=" (pixels added on each side)")


def crop(X: Tensor, top: Tensor, left: Tensor, size, padding: int = 0) -> Tensor:
    """Cut a ``size`` window out of each image of ``X`` padded by ``padding`` zeros on each side.

    ``top[b]``, ``left[b]`` (integer tensors of length B) are the window's corner in the padded
    image b. Returns ``[B, C, size_h, size_w]``.
    """
    _check_batch(X, "crop")
    (h, w), padding = as_size(size, "size"), _check_padding(padding)
    B, C, H, W = X.shape
    top, left = torch.as_tensor(top).reshape(-1), torch.as_tensor(left).reshape(-1)
    if any(t.is_floating_point() and not torch.equal(t, t.round()) for t in (top, left)):
        raise ValueError("top and left must be whole-pixel offsets (integers), got fractions")
    top, left = top.long(), left.long()
    if len(top) != B or len(left) != B:
        raise ValueError(f"need one top and one left offset per image ({B}), got {len(top)} and {len(left)}")
    if top.min() < 0 or left.min() < 0 or top.max() > H + 2 * padding - h or left.max() > W + 2 * padding - w:
        raise ValueError(f"a {h}x{w} window at these offsets does not fit into {H}x{W} images padded by {padding}")
    return _crop(X, top, left, h, w, padding)


def _crop(X: Tensor, top: Tensor, left: Tensor, h: int, w: int, padding: int) -> Tensor:
    """:func:`crop` without its checks (offsets that fit, as :func:`random_crop` draws them)."""
    if X.device.type in CROP_BY_SLICES:
        return _crop_by_slices(X, top, left, h, w, padding)
    return _crop_by_gather(X, top, left, h, w, padding)


def _crop_by_slices(X: Tensor, top: Tensor, left: Tensor, h: int, w: int, padding: int) -> Tensor:
    """One slice copy per image into zeros, no padded copy: on a CPU 5x faster than a gather."""
    B, C, H, W = X.shape
    out = X.new_zeros(B, C, h, w)
    for b, (top_b, left_b) in enumerate(zip(top.tolist(), left.tolist())):
        r0, c0 = top_b - padding, left_b - padding  # the window's corner in the unpadded image
        r_lo, c_lo, r_hi, c_hi = max(r0, 0), max(c0, 0), min(r0 + h, H), min(c0 + w, W)
        if r_lo < r_hi and c_lo < c_hi:
            out[b, :, r_lo - r0:r_hi - r0, c_lo - c0:c_hi - c0] = X[b, :, r_lo:r_hi, c_lo:c_hi]
    return out


def _crop_by_gather(X: Tensor, top: Tensor, left: Tensor, h: int, w: int, padding: int) -> Tensor:
    """All windows in one gather (one kernel on a GPU)."""
    B = len(X)
    if padding:
        X = torch.nn.functional.pad(X, (padding, padding, padding, padding))
    top, left = (to_device(t.long(), X.device) for t in (top, left))
    rows = (top[:, None] + torch.arange(h, device=X.device))[:, :, None]   # [B, h, 1]
    cols = (left[:, None] + torch.arange(w, device=X.device))[:, None, :]  # [B, 1, w]
    batch = torch.arange(B, device=X.device)[:, None, None]
    # advanced indexing on dims 0, 2, 3 puts the channel dim last: [B, h, w, C]
    return X.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2).contiguous()


def random_crop(X: Tensor, size, padding: int = 0, generator: torch.Generator | None = None) -> Tensor:
    """A random ``size`` window of each image (after zero-padding by ``padding`` on each side).

    ``random_crop(X, 28, padding=2)`` shifts 28x28 images by up to 2 pixels each way, as the
    CIFAR recipes do; ``random_crop(X, 224)`` on 256 px images is the paper's cropping.
    """
    _check_batch(X, "random_crop")
    (h, w), padding = as_size(size, "size"), _check_padding(padding)
    B, _, H, W = X.shape
    if h > H + 2 * padding or w > W + 2 * padding:
        raise ValueError(f"a {h}x{w} crop does not fit into {H}x{W} images padded by {padding} "
                         f"({H + 2 * padding}x{W + 2 * padding}); use a smaller size or more padding")
    top = torch.randint(0, H + 2 * padding - h + 1, (B,), generator=generator)
    left = torch.randint(0, W + 2 * padding - w + 1, (B,), generator=generator)
    return _crop(X, top, left, h, w, padding)


def random_horizontal_flip(X: Tensor, p: float = 0.5, generator: torch.Generator | None = None) -> Tensor:
    """Mirror each image left-right (along the width, ``dim=-1``) with probability ``p``."""
    _check_batch(X, "random_horizontal_flip")
    p = as_float(p, "p (the probability of flipping an image)", at_least=0, at_most=1)
    flip = to_device(torch.rand(len(X), generator=generator) < p, X.device)
    return torch.where(flip[:, None, None, None], X.flip(-1), X)


def _pixel_batches(images, chunk: int):
    """[C, n] float64 blocks of pixel values in [0, 1] from a tensor or a loader, in one pass."""
    if isinstance(images, Tensor):
        if images.dim() != 4:
            raise ValueError(f"pca_components expects images [N, C, H, W], got shape {tuple(images.shape)}")
        sources = (images[start:start + chunk] for start in range(0, len(images), chunk))
    else:
        raw = getattr(images, "images", None)  # an ImageLoader: its stored images, before any augmentation
        if isinstance(raw, Tensor) and raw.dtype == torch.uint8 and raw.dim() in (3, 4):
            raw = raw.unsqueeze(1) if raw.dim() == 3 else raw
            sources = (raw[start:start + chunk] for start in range(0, len(raw), chunk))
        else:
            try:
                iterator = iter(images)
            except TypeError:
                raise ValueError(f"pca_components expects images [N, C, H, W] or a loader of (X, y) batches, "
                                 f"got {type(images).__name__}") from None
            sources = (batch[0] if isinstance(batch, (tuple, list)) else batch for batch in iterator)
    for X in sources:
        if not isinstance(X, Tensor) or X.dim() != 4:
            raise ValueError(f"pca_components expects batches [B, C, H, W], got "
                             f"{tuple(X.shape) if isinstance(X, Tensor) else type(X).__name__}")
        if X.dtype == torch.uint8:
            X = X.double().div_(255)
        elif not X.is_floating_point():
            raise ValueError(f"pca_components expects uint8 (0-255) or floating-point images in [0, 1], got {X.dtype}")
        yield X.transpose(0, 1).reshape(X.shape[1], -1).double()


def pca_components(images, chunk: int = 4096) -> tuple[Tensor, Tensor]:
    """Eigenvalues and eigenvectors of the C x C covariance of pixel values over a training set.

    As the AlexNet paper did on ImageNet: every pixel of every image is one sample of a C-vector
    (RGB), the covariance is centred by the mean colour of the whole set (not per image), and it
    is computed on the [0, 1] scale of the batches to augment, in one pass over ``chunk`` images
    at a time, accumulated in float64. ``images``: a tensor ``[N, C, H, W]`` -- uint8 (divided by
    255) or floating point (taken to be in [0, 1]) -- or a loader: an ``ImageLoader``'s stored
    images are used as they are (no resize, augmentation or normalisation), any other iterable
    of ``(X, y)`` batches or of ``X`` is read batch by batch.

    Returns ``(eigvals [C], eigvecs [C, C])``, largest eigenvalue first, eigenvector ``i`` in
    column ``eigvecs[:, i]`` (``torch.linalg.eigh``'s convention, reordered); float32 for uint8
    or loader input, else ``images``' float dtype.
    """
    chunk = as_int(chunk, "chunk")
    dtype = images.dtype if isinstance(images, Tensor) and images.is_floating_point() else torch.float32
    total = outer = None
    count = 0
    for pixels in _pixel_batches(images, chunk):
        if total is None:
            C = pixels.shape[0]
            total = torch.zeros(C, dtype=torch.float64, device=pixels.device)
            outer = torch.zeros(C, C, dtype=torch.float64, device=pixels.device)
        elif pixels.shape[0] != total.shape[0]:
            raise ValueError(f"every batch needs {total.shape[0]} channels, got one with {pixels.shape[0]}")
        total += pixels.sum(dim=1)
        outer += pixels @ pixels.T
        count += pixels.shape[1]
    if count < 2:
        raise ValueError("pca_components needs at least two pixels to estimate a covariance")
    if not (torch.isfinite(total).all() and torch.isfinite(outer).all()):
        raise ValueError("the images hold NaN or infinite values, so their colours have no covariance: find where "
                         "they come from (torch.isnan(X).any() on each batch; a division by zero?) or replace them, "
                         "e.g. torch.nan_to_num(X)")
    mean = total / count
    cov = (outer - count * torch.outer(mean, mean)) / (count - 1)
    eigvals, eigvecs = torch.linalg.eigh(cov)              # ascending
    eigvals, eigvecs = eigvals.flip(0), eigvecs.flip(1)    # largest first
    return eigvals.clamp_min(0).to(dtype), eigvecs.to(dtype)


# Colour photos shipped inside installed packages, read straight from the package's folder (no import).
_PHOTOS = {
    "sklearn": ("scikit-learn", "datasets/images", ("china.jpg", "flower.jpg")),
    "skimage": ("scikit-image", "data", ("astronaut.png", "coffee.png", "chelsea.png")),
}


def sample_photos(size: int | tuple[int, int] = 256, source: str | None = None) -> Tensor:
    """Real colour photos for pictures of colour augmentation: uint8 ``[N, 3, H, W]``.

    The photos that ship inside scikit-learn (``sklearn.datasets.load_sample_images``: china.jpg,
    flower.jpg) or scikit-image (``skimage.data``: astronaut, coffee, chelsea), read from the
    installed package's files without importing it. Each is resized so that its shorter side is
    ``size`` (or to fit ``(H, W)``), then centre-cropped to ``size`` x ``size`` (or ``(H, W)``).
    ``source``: ``"sklearn"`` or ``"skimage"``; ``None`` takes the first installed, in that order.
    Raises ``ModuleNotFoundError`` naming the package to install when neither is there.
    """
    import importlib.util
    from pathlib import Path

    from torchvision.io import ImageReadMode, decode_image, read_file
    from torchvision.transforms.v2 import functional as TF

    h, w = as_size(size, "size")
    if source is not None and source not in _PHOTOS:
        raise ValueError(f"source must be None, 'sklearn' or 'skimage', got {source!r}")
    for module in [source] if source else list(_PHOTOS):
        try:
            spec = importlib.util.find_spec(module)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.origin:
            continue
        package, folder, names = _PHOTOS[module]
        paths = [Path(spec.origin).parent / folder / name for name in names]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"{package} is installed but lacks its sample photos {', '.join(missing)}; "
                                    f"reinstall it (pip install --force-reinstall {package})")
        photos = []
        for path in paths:
            with warnings.catch_warnings():  # torchvision 0.29 announces TorchCodec at every call
                warnings.filterwarnings("ignore", "The image decoding and encoding capabilities", DeprecationWarning)
                image = decode_image(read_file(str(path)), mode=ImageReadMode.RGB)
            scale = max(h / image.shape[-2], w / image.shape[-1])
            resized = [max(h, round(image.shape[-2] * scale)), max(w, round(image.shape[-1] * scale))]
            photos.append(TF.center_crop(TF.resize(image, resized, antialias=True), [h, w]))
        return torch.stack(photos)
    wanted = {"sklearn": "scikit-learn", "skimage": "scikit-image"}
    which = wanted[source] if source else "scikit-learn (or scikit-image)"
    raise ModuleNotFoundError(
        f"sample_photos needs the photos that ship with {which}, which is not installed: "
        f"pip install {wanted[source] if source else 'scikit-learn'}")


def lighting_alphas(batch_size: int, num_channels: int, alpha_std: float = 0.1,
                    generator: torch.Generator | None = None) -> Tensor:
    """The random ``[B, C]`` coefficients of :func:`pca_lighting`: ``alpha_std * torch.randn``."""
    alpha_std = as_float(alpha_std, "alpha_std (a standard deviation)", at_least=0)
    batch_size, num_channels = as_int(batch_size, "batch_size", minimum=0), as_int(num_channels, "num_channels")
    return torch.randn(batch_size, num_channels, generator=generator) * alpha_std


def pca_lighting(X: Tensor, eigvals: Tensor, eigvecs: Tensor, alpha_std: float = 0.1,
                 generator: torch.Generator | None = None, *, alphas: Tensor | None = None) -> Tensor:
    """The paper's PCA colour augmentation ("fancy PCA").

    Image b gets ``eigvecs @ (alphas[b] * eigvals)`` added to every pixel, with
    ``alphas = lighting_alphas(B, C, alpha_std, generator)`` unless ``alphas`` ``[B, C]`` is given.
    The same intensity change is added everywhere in an image, along the directions in which the
    dataset's colours vary most.
    """
    _check_batch(X, "pca_lighting")
    B, C = X.shape[:2]
    eigvals, eigvecs = torch.as_tensor(eigvals), torch.as_tensor(eigvecs)
    if eigvals.shape != (C,) or eigvecs.shape != (C, C):
        raise ValueError(f"for {C}-channel images eigvals must have shape ({C},) and eigvecs ({C}, {C}), "
                         f"got {tuple(eigvals.shape)} and {tuple(eigvecs.shape)}; compute them with "
                         "pca_components(training_images)")
    if alphas is None:
        alphas = lighting_alphas(B, C, alpha_std, generator)
    elif tuple(torch.as_tensor(alphas).shape) != (B, C):
        raise ValueError(f"alphas must have shape [B, C] = [{B}, {C}], got {tuple(alphas.shape)}")
    alphas, eigvals, eigvecs = (to_device(t.to(X.dtype), X.device) for t in (torch.as_tensor(alphas), eigvals, eigvecs))
    shift = (alphas * eigvals) @ eigvecs.T  # row b: eigvecs @ (a_b * λ)
    return X + shift[:, :, None, None]


class Augment:
    """A training-batch transform for ``load_data_fashion_mnist(..., augment=Augment(...))``.

    In this order: a random crop of ``crop`` pixels after ``padding`` (if ``crop``), a random
    horizontal flip with probability 0.5 (if ``flip``), PCA lighting with
    ``lighting=(eigvals, eigvecs)`` and ``alpha_std`` (if ``lighting``). Its own generator, seeded
    with ``seed``, makes a run reproducible; :meth:`reset` starts the stream again. The same seed
    gives the same augmentation on every device (the draws are made on the CPU); the lighting's
    eigenvectors are copied to a batch's device once.
    """

    def __init__(self, crop=None, padding: int = 0, flip: bool = True,
                 lighting: tuple[Tensor, Tensor] | None = None, alpha_std: float = 0.1, seed: int = 0) -> None:
        self.crop = None if crop is None else as_size(crop, "crop")
        self.padding = _check_padding(padding)
        if self.padding and self.crop is None:
            raise ValueError("padding only applies to a random crop: give crop=... as well")
        if lighting is not None and (not isinstance(lighting, (tuple, list)) or len(lighting) != 2):
            raise ValueError("lighting must be None or the pair (eigvals, eigvecs) from pca_components")
        lighting_alphas(1, 1, alpha_std)  # validates alpha_std
        self.flip, self.lighting, self.alpha_std = bool(flip), lighting, alpha_std
        self.on_device: dict = {}  # (device, dtype) -> the lighting's (eigvals, eigvecs) there
        self.seed = as_int(seed, "seed", minimum=None)
        self.reset()

    def reset(self) -> None:
        """Restart the random stream from ``seed``."""
        self.generator = torch.Generator().manual_seed(self.seed)

    def __call__(self, X: Tensor) -> Tensor:
        if self.crop is not None:
            X = random_crop(X, self.crop, self.padding, self.generator)
        if self.flip:
            X = random_horizontal_flip(X, 0.5, self.generator)
        if self.lighting is not None:
            key = (X.device, X.dtype)
            if key not in self.on_device:
                self.on_device[key] = tuple(to_device(torch.as_tensor(t).to(X.dtype), X.device) for t in self.lighting)
            X = pca_lighting(X, *self.on_device[key], self.alpha_std, self.generator)
        return X

    def __repr__(self) -> str:
        parts = []
        if self.crop is not None:
            parts.append(f"crop={self.crop}, padding={self.padding}")
        parts.append(f"flip={self.flip}")
        if self.lighting is not None:
            parts.append(f"lighting=PCA(alpha_std={self.alpha_std})")
        return f"Augment({', '.join(parts)}, seed={self.seed})"
