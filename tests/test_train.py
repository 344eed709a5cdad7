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


@pytest.mark.parametrize("mode, settings", [(dict(precision="exact"), "exact fp32 (IEEE, deterministic)"),
                                            (dict(precision="fp32", channels_last=False), "fp32")])
def test_fp32_training_matches_the_books_arithmetic(small_loaders, mode, settings):
    """The exact mode (and on the CPU fp32 in the book's memory layout) repeats a plain SGD loop
    exactly, for a whole epoch."""
    train_iter, test_iter = small_loaders
    ours, reference = _lenet(seed=5), _lenet(seed=5)
    h = d2l.train_ch5(ours, train_iter, test_iter, 1, lr=0.1, device="cpu", verbose=False, **mode)
    assert h.settings == settings
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


# --- History: points every few steps, and a round trip through plain types ---------------------------

def test_history_records_points_every_few_steps(small_loaders):
    train_iter, test_iter = small_loaders  # 8 batches an epoch: a point after every step
    h = d2l.train_ch5(_lenet(), train_iter, test_iter, 2, lr=0.1, device="cpu", precision="fp32", verbose=False)
    assert h.step == list(range(1, 17))
    assert h.step_epoch == pytest.approx([i / 8 for i in range(1, 17)])
    assert len(h.step_loss) == len(h.step_acc) == 16
    assert all(0 <= a <= 1 for a in h.step_acc) and all(v > 0 for v in h.step_loss)
    # the points of an epoch average to its loss (equal batches)
    assert sum(h.step_loss[8:]) / 8 == pytest.approx(h.train_loss[1], rel=1e-5)
    assert h.steps_to(0.0) == 1 and h.steps_to(2.0) is None
    assert h.steps_to(1e9, metric="step_loss") == 1


def test_history_records_about_ten_points_an_epoch():
    d2l.set_seed(0)
    batches = [(torch.rand(4, 1, 28, 28), torch.randint(0, 10, (4,))) for _ in range(25)]
    h = d2l.train_ch5(d2l.models.lenet(variant="modern"), batches, batches[:1], 2, lr=0.1, device="cpu",
                      verbose=False)
    # every 2 steps (25 // 10), and at the end of each epoch
    assert h.step[:13] == [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 25]
    assert h.step_epoch[12] == 1.0 and h.step[-1] == 50 and h.step_epoch[-1] == 2.0


def test_history_of_a_loader_without_len_places_its_points_on_the_epoch():
    d2l.set_seed(0)
    batches = [(torch.rand(4, 1, 28, 28), torch.randint(0, 10, (4,))) for _ in range(4)]
    h = d2l.train_ch5(d2l.models.lenet(variant="modern"), (b for b in batches), batches[:1], 1, lr=0.1,
                      device="cpu", verbose=False)
    assert h.step == [1, 2, 3, 4] and h.step_epoch == [0.25, 0.5, 0.75, 1.0]


def test_history_round_trips_through_plain_types(small_loaders):
    train_iter, test_iter = small_loaders
    h = d2l.train_ch5(_lenet(), train_iter, test_iter, 1, lr=0.1, device="cpu", verbose=False)
    data = json.loads(json.dumps(h.to_dict()))
    back = d2l.History.from_dict(data)
    assert back == h and back.to_dict() == h.to_dict()
    assert back.step == h.step and back.seconds == h.seconds and back.settings == h.settings
    with pytest.raises(ValueError, match="no field 'nope'"):
        d2l.History.from_dict({**data, "nope": 1})


def test_a_run_that_diverges_keeps_only_the_points_of_complete_epochs(small_loaders):
    train_iter, test_iter = small_loaders

    class FailsInEpoch2:
        calls = 0

        def __call__(self, y_hat, y):
            self.calls += 1
            l = nn.functional.cross_entropy(y_hat, y)
            return l * float("nan") if self.calls == 11 else l

    with pytest.raises(d2l.TrainingDivergedError) as err:
        d2l.train_ch5(_lenet(), train_iter, test_iter, 2, lr=0.1, loss=FailsInEpoch2(), device="cpu", verbose=False)
    h = err.value.history
    assert h.num_epochs == 1 and h.step == list(range(1, 9))


# --- the calls the write-ups use -----------------------------------------------------------------

def _weights_after(call, capsys):
    net = _lenet(seed=8)
    call(net)
    return [p.detach().clone() for p in net.parameters()], capsys.readouterr().out


FP32 = dict(precision="fp32", channels_last=False)


def test_the_first_editions_call_trains_as_its_keyword_form(small_loaders, capsys):
    train_iter, test_iter = small_loaders
    sgd = lambda net: torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)  # noqa: E731
    ours, _ = _weights_after(lambda net: d2l.train_ch5(net, train_iter, test_iter, 1, optimizer=sgd(net),
                                                        device="cpu", verbose=False, **FP32), capsys)
    theirs, out = _weights_after(lambda net: d2l.train_ch5(net, train_iter, test_iter, 64, sgd(net), "cpu", 1,
                                                           **FP32), capsys)
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)
    said = [line for line in out.splitlines() if "stands for" in line]
    assert said == ["train_ch5(net, train_iter, test_iter, batch_size, optimizer, device, num_epochs) is the "
                    "book's first edition's call; it stands for train_ch5(net, train_iter, test_iter, "
                    "num_epochs=1, optimizer=optimizer, device='cpu') (the loaders set the batch size)"]


def test_the_alexnet_write_ups_call_trains_as_its_keyword_form(small_loaders, capsys):
    train_iter, test_iter = small_loaders
    ours, _ = _weights_after(lambda net: d2l.train_ch5(net, train_iter, test_iter, 1, lr=0.05,
                                                        loss=nn.CrossEntropyLoss(), device="cpu", verbose=False,
                                                        **FP32), capsys)
    theirs, out = _weights_after(lambda net: d2l.train_ch5(net, train_iter, test_iter, nn.CrossEntropyLoss(), 1,
                                                           64, "cpu", 0.05, **FP32), capsys)
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)
    assert "it stands for train_ch5(net, train_iter, test_iter, num_epochs=1, lr=0.05, loss=criterion, " \
           "device='cpu')" in out
    with pytest.raises(ValueError, match="give a learning rate"):  # its lr left out: SGD needs one
        d2l.train_ch5(_lenet(), train_iter, test_iter, nn.CrossEntropyLoss(), 1, 64, "cpu")


def test_the_first_editions_evaluate_accuracy(small_loaders, capsys, monkeypatch):
    d2l.evaluate_accuracy.said_before.clear()
    _, test_iter = small_loaders
    net = _lenet()
    assert d2l.evaluate_accuracy(test_iter, net, "cpu") == d2l.evaluate_accuracy(net, test_iter, "cpu")
    assert capsys.readouterr().out == ("evaluate_accuracy(data_iter, net, device) is the first edition's order; "
                                       "it stands for evaluate_accuracy(net, data_iter, device='cpu')\n")
    d2l.evaluate_accuracy(test_iter, net, "cpu")  # said once
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("args", [
    (64, 0.1, "cpu", 1),                    # the first edition's form with a learning rate for its optimizer
    (64, "optimizer", "cpu"),               # ... without num_epochs
    ("loss", 1),                            # the write-up's form cut short
    ("loss", 1, 64, "cpu", 0.1, "extra"),   # ... with one argument too many
], ids=["lr for optimizer", "no num_epochs", "loss, too few", "loss, too many"])
def test_a_call_that_fits_no_form_shows_the_forms(small_loaders, args):
    train_iter, test_iter = small_loaders
    net = _lenet()
    swap = {"optimizer": torch.optim.SGD(net.parameters(), lr=0.1), "loss": nn.CrossEntropyLoss()}
    args = [swap.get(a, a) if isinstance(a, str) else a for a in args]
    with pytest.raises(TypeError, match="train_ch5 takes one of these forms") as err:
        d2l.train_ch5(net, train_iter, test_iter, *args)
    text = str(err.value)
    assert "batch_size, optimizer, device, num_epochs" in text
    assert "criterion, num_epochs, batch_size, device, lr" in text
    assert "this call has" in text


def test_evaluate_accuracy_that_fits_no_form_shows_the_forms(small_loaders):
    _, test_iter = small_loaders
    with pytest.raises(TypeError, match="evaluate_accuracy takes one of these forms"):
        d2l.evaluate_accuracy(_lenet(), test_iter, "cpu", "fp32")
    with pytest.raises(TypeError, match="evaluate_accuracy\\(data_iter, net, device=None\\)"):
        d2l.evaluate_accuracy(3, 4)


def test_precision_env_forces_fp32(small_loaders, monkeypatch):
    train_iter, test_iter = small_loaders
    monkeypatch.setenv("D2LNETS_PRECISION", "fp32")
    h = d2l.train_ch5(_lenet(), train_iter, test_iter, 1, lr=0.1, device="cpu", verbose=False)
    assert h.settings == "fp32, channels_last"
