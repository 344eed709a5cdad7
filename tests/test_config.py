import pytest
import torch

import d2lnets as d2l


@pytest.mark.parametrize("name", ["smoke", "cpu", "full"])
def test_profiles(monkeypatch, name):
    monkeypatch.setenv("D2LNETS_PROFILE", name)
    P = d2l.profile()
    assert P.name == name
    assert P.choose(smoke=1, cpu=2, full=3) == {"smoke": 1, "cpu": 2, "full": 3}[name]
    assert (P.num_train is not None) == (name == "smoke")
    assert name in str(P)


def test_default_profile_follows_the_device(monkeypatch):
    monkeypatch.delenv("D2LNETS_PROFILE", raising=False)
    monkeypatch.delenv("D2LNETS_DEVICE", raising=False)
    assert d2l.profile().name == ("full" if torch.cuda.is_available() else "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert d2l.profile().name == "full" and d2l.profile().device == torch.device("cuda:0")


def test_bad_profile_and_device(monkeypatch):
    monkeypatch.setenv("D2LNETS_PROFILE", "fast")
    with pytest.raises(ValueError, match="choose one of smoke, cpu, full"):
        d2l.profile()
    monkeypatch.setenv("D2LNETS_PROFILE", "cpu")
    monkeypatch.setenv("D2LNETS_DEVICE", "gpu0")
    with pytest.raises(ValueError, match="not a device"):
        d2l.profile()


def test_device_override(monkeypatch):
    monkeypatch.setenv("D2LNETS_DEVICE", "cpu")
    assert d2l.default_device() == torch.device("cpu")
    if not torch.cuda.is_available():
        monkeypatch.setenv("D2LNETS_DEVICE", "cuda")
        with pytest.raises(ValueError, match="no CUDA"):
            d2l.default_device()


def test_try_gpu_without_gpu():
    if not torch.cuda.is_available():
        assert d2l.try_gpu() == torch.device("cpu") and d2l.try_gpu(3) == torch.device("cpu")


def test_set_seed_reproduces():
    d2l.set_seed(7)
    a = torch.rand(3)
    d2l.set_seed(7)
    assert torch.equal(a, torch.rand(3))
