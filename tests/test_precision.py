"""d2lnets.precision: which arithmetic and memory layout training uses on a device."""
import dataclasses

import pytest
import torch

from d2lnets.core import precision
from d2lnets.core.precision import Settings, autocast, choose_settings, math_mode


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
    assert s.description == "float16 autocast, channels_last, TF32"  # TF32: the fast path's fp32 products
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


def test_the_exact_mode():
    """fp32 in the book's layout, no TF32, deterministic: the mode of the bit-for-bit tests."""
    for device in ("cpu", "cuda"):
        s = choose_settings(device, "exact")
        assert (s.dtype, s.channels_last, s.scaler, s.tf32, s.exact) == (None, False, False, False, True)
        assert s.description == "exact fp32 (IEEE, deterministic)"
    assert choose_settings("cpu", "exact", True).channels_last  # asked for: NHWC, still IEEE and deterministic


def test_tf32_is_the_fast_path_on_cuda_only():
    assert choose_settings("cuda", "fp32").tf32 and choose_settings("cuda", "bf16").tf32
    assert choose_settings("cuda", "fp32").description == "fp32, channels_last, TF32"
    assert not choose_settings("cpu", "fp32").tf32 and "TF32" not in choose_settings("cpu", "bf16").description


def _mode(device, precision):
    return math_mode(device, choose_settings(device, precision))


def _flags():
    return (torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark,
            torch.backends.cudnn.deterministic, torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled())


@pytest.mark.parametrize("device, precision, inside", [
    ("cuda", "fp32", ("high", True, True, False, False, False)),
    ("cuda", "bf16", ("high", True, True, False, False, False)),
    ("cuda", "exact", ("highest", False, False, True, True, True)),
    ("cpu", "exact", ("highest", True, False, True, True, True)),
    ("cpu", "fp32", ("highest", True, False, False, False, False)),
])
def test_math_mode_sets_the_flags_for_a_run_and_puts_them_back(device, precision, inside):
    """(Global flags only: set and read without a GPU.) Also put back after an error."""
    before = _flags()
    assert before == ("highest", True, False, False, False, False)  # torch's defaults
    with pytest.raises(KeyboardInterrupt):
        with _mode(device, precision):
            assert _flags() == inside
            raise KeyboardInterrupt
    assert _flags() == before


def test_math_mode_puts_back_what_the_caller_had_set():
    torch.backends.cudnn.benchmark = True
    torch.set_float32_matmul_precision("medium")
    try:
        with _mode("cuda", "exact"):
            assert not torch.backends.cudnn.benchmark and torch.get_float32_matmul_precision() == "highest"
        assert torch.backends.cudnn.benchmark and torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.backends.cudnn.benchmark = False
        torch.set_float32_matmul_precision("highest")


def test_train_ch5_runs_in_the_mode_and_restores_it():
    import d2lnets as d2l

    seen = []

    class Look(d2l.Hook):
        def on_epoch_start(self, run):
            seen.append((torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic))

    batches = [(torch.rand(4, 1, 28, 28), torch.randint(0, 10, (4,)))]
    d2l.train_ch5(d2l.models.lenet(), batches, batches, 1, lr=0.1, device="cpu", precision="exact", verbose=False,
                  hooks=[Look()])
    assert seen == [(True, True)] and not torch.are_deterministic_algorithms_enabled()
