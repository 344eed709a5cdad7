"""The one-cycle schedule as drawn is the one torch runs."""
import matplotlib
import pytest
import torch

import d2lnets as d2l

matplotlib.use("Agg")


def run(optimizer, scheduler, steps):
    """The learning rate and momentum the optimizer uses at each step."""
    key = "betas" if "betas" in optimizer.defaults else "momentum"
    lr, momentum = [], []
    for _ in range(steps):
        g = optimizer.param_groups[0]
        lr.append(g["lr"])
        momentum.append(g[key][0] if key == "betas" else g[key])
        optimizer.step()
        scheduler.step()
    return lr, momentum


def test_defaults_match_torch_and_the_paper_values():
    s = d2l.one_cycle(max_lr=0.1, total_steps=100)
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1, momentum=0.9)
    lr, momentum = run(opt, torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=100), 100)
    assert s.lr == pytest.approx(lr) and s.momentum == pytest.approx(momentum)
    assert s.lr[0] == pytest.approx(0.1 / 25) and s.lr[-1] == pytest.approx(0.1 / 25 / 1e4)
    assert s.peak_step == 29 and max(s.lr) == pytest.approx(0.1)
    assert s.momentum[0] == s.momentum[-1] == pytest.approx(0.95) and min(s.momentum) == pytest.approx(0.85)
    assert s.momentum[s.peak_step] == pytest.approx(0.85)


def test_settings_are_read_back_from_a_scheduler():
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.01, total_steps=60, pct_start=0.25,
                                                anneal_strategy="linear", div_factor=10, final_div_factor=100,
                                                base_momentum=0.8, max_momentum=0.9, three_phase=True)
    s = d2l.one_cycle(sched)
    lr, beta1 = run(opt, sched, 60)
    assert s.lr == pytest.approx(lr) and s.momentum == pytest.approx(beta1)
    assert s.settings["three_phase"] and s.settings["pct_start"] == pytest.approx(0.25)


def test_plain_sgd_gets_momentum_from_onecycle_as_train_ch5_builds_it():
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # train_ch5's default: no momentum
    torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10)
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.95)
    s = d2l.one_cycle(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1), total_steps=10)
    assert s.momentum is not None and s.settings["max_lr"] == 0.1
    no_momentum = d2l.one_cycle(torch.optim.Adagrad([torch.zeros(1, requires_grad=True)], lr=0.1), total_steps=10)
    assert no_momentum.momentum is None


def test_plot_one_cycle_in_epochs():
    s = d2l.plot_one_cycle(max_lr=0.05, epochs=4, steps_per_epoch=25)
    assert s.total_steps == 100 and len(s.fig.axes) == 2
    line = s.fig.axes[0].lines[0]
    assert line.get_xdata()[-1] == pytest.approx(99 / 25) and list(line.get_ydata()) == pytest.approx(s.lr)
    assert len(d2l.plot_one_cycle(max_lr=0.1, total_steps=20, cycle_momentum=False).fig.axes) == 1
    with pytest.raises(ValueError, match="max_lr"):
        d2l.plot_one_cycle(total_steps=10)
    with pytest.raises(ValueError, match="total_steps, or epochs and steps_per_epoch"):
        d2l.one_cycle(max_lr=0.1)
    with pytest.raises(TypeError, match="OneCycleLR"):
        d2l.one_cycle("onecycle")
