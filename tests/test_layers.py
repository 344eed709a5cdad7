"""LocalResponseNorm against torch and against a loop-by-loop reading of the formula."""
import itertools

import pytest
import torch
from torch import nn

from d2lnets.models.layers import LocalResponseNorm

pytestmark = pytest.mark.usefixtures("one_thread")


def naive_lrn(x, size, alpha, beta, k, convention, across):
    """b = a / (k + alpha' * sum a^2)^beta, one element at a time, windows clipped at the borders."""
    n_terms = size if across == "channels" else size * size
    a_eff = alpha / n_terms if convention == "pytorch" else alpha
    lo, hi = size // 2, (size - 1) // 2
    N, C, H, W = x.shape
    out = torch.empty_like(x)
    for n, c, h, w in itertools.product(range(N), range(C), range(H), range(W)):
        s = 0.0
        if across == "channels":
            for j in range(max(0, c - lo), min(C - 1, c + hi) + 1):
                s += float(x[n, j, h, w]) ** 2
        else:
            for i in range(max(0, h - lo), min(H - 1, h + hi) + 1):
                for j in range(max(0, w - lo), min(W - 1, w + hi) + 1):
                    s += float(x[n, c, i, j]) ** 2
        out[n, c, h, w] = float(x[n, c, h, w]) / (k + a_eff * s) ** beta
    return out


SHAPES = [(1, 1, 3, 3), (2, 2, 3, 4), (1, 3, 4, 3), (2, 7, 3, 2), (1, 8, 2, 5)]


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 6, 9])
@pytest.mark.parametrize("shape", SHAPES)
def test_matches_torch_across_channels(size, shape):
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64) * 3
    for alpha, beta, k in [(1e-4, 0.75, 1.0), (0.5, 0.75, 2.0), (2.0, 0.5, 1.0)]:
        ours = LocalResponseNorm(size, alpha, beta, k)(x)
        ref = nn.LocalResponseNorm(size, alpha, beta, k)(x)
        torch.testing.assert_close(ours, ref, atol=1e-6, rtol=0)
    # float32 too, large activations so that the normalisation matters
    x32 = (x * 10).float()
    torch.testing.assert_close(LocalResponseNorm(size, 1e-2, 0.75, 2.0)(x32),
                               nn.LocalResponseNorm(size, 1e-2, 0.75, 2.0)(x32), atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("convention", ["pytorch", "paper"])
@pytest.mark.parametrize("across", ["channels", "space"])
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5])
def test_matches_naive_loops(convention, across, size):
    torch.manual_seed(1)
    x = torch.randn(2, 5, 4, 3, dtype=torch.float64) * 4
    alpha, beta, k = 0.3, 0.75, 2.0
    ours = LocalResponseNorm(size, alpha, beta, k, convention=convention, across=across)(x)
    torch.testing.assert_close(ours, naive_lrn(x, size, alpha, beta, k, convention, across), atol=1e-10, rtol=0)


def test_space_window_at_edges_with_even_size():
    # a single nonzero pixel: with size 2 the window of (h, w) is rows h-1..h, cols w-1..w
    x = torch.zeros(1, 1, 3, 3)
    x[0, 0, 1, 1] = 10.0
    y = LocalResponseNorm(2, alpha=1.0, beta=1.0, k=1.0, convention="paper", across="space")(x)
    assert y[0, 0, 1, 1] == pytest.approx(10.0 / 101.0)
    torch.testing.assert_close(y, naive_lrn(x, 2, 1.0, 1.0, 1.0, "paper", "space"))


def test_paper_setting_maps_to_pytorch_and_tensorflow():
    torch.manual_seed(2)
    x = torch.randn(2, 16, 5, 5, dtype=torch.float64) * 20
    paper = LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2, convention="paper")(x)
    torch.testing.assert_close(paper, LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2)(x), atol=1e-6, rtol=0)
    torch.testing.assert_close(paper, nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2)(x), atol=1e-6, rtol=0)
    # TensorFlow: depth_radius=2, bias=2, alpha=1e-4, beta=0.75 -> sum over [c-2, c+2], alpha unscaled
    sq = torch.nn.functional.pad(x * x, (0, 0, 0, 0, 2, 2))
    tf_sum = sum(sq[:, i:i + 16] for i in range(5))
    torch.testing.assert_close(paper, x / (2 + 1e-4 * tf_sum) ** 0.75, atol=1e-6, rtol=0)
    # copying the paper's alpha into torch is a different (weaker) layer
    assert not torch.allclose(paper, nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2)(x), atol=1e-4)


def test_gradients_flow():
    x = torch.randn(1, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    layer = LocalResponseNorm(3, 0.5, 0.75, 1.0, across="space")
    assert torch.autograd.gradcheck(layer, (x,))


def test_extra_repr():
    r = repr(LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2, convention="paper"))
    assert r == "LocalResponseNorm(5, alpha=0.0001, beta=0.75, k=2, convention='paper', across='channels')"
    assert "across='space'" in repr(LocalResponseNorm(3, across="space"))


@pytest.mark.parametrize("kwargs, match", [
    (dict(size=0), "size must be a positive integer"),
    (dict(size=2.5), "size must be a positive integer"),
    (dict(size=5, convention="tensorflow"), "convention must be 'pytorch'"),
    (dict(size=5, across="width"), "across must be 'channels'"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LocalResponseNorm(**kwargs)


def test_wrong_input_dims():
    with pytest.raises(ValueError, match=r"\[batch, channels, height, width\].*unsqueeze"):
        LocalResponseNorm(5)(torch.randn(3, 8, 8))
