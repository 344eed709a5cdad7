"""d2lnets.course.seeds: experiments over seeds (train a configuration from each seed, compare two
seed by seed, tabulate, race to a training error)."""
import dataclasses

import pytest
import torch

import d2lnets as d2l
from d2lnets.course import seeds


@pytest.fixture(scope="module")
def data():
    return d2l.load_data_fashion_mnist(64, num_train=256, num_test=128)


def recipe(**changes):
    """A small recipe: the modern LeNet, one epoch, SGD with a one-cycle schedule, seeds 0 and 1."""
    R = d2l.recipe("01_lenet", profile="smoke")
    changes = {"num_epochs": 1, "options": {**R.options, "seeds": (0, 1)}, **changes}
    return dataclasses.replace(R, **changes)


def lenet():
    return d2l.models.lenet(variant="modern")


def test_each_seed_trains_as_train_ch5_does_from_that_seed(data):
    """A run of train_seeds is the run one writes out: set the seed, build, train with the recipe."""
    train_iter, test_iter = data
    R = recipe()
    runs = seeds.train_seeds(lenet, R, train_iter, test_iter)
    assert runs.seeds == [0, 1] and len(runs) == 2 and runs.final_test_acc is None
    for seed, h in zip((0, 1), runs):
        d2l.set_seed(seed)
        net = lenet()
        optimizer = torch.optim.SGD(net.parameters(), lr=R.lr, momentum=R.momentum)
        by_hand = d2l.train_ch5(net, train_iter, test_iter, 1, optimizer=optimizer, scheduler=R.schedule,
                                plot=False, verbose=False)
        assert h == by_hand and h.step_loss == by_hand.step_loss
    assert runs[0] != runs[1]   # other initial weights, another run


def test_lr_epochs_seeds_and_a_final_test_set(data):
    train_iter, test_iter = data
    R = recipe(optimizer="adam", lr=1e-3)
    seen = []

    def batches(seed):                        # a loader per seed (an augmentation seeded with the run's seed)
        seen.append(seed)
        return train_iter

    _, whole_test = d2l.load_data_fashion_mnist(64, num_train=256, num_test=512)
    runs = seeds.train_seeds(lenet, R, batches, test_iter, seeds=[3], num_epochs=2, lr=3e-3, final_test_iter=whole_test)
    assert seen == [3] and runs.seeds == [3] and runs[0].num_epochs == 2
    assert len(runs.final_test_acc) == 1 and 0 <= runs.final_test_acc[0] <= 1
    assert seeds.finals(runs, "final_test_acc") == runs.final_test_acc
    # the same run once more, and its network measured on the whole test set by hand
    d2l.set_seed(3)
    net = lenet()
    d2l.train_ch5(net, train_iter, test_iter, 2, optimizer=torch.optim.Adam(net.parameters(), lr=3e-3),
                  scheduler=R.schedule, plot=False, verbose=False)
    assert d2l.evaluate_accuracy(net, whole_test) == runs.final_test_acc[0]


def test_the_optimizer_is_the_recipes():
    net = lenet()
    sgd = seeds.make_optimizer(net, recipe(momentum=0.9, weight_decay=5e-4))
    assert isinstance(sgd, torch.optim.SGD)
    assert sgd.defaults["momentum"] == 0.9 and sgd.defaults["weight_decay"] == 5e-4 and sgd.defaults["lr"] == 0.1
    adam = seeds.make_optimizer(net, recipe(optimizer="adam", lr=1e-3), lr=2e-3)
    assert isinstance(adam, torch.optim.Adam) and adam.defaults["lr"] == 2e-3


def history(train_acc, test_acc, step_acc=()):
    steps = list(range(1, len(step_acc) + 1))
    return d2l.History(train_loss=[1.0], train_acc=[train_acc], test_acc=[test_acc], step=steps,
                       step_epoch=[s / len(steps) for s in steps], step_loss=[1.0] * len(steps),
                       step_acc=list(step_acc))


def test_paired_differences_seed_by_seed():
    a = seeds.Runs([history(0.9, 0.80), history(0.8, 0.70)], [0, 1])
    b = seeds.Runs([history(0.7, 0.75), history(0.8, 0.72)], [0, 1])
    assert seeds.paired(a, b) == pytest.approx([0.05, -0.02])
    assert seeds.paired(a, b, "gap") == pytest.approx([0.10 - (-0.05), 0.10 - 0.08])
    assert seeds.paired([3.0, 2.0], [1.0, 1.5]) == [2.0, 0.5]
    with pytest.raises(ValueError, match="different seeds"):
        seeds.paired(a, seeds.Runs(list(b), [1, 0]))
    with pytest.raises(ValueError, match="the same number"):
        seeds.paired([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="key must be one of"):
        seeds.finals(a, "test_loss")
    with pytest.raises(ValueError, match="final_test_iter"):
        seeds.finals(a, "final_test_acc")
    with pytest.raises(TypeError, match="Histories"):
        seeds.finals([0.5, 0.6])


def test_the_table_shows_mean_and_range_per_configuration():
    runs = {"plain": [history(0.9, 0.80), history(0.7, 0.70)], "dropout 0.5": [history(0.8, 0.79)]}
    text = seeds.table(runs)
    lines = text.splitlines()
    assert lines[0] == "final values over 1/2 seeds: mean (min-max)"
    assert "train acc" in lines[1] and "test acc" in lines[1] and "train-test gap" in lines[1]
    assert lines[2].split() == ["plain", "0.800", "(0.700-0.900)", "0.750", "(0.700-0.800)", "0.050", "(0.000-0.100)"]
    assert lines[3].startswith("dropout 0.5 ") and "0.010 (0.010-0.010)" in lines[3]
    assert seeds.spread([0.5]) == "0.500 (0.500-0.500)"


def test_steps_to_an_error_and_the_speedup_keep_their_direction_when_a_run_never_gets_there():
    fast = history(0, 0, step_acc=[0.5, 0.8, 0.9, 0.9])         # 25 % error at step 2
    slow = history(0, 0, step_acc=[0.5, 0.6, 0.7, 0.8])         # at step 4
    never = history(0, 0, step_acc=[0.5, 0.6, 0.6, 0.7])        # not in its 4 steps
    assert seeds.steps_to_error(fast, 0.25) == (2, True) and seeds.steps_to_error(never, 0.25) == (4, False)
    assert seeds.speedup([fast, slow], [slow, fast], 0.25) == [2.0, 0.5]
    # never reached: counted as its last step, a lower bound -- the ratio stays on the true side of 1
    assert seeds.speedup([fast], [never], 0.25) == [2.0] and seeds.speedup([never], [fast], 0.25) == [0.5]
    assert seeds.race({"ReLU": [fast, never]}, 0.25).splitlines() == [
        "optimizer steps to 25% training error, per seed:", "    ReLU:     2    >4"]
    with pytest.raises(ValueError, match="error must be"):
        seeds.steps_to_error(fast, 25)
    with pytest.raises(ValueError, match="step points"):
        seeds.steps_to_error(d2l.History(train_loss=[1.0], train_acc=[0.5], test_acc=[0.5]), 0.25)


@pytest.mark.parametrize("call, error, match", [
    (lambda d: seeds.train_seeds(lenet(), recipe(), *d), TypeError, "function that builds"),
    (lambda d: seeds.train_seeds(lenet, "01_lenet", *d), TypeError, "must be a recipe"),
    (lambda d: seeds.train_seeds(lenet, recipe(), *d, seeds=[]), ValueError, "non-empty list of integers"),
    (lambda d: seeds.train_seeds(lenet, recipe(), *d, seeds=[0.5]), ValueError, "non-empty list of integers"),
    (lambda d: seeds.train_seeds(lenet, recipe(options={}), *d), ValueError, "lists no seeds"),
    (lambda d: seeds.train_seeds(lenet, recipe(), *d, lr=-1), ValueError, "lr must be"),
])
def test_bad_arguments_say_what_was_expected(data, call, error, match):
    with pytest.raises(error, match=match):
        call(data)
