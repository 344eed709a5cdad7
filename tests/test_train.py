"""train_ch5, evaluate_accuracy and History, with the book's d2l functions as the reference."""
import json
import re
import warnings

import pytest
import torch
from torch import nn

import d2lnets as d2l


def _lenet(variant="modern", seed=0):
    d2l.set_seed(seed)
    return d2l.models.lenet(variant=variant)


def test_history_and_summary(small_loaders, capsys):
    train_iter, test_iter = small_loaders
    h = d2l.train_ch5(_lenet(), train_iter, test_iter, 2, lr=0.1, device="cpu")
    assert h.num_epochs == 2
    for values in (h.train_loss, h.train_acc, h.test_acc, h.examples_per_sec, h.seconds):
        assert len(values) == 2 and all(v > 0 for v in values)
    assert all(0 <= a <= 1 for a in h.train_acc + h.test_acc)
    out = capsys.readouterr().out
    assert re.search(r"^loss \d\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}$", out, re.M)
    assert re.search(r"^\d+\.\d examples/sec on cpu \(", out, re.M)
    assert re.search(r"^epoch 2/2: loss", out, re.M)


def test_honours_the_optimizer_it_is_given(small_loaders):
    """The old loop built its own SGD and silently ignored the caller's Adam."""
    train_iter, test_iter = small_loaders
    net = _lenet()
    adam = torch.optim.Adam(net.parameters(), lr=1e-3)
    d2l.train_ch5(net, train_iter, test_iter, 1, optimizer=adam, device="cpu", verbose=False)
    state = adam.state[net.features[0].weight]
    assert state["step"].item() == len(train_iter)
    assert "exp_avg" in state


def test_leaves_the_weights_alone_at_lr_zero(small_loaders):
    """No re-initialisation (the book's train_ch6 applies Xavier init to the caller's net)."""
    train_iter, test_iter = small_loaders
    net = _lenet()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    d2l.train_ch5(net, train_iter, test_iter, 1, lr=0.0, device="cpu", verbose=False)
    for k, v in net.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_the_books_loop_reinitialises_and_ours_does_not(small_loaders):
    from d2l import torch as book

    train_iter, test_iter = small_loaders
    net = _lenet()
    before = net.features[0].weight.detach().clone()
    with warnings.catch_warnings():  # the book's plot of one epoch sets xlim=[1, 1]
        warnings.filterwarnings("ignore", message="Attempting to set identical low and high xlims")
        book.train_ch6(net, train_iter, test_iter, 1, 0.0, torch.device("cpu"))
    assert not torch.equal(net.features[0].weight, before)


def test_same_seed_same_history_in_fp32(small_loaders):
    train_iter, test_iter = small_loaders
    runs = [d2l.train_ch5(_lenet(seed=3), train_iter, test_iter, 2, lr=0.1, device="cpu",
                          precision="fp32", verbose=False) for _ in range(2)]
    assert runs[0] == runs[1]
    assert runs[0].train_loss == runs[1].train_loss  # exactly, not approximately
    other = d2l.train_ch5(_lenet(seed=4), train_iter, test_iter, 2, lr=0.1, device="cpu",
                          precision="fp32", verbose=False)
    assert other != runs[0]


def _plain_sgd(net, batches, lr=0.1):
    opt, loss = torch.optim.SGD(net.parameters(), lr=lr), nn.CrossEntropyLoss()
    for X, y in batches:
        opt.zero_grad()
        loss(net(X), y).backward()
        opt.step()


def test_fp32_training_matches_the_books_arithmetic(small_loaders):
    """fp32 in the book's memory layout repeats a plain SGD loop exactly, for a whole epoch."""
    train_iter, test_iter = small_loaders
    ours, reference = _lenet(seed=5), _lenet(seed=5)
    h = d2l.train_ch5(ours, train_iter, test_iter, 1, lr=0.1, device="cpu", precision="fp32",
                      channels_last=False, verbose=False)
    assert h.settings == "fp32"
    train_iter.set_epoch(0)
    _plain_sgd(reference, train_iter)
    for a, b in zip(ours.parameters(), reference.parameters()):
        assert torch.equal(a, b)


def test_fp32_in_channels_last_differs_only_by_rounding(small_loaders):
    """The default fp32 layout (channels_last) sums in another order: one step agrees to rounding
    (over an epoch such differences grow, as between any two summation orders)."""
    train_iter, test_iter = small_loaders
    batch = [next(iter(train_iter))]
    ours, reference = _lenet(seed=6), _lenet(seed=6)
    h = d2l.train_ch5(ours, batch, test_iter, 1, lr=0.1, device="cpu", precision="fp32", verbose=False)
    assert h.settings == "fp32, channels_last"
    _plain_sgd(reference, batch)
    for a, b in zip(ours.parameters(), reference.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_evaluate_accuracy_agrees_with_the_book(small_loaders):
    from d2l import torch as book

    _, test_iter = small_loaders
    net = _lenet()
    net.train()
    ours = d2l.evaluate_accuracy(net, test_iter)
    assert net.training, "evaluate_accuracy must restore training mode"
    assert ours == pytest.approx(book.evaluate_accuracy_gpu(net, test_iter))


def test_nan_loss_stops_with_advice(small_loaders):
    train_iter, test_iter = small_loaders
    with pytest.raises(d2l.TrainingDivergedError, match=r"became (nan|inf).*smaller learning rate"):
        d2l.train_ch5(_lenet(), train_iter, test_iter, 3, lr=1e6, device="cpu", verbose=False)

    def broken_loss(y_hat, y):
        return (y_hat.sum() * float("nan"))

    with pytest.raises(d2l.TrainingDivergedError, match="epoch 1, batch 1"):
        d2l.train_ch5(_lenet(), train_iter, test_iter, 1, lr=0.1, loss=broken_loss, device="cpu", verbose=False)


def test_argument_errors(small_loaders):
    train_iter, test_iter = small_loaders
    net = _lenet()
    with pytest.raises(ValueError, match="give a learning rate"):
        d2l.train_ch5(net, train_iter, test_iter, 1)
    with pytest.raises(ValueError, match="got both lr"):
        d2l.train_ch5(net, train_iter, test_iter, 1, lr=0.1, optimizer=torch.optim.SGD(net.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="num_epochs"):
        d2l.train_ch5(net, train_iter, test_iter, 0, lr=0.1)
    with pytest.raises(ValueError, match="precision"):
        d2l.train_ch5(net, train_iter, test_iter, 1, lr=0.1, precision="fp8")


def test_onecycle_schedule_peaks_at_the_optimizers_lr(small_loaders):
    train_iter, test_iter = small_loaders
    net = _lenet()
    opt = torch.optim.SGD(net.parameters(), lr=0.2, momentum=0.9)
    seen = []
    hook = opt.register_step_post_hook(lambda o, *_: seen.append(o.param_groups[0]["lr"]))
    d2l.train_ch5(net, train_iter, test_iter, 2, optimizer=opt, scheduler="onecycle", device="cpu", verbose=False)
    hook.remove()
    assert max(seen) == pytest.approx(0.2, rel=0.05) and seen[-1] < 0.01


def test_fast_settings_are_reported_and_fp32_is_exact(small_loaders):
    train_iter, test_iter = small_loaders
    h = d2l.train_ch5(_lenet(), train_iter, test_iter, 1, lr=0.1, device="cpu", verbose=False)
    if d2l.train.cpu_has_native_bf16():
        assert h.settings == "bfloat16 autocast, channels_last"
    else:
        assert h.settings == "fp32, channels_last"
    h = d2l.train_ch5(_lenet(), train_iter, test_iter, 1, lr=0.1, device="cpu", precision="fp32", verbose=False)
    assert h.settings == "fp32, channels_last"
    h = d2l.train_ch5(_lenet(), train_iter, test_iter, 1, lr=0.1, device="cpu", precision="fp32",
                      channels_last=False, verbose=False)
    assert h.settings == "fp32"


def test_require_device_and_run_log(small_loaders, monkeypatch, tmp_path):
    train_iter, test_iter = small_loaders
    monkeypatch.setenv("D2LNETS_REQUIRE_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="would run on cpu"):
        d2l.train_ch5(_lenet(), train_iter, test_iter, 1, lr=0.1, device="cpu", verbose=False)
    monkeypatch.delenv("D2LNETS_REQUIRE_DEVICE")
    log = tmp_path / "runs.jsonl"
    monkeypatch.setenv("D2LNETS_RUN_LOG", str(log))
    d2l.train_ch5(_lenet(), train_iter, test_iter, 1, lr=0.1, device="cpu", verbose=False)
    record = json.loads(log.read_text())
    assert record["device"] == "cpu" and 0 <= record["test_acc"] <= 1


def test_accumulator_and_timer():
    acc = d2l.Accumulator(2)
    acc.add(1, 2)
    acc.add(torch.tensor(3.0), 4)
    assert acc.data == [4.0, 6.0]
    t = d2l.Timer()
    assert t.stop() >= 0 and len(t.times) == 1
