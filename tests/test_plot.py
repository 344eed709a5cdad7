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
