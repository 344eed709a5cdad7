"""Chapter 2 checks: local response normalisation, inverted dropout, PCA lighting.

The learner writes

- ``lrn(X, size=5, alpha=1e-4, beta=0.75, k=2.0)``: inter-channel LRN in PyTorch's convention,
  equal to ``torch.nn.LocalResponseNorm(size, alpha, beta, k)``;
- ``dropout_layer(X, p, training=True)``: inverted dropout;
- ``rgb_pca(images)``: the eigenvalues (largest first) and eigenvectors (columns) of the 3 x 3
  covariance of the pixel colours of a batch ``[N, 3, H, W]``, centred by the batch's mean colour,
  equal to ``augment.pca_components`` (up to each eigenvector's sign);
- ``pca_lighting(X, eigvals, eigvecs, alphas)``: the paper's PCA colour augmentation with the
  random coefficients ``alphas`` [B, C] given, ``X + (eigvecs @ (alphas * eigvals).T).T[:, :, None, None]``.

Each check says what is wrong, naming the usual mistakes when it recognises one.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..data import augment
from ..models.layers import LocalResponseNorm
from ._forbid import forbids
from ._util import call, expect
from .hints import see

__all__ = ["check_dropout", "check_lrn", "check_pca_lighting", "check_rgb_pca"]


def _close(a: Tensor, b: Tensor, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    return isinstance(a, Tensor) and a.shape == b.shape and torch.allclose(a.double(), b.double(), rtol=rtol, atol=atol)


def _tensor_out(out, X: Tensor, name: str) -> Tensor:
    assert isinstance(out, Tensor), f"{name} must return a tensor, got {type(out).__name__}"
    assert out.shape == X.shape, (
        f"{name} must return a tensor of the input's shape {tuple(X.shape)}, got {tuple(out.shape)}")
    return out


# ----------------------------------------------------------------------------------------------
# local response normalisation
# ----------------------------------------------------------------------------------------------
def _lrn_window(c: int, size: int, C: int) -> set[int]:
    """Output channels that an input change at channel ``c`` reaches in torch's LRN."""
    lo, hi = size // 2, (size - 1) // 2  # output j sums the squares of channels j - lo .. j + hi
    return set(range(max(0, c - hi), min(C - 1, c + lo) + 1))


@forbids(LocalResponseNorm, "torch.nn.functional.local_response_norm", "torch.nn.LocalResponseNorm",
         "torch.nn.CrossMapLRN2d",
         instead="write it with tensor operations: square X, sum the squares over each channel's window "
                 "(slices of dim 1) and divide")
def check_lrn(fn: Callable) -> None:
    """``fn(X, size=5, alpha=1e-4, beta=0.75, k=2.0)`` must equal ``torch.nn.LocalResponseNorm``."""
    expect(fn, "check_lrn", "lrn(X, size=5, alpha=1e-4, beta=0.75, k=2.0)", "function")
    name = "lrn"
    gen = torch.Generator().manual_seed(0)

    # 1. structure: a change at one channel of one pixel may only move that pixel's outputs, and
    #    only in the channels whose window holds it.
    C = 9
    X = torch.rand(1, C, 3, 3, generator=gen) + 0.5
    for size in (5, 4, 2):
        base = _tensor_out(call(fn, name, X.clone(), size, 1.0, 0.75, 2.0), X, name)
        for c in (0, 4, C - 1):
            X2 = X.clone()
            X2[0, c, 1, 1] += 3.0
            moved = (_tensor_out(call(fn, name, X2, size, 1.0, 0.75, 2.0), X, name) - base).abs() > 1e-6
            other_pixels = moved.clone()
            other_pixels[..., 1, 1] = False
            assert not other_pixels.any(), (
                "changing one activation changed outputs at OTHER pixels: your window runs over spatial "
                "neighbours (intra-channel LRN). AlexNet's LRN is inter-channel: the sum runs over the "
                "`size` neighbouring CHANNELS at the same pixel, X[:, j, h, w] for j near c" + see("check_lrn", 1))
            got = {j for j in range(C) if moved[0, j, 1, 1]}
            want = _lrn_window(c, size, C)
            assert got == want, (
                f"with size={size} and {C} channels, a change in channel {c} should reach output channels "
                f"{sorted(want)} but reached {sorted(got)}: the window is off-centre or not clipped. "
                f"PyTorch's window for output channel c runs from c - size//2 to c + (size-1)//2 (for size=4: "
                f"c-2 .. c+1), clipped at the first and last channel (missing neighbours count as zero)"
                + see("check_lrn", 2))

    # 2. values, against torch, on shapes with edges, windows wider than the channels, even sizes
    cases = [((2, 7, 3, 4), 5), ((1, 3, 2, 2), 5), ((1, 8, 2, 3), 4), ((2, 6, 2, 2), 2),
             ((1, 5, 2, 2), 1), ((1, 16, 2, 2), 3)]
    for shape, size in cases:
        X = torch.randn(shape, generator=gen) * 3
        for alpha, beta, k in ((1.0, 0.75, 2.0), (0.3, 0.5, 1.0)):
            out = _tensor_out(call(fn, name, X.clone(), size, alpha, beta, k), X, name)
            want = nn.LocalResponseNorm(size, alpha, beta, k)(X)
            if _close(out, want):
                continue
            setting = f"shape {tuple(shape)}, size={size}, alpha={alpha}, beta={beta}, k={k}"
            assert not _close(out, nn.LocalResponseNorm(size, alpha * size, beta, k)(X)), (
                f"{setting}: you used the paper's / TensorFlow's convention, alpha times the plain sum of "
                f"squares. PyTorch (and Caffe) divide alpha by the window size n: "
                f"b = a / (k + alpha/n * sum a^2) ** beta, so the paper's alpha=1e-4 is alpha=5e-4 in torch. "
                f"Divide alpha by size" + see("check_lrn", 3))
            sq = X * X
            sums = torch.stack([sq[:, max(0, c - size // 2):c + (size - 1) // 2 + 1].sum(1)
                                for c in range(shape[1])], 1)
            assert not _close(out, X / (k + alpha / size * sums)), (
                f"{setting}: the power beta is missing: divide by (k + alpha/size * sum) ** beta, not by the "
                f"bracket itself" + see("check_lrn", 3))
            counts = torch.tensor([min(shape[1], c + (size - 1) // 2 + 1) - max(0, c - size // 2)
                                   for c in range(shape[1])]).view(1, -1, 1, 1)
            assert not _close(out, (X / (k + alpha / counts * sums) ** beta)), (
                f"{setting}: at the first and last channels you divided alpha by the number of channels "
                f"actually in the (clipped) window; torch always divides by size, the missing neighbours "
                f"just add zero to the sum" + see("check_lrn", 2))
            diff = (out.double() - want.double()).abs().max().item()
            raise AssertionError(
                f"{setting}: your output differs from torch.nn.LocalResponseNorm by up to {diff:.3g}. "
                "Compute b = a / (k + alpha/size * sum of a^2 over channels c - size//2 .. c + (size-1)//2) "
                "** beta, clipped at the first and last channel" + see("check_lrn", 1))

    # 3. the defaults are the paper's constants in PyTorch's convention... except alpha (see chapter)
    X = torch.randn(2, 8, 3, 3, generator=gen) * 30
    out = _tensor_out(call(fn, name, X.clone()), X, name)
    assert _close(out, nn.LocalResponseNorm(5, 1e-4, 0.75, 2.0)(X)), (
        "called as lrn(X) your function should use the defaults size=5, alpha=1e-4, beta=0.75, k=2.0"
        + see("check_lrn", 3))


# ----------------------------------------------------------------------------------------------
# dropout
# ----------------------------------------------------------------------------------------------
@forbids(*[f"torch.nn.functional.{f}" for f in ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
                                                "feature_alpha_dropout")],
         *[f"torch.{f}" for f in ("dropout", "dropout_", "feature_dropout", "alpha_dropout", "native_dropout")],
         "torch.nn.Dropout", "torch.nn.Dropout1d", "torch.nn.Dropout2d", "torch.nn.Dropout3d", "torch.nn.AlphaDropout",
         "torch.nn.FeatureAlphaDropout", "torch.ops.aten.dropout", "torch.ops.aten.native_dropout",
         instead="write it with tensor operations (torch.rand, a comparison, multiplication and division)")
def check_dropout(fn: Callable) -> None:
    """``fn(X, p, training=True)``: inverted dropout (zero with probability p, scale survivors by 1/(1-p))."""
    expect(fn, "check_dropout", "dropout_layer(X, p, training=True)", "function")
    name = "dropout_layer"
    with torch.random.fork_rng(devices=[]):  # leave the learner's random state as it was
        torch.manual_seed(0)
        X = torch.rand(200, 500) + 0.5          # no zeros, so zeros in the output were dropped
        keep = X.clone()

        out = _tensor_out(call(fn, name, X, 0.5, training=False), X, name)
        assert torch.equal(X, keep), "dropout_layer changed its input in place; return a new tensor" + see(
            "check_dropout", 3)
        assert torch.equal(out, X), (
            "with training=False (evaluation) dropout must return X unchanged: it only drops while "
            "training, and inverted dropout needs no rescaling at test time" + see("check_dropout", 3))

        for p in (0.2, 0.5, 0.8):
            out = _tensor_out(call(fn, name, X, p), X, name)
            assert torch.equal(X, keep), "dropout_layer changed its input in place; return a new tensor" + see(
                "check_dropout", 3)
            dropped = (out == 0).float().mean().item()
            assert abs(dropped - p) < 0.01 or abs(dropped - (1 - p)) >= 0.01, (
                f"with p={p} you dropped {dropped:.1%} of the elements, about 1 - p: p is the probability "
                f"of DROPPING an element (zero it where torch.rand(X.shape) < p, keep it where it is > p)"
                + see("check_dropout", 1))
            assert abs(dropped - p) < 0.01, (
                f"with p={p} a fraction p of the elements must be zeroed, each one independently; you zeroed "
                f"{dropped:.1%}" + see("check_dropout", 1))
            kept = out != 0
            survivors, originals = out[kept], X[kept]
            if torch.allclose(survivors, originals):
                raise AssertionError(
                    f"the elements you keep are unchanged: you forgot the 1/(1-p) scaling. Inverted dropout "
                    f"divides the survivors by 1 - p (here {1 - p:g}) so that the expected output equals X, "
                    "and the network needs no change at test time" + see("check_dropout", 2))
            assert not torch.allclose(survivors, originals * (1 - p)), (
                f"you multiplied the survivors by 1 - p = {1 - p:g}; divide by it instead, so that E[output] = X"
                + see("check_dropout", 2))
            assert torch.allclose(survivors, originals / (1 - p), rtol=1e-5, atol=1e-6), (
                f"the elements you keep must be exactly X / (1 - p) = X / {1 - p:g}" + see("check_dropout", 2))

        assert torch.equal(_tensor_out(call(fn, name, X, 0.0), X, name), X), (
            "with p=0 nothing is dropped: return X" + see("check_dropout", 3))
        out = _tensor_out(call(fn, name, X, 1.0), X, name)
        assert not torch.isnan(out).any(), (
            "with p=1 the output has NaNs: X / (1 - p) divides by zero. Treat p=1 apart: return torch.zeros_like(X)"
            + see("check_dropout", 3))
        assert torch.equal(out, torch.zeros_like(X)), (
            "with p=1 every element is dropped: return torch.zeros_like(X)" + see("check_dropout", 3))

        assert not torch.equal(call(fn, name, X, 0.5), call(fn, name, X, 0.5)), (
            "two calls dropped the same elements: draw a new random mask on every call" + see("check_dropout", 1))
        # the expectation over many draws is X
        x = torch.linspace(0.5, 2.0, 8)
        samples = torch.stack([call(fn, name, x.clone(), 0.5) for _ in range(4000)])
        mean = samples.mean(0)
        assert torch.allclose(mean, x, rtol=0.06), (
            f"averaged over 4000 draws your output should equal X (that is what the 1/(1-p) is for); "
            f"got {mean.tolist()} for X = {x.tolist()}" + see("check_dropout", 2))


# ----------------------------------------------------------------------------------------------
# PCA lighting
# ----------------------------------------------------------------------------------------------
def _test_components(C: int, gen: torch.Generator) -> tuple[Tensor, Tensor]:
    """Distinct eigenvalues and an orthogonal but NOT symmetric eigenvector matrix."""
    Q, _ = torch.linalg.qr(torch.randn(C, C, generator=gen))
    eigvals = torch.linspace(0.5, 0.1, C) if C > 1 else torch.tensor([0.3])
    return eigvals, Q


@forbids(augment.pca_lighting, augment.Augment,
         instead="add the shift yourself with a matrix product and broadcasting")
def check_pca_lighting(fn: Callable) -> None:
    """``fn(X, eigvals, eigvecs, alphas)`` must add ``eigvecs @ (alphas[b] * eigvals)`` to every pixel of image b."""
    expect(fn, "check_pca_lighting", "pca_lighting(X, eigvals, eigvecs, alphas)", "function")
    name = "pca_lighting"
    gen = torch.Generator().manual_seed(0)
    for B, C, H, W in ((4, 3, 5, 6), (3, 1, 4, 4), (2, 4, 3, 2)):
        X = torch.rand(B, C, H, W, generator=gen)
        eigvals, eigvecs = _test_components(C, gen)
        seed = int(torch.randint(0, 2**31 - 1, (1,), generator=gen))
        alphas = augment.lighting_alphas(B, C, 0.1, torch.Generator().manual_seed(seed))
        want = augment.pca_lighting(X, eigvals, eigvecs, 0.1, torch.Generator().manual_seed(seed))
        keep = X.clone()
        out = _tensor_out(call(fn, name, X, eigvals.clone(), eigvecs.clone(), alphas.clone()), X, name)
        assert torch.equal(X, keep), (
            "pca_lighting changed X in place; return a new tensor" + see("check_pca_lighting", 3))
        if _close(out, want, rtol=1e-5, atol=1e-6):
            continue
        where = f"for images of shape {(B, C, H, W)}"
        shift = (alphas * eigvals) @ eigvecs.T                    # [B, C], row b = eigvecs @ (a_b * λ)
        assert not _close(out, X + (eigvecs @ eigvals)[None, :, None, None]), (
            f"{where}: you added eigvecs @ eigvals, the same shift for every image. Each image b gets "
            "its own random mix: eigvecs @ (alphas[b] * eigvals), with alphas[b] drawn per image"
            + see("check_pca_lighting", 2))
        assert not _close(out, X + (alphas @ eigvecs.T)[:, :, None, None]), (
            f"{where}: you left out the eigenvalues: weight each alpha by its eigenvalue, "
            "eigvecs @ (alphas[b] * eigvals), so that directions with more variance get larger shifts"
            + see("check_pca_lighting", 1))
        for wrong in (X * shift[:, :, None, None], X * (1 + shift[:, :, None, None])):
            assert not _close(out, wrong), (
                f"{where}: you multiplied the pixels by the shift; the paper ADDS the vector "
                "eigvecs @ (alphas[b] * eigvals) to every pixel of image b: X + shift[:, :, None, None]"
                + see("check_pca_lighting", 3))
        assert C == 1 or not _close(out, X + ((alphas * eigvals) @ eigvecs)[:, :, None, None]), (
            f"{where}: you used the transposed eigenvector matrix. The eigenvectors are the COLUMNS of "
            "eigvecs (eigvecs[:, i] belongs to eigvals[i], as torch.linalg.eigh returns them), so the shift "
            "of image b is eigvecs @ (alphas[b] * eigvals), i.e. (alphas * eigvals) @ eigvecs.T for the batch"
            + see("check_pca_lighting", 2))
        diff = (out.double() - want.double()).abs().max().item()
        raise AssertionError(
            f"{where}: your output differs from X + eigvecs @ (alphas[b] * eigvals) by up to {diff:.3g}; "
            "check the formula: one C-vector per image, added to every pixel of it" + see("check_pca_lighting", 1))


# ----------------------------------------------------------------------------------------------
# the eigen-decomposition behind PCA lighting
# ----------------------------------------------------------------------------------------------
def _pca_test_images(gen: torch.Generator, N: int = 6, H: int = 7, W: int = 5) -> Tensor:
    """Colour images in [0, 1] whose colours are correlated, whose mean colour is far from zero
    and differs from image to image, so that every catalogued mistake gives other components."""
    mix = torch.tensor([[0.20, 0.05, 0.02], [0.10, 0.12, 0.00], [0.05, -0.04, 0.06]])
    noise = torch.einsum("ck,nkhw->nchw", mix, torch.randn(N, 3, H, W, generator=gen))
    tint = 0.15 * torch.randn(N, 3, 1, 1, generator=gen)          # each image its own mean colour
    return (torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1) + tint + noise).clamp(0, 1)


def _components(pixels: Tensor, centre: bool = True) -> tuple[Tensor, Tensor]:
    """Eigenvalues (largest first) and eigenvectors (columns) of the 3 x 3 second moments of [3, n]."""
    pixels = pixels.double()
    if centre:
        pixels = pixels - pixels.mean(dim=1, keepdim=True)
    vals, vecs = torch.linalg.eigh(pixels @ pixels.T / (pixels.shape[1] - 1))
    return vals.flip(0), vecs.flip(1)


def _same_components(vals: Tensor, vecs: Tensor, ref_vals: Tensor, ref_vecs: Tensor, rtol: float = 2e-3) -> bool:
    """Equal eigenvalues, and equal eigenvectors up to the sign of each column."""
    if vals.shape != ref_vals.shape or vecs.shape != ref_vecs.shape:
        return False
    vals, vecs, ref_vals, ref_vecs = (t.double() for t in (vals, vecs, ref_vals, ref_vecs))
    if not torch.allclose(vals, ref_vals, rtol=rtol, atol=1e-7):
        return False
    return bool(((vecs * ref_vecs).sum(dim=0).abs() - 1).abs().max() < 1e-3)


@forbids(augment.pca_components, augment._pixel_batches, "torch.pca_lowrank", "sklearn.decomposition",
         instead="form the 3 x 3 covariance of the pixels' colours yourself and take torch.linalg.eigh of it")
def check_rgb_pca(fn: Callable) -> None:
    """``fn(images)`` for ``images`` [N, 3, H, W] in [0, 1] must return ``(eigvals [3], eigvecs [3, 3])``:
    the eigen-decomposition of the covariance of all pixels' colours, as ``augment.pca_components``."""
    expect(fn, "check_rgb_pca", "rgb_pca(images)", "function")
    name = "rgb_pca"
    gen = torch.Generator().manual_seed(0)
    for N, H, W in ((6, 16, 16), (4, 12, 21)):   # over 1,000 pixels: n or n - 1 in the covariance both pass
        images = _pca_test_images(gen, N, H, W)
        keep = images.clone()
        out = call(fn, name, images)
        assert torch.equal(images, keep), "rgb_pca changed the images in place; compute on a copy" + see(
            "check_rgb_pca", 2)
        assert isinstance(out, (tuple, list)) and len(out) == 2, (
            f"rgb_pca must return the pair (eigvals, eigvecs), got {type(out).__name__}"
            + (f" of length {len(out)}" if isinstance(out, (tuple, list)) else ""))
        vals, vecs = out
        assert isinstance(vals, Tensor) and isinstance(vecs, Tensor), (
            f"rgb_pca must return two tensors, got {type(vals).__name__} and {type(vecs).__name__}")
        assert vals.shape == (3,) and vecs.shape == (3, 3), (
            f"for RGB images eigvals must have shape (3,) and eigvecs (3, 3), got {tuple(vals.shape)} and "
            f"{tuple(vecs.shape)}: one covariance of the 3 colour channels over ALL pixels of all images")
        ref_vals, ref_vecs = augment.pca_components(images)
        if _same_components(vals, vecs, ref_vals, ref_vecs):
            continue
        where = f"for {N} images of {H}x{W} pixels"
        all_pixels = images.transpose(0, 1).reshape(3, -1)                     # [3, N*H*W]
        if _same_components(vals.flip(0), vecs.flip(1), ref_vals, ref_vecs):
            raise AssertionError(
                f"{where}: your components are in ascending order, as torch.linalg.eigh returns them. Give "
                "the largest eigenvalue first (eigvals.flip(0), eigvecs.flip(1)): the first component is the "
                "direction in which the colours vary most" + see("check_rgb_pca", 3))
        assert not _same_components(vals, vecs.T, ref_vals, ref_vecs), (
            f"{where}: your eigenvalues are right but you returned the eigenvectors as ROWS. Keep them as "
            "the COLUMNS of eigvecs, eigvecs[:, i] for eigvals[i], as torch.linalg.eigh returns them"
            + see("check_rgb_pca", 3))
        assert not _same_components(vals, vecs, *_components(all_pixels, centre=False)), (
            f"{where}: you did not subtract the mean colour: pixels @ pixels.T / n is the matrix of second "
            "moments, not the covariance. Subtract the mean RGB value of all pixels first" + see("check_rgb_pca", 2))
        assert not _same_components(vals, vecs, *_components(images[0].reshape(3, -1))), (
            f"{where}: you computed the covariance over the pixels of the first image only. The paper's PCA is "
            "over the pixels of the whole training set: every pixel of every image is one RGB sample"
            + see("check_rgb_pca", 1))
        assert not _same_components(vals, vecs, *_components(images.reshape(3, -1))), (
            f"{where}: images.reshape(3, -1) mixes channels of different images: the channel axis is dim 1, "
            "not dim 0. Move it first: images.transpose(0, 1).reshape(3, -1) gives one column per pixel"
            + see("check_rgb_pca", 1))
        per_image = images - images.mean(dim=(2, 3), keepdim=True)
        assert not _same_components(vals, vecs, *_components(per_image.transpose(0, 1).reshape(3, -1), False)), (
            f"{where}: you subtracted each image's own mean colour; centre by the mean colour of ALL pixels "
            "of all images, so that differences of tint between images count as colour variation"
            + see("check_rgb_pca", 2))
        if torch.allclose(vals.double(), ref_vals.double().sqrt(), rtol=2e-3):
            raise AssertionError(f"{where}: your eigenvalues are standard deviations (their square roots); "
                                 "return the eigenvalues of the covariance itself" + see("check_rgb_pca", 3))
        raise AssertionError(
            f"{where}: your components differ from those of the covariance of all pixels' colours (eigenvalues "
            f"{[round(v, 5) for v in vals.tolist()]}). Make a [3, N*H*W] matrix of the pixels, subtract its mean "
            "colour, form the 3 x 3 covariance and take torch.linalg.eigh of it, largest eigenvalue first"
            + see("check_rgb_pca", 1))
