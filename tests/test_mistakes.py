"""Where the network errs: predictions over a loader, the confusion matrix, the prediction grid."""
import matplotlib
import pytest
import torch
from torch import nn

import d2lnets as d2l

matplotlib.use("Agg")


@pytest.fixture(autouse=True, scope="module")
def _threads(one_thread):
    yield


class Lookup(nn.Module):
    """Predicts the class written into pixel [0, 0, 0] (as class / 10), with confidence from [0, 0, 1]."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, X):
        cls = (X[:, 0, 0, 0] * 10).round().long()
        scores = torch.zeros(len(X), 10)
        scores[torch.arange(len(X)), cls] = 1 + 10 * X[:, 0, 0, 1]
        return scores * self.w


def batch(y, y_hat, conf=None):
    X = torch.rand(len(y), 1, 28, 28)
    X[:, 0, 0, 0] = torch.as_tensor(y_hat).float() / 10
    if conf is not None:
        X[:, 0, 0, 1] = torch.as_tensor(conf)
    return X, torch.as_tensor(y)


def test_confusion_matrix_matches_a_hand_count():
    g = torch.Generator().manual_seed(0)
    y, y_hat = torch.randint(0, 10, (500,), generator=g), torch.randint(0, 10, (500,), generator=g)
    C = d2l.confusion_matrix(y, y_hat, 10)
    hand = torch.zeros(10, 10, dtype=torch.long)
    for t, p in zip(y.tolist(), y_hat.tolist()):
        hand[t, p] += 1
    assert torch.equal(C, hand)
    assert torch.equal(C.sum(1), torch.bincount(y, minlength=10)) and int(C.trace()) == int((y == y_hat).sum())
    with pytest.raises(ValueError, match="argmax"):
        d2l.confusion_matrix(y, torch.rand(500, 10))
    with pytest.raises(ValueError, match="0..4"):
        d2l.confusion_matrix(y, y_hat, 5)


def test_predict_over_a_fashion_mnist_loader_agrees_with_evaluate_accuracy(small_loaders):
    _, test_iter = small_loaders
    torch.manual_seed(0)
    net = d2l.models.lenet(variant="modern").train()
    P = d2l.predict(net, test_iter, keep=5)
    assert net.training  # put back
    X = torch.cat([X for X, _ in test_iter])
    with torch.no_grad():
        net.eval()
        probs = torch.softmax(net(X), 1)
        net.train()
    assert torch.equal(P.y, torch.cat([y for _, y in test_iter])) and torch.equal(P.y_hat, probs.argmax(1))
    assert torch.allclose(P.confidence, probs.max(1).values)
    assert P.accuracy == pytest.approx(d2l.evaluate_accuracy(net, test_iter))
    wrong = (P.y != P.y_hat).nonzero().flatten()
    top = wrong[torch.argsort(P.confidence[wrong], descending=True, stable=True)][:5]
    assert torch.equal(P.mistakes, top) and torch.equal(P.mistake_images, X[top])


def test_predict_restores_the_mode_when_the_net_fails():
    class Fails(Lookup):
        def forward(self, X):
            assert not self.training
            raise RuntimeError("boom")

    net = Fails().train()
    with pytest.raises(RuntimeError, match="boom"):
        d2l.predict(net, [batch([1], [1])])
    assert net.training
    with pytest.raises(TypeError, match="data_iter must be an iterable"):
        d2l.predict(net, torch.rand(3, 1, 28, 28))


def test_show_mistakes_counts_and_names():
    y, y_hat = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 3]
    conf = [0] * 10 + [0.1, 0.9]
    data = (b for b in [batch(y[:6], y_hat[:6], conf[:6]), batch(y[6:], y_hat[6:], conf[6:])])  # a generator
    r = d2l.show_mistakes(Lookup(), data)
    assert torch.equal(r.confusion, d2l.confusion_matrix(torch.tensor(y), torch.tensor(y_hat), 10))
    assert r.accuracy == pytest.approx(10 / 12)
    assert [(m["index"], m["true"], m["pred"]) for m in r.shown] == [(11, "ankle boot", "dress"),
                                                                     (10, "ankle boot", "t-shirt")]
    assert r.names == d2l.get_fashion_mnist_labels(range(10))
    again = d2l.show_mistakes(r.predictions, num_mistakes=1, labels=[f"c{i}" for i in range(10)])
    assert [m["pred"] for m in again.shown] == ["c3"]


def test_show_predictions_shows_half_wrong_and_marks_them():
    y = list(range(10)) * 2
    y_hat = [c if i % 4 else (c + 1) % 10 for i, c in enumerate(y)]  # 5 of 20 wrong
    X, yt = batch(y, y_hat)
    net = Lookup().train()
    g = d2l.show_predictions(net, X, yt, n=8)
    assert len(g.index) == 8 and g.num_wrong == 4 and net.training
    assert g.index == sorted(g.index)
    assert g.correct == [y[i] == y_hat[i] for i in g.index] and g.y_hat == [y_hat[i] for i in g.index]
    titles = {ax.get_title(): ax.title.get_color() for ax in g.fig.axes if ax.get_title()}
    assert titles[f"{d2l.get_fashion_mnist_labels([y[0]])[0]}\n→ {d2l.get_fashion_mnist_labels([y_hat[0]])[0]}"] \
        == "#cc0000"
    assert d2l.show_predictions(net, X, yt, n=12, num_wrong=6).num_wrong == 5  # only 5 to show
    assert d2l.show_predictions(net, X[:4], yt[:4], n=4, num_wrong=0).num_wrong == 1  # too few right ones
    with pytest.raises(ValueError, match="y must be the 20 integer labels"):
        d2l.show_predictions(net, X, yt[:3])
