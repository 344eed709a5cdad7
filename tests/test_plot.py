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
