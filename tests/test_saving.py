"""Saving and loading a chapter's model: one format, no overwrites across recipes or profiles,
no half loads."""
from pathlib import Path

import pytest
import torch
from torch import nn

import d2lnets as d2l
from d2lnets.core import paths


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("D2LNETS_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("D2LNETS_PROFILE", "cpu")
    return tmp_path / "runs"


def same(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_round_trip_with_plain_metadata(runs):
    torch.manual_seed(0)
    net = d2l.models.lenet(variant="modern")
    path = d2l.save_model(net, "01_lenet", accuracy=0.875, extra={"epochs": 10, "lr": [0.1, 0.9]})
    assert path == runs / "01_lenet-cpu.pt" and [p.name for p in runs.iterdir()] == ["01_lenet-cpu.pt"]
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == "d2lnets-model" and raw["version"] == 1
    meta = raw["meta"]
    assert (meta["recipe"], meta["profile"], meta["model"], meta["accuracy"]) == ("01_lenet", "cpu",
                                                                                "LeNet (modern)", 0.875)
    assert meta["num_params"] == 61706 and meta["epochs"] == 10 and meta["date"][:2] == "20"
    other = d2l.models.lenet(variant="modern")
    assert not same(net, other)
    loaded = d2l.load_model(other, "01_lenet")
    assert same(net, other) and loaded["accuracy"] == 0.875 and loaded["path"] == str(path)


def test_profiles_and_recipes_never_overwrite_each_other(runs):
    a, b = d2l.models.lenet(), d2l.models.lenet()
    d2l.save_model(a, "01_lenet")
    cpu_bytes = (runs / "01_lenet-cpu.pt").read_bytes()
    d2l.save_model(b, "01_lenet", profile="full")
    d2l.save_model(b, "01_lenet_classic")
    assert sorted(p.name for p in runs.iterdir()) == ["01_lenet-cpu.pt", "01_lenet-full.pt",
                                                      "01_lenet_classic-cpu.pt"]
    assert (runs / "01_lenet-cpu.pt").read_bytes() == cpu_bytes
    d2l.save_model(b, "01_lenet")  # the same recipe and profile: replaced, no temporary file left
    c = d2l.models.lenet()
    d2l.load_model(c, "01_lenet")
    assert same(b, c) and len(list(runs.iterdir())) == 3


def test_a_file_that_says_otherwise_is_never_replaced_or_loaded(runs):
    d2l.save_model(d2l.models.lenet(), "01_lenet", profile="full")
    (runs / "01_lenet-full.pt").rename(runs / "01_lenet-cpu.pt")  # a copied or renamed file
    before = (runs / "01_lenet-cpu.pt").read_bytes()
    with pytest.raises(d2l.ModelMismatchError, match="profile 'full', not '01_lenet' in 'cpu': not replacing"):
        d2l.save_model(d2l.models.lenet(), "01_lenet")
    assert (runs / "01_lenet-cpu.pt").read_bytes() == before
    with pytest.raises(d2l.ModelMismatchError, match="not loading"):
        d2l.load_model(d2l.models.lenet(), "01_lenet")
    (runs / "junk-cpu.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(d2l.ModelMismatchError, match="not a model file"):
        d2l.save_model(d2l.models.lenet(), "junk")


def test_another_architecture_is_refused_whole(runs):
    d2l.save_model(d2l.models.lenet(), "01_lenet")
    torch.manual_seed(1)
    net = d2l.models.lenet(num_classes=5)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(d2l.ModelMismatchError,
                       match=r"2 of different shapes \(classifier.4.weight: saved \[10, 84\], net \[5, 84\].*nothing"):
        d2l.load_model(net, "01_lenet")
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # not half-loaded
    with pytest.raises(d2l.ModelMismatchError, match="in the file but not in net"):
        d2l.load_model(nn.Sequential(nn.Conv2d(1, 6, 5)), "01_lenet")


def test_missing_file_names_what_there_is(runs):
    d2l.save_model(d2l.models.lenet(), "01_lenet", profile="full")
    with pytest.raises(FileNotFoundError, match=r"01_lenet-full.pt \(another profile"):
        d2l.load_model(d2l.models.lenet(), "01_lenet")
    with pytest.raises(FileNotFoundError, match="save_model"):
        d2l.load_model(d2l.models.lenet(), "02_alexnet")


def test_bad_arguments(runs):
    net = d2l.models.lenet()
    with pytest.raises(ValueError, match="recipe must be a name"):
        d2l.save_model(net, "../elsewhere")
    with pytest.raises(ValueError, match="profile must be one of smoke, cpu, full"):
        d2l.save_model(net, "x", profile="laptop")
    with pytest.raises(ValueError, match="accuracy must be"):
        d2l.save_model(net, "x", accuracy=87.5)
    with pytest.raises(TypeError, match=r"extra\['t'\] must be plain data"):
        d2l.save_model(net, "x", extra={"t": torch.ones(1)})
    with pytest.raises(ValueError, match="lazy layers"):
        d2l.save_model(d2l.models.vgg_block(1, 4), "x")
    assert not runs.exists() or not list(runs.iterdir())


def test_where_models_go(monkeypatch, tmp_path):
    monkeypatch.delenv("D2LNETS_RUNS", raising=False)
    monkeypatch.setenv("D2LNETS_PROFILE", "cpu")
    root = Path(d2l.__file__).resolve().parent.parent
    assert paths.repo_root() == root and d2l.runs_dir() == root / "runs"
    assert d2l.model_path("01_lenet") == root / "runs" / "01_lenet-cpu.pt"
    monkeypatch.setenv("D2LNETS_PROFILE", "smoke")  # a smoke run never writes to runs/
    assert root not in d2l.runs_dir().parents and "smoke" in d2l.runs_dir().name
    monkeypatch.setenv("D2LNETS_RUNS", str(tmp_path))
    assert d2l.runs_dir() == tmp_path
    # an installed package: the checkout around the current directory, else the current directory
    monkeypatch.setattr(paths, "PACKAGE_DIR", tmp_path / "site-packages" / "d2lnets")
    (tmp_path / "repo" / "chapters").mkdir(parents=True)
    (tmp_path / "repo" / "pyproject.toml").write_text("")
    monkeypatch.chdir(tmp_path / "repo" / "chapters")
    assert paths.checkout() is None and paths.repo_root() == tmp_path / "repo"
    monkeypatch.chdir(tmp_path)
    assert paths.repo_root() == tmp_path
