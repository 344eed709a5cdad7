"""train_ch5 as the book's loop plus hooks: its body stays short, every concern is a hook with one
signature whose state a checkpoint saves, and in the accelerators' policy no hook makes the host wait."""
import ast
import inspect
import math
import textwrap
from types import SimpleNamespace

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import d2lnets as d2l
from d2lnets.train import checkpoint, hooks
from d2lnets.train.run import READ_EVERY


def _code_lines(fn) -> int:
    """Lines of code in ``fn``'s body: not blank, not comments, not its docstring."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(fn))))
    body = tree.body[0].body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    lines = inspect.getsource(inspect.unwrap(fn)).splitlines()
    first = body[0].lineno - 1
    return sum(1 for line in lines[first:] if line.strip() and not line.strip().startswith("#"))


def test_the_loop_is_short():
    n = _code_lines(d2l.train_ch5)
    print(f"train_ch5: {n} lines of code")
    assert n <= 40


def test_every_built_in_concern_is_a_hook_with_the_one_signature():
    methods = ["on_fit_start", "on_epoch_start", "on_step_end", "on_epoch_end", "on_fit_end", "state_dict",
               "load_state_dict"]
    from d2lnets.train.distributed import Group
    from d2lnets.train.records import RecordRun

    for hook in (hooks.StepPoints, hooks.DivergenceGuard, hooks.ShowProgress, checkpoint.Checkpoints, RecordRun, Group):
        assert issubclass(hook, d2l.Hook)
        for name in methods:
            assert len(inspect.signature(getattr(hook, name)).parameters) == (1 if name == "state_dict" else 2)


def _batches(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(8, 1, 28, 28, generator=g), torch.randint(0, 10, (8,), generator=g)) for _ in range(n)]


class Counter(d2l.Hook):
    """A hook of the caller's: counts steps, and keeps the count across a resume."""

    def __init__(self):
        self.steps = 0

    def on_step_end(self, run):
        assert isinstance(run.loss, torch.Tensor) and run.loss.dim() == 0  # the step's loss, on the device
        self.steps += 1

    def state_dict(self):
        return {"steps": self.steps}

    def load_state_dict(self, state):
        self.steps = state["steps"]


def test_a_checkpoint_keeps_each_hooks_own_state(tmp_path):
    batches, test = _batches(6), _batches(2, seed=1)
    d2l.set_seed(0)
    first = Counter()
    d2l.train_ch5(d2l.models.lenet(variant="modern"), batches, test, 2, lr=0.1, device="cpu", verbose=False,
                  checkpoint=tmp_path / "run.pt", hooks=[first])
    saved = checkpoint.read_checkpoint(tmp_path / "run.pt")
    assert saved["version"] == 2 and saved["hooks"]["Counter"] == {"steps": 12}
    assert set(saved["hooks"]) >= {"StepPoints", "DivergenceGuard", "ShowProgress", "Checkpoints", "RecordRun"}
    again = Counter()  # a resume of a finished run: nothing left to train, the count comes back
    d2l.train_ch5(d2l.models.lenet(variant="modern"), batches, test, 2, lr=0.1, device="cpu", verbose=False,
                  checkpoint=tmp_path / "run.pt", resume=True, hooks=[again])
    assert again.steps == 12


def test_a_version_1_checkpoint_is_refused_by_name(tmp_path):
    path = tmp_path / "old.pt"
    torch.save({"format": "d2lnets-model", "version": 1, "kind": "checkpoint", "meta": {}, "state_dict": {},
                "optimizer": {}, "history": {}, "loop": {}, "rng": {}}, path)
    with pytest.raises(d2l.CheckpointError, match=r"format version 1 .*reads version 2.*overwrite=True"):
        checkpoint.read_checkpoint(path)


class Syncs(TorchDispatchMode):
    """Counts the reads that make the host wait for the device: aten._local_scalar_dense (item(),
    int(), bool() of a tensor), and Tensor.tolist / .cpu / .item, patched (on the CPU the dispatch
    mode does not see those)."""

    def __init__(self):
        super().__init__()
        self.count, self.inside = 0, False  # inside: a patched call, counted there

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default and not self.inside:
            self.count += 1
        return func(*args, **(kwargs or {}))


def _data(kind: str, steps: int):
    """(network, train_iter, test_iter) for ``steps`` batches of 4: a list of batches, an in-memory
    loader with augmentation (random crop, flip, PCA lighting) and normalisation, or that loader
    seen as ImageNet batches (``compare.ImageNetBatches``: 3 channels, resized, normalised)."""
    g = torch.Generator().manual_seed(0)
    if kind == "list":
        net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 10))
        batches = [(torch.rand(4, 1, 4, 4, generator=g), torch.randint(0, 10, (4,), generator=g))
                   for _ in range(steps)]
        return net, batches, batches[:2]
    images = torch.randint(0, 256, (4 * steps, 6, 6), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (4 * steps,), generator=g)
    lighting = d2l.augment.pca_components(images[:, None].float() / 255)
    augment = d2l.augment.Augment(crop=6, padding=1, flip=True, lighting=lighting)
    train_iter = d2l.FashionMNISTLoader(images, labels, 4, shuffle=True, augment=augment, normalize=True)
    test_iter = d2l.FashionMNISTLoader(images[:8], labels[:8], 4, normalize=True)
    if kind == "loader":
        return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 10)), train_iter, test_iter
    from d2lnets.course import compare

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 5 * 5, 10))
    return net, compare.ImageNetBatches(train_iter, 5), compare.ImageNetBatches(test_iter, 5)


def _reads_per_epoch(monkeypatch, net, train_iter, test_iter) -> float:
    """Reads from the device per epoch of a 2-epoch train_ch5 run, counted both ways."""
    mode = Syncs()
    counted = {"tolist": 0, "cpu": 0, "item": 0}
    for name in counted:
        real = getattr(torch.Tensor, name)

        def counting(self, *args, _real=real, _name=name, **kwargs):
            counted[_name] += 1
            mode.inside = True
            try:
                return _real(self, *args, **kwargs)
            finally:
                mode.inside = False

        monkeypatch.setattr(torch.Tensor, name, counting)
    with mode:
        d2l.train_ch5(net, train_iter, test_iter, 2, lr=0.1, device="cpu", verbose=False, plot=False)
    print(f"dispatch {mode.count}, patched {counted}")
    return (mode.count + sum(counted.values())) / 2


@pytest.mark.parametrize("kind", ["list", "loader", "imagenet"])
@pytest.mark.parametrize("steps", [20, 200])
def test_in_the_accelerators_policy_an_epoch_reads_the_device_rarely(steps, kind, monkeypatch):
    """c + ceil(N/50) reads in an epoch of N steps (c: the epoch's results, points, evaluation and
    weights check; the first batch's checks), also with the in-memory loader's augmentation and
    normalisation and the closing chapter's ImageNet batches (the accelerators' way of cropping)."""
    monkeypatch.setitem(READ_EVERY, "cpu", 50)
    monkeypatch.setattr(d2l.augment, "CROP_BY_SLICES", set())
    per_epoch = _reads_per_epoch(monkeypatch, *_data(kind, steps))
    allowed = 6 + math.ceil(steps / 50)
    print(f"{kind}, {steps} steps an epoch: {per_epoch:.0f} reads an epoch; allowed {allowed}")
    assert per_epoch <= allowed


@pytest.mark.parametrize("what", ["a read every step", "the CPU's way of cropping"])
def test_the_count_catches_a_read_in_every_step(what, monkeypatch):
    """The count above fails a loop that reads the device at every step (the CPU's own policy), and
    an augmentation that reads its crop offsets for every batch (the CPU's way of cropping)."""
    if what == "a read every step":
        monkeypatch.setitem(READ_EVERY, "cpu", 1)
    else:
        monkeypatch.setitem(READ_EVERY, "cpu", 50)
    assert _reads_per_epoch(monkeypatch, *_data("loader", 100)) > 6 + math.ceil(100 / 50)


def test_a_slow_live_plot_is_not_redrawn_every_step(monkeypatch):
    """The live plot redraws at most once a second and spends at most a fifth of the time drawing: a
    figure that takes two seconds to draw is not drawn at every step."""
    clock = [0.0]
    monkeypatch.setattr(hooks.time, "perf_counter", lambda: clock[0])
    draws = []

    class SlowAnimator:
        def add(self, *args, **kwargs):
            pass

        def draw(self):
            draws.append(clock[0])
            clock[0] += 2.0  # drawing takes two seconds

    show = hooks.ShowProgress(verbose=False, plot=False)
    show.on_fit_start(SimpleNamespace(main=True))
    show.animator = SlowAnimator()
    history = SimpleNamespace(step=[], step_epoch=[], step_loss=[], step_acc=[])
    for step in range(200):  # a step of 0.1 s
        clock[0] += 0.1
        for name in ("step", "step_epoch", "step_loss", "step_acc"):
            getattr(history, name).append(step)
        show.on_step_end(SimpleNamespace(history=history, seen=None))
    steps_between = [round((b - a - 2.0) / 0.1) for a, b in zip(draws, draws[1:])]
    assert len(draws) >= 3 and min(steps_between) >= 80, steps_between  # 8 s of training per 2 s drawing
