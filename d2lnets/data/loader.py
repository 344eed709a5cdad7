"""Batches from images held in memory: the one loader every dataset of the course uses."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F

from ..core.config import as_device
from ..core.memory import reuse_freed_memory
from ..core.state import constant, to_device
from ..core.validate import as_int, as_size, instance_of, require

__all__ = ["AUGMENT_TOLERANCE", "ImageLoader", "normalize", "split_loaders", "subset", "subsets"]

# How far outside [0, 1] an augment's output may go (before normalisation): colour augmentation such
# as PCA lighting moves values a little past the ends; a batch on [0, 255], or one normalised inside
# the augment, goes far beyond.
AUGMENT_TOLERANCE = 0.25


def normalize(X: torch.Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> torch.Tensor:
    """``(X - mean) / std`` per channel of a batch ``[B, C, H, W]`` (one value, or one per channel),
    with ``mean`` and ``std`` copied to ``X``'s device once, not for every batch."""
    mean, std = (constant(tuple(t), X.device, X.dtype).reshape(1, -1, 1, 1) for t in (mean, std))
    return (X - mean) / std


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
    each global batch of ``batch_size * world_size`` examples (:meth:`shard`). The first batch
    that ``augment`` makes is checked, once: the same number of images, float32, on the loader's
    device, values within [-0.25, 1.25] (:data:`AUGMENT_TOLERANCE`); an augment that breaks one
    of these raises ``ValueError`` naming it.
    """

    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    rank, world_size = 0, 1  # this process's share of each batch (torch.distributed): shard()
    augment_checked = False  # set once the augment's first batch was checked

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
                raise ValueError("normalize must be True, False or a pair (mean, std), each a number or one per "
                                 "channel")
            mean, std = (tuple(float(v) for v in torch.as_tensor(t, dtype=torch.float64).reshape(-1).tolist())
                         for t in normalize)
            if not all(math.isfinite(v) for v in mean) or not all(math.isfinite(v) and v > 0 for v in std):
                raise ValueError(f"normalize=(mean, std) needs finite means and standard deviations above 0, got "
                                 f"mean {mean} and std {std}: dividing by a std of 0 makes every pixel infinite")
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
        self.epoch = as_int(epoch, "epoch", minimum=0)

    def batched(self, batch_size: int) -> ImageLoader:
        """The same loader in batches of ``batch_size`` (e.g. large batches for evaluation, which
        ``evaluate_accuracy`` and ``train_ch5`` use on an accelerator)."""
        batch_size = as_int(batch_size, "batch_size")
        if batch_size == self.batch_size:
            return self
        new = type(self).__new__(type(self))
        new.__dict__.update(self.__dict__, batch_size=batch_size)
        return new

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
            given, X = X, self.augment(X)
            if not self.augment_checked:
                _check_augmented(self.augment, given, X)
                self.augment_checked = True
        if self.normalize:
            X = normalize(X, self.mean, self.std)
        return X

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n, b = self.num_examples, self.batch_size
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
            order = to_device(torch.randperm(n, generator=g), self.device)
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


def _check_augmented(augment, given: torch.Tensor, X) -> None:
    """What ``augment`` made of the batch ``given``: a batch of as many float32 images, on the same
    device, in [0, 1] up to :data:`AUGMENT_TOLERANCE`; a ``ValueError`` naming ``augment`` if not."""
    name = getattr(augment, "__qualname__", None) or repr(augment)
    wrong = None
    if not isinstance(X, torch.Tensor):
        wrong = f"returned {type(X).__name__}, not a tensor"
    elif X.dim() != 4 or len(X) != len(given):
        wrong = (f"turned a batch of {len(given)} images into one of shape {list(X.shape)}, so the batch would "
                 f"no longer match its {len(given)} labels")
    elif X.dtype != given.dtype:
        wrong = f"returned {X.dtype} images from {given.dtype} ones"
    elif X.device != given.device:
        wrong = f"moved the batch from {given.device} to {X.device}"
    else:
        lo, hi = torch.aminmax(X.detach()) if X.numel() else (torch.zeros(()), torch.zeros(()))
        lo, hi = lo.item(), hi.item()
        eps = AUGMENT_TOLERANCE
        if not (-eps <= lo and hi <= 1 + eps):  # (also catches NaN)
            wrong = (f"returned values from {lo:.3g} to {hi:.3g}, but a batch before normalisation holds values in "
                     f"[0, 1] (give or take {eps}): scale with / 255 only once, clamp with X.clamp(0, 1), and "
                     "normalise with the loader's normalize=... rather than inside augment")
    if wrong is not None:
        raise ValueError(f"augment={name} {wrong}. An augment takes a float32 batch [B, C, H, W] in [0, 1] and "
                         "returns one of the same B images, dtype and device (it may change H and W)")


def _check_shard(rank, world_size) -> tuple[int, int]:
    world_size = as_int(world_size, "world_size")
    rank = as_int(rank, "rank", minimum=0)
    if rank >= world_size:
        raise ValueError(f"rank must be from 0 to world_size - 1 = {world_size - 1}, got {rank}")
    return rank, world_size


def subset(n_total: int, n: int | None, seed: int, name: str) -> torch.Tensor | None:
    """The indices of a fixed random subset of ``n`` of ``n_total`` examples (seeded), or None for all."""
    if n is None:
        return None
    hint = f" (an integer from 1 to {n_total}, or None for all)"
    n = as_int(n, name, hint=hint)
    if n > n_total:
        raise ValueError(f"{name} must be an integer from 1 to {n_total}, got {n!r}")
    return torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))[:n]


def subsets(pairs, sizes, seed):
    """Each split's ``(images, labels)`` cut to its ``(name, n)`` subset."""
    out = []
    for (images, labels), (name, n) in zip(pairs, sizes):
        idx = subset(len(images), n, seed, name)
        out.append((images, labels) if idx is None else (images[idx], labels[idx]))
    return out


def split_loaders(splits, batch_size, resize, augment, normalize, seed, device, classes, loader_class):
    """A shuffled training loader and an ordered test loader of ``loader_class`` over two splits."""
    common = dict(resize=resize, normalize=normalize, device=device, seed=seed, classes=classes)
    (train_x, train_y), (test_x, test_y) = splits
    return (loader_class(train_x, train_y, batch_size, shuffle=True, augment=augment, **common),
            loader_class(test_x, test_y, batch_size, shuffle=False, **common))
