"""d2lnets — the package behind the course on classic convolutional networks.

    import d2lnets as d2l
    train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size=256)
    net = d2l.models.lenet(variant="modern")
    history = d2l.train_ch5(net, train_iter, test_iter, num_epochs=10, lr=0.1)

Every name the course uses is here, as ``d2l.<name>``. The code lives in subpackages, one layer
each (tools, course and checks, train, viz, models and data, analysis, core: an upper layer
imports lower ones, never the reverse); ``d2lnets/README.md`` says what each holds, and an
import contract in ``pyproject.toml`` keeps them so.
"""
import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

from . import checks, models
from .analysis import (
    confusion_matrix,
    conv_output_size,
    evaluate_accuracy,
    num_params,
    predict,
    receptive_field,
    summary,
)
from .checks.hints import hint
from .core import precision
from .core.config import Profile, default_device, profile, set_seed, try_gpu
from .course import Recipe, compare, list_recipes, recipe
from .data import (
    ChecksumError,
    DataNotFoundError,
    FashionMNISTLoader,
    ImageLoader,
    augment,
    get_fashion_mnist_labels,
    load_cifar10_tensors,
    load_data_cifar10,
    load_data_fashion_mnist,
    load_data_flowers102,
    load_data_image_folder,
    load_fashion_mnist_tensors,
    load_flowers102_tensors,
    load_image_folder_tensors,
)
from .models import LocalResponseNorm
from .train import (
    Accumulator,
    CheckpointError,
    History,
    Hook,
    ModelMismatchError,
    Timer,
    TrainingDivergedError,
    load_model,
    model_path,
    record_result,
    records,
    report,
    runs_dir,
    save_model,
    train_ch5,
    verdicts,
)
from .viz import (
    Animator,
    draw_architecture,
    draw_dense_block,
    one_cycle,
    plot_histories,
    plot_one_cycle,
    show_feature_maps,
    show_figure,
    show_filters,
    show_images,
    show_mistakes,
    show_predictions,
    show_receptive_field,
)

__version__ = "0.2.0"

__all__ = [
    # data
    "ChecksumError", "DataNotFoundError", "FashionMNISTLoader", "ImageLoader", "augment", "get_fashion_mnist_labels",
    "load_cifar10_tensors", "load_data_cifar10", "load_data_fashion_mnist", "load_data_flowers102",
    "load_data_image_folder", "load_fashion_mnist_tensors", "load_flowers102_tensors", "load_image_folder_tensors",
    # models and what they are
    "LocalResponseNorm", "models", "conv_output_size", "num_params", "receptive_field", "summary",
    # training
    "Accumulator", "CheckpointError", "History", "Hook", "Timer", "TrainingDivergedError", "evaluate_accuracy",
    "train_ch5", "precision", "Profile", "default_device", "profile", "set_seed", "try_gpu",
    # pictures
    "Animator", "confusion_matrix", "draw_architecture", "draw_dense_block", "one_cycle", "plot_histories",
    "plot_one_cycle", "predict",
    "show_feature_maps", "show_figure", "show_filters", "show_images", "show_mistakes", "show_predictions",
    "show_receptive_field",
    # saved models, records, recipes, the closing chapter
    "ModelMismatchError", "load_model", "model_path", "runs_dir", "save_model", "record_result", "records", "report",
    "verdicts",
    "Recipe", "list_recipes", "recipe", "compare",
    # exercises
    "checks", "hint",
]


# --- the module paths of d2lnets 0.1, kept for this release -------------------------------------
# Each old path is the very module of its new path (so monkeypatch and isinstance see one
# module); importing it warns once, naming the new path. ``python -m d2lnets.<tool>`` still runs
# the tool (now ``d2lnets <tool>``).
MOVED = {
    "_show": "d2lnets.viz.show", "_validate": "d2lnets.core.validate", "augment": "d2lnets.data.augment",
    "check": "d2lnets.tools.check", "checkpoint": "d2lnets.train.checkpoint", "cli": "d2lnets.tools.train_cli",
    "colab": "d2lnets.tools.colab", "compare": "d2lnets.course.compare", "config": "d2lnets.core.config",
    "datasets": "d2lnets.data", "diagram": "d2lnets.viz.diagram", "distributed": "d2lnets.train.distributed",
    "exercises": "d2lnets.tools.exercises", "graph": "d2lnets.analysis.graph", "layers": "d2lnets.models.layers",
    "learned": "d2lnets.viz.filters", "memory": "d2lnets.core.memory", "mistakes": "d2lnets.viz.mistakes",
    "notebooks": "d2lnets.tools.notebooks", "plot": "d2lnets.viz", "precision": "d2lnets.core.precision",
    "predictions": "d2lnets.analysis.predictions", "receptive": "d2lnets.viz.receptive",
    "recipes": "d2lnets.course.recipes", "records": "d2lnets.train.records", "reference": "d2lnets.course.reference",
    "results": "d2lnets.train.records", "saving": "d2lnets.train.saving", "schedule": "d2lnets.viz.schedule",
    "setup": "d2lnets.tools.setup", "shapes": "d2lnets.analysis.shapes", "summary": "d2lnets.analysis.summary",
}


def _importer_level() -> int:
    """The ``stacklevel`` that names the code importing an old path: past this module's frames and
    importlib's (the import system's own frames, which ``warnings`` skips itself, are not counted)."""
    frame, level = sys._getframe(2), 2  # (1: create_module, the caller of warnings.warn)
    while frame is not None:
        name = frame.f_code.co_filename
        if not ("importlib" in name and "_bootstrap" in name):
            if name not in (__file__, importlib.__file__):
                break
            level += 1
        frame = frame.f_back
    return level


class _OldPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``d2lnets.<old name>`` as the module of its new path (see :data:`MOVED`)."""

    def find_spec(self, name, path=None, target=None):
        head, _, old = name.partition(".")
        if head == __name__ and old in MOVED:  # (origin: the file `python -m` names in sys.argv[0])
            return importlib.util.spec_from_loader(name, self, origin=importlib.util.find_spec(MOVED[old]).origin)
        return None

    def create_module(self, spec):
        new = MOVED[spec.name.partition(".")[2]]
        warnings.warn(f"{spec.name} has moved to {new}: import it from there (the old path works in d2lnets "
                      f"{__version__} only)", DeprecationWarning, stacklevel=_importer_level())
        module = importlib.import_module(new)
        self._spec = module.__spec__  # (put back in exec_module: the import system sets the alias's)
        return module

    def exec_module(self, module):
        module.__spec__ = self._spec

    def get_code(self, name):  # python -m d2lnets.<tool>: the tool's main()
        new = MOVED[name.partition(".")[2]]
        return compile(f"import sys\nfrom {new} import main\nsys.exit(main())", f"<{name}, now {new}>", "exec")


class _Package(types.ModuleType):
    """This package: importing an old path must not replace the function of the same name
    (``d2l.summary``) by the module the import system binds there."""

    def __setattr__(self, name: str, value) -> None:
        if not (isinstance(value, types.ModuleType) and callable(self.__dict__.get(name))):
            super().__setattr__(name, value)


if not any(isinstance(finder, _OldPaths) for finder in sys.meta_path):
    sys.meta_path.insert(0, _OldPaths())
sys.modules[__name__].__class__ = _Package


def __getattr__(name: str):
    """``d2l.plot``, ``d2l.datasets``, ...: the old module attributes, through their new paths."""
    if name in MOVED:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
