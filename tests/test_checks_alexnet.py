"""Chapter 2's checks accept the reference answers and reject the stub and the usual mistakes."""
import pytest
import torch
import torch.nn.functional as F

from d2lnets import augment
from d2lnets.checks.alexnet import check_dropout, check_lrn, check_pca_lighting, check_rgb_pca

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


def test_lrn_check_accepts_the_formula_and_torch():
    check_lrn(make_lrn())
    check_lrn(lambda X, size=5, alpha=1e-4, beta=0.75, k=2.0: torch.nn.LocalResponseNorm(size, alpha, beta, k)(X))


@pytest.mark.parametrize("wrong, message", [
    (_stub, "not written yet"),
    (make_lrn(divide_alpha=False), r"paper's / TensorFlow's convention.*Divide alpha by size"),
    (make_lrn(power=False), "the power beta is missing"),
    (make_lrn(across="space"), "spatial neighbours"),
    (make_lrn(lo=lambda s: (s - 1) // 2, hi=lambda s: s // 2), "off-centre"),   # right for odd sizes only
    (make_lrn(lo=lambda s: 0, hi=lambda s: s - 1), "off-centre"),               # window starts at c
    (make_lrn(count_clipped=True), "clipped"),
    (lambda X, size=5, alpha=1e-4, beta=0.75, k=2.0: X, "off-centre|differs"),   # identity
    (lambda X, size=5, alpha=1e-4, beta=0.75, k=2.0: X[:, :1], "shape"),
    (lambda X, size=5, alpha=1e-4, beta=0.75, k=1.0:
        torch.nn.LocalResponseNorm(size, alpha, beta, k)(X), "defaults"),          # wrong default k
])
def test_lrn_check_rejects(wrong, message):
    with pytest.raises(AssertionError, match=message):
        check_lrn(wrong)


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


def test_dropout_check_accepts_the_book_answer_and_torch():
    check_dropout(make_dropout())
    check_dropout(lambda X, p, training=True: F.dropout(X, p, training))
    state = torch.get_rng_state()
    check_dropout(make_dropout())
    assert torch.equal(state, torch.get_rng_state()), "the check must leave the learner's RNG alone"


@pytest.mark.parametrize("wrong, message", [
    (_stub, "not written yet"),
    (make_dropout(scale=False), r"forgot the 1/\(1-p\) scaling"),
    (make_dropout(eval_drops=True), "training=False"),
    (make_dropout(multiply=True), "multiplied the survivors by 1 - p"),
    (make_dropout(keep_prob_swapped=True), "probability of DROPPING"),
    (make_dropout(inplace=True), "in place"),
    (make_dropout(p1_special=False), "NaN"),
    (make_dropout(fixed_mask=True), "same elements"),
    (lambda X, p, training=True: X, "fraction p"),
])
def test_dropout_check_rejects(wrong, message):
    with pytest.raises(AssertionError, match=message):
        check_dropout(wrong)


# --- PCA lighting ----------------------------------------------------------------------------

def lighting(X, eigvals, eigvecs, alphas):
    return X + (eigvecs @ (alphas * eigvals).T).T[:, :, None, None]


def test_pca_lighting_check_accepts_the_formula():
    check_pca_lighting(lighting)
    check_pca_lighting(lambda X, eigvals, eigvecs, alphas:
                       X + torch.einsum("ci,bi->bc", eigvecs, alphas * eigvals)[:, :, None, None])


@pytest.mark.parametrize("wrong, message", [
    (_stub, "not written yet"),
    (lambda X, ev, V, a: X + (V @ ev)[None, :, None, None], "same shift for every image"),
    (lambda X, ev, V, a: X * (V @ (a * ev).T).T[:, :, None, None], "multiplied"),
    (lambda X, ev, V, a: X * (1 + (V @ (a * ev).T).T[:, :, None, None]), "multiplied"),
    (lambda X, ev, V, a: X + (V.T @ (a * ev).T).T[:, :, None, None], "transposed"),
    (lambda X, ev, V, a: X + (V @ a.T).T[:, :, None, None], "left out the eigenvalues"),
    (lambda X, ev, V, a: X + (V @ (a * ev.sqrt()).T).T[:, :, None, None], "differs"),
    (lambda X, ev, V, a: X.add_((V @ (a * ev).T).T[:, :, None, None]), "in place"),
    (lambda X, ev, V, a: (V @ (a * ev).T).T, "shape"),
])
def test_pca_lighting_check_rejects(wrong, message):
    with pytest.raises(AssertionError, match=message):
        check_pca_lighting(wrong)


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


def test_rgb_pca_check_accepts_the_reference_and_the_package():
    check_rgb_pca(make_rgb_pca())
    check_rgb_pca(augment.pca_components)
    # torch.cov with n rather than n - 1 and with flipped eigenvector signs is as right
    def with_cov(images):
        pixels = images.permute(1, 0, 2, 3).flatten(1)
        vals, vecs = torch.linalg.eigh(torch.cov(pixels, correction=0))
        return vals.flip(0), -vecs.flip(1)
    check_rgb_pca(with_cov)


@pytest.mark.parametrize("wrong, message", [
    (_stub, "not written yet"),
    (make_rgb_pca(centre=None), "did not subtract the mean colour"),
    (make_rgb_pca(rows=True), "ROWS"),
    (make_rgb_pca(first_image_only=True), "first image only"),
    (make_rgb_pca(ascending=True), "ascending order"),
    (make_rgb_pca(reshape_wrong=True), "channel axis is dim 1"),
    (make_rgb_pca(centre="image"), "each image's own mean colour"),
    (make_rgb_pca(sqrt=True), "standard deviations"),
    (make_rgb_pca(inplace=True), "in place"),
    (lambda images: augment.pca_components(images)[0], "pair"),
    (lambda images: (torch.ones(3), torch.eye(3)), "differ"),
    (lambda images: tuple(t.numpy() for t in augment.pca_components(images)), "two tensors"),
    (lambda images: (torch.ones(4), torch.eye(4)), "shape"),
])
def test_rgb_pca_check_rejects(wrong, message):
    with pytest.raises(AssertionError, match=message):
        check_rgb_pca(wrong)
