"""Chapter 2's checks accept the reference answers and reject the stub and the usual mistakes."""
import pytest
import torch
import torch.nn.functional as F

import d2lnets as d2l
from d2lnets import augment
from d2lnets.checks.alexnet import check_dropout, check_lrn, check_pca_lighting, check_rgb_pca
from d2lnets.checks.hints import named

pytestmark = pytest.mark.usefixtures("one_thread")


def _stub(*args, **kwargs):
    raise NotImplementedError


# --- LRN -------------------------------------------------------------------------------------

def make_lrn(divide_alpha=True, power=True, across="channels", lo=None, hi=None, count_clipped=False):
    """Inter-channel LRN from the formula, with switches for the catalogued mistakes."""
    def lrn(X, size=5, alpha=1e-4, beta=0.75, k=2.0):
        a, b = (size // 2 if lo is None else lo(size)), ((size - 1) // 2 if hi is None else hi(size))
        sq = X * X
        if across == "channels":
            C = X.shape[1]
            sums = torch.stack([sq[:, max(0, c - a):c + b + 1].sum(1) for c in range(C)], 1)
            counts = torch.tensor([min(C, c + b + 1) - max(0, c - a) for c in range(C)],
                                  dtype=X.dtype).view(1, -1, 1, 1)
        else:  # a size x size patch of the same channel
            sums = F.avg_pool2d(F.pad(sq, (a, b, a, b)), size, stride=1) * size * size
            counts = size
        n = counts if count_clipped else size
        scale = k + (alpha / n if divide_alpha else alpha) * sums
        return X / scale ** beta if power else X / scale
    return lrn


def test_lrn_check_accepts_the_formula():
    check_lrn(make_lrn())


@pytest.mark.parametrize("delegating, call", [
    (lambda X, size=5, alpha=1e-4, beta=0.75, k=2.0: torch.nn.LocalResponseNorm(size, alpha, beta, k)(X),
     "runs a torch.nn.LocalResponseNorm"),
    (lambda X, size=5, alpha=1e-4, beta=0.75, k=2.0: F.local_response_norm(X, size, alpha, beta, k),
     "calls torch.nn.functional.local_response_norm"),
    (lambda X, size=5, alpha=1e-4, beta=0.75, k=2.0: d2l.LocalResponseNorm(size, alpha, beta, k)(X),
     r"runs a d2lnets[.\w]*\.layers\.LocalResponseNorm \(d2l.LocalResponseNorm\)"),
])
def test_lrn_check_rejects_delegation(delegating, call):
    with pytest.raises(AssertionError, match=f"your lrn {call}, which is the thing this exercise asks you to write"):
        check_lrn(delegating)


@pytest.mark.parametrize("wrong, message, hint", [
    (_stub, "not written yet", None),
    (make_lrn(divide_alpha=False), r"paper's / TensorFlow's convention.*Divide alpha by size", 3),
    (make_lrn(power=False), "the power beta is missing", 3),
    (make_lrn(across="space"), "spatial neighbours", 1),
    (make_lrn(lo=lambda s: (s - 1) // 2, hi=lambda s: s // 2), "off-centre", 2),   # right for odd sizes only
    (make_lrn(lo=lambda s: 0, hi=lambda s: s - 1), "off-centre", 2),               # window starts at c
    (make_lrn(count_clipped=True), "clipped", 2),
    (lambda X, size=5, alpha=1e-4, beta=0.75, k=2.0: X, "off-centre|differs", None),   # identity
    (lambda X, size=5, alpha=1e-4, beta=0.75, k=2.0: X[:, :1], "shape", None),
    (lambda X, size=5, alpha=1e-4, beta=0.75, k=1.0: make_lrn()(X, size, alpha, beta, k), "defaults", 3),
])
def test_lrn_check_rejects(wrong, message, hint):
    with pytest.raises(AssertionError, match=message) as failure:
        check_lrn(wrong)
    assert hint is None or named(str(failure.value)) == ("02", "1", hint)


# --- dropout ---------------------------------------------------------------------------------

def make_dropout(scale=True, eval_drops=False, keep_prob_swapped=False, multiply=False, inplace=False,
                 p1_special=True, fixed_mask=False):
    def dropout_layer(X, p, training=True):
        if not training and not eval_drops:
            return X
        if p1_special and p == 1:
            return torch.zeros_like(X)
        if fixed_mask:
            g = torch.Generator().manual_seed(0)
            mask = (torch.rand(X.shape, generator=g) > p).float()
        else:
            mask = (torch.rand(X.shape) > (1 - p if keep_prob_swapped else p)).float()
        if inplace:
            X.mul_(mask)
            return X / (1 - p)
        if multiply:
            return mask * X * (1 - p)
        return mask * X / (1.0 - p) if scale else mask * X
    return dropout_layer


def test_dropout_check_accepts_the_book_answer():
    check_dropout(make_dropout())
    check_dropout(lambda X, p, training=True: X * torch.bernoulli(torch.full_like(X, 1 - p)) / (1 - p)
                  if training and p < 1 else (X if not training else torch.zeros_like(X)))
    state = torch.get_rng_state()
    check_dropout(make_dropout())
    assert torch.equal(state, torch.get_rng_state()), "the check must leave the learner's RNG alone"


_helper = F.dropout   # an alias made before the check runs, called from a helper


def _my_dropout(X, p, training=True):
    return _helper(X, p, training)


@pytest.mark.parametrize("delegating, call", [
    (lambda X, p, training=True: F.dropout(X, p, training), "calls torch.nn.functional.dropout"),
    (_my_dropout, "calls torch.nn.functional.dropout"),
    (lambda X, p, training=True: torch.nn.Dropout(p)(X) if training else X, "runs a torch.nn.Dropout"),
    (lambda X, p, training=True: torch.dropout(X, p, training), "calls torch.dropout"),
])
def test_dropout_check_rejects_delegation(delegating, call):
    with pytest.raises(AssertionError, match=f"your dropout_layer {call}, which is the thing"):
        check_dropout(delegating)


@pytest.mark.parametrize("wrong, message, hint", [
    (_stub, "not written yet", None),
    (make_dropout(scale=False), r"forgot the 1/\(1-p\) scaling", 2),
    (make_dropout(eval_drops=True), "training=False", 3),
    (make_dropout(multiply=True), "multiplied the survivors by 1 - p", 2),
    (make_dropout(keep_prob_swapped=True), "probability of DROPPING", 1),
    (make_dropout(inplace=True), "in place", 3),
    (make_dropout(p1_special=False), "NaN", 3),
    (make_dropout(fixed_mask=True), "same elements", 1),
    (lambda X, p, training=True: X, "fraction p", 1),
])
def test_dropout_check_rejects(wrong, message, hint):
    with pytest.raises(AssertionError, match=message) as failure:
        check_dropout(wrong)
    assert hint is None or named(str(failure.value)) == ("02", "2", hint)


# --- PCA lighting ----------------------------------------------------------------------------

def lighting(X, eigvals, eigvecs, alphas):
    return X + (eigvecs @ (alphas * eigvals).T).T[:, :, None, None]


def test_pca_lighting_check_accepts_the_formula():
    check_pca_lighting(lighting)
    check_pca_lighting(lambda X, eigvals, eigvecs, alphas:
                       X + torch.einsum("ci,bi->bc", eigvecs, alphas * eigvals)[:, :, None, None])


def test_pca_lighting_check_rejects_delegation():
    with pytest.raises(AssertionError, match=r"your pca_lighting calls d2lnets[.\w]*\.augment\.pca_lighting, which "):
        check_pca_lighting(lambda X, eigvals, eigvecs, alphas: augment.pca_lighting(X, eigvals, eigvecs, alphas=alphas))


@pytest.mark.parametrize("wrong, message, hint", [
    (_stub, "not written yet", None),
    (lambda X, ev, V, a: X + (V @ ev)[None, :, None, None], "same shift for every image", 2),
    (lambda X, ev, V, a: X * (V @ (a * ev).T).T[:, :, None, None], "multiplied", 3),
    (lambda X, ev, V, a: X * (1 + (V @ (a * ev).T).T[:, :, None, None]), "multiplied", 3),
    (lambda X, ev, V, a: X + (V.T @ (a * ev).T).T[:, :, None, None], "transposed", 2),
    (lambda X, ev, V, a: X + (V @ a.T).T[:, :, None, None], "left out the eigenvalues", 1),
    (lambda X, ev, V, a: X + (V @ (a * ev.sqrt()).T).T[:, :, None, None], "differs", None),
    (lambda X, ev, V, a: X.add_((V @ (a * ev).T).T[:, :, None, None]), "in place", 3),
    (lambda X, ev, V, a: (V @ (a * ev).T).T, "shape", None),
])
def test_pca_lighting_check_rejects(wrong, message, hint):
    with pytest.raises(AssertionError, match=message) as failure:
        check_pca_lighting(wrong)
    assert hint is None or named(str(failure.value)) == ("02", "3b", hint)


# --- the eigen-decomposition behind PCA lighting ---------------------------------------------

def make_rgb_pca(centre="all", rows=False, ascending=False, first_image_only=False, reshape_wrong=False,
                 sqrt=False, inplace=False):
    """The covariance of all pixels' colours and its eigen-decomposition, with switches for the mistakes."""
    def rgb_pca(images):
        if inplace:
            images.clamp_(0, 1)
            images.mul_(1.0)
            images.add_(1e-3)
        X = images[:1] if first_image_only else images
        if centre == "image":
            X = X - X.mean(dim=(2, 3), keepdim=True)
        pixels = X.reshape(3, -1) if reshape_wrong else X.transpose(0, 1).reshape(3, -1)
        if centre == "all":
            pixels = pixels - pixels.mean(dim=1, keepdim=True)
        cov = pixels @ pixels.T / (pixels.shape[1] - 1)
        vals, vecs = torch.linalg.eigh(cov)
        if not ascending:
            vals, vecs = vals.flip(0), vecs.flip(1)
        if sqrt:
            vals = vals.sqrt()
        return vals, (vecs.T if rows else vecs)
    return rgb_pca


def test_rgb_pca_check_accepts_the_reference():
    check_rgb_pca(make_rgb_pca())
    # torch.cov with n rather than n - 1 and with flipped eigenvector signs is as right
    def with_cov(images):
        pixels = images.permute(1, 0, 2, 3).flatten(1)
        vals, vecs = torch.linalg.eigh(torch.cov(pixels, correction=0))
        return vals.flip(0), -vecs.flip(1)
    check_rgb_pca(with_cov)


@pytest.mark.parametrize("delegating, call", [
    (augment.pca_components, r"is d2lnets[.\w]*\.augment\.pca_components"),
    (lambda images: augment.pca_components(images), r"calls d2lnets[.\w]*\.augment\.pca_components"),
    (lambda images: torch.pca_lowrank(images.transpose(0, 1).reshape(3, -1).T, q=3)[1:], "calls torch.pca_lowrank"),
])
def test_rgb_pca_check_rejects_delegation(delegating, call):
    with pytest.raises(AssertionError, match=f"your rgb_pca {call}, which is the thing"):
        check_rgb_pca(delegating)


@pytest.mark.parametrize("wrong, message, hint", [
    (_stub, "not written yet", None),
    (make_rgb_pca(centre=None), "did not subtract the mean colour", 2),
    (make_rgb_pca(rows=True), "ROWS", 3),
    (make_rgb_pca(first_image_only=True), "first image only", 1),
    (make_rgb_pca(ascending=True), "ascending order", 3),
    (make_rgb_pca(reshape_wrong=True), "channel axis is dim 1", 1),
    (make_rgb_pca(centre="image"), "each image's own mean colour", 2),
    (make_rgb_pca(sqrt=True), "standard deviations", 3),
    (make_rgb_pca(inplace=True), "in place", 2),
    (lambda images: make_rgb_pca()(images)[0], "pair", None),
    (lambda images: (torch.ones(3), torch.eye(3)), "differ", None),
    (lambda images: tuple(t.numpy() for t in make_rgb_pca()(images)), "two tensors", None),
    (lambda images: (torch.ones(4), torch.eye(4)), "shape", None),
])
def test_rgb_pca_check_rejects(wrong, message, hint):
    with pytest.raises(AssertionError, match=message) as failure:
        check_rgb_pca(wrong)
    assert hint is None or named(str(failure.value)) == ("02", "3a", hint)
