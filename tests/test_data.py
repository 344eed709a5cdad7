"""Fashion-MNIST: search order, checksums, errors, batches — on the real data and on generated data."""
import functools
import gzip
import http.server
import shutil
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import d2lnets as d2l
from d2lnets.data import fashion_mnist as data_mod
from d2lnets.data import store


def test_real_dataset_facts(fashion):
    assert fashion["train_images"].shape == (60_000, 28, 28)
    assert fashion["test_images"].shape == (10_000, 28, 28)
    assert fashion["train_images"].dtype == torch.uint8
    assert fashion["train_labels"].dtype == torch.int64
    assert torch.bincount(fashion["train_labels"]).tolist() == [6_000] * 10
    assert torch.bincount(fashion["test_labels"]).tolist() == [1_000] * 10
    mean, std = data_mod.dataset_stats(fashion["train_images"])
    assert mean == pytest.approx(0.2860, abs=1e-4)
    assert std == pytest.approx(0.3530, abs=1e-4)


def test_loads_in_well_under_a_second_and_then_from_memory(monkeypatch):
    import time

    monkeypatch.setattr(store, "CACHE", {})
    start = time.perf_counter()
    first = d2l.load_fashion_mnist_tensors()
    assert time.perf_counter() - start < 5  # generous: a loaded CI machine; typically 0.8 s here
    assert d2l.load_fashion_mnist_tensors() is first


def test_batches(small_loaders):
    train_iter, test_iter = small_loaders
    assert len(train_iter) == 8 and len(test_iter) == 4
    X, y = next(iter(train_iter))
    assert X.shape == (64, 1, 28, 28) and X.dtype == torch.float32
    assert y.shape == (64,) and y.dtype == torch.int64
    assert 0 <= X.min() and X.max() <= 1
    assert sum(len(y) for _, y in test_iter) == 256


def test_last_partial_batch_and_drop_last(fashion):
    images, labels = fashion["test_images"][:100], fashion["test_labels"][:100]
    sizes = [len(y) for _, y in d2l.FashionMNISTLoader(images, labels, 32)]
    assert sizes == [32, 32, 32, 4]
    loader = d2l.FashionMNISTLoader(images, labels, 32, drop_last=True)
    assert [len(y) for _, y in loader] == [32, 32, 32] and len(loader) == 3


def test_shuffle_is_seeded_and_changes_per_epoch(fashion):
    images, labels = fashion["train_images"][:300], fashion["train_labels"][:300]
    a = d2l.FashionMNISTLoader(images, labels, 300, shuffle=True, seed=1)
    b = d2l.FashionMNISTLoader(images, labels, 300, shuffle=True, seed=1)
    first_a, second_a = [y for _, y in a], [y for _, y in a]
    first_b = [y for _, y in b]
    assert torch.equal(first_a[0], first_b[0])
    assert not torch.equal(first_a[0], second_a[0])
    a.set_epoch(0)
    assert torch.equal(next(iter(a))[1], first_a[0])
    assert sorted(first_a[0].tolist()) == sorted(labels.tolist())  # a permutation, nothing lost


def test_test_split_is_not_shuffled(small_loaders, fashion):
    _, test_iter = small_loaders
    assert torch.equal(torch.cat([y for _, y in test_iter]), torch.cat([y for _, y in test_iter]))


def test_resize_is_batched_bilinear(fashion):
    images, labels = fashion["test_images"][:8], fashion["test_labels"][:8]
    X, _ = next(iter(d2l.FashionMNISTLoader(images, labels, 8, resize=96)))
    assert X.shape == (8, 1, 96, 96)
    reference = F.interpolate(images.unsqueeze(1).float() / 255, size=(96, 96), mode="bilinear", align_corners=False)
    assert torch.allclose(X, reference)


def test_resize_matches_the_books_pil_pipeline(fashion):
    """The book resizes each PIL image with torchvision's Resize; batched resizing agrees closely."""
    import torchvision.transforms as T
    from PIL import Image

    images, labels = fashion["test_images"][:16], fashion["test_labels"][:16]
    X, _ = next(iter(d2l.FashionMNISTLoader(images, labels, 16, resize=224)))
    book = T.Compose([T.Resize(224), T.ToTensor()])
    reference = torch.stack([book(Image.fromarray(img.numpy())) for img in images])
    assert (X - reference).abs().mean() < 0.01


def test_subsets_are_fixed_and_sized():
    a, _ = d2l.load_data_fashion_mnist(100, num_train=300, num_test=200, seed=3)
    b, _ = d2l.load_data_fashion_mnist(100, num_train=300, num_test=200, seed=3)
    assert a.num_examples == 300 and torch.equal(a.labels, b.labels)
    with pytest.raises(ValueError, match="num_train must be an integer from 1 to 60000"):
        d2l.load_data_fashion_mnist(100, num_train=70_000)


@pytest.mark.parametrize("bad", [0, -3, 2.5, None])
def test_bad_batch_size(bad):
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        d2l.load_data_fashion_mnist(bad)


def test_labels():
    assert d2l.get_fashion_mnist_labels(torch.tensor([0, 9, 5])) == ["t-shirt", "ankle boot", "sandal"]
    with pytest.raises(ValueError, match="labels are integers 0-9"):
        d2l.get_fashion_mnist_labels([3, 10])


def test_loader_on_another_device_keeps_its_settings(small_loaders):
    train_iter, _ = small_loaders
    moved = train_iter.to("cpu")
    assert moved is train_iter
    meta = torch.device("meta")
    assert train_iter.to(meta).device == meta and train_iter.to(meta).batch_size == 64


# --- search order, checksums and errors, on generated data -------------------------------------

def test_search_order_env_then_repo_then_debian(tmp_path, monkeypatch, synthetic_dataset, isolated_search):
    env_dir, repo_dir = tmp_path / "env", isolated_search
    env_arrays = synthetic_dataset(env_dir, n_train=30, seed=1)
    synthetic_dataset(repo_dir, n_train=40, seed=2)
    monkeypatch.setenv("D2LNETS_DATA", str(env_dir))
    dirs = data_mod.data_dirs()
    assert dirs.index(env_dir) < dirs.index(repo_dir) < dirs.index(data_mod.DEBIAN_DIR)
    t = d2l.load_fashion_mnist_tensors(download=False)
    assert torch.equal(t["train_images"], torch.from_numpy(env_arrays["train_images"]))
    monkeypatch.delenv("D2LNETS_DATA")
    assert len(d2l.load_fashion_mnist_tensors(download=False)["train_images"]) == 40


def test_unpacked_files_are_read_too(tmp_path, synthetic_dataset, isolated_search):
    arrays = synthetic_dataset(tmp_path / "raw", gz=False)
    t = d2l.load_fashion_mnist_tensors(tmp_path / "raw", download=False)
    assert torch.equal(t["test_labels"], torch.from_numpy(arrays["test_labels"]).long())


def test_truncated_real_file_fails_its_checksum(tmp_path, real_files, isolated_search):
    for path in real_files.values():
        shutil.copy(path, tmp_path)
    data_mod.load_fashion_mnist_tensors(tmp_path, download=False)  # the genuine copy loads
    victim = tmp_path / real_files["test_labels"].name
    victim.write_bytes(victim.read_bytes()[:-100])
    store.CACHE.clear()
    with pytest.raises(d2l.ChecksumError, match="corrupt or truncated.*Delete it and load again"):
        data_mod.load_fashion_mnist_tensors(tmp_path, download=False)


def test_truncated_file_is_caught_even_without_checksums(tmp_path, synthetic_dataset, isolated_search):
    synthetic_dataset(tmp_path / "d", gz=False)
    victim = tmp_path / "d" / "train-images-idx3-ubyte"
    victim.write_bytes(victim.read_bytes()[:-28])
    with pytest.raises(d2l.ChecksumError, match="truncated"):
        d2l.load_fashion_mnist_tensors(tmp_path / "d", download=False, verify=False)
    victim.write_bytes(b"\x00\x00\x08\x01garbage")
    with pytest.raises(d2l.ChecksumError, match="bad magic number"):
        d2l.load_fashion_mnist_tensors(tmp_path / "d", download=False, verify=False)


def test_missing_data_names_every_place_and_both_remedies(monkeypatch, isolated_search):
    def offline(target):
        raise OSError("network is unreachable")

    monkeypatch.setattr(data_mod, "_download", offline)
    with pytest.raises(d2l.DataNotFoundError) as err:
        d2l.load_data_fashion_mnist(32)
    message = str(err.value)
    for folder in data_mod.data_dirs():
        assert str(folder) in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "network" in message and "network is unreachable" in message


def test_download_through_torchvision_from_a_local_mirror(tmp_path, monkeypatch, real_files, isolated_search):
    """The real download code, fed by a file:// mirror holding genuine files."""
    import hashlib

    import torchvision

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    resources = []
    for path in real_files.values():
        gz = mirror / (path.name if path.suffix == ".gz" else path.name + ".gz")
        gz.write_bytes(path.read_bytes() if path.suffix == ".gz" else gzip.compress(path.read_bytes()))
        resources.append((gz.name, hashlib.md5(gz.read_bytes()).hexdigest()))
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mirror))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        monkeypatch.setattr(torchvision.datasets.FashionMNIST, "mirrors", [url])
        monkeypatch.setattr(torchvision.datasets.FashionMNIST, "resources", resources)
        t = d2l.load_fashion_mnist_tensors()
    finally:
        server.shutdown()
        server.server_close()
    assert len(t["train_images"]) == 60_000
    assert (isolated_search / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").exists()


def test_idx_writer_round_trip(tmp_path):
    from conftest import write_idx

    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "x", array)
    raw = gzip.decompress((tmp_path / "x.gz").read_bytes())
    assert torch.equal(data_mod._parse_idx(raw, tmp_path / "x", 3), torch.from_numpy(array))


def test_a_loader_rebatched_gives_the_same_examples(small_loaders):
    _, test_iter = small_loaders
    big = test_iter.batched(1024)
    assert big.batch_size == 1024 and test_iter.batch_size != 1024
    assert test_iter.batched(test_iter.batch_size) is test_iter
    X_small = torch.cat([X for X, _ in test_iter])
    (X_big, y_big), = list(big)
    assert torch.equal(X_small, X_big) and torch.equal(torch.cat([y for _, y in test_iter]), y_big)
    with pytest.raises(ValueError, match="batch_size"):
        test_iter.batched(0)


def test_evaluation_batches_are_large_on_an_accelerator_only(small_loaders):
    from d2lnets.core.batches import EVAL_BATCH, evaluation_batches

    _, test_iter = small_loaders
    assert evaluation_batches(test_iter, torch.device("cpu")) is test_iter
    assert evaluation_batches(test_iter, torch.device("meta")).batch_size == EVAL_BATCH == 1024
    as_list = list(test_iter)
    assert evaluation_batches(as_list, torch.device("meta")) is as_list  # any other loader as given


def test_normalisation_copies_its_mean_and_std_to_a_device_once():
    from d2lnets.core.state import constant
    from d2lnets.data.loader import normalize

    X = torch.rand(4, 3, 5, 5)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.6, 0.7)
    expected = (X - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    assert torch.equal(normalize(X, mean, std), expected)
    made = constant.cache_info().misses
    for _ in range(3):
        normalize(X, mean, std)
    assert constant.cache_info().misses == made  # the same two tensors, reused
    loader = d2l.FashionMNISTLoader(torch.randint(0, 256, (8, 5, 5), dtype=torch.uint8), torch.arange(8) % 10, 4,
                                    normalize=True)
    X1, _ = next(iter(loader))  # the loader's own statistics, through the same function
    assert torch.equal(X1, normalize(loader.images[:4, None].float() / 255, (0.2860,), (0.3530,)))


def test_to_device_copies_from_the_host_without_waiting():
    from d2lnets.core.state import to_device

    t = torch.arange(5)
    assert to_device(t, "cpu") is t
    on_meta = to_device(t, "meta")
    assert on_meta.device.type == "meta" and on_meta.shape == t.shape
