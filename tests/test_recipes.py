"""d2lnets.recipes: what each chapter trains, per profile, in one table; and no test reads those
values out of the notebooks any more."""
import ast
import dataclasses
from pathlib import Path

import pytest
import torch

import d2lnets as d2l
from d2lnets.core.config import PROFILES
from d2lnets.course import recipes

TESTS = Path(__file__).parent
CHAPTERS = TESTS.parent / "chapters"


def every_recipe():
    for name in d2l.list_recipes():
        yield name, None
        for experiment in recipes.RECIPES[name].get("experiments", {}):
            yield name, experiment


def test_one_recipe_per_chapter():
    assert d2l.list_recipes() == sorted(p.stem for p in CHAPTERS.glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("profile", PROFILES)
def test_every_recipe_resolves_to_plain_values(profile):
    for name, experiment in every_recipe():
        R = d2l.recipe(name, experiment, profile=profile)
        assert R.profile == profile and isinstance(R, d2l.Recipe)
        assert isinstance(R.image_size, int) and 28 <= R.image_size <= 224, R
        assert isinstance(R.batch_size, int) and R.batch_size > 0, R
        assert isinstance(R.num_epochs, int) and R.num_epochs > 0, R
        assert R.optimizer in ("sgd", "adam") and R.lr > 0, R
        assert 0 <= R.momentum < 1 and R.weight_decay >= 0, R
        assert R.schedule in (None, "onecycle"), R
        for n in (R.num_train, R.num_test):
            assert n is None or (isinstance(n, int) and n > 0), R
        assert R.model is None or R.model in d2l.models.list_models(), R
        assert not any(isinstance(v, dict) and set(v) <= set(PROFILES) and v for v in R.options.values()), R


def test_per_profile_values_name_only_profiles():
    """A typo in a profile's name would silently fall back to the default: every dict of values
    by profile uses the three names, and every entry only the recipe's fields."""
    fields = {f.name for f in dataclasses.fields(d2l.Recipe)} - {"name", "profile"}
    for name, entry in recipes.RECIPES.items():
        experiments = [(k, v) for e in entry.get("experiments", {}).values() for k, v in e.items()]
        for key, value in [*entry.items(), *experiments]:
            assert key in fields, (name, key)
            if isinstance(value, dict) and key not in ("model_args", "options", "experiments"):
                assert set(value) <= set(PROFILES), (name, key, value)


def test_the_current_profile_is_read(monkeypatch):
    for profile in PROFILES:
        monkeypatch.setenv("D2LNETS_PROFILE", profile)
        assert d2l.recipe("04_resnet") == d2l.recipe("04_resnet", profile=profile)
        assert d2l.recipe("04_resnet").profile == profile


def test_left_out_subsets_are_the_profiles(monkeypatch):
    monkeypatch.setenv("D2LNETS_PROFILE", "smoke")
    P = d2l.profile()
    R = d2l.recipe("04_resnet")
    assert (R.num_train, R.num_test) == (P.num_train, P.num_test) == (2048, 1024)
    degradation = d2l.recipe("04_resnet", "degradation")
    assert (degradation.num_train, degradation.num_test) == (P.num_train, P.num_test)
    assert d2l.recipe("04_resnet", "degradation", profile="cpu").num_train == 4_000


def test_experiments_are_reached_both_ways():
    R = d2l.recipe("04_resnet", profile="cpu")
    assert R.experiments["degradation"] == d2l.recipe("04_resnet", "degradation", profile="cpu")
    assert R.experiments["degradation"].name == "04_resnet/degradation"


def test_unknown_names_list_what_there_is():
    with pytest.raises(ValueError, match="01_lenet, 02_alexnet, 03_vgg, 04_resnet, 05_densenet"):
        d2l.recipe("06_googlenet")
    with pytest.raises(ValueError, match="degradation"):
        d2l.recipe("04_resnet", "no such experiment")
    with pytest.raises(ValueError, match="smoke, cpu, full"):
        d2l.recipe("04_resnet", profile="laptop")


def test_recipes_are_read_only():
    with pytest.raises(dataclasses.FrozenInstanceError):
        d2l.recipe("04_resnet", profile="cpu").lr = 1.0


def test_the_profiles_keep_their_promises():
    """smoke: one epoch; full: the book's 10 epochs on all the data (SPEC, run profiles)."""
    for name in d2l.list_recipes():
        assert d2l.recipe(name, profile="smoke").num_epochs == 1
        full = d2l.recipe(name, profile="full")
        assert full.num_epochs == 10 and full.num_train is None and full.num_test is None


@pytest.mark.parametrize("profile, expected", [
    ("cpu", {"01_lenet": 61_706, "02_alexnet": 7_507_050, "03_vgg": 613_802, "04_resnet": 11_178_378,
             "05_densenet": 758_226}),
    ("full", {"01_lenet": 61_706, "02_alexnet": 46_764_746, "03_vgg": 43_093_322, "04_resnet": 11_178_378,
              "05_densenet": 758_226}),
])
def test_the_main_runs_build_the_chapters_networks(profile, expected):
    for name, count in expected.items():
        with torch.device("meta"):
            net = d2l.recipe(name, profile=profile).make_net()
        assert sum(p.numel() for p in net.parameters()) == count, name


def test_a_network_the_chapter_builds_has_no_factory():
    with pytest.raises(ValueError, match="its chapter builds"):
        d2l.recipe("04_resnet", "degradation", profile="cpu").make_net()


def test_chapters_read_their_recipes():
    """Each chapter's training cells ask for its own recipe (by name) and for every experiment of it."""
    import nbformat

    for path in sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb")):
        source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
        assert f'd2l.recipe("{path.stem}")' in source, path.name
        for experiment in recipes.RECIPES[path.stem].get("experiments", {}):
            assert f'd2l.recipe("{path.stem}", "{experiment}")' in source, (path.name, experiment)


# Tests that run code from the notebooks, and why: exercises and the Colab cell, never settings.
RUNS_NOTEBOOK_CODE = {"test_exercises.py": "runs the exercise solutions against their checks",
                      "test_checks_delegation.py": "runs the exercise solutions and delegating answers against "
                                                   "their checks",
                      "test_colab.py": "runs the Colab first cell",
                      "test_comparison.py": "runs the closing chapter's fine-tuning cell with and without ImageNet's "
                                            "weights in a test's own hub cache"}


def test_no_test_reads_training_values_out_of_the_notebooks():
    """What a chapter trains lives in d2lnets.recipes; a test compares with that, never with lines
    of notebook source evaluated (exec, eval) or picked out by their assignments."""
    settings = {f.name for f in dataclasses.fields(d2l.Recipe)} | {"resize", "P.choose"}
    for path in sorted(TESTS.glob("test_*.py")):
        text = path.read_text()
        if path.name == Path(__file__).name or ("ipynb" not in text and "nbformat" not in text):
            continue
        calls = {node.func.id for node in ast.walk(ast.parse(text))
                 if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
        if path.name not in RUNS_NOTEBOOK_CODE:
            assert not calls & {"exec", "eval"}, f"{path.name} runs notebook code"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not any(node.value.strip().startswith((f"{s} =", f"{s}(")) for s in settings), \
                    f"{path.name} looks for {node.value!r} in notebook source"


def test_precision_is_chosen_per_network_for_the_full_profile_only():
    for chapter in d2l.list_recipes():
        for profile in ("smoke", "cpu"):
            assert d2l.recipe(chapter, profile=profile).precision == "auto"  # the CPU: nothing changes
        assert d2l.recipe(chapter, profile="full").precision in ("auto", "fp32", "bf16")
    assert {d2l.recipe(c, profile="full").precision for c in ("01_lenet", "02_alexnet", "03_vgg", "04_resnet",
                                                                "05_densenet")} <= {"fp32", "bf16"}
    with pytest.raises(ValueError, match="precision must be one of"):
        recipes._build("x", dict(model="lenet", precision="fp8"), d2l.profile("cpu"), {})


def test_the_recipes_optimizers_are_fused_on_cuda():
    net = torch.nn.Linear(2, 2)
    R = d2l.recipe("01_lenet", profile="full")
    on_cuda = R.make_optimizer(net, "cuda")  # (built only: a fused optimizer checks its tensors when it steps)
    assert isinstance(on_cuda, torch.optim.SGD) and on_cuda.defaults["fused"] is True
    assert on_cuda.defaults["momentum"] == R.momentum and on_cuda.defaults["lr"] == R.lr
    assert not R.make_optimizer(net, "cpu").defaults["fused"]
    adam = recipes.build_optimizer("adam", net.parameters(), 1e-3, device="cuda")
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["fused"] is True
    with pytest.raises(ValueError, match="optimizer must be 'sgd' or 'adam'"):
        recipes.build_optimizer("lamb", net.parameters(), 0.1)


def test_a_recipe_describes_itself_in_a_few_words():
    assert d2l.recipe("03_vgg", profile="cpu").describe() == (
        "32 px, all images, 8 epochs, batches of 128, SGD, one-cycle to lr 0.1 (momentum 0.95-0.85), "
        "weight decay 0.0005")
    assert d2l.recipe("04_resnet", profile="full").describe() == (
        "96 px, all images, 10 epochs, batches of 256, SGD, lr 0.05")
    assert d2l.recipe("02_alexnet", "mini_alexnet", profile="cpu").describe() == (
        "28 px, 1,000 images, 20 epochs, batches of 64, Adam, lr 0.001")
