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


def test_every_environment_variable_of_the_package_is_in_configs_table():
    import re
    from pathlib import Path

    from d2lnets.core import config

    package = Path(config.__file__).parent
    mentioned = {name for path in package.rglob("*.py") for name in re.findall(r"D2LNETS_[A-Z_]+", path.read_text())}
    assert mentioned, "the grep found nothing"
    assert mentioned <= set(config.ENV), f"not in config.ENV: {sorted(mentioned - set(config.ENV))}"
    for name in config.ENV:
        assert f"``{name}``" in config.__doc__, f"{name} is not in config's table"


def test_env_reads_only_the_packages_variables(monkeypatch):
    from d2lnets.core import config

    monkeypatch.setenv("D2LNETS_RUN_LOG", "  /tmp/x.jsonl ")
    assert config.env("D2LNETS_RUN_LOG") == "/tmp/x.jsonl" == config.run_log_path()
    monkeypatch.delenv("D2LNETS_RESULTS", raising=False)
    assert config.results_path() is None
    monkeypatch.setenv("D2LNETS_REUSE_MEMORY", "0")
    assert config.reuse_memory() is False
    with pytest.raises(KeyError, match="not one of the package's environment variables"):
        config.env("D2LNETS_NOPE")


# --- every accelerator: the device choice with the detection functions replaced -------------------

class _Backend:
    def __init__(self, available):
        self.available = available

    def is_available(self):
        return self.available

    def device_count(self):
        return int(self.available)


@pytest.mark.parametrize("cuda, mps, xpu, expected", [
    (True, True, True, "cuda:0"),
    (False, True, True, "mps"),
    (False, False, True, "xpu:0"),
    (False, False, False, "cpu"),
])
def test_default_device_prefers_cuda_then_mps_then_xpu(monkeypatch, cuda, mps, xpu, expected):
    import torch

    from d2lnets.core import config

    monkeypatch.delenv("D2LNETS_DEVICE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: int(cuda))
    monkeypatch.setattr(torch.backends, "mps", _Backend(mps))
    monkeypatch.setattr(torch, "xpu", _Backend(xpu), raising=False)
    monkeypatch.setattr(torch, "accelerator", _Backend(False), raising=False)
    assert str(config.default_device()) == expected
    assert str(config.try_gpu()) == ("cuda:0" if cuda else "cpu")   # the book's meaning: CUDA or the CPU


def test_mps_trains_in_fp32_without_channels_last(monkeypatch):
    from d2lnets.core import precision

    monkeypatch.delenv("D2LNETS_PRECISION", raising=False)
    settings = precision.choose_settings("mps")
    assert settings.dtype is None and not settings.channels_last and settings.description == "fp32"
