"""Layers the course builds from their formulas.

``LocalResponseNorm`` is the "brightness normalisation" of AlexNet (Krizhevsky, Sutskever and
Hinton, 2012, section 3.3). Every activation is divided by a power of the energy around it::

    b = a / (k + alpha' * sum(a'^2 over the window around a)) ** beta

The window runs over neighbouring *channels* at the same pixel (AlexNet, "inter-channel") or over a
size x size patch of the *same* channel (Caffe's WITHIN_CHANNEL, "intra-channel").
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core.validate import as_float, as_int

__all__ = ["LocalResponseNorm"]

_CONVENTIONS = ("pytorch", "paper")
_ACROSS = ("channels", "space")


class LocalResponseNorm(nn.Module):
    r"""Local response normalisation, ``b = a / (k + alpha' * sum a^2) ** beta``.

    Args:
        size: width of the window: ``size`` channels (``across="channels"``) or a
            ``size x size`` patch of one channel (``across="space"``).
        alpha, beta, k: the constants of the formula.
        convention: how ``alpha`` is read.

            - ``"pytorch"``: ``alpha' = alpha / n`` with ``n`` the number of terms in a full window
              (``size`` across channels, ``size**2`` across space), as Caffe and
              :class:`torch.nn.LocalResponseNorm` do. With ``across="channels"`` this layer equals
              ``torch.nn.LocalResponseNorm(size, alpha, beta, k)``.
            - ``"paper"``: ``alpha' = alpha``, as written in the AlexNet paper and in TensorFlow's
              ``tf.nn.local_response_normalization``.
        across: ``"channels"`` (inter-channel, AlexNet) or ``"space"`` (intra-channel).
        groups: across channels, split the channels into ``groups`` equal blocks and keep every
            window inside its block, as each of AlexNet's two towers (one GPU each) normalised
            only its own maps: ``groups=2`` equals ``torch.nn.LocalResponseNorm`` applied to each
            half of the channels separately. Default 1: one window over all channels.

    The window is centred the way torch centres its channel window: ``size // 2`` elements on the
    low side and ``(size - 1) // 2`` on the high side (so an even size reaches one element further
    down), and it is clipped at the borders: the missing neighbours count as zeros and add nothing
    to the sum, while ``n`` stays the full window size.

    The paper's setting is ``k=2, n=5, alpha=1e-4, beta=0.75`` with alpha applied to the plain
    sum. The same layer in each convention::

        LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2, convention="paper")
        LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2)        # = torch.nn.LocalResponseNorm(5, 5e-4, 0.75, 2)
        tf.nn.local_response_normalization(x, depth_radius=2, bias=2, alpha=1e-4, beta=0.75)

    ``torch.nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2)`` (copying the paper's numbers into
    PyTorch) normalises five times too weakly.

    Shape: input and output ``[batch, channels, height, width]``.
    """

    def __init__(
        self,
        size: int,
        alpha: float = 1e-4,
        beta: float = 0.75,
        k: float = 1.0,
        *,
        convention: str = "pytorch",
        across: str = "channels",
        groups: int = 1,
    ) -> None:
        super().__init__()
        size = as_int(size, "size", hint=" (the window width)")
        alpha = as_float(alpha, "alpha", at_least=0, hint=" (a negative alpha can make the bracket negative: NaN)")
        k = as_float(k, "k", above=0, hint=" (k > 0 keeps the bracket positive; with k = 0 a window of zeros "
                                            "divides 0 by 0: NaN)")
        beta = as_float(beta, "beta")
        if convention not in _CONVENTIONS:
            raise ValueError(
                f"convention must be 'pytorch' (alpha divided by the window size, as torch and Caffe) "
                f"or 'paper' (alpha as in the AlexNet paper and TensorFlow), got {convention!r}"
            )
        if across not in _ACROSS:
            raise ValueError(
                f"across must be 'channels' (inter-channel, AlexNet) or 'space' "
                f"(intra-channel, a size x size patch), got {across!r}"
            )
        groups = as_int(groups, "groups", hint=" (the towers whose channels are normalised apart; 1 for one)")
        if groups > 1 and across != "channels":
            raise ValueError(f"groups={groups} splits the channel window into towers; across='space' already "
                             "normalises each channel on its own: leave groups=1")
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k
        self.convention, self.across, self.groups = convention, across, groups

    @property
    def num_terms(self) -> int:
        """Number of squares in a full window: ``size`` across channels, ``size**2`` across space."""
        return self.size if self.across == "channels" else self.size**2

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ValueError(
                f"LocalResponseNorm expects a batch shaped [batch, channels, height, width], got shape "
                f"{tuple(x.shape)}; add a batch dimension with x.unsqueeze(0) for a single image"
            )
        if not x.is_floating_point():
            raise ValueError(f"LocalResponseNorm needs floating-point input, got {x.dtype} (its output would be "
                             "rounded to whole numbers): convert with x.float()")
        if x.shape[1] % self.groups:
            raise ValueError(f"LocalResponseNorm with groups={self.groups} splits the channels into {self.groups} "
                             f"towers of equal width, but got {x.shape[1]} channels (input shape {tuple(x.shape)})")
        lo, hi = self.size // 2, (self.size - 1) // 2
        # sums of squares in fp32 for bf16/fp16 inputs (under autocast), else in x's own precision
        xf = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
        sq = xf * xf
        if self.across == "channels":
            # window sums over channels c-lo .. c+hi (zeros beyond the ends of c's group) as a sum
            # of `size` shifted slices: exact, and much faster on a CPU than pooling over a channel
            # axis. Each group is a batch entry of its own, so no window crosses a group's border.
            B, C = sq.shape[:2]
            towers = sq.reshape(B * self.groups, C // self.groups, *sq.shape[2:])
            padded, n = F.pad(towers, (0, 0, 0, 0, lo, hi)), C // self.groups
            sum_sq = sum(padded[:, i:i + n] for i in range(self.size)).reshape(sq.shape)
        else:
            sum_sq = F.avg_pool2d(F.pad(sq, (lo, hi, lo, hi)), self.size, stride=1) * self.num_terms
        # alpha' = alpha / n for "pytorch", alpha for "paper"
        alpha = self.alpha / self.num_terms if self.convention == "pytorch" else self.alpha
        return (xf / (self.k + alpha * sum_sq).pow(self.beta)).to(x.dtype)

    def extra_repr(self) -> str:
        return (
            f"{self.size}, alpha={self.alpha:g}, beta={self.beta:g}, k={self.k:g}, "
            f"convention={self.convention!r}, across={self.across!r}"
            + (f", groups={self.groups}" if self.groups > 1 else "")
        )
