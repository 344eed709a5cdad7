"""Chapter 6's checks (NiN's block and head, the Inception block) accept the reference answers and reject
delegation, the stub and each catalogued mistake with its own message and hint."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from d2lnets.checks.comparison import check_inception, check_nin
from d2lnets.checks.hints import named

pytestmark = pytest.mark.usefixtures("one_thread")


def _stub(*args, **kwargs):
    raise NotImplementedError


# --- NiN ---------------------------------------------------------------------------------------

def make_block(relus=(True, True, True), ones_out=None, n_ones=2):
    def nin_block(in_channels, out_channels, kernel_size, strides, padding):
        layers = [nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding)]
        layers += [nn.ReLU()] if relus[0] else []
        width = out_channels
        for i in range(n_ones):
            out = ones_out(out_channels) if ones_out else out_channels
            layers += [nn.Conv2d(width, out, kernel_size=1)] + ([nn.ReLU()] if relus[i + 1] else [])
            width = out
        return nn.Sequential(*layers)
    return nin_block


def make_head(pool="avg", flatten=True, dense=False, block=None, dropout=False):
    block = block or make_block()

    def nin_head(in_channels, num_classes):
        layers = [nn.Dropout(0.5)] if dropout else []
        if dense:
            return nn.Sequential(*layers, block(in_channels, in_channels, 3, 1, 1), nn.AdaptiveAvgPool2d((1, 1)),
                                 nn.Flatten(), nn.Linear(in_channels, num_classes))
        layers.append(block(in_channels, num_classes, 3, 1, 1))
        layers += {"avg": [nn.AdaptiveAvgPool2d((1, 1))], "max": [nn.AdaptiveMaxPool2d((1, 1))],
                   "fixed": [nn.AvgPool2d(5)], None: []}[pool]
        return nn.Sequential(*layers, *([nn.Flatten()] if flatten else []))
    return nin_head


def test_nin_check_accepts_the_block_and_head_and_prints_the_comparison(capsys):
    check_nin(make_block(), make_head())
    check_nin(make_block(), make_head(dropout=True))   # d2l's head drops out first: the same in evaluation
    out = capsys.readouterr().out
    assert "43,040,778" in out and "23,270 parameters" in out   # (256 * 9 + 1) * 10 + 2 * (10 * 10 + 10)


@pytest.mark.parametrize("block, head, message, hint", [
    (_stub, make_head(), "nin_block is not written yet", None),
    (make_block(), _stub, "nin_head is not written yet", None),
    (make_block(relus=(True, True, False)), make_head(), "ReLU after the third convolution is missing", 1),
    (make_block(relus=(False, True, True)), make_head(), "ReLU after the first convolution is missing", 1),
    (make_block(ones_out=lambda c: 2 * c), make_head(), "two 1x1 convolutions from out_channels to out_channels", 1),
    (make_block(n_ones=1), make_head(), "has 2 convolutions: a NiN block has three", 1),
    (make_block(), make_head(dense=True), "has an nn.Linear: NiN's head has no dense layer", 3),
    (make_block(), make_head(pool="max"), r"takes the maximum of each map", 3),
    (make_block(), make_head(pool="fixed"), r"pools with a fixed window.*nn.AdaptiveAvgPool2d\(\(1, 1\)\)", 3),
    (make_block(), make_head(pool=None), "each class's map keeps its height and width", 2),
    (make_block(), make_head(flatten=False), r"flatten the pooled maps", 3),
    (make_block(), make_head(block=make_block(relus=(True, True, False))), "computes another function", 2),
    (make_block(), lambda in_channels, num_classes: make_head()(in_channels, num_classes)[0],
     "each class's map keeps its height and width", 2),
    (make_block(), lambda in_channels, num_classes: nn.Flatten(), r"into \(2, 400\), expected \(2, 10\)", None),
])
def test_nin_check_rejects(block, head, message, hint):
    with pytest.raises(AssertionError, match=message) as failure:
        check_nin(block, head)
    assert hint is None or named(str(failure.value)) == ("06", "1", hint)


def test_nin_check_rejects_delegation():
    from torchvision.ops import Conv2dNormActivation

    def nin_block(in_channels, out_channels, kernel_size, strides, padding):
        return nn.Sequential(
            Conv2dNormActivation(in_channels, out_channels, kernel_size, strides, padding, norm_layer=None),
            Conv2dNormActivation(out_channels, out_channels, 1, norm_layer=None),
            Conv2dNormActivation(out_channels, out_channels, 1, norm_layer=None))

    with pytest.raises(AssertionError, match="your nin_block calls torchvision.ops.misc.Conv2dNormActivation"):
        check_nin(nin_block, make_head())


# --- Inception ---------------------------------------------------------------------------------

def make_inception(order=(0, 1, 2, 3), dim=1, join="cat", relus=(True,) * 6, pool=None, pad5=2, pad3=1):
    """d2l's Inception block, or one with a catalogued mistake."""

    class Inception(nn.Module):
        def __init__(self, in_channels, c1, c2, c3, c4):
            super().__init__()
            self.p1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
            self.p2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)
            self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=pad3)
            self.p3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)
            self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=pad5)
            self.p4_1 = pool or nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
            self.p4_2 = nn.Conv2d(in_channels, c4, kernel_size=1)

        def forward(self, x):
            r = [F.relu if on else (lambda t: t) for on in relus]
            p1 = r[0](self.p1_1(x))
            p2 = r[2](self.p2_2(r[1](self.p2_1(x))))
            p3 = r[4](self.p3_2(r[3](self.p3_1(x))))
            p4 = r[5](self.p4_2(self.p4_1(x)))
            branches = [(p1, p2, p3, p4)[i] for i in order]
            if join == "sum":
                return sum(branches)
            return torch.cat(branches, dim=dim)

    return Inception


def test_inception_check_accepts_the_block():
    check_inception(make_inception())


class _Stub(nn.Module):
    def __init__(self, in_channels, c1, c2, c3, c4):
        raise NotImplementedError


@pytest.mark.parametrize("wrong, message, hint", [
    (_Stub, "Inception is not written yet", None),
    (make_inception(order=(1, 0, 2, 3)), "concatenated in another order", 3),
    (make_inception(order=(3, 2, 1, 0)), "concatenated in another order", 3),
    (make_inception(dim=0), "added or joined along another dimension", 3),
    (make_inception(dim=2), "added or joined along another dimension", 3),
    (make_inception(join="sum"), "added or joined along another dimension|you add the four branches", 3),
    (make_inception(relus=(True, True, True, True, True, False)), "the ReLU after the pooling branch's 1x1", 2),
    (make_inception(relus=(True, False, True, True, True, True)), "between the 3x3 branch's 1x1 and 3x3", 2),
    (make_inception(relus=(False,) + (True,) * 5), "the ReLU after the 1x1 branch's convolution is missing", 2),
    (make_inception(pool=nn.MaxPool2d(3, padding=1)), "pooling branch changes the height and width", 2),
    (make_inception(pool=nn.MaxPool2d(3, stride=1)), "pooling branch changes the height and width", 2),
    (make_inception(pad5=0), "the 5x5 convolution needs padding=2", 2),
    (make_inception(pad3=0), "the 3x3 convolution needs padding=1", 2),
    (lambda *args: "not a block", "subclass of nn.Module", None),
])
def test_inception_check_rejects(wrong, message, hint):
    with pytest.raises(AssertionError, match=message) as failure:
        check_inception(wrong)
    assert hint is None or named(str(failure.value)) == ("06", "2", hint)


def test_inception_check_names_a_sum_of_equal_branches():
    """With branches of equal width a sum goes through, and the check says what it sees."""
    from d2lnets.checks.comparison import _SUMMABLE, _inception_case

    with pytest.raises(AssertionError, match="you add the four branches") as failure:
        _inception_case(make_inception(join="sum"), _SUMMABLE)
    assert named(str(failure.value)) == ("06", "2", 3)
    for dim in (0, 2, 3):
        with pytest.raises(AssertionError, match=f"joined along dim {dim}"):
            _inception_case(make_inception(dim=dim), _SUMMABLE)


def test_inception_check_rejects_torchvisions_block():
    from torchvision.models.googlenet import Inception as TorchvisionInception

    class Inception(nn.Module):
        def __init__(self, in_channels, c1, c2, c3, c4):
            super().__init__()
            self.inner = TorchvisionInception(in_channels, c1, c2[0], c2[1], c3[0], c3[1], c4)

        def forward(self, X):
            return self.inner(X)

    with pytest.raises(AssertionError, match="your Inception calls torchvision.models.googlenet.Inception"):
        check_inception(Inception)
