import gzip
import hashlib
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from d2lnets.data import fashion_mnist as data_mod
from d2lnets.data import store


def write_idx(path: Path, array: np.ndarray, gz: bool = True) -> None:
    """Write ``array`` (uint8) as an IDX file, as the Fashion-MNIST files are stored."""
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, dtype=">i4").tobytes()
    payload = header + array.astype(np.uint8).tobytes()
    if gz:
        path.with_name(path.name + ".gz").write_bytes(gzip.compress(payload))
    else:
        path.write_bytes(payload)


@pytest.fixture
def synthetic_dataset(tmp_path, monkeypatch):
    """A small generated Fashion-MNIST in IDX format, registered as a known-good copy.

    Returns a function that writes the four files into a folder and returns the arrays written.
    """

    def make(folder: Path, n_train: int = 50, n_test: int = 20, gz: bool = True, seed: int = 0):
        rng = np.random.default_rng(seed)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {
            "train_images": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
            "train_labels": rng.integers(0, 10, n_train, dtype=np.uint8),
            "test_images": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
            "test_labels": rng.integers(0, 10, n_test, dtype=np.uint8),
        }
        for key, array in arrays.items():
            name = data_mod.FILES[key]
            write_idx(folder / name, array, gz=gz)
            stored = folder / (name + ".gz" if gz else name)
            digest = hashlib.md5(stored.read_bytes()).hexdigest()
            known = {k: set(v) for k, v in data_mod.KNOWN_MD5[name].items()}
            known["gz" if gz else "raw"].add(digest)
            monkeypatch.setitem(data_mod.KNOWN_MD5, name, known)
        return arrays

    monkeypatch.setattr(store, "CACHE", {})
    return make


@pytest.fixture
def isolated_search(tmp_path, monkeypatch):
    """No real copy of the dataset anywhere on the search path; returns the would-be download folder."""
    target = tmp_path / "cache"
    monkeypatch.delenv("D2LNETS_DATA", raising=False)
    monkeypatch.setattr(store, "default_data_dir", lambda: target)
    monkeypatch.setattr(data_mod, "DEBIAN_DIR", tmp_path / "no-debian-copy")
    monkeypatch.setattr(store, "CACHE", {})
    return target


@pytest.fixture(scope="module")
def one_thread():
    """Small inputs gain nothing from threads, and on a busy 2-core machine OpenMP's spinning
    threads make each op up to 100x slower; restores the setting afterwards."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def real_files():
    """Paths of the genuine dataset files this machine has (found before any test isolates the search)."""
    found = next((p for p in map(data_mod._find, data_mod.data_dirs()) if p is not None), None)
    if found is None:
        data_mod.load_fashion_mnist_tensors()  # downloads them
        found = next(p for p in map(data_mod._find, data_mod.data_dirs()) if p is not None)
    return found


@pytest.fixture(scope="session")
def fashion():
    return data_mod.load_fashion_mnist_tensors()


@pytest.fixture
def small_loaders():
    from d2lnets import load_data_fashion_mnist

    torch.manual_seed(0)
    return load_data_fashion_mnist(64, num_train=512, num_test=256)


# --- the suite leaves a learner's files alone, and needs the data once ---------------------------

_LEARNER_FOLDERS = [Path(__file__).resolve().parent.parent / name for name in ("exercises", "runs")]


def _learner_files():
    return {p: p.read_bytes() for folder in _LEARNER_FOLDERS if folder.is_dir()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def pytest_sessionstart(session):
    """Keep the suite away from the learner's own files, then stop once, before any test, with the
    one clear message when Fashion-MNIST is nowhere.

    Saved models go to a folder of this session's (for the chapters' kernels too, which inherit the
    environment), never to the checkout's runs/ or a folder a learner named in $D2LNETS_RUNS; no
    record is appended to a learner's $D2LNETS_RESULTS or $D2LNETS_RUN_LOG.
    """
    from d2lnets.tools import setup

    os.environ["D2LNETS_RUNS"] = tempfile.mkdtemp(prefix="d2lnets-test-runs-")
    for name in ("D2LNETS_RESULTS", "D2LNETS_RUN_LOG"):
        os.environ.pop(name, None)

    try:
        setup.ensure_data(install=False)
    except (OSError, ValueError) as e:  # not found, corrupt, or a bad $D2LNETS_DATA
        pytest.exit(f"set-up stopped: {e}", returncode=3)


@pytest.fixture(scope="session", autouse=True)
def learner_files_untouched():
    """The test suite never writes, changes or deletes a learner's copies (exercises/) or runs (runs/)."""
    before = _learner_files()
    yield
    after = _learner_files()
    changed = sorted(str(p) for p in before.keys() | after.keys() if before.get(p) != after.get(p))
    assert not changed, f"the test suite changed a learner's files: {changed}"


# --- what a test needs beyond Python: skipped here, never in CI -----------------------------------

def _not_here(reason: str, what: str):
    """Skip a test that cannot run on this machine, or, in CI (``CI=true``), fail it: a CI run must
    run every test, except what a job that cannot have it names in ``D2LNETS_ALLOW_SKIP``
    (space-separated: ``browser``, ``docs``), where its workflow says why."""
    allowed = os.environ.get("D2LNETS_ALLOW_SKIP", "").split()
    if os.environ.get("CI", "").lower() == "true" and what not in allowed:
        pytest.fail(f"{reason}. CI (CI=true) runs this test rather than skip it: install what it needs, "
                    f"or, in a job that cannot have it, set D2LNETS_ALLOW_SKIP={what!r} and say why", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def not_here():
    return _not_here


@pytest.fixture(scope="session")
def chromium():
    """The Chromium a browser test drives (Debian's ``chromium``, or ``$D2LNETS_CHROMIUM``); no
    browser is ever downloaded."""
    path = os.environ.get("D2LNETS_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        _not_here("needs Chromium: `apt-get install chromium` (.ci/run installs it), or "
                  "D2LNETS_CHROMIUM=/path/to/chrome", "browser")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _not_here("needs playwright: pip install -e '.[dev]' (make test installs it)", "browser")
    return path

