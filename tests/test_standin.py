"""The appendix's generated stand-in (d2lnets.data.standin): the real loaders read what it writes, its
checksums are registered beside the genuine ones (never instead of them), it is found only where it is
named, and the appendix's helpers report nothing measured on it."""
import pytest
import torch

import d2lnets as d2l
from d2lnets.course import colour
from d2lnets.data import standin, store

pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.filterwarnings("ignore:The image decoding and encoding capabilities:DeprecationWarning")]


@pytest.fixture
def known():
    """KNOWN_MD5 put back as it was: the stand-in registers its checksums for the process."""
    saved = {name: {kind: set(digests) for kind, digests in kinds.items()} for name, kinds in store.KNOWN_MD5.items()}
    yield
    store.KNOWN_MD5.clear()
    store.KNOWN_MD5.update(saved)


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    saved = {name: {kind: set(digests) for kind, digests in kinds.items()} for name, kinds in store.KNOWN_MD5.items()}
    written = standin.write_standins(tmp_path_factory.mktemp("standin"))
    registered = {name: set(store.KNOWN_MD5[name]["file"]) for name in written.md5}
    store.KNOWN_MD5.clear()
    store.KNOWN_MD5.update(saved)
    return written, registered


def _register(monkeypatch, registered):
    for name, digests in registered.items():
        monkeypatch.setitem(store.KNOWN_MD5, name, {"file": digests})


def test_the_loaders_read_what_the_standins_hold(written, monkeypatch, isolated_search):
    s, registered = written
    _register(monkeypatch, registered)
    cifar = d2l.load_cifar10_tensors(s.cifar10)
    assert cifar["train_images"].shape == (5 * 64, 3, 32, 32) and cifar["test_images"].shape == (128, 3, 32, 32)
    # the pickled pixels are the synthetic images of their labels (the test batch: the sixth seed)
    assert torch.equal(cifar["test_images"], standin.synthetic_images(cifar["test_labels"], 32, 32, seed=6))
    assert cifar["train_labels"].max() < 10 and len(cifar["train_labels"].unique()) > 5
    flowers = d2l.load_flowers102_tensors(s.flowers102, 64)
    assert [len(flowers[f"{split}_labels"]) for split in ("train", "valid", "test")] == [12, 12, 16]
    assert flowers["train_images"].shape[1:] == (3, 64, 64) and flowers["test_labels"].max() < 102
    folder = d2l.load_image_folder_tensors(s.flowers5, 64)
    assert folder["classes"] == standin.FIVE_FLOWERS
    assert len(folder["train_images"]) == 5 * 6 and len(folder["valid_images"]) == 5 * 2
    assert {p.suffix for p in s.flowers5.rglob("*.*")} == {".jpg", ".png"}   # both formats are read


def test_its_checksums_are_added_to_the_genuine_ones_and_checked(tmp_path, known):
    genuine = set(store.KNOWN_MD5["cifar-10-python.tar.gz"]["file"])
    s = standin.write_standins(tmp_path)
    assert store.KNOWN_MD5["cifar-10-python.tar.gz"]["file"] == genuine | {s.md5["cifar-10-python.tar.gz"]}
    for name in ("102flowers.tgz", "imagelabels.mat", "setid.mat"):
        assert s.md5[name] in store.KNOWN_MD5[name]["file"]
    archive = s.cifar10 / "cifar-10-python.tar.gz"
    store.verify_file(archive)                  # its own checksum: genuine for this process
    raw = bytearray(archive.read_bytes())
    raw[len(raw) // 2] ^= 0xFF                   # one damaged byte is caught like any corrupt copy
    archive.write_bytes(bytes(raw))
    with pytest.raises(store.ChecksumError, match="corrupt or truncated"):
        store.verify_file(archive)


def test_the_same_call_writes_the_same_images(tmp_path, known, isolated_search):
    a, b = (standin.write_standins(tmp_path / name) for name in ("a", "b"))
    x, y = (d2l.load_cifar10_tensors(s.cifar10) for s in (a, b))
    assert all(torch.equal(x[k], y[k]) for k in x)


def test_a_standin_is_found_only_where_it_is_named(tmp_path, known, isolated_search, monkeypatch):
    monkeypatch.setattr(store, "SYSTEM_DATA_DIR", tmp_path / "no-system-copies")
    monkeypatch.setattr(store, "download_url", lambda *a: pytest.fail("nothing may be downloaded"))
    standin.write_standins(tmp_path / "standin")
    with pytest.raises(d2l.DataNotFoundError, match="CIFAR-10 was not found"):
        d2l.load_cifar10_tensors(download=False)


# --- the appendix's helpers: the stand-in announced, nothing measured on it reported --------------------

def _history(test_acc=0.42):
    return d2l.History(train_loss=[2.3], train_acc=[0.1], test_acc=[test_acc], examples_per_sec=[10.0],
                       seconds=[1.0], device="cpu", settings="fp32")


def test_the_smoke_recipe_reads_the_standin_and_reports_no_number(capsys, known, monkeypatch, tmp_path):
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    data = colour.find_data(d2l.recipe("07_alexnet_colour", profile="smoke"))
    assert data.standin and not data.show_training and data.label == "stand-in"
    assert (data.cifar10 / "cifar-10-python.tar.gz").is_file()
    assert data.cifar10.parent == tmp_path / colour.STANDIN_FOLDER
    assert "A GENERATED STAND-IN" in capsys.readouterr().out
    acc = colour.report_accuracy("cifar10_test_acc", _history(), data, what="the test accuracy on CIFAR-10")
    out = capsys.readouterr().out
    assert acc is None and "result: cifar10_test_acc = not measured: stand-in data" in out
    assert "0.42" not in out and "no accuracy is printed" in out


def test_the_real_recipes_read_the_real_data_and_report_it(capsys, monkeypatch):
    data = colour.find_data(d2l.recipe("07_alexnet_colour", profile="cpu"))   # cpu trains no Flowers-102
    assert not data.standin and data.cifar10 is None and data.show_training and data.label == "CIFAR-10"
    monkeypatch.setenv("D2LNETS_RESULTS", "")
    assert colour.report_accuracy("cifar10_test_acc", _history(0.71), data, what="...") == 0.71
    assert "result: cifar10_test_acc = 0.71" in capsys.readouterr().out
    with pytest.raises(TypeError, match="07_alexnet_colour"):
        colour.find_data(d2l.recipe("06_comparison"))
