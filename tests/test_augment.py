"""Batched augmentations against torchvision and a per-pixel reading of the PCA-lighting formula."""
import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from d2lnets import augment
from d2lnets.data.augment import (
    Augment,
    crop,
    lighting_alphas,
    pca_components,
    pca_lighting,
    random_crop,
    random_horizontal_flip,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def X():
    return torch.rand(6, 3, 9, 7, generator=_gen(1))


@pytest.mark.parametrize("size, padding", [(5, 0), (9, 2), ((4, 6), 1), ((9, 7), 0), (11, 2), (2, 5)])
def test_crop_matches_torchvision_at_the_same_offsets(X, size, padding):
    h, w = (size, size) if isinstance(size, int) else size
    top = torch.randint(0, 9 + 2 * padding - h + 1, (6,), generator=_gen(2))
    left = torch.randint(0, 7 + 2 * padding - w + 1, (6,), generator=_gen(3))
    out = crop(X, top, left, size, padding)
    assert out.shape == (6, 3, h, w)
    padded = TF.pad(X, [padding]) if padding else X
    for b in range(6):
        torch.testing.assert_close(out[b], TF.crop(padded[b], int(top[b]), int(left[b]), h, w), rtol=0, atol=0)
    # the CPU cuts slice by slice, a GPU gathers all windows at once: the same pixels either way
    assert torch.equal(augment._crop_by_gather(X, top, left, h, w, padding), out)


def test_random_crop_draws_tops_then_lefts(X):
    out = random_crop(X, 6, padding=2, generator=_gen(5))
    g = _gen(5)
    top = torch.randint(0, 9 + 4 - 6 + 1, (6,), generator=g)
    left = torch.randint(0, 7 + 4 - 6 + 1, (6,), generator=g)
    torch.testing.assert_close(out, crop(X, top, left, 6, 2), rtol=0, atol=0)
    assert len(set(top.tolist())) > 1  # offsets differ between images


def test_flip_matches_torchvision_hflip(X):
    out = random_horizontal_flip(X, 0.5, generator=_gen(7))
    flipped = torch.rand(6, generator=_gen(7)) < 0.5
    assert 0 < flipped.sum() < 6
    for b in range(6):
        ref = TF.horizontal_flip(X[b]) if flipped[b] else X[b]
        torch.testing.assert_close(out[b], ref, rtol=0, atol=0)
    # the width axis, not the height
    assert torch.equal(random_horizontal_flip(X, 1.0), X[..., ::1].flip(-1))
    assert torch.equal(random_horizontal_flip(X, 0.0), X)


def naive_lighting(X, eigvals, eigvecs, alphas):
    """X[b, c, h, w] + sum_i eigvecs[c, i] * alphas[b, i] * eigvals[i], one pixel at a time."""
    X, eigvals, eigvecs, alphas = (t.double().numpy() for t in (X, eigvals, eigvecs, alphas))
    B, C, H, W = X.shape
    out = X.copy()
    for b in range(B):
        for c in range(C):
            for h in range(H):
                for w in range(W):
                    out[b, c, h, w] += sum(eigvecs[c, i] * alphas[b, i] * eigvals[i] for i in range(C))
    return torch.from_numpy(out)


def test_pca_lighting_matches_the_formula_pixel_by_pixel(X):
    Q, _ = torch.linalg.qr(torch.randn(3, 3, generator=_gen(8)))
    eigvals = torch.tensor([0.5, 0.2, 0.05])
    out = pca_lighting(X, eigvals, Q, 0.1, generator=_gen(9))
    alphas = lighting_alphas(6, 3, 0.1, _gen(9))
    torch.testing.assert_close(out.double(), naive_lighting(X, eigvals, Q, alphas), rtol=1e-6, atol=1e-6)
    # the same with the alphas passed in, and with larger ones
    alphas = torch.randn(6, 3, generator=_gen(10))
    torch.testing.assert_close(pca_lighting(X, eigvals, Q, alphas=alphas).double(),
                               naive_lighting(X, eigvals, Q, alphas), rtol=1e-6, atol=1e-6)


def test_pca_components_is_the_pixel_covariance():
    images = torch.rand(20, 3, 5, 4, generator=_gen(11))
    images[:, 1] += 0.5 * images[:, 0]  # correlated channels
    eigvals, eigvecs = pca_components(images, chunk=7)
    pixels = images.permute(1, 0, 2, 3).reshape(3, -1).double().numpy()
    cov = np.cov(pixels)
    ref = np.sort(np.linalg.eigvalsh(cov))[::-1]
    np.testing.assert_allclose(eigvals.double().numpy(), ref, rtol=1e-5)
    assert torch.all(eigvals[:-1] >= eigvals[1:])
    # columns are eigenvectors: cov @ v = lambda v
    for i in range(3):
        v = eigvecs[:, i].double().numpy()
        np.testing.assert_allclose(cov @ v, ref[i] * v, atol=1e-6)
    # one channel: the variance, eigenvector [1] (up to sign)
    grey = torch.rand(10, 1, 4, 4, generator=_gen(12))
    ev, evec = pca_components(grey)
    assert ev.shape == (1,) and evec.shape == (1, 1) and abs(abs(evec.item()) - 1) < 1e-6
    assert abs(ev.item() - grey.double().var().item()) < 1e-6


@pytest.mark.parametrize("device", ["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_shapes_devices_dtypes(device, dtype):
    X = torch.rand(4, 3, 8, 8, device=device).to(dtype)
    eigvals, eigvecs = pca_components(torch.rand(5, 3, 8, 8))
    outs = [random_crop(X, 6, generator=_gen()), random_crop(X, 8, padding=2, generator=_gen()),
            random_horizontal_flip(X, generator=_gen()), pca_lighting(X, eigvals, eigvecs, generator=_gen()),
            Augment(crop=8, padding=1, lighting=(eigvals, eigvecs))(X)]
    for out, shape in zip(outs, [(4, 3, 6, 6)] + [(4, 3, 8, 8)] * 4):
        assert out.shape == shape and out.device == X.device and out.dtype == dtype


def test_same_seed_same_result_and_different_seed_different_result():
    X = torch.rand(32, 1, 28, 28, generator=_gen(13))
    eig = pca_components(X)
    a, b, c = (Augment(crop=28, padding=3, lighting=eig, alpha_std=0.5, seed=s) for s in (0, 0, 1))
    first = a(X)
    assert torch.equal(first, b(X))
    assert not torch.equal(first, c(X))
    assert not torch.equal(a(X), first)  # the stream goes on ...
    a.reset()
    assert torch.equal(a(X), first)      # ... until reset
    assert torch.equal(random_crop(X, 24, generator=_gen(4)), random_crop(X, 24, generator=_gen(4)))


def test_augment_in_the_data_loader():
    from d2lnets import load_data_fashion_mnist

    aug = Augment(crop=28, padding=2)
    train_iter, test_iter = load_data_fashion_mnist(64, num_train=128, num_test=64, augment=aug)
    X, _ = next(iter(train_iter))
    assert X.shape == (64, 1, 28, 28) and X.dtype == torch.float32
    assert "crop=(28, 28), padding=2" in repr(aug)


@pytest.mark.parametrize("call, message", [
    (lambda X: random_crop(X[0], 4), r"\[B, C, H, W\]"),
    (lambda X: random_crop((X * 255).to(torch.uint8), 4), "floating-point"),
    (lambda X: random_crop(X, 12), "does not fit"),
    (lambda X: random_crop(X, 0), "positive int"),
    (lambda X: random_crop(X, 5, padding=-1), "non-negative"),
    (lambda X: random_horizontal_flip(X, 1.5), r"\[0, 1\]"),
    (lambda X: pca_lighting(X, torch.ones(2), torch.eye(2)), "eigvals must have shape"),
    (lambda X: pca_lighting(X, torch.ones(3), torch.eye(3), alpha_std=-0.1), ">= 0"),
    (lambda X: pca_lighting(X, torch.ones(3), torch.eye(3), alphas=torch.ones(3)), "alphas must have shape"),
    (lambda X: crop(X, torch.zeros(2), torch.zeros(6), 4), "one top and one left"),
    (lambda X: crop(X, torch.full((6,), 8), torch.zeros(6), 4), "does not fit"),
    (lambda X: pca_components(X[0]), r"\[N, C, H, W\]"),
    (lambda X: Augment(padding=2), "crop="),
    (lambda X: Augment(crop=7, lighting=torch.ones(3)), "pair"),
])
def test_bad_arguments_are_clear_value_errors(X, call, message):
    with pytest.raises(ValueError, match=message):
        call(X)


def test_module_docstring_says_where_it_runs():
    assert "GPU" in augment.__doc__


# --- PCA components from a training set, and the photos to show them on ------------------------------

def direct_components(images01):
    """torch.cov over every pixel of every image (centred by the set's mean colour), then eigh."""
    C = images01.shape[1]
    cov = torch.cov(images01.double().transpose(0, 1).reshape(C, -1))
    eigvals, eigvecs = torch.linalg.eigh(cov)
    return cov, eigvals.flip(0), eigvecs.flip(1)


def assert_same_components(got, images01, atol=1e-6):
    eigvals, eigvecs = got
    cov, ref_vals, ref_vecs = direct_components(images01)
    torch.testing.assert_close(eigvals.double(), ref_vals, rtol=1e-5, atol=atol)
    assert torch.all(eigvals[:-1] >= eigvals[1:])                       # descending
    # columns are eigenvectors (eigh's convention): cov @ V = V diag(λ), V orthonormal
    V = eigvecs.double()
    torch.testing.assert_close(cov @ V, V * ref_vals, rtol=1e-4, atol=atol)
    torch.testing.assert_close(V.T @ V, torch.eye(len(eigvals), dtype=torch.float64), rtol=0, atol=1e-5)
    for i in range(len(eigvals)):  # the same directions as the direct computation, up to sign
        assert abs(abs(float(V[:, i] @ ref_vecs[:, i])) - 1) < 1e-4


@pytest.fixture
def photos_like():
    """Images with correlated channels and a different mean colour per image."""
    g = _gen(20)
    base = torch.rand(30, 1, 6, 5, generator=g)
    images = torch.cat([base, 0.6 * base + 0.2 * torch.rand(30, 1, 6, 5, generator=g),
                        torch.rand(30, 1, 6, 5, generator=g) * 0.3], dim=1)
    images += torch.rand(30, 3, 1, 1, generator=g) * 0.3     # per-image colour casts
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


def test_pca_components_match_torch_cov_on_all_pixels(photos_like):
    as_float = photos_like.float() / 255
    assert_same_components(pca_components(as_float, chunk=7), as_float)
    # uint8 input is divided by 255, whatever the dtype the same numbers
    got = pca_components(photos_like, chunk=4)
    assert got[0].dtype == torch.float32
    assert_same_components(got, as_float)
    # centred by the mean colour of the whole set, not image by image
    per_image = as_float - as_float.mean(dim=(2, 3), keepdim=True)
    assert not torch.allclose(pca_components(per_image)[0], got[0], rtol=1e-3)


def test_pca_components_from_a_loader(photos_like):
    from d2lnets.data import ImageLoader

    loader = ImageLoader(photos_like, torch.zeros(30, dtype=torch.long), 8, shuffle=True,
                         augment=lambda X: X * 0 + 0.5)  # augmentation must not enter the statistics
    assert_same_components(pca_components(loader), photos_like.float() / 255)
    batches = [(photos_like[i:i + 8].float() / 255, None) for i in range(0, 30, 8)]  # any (X, y) iterable
    assert_same_components(pca_components(batches), photos_like.float() / 255)
    assert_same_components(pca_components([X for X, _ in batches]), photos_like.float() / 255)
    with pytest.raises(ValueError, match="a loader of"):
        pca_components(42)
    with pytest.raises(ValueError, match="every batch needs 3 channels"):
        pca_components([torch.rand(2, 3, 4, 4), torch.rand(2, 1, 4, 4)])


def _fake_package(root, name, folder, files):
    from torchvision.io import encode_jpeg, encode_png

    (root / name / folder).mkdir(parents=True)
    (root / name / "__init__.py").write_text("raise ImportError('never imported')\n")
    g = _gen(30)
    for i, f in enumerate(files):
        image = torch.randint(0, 256, (3, 40 + 10 * i, 60), generator=g, dtype=torch.uint8)
        encoded = encode_jpeg(image) if f.endswith(".jpg") else encode_png(image)
        (root / name / folder / f).write_bytes(encoded.numpy().tobytes())


@pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")
def test_sample_photos_from_the_installed_package(tmp_path, monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name in ("sklearn", "skimage") else real_find_spec(name, *a))
    with pytest.raises(ModuleNotFoundError, match="pip install scikit-learn"):
        augment.sample_photos()
    with pytest.raises(ModuleNotFoundError, match="pip install scikit-image"):
        augment.sample_photos(source="skimage")
    monkeypatch.setattr(importlib.util, "find_spec", real_find_spec)
    _fake_package(tmp_path, "sklearn", "datasets/images", ["china.jpg", "flower.jpg"])
    _fake_package(tmp_path, "skimage", "data", ["astronaut.png", "coffee.png", "chelsea.png"])
    monkeypatch.syspath_prepend(str(tmp_path))
    photos = augment.sample_photos(32)
    assert photos.shape == (2, 3, 32, 32) and photos.dtype == torch.uint8
    assert augment.sample_photos((24, 48), source="skimage").shape == (3, 3, 24, 48)
    (tmp_path / "skimage" / "data" / "coffee.png").unlink()
    with pytest.raises(FileNotFoundError, match="coffee.png"):
        augment.sample_photos(source="skimage")
    with pytest.raises(ValueError, match="source must be"):
        augment.sample_photos(source="pillow")


def test_a_seed_gives_the_same_augmentation_the_cpus_way_and_the_accelerators_way(monkeypatch):
    """The accelerators' path (all windows in one gather, draws copied to the batch's device) gives
    the CPU's path's batch bit for bit, for the same seed: crops, flips and lighting."""
    X = torch.rand(16, 3, 12, 12, generator=_gen(20))
    eig = pca_components(X)
    by_slices = Augment(crop=12, padding=3, lighting=eig, seed=4)(X)
    monkeypatch.setattr(augment, "CROP_BY_SLICES", set())
    assert torch.equal(Augment(crop=12, padding=3, lighting=eig, seed=4)(X), by_slices)


def test_a_seed_draws_the_same_numbers_on_another_device_type(monkeypatch):
    """On the meta device (values unknown, shapes only) an Augment draws what it draws for a CPU
    batch: the same crop offsets, and its generator as far along after each call."""
    offsets = {}

    def spy(X, top, left, h, w, padding, _real=augment._crop):
        offsets.setdefault(X.device.type, []).append((top.clone(), left.clone()))
        return _real(X, top, left, h, w, padding)

    monkeypatch.setattr(augment, "_crop", spy)
    X = torch.rand(8, 3, 10, 10, generator=_gen(21))
    eig = pca_components(X)
    on_cpu, on_meta = (Augment(crop=8, padding=2, lighting=eig, seed=5) for _ in range(2))
    for _ in range(3):
        out = on_meta(X.to("meta"))
        assert out.device.type == "meta" and out.shape == (8, 3, 8, 8)
        on_cpu(X)
        assert torch.equal(on_cpu.generator.get_state(), on_meta.generator.get_state())
    assert len(offsets["cpu"]) == len(offsets["meta"]) == 3
    for (top, left), (top_m, left_m) in zip(offsets["cpu"], offsets["meta"]):
        assert torch.equal(top, top_m) and torch.equal(left, left_m)


def test_the_lightings_eigenvectors_are_copied_to_a_device_once():
    X = torch.rand(4, 3, 6, 6, generator=_gen(22))
    a = Augment(flip=False, lighting=pca_components(X))
    first = a(X)
    kept = a.on_device[(X.device, X.dtype)]
    a.reset()
    assert torch.equal(a(X), first) and a.on_device[(X.device, X.dtype)] is kept
