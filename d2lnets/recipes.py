"""What each chapter trains, in each run profile: one table of plain data, read by the chapters and
by ``benchmarks/``.

    R = d2l.recipe("04_resnet")                    # the main run, in the current profile
    R.image_size, R.batch_size, R.num_epochs, R.lr, R.momentum, R.schedule
    net = R.make_net()                             # d2l.models.resnet18(10, 1, variant="d2l")
    D = d2l.recipe("04_resnet", "degradation")     # an experiment (also R.experiments["degradation"])

A value in the table is either one value for every profile or a dict by profile
(``{"smoke": 1, "cpu": 3, "full": 10}``); a profile the dict leaves out takes the field's default.
A dict whose keys are not all profile names (``model_args``, ``options``) is a value.

Defaults: 28 px (Fashion-MNIST's own size), SGD without momentum or weight decay, no schedule,
seed 0, and the profile's subset of the data (``d2l.profile().num_train``: all of it, except in the
``smoke`` profile).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .config import PROFILES, Profile, profile as current_profile

__all__ = ["RECIPES", "Recipe", "list_recipes", "recipe"]

ONECYCLE = "onecycle"

# -- the table -------------------------------------------------------------------------------------
RECIPES: dict[str, dict[str, Any]] = {
    "01_lenet": dict(
        title="LeNet (modern)", model="lenet", variant="modern", batch_size=256,
        num_epochs={"smoke": 1, "cpu": 10, "full": 10},
        lr=0.1, momentum=0.9, schedule=ONECYCLE,
        experiments={
            # the training loop written out by hand, against train_ch5, for one epoch
            "by_hand": dict(model="lenet", variant="modern", batch_size=128, num_train=1024, num_test=256,
                            num_epochs=1, lr=0.1, momentum=0.9, schedule=ONECYCLE, seed=None),
        }),
    "02_alexnet": dict(
        title={"smoke": "AlexNet small", "cpu": "AlexNet small", "full": "AlexNet (book)"},
        model="alexnet", variant={"smoke": "small", "cpu": "small", "full": "d2l"},
        image_size={"smoke": 32, "cpu": 32, "full": 224}, batch_size=128,
        num_epochs={"smoke": 1, "cpu": 3, "full": 10},
        lr={"smoke": 0.05, "cpu": 0.05, "full": 0.01},            # full: the book's recipe
        momentum={"smoke": 0.9, "cpu": 0.9, "full": 0.0},
        schedule={"smoke": ONECYCLE, "cpu": ONECYCLE, "full": None},
        experiments={
            # ReLU against tanh in a four-layer CNN (the chapter's four_layer_cnn)
            "activation": dict(batch_size=128, num_epochs={"smoke": 2, "cpu": 6, "full": 6},
                               num_train={"smoke": 512, "cpu": 4_000, "full": 4_000},
                               num_test={"smoke": 256, "cpu": 1_000, "full": 1_000},
                               lr=0.05, momentum=0.9),
            # overlapping pooling, dropout and augmentation in the chapter's mini_alexnet
            "mini_alexnet": dict(batch_size=64, num_epochs={"smoke": 1, "cpu": 20, "full": 20},
                                 num_train={"smoke": 512, "cpu": 2_000, "full": 2_000},
                                 num_test={"smoke": 256, "cpu": 2_000, "full": 2_000},
                                 optimizer="adam", lr=1e-3,
                                 options=dict(dropout=0.5, augment=dict(crop=28, padding=2, flip=True,
                                                                        alpha_std=0.1, seed=0))),
        }),
    "03_vgg": dict(
        title={"smoke": "VGG-11 CPU-sized", "cpu": "VGG-11 CPU-sized", "full": "VGG-11/4 (book)"},
        # smoke, cpu: VGG-11/4 with batch norm and a 128-256-10 classifier for 32 px inputs;
        # full: the book's VGG-11 with a quarter of the channels, initialised as the book does
        model="vgg11", variant={"smoke": "small", "cpu": "small", "full": "d2l"},
        model_args={"smoke": {}, "cpu": {}, "full": dict(width_ratio=4)},
        image_size={"smoke": 32, "cpu": 32, "full": 224}, batch_size=128,
        num_epochs={"smoke": 1, "cpu": 8, "full": 10},
        lr={"smoke": 0.1, "cpu": 0.1, "full": 0.05},
        momentum={"smoke": 0.9, "cpu": 0.9, "full": 0.0},
        weight_decay={"smoke": 5e-4, "cpu": 5e-4, "full": 0.0},
        schedule={"smoke": ONECYCLE, "cpu": ONECYCLE, "full": None},
        experiments={
            # configuration A against A-LRN, both CPU-sized (the chapter's cpu_vgg)
            "lrn": dict(image_size=32, batch_size=128, num_epochs={"smoke": 1, "cpu": 3, "full": 10},
                        num_train={"smoke": 512, "cpu": 12_000, "full": None},
                        lr=0.1, momentum=0.9, weight_decay=5e-4, schedule=ONECYCLE,
                        options=dict(configs=("A", "A-LRN"))),
        }),
    "04_resnet": dict(
        title="ResNet-18 (book)", model="resnet18", variant="d2l",
        image_size={"smoke": 32, "cpu": 48, "full": 96},
        batch_size={"smoke": 128, "cpu": 128, "full": 256},
        num_epochs={"smoke": 1, "cpu": 3, "full": 10}, lr=0.05,
        momentum={"smoke": 0.9, "cpu": 0.9, "full": 0.0},
        schedule={"smoke": ONECYCLE, "cpu": ONECYCLE, "full": None},
        experiments={
            # plain nets of 8 and 32 layers against a residual net of 32 (smoke: the profile's subset)
            "degradation": dict(batch_size=128, num_epochs={"smoke": 1, "cpu": 2, "full": 2},
                                num_train={"cpu": 6_000, "full": 6_000}, num_test={"cpu": 2_000, "full": 2_000},
                                lr=0.1, momentum=0.9, schedule=ONECYCLE),
        }),
    "05_densenet": dict(
        title="DenseNet (book)", model="densenet",
        image_size={"smoke": 32, "cpu": 32, "full": 96},
        batch_size={"smoke": 128, "cpu": 128, "full": 256},
        num_epochs={"smoke": 1, "cpu": 2, "full": 10}, lr=0.1,
        momentum={"smoke": 0.9, "cpu": 0.9, "full": 0.0},
        schedule={"smoke": ONECYCLE, "cpu": ONECYCLE, "full": None},
        experiments={
            # ResNet-18 against DenseNet at one budget; DenseNet trains at the main run's lr, and
            # reuses the main run where that was trained the same way
            "comparison": dict(title="ResNet-18 (book)", model="resnet18", variant="d2l",
                               image_size=32, batch_size=128, num_epochs={"smoke": 1, "cpu": 2, "full": 2},
                               lr=0.05, momentum=0.9, schedule=ONECYCLE,
                               options=dict(reuse_main_run={"smoke": True, "cpu": True, "full": False})),
        }),
}

_DEFAULTS: dict[str, Any] = dict(
    title=None, model=None, variant=None, model_args={}, image_size=28, batch_size=None, num_epochs=None,
    optimizer="sgd", lr=None, momentum=0.0, weight_decay=0.0, schedule=None, num_train=None, num_test=None,
    seed=0, options={},
)
_FROM_PROFILE = ("num_train", "num_test")   # default: the profile's subset


@dataclass(frozen=True)
class Recipe:
    """What one run trains, resolved for one profile (see the module's docstring)."""

    name: str
    profile: str
    title: str
    model: str | None                # a factory of d2l.models (None: a network the chapter builds)
    variant: str | None
    model_args: dict
    image_size: int
    batch_size: int
    num_epochs: int
    optimizer: str                   # "sgd" or "adam"
    lr: float
    momentum: float
    weight_decay: float
    schedule: str | None             # "onecycle" or None (a constant learning rate)
    num_train: int | None            # None: the whole training set
    num_test: int | None
    seed: int | None
    options: dict = field(default_factory=dict)        # what only this experiment needs
    experiments: dict = field(default_factory=dict, repr=False)

    def make_net(self):
        """The recipe's network, for Fashion-MNIST (1 channel, 10 classes)."""
        if self.model is None:
            raise ValueError(f"recipe {self.name!r} trains a network its chapter builds; it names no factory")
        from . import models
        kwargs = dict(self.model_args)
        if self.variant is not None:
            kwargs["variant"] = self.variant
        return models.get_model(self.model, num_classes=10, in_channels=1, **kwargs)


def list_recipes() -> list[str]:
    """The chapters' recipe names."""
    return list(RECIPES)


def _by_profile(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and set(value) <= set(PROFILES)


def _resolve(value: Any, key: str, prof: Profile) -> Any:
    if _by_profile(value):
        if prof.name in value:
            value = value[prof.name]
        elif key in _FROM_PROFILE:
            return getattr(prof, key)
        else:
            return _DEFAULTS.get(key)
    if isinstance(value, dict):
        return {k: _resolve(v, k, prof) if _by_profile(v) else v for k, v in value.items()}
    return value


def _as_profile(prof: Profile | str | None) -> Profile:
    if isinstance(prof, Profile):
        return prof
    if prof is None:
        return current_profile()
    if prof not in PROFILES:
        raise ValueError(f"profile={prof!r} is not a profile; choose one of {', '.join(PROFILES)}")
    return current_profile(prof)   # the profile of that name, with its subset of the data


def _build(name: str, entry: dict, prof: Profile, experiments: dict) -> Recipe:
    unknown = set(entry) - set(_DEFAULTS) - {"experiments"}
    if unknown:
        raise ValueError(f"recipe {name!r} has unknown fields {sorted(unknown)}; the fields are {sorted(_DEFAULTS)}")
    values = {}
    for key, default in _DEFAULTS.items():
        if key in entry:
            values[key] = _resolve(entry[key], key, prof)
        else:
            values[key] = getattr(prof, key) if key in _FROM_PROFILE else default
    values["title"] = values["title"] or name
    return Recipe(name=name, profile=prof.name, experiments=experiments, **values)


def recipe(name: str, experiment: str | None = None, *, profile: Profile | str | None = None) -> Recipe:
    """What chapter ``name`` trains in the current profile (or ``profile``): its main run, or one
    of its experiments. ``d2l.recipe("04_resnet").batch_size``;
    ``d2l.recipe("04_resnet", "degradation").num_train``."""
    if name not in RECIPES:
        raise ValueError(f"no recipe {name!r}; the recipes are {', '.join(RECIPES)}")
    prof = _as_profile(profile)
    entry = RECIPES[name]
    table = entry.get("experiments", {})
    if experiment is not None and experiment not in table:
        raise ValueError(f"recipe {name!r} has no experiment {experiment!r}; its experiments are "
                         f"{', '.join(table) or 'none'}")
    experiments = {key: _build(f"{name}/{key}", e, prof, {}) for key, e in table.items()}
    if experiment is not None:
        return experiments[experiment]
    return _build(name, entry, prof, experiments)
