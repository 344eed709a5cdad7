"""What a learner's code written for d2lnets 0.1 imports still works in this release: every name
of the package's old ``__all__``, every ``d2l.<name>`` the chapters used, and every old module
path, which is the very module of its new path and warns once, naming it."""
import importlib
import subprocess
import sys
import warnings

import pytest

import d2lnets as d2l

# d2lnets 0.1's __all__
OLD_ALL = [
    "Accumulator", "Animator", "CheckpointError", "ChecksumError", "DataNotFoundError", "FashionMNISTLoader", "History",
    "ImageLoader", "LocalResponseNorm", "ModelMismatchError", "Profile", "Recipe", "Timer", "TrainingDivergedError",
    "augment", "checks", "compare", "confusion_matrix", "conv_output_size", "default_device", "draw_architecture",
    "evaluate_accuracy", "get_fashion_mnist_labels", "list_recipes", "load_cifar10_tensors", "load_data_cifar10",
    "load_data_fashion_mnist", "load_data_flowers102", "load_data_image_folder", "load_fashion_mnist_tensors",
    "load_flowers102_tensors", "load_image_folder_tensors", "load_model", "model_path", "models", "num_params",
    "one_cycle", "plot_histories", "plot_one_cycle", "precision", "predict", "profile", "receptive_field", "recipe",
    "record_result", "records", "report", "runs_dir", "save_model", "set_seed", "show_feature_maps", "show_filters",
    "show_images", "show_mistakes", "show_predictions", "show_receptive_field", "summary", "train_ch5", "try_gpu",
]
# what the chapters of d2lnets 0.1 (commit dfb018d) imported and reached through d2l.<module>.<name>
CHAPTER_MODULES = ["d2lnets", "d2lnets.checks", "d2lnets.checks.lenet", "d2lnets.checks.alexnet", "d2lnets.checks.vgg",
                   "d2lnets.checks.resnet", "d2lnets.checks.densenet", "d2lnets.checks.comparison",
                   "d2lnets.checks.colour", "d2lnets.plot"]
CHAPTER_ATTRIBUTES = ["plot.show_figure", "data.DataNotFoundError", "data.KNOWN_MD5", "data.locate",
                      "datasets.CIFAR10_LABELS", "datasets.FLOWERS102", "models.init_cnn", "models.cfgs",
                      "models.vgg_block", "models.BasicBlock", "models.Bottleneck", "models.Residual",
                      "models.DenseBlock", "models.conv_block", "models.transition_block", "models.from_torchvision",
                      "models.get_model", *[f"models.{name}" for name in d2l.models.list_models()]]


@pytest.mark.parametrize("name", OLD_ALL)
def test_every_old_name_is_still_there(name):
    assert name in d2l.__all__ and getattr(d2l, name) is not None


@pytest.mark.parametrize("name", CHAPTER_MODULES)
def test_the_chapters_old_imports(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert importlib.import_module(name) is not None


@pytest.mark.parametrize("path", CHAPTER_ATTRIBUTES)
def test_the_chapters_old_attributes(path):
    module, name = path.split(".")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert getattr(getattr(d2l, module), name) is not None


@pytest.mark.parametrize("old", sorted(d2l.MOVED))
def test_an_old_path_is_the_new_module_and_says_where_it_went(old, monkeypatch):
    new = d2l.MOVED[old]
    monkeypatch.delitem(sys.modules, f"d2lnets.{old}", raising=False)
    with pytest.warns(DeprecationWarning, match=rf"d2lnets\.{old} has moved to {new}: import it from there") as seen:
        module = importlib.import_module(f"d2lnets.{old}")
    assert seen[0].filename == __file__  # the warning points at the code that imported it
    assert module is importlib.import_module(new) and module.__spec__.name == new
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert importlib.import_module(f"d2lnets.{old}") is module  # (once)


def test_an_old_path_keeps_a_function_of_the_same_name(monkeypatch):
    summary = d2l.summary
    monkeypatch.delitem(sys.modules, "d2lnets.summary", raising=False)
    with pytest.warns(DeprecationWarning):
        import d2lnets.summary  # noqa: F401 - the import itself is what is tested
    assert d2l.summary is summary and callable(d2l.summary)


def test_monkeypatching_an_old_path_reaches_the_new_module(monkeypatch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = importlib.import_module("d2lnets.datasets")
    from d2lnets import data

    monkeypatch.setattr(old, "CIFAR10_LABELS", ["a"])
    assert data.CIFAR10_LABELS == ["a"]


@pytest.mark.parametrize("tool", ["check", "exercises", "setup", "notebooks", "colab", "train"])
def test_python_m_the_old_tool_still_runs(tool):
    result = subprocess.run([sys.executable, "-m", f"d2lnets.{tool}", "--help"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "usage:" in result.stdout, result.stderr


def test_the_d2lnets_command():
    result = subprocess.run([sys.executable, "-m", "d2lnets", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for command in ("setup", "exercises", "lab", "check", "reset", "hint", "progress", "train", "results", "bench"):
        assert f"  {command} " in result.stdout
    result = subprocess.run([sys.executable, "-m", "d2lnets", "nope"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "no command 'nope'" in result.stderr
