"""Every public entry point against hostile and careless input (issue 17), as one table.

Each row is a call and what must come of it: an exception of a given type whose message holds a
given phrase (the mistake, named), or a result that passes a given test (an edge input handled
right). A regression shows up as the row's id. The tests after the table prove that a run that
diverges destroys no work, and that a failing chapter run keeps the chapter's earlier records.
"""
from __future__ import annotations

import contextlib
import copy
import functools
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import d2lnets as d2l
from d2lnets import augment, checks
from d2lnets.data import fashion_mnist as data_mod
from d2lnets.data import store
from d2lnets.tools import notebooks
from d2lnets.train.run import READ_EVERY


class Raises(NamedTuple):
    exc: type
    phrase: str


class Gives(NamedTuple):
    ok: Callable[[Any], bool]
    what: str


# --- what the rows use -------------------------------------------------------------------------

def batches(n=2, size=16, labels=10, X_dtype=torch.float32, y_dtype=torch.int64, seed=0):
    """``n`` synthetic Fashion-MNIST-shaped batches, as a list of (X, y)."""
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(size, 1, 28, 28, generator=g).to(X_dtype),
             torch.randint(0, labels, (size,), generator=g).to(y_dtype)) for _ in range(n)]


def lenet(**kwargs):
    d2l.set_seed(0)
    return d2l.models.lenet(variant="modern", **kwargs)


def fit(net=None, train=None, test=None, epochs=1, **kwargs):
    """train_ch5 on small synthetic data, quietly, on the CPU (lr=0.1 unless an optimizer is given)."""
    net = lenet() if net is None else net
    kwargs.setdefault("device", "cpu")
    if "optimizer" not in kwargs:
        kwargs.setdefault("lr", 0.1)
    return d2l.train_ch5(net, batches() if train is None else train, batches(1, seed=1) if test is None else test,
                         epochs, verbose=False, **kwargs)


def evaluate(net=None, data=None, **kwargs):
    return d2l.evaluate_accuracy(lenet() if net is None else net, batches(1) if data is None else data, **kwargs)


@functools.cache
def fashion():
    return d2l.load_fashion_mnist_tensors()


def loader(batch_size=32, **kwargs):
    t = fashion()
    return d2l.FashionMNISTLoader(t["test_images"][:100], t["test_labels"][:100], batch_size, **kwargs)


def with_gpus(count: int, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` on a machine with ``count`` CUDA devices, whatever this one has."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch.cuda, "is_available", lambda: count > 0)
        mp.setattr(torch.cuda, "device_count", lambda: count)
        return fn(*args, **kwargs)


def with_data_env(folder_contents: list[str] | None):
    """Load Fashion-MNIST with $D2LNETS_DATA naming a folder holding these files (None: no folder)."""
    real = next(p for p in map(data_mod._find, data_mod.data_dirs()) if p is not None)
    folder = Path(tempfile.mkdtemp()) / "fashion"
    if folder_contents is not None:
        folder.mkdir()
        for key in folder_contents:
            (folder / real[key].name).symlink_to(real[key])
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("D2LNETS_DATA", str(folder))
        return d2l.load_fashion_mnist_tensors(download=False)


def load_renamed(swap: tuple[str, str] | None = None, toggle_gz: str | None = None):
    """Load from a folder of the genuine files where two are swapped, or one has gained or lost its .gz."""
    real = next(p for p in map(data_mod._find, data_mod.data_dirs()) if p is not None)
    names = {key: path.name for key, path in real.items()}
    if swap:
        a, b = swap
        names[a], names[b] = names[b], names[a]
    if toggle_gz:
        name = names[toggle_gz]
        names[toggle_gz] = name.removesuffix(".gz") if name.endswith(".gz") else name + ".gz"
    folder = Path(tempfile.mkdtemp())
    for key, path in real.items():  # renamed files copied (a link would resolve to the cached original)
        if names[key] == path.name:
            (folder / names[key]).symlink_to(path)
        else:
            shutil.copy(path, folder / names[key])
    return d2l.load_fashion_mnist_tensors(folder, download=False)


def call_check(check, value):
    return check(value)


def on_meta(fn):
    """``fn`` of a LeNet built on the meta device (shapes, no values)."""
    with torch.device("meta"):
        net = lenet()
    return fn(net)


def book_lenet():
    """The book's LeNet as an nn.Sequential, so that ``net[0]`` is its first convolution."""
    d2l.set_seed(0)
    return nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.Sigmoid(), nn.AvgPool2d(2), nn.Conv2d(6, 16, 5),
                         nn.Sigmoid(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.Sigmoid(),
                         nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


def weights_view_after_training():
    """``net[0].weight.view(-1)``, which fails on weights left channels-last, after train_ch5 (which
    trains channels-last on the CPU by default)."""
    net = book_lenet()
    fit(net, channels_last=True)
    return net[0].weight.view(-1).shape


def tv_resnet_with(fc):
    import torchvision

    tv = torchvision.models.resnet18(weights=None)
    tv.fc = fc
    return d2l.models.from_torchvision(tv)


def with_nan():
    X = torch.rand(4, 3, 8, 8)
    X[1, 2, 3, 4] = float("nan")
    return X


def notes():
    """A learner's file that is not a checkpoint: it must survive train_ch5(checkpoint=it, overwrite=True)."""
    path = Path(tempfile.mkdtemp()) / "notes.txt"
    path.write_text("my notes")
    return path


class StateOf(d2l.Hook):
    """A hook whose state (saved by checkpoints) is ``state``."""

    def __init__(self, state):
        self.state = state

    def state_dict(self):
        return self.state


def first_batch(augment, **kwargs):
    """The first batch of a 100-image loader with ``augment``."""
    return next(iter(loader(augment=augment, **kwargs)))


def stays_in_train_mode_after_interrupt():
    def interrupted():
        yield batches(1)[0]
        raise KeyboardInterrupt

    net = lenet().train()
    with contextlib.suppress(KeyboardInterrupt):
        d2l.evaluate_accuracy(net, interrupted())
    return net.training


def reported_loss(reduction, lr=0.0):
    """The train loss train_ch5 reports for one epoch at lr=0 (weights unchanged) with ``reduction``."""
    h = fit(loss=nn.CrossEntropyLoss(reduction=reduction), lr=lr, precision="fp32")
    return h.train_loss[0]


def mean_cross_entropy():
    net = lenet()
    with torch.no_grad():
        return torch.stack([F.cross_entropy(net(X), y, reduction="sum") for X, y in batches()]).sum().item() / 32


class Tripwire:
    """A train_iter that must not be touched (an error must come before any training)."""

    def __len__(self):
        return 2

    def __iter__(self):
        raise AssertionError("training started before the test data were checked")


def other_optimizer():
    net = lenet()
    return fit(net, optimizer=torch.optim.SGD(lenet().parameters(), lr=0.1))


def other_scheduler():
    net = lenet()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(torch.optim.SGD(net.parameters(), lr=0.1), 1)
    return fit(net, optimizer=opt, scheduler=sched)


def lrn_on(x, **kwargs):
    return d2l.LocalResponseNorm(5, **kwargs)(x)


def close(a, b, tol=1e-4):
    return abs(a - b) <= tol * max(1.0, abs(b))


X4 = torch.rand(6, 3, 8, 8)
RESIDUAL, DENSE = d2l.models.Residual, d2l.models.DenseBlock

# (check, its expected thing, what it expects: "function", "class", "factory" or "factory or module")
CHECKS = [
    (checks.check_lrn, "lrn", "function"),
    (checks.check_dropout, "dropout_layer", "function"),
    (checks.check_pca_lighting, "pca_lighting", "function"),
    (checks.check_layer_cost, "layer_cost", "function"),
    (checks.check_receptive_field, "receptive_field", "function"),
    (checks.check_vgg_block, "vgg_block", "factory"),
    (checks.check_bottleneck_layer, "BottleneckLayer", "class"),
    (checks.check_bottleneck, "Bottleneck", "class"),
    (checks.check_rgb_pca, "rgb_pca", "function"),
    (checks.check_batch_norm, "BatchNorm2d", "class"),
    (functools.partial(checks.check_nin, nin_head=lambda c, n: None), "nin_block", "factory"),
    (functools.partial(checks.check_nin, lambda c, o, k, s, p: None), "nin_head", "factory"),
    (checks.check_inception, "Inception", "class"),
    (checks.check_resnext_block, "ResNeXtBlock", "class"),
    (checks.check_ten_crop, "ten_crop_predict", "function"),
    (checks.check_dense_block, "DenseBlock", "class"),
    (checks.check_residual, "Residual", "class"),
    (checks.check_modern_lenet, "modern_lenet", "factory or module"),
]


def check_rows():
    """None, a string, a class instead of a function or factory, a built module instead of the class."""
    rows = []
    for check, name, kind in CHECKS:
        cname = getattr(check, "__name__", None) or check.func.__name__
        rows += [
            pytest.param(functools.partial(call_check, check, None), Raises(AssertionError, "got None"),
                         id=f"{cname}(None)"),
            pytest.param(functools.partial(call_check, check, name), Raises(AssertionError, "without quotes"),
                         id=f"{cname}('{name}')"),
        ]
        if kind == "function":
            rows.append(pytest.param(functools.partial(call_check, check, nn.LocalResponseNorm),
                                     Raises(AssertionError, "got the class LocalResponseNorm"),
                                     id=f"{cname}(a class)"))
            rows.append(pytest.param(functools.partial(call_check, check, nn.LocalResponseNorm(5)),
                                     Raises(AssertionError, "got a built LocalResponseNorm layer"),
                                     id=f"{cname}(a built module)"))
        elif kind in ("factory", "class"):
            rows.append(pytest.param(functools.partial(call_check, check, nn.ReLU),
                                     Raises(AssertionError, "raised TypeError"), id=f"{cname}(nn.ReLU, a class)"))
            built = nn.Sequential(nn.Conv2d(1, 2, 3))
            rows.append(pytest.param(functools.partial(call_check, check, built),
                                     Raises(AssertionError, f"not {cname}({name}(...))"),
                                     id=f"{cname}(a built module)"))
        else:  # a built network is welcome; a class must still build the right thing
            rows.append(pytest.param(functools.partial(call_check, check, nn.Sequential),
                                     Raises(AssertionError, "has 0 layers"), id=f"{cname}(nn.Sequential, a class)"))
            rows.append(pytest.param(functools.partial(call_check, check, lenet()),
                                     Raises(AssertionError, "expected an nn.Sequential"),
                                     id=f"{cname}(a built LeNet)"))
    return rows


ROWS = [
    # --- destroys work / silently wrong: training ----------------------------------------------
    pytest.param(other_optimizer, Raises(ValueError, "built over another network"),
                 id="train_ch5: optimizer over another network's parameters"),
    pytest.param(other_scheduler, Raises(ValueError, "built on another optimizer"),
                 id="train_ch5: scheduler on another optimizer"),
    pytest.param(lambda: fit(scheduler=torch.optim.lr_scheduler.StepLR(torch.optim.SGD(lenet().parameters()), 1)),
                 Raises(ValueError, "train_ch5 builds its own SGD"), id="train_ch5: lr and a scheduler object"),
    pytest.param(lambda: reported_loss("sum"), Gives(lambda v: close(v, mean_cross_entropy()), "the mean loss"),
                 id="train_ch5: loss with reduction='sum' reports the mean"),
    pytest.param(lambda: reported_loss("mean"), Gives(lambda v: close(v, mean_cross_entropy()), "the mean loss"),
                 id="train_ch5: loss with reduction='mean'"),
    pytest.param(lambda: reported_loss("none"), Gives(lambda v: close(v, mean_cross_entropy()), "the mean loss"),
                 id="train_ch5: loss with reduction='none'"),
    pytest.param(stays_in_train_mode_after_interrupt, Gives(bool, "net back in training mode"),
                 id="evaluate_accuracy: KeyboardInterrupt restores the mode"),
    # --- labels and dtypes -----------------------------------------------------------------------
    pytest.param(lambda: fit(lenet(num_classes=5)), Raises(ValueError, "net has 5 outputs"),
                 id="train_ch5: labels 0-9 for a 5-class model"),
    pytest.param(lambda: evaluate(lenet(num_classes=5)), Raises(ValueError, "go from 0 to 9, but net has 5"),
                 id="evaluate_accuracy: labels 0-9 for a 5-class model"),
    pytest.param(lambda: fit(train=[(X, y - 1) for X, y in batches()]), Raises(ValueError, "class indices start at 0"),
                 id="train_ch5: negative labels"),
    pytest.param(lambda: fit(train=batches(y_dtype=torch.float32)), Raises(ValueError, "y.long()"),
                 id="train_ch5: float labels"),
    pytest.param(lambda: fit(train=batches(y_dtype=torch.int32)), Raises(ValueError, "int32"),
                 id="train_ch5: int32 labels"),
    pytest.param(lambda: fit(train=[(X, F.one_hot(y, 10)) for X, y in batches()]),
                 Raises(ValueError, "y.argmax(dim=1)"),
                 id="train_ch5: one-hot labels"),
    pytest.param(lambda: fit(train=[(X, y[:8]) for X, y in batches()]), Raises(ValueError, "16 images but y 8"),
                 id="train_ch5: fewer labels than images"),
    pytest.param(lambda: fit(lenet().double()), Raises(ValueError, "net.float()"), id="train_ch5: float64 model"),
    pytest.param(lambda: fit(lenet().to(torch.bfloat16)), Raises(ValueError, "torch.bfloat16"),
                 id="train_ch5: bf16 model"),
    pytest.param(lambda: evaluate(lenet().double()), Gives(lambda a: 0 <= a <= 1, "an accuracy"),
                 id="evaluate_accuracy: float64 model"),
    pytest.param(lambda: fit(train=batches(X_dtype=torch.uint8)), Raises(ValueError, "X.float() / 255"),
                 id="train_ch5: uint8 images"),
    pytest.param(lambda: evaluate(data=batches(1, X_dtype=torch.uint8)), Raises(ValueError, "X.float() / 255"),
                 id="evaluate_accuracy: uint8 images"),
    pytest.param(lambda: lenet()(torch.zeros(2, 1, 28, 28, dtype=torch.uint8)), Raises(ValueError, "X.float() / 255"),
                 id="LeNet: uint8 images"),
    pytest.param(lambda: fit(train=batches(X_dtype=torch.float64)), Gives(lambda h: h.num_epochs == 1, "trained"),
                 id="train_ch5: float64 images are converted"),
    pytest.param(lambda: fit(train=[(X.numpy(), y) for X, y in batches()]), Raises(TypeError, "torch.as_tensor"),
                 id="train_ch5: NumPy images"),
    # --- devices ------------------------------------------------------------------------------------
    pytest.param(lambda: with_gpus(0, fit, device="cuda"), Raises(ValueError, "no CUDA device"),
                 id="train_ch5: device='cuda' without CUDA"),
    pytest.param(lambda: with_gpus(0, evaluate, device="cuda"), Raises(ValueError, "no CUDA device"),
                 id="evaluate_accuracy: device='cuda' without CUDA"),
    pytest.param(lambda: with_gpus(0, lambda: loader().to("cuda")), Raises(ValueError, "no CUDA device"),
                 id="FashionMNISTLoader.to('cuda') without CUDA"),
    pytest.param(lambda: with_gpus(0, d2l.load_data_fashion_mnist, 32, num_train=64, num_test=64, device="cuda"),
                 Raises(ValueError, "no CUDA device"), id="load_data_fashion_mnist(device='cuda') without CUDA"),
    pytest.param(lambda: with_gpus(0, d2l.summary, lenet(), (1, 28, 28), device="cuda"),
                 Raises(ValueError, "no CUDA device"), id="summary(device='cuda') without CUDA"),
    pytest.param(lambda: with_gpus(1, fit, device="cuda:3"), Raises(ValueError, "torch sees 1"),
                 id="train_ch5: device='cuda:3' with one GPU"),
    pytest.param(lambda: fit(device="gpu"), Raises(ValueError, "not a device torch knows"),
                 id="train_ch5: device='gpu'"),
    # --- iterables ------------------------------------------------------------------------------------
    pytest.param(lambda: fit(train=(b for b in batches())), Gives(lambda h: h.num_epochs == 1, "trained"),
                 id="train_ch5: a generator"),
    pytest.param(lambda: fit(train=zip(*zip(*batches())), test=iter(batches(1))),
                 Gives(lambda h: h.num_epochs == 1, "trained"), id="train_ch5: zip and an iterator"),
    pytest.param(lambda: fit(train=(b for b in batches()), epochs=2), Raises(ValueError, "used up after one pass"),
                 id="train_ch5: a generator for 2 epochs"),
    pytest.param(lambda: fit(train=(b for b in batches()), scheduler="onecycle"), Raises(ValueError, "steps_per_epoch"),
                 id="train_ch5: onecycle on a generator"),
    pytest.param(lambda: fit(train=(b for b in batches()), scheduler="onecycle", steps_per_epoch=2),
                 Gives(lambda h: h.num_epochs == 1, "trained"), id="train_ch5: onecycle with steps_per_epoch"),
    pytest.param(lambda: fit(steps_per_epoch=5), Raises(ValueError, "has 2 batches"),
                 id="train_ch5: steps_per_epoch that contradicts len()"),
    pytest.param(lambda: evaluate(data=(b for b in batches(2))), Gives(lambda a: 0 <= a <= 1, "an accuracy"),
                 id="evaluate_accuracy: a generator"),
    pytest.param(lambda: fit(train=[(X, y, y) for X, y in batches()]), Raises(TypeError, "(X, y) pairs"),
                 id="train_ch5: 3-tuple batches"),
    pytest.param(lambda: fit(train=[{"image": X, "label": y} for X, y in batches()]),
                 Raises(TypeError, "a dict with keys ['image', 'label']"), id="train_ch5: dict batches"),
    pytest.param(lambda: fit(train=batches()[0]), Raises(TypeError, "for a single batch, [(X, y)]"),
                 id="train_ch5: one batch instead of a list of batches"),
    pytest.param(lambda: fit(train=torch.zeros(4, 1, 28, 28)), Raises(TypeError, "iterable of (X, y) batches"),
                 id="train_ch5: a tensor as train_iter"),
    pytest.param(lambda: fit(train=Tripwire(), test=[]), Raises(ValueError, "test_iter is empty"),
                 id="train_ch5: empty test_iter, before training"),
    pytest.param(lambda: fit(train=Tripwire(), test=iter([])), Raises(ValueError, "test_iter yielded no batches"),
                 id="train_ch5: empty test iterator, before training"),
    pytest.param(lambda: fit(train=[]), Raises(ValueError, "train_iter is empty"), id="train_ch5: empty train_iter"),
    pytest.param(lambda: evaluate(data=[]), Raises(ValueError, "data_iter is empty"),
                 id="evaluate_accuracy: empty data"),
    pytest.param(lambda: d2l.evaluate_accuracy(batches(1), lenet()), Gives(lambda a: 0 <= a <= 1, "an accuracy"),
                 id="evaluate_accuracy(data_iter, net): the first edition's order"),
    # --- optimizer, scheduler, loss, settings ---------------------------------------------------------
    pytest.param(lambda: fit(optimizer=torch.optim.Adam), Raises(TypeError, "the class Adam"),
                 id="train_ch5: optimizer class"),
    pytest.param(lambda: fit(lr=0.1, scheduler=torch.optim.lr_scheduler.StepLR), Raises(TypeError, "the class StepLR"),
                 id="train_ch5: scheduler class"),
    pytest.param(lambda: fit(loss=nn.CrossEntropyLoss), Raises(TypeError, "the class CrossEntropyLoss"),
                 id="train_ch5: loss class"),
    pytest.param(lambda: fit(loss=lambda y_hat, y: 1.0), Raises(TypeError, "must return a tensor"),
                 id="train_ch5: a loss that returns a float"),
    pytest.param(lambda: plateau_call(), Raises(ValueError, "ReduceLROnPlateau"), id="train_ch5: ReduceLROnPlateau"),
    pytest.param(lambda: fit(lr=-0.1), Raises(ValueError, "lr must be a number >= 0"), id="train_ch5: negative lr"),
    pytest.param(lambda: fit(lr="0.1"), Raises(ValueError, "lr must be"), id="train_ch5: lr as a string"),
    pytest.param(lambda: fit(channels_last="yes"), Raises(ValueError, "channels_last must be"),
                 id="train_ch5: channels_last='yes'"),
    pytest.param(lambda: fit(epochs=True), Raises(ValueError, "num_epochs must be a positive integer"),
                 id="train_ch5: num_epochs=True"),
    pytest.param(lambda: fit(epochs=np.int64(1)), Gives(lambda h: h.num_epochs == 1, "one epoch"),
                 id="train_ch5: num_epochs=np.int64(1)"),
    pytest.param(lambda: fit(epochs=torch.tensor(1)), Gives(lambda h: h.num_epochs == 1, "one epoch"),
                 id="train_ch5: num_epochs=torch.tensor(1)"),
    pytest.param(lambda: fit(net=nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.Flatten(0))),
                 Raises(ValueError, "class scores of shape [batch, classes]"), id="train_ch5: net returns 1-D"),
    pytest.param(lambda: d2l.train_ch5(batches(), lenet(), batches(1), 1, lr=0.1),
                 Raises(TypeError, "net must be the network to train"), id="train_ch5: arguments swapped"),
    # --- data -----------------------------------------------------------------------------------------
    pytest.param(lambda: with_data_env(None), Raises(d2l.DataNotFoundError, "no such folder exists"),
                 id="$D2LNETS_DATA: a missing folder"),
    pytest.param(lambda: with_data_env([]), Raises(d2l.DataNotFoundError, "holds none of the four files"),
                 id="$D2LNETS_DATA: an empty folder"),
    pytest.param(lambda: with_data_env(["train_images", "train_labels"]),
                 Raises(d2l.DataNotFoundError, "only 2 of the four files; missing: t10k-images"),
                 id="$D2LNETS_DATA: an incomplete folder"),
    pytest.param(lambda: with_data_env(list(data_mod.FILES)), Gives(lambda t: len(t["test_labels"]) == 10_000, "data"),
                 id="$D2LNETS_DATA: a complete folder"),
    pytest.param(lambda: d2l.load_fashion_mnist_tensors(tempfile.mkdtemp(), download=False),
                 Raises(d2l.DataNotFoundError, "holds none of the four files"), id="root: an empty folder"),
    pytest.param(lambda: load_renamed(swap=("train_images", "test_images")),
                 Raises(d2l.ChecksumError, "train and test files are swapped"), id="data: train and test swapped"),
    pytest.param(lambda: load_renamed(toggle_gz="train_labels"),
                 Raises(d2l.ChecksumError, "suffix. Rename it to train-labels-idx1-ubyte"),
                 id="data: a file that gained or lost its .gz suffix"),
    pytest.param(lambda: d2l.load_data_fashion_mnist(True), Raises(ValueError, "batch_size must be a positive integer"),
                 id="load_data_fashion_mnist(batch_size=True)"),
    pytest.param(lambda: len(next(iter(d2l.load_data_fashion_mnist(np.int64(64), num_train=128, num_test=64)[0]))[1]),
                 Gives(lambda n: n == 64, "batches of 64"), id="load_data_fashion_mnist(batch_size=np.int64(64))"),
    pytest.param(lambda: len(next(iter(loader(torch.tensor(32))))[1]), Gives(lambda n: n == 32, "batches of 32"),
                 id="FashionMNISTLoader(batch_size=torch.tensor(32))"),
    pytest.param(lambda: d2l.load_data_fashion_mnist(32, num_train=True), Raises(ValueError, "num_train must be"),
                 id="load_data_fashion_mnist(num_train=True)"),
    pytest.param(lambda: loader(resize=True), Raises(ValueError, "resize must be"),
                 id="FashionMNISTLoader(resize=True)"),
    pytest.param(lambda: loader(resize=(28.5, 28)), Raises(ValueError, "resize must be"),
                 id="FashionMNISTLoader(resize=(28.5, 28))"),
    pytest.param(lambda: loader(augment=5), Raises(TypeError, "augment must be"), id="FashionMNISTLoader(augment=5)"),
    pytest.param(lambda: loader(seed=0.5), Raises(ValueError, "seed must be an integer"),
                 id="FashionMNISTLoader(seed=0.5)"),
    pytest.param(lambda: d2l.get_fashion_mnist_labels("shirt"), Raises(ValueError, "integers 0-9"),
                 id="get_fashion_mnist_labels('shirt')"),
    pytest.param(lambda: d2l.get_fashion_mnist_labels([True]), Raises(ValueError, "integers 0-9"),
                 id="get_fashion_mnist_labels([True])"),
    pytest.param(lambda: d2l.get_fashion_mnist_labels(np.int64(3)), Gives(lambda v: v == ["dress"], "['dress']"),
                 id="get_fashion_mnist_labels(np.int64(3))"),
    # --- summary and shape arithmetic -------------------------------------------------------------------
    pytest.param(lambda: d2l.summary(lenet(), (1.5, 28, 28)), Raises(ValueError, "input_size must be"),
                 id="summary(input_size=(1.5, 28, 28))"),
    pytest.param(lambda: d2l.summary(lenet(), (np.int64(1), 28, torch.tensor(28))).total_params,
                 Gives(lambda n: n == 61_706, "61,706 parameters"), id="summary(input_size of NumPy/tensor ints)"),
    pytest.param(lambda: d2l.summary(lenet(), (1, 28, 28), dtype=torch.int64), Raises(ValueError, "floating-point"),
                 id="summary(dtype=torch.int64)"),
    pytest.param(lambda: d2l.summary(nn.Sequential(nn.Conv2d(3, 4, 3)), (1, 28, 28)),
                 Raises(ValueError, "does not take an input of shape [1, 1, 28, 28]"),
                 id="summary: input_size that does not fit the net"),
    pytest.param(lambda: d2l.summary("lenet", (1, 28, 28)), Raises(TypeError, "net must be"), id="summary('lenet')"),
    pytest.param(lambda: d2l.conv_output_size(np.int64(28), 5, torch.tensor(2), 1), Gives(lambda n: n == 28, "28"),
                 id="conv_output_size of NumPy/tensor ints"),
    pytest.param(lambda: d2l.conv_output_size(28, True), Raises(ValueError, "F must be a positive integer"),
                 id="conv_output_size(F=True)"),
    pytest.param(lambda: d2l.receptive_field(d2l.models.resnet18()), Raises(ValueError, "not be one chain"),
                 id="receptive_field(a ResNet)"),
    pytest.param(lambda: d2l.receptive_field(d2l.models.densenet()), Raises(ValueError, "not be one chain"),
                 id="receptive_field(a DenseNet)"),
    pytest.param(lambda: d2l.receptive_field(d2l.models.vgg11()), Gives(lambda f: f == 150, "150"),
                 id="receptive_field(VGG-11)"),
    pytest.param(lambda: d2l.receptive_field([3, 1]), Raises(ValueError, "for one layer: [(3, 1)]"),
                 id="receptive_field([3, 1])"),
    pytest.param(lambda: d2l.receptive_field(None), Raises(ValueError, "layers must be"), id="receptive_field(None)"),
    pytest.param(lambda: d2l.receptive_field([(np.int64(3), 1)] * 2), Gives(lambda f: f == 5, "5"),
                 id="receptive_field of NumPy ints"),
    # --- layers and augmentation ------------------------------------------------------------------------
    pytest.param(lambda: d2l.LocalResponseNorm(5, alpha=-1e-4), Raises(ValueError, "alpha must be a number >= 0"),
                 id="LocalResponseNorm(alpha<0)"),
    pytest.param(lambda: d2l.LocalResponseNorm(5, k=0), Raises(ValueError, "k must be a number > 0"),
                 id="LocalResponseNorm(k=0)"),
    pytest.param(lambda: d2l.LocalResponseNorm(5, beta=float("nan")), Raises(ValueError, "beta must be"),
                 id="LocalResponseNorm(beta=nan)"),
    pytest.param(lambda: lrn_on(torch.ones(1, 8, 2, 2, dtype=torch.long)), Raises(ValueError, "x.float()"),
                 id="LocalResponseNorm on integer input"),
    pytest.param(lambda: d2l.LocalResponseNorm(np.int64(5)).size, Gives(lambda s: s == 5 and type(s) is int, "5"),
                 id="LocalResponseNorm(size=np.int64(5))"),
    pytest.param(lambda: augment.pca_components((torch.rand(4, 3, 5, 5) * 255).to(torch.uint8))[0].max().item(),
                 Gives(lambda v: 0 < v < 1, "eigenvalues on the [0, 1] scale (uint8 divided by 255)"),
                 id="pca_components on uint8 images (divided by 255)"),
    pytest.param(lambda: augment.random_crop(X4, np.int64(4), padding=torch.tensor(1)).shape,
                 Gives(lambda s: s == (6, 3, 4, 4), "[6, 3, 4, 4]"), id="random_crop with NumPy/tensor ints"),
    pytest.param(lambda: augment.random_crop(X4, True), Raises(ValueError, "size must be a positive integer"),
                 id="random_crop(size=True)"),
    pytest.param(lambda: augment.random_horizontal_flip(X4, np.float64(0.5)).shape,
                 Gives(lambda s: s == X4.shape, "same shape"), id="random_horizontal_flip(p=np.float64(0.5))"),
    pytest.param(lambda: augment.random_horizontal_flip(X4, float("nan")), Raises(ValueError, "p (the probability"),
                 id="random_horizontal_flip(p=nan)"),
    pytest.param(lambda: augment.Augment(seed=0.5), Raises(ValueError, "seed must be an integer"),
                 id="Augment(seed=0.5)"),
    # --- models ----------------------------------------------------------------------------------------
    *[pytest.param(functools.partial(factory, **kwargs), Raises(ValueError, phrase), id=f"{factory.__name__}({arg})")
      for factory in (d2l.models.lenet, d2l.models.alexnet, d2l.models.vgg11, d2l.models.resnet18,
                      d2l.models.densenet)
      for arg, kwargs, phrase in (("num_classes=0", dict(num_classes=0), "num_classes must be a positive integer"),
                                  ("in_channels=0", dict(in_channels=0), "in_channels must be a positive integer"),
                                  ("num_classes=True", dict(num_classes=True), "num_classes must be"))],
    pytest.param(lambda: d2l.models.vgg("A", 10, 1, width_ratio=1000), Raises(ValueError, "width_ratio=1000"),
                 id="vgg(width_ratio=1000)"),
    pytest.param(lambda: d2l.models.vgg("A", 10, 1, width_ratio=float("inf")),
                 Raises(ValueError, "width_ratio must be"),
                 id="vgg(width_ratio=inf)"),
    pytest.param(lambda: d2l.models.alexnet(groups=3), Raises(ValueError, "groups=3 must divide"),
                 id="alexnet(groups=3)"),
    pytest.param(lambda: d2l.models.alexnet(dropout=1.5), Raises(ValueError, "dropout must be a number in [0, 1]"),
                 id="alexnet(dropout=1.5)"),
    pytest.param(lambda: d2l.models.ResNet(d2l.models.BasicBlock, [2, 2, 2]), Raises(ValueError, "four stages"),
                 id="ResNet(layers of three stages)"),
    pytest.param(lambda: d2l.models.densenet(block_config=()), Raises(ValueError, "block_config must"),
                 id="densenet(block_config=())"),
    pytest.param(lambda: d2l.models.lenet(np.int64(10), torch.tensor(1)).classifier[-1].out_features,
                 Gives(lambda n: n == 10, "10 outputs"), id="lenet(NumPy/tensor ints)"),
    pytest.param(lambda: lenet()(torch.zeros(2, 28, 28, 1)), Raises(ValueError, "X.permute(0, 3, 1, 2)"),
                 id="LeNet on a channels-last image"),
    pytest.param(lambda: d2l.models.resnet18(10, 3)(torch.zeros(1, 32, 32, 3)), Raises(ValueError, "channels-last"),
                 id="ResNet on a channels-last image"),
    # --- the rest of the API ------------------------------------------------------------------------------
    pytest.param(lambda: d2l.try_gpu("0"), Raises(ValueError, "i (the GPU's index) must be"), id="try_gpu('0')"),
    pytest.param(lambda: d2l.set_seed(1.5), Raises(ValueError, "seed must be an integer"), id="set_seed(1.5)"),
    pytest.param(lambda: d2l.set_seed(np.int64(3)), Gives(lambda r: r is None, "seeded"), id="set_seed(np.int64(3))"),
    pytest.param(lambda: d2l.History().final, Raises(ValueError, "holds no epoch yet"), id="History().final"),
    pytest.param(lambda: d2l.record_result("01_x", "net", 28, None), Raises(TypeError, "the History that train_ch5"),
                 id="record_result(history=None)"),
    pytest.param(lambda: d2l.plot_histories([d2l.History()]), Raises(TypeError, "{label: History}"),
                 id="plot_histories(a list)"),
    pytest.param(lambda: d2l.plot_histories({"a": fit()}, metrics=("loss",)), Raises(ValueError, "no metric 'loss'"),
                 id="plot_histories(metrics=('loss',))"),
    pytest.param(lambda: d2l.show_images(torch.rand(4, 1, 8, 8), 0, 2), Raises(ValueError, "num_rows must be"),
                 id="show_images(num_rows=0)"),
    *check_rows(),
    # --- issue 27: raw errors named, loaders that yield what they promise -------------------------------
    pytest.param(lambda: on_meta(fit), Raises(ValueError, "net's weights are on the meta device"),
                 id="train_ch5: a network on the meta device"),
    pytest.param(lambda: on_meta(evaluate), Raises(ValueError, "net.to_empty(device='cpu')"),
                 id="evaluate_accuracy: a network on the meta device"),
    pytest.param(weights_view_after_training, Gives(lambda s: s == (150,), "a view of the weights"),
                 id="train_ch5: net[0].weight.view(-1) works after training channels-last"),
    pytest.param(lambda: d2l.models.vgg(11), Raises(TypeError, "vgg('A'), or call vgg11()"), id="vgg(11)"),
    pytest.param(lambda: d2l.models.vgg([]), Raises(ValueError, "has no convolution"), id="vgg([])"),
    pytest.param(lambda: d2l.models.vgg(["M"]), Raises(ValueError, "has no convolution"), id="vgg(['M'])"),
    pytest.param(lambda: d2l.models.vgg([0, "M"]), Raises(ValueError, "channels (a positive int)"),
                 id="vgg([0, 'M'])"),
    pytest.param(lambda: d2l.models.vgg([16, "M"], 10, 1, variant="small").config,
                 Gives(lambda c: c == "custom", "a small VGG of a custom configuration"), id="vgg([16, 'M'], small)"),
    pytest.param(lambda: tv_resnet_with(nn.Sequential(nn.Dropout(0.2), nn.Linear(512, 10))),
                 Raises(ValueError, "fc.1.weight, fc.1.bias in their place"),
                 id="from_torchvision: a ResNet whose fc was replaced by a Sequential"),
    pytest.param(lambda: tv_resnet_with(nn.Linear(256, 10)), Raises(ValueError, "replace the layer on the result"),
                 id="from_torchvision: a ResNet whose fc takes other inputs"),
    pytest.param(lambda: tv_resnet_with(nn.Identity()), Raises(ValueError, "was its classifier replaced?"),
                 id="from_torchvision: a ResNet whose fc is nn.Identity"),
    pytest.param(lambda: tv_resnet_with(nn.Linear(512, 7)).fc.out_features, Gives(lambda n: n == 7, "7 classes"),
                 id="from_torchvision: a ResNet with a new fc of the same form"),
    pytest.param(lambda: d2l.summary(lenet(), (1, 28, 28), dtype=torch.float64),
                 Raises(ValueError, "dtype=torch.float64 but net's weights are torch.float32"),
                 id="summary(dtype=torch.float64) of a float32 net"),
    pytest.param(lambda: d2l.summary(lenet().double(), (1, 28, 28)).total_params,
                 Gives(lambda n: n == 61_706, "61,706 parameters"), id="summary of a float64 net"),
    pytest.param(lambda: augment.pca_components(with_nan()), Raises(ValueError, "NaN or infinite values"),
                 id="pca_components on images holding NaN"),
    *([pytest.param(lambda: checks.check_two_towers(lambda X, weight, bias, padding: torch.zeros(5)),
                    Raises(AssertionError, "two_towers returned shape [5]"), id="check_two_towers: a 1-D answer")]
      if hasattr(checks, "check_two_towers") else []),  # (chapter 7's exercises are being replaced)
    pytest.param(lambda: first_batch(lambda X: X[:3]), Raises(ValueError, "no longer match its 32 labels"),
                 id="ImageLoader: an augment that changes the batch size"),
    pytest.param(lambda: first_batch(lambda X: X.double()), Raises(ValueError, "returned torch.float64 images"),
                 id="ImageLoader: an augment that changes the dtype"),
    pytest.param(lambda: first_batch(lambda X: X * 255), Raises(ValueError, "returned values from 0 to 255"),
                 id="ImageLoader: an augment that scales to 0-255"),
    pytest.param(lambda: first_batch(lambda X: (X - 0.286) / 0.353), Raises(ValueError, "normalize=..."),
                 id="ImageLoader: an augment that normalises"),
    pytest.param(lambda: first_batch(lambda X: X.numpy()), Raises(ValueError, "returned ndarray, not a tensor"),
                 id="ImageLoader: an augment that returns an array"),
    pytest.param(lambda: first_batch(lambda X: X * float("nan")), Raises(ValueError, "from nan to nan"),
                 id="ImageLoader: an augment that returns NaN"),
    pytest.param(lambda: first_batch(augment.Augment(crop=24, padding=2))[0].shape,
                 Gives(lambda s: s == (32, 1, 24, 24), "cropped batches"), id="ImageLoader: a cropping augment"),
    pytest.param(lambda: first_batch(lambda X: (X + 0.2).clamp(max=1.2), normalize=True)[0].shape,
                 Gives(lambda s: s == (32, 1, 28, 28), "batches"),
                 id="ImageLoader: an augment within the tolerance, then normalised"),
    # --- issue 27: what the sweep of 454 probes found ------------------------------------------------------
    pytest.param(lambda: fit(device="meta"), Raises(ValueError, "device='meta' holds shapes without values"),
                 id="train_ch5(device='meta')"),
    pytest.param(lambda: evaluate(device="meta"), Raises(ValueError, "device='meta'"),
                 id="evaluate_accuracy(device='meta')"),
    pytest.param(lambda: fit(train=[(torch.zeros(0, 1, 28, 28), torch.zeros(0, dtype=torch.long))]),
                 Raises(ValueError, "the first batch of train_iter holds no examples"), id="train_ch5: an empty batch"),
    pytest.param(lambda: fit(hooks=[object()]), Raises(TypeError, "hooks[0] is <object object"),
                 id="train_ch5(hooks=[object()])"),
    pytest.param(lambda: fit(hooks=[d2l.Hook]), Raises(TypeError, "add the brackets: Hook()"),
                 id="train_ch5(hooks=[Hook]): the class"),
    pytest.param(lambda: fit(hooks=d2l.Hook()), Raises(TypeError, "hooks must be a list of hooks"),
                 id="train_ch5(hooks=Hook()): not in a list"),
    pytest.param(lambda: fit(hooks="progress"), Raises(TypeError, "hooks must be a list of hooks"),
                 id="train_ch5(hooks='progress')"),
    pytest.param(lambda: fit(hooks=[lambda run: None]), Raises(TypeError, "each hook is a d2l.Hook"),
                 id="train_ch5(hooks=[a function])"),
    pytest.param(lambda: fit(hooks=None), Gives(lambda h: h.num_epochs == 1, "trained"), id="train_ch5(hooks=None)"),
    pytest.param(lambda: fit(hooks=[StateOf("not a dict")], checkpoint=str(Path(tempfile.mkdtemp()) / "c.pt")),
                 Raises(TypeError, "the hook StateOf's state_dict() returned 'not a dict'"),
                 id="train_ch5: a hook whose state is not a dict, with a checkpoint"),
    pytest.param(lambda: fit(hooks=[StateOf({"f": open})], checkpoint=str(Path(tempfile.mkdtemp()) / "c.pt")),
                 Raises(TypeError, "weights_only=True"), id="train_ch5: a hook whose state holds a function"),
    pytest.param(lambda: fit(hooks=[StateOf({"t": torch.ones(2), "n": [1, 2.5, None]})],
                             checkpoint=str(Path(tempfile.mkdtemp()) / "c.pt")),
                 Gives(lambda h: h.num_epochs == 1, "trained"), id="train_ch5: a hook with tensors in its state"),
    pytest.param(lambda: fit(checkpoint=tempfile.mkdtemp()), Raises(ValueError, "is a folder; give the path of a file"),
                 id="train_ch5(checkpoint=a folder)"),
    pytest.param(lambda: fit(checkpoint=str(notes()), overwrite=True),
                 Raises(FileExistsError, "torch.save did not write"),
                 id="train_ch5(checkpoint=a learner's text file, overwrite=True): not replaced"),
    pytest.param(lambda: loader(normalize=(0.5, 0)), Raises(ValueError, "standard deviations above 0"),
                 id="ImageLoader(normalize=(0.5, 0)): a std of 0"),
    pytest.param(lambda: loader().set_epoch("x"), Raises(ValueError, "epoch must be"), id="ImageLoader.set_epoch('x')"),
    pytest.param(lambda: d2l.set_seed(2**70), Raises(ValueError, "torch's range"), id="set_seed(2**70)"),
    pytest.param(lambda: d2l.show_images(["a", "b"], 1, 2), Raises(TypeError, "image 0 is 'a'"),
                 id="show_images of strings"),
    pytest.param(lambda: d2l.show_images(torch.rand(4, 1, 8, 8), 1, 4, titles=["a"] * 3),
                 Raises(ValueError, "3 titles for the 4 images shown"), id="show_images with too few titles"),
]


def plateau_call():
    net = lenet()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    return fit(net, optimizer=opt, scheduler=torch.optim.lr_scheduler.ReduceLROnPlateau(opt))


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path, one_thread):
    """No $D2LNETS_DATA, the data cache restored afterwards, temporary folders under tmp_path."""
    monkeypatch.delenv("D2LNETS_DATA", raising=False)
    monkeypatch.setattr(store, "CACHE", dict(store.CACHE))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))


@pytest.mark.parametrize("call, expected", ROWS)
def test_bad_input(call, expected):
    if isinstance(expected, Raises):
        with pytest.raises(expected.exc) as err:
            call()
        assert expected.phrase in str(err.value), f"the message does not say {expected.phrase!r}: {err.value}"
    else:
        result = call()
        assert expected.ok(result), f"expected {expected.what}, got {result!r}"


# --- a run that diverges destroys no work ---------------------------------------------------------

def bn_net(seed=0):
    """Convolution, batch norm (buffers to restore), linear."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(4),
                         nn.Flatten(), nn.Linear(4 * 7 * 7, 10))


class FailsAt:
    """Cross-entropy, except at call ``at`` (1-based): a NaN loss, or (``grad=True``) a finite loss
    whose gradient is NaN (0 * sqrt(0) has the value 0 and the gradient 0 * inf)."""

    def __init__(self, at: int, grad: bool = False) -> None:
        self.at, self.grad, self.calls = at, grad, 0

    def __call__(self, y_hat, y):
        self.calls += 1
        loss = F.cross_entropy(y_hat, y)
        if self.calls != self.at:
            return loss
        return loss + 0 * torch.sqrt(y_hat - y_hat).sum() if self.grad else loss * float("nan")


def state(net, optimizer, scheduler):
    return copy.deepcopy((net.state_dict(), optimizer.state_dict(), scheduler.state_dict()))


def assert_same_state(got, want):
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=0, atol=0)


def run(net, optimizer, scheduler, epochs, loss=None, train=None):
    return d2l.train_ch5(net, batches(8) if train is None else train, batches(1, seed=1), epochs,
                         optimizer=optimizer, scheduler=scheduler, loss=loss, device="cpu", precision="fp32",
                         verbose=False)


def trained():
    """A trained network (with batch norm), its optimizer (with momentum) and scheduler."""
    net = bn_net()
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5)
    run(net, opt, sched, 1)
    return net, opt, sched


@pytest.mark.parametrize("at, grad, check_every", [
    (3, False, 1),          # the loss becomes NaN in the middle of an epoch
    (3, True, 1),           # the gradients become NaN while the loss stays finite
    (8, True, 1),           # ... at the last batch of the epoch
    (3, False, 25),         # the GPU path: the loss is looked at every 25 batches
    (3, True, 25),
], ids=["nan loss", "nan gradients", "nan gradients at the last batch", "nan loss, check every 25",
        "nan gradients, check every 25"])
def test_a_run_that_diverges_leaves_a_trained_network_as_it_was(at, grad, check_every, monkeypatch):
    monkeypatch.setitem(READ_EVERY, "cpu", check_every)
    net, opt, sched = trained()
    before = state(net, opt, sched)
    with pytest.raises(d2l.TrainingDivergedError, match="back as they were before this call to train_ch5") as err:
        run(net, opt, sched, 2, loss=FailsAt(at, grad))
    assert_same_state(state(net, opt, sched), before)
    assert err.value.history.num_epochs == 0
    run(net, opt, sched, 1)  # and it trains on
    assert all(torch.isfinite(p).all() for p in net.parameters())


@pytest.mark.parametrize("check_every", [1, 25])
def test_divergence_in_a_later_epoch_keeps_the_epochs_before_it(check_every, monkeypatch):
    monkeypatch.setitem(READ_EVERY, "cpu", check_every)
    net, opt, sched = trained()
    ref_net, ref_opt, ref_sched = trained()   # the same, again
    h = run(ref_net, ref_opt, ref_sched, 1)   # what one more good epoch gives
    with pytest.raises(d2l.TrainingDivergedError, match="at the end of epoch 1, the last complete one") as err:
        run(net, opt, sched, 3, loss=FailsAt(8 + 2))   # NaN at batch 2 of epoch 2
    assert_same_state(state(net, opt, sched), state(ref_net, ref_opt, ref_sched))
    assert err.value.history == h


def test_onecycle_divergence_restores_the_optimizers_own_settings():
    """OneCycleLR rewrites the optimizer's learning rate and momentum: they come back too."""
    net = bn_net()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    before = copy.deepcopy(opt.state_dict())
    with pytest.raises(d2l.TrainingDivergedError):
        d2l.train_ch5(net, batches(8), batches(1), 1, optimizer=opt, scheduler="onecycle", loss=FailsAt(4),
                      device="cpu", verbose=False)
    assert opt.state_dict()["param_groups"] == before["param_groups"]


def test_lazy_layers_get_their_weights_before_training_and_keep_them():
    d2l.set_seed(0)
    net = nn.Sequential(nn.LazyConv2d(4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10))
    with pytest.raises(d2l.TrainingDivergedError):
        d2l.train_ch5(net, batches(4), batches(1), 1, lr=0.1, loss=FailsAt(3), device="cpu", verbose=False)
    d2l.set_seed(0)
    fresh = nn.Sequential(nn.LazyConv2d(4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10))
    fresh(batches(1)[0][0])
    for a, b in zip(net.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)


# --- a failing chapter run keeps the chapter's records ----------------------------------------------

def test_a_failing_chapter_run_keeps_its_earlier_records(tmp_path, monkeypatch):
    import json

    monkeypatch.setattr(notebooks, "repo_root", lambda: tmp_path)
    monkeypatch.setenv("D2LNETS_RESULTS", "")   # main() sets it: put back afterwards
    records = tmp_path / ".results.jsonl"
    earlier = [{"chapter": "01_x", "model": "LeNet", "test_acc": 0.9}, {"chapter": "01_x", "wall_seconds": 60.0},
               {"chapter": "02_y", "model": "AlexNet", "test_acc": 0.8}]
    records.write_text("".join(json.dumps(r) + "\n" for r in earlier))

    def fails(path, profile):
        with open(os.environ["D2LNETS_RESULTS"], "a") as f:   # a record from before the failure
            f.write(json.dumps({"chapter": "01_x", "model": "half", "test_acc": 0.1}) + "\n")
        raise RuntimeError("a cell failed")

    monkeypatch.setattr(notebooks, "run_notebook", fails)
    with pytest.raises(RuntimeError, match="a cell failed"):
        notebooks.main([str(tmp_path / "01_x.ipynb")])
    assert notebooks._load_records(records) == earlier
    assert sorted(p.name for p in tmp_path.iterdir()) == [".results.jsonl"]

    def succeeds(path, profile):
        with open(os.environ["D2LNETS_RESULTS"], "a") as f:
            f.write(json.dumps({"chapter": "01_x", "model": "LeNet", "test_acc": 0.95}) + "\n")
        return 30.0

    monkeypatch.setattr(notebooks, "run_notebook", succeeds)
    notebooks.main([str(tmp_path / "01_x.ipynb")])
    assert notebooks._load_records(records) == [
        earlier[2], {"chapter": "01_x", "model": "LeNet", "test_acc": 0.95}, {"chapter": "01_x", "wall_seconds": 30.0}]


# --- issue 27: what happens around a learner ----------------------------------------------------------

def test_an_augment_is_checked_once_not_every_batch(monkeypatch):
    from d2lnets.data import loader as loader_mod

    calls = []
    real = loader_mod._check_augmented
    monkeypatch.setattr(loader_mod, "_check_augmented", lambda *a: calls.append(1) or real(*a))
    train = loader(16, augment=augment.Augment(flip=True))
    for _ in range(2):
        assert len(list(train)) == 7
    assert calls == [1]


class SizesSeen:
    """Cross-entropy that notes every training batch's size."""

    def __init__(self):
        self.sizes = []

    def __call__(self, y_hat, y):
        self.sizes.append(len(y))
        return F.cross_entropy(y_hat, y)


@pytest.mark.parametrize("kind", ["FashionMNISTLoader", "DataLoader"])
def test_a_last_batch_of_one_with_batch_norm_is_left_out_and_said_once(kind, capsys):
    """33 examples in batches of 16: the last batch holds 1, which batch normalisation cannot train on."""
    t = fashion()
    if kind == "DataLoader":
        images = t["test_images"][:33].float().div(255).unsqueeze(1)
        dataset = torch.utils.data.TensorDataset(images, t["test_labels"][:33])
        train = torch.utils.data.DataLoader(dataset, batch_size=16)
    else:
        train = d2l.FashionMNISTLoader(t["test_images"][:33], t["test_labels"][:33], 16)
    assert len(train) == 3
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.BatchNorm1d(4), nn.Linear(4, 10))
    seen = SizesSeen()
    h = d2l.train_ch5(net, train, batches(1), 2, lr=0.1, loss=seen, device="cpu", verbose=False)
    assert h.num_epochs == 2 and seen.sizes == [16, 16, 16, 16]
    said = [line for line in capsys.readouterr().out.splitlines() if "batch normalisation" in line]
    assert len(said) == 1 and "holds 1 example" in said[0] and "drop_last=True" in said[0], said
    # a network without batch normalisation trains on that example
    seen = SizesSeen()
    d2l.train_ch5(lenet(), train, batches(1), 1, lr=0.1, loss=seen, device="cpu", verbose=False)
    assert seen.sizes == [16, 16, 1]


def test_batches_of_one_only_with_batch_norm_say_what_to_do():
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 8), nn.BatchNorm1d(8), nn.Linear(8, 10))
    with pytest.raises(ValueError, match="every batch held one example.*batch size of 2 or more"):
        fit(net, train=batches(3, size=1))


def learner_copies(tmp_path):
    """The course's exercises as a learner has them: exercises/ written from the chapters."""
    from d2lnets.tools import exercises

    root = Path(__file__).resolve().parent.parent
    exercises.sync(root / "chapters", tmp_path / "exercises")
    return tmp_path / "exercises"


def test_an_unreadable_copy_is_named_kept_and_the_other_chapters_checked(tmp_path, monkeypatch, capsys):
    from d2lnets.tools import check, exercises

    copies = learner_copies(tmp_path)
    cut = copies / "03_vgg.ipynb"
    (copies / ".ipynb_checkpoints").mkdir()
    (copies / ".ipynb_checkpoints" / "03_vgg-checkpoint.ipynb").write_bytes(cut.read_bytes())
    cut.write_bytes(cut.read_bytes()[:3000])            # a save cut short: not valid JSON
    (copies / "04_resnet.ipynb").write_text("[]")      # JSON, but not a notebook
    before = {p.name: p.read_bytes() for p in copies.iterdir() if p.is_file()}
    monkeypatch.chdir(tmp_path)

    assert check.main([]) == 1
    out = capsys.readouterr().out.splitlines()
    (vgg,) = [line for line in out if "03_vgg" in line]
    assert vgg.startswith("exercises/03_vgg.ipynb cannot be read: it is not valid JSON (")
    assert "a save cut short?" in vgg
    assert "JupyterLab's last checkpoint of it is exercises/.ipynb_checkpoints/03_vgg-checkpoint.ipynb" in vgg
    (resnet,) = [line for line in out if "04_resnet" in line]
    assert resnet == ("exercises/04_resnet.ipynb cannot be read: it is JSON (a list) but not a Jupyter notebook, "
                      "which is a JSON object with cells, metadata and nbformat")
    for other in ("01_lenet", "02_alexnet", "05_densenet", "06_comparison"):
        assert any(line.startswith(f"{other}  ") and "not written yet" in line for line in out), other
    assert "2 notebooks could not be checked" in out[-1]

    messages = {m.path.name: m for m in exercises.sync(Path(__file__).resolve().parent.parent / "chapters", copies)}
    for name in ("03_vgg.ipynb", "04_resnet.ipynb"):
        assert messages[name].status == "unreadable" and "your copy cannot be read" in messages[name].text
        assert "changed" not in messages[name].text and "make reset NB=0" in messages[name].text
    assert {p.name: p.read_bytes() for p in copies.iterdir() if p.is_file()} == before
    assert not list(copies.glob("*.updated*"))


def learner_notebook(tmp_path, exercise_source):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["setup"]}),
                nbformat.v4.new_code_cell(exercise_source, metadata={"tags": ["exercise"]}),
                nbformat.v4.new_code_cell("assert x == 2, 'x should be 2'", metadata={"tags": ["check"]})]
    (tmp_path / "exercises").mkdir()
    nbformat.write(nb, tmp_path / "exercises" / "01_x.ipynb")


def test_an_exercise_that_calls_exit_is_reported_not_passed(tmp_path, monkeypatch, capsys):
    from d2lnets.tools import check

    learner_notebook(tmp_path, "exit()")
    monkeypatch.chdir(tmp_path)
    assert check.main([]) == 1
    out = capsys.readouterr().out
    assert "called exit() or sys.exit() (None), which would stop the check: take the call out" in out


@pytest.mark.parametrize("argv, says", [
    (["--model", "lenet", "--epochs", "0"], "num_epochs must be a positive integer, got 0"),
    (["--model", "lenet", "--device", "gpu"], "device='gpu' is not a device torch knows"),
    (["--model", "lenet", "--batch-size", "0"], "batch_size must be a positive integer, got 0"),
    (["--model", "lenet", "--variant", "bogus"], "variant must be one of"),
])
def test_the_train_command_refuses_with_one_line(argv, says, tmp_path, monkeypatch, capsys):
    from d2lnets.tools.train_cli import train_main

    monkeypatch.setenv("D2LNETS_RUN_LOG", str(tmp_path / "runs.jsonl"))
    monkeypatch.setenv("D2LNETS_PROFILE", "smoke")
    assert train_main([*argv, "--num-train", "64", "--num-test", "32"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and says in err and "Traceback" not in err


def test_results_refuses_a_missing_or_unreadable_notebook_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(notebooks, "repo_root", lambda: tmp_path)
    monkeypatch.setenv("D2LNETS_RESULTS", "")   # main() sets it: put back afterwards
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.ipynb").write_text("{")
    assert notebooks.main(["nope.ipynb"]) == 2
    assert capsys.readouterr().err.strip() == ("error: nope.ipynb cannot be read: it cannot be opened "
                                               "(FileNotFoundError: No such file or directory)")
    assert notebooks.main(["bad.ipynb"]) == 2
    assert "error: bad.ipynb cannot be read: it is not valid JSON" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.ipynb"]


def test_learner_copies_go_in_a_folder_not_over_a_file(tmp_path):
    from d2lnets.tools import exercises

    (tmp_path / "exercises").write_text("my notes")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        exercises.sync(Path(__file__).resolve().parent.parent / "chapters", tmp_path / "exercises")
    assert (tmp_path / "exercises").read_text() == "my notes"


def test_weights_of_another_variant_of_the_same_network_are_not_loaded(tmp_path, monkeypatch):
    """LeNet (modern) and LeNet (d2l) have the same parameter shapes, not the same network."""
    monkeypatch.setenv("D2LNETS_RUNS", str(tmp_path))
    d2l.save_model(lenet(), "01_x", profile="cpu")
    before = (tmp_path / "01_x-cpu.pt").read_bytes()
    book = d2l.models.lenet(variant="d2l")
    weights = copy.deepcopy(book.state_dict())
    with pytest.raises(d2l.ModelMismatchError, match=r"holds LeNet \(modern\), but net is LeNet \(d2l\)"):
        d2l.load_model(book, "01_x", profile="cpu")
    assert all(torch.equal(a, b) for a, b in zip(book.state_dict().values(), weights.values()))
    assert (tmp_path / "01_x-cpu.pt").read_bytes() == before
    assert d2l.load_model(lenet(), "01_x", profile="cpu")["model"] == "LeNet (modern)"


def test_a_legend_of_one_name_is_one_line_not_its_letters():
    assert d2l.Animator(legend="loss").legend == ["loss"]
    assert d2l.Animator(legend=("loss", "acc")).legend == ["loss", "acc"]
