"""d2lnets.precision: which arithmetic and memory layout training uses on a device."""
import dataclasses

import pytest
import torch

from d2lnets.core import precision
from d2lnets.core.precision import Settings, autocast, choose_settings


def test_auto_on_the_cpu_follows_native_bf16(monkeypatch):
    monkeypatch.delenv("D2LNETS_PRECISION", raising=False)
    s = choose_settings("cpu")
    if precision.cpu_has_native_bf16():
        assert s == Settings(torch.bfloat16, True, False, "bfloat16 autocast, channels_last")
    else:
        assert s == Settings(None, True, False, "fp32, channels_last")
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    assert choose_settings(torch.device("cpu")).description == "bfloat16 autocast, channels_last"
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: False)
    assert choose_settings(torch.device("cpu")).dtype is None


def test_explicit_choices():
    assert choose_settings("cpu", "fp32", False) == Settings(None, False, False, "fp32")
    assert choose_settings("cpu", "bf16", False).description == "bfloat16 autocast"
    assert choose_settings("mps", "fp32").channels_last is False  # auto: only the CPU and CUDA
    assert str(choose_settings("cpu", "fp32", True)) == "fp32, channels_last"


def test_cuda_picks_bf16_or_fp16_with_a_scaler(monkeypatch):
    monkeypatch.delenv("D2LNETS_PRECISION", raising=False)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    s = choose_settings(torch.device("cuda"))
    assert (s.dtype, s.scaler, s.channels_last) == (torch.float16, True, True)
    assert s.description == "float16 autocast, channels_last"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert choose_settings("cuda").dtype == torch.bfloat16 and not choose_settings("cuda").scaler


def test_the_environment_forces_fp32(monkeypatch):
    monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: True)
    monkeypatch.setenv("D2LNETS_PRECISION", "fp32")
    assert choose_settings("cpu").dtype is None
    assert choose_settings("cuda").dtype is None
    assert choose_settings("cpu", "bf16").dtype == torch.bfloat16  # an explicit choice stands
    monkeypatch.setenv("D2LNETS_PRECISION", "fp8")
    with pytest.raises(ValueError, match="D2LNETS_PRECISION='fp8'"):
        choose_settings("cpu")


def test_bad_arguments():
    with pytest.raises(ValueError, match="precision must be"):
        choose_settings("cpu", "fp8")
    with pytest.raises(ValueError, match="needs a CUDA device"):
        choose_settings("cpu", "fp16")
    with pytest.raises(ValueError, match="channels_last must be"):
        choose_settings("cpu", "fp32", "yes")


def test_settings_are_frozen_and_autocast_applies_them():
    s = choose_settings("cpu", "bf16", False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.dtype = None
    with autocast("cpu", s):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    with autocast("cpu", choose_settings("cpu", "fp32")):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    with autocast(torch.device("cpu"), None):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
