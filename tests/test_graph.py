"""Whole steps replayed from a CUDA graph (d2lnets.train.graph), tested without a GPU: SGD's
arithmetic with the learning rate and momentum in tensors against torch's SGD, bit for bit; the
whole captured path on the CPU through a stand-in for the graph that replays the recorded step
eagerly, against the eager loop, bit for bit; and the capture is never reached off CUDA."""
import types

import pytest
import torch

import d2lnets as d2l
from d2lnets.train import graph, run

pytestmark = pytest.mark.usefixtures("one_thread")


def _lenet(seed):
    d2l.set_seed(seed)
    return d2l.models.lenet(variant="modern")


def _batches(n, size=16, seed=0, last=None):
    g = torch.Generator().manual_seed(seed)
    sizes = [size] * n + ([last] if last else [])
    return [(torch.rand(b, 1, 28, 28, generator=g), torch.randint(0, 10, (b,), generator=g)) for b in sizes]


@pytest.mark.parametrize("options, peak", [(dict(momentum=0.9, weight_decay=5e-4), 0.1),
                                           (dict(momentum=0.9, nesterov=True), 0.1),
                                           (dict(momentum=0.9, dampening=0.1), 0.1),
                                           (dict(momentum=0.9, maximize=True), 1e-3),  # (uphill: a small step)
                                           (dict(), 0.1)])
def test_sgd_with_tensor_lr_and_momentum_is_torchs_sgd_bit_for_bit_under_one_cycle(options, peak):
    """sgd_step, its learning rate and momentum in 0-dim tensors filled from the groups that
    OneCycleLR writes, gives torch.optim.SGD's weights exactly, step after step."""
    ours, theirs = _lenet(0), _lenet(0)
    opts = [torch.optim.SGD(net.parameters(), lr=peak, **options) for net in (ours, theirs)]
    schedules = [torch.optim.lr_scheduler.OneCycleLR(o, max_lr=peak, total_steps=30,
                                                     cycle_momentum=bool(options.get("momentum"))) for o in opts]
    lr, momentum = torch.zeros(()), torch.zeros(())
    for i, (X, y) in enumerate(_batches(25)):
        for net, opt in zip((ours, theirs), opts):
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(net(X), y).backward()
        if i == 0:  # the first step makes the momentum buffers (as the eager warm-up does)
            opts[0].step()
        else:
            group = opts[0].param_groups[0]
            params = [p for p in group["params"] if p.grad is not None]
            bufs = [opts[0].state[p]["momentum_buffer"] for p in params] if group["momentum"] else None
            lr.fill_(group["lr"])
            momentum.fill_(group["momentum"])
            graph.sgd_step(params, [p.grad for p in params], bufs, lr, momentum, weight_decay=group["weight_decay"],
                           dampening=group["dampening"], nesterov=group["nesterov"], maximize=group["maximize"])
        opts[1].step()
        for s in schedules:
            s.step()
        for a, b in zip(ours.parameters(), theirs.parameters()):
            assert torch.isfinite(a).all() and torch.equal(a, b), f"step {i}"
    assert opts[0].param_groups[0]["lr"] != peak  # the schedule moved it


class Replayed:
    """A stand-in for CUDA graphs on the CPU: recording keeps the step, replaying runs it eagerly."""

    records = replays = 0

    @classmethod
    def record(cls, body):
        cls.records += 1
        return body

    @classmethod
    def replay(cls, step):
        cls.replays += 1
        step()


@pytest.fixture
def captured_on_the_cpu(monkeypatch):
    """train_ch5 on the CPU taking the captured path (the stand-in graph)."""
    monkeypatch.setattr(run, "why_not_captured", lambda run, capture: "capture=False" if capture is False else None)
    monkeypatch.setattr(graph.GraphStep, "backend", Replayed)
    Replayed.records = Replayed.replays = 0
    return Replayed


@pytest.mark.parametrize("optimizer", ["onecycle", "plain"])
def test_the_captured_path_trains_as_the_eager_loop_bit_for_bit(captured_on_the_cpu, optimizer):
    """Warm-up steps, the capture, replays with the learning rate and momentum of each step, the
    partial last batch eagerly: the same History and weights as the eager loop, in fp32."""
    train_iter, test_iter = _batches(9, last=5), _batches(2, seed=1)
    results = []
    for capture in ("auto", False):
        net = _lenet(3)
        kwargs = (dict(optimizer=torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-3),
                       scheduler="onecycle") if optimizer == "onecycle" else dict(lr=0.05))
        h = d2l.train_ch5(net, train_iter, test_iter, 2, device="cpu", precision="exact", capture=capture,
                          verbose=False, plot=False, **kwargs)
        results.append((h, net))
    (captured, net_c), (eager, net_e) = results
    assert captured_on_the_cpu.records == 1
    assert captured_on_the_cpu.replays == 2 * 9 - graph.WARM_UP  # every full batch after the warm-up
    assert "CUDA graph" in captured.settings and "CUDA graph" not in eager.settings
    assert captured == eager and captured.step_loss == eager.step_loss
    for a, b in zip(net_c.state_dict().values(), net_e.state_dict().values()):
        assert torch.equal(a, b)


def test_a_changed_optimizer_goes_back_to_eager_steps(captured_on_the_cpu):
    """Momentum switched on after the capture: the graph (made without it) is not replayed."""
    class SwitchMomentum(d2l.Hook):
        def on_epoch_end(self, run):
            run.optimizer.param_groups[0]["momentum"] = 0.9

    net = _lenet(4)
    d2l.train_ch5(net, _batches(6), _batches(1, seed=1), 2, lr=0.05, device="cpu", precision="exact",
                  verbose=False, plot=False, hooks=[SwitchMomentum()])
    assert captured_on_the_cpu.replays == 6 - graph.WARM_UP  # none in the second epoch


def test_a_failed_capture_says_so_and_trains_on_eagerly(captured_on_the_cpu, monkeypatch):
    def fails(body):
        raise RuntimeError("operation not permitted when stream is capturing")

    monkeypatch.setattr(Replayed, "record", staticmethod(fails))
    with pytest.warns(RuntimeWarning, match="could not capture.*not permitted.*goes on eagerly"):
        h = d2l.train_ch5(_lenet(5), _batches(6), _batches(1, seed=1), 1, lr=0.05, device="cpu",
                          precision="exact", verbose=False, plot=False)
    assert "CUDA graph" not in h.settings and h.num_epochs == 1


def test_the_capture_is_never_reached_off_cuda(monkeypatch):
    """On the CPU train_ch5 makes no GraphStep and never touches torch.cuda's graphs."""
    def refuse(*args, **kwargs):
        raise AssertionError("capture code reached on the CPU")

    monkeypatch.setattr(graph.GraphStep, "__init__", refuse)
    monkeypatch.setattr(graph.CudaGraphs, "record", staticmethod(refuse))
    monkeypatch.setattr(torch.cuda, "CUDAGraph", refuse)
    monkeypatch.setattr(torch.cuda, "graph", refuse)
    h = d2l.train_ch5(_lenet(6), _batches(5), _batches(1, seed=1), 1, lr=0.05, device="cpu", verbose=False,
                      plot=False)
    assert "CUDA graph" not in h.settings


def _fake_run(**changes):
    fields = dict(device=torch.device("cuda"), settings=d2l.precision.choose_settings("cuda", "fp32"),
                  net=torch.nn.Linear(2, 2), group=None, optimizer=None)
    fields.update(changes)
    fields.setdefault("model", fields["net"])
    if fields["optimizer"] is None:
        fields["optimizer"] = torch.optim.SGD(fields["net"].parameters(), lr=0.1)
    return types.SimpleNamespace(**fields)


def test_when_a_run_is_captured():
    assert graph.why_not_captured(_fake_run(), "auto") is None
    net = torch.nn.Linear(2, 2)
    assert graph.why_not_captured(_fake_run(), False) == "capture=False"
    assert "not on CUDA" in graph.why_not_captured(_fake_run(device=torch.device("cpu")), "auto")
    assert graph.why_not_captured(_fake_run(settings=d2l.precision.choose_settings("cuda", "exact")),
                                  "auto") == "the exact mode"
    assert "scaler" in graph.why_not_captured(_fake_run(settings=d2l.precision.choose_settings("cuda", "fp16")),
                                              "auto")
    assert "compiled" in graph.why_not_captured(_fake_run(net=net, model=torch.nn.Sequential(net)), "auto")
    assert "Adam" in graph.why_not_captured(_fake_run(optimizer=torch.optim.Adam(net.parameters())), "auto")
    assert "processes" in graph.why_not_captured(_fake_run(group=object()), "auto")

    with pytest.raises(ValueError, match="capture must be 'auto', True or False, got 'always'"):
        graph.why_not_captured(_fake_run(), "always")
