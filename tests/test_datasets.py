"""CIFAR-10, Flowers-102 and image folders: the real on-disk formats, made small, through the real code.

No copy of these sets can be fetched here, so each test writes small files in the genuine format
(CIFAR's pickled batches in a tar.gz, JPEG/PNG folders, Oxford's tgz and .mat files), registers
their checksums as known (as conftest's synthetic_dataset does for Fashion-MNIST) and downloads
from a loopback mirror where a download is tested.
"""
import functools
import hashlib
import http.server
import io
import os
import pickle
import tarfile
import threading

import numpy as np
import pytest
import torch
from torchvision.io import decode_image, encode_jpeg, encode_png, write_jpeg

import d2lnets as d2l
from d2lnets import data as datasets
from d2lnets.data import decode, store
from d2lnets.data import fashion_mnist as data_mod

pytestmark = [pytest.mark.usefixtures("one_thread", "isolated"),  # torchvision 0.29 on its own encoders:
               pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")]


@pytest.fixture
def isolated(tmp_path, monkeypatch, isolated_search):
    """No real copy anywhere: repo data/ and the system folders point into tmp_path."""
    monkeypatch.setattr(store, "SYSTEM_DATA_DIR", tmp_path / "no-system-copies")
    return isolated_search


def register(monkeypatch, path, name=None):
    """Make ``path``'s current bytes a known-good copy of ``name``."""
    digest = hashlib.md5(path.read_bytes()).hexdigest()
    monkeypatch.setitem(data_mod.KNOWN_MD5, name or path.name, {"file": {digest}})
    return digest


@pytest.fixture
def loopback():
    """Serve a folder on 127.0.0.1; yields a function folder -> base URL."""
    servers = []

    def serve(folder):
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *args: None
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


# --- CIFAR-10 -------------------------------------------------------------------------------------

def _member(tar, name, payload):
    info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def write_cifar(folder, n=6, seed=0, replace=None, monkeypatch=None):
    """A small cifar-10-python.tar.gz in the official layout (pickles, protocol 2, as Python 2 wrote)."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    batches = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batches[name] = {b"batch_label": name.encode(), b"labels": rng.integers(0, 10, n).tolist(),
                         b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                         b"filenames": [f"img_{i}.png".encode() for i in range(n)]}
    payloads = {name: pickle.dumps(b, protocol=2) for name, b in batches.items()}
    payloads["batches.meta"] = pickle.dumps({b"label_names": [c.encode() for c in datasets.CIFAR10_LABELS],
                                             b"num_cases_per_batch": n, b"num_vis": 3072}, protocol=2)
    payloads.update(replace or {})
    path = folder / "cifar-10-python.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in payloads.items():
            _member(tar, name, payload)
    if monkeypatch is not None:
        register(monkeypatch, path)
    return batches


def test_cifar10_batches_hold_the_pickled_pixels(tmp_path, monkeypatch):
    batches = write_cifar(tmp_path / "c", monkeypatch=monkeypatch)
    train_iter, test_iter = d2l.load_data_cifar10(8, root=tmp_path / "c")
    assert train_iter.num_examples == 30 and test_iter.num_examples == 6 and len(train_iter) == 4
    X, y = next(iter(test_iter))
    assert X.shape == (6, 3, 32, 32) and X.dtype == torch.float32 and y.dtype == torch.int64
    expected = torch.from_numpy(batches["test_batch"][b"data"].reshape(6, 3, 32, 32)).float() / 255
    torch.testing.assert_close(X, expected, rtol=0, atol=0)
    assert y.tolist() == batches["test_batch"][b"labels"]
    first = torch.from_numpy(batches["data_batch_1"][b"data"]).reshape(6, 3, 32, 32)
    t = d2l.load_cifar10_tensors(tmp_path / "c")
    assert t["train_images"].dtype == torch.uint8 and torch.equal(t["train_images"][:6], first)
    assert train_iter.classes == datasets.CIFAR10_LABELS
    # the same iterable as Fashion-MNIST's: seeded shuffle, set_epoch, resize, normalize, to()
    a = [y for _, y in train_iter]
    train_iter.set_epoch(0)
    assert all(torch.equal(p, q) for p, q in zip(a, [y for _, y in train_iter]))
    assert sorted(torch.cat(a).tolist()) == sorted(t["train_labels"].tolist())
    big, _ = d2l.load_data_cifar10(4, resize=64, root=tmp_path / "c", normalize=True)
    X, _ = next(iter(big))
    assert X.shape == (4, 3, 64, 64) and X.min() < 0
    assert train_iter.to("cpu") is train_iter and "3x32x32" in repr(train_iter)


def test_cifar10_search_order(tmp_path, monkeypatch, isolated):
    write_cifar(tmp_path / "env", n=2, seed=1, monkeypatch=monkeypatch)
    write_cifar(isolated / "cifar-10", n=3, seed=2)
    register(monkeypatch, isolated / "cifar-10" / "cifar-10-python.tar.gz", "cifar-10-python.tar.gz")
    digest = hashlib.md5((isolated / "cifar-10" / "cifar-10-python.tar.gz").read_bytes()).hexdigest()
    env_digest = hashlib.md5((tmp_path / "env" / "cifar-10-python.tar.gz").read_bytes()).hexdigest()
    monkeypatch.setitem(data_mod.KNOWN_MD5, "cifar-10-python.tar.gz", {"file": {digest, env_digest}})
    monkeypatch.setenv("D2LNETS_DATA", str(tmp_path / "env"))
    dirs = data_mod.data_dirs(dataset=datasets.CIFAR10)
    assert dirs.index(tmp_path / "env") < dirs.index(isolated) < dirs.index(isolated / "cifar-10")
    assert dirs[-1] == store.SYSTEM_DATA_DIR / "cifar-10"
    assert len(d2l.load_cifar10_tensors(download=False)["test_labels"]) == 2
    monkeypatch.delenv("D2LNETS_DATA")
    assert len(d2l.load_cifar10_tensors(download=False)["test_labels"]) == 3  # data/cifar-10/


def test_cifar10_corrupt_archive_fails_its_checksum(tmp_path, monkeypatch):
    write_cifar(tmp_path / "c", monkeypatch=monkeypatch)
    path = tmp_path / "c" / "cifar-10-python.tar.gz"
    path.write_bytes(path.read_bytes()[:len(path.read_bytes()) // 2])
    with pytest.raises(d2l.ChecksumError, match="cifar-10-python.tar.gz is corrupt or truncated"):
        d2l.load_cifar10_tensors(tmp_path / "c", download=False)
    with pytest.raises(d2l.ChecksumError, match="not a complete tar.gz"):
        d2l.load_cifar10_tensors(tmp_path / "c", download=False, verify=False)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo should-never-run",))


@pytest.mark.parametrize("payload, message", [
    (pickle.dumps({b"data": _Evil(), b"labels": []}, protocol=2), "data_batch_3 is not a CIFAR-10 batch.*system"),
    (pickle.dumps({b"data": np.zeros((6, 100), np.uint8), b"labels": [0] * 6}, protocol=2),
     r"data_batch_3: b'data' must be a uint8 array \[N, 3072\]"),
    (pickle.dumps({b"data": np.zeros((6, 3072), np.uint8), b"labels": [0, 1, 2, 3, 4, 10]}, protocol=2),
     "data_batch_3: b'labels' must be a list of 6 integers 0-9"),
    (pickle.dumps([1, 2, 3], protocol=2), "data_batch_3 is not a CIFAR-10 batch: it holds a list"),
    (b"not a pickle", "data_batch_3 is not a CIFAR-10 batch"),
])
def test_cifar10_unexpected_pickles_are_rejected(tmp_path, monkeypatch, payload, message):
    write_cifar(tmp_path / "c", replace={"data_batch_3": payload}, monkeypatch=monkeypatch)
    with pytest.raises(d2l.ChecksumError, match=message):
        d2l.load_cifar10_tensors(tmp_path / "c", download=False)


def test_cifar10_not_found_names_every_place_and_remedy(monkeypatch):
    def offline(url, root, filename=None, md5=None, **kwargs):
        raise OSError("network is unreachable")

    import torchvision.datasets.utils

    monkeypatch.setattr(torchvision.datasets.utils, "download_url", offline)
    with pytest.raises(d2l.DataNotFoundError) as err:
        d2l.load_data_cifar10(32)
    message = str(err.value)
    for folder in data_mod.data_dirs(dataset=datasets.CIFAR10):
        assert f"  - {folder}\n" in message
    assert "CIFAR-10 was not found" in message and "network is unreachable" in message
    assert "offline: copy cifar-10-python.tar.gz" in message and "online: connect" in message
    assert "$D2LNETS_DATA" in message
    with pytest.raises(d2l.DataNotFoundError, match="download=False"):
        d2l.load_data_cifar10(32, download=False)


def test_cifar10_named_folder_must_hold_it(tmp_path, monkeypatch):
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("D2LNETS_DATA", str(tmp_path / "empty"))
    with pytest.raises(d2l.DataNotFoundError, match=r"not found in \$D2LNETS_DATA .*lacks the file cifar-10"):
        d2l.load_cifar10_tensors()


def test_cifar10_download_from_a_loopback_mirror(tmp_path, monkeypatch, loopback, isolated):
    write_cifar(tmp_path / "mirror", monkeypatch=monkeypatch)
    url = loopback(tmp_path / "mirror")
    monkeypatch.setattr(datasets.cifar10, "CIFAR10_URL", url + "cifar-10-python.tar.gz")
    t = d2l.load_cifar10_tensors()
    assert len(t["train_images"]) == 30 and (isolated / "cifar-10-python.tar.gz").is_file()
    # a mirror that serves a corrupt copy: the checksum catches it
    store.CACHE.clear()
    (isolated / "cifar-10-python.tar.gz").unlink()
    monkeypatch.setitem(data_mod.KNOWN_MD5, "cifar-10-python.tar.gz", {"file": {"0" * 32}})
    with pytest.raises(d2l.ChecksumError, match="corrupt or truncated"):
        d2l.load_cifar10_tensors()


# --- image folders ----------------------------------------------------------------------------------

COLOURS = {"daisy": (250, 240, 20), "rose": (200, 10, 30), "tulip": (40, 60, 220)}


def solid(colour, h, w):
    return torch.tensor(colour, dtype=torch.uint8)[:, None, None].expand(3, h, w).contiguous()


def write_folder(root, per_class=(3, 2), valid="valid"):
    """train/ and valid/ with one folder per class: solid-colour JPEGs and PNGs of various sizes."""
    for split, n in (("train", per_class[0]), (valid, per_class[1])):
        for c, colour in COLOURS.items():
            folder = root / split / c
            folder.mkdir(parents=True)
            for i in range(n):
                image = solid(colour, 40 + 7 * i, 50 + 3 * i)
                if i % 2:
                    (folder / f"{i}.png").write_bytes(encode_png(image).numpy().tobytes())
                else:
                    write_jpeg(image, str(folder / f"{i}.JPG"), quality=95)
    return root


def test_image_folder_batches_classes_and_labels(tmp_path):
    root = write_folder(tmp_path / "flowers", valid="val")
    train_iter, valid_iter = d2l.load_data_image_folder(root, 4, resize=24)
    assert train_iter.classes == ["daisy", "rose", "tulip"] and train_iter.num_examples == 9
    assert valid_iter.num_examples == 6 and len(train_iter) == 3
    for X, y in valid_iter:
        assert X.shape[1:] == (3, 24, 24) and X.dtype == torch.float32 and y.dtype == torch.int64
        for image, label in zip(X, y):  # each image is its class's colour
            colour = torch.tensor(COLOURS[valid_iter.classes[label]]) / 255
            assert (image.mean(dim=(1, 2)) - colour).abs().max() < 0.03
    assert torch.bincount(torch.cat([y for _, y in train_iter])).tolist() == [3, 3, 3]
    X, _ = next(iter(d2l.load_data_image_folder(root, 2, resize=(16, 20), normalize=True)[0]))
    assert X.shape == (2, 3, 16, 20) and X.min() < 0


def test_image_folder_is_decoded_once_then_cached(tmp_path, monkeypatch, isolated):
    root = write_folder(tmp_path / "f")
    calls = []
    real = decode._decode
    monkeypatch.setattr(decode, "_decode", lambda *a: calls.append(a[2]) or real(*a))
    first = d2l.load_image_folder_tensors(root, 16)
    assert len(calls) == 15
    cache_files = list((isolated / "cache").glob("folder-f-*-16x16.pt"))
    assert len(cache_files) == 1
    store.CACHE.clear()  # a new process: the cache file, no JPEG
    second = d2l.load_image_folder_tensors(root, 16)
    assert len(calls) == 15 and torch.equal(first["train_images"], second["train_images"])
    d2l.load_image_folder_tensors(root, 12)  # another size: decoded again
    assert len(calls) == 30
    victim = root / "train" / "rose" / "1.png"  # a changed file: the folder is decoded again
    victim.write_bytes(encode_png(solid((0, 0, 0), 9, 9)).numpy().tobytes())
    os.utime(victim, ns=(1, 1))
    store.CACHE.clear()
    third = d2l.load_image_folder_tensors(root, 16)
    assert len(calls) == 45 and third["train_images"][4].max() == 0


@pytest.mark.parametrize("damage, error, message", [
    (lambda r: (r / "train/rose/0.JPG").write_bytes((r / "train/rose/0.JPG").read_bytes()[:200]),
     d2l.ChecksumError, r"train/rose/0.JPG could not be decoded.*truncated"),
    (lambda r: (r / "valid/tulip/0.JPG").write_bytes(b"this is no image"),
     d2l.ChecksumError, r"valid/tulip/0.JPG could not be decoded"),
    (lambda r: (r / "train/daisy/notes.txt").write_text("hi"), ValueError, r"train/daisy/notes.txt is not a JPEG"),
    (lambda r: (r / "train/lily").mkdir(), ValueError, r"class folder .*train/lily holds no images"),
    (lambda r: os.rename(r / "valid/rose", r / "valid/roses"), ValueError, "training split lacks: roses"),
    (lambda r: os.rename(r / "valid", r / "test"), d2l.DataNotFoundError, r"must hold train/ and valid/ \(or val/\)"),
])
def test_image_folder_problems_name_the_file(tmp_path, damage, error, message):
    root = write_folder(tmp_path / "f")
    damage(root)
    with pytest.raises(error, match=message):
        d2l.load_data_image_folder(root, 4, resize=16)


def test_image_folder_memory_budget_and_search(tmp_path, monkeypatch):
    root = write_folder(tmp_path / "sets" / "flowers")
    with pytest.raises(MemoryError, match=r"15 images at 3x224x224 need .*memory budget.*smaller resize"):
        d2l.load_data_image_folder(root, 4, memory_budget=1_000_000)
    # a relative name is looked up in $D2LNETS_DATA (and data/, and the system folders)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(d2l.DataNotFoundError) as err:
        d2l.load_data_image_folder("flowers", 4, resize=8)
    assert str(store.default_data_dir() / "flowers") in str(err.value)
    assert str(store.SYSTEM_DATA_DIR / "flowers") in str(err.value)
    monkeypatch.setenv("D2LNETS_DATA", str(tmp_path / "sets"))
    assert d2l.load_data_image_folder("flowers", 4, resize=8)[0].num_examples == 9


# --- Flowers-102 -------------------------------------------------------------------------------------

def write_flowers(folder, monkeypatch, n=14, seed=0, labels=None, setid=None, extra=0):
    """Oxford's three files, small: jpg/image_00001.jpg ... in a tgz, imagelabels.mat, setid.mat."""
    import scipy.io

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    labels = rng.integers(1, 103, n) if labels is None else np.asarray(labels)
    colours = {}
    with tarfile.open(folder / "102flowers.tgz", "w:gz") as tar:
        for i in range(1, n + 1 + extra):
            colour = tuple(int(v) for v in rng.integers(0, 256, 3))
            colours[i] = colour
            payload = encode_jpeg(solid(colour, 30 + i, 40), quality=95).numpy().tobytes()
            info = tarfile.TarInfo(f"jpg/image_{i:05d}.jpg")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    scipy.io.savemat(folder / "imagelabels.mat", {"labels": labels.reshape(1, -1).astype(np.uint8)})
    order = rng.permutation(np.arange(1, n + 1))
    setid = setid or {"trnid": order[:4], "valid": order[4:7], "tstid": order[7:]}
    scipy.io.savemat(folder / "setid.mat",
                     {k: np.asarray(v).reshape(1, -1).astype(np.uint16) for k, v in setid.items()})
    for name in ("102flowers.tgz", "imagelabels.mat", "setid.mat"):
        register(monkeypatch, folder / name)
    return labels, setid, colours


def test_flowers102_official_split_and_labels(tmp_path, monkeypatch, isolated):
    labels, setid, colours = write_flowers(tmp_path / "o", monkeypatch)
    train_iter, test_iter = d2l.load_data_flowers102(3, resize=20, root=tmp_path / "o")
    assert train_iter.num_examples == 4 and test_iter.num_examples == 7
    X, y = next(iter(test_iter))
    assert X.shape == (3, 3, 20, 20) and y.dtype == torch.int64
    t = d2l.load_flowers102_tensors(tmp_path / "o", 20)
    for split, var in (("train", "trnid"), ("valid", "valid"), ("test", "tstid")):
        ids = np.asarray(setid[var]).tolist()
        assert t[f"{split}_labels"].tolist() == [int(labels[i - 1]) - 1 for i in ids]  # 1..102 -> 0..101
        means = t[f"{split}_images"].float().mean(dim=(2, 3))
        assert (means - torch.tensor([colours[i] for i in ids]).float()).abs().max() < 8
    both, test = d2l.load_data_flowers102(5, resize=20, root=tmp_path / "o", splits=("train+valid", "valid"))
    assert both.num_examples == 7 and test.num_examples == 3
    assert len(list((isolated / "cache").glob("flowers-102-*-20x20.pt"))) == 1
    with pytest.raises(ValueError, match="splits must be two of"):
        d2l.load_data_flowers102(5, root=tmp_path / "o", splits=("train", "validation"))


@pytest.mark.parametrize("kwargs, damage, message", [
    (dict(setid={"trnid": [1, 2], "valid": [3], "tstid": [15]}), None, r"setid.mat: image ids must be 1..14"),
    (dict(setid={"trnid": [1, 2], "valid": [2], "tstid": [3]}), None, r"setid.mat: an image id appears twice"),
    (dict(labels=[1] * 13 + [103]), None, r"imagelabels.mat: labels must be 1..102"),
    (dict(extra=1), None, r"102flowers.tgz holds jpg/image_00015.jpg, which imagelabels.mat has no label for"),
    ({}, lambda f: (f / "imagelabels.mat").write_bytes(b"MATLAB 5.0 garbage"),
     "imagelabels.mat is corrupt or truncated"),
    ({}, lambda f: os.replace(f / "setid.mat", f / "x") or os.replace(f / "imagelabels.mat", f / "setid.mat")
     or os.replace(f / "x", f / "imagelabels.mat"),
     "imagelabels.mat is the genuine setid.mat .* stored as imagelabels.mat"),
])
def test_flowers102_files_that_do_not_match_are_named(tmp_path, monkeypatch, kwargs, damage, message):
    write_flowers(tmp_path / "o", monkeypatch, **kwargs)
    if damage is not None:
        damage(tmp_path / "o")
    with pytest.raises(d2l.ChecksumError, match=message):
        d2l.load_data_flowers102(4, resize=16, root=tmp_path / "o", download=False)


def test_flowers102_missing_image_and_unreadable_jpeg(tmp_path, monkeypatch):
    write_flowers(tmp_path / "o", monkeypatch, setid={"trnid": [1, 2], "valid": [3], "tstid": [4]})
    with tarfile.open(tmp_path / "o" / "102flowers.tgz", "w:gz") as tar:  # image 3 is garbage, 4 missing
        for i, payload in ((1, b""), (2, b""), (3, b"garbage")):
            payload = payload or encode_jpeg(solid((1, 2, 3), 8, 8)).numpy().tobytes()
            info = tarfile.TarInfo(f"jpg/image_{i:05d}.jpg")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    register(monkeypatch, tmp_path / "o" / "102flowers.tgz")
    with pytest.raises(d2l.ChecksumError, match=r"102flowers.tgz lacks 1 image.*jpg/image_00004.jpg"):
        d2l.load_flowers102_tensors(tmp_path / "o", 16)
    monkeypatch.setitem(data_mod.KNOWN_MD5, "setid.mat", {"file": set()})
    import scipy.io

    scipy.io.savemat(tmp_path / "o" / "setid.mat", {"trnid": [[1, 2]], "valid": [[3]], "tstid": [[]]})
    register(monkeypatch, tmp_path / "o" / "setid.mat")
    with pytest.raises(d2l.ChecksumError, match=r"102flowers.tgz: jpg/image_00003.jpg could not be decoded"):
        d2l.load_flowers102_tensors(tmp_path / "o", 16)


def test_flowers102_not_found_and_download_from_a_loopback_mirror(tmp_path, monkeypatch, loopback, isolated):
    write_flowers(tmp_path / "mirror", monkeypatch)
    with pytest.raises(d2l.DataNotFoundError) as err:
        d2l.load_data_flowers102(4, download=False)
    message = str(err.value)
    for folder in data_mod.data_dirs(dataset=datasets.FLOWERS102):
        assert f"  - {folder}\n" in message
    assert "102flowers.tgz, imagelabels.mat, setid.mat" in message and "online: connect" in message
    monkeypatch.setattr(datasets.flowers102, "FLOWERS102_URL", loopback(tmp_path / "mirror"))
    train_iter, test_iter = d2l.load_data_flowers102(4, resize=16)
    assert train_iter.num_examples == 4 and test_iter.num_examples == 7
    assert sorted(p.name for p in (isolated / "flowers-102").iterdir()) == ["102flowers.tgz", "imagelabels.mat",
                                                                           "setid.mat"]


def test_decoded_images_match_torchvision(tmp_path):
    """The cache holds torchvision's decode, resized with antialiasing -- nothing else."""
    from torchvision.transforms.v2 import functional as TF

    image = torch.randint(0, 256, (3, 37, 53), dtype=torch.uint8)
    path = tmp_path / "x.png"
    path.write_bytes(encode_png(image).numpy().tobytes())
    out = decode._decode(path, (20, 30), str(path))
    assert torch.equal(out, TF.resize(decode_image(str(path)), [20, 30], antialias=True))
    assert torch.equal(decode._decode(path, (37, 53), str(path)), image)


def test_a_damaged_cache_file_is_rebuilt(tmp_path, isolated):
    root = write_folder(tmp_path / "f")
    first = d2l.load_image_folder_tensors(root, 8)
    (cache,) = (isolated / "cache").glob("folder-f-*.pt")
    cache.write_bytes(cache.read_bytes()[:100])
    store.CACHE.clear()
    again = d2l.load_image_folder_tensors(root, 8)
    assert torch.equal(first["valid_images"], again["valid_images"]) and again["classes"] == first["classes"]
    assert torch.load(cache, weights_only=True)["classes"] == ["daisy", "rose", "tulip"]


def test_image_loader_generalises_the_fashion_mnist_loader():
    images = torch.randint(0, 256, (10, 3, 8, 8), dtype=torch.uint8)
    loader = d2l.ImageLoader(images, torch.arange(10), 4, normalize=((0.5, 0.4, 0.3), (0.2, 0.2, 0.25)))
    X, _ = next(iter(loader))
    expected = (images[:4].float() / 255 - torch.tensor([0.5, 0.4, 0.3])[:, None, None]) / torch.tensor(
        [0.2, 0.2, 0.25])[:, None, None]
    torch.testing.assert_close(X, expected)
    assert isinstance(d2l.FashionMNISTLoader(images[:, 0], torch.arange(10), 4), d2l.ImageLoader)
    moved = loader.to("meta")
    assert type(moved) is d2l.ImageLoader and moved.device.type == "meta" and moved.normalize
    with pytest.raises(ValueError, match="knows no mean and std"):
        d2l.ImageLoader(images, torch.arange(10), 4, normalize=True)
    with pytest.raises(ValueError, match="one per channel"):
        d2l.ImageLoader(images, torch.arange(10), 4, normalize=((0.5, 0.5), (1, 1)))
    with pytest.raises(ValueError, match=r"uint8 \[N, H, W\] or \[N, C, H, W\]"):
        d2l.ImageLoader(images.float(), torch.arange(10), 4)
