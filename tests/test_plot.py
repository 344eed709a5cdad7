import pytest
import torch

import d2lnets as d2l


def test_animator_outside_a_notebook_draws_nothing_but_keeps_data():
    a = d2l.Animator(xlabel="epoch", legend=["loss", "acc"])
    assert not a.show
    a.add(1, [0.5, 0.8])
    a.add(2, [0.4, None])
    assert a.X == [[1, 2], [1]] and a.Y == [[0.5, 0.4], [0.8]]


def test_show_images_and_histories():
    axes = d2l.show_images(torch.rand(5, 1, 28, 28), 2, 3, titles=list("abcde"))
    assert len(axes) == 6 and axes[0].get_title() == "a"
    h = d2l.History(train_loss=[1.0, 0.5], train_acc=[0.5, 0.7], test_acc=[0.4, 0.6])
    fig = d2l.plot_histories({"run": h})
    assert len(fig.axes) == 3


def test_histories_with_step_points_draw_curves_with_whole_epoch_ticks():
    h = d2l.History(train_loss=[1.0, 0.5], train_acc=[0.5, 0.7], test_acc=[0.4, 0.6],
                    step=[1, 2, 3, 4], step_epoch=[0.5, 1.0, 1.5, 2.0], step_loss=[1.2, 0.9, 0.6, 0.4],
                    step_acc=[0.4, 0.6, 0.65, 0.75])
    fig = d2l.plot_histories({"run": h})
    loss_ax = fig.axes[0]
    curve = loss_ax.get_lines()[0]
    assert list(curve.get_xdata()) == [0.5, 1.0, 1.5, 2.0] and list(curve.get_ydata()) == [1.2, 0.9, 0.6, 0.4]
    fig.canvas.draw() if hasattr(fig.canvas, "draw") else None
    assert all(float(t).is_integer() for t in loss_ax.get_xticks())


def test_animator_takes_points_at_fractions_of_an_epoch():
    a = d2l.Animator(xlabel="epoch", legend=["loss", "acc", "test"], xlim=[0, 2])
    assert a.integer_x
    a.add(0.5, [1.0, 0.5, None])
    a.add(1.0, [0.8, 0.6, None])
    a.add(1, [None, None, 0.7])
    assert a.X == [[0.5, 1.0], [0.5, 1.0], [1]]


def test_progress_is_a_bar_that_counts_batches():
    from d2lnets.viz.live import Progress

    assert Progress._text(15, 30, "epoch 1/2").data.startswith("[###############...............] 15/30 batches")
    assert Progress._text(7, None, "x").data == "7 batches  x"


def test_runs_over_seeds_are_drawn_as_their_mean_with_a_min_max_band():
    def h(shift):
        return d2l.History(train_loss=[1.0 + shift, 0.5 + shift], train_acc=[0.5, 0.7], test_acc=[0.4 + shift, 0.6])

    fig = d2l.plot_histories({"dropout": [h(0.0), h(0.2), h(0.1)], "plain": h(0.05)}, title="LeNet, 3 seeds")
    loss = fig.axes[0]
    mean = loss.get_lines()[0]
    assert list(mean.get_ydata()) == [1.1, 0.6] and mean.get_label() == "dropout (mean of 3 seeds)"
    band = loss.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == 0.5 and band.max() == 1.2  # from the lowest run to the highest
    assert len(loss.collections) == 1  # a single run gets no band
    assert fig._suptitle.get_text() == "LeNet, 3 seeds"
    short = d2l.History(train_loss=[1.0], train_acc=[0.5], test_acc=[0.4])
    with pytest.raises(ValueError, match="different points"):
        d2l.plot_histories({"x": [h(0), short]})


def test_grey_images_on_a_fixed_scale_show_brightness():
    dark, bright = torch.full((1, 4, 4), 0.2), torch.full((1, 4, 4), 0.8)
    dark[0, 0, 0] = bright[0, 0, 0] = 0.0
    own = d2l.show_images([dark, bright], 1, 2)             # each image stretched to its own range
    fixed = d2l.show_images([dark, bright], 1, 2, vmin=0, vmax=1)
    assert own[0].get_images()[0].get_clim() == pytest.approx((0.0, 0.2))
    assert own[1].get_images()[0].get_clim() == pytest.approx((0.0, 0.8))
    assert fixed[0].get_images()[0].get_clim() == fixed[1].get_images()[0].get_clim() == (0.0, 1.0)


def test_marks_draw_labelled_lines_on_their_panel():
    import math

    h = d2l.History(train_loss=[2.3, 0.5], train_acc=[0.1, 0.7], test_acc=[0.1, 0.6])
    fig = d2l.plot_histories({"classic": h}, marks={"train_loss": {"ln 10: a uniform guess": math.log(10)},
                                                    "train_acc": {"25 % error": 0.75}})
    loss, acc, test = fig.axes
    assert [list(line.get_ydata()) for line in loss.get_lines()[1:]] == [[math.log(10)] * 2]
    assert [t.get_text() for t in loss.texts] == ["ln 10: a uniform guess"]
    assert [t.get_text() for t in acc.texts] == ["25 % error"] and not test.texts and len(test.get_lines()) == 1
    with pytest.raises(ValueError, match="not drawn"):
        d2l.plot_histories({"classic": h}, metrics=["test_acc"], marks={"train_loss": {"ln 10": 2.3}})
    with pytest.raises(TypeError, match="a label and a number"):
        d2l.plot_histories({"classic": h}, marks={"train_loss": {"ln 10": "2.3"}})
    with pytest.raises(TypeError, match="marks must be"):
        d2l.plot_histories({"classic": h}, marks={"train_loss": 2.3})


def test_errors_are_one_minus_the_accuracy_and_smoothing_averages_the_last_points():
    h = d2l.History(train_loss=[1.0, 0.5], train_acc=[0.5, 0.7], test_acc=[0.4, 0.6],
                    step=[1, 2, 3, 4], step_epoch=[0.5, 1.0, 1.5, 2.0], step_loss=[1.2, 0.9, 0.6, 0.4],
                    step_acc=[0.4, 0.6, 0.65, 0.75])
    fig = d2l.plot_histories({"run": h}, metrics=("train_error", "test_error"), smooth=2)
    train, test = (ax.get_lines()[0].get_ydata() for ax in fig.axes)
    assert list(train) == pytest.approx([0.6, 0.5, 0.375, 0.3])   # 1 - acc, over the last two points
    assert list(test) == pytest.approx([0.6, 0.4])                 # per epoch: nothing to smooth
    assert [ax.get_title() for ax in fig.axes] == ["train error", "test error"]
    with pytest.raises(ValueError, match="smooth must be a positive integer"):
        d2l.plot_histories({"run": h}, smooth=0)
    with pytest.raises(ValueError, match="no metric 'valid_error'"):
        d2l.plot_histories({"run": h}, metrics=("valid_error",))
