"""Chapter 4's check accepts the book's residual block and rejects the catalogued wrong answers."""
import pytest
import torch.nn.functional as F
from torch import nn

import d2lnets as d2l
from d2lnets.checks.hints import named
from d2lnets.checks.resnet import check_residual


def make_residual(skip=True, relu_before_add=False, final_relu=True, project=True, project_stride=True,
                  bias=True, padding=1, out_order=("conv1", "bn1")):
    """The book's Residual, or one with a catalogued mistake."""

    class Residual(nn.Module):
        def __init__(self, num_channels, use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.LazyConv2d(num_channels, kernel_size=3, padding=padding, stride=strides, bias=bias)
            self.conv2 = nn.LazyConv2d(num_channels, kernel_size=3, padding=padding, bias=bias)
            if use_1x1conv and project:
                self.conv3 = nn.LazyConv2d(num_channels, kernel_size=1, stride=strides if project_stride else 1)
            else:
                self.conv3 = None
            self.bn1 = nn.LazyBatchNorm2d()
            self.bn2 = nn.LazyBatchNorm2d()

        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if not skip:
                return F.relu(Y)
            if self.conv3:
                X = self.conv3(X)
            if relu_before_add:
                return F.relu(Y) + X
            return F.relu(Y + X) if final_relu else Y + X

    return Residual


class SequentialResidual(nn.Module):
    """A different layout (an nn.Sequential body, eager layers with in_channels=3): also right."""

    def __init__(self, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, num_channels, 3, padding=1, stride=strides), nn.BatchNorm2d(num_channels), nn.ReLU(),
            nn.Conv2d(num_channels, num_channels, 3, padding=1), nn.BatchNorm2d(num_channels))
        self.shortcut = nn.Conv2d(3, num_channels, 1, stride=strides) if use_1x1conv else nn.Identity()

    def forward(self, X):
        return F.relu(self.body(X) + self.shortcut(X))


def test_accepts_the_book_block_and_other_layouts():
    check_residual(make_residual())
    check_residual(SequentialResidual)


class Stub(nn.Module):
    def __init__(self, num_channels, use_1x1conv=False, strides=1):
        raise NotImplementedError


class StubForward(make_residual()):
    def forward(self, X):
        raise NotImplementedError


@pytest.mark.parametrize("wrong, message, hint", [
    (Stub, "Residual is not written yet", None),
    (StubForward, "Residual.forward is not written yet", None),
    (make_residual(skip=False), "no skip connection", 2),
    (make_residual(relu_before_add=True), "ReLU comes before the addition", 3),
    (make_residual(final_relu=False), "last ReLU is missing", 3),
    (make_residual(project_stride=False), "1x1 convolution on the shortcut has stride 1", 1),
    (make_residual(project=False), "needs a 1x1 convolution", 1),
    (make_residual(bias=False), "parameters; the package's block has", 1),
    (make_residual(padding=0), "padding", 1),
    (lambda *a, **k: "not a module", "subclass of nn.Module", None),
])
def test_rejects(wrong, message, hint):
    with pytest.raises(AssertionError, match=message) as failure:
        check_residual(wrong)
    assert hint is None or named(str(failure.value)) == ("04", "1", hint)


class Wrapper(nn.Module):
    """Delegation through a layer built inside the learner's own class."""

    def __init__(self, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.inner = d2l.models.Residual(num_channels, use_1x1conv, strides)

    def forward(self, X):
        return self.inner(X)


class Hidden(Wrapper):
    """The same, out of the source scan's sight: the built module is searched."""

    def __init__(self, num_channels, use_1x1conv=False, strides=1):
        nn.Module.__init__(self)
        self.inner = getattr(d2l.models, "Resid" + "ual")(num_channels, use_1x1conv, strides)


@pytest.mark.parametrize("delegating, call", [
    (d2l.models.Residual, r"is d2lnets.models.resnet.Residual"),
    (Wrapper, r"calls d2lnets.models.resnet.Residual"),
    (Hidden, r"is or holds a d2lnets.models.resnet.Residual"),
])
def test_rejects_delegation(delegating, call):
    with pytest.raises(AssertionError, match=f"your Residual {call}, which is the thing this exercise"):
        check_residual(delegating)


def test_rejects_a_shortcut_that_ignores_the_projection():
    class Forgetful(make_residual()):
        def forward(self, X):  # builds conv3 but never applies it
            Y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(X)))))
            return F.relu(Y + X)

    with pytest.raises(AssertionError, match="X must go through the 1x1 convolution"):
        check_residual(Forgetful)


def test_rejects_a_block_that_projects_even_without_use_1x1conv():
    class AlwaysProjects(make_residual()):
        def __init__(self, num_channels, use_1x1conv=False, strides=1):
            super().__init__(num_channels, True, strides)

    with pytest.raises(AssertionError, match="1x1 convolutions; the block has one exactly when"):
        check_residual(AlwaysProjects)


def test_rejects_batch_norm_in_the_wrong_place():
    class BNAfterAdd(make_residual()):
        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = self.conv2(Y)
            if self.conv3:
                X = self.conv3(X)
            return F.relu(self.bn2(Y + X))

    with pytest.raises(AssertionError, match="computes a different function"):
        check_residual(BNAfterAdd)


# -- the bottleneck block ------------------------------------------------------------------------------
import torch  # noqa: E402
from torchvision.models import resnet as tv_resnet  # noqa: E402

from d2lnets.checks.resnet import check_bottleneck  # noqa: E402
from d2lnets.models import Bottleneck as PackageBottleneck  # noqa: E402


def make_bottleneck(project=True, project_bn=True, project_when_width_only=False, stride_on="conv2",
                    expansion=4, bn=True, relu_before_add=False, final_relu=True, skip=True, bias=False,
                    bn_first_in_projection=False):
    """torchvision's bottleneck block (ResNet v1.5) written out, or one with a catalogued mistake."""

    class Bottleneck(nn.Module):
        def __init__(self, in_channels, channels, stride=1):
            super().__init__()
            out = channels * expansion
            self.conv1 = nn.Conv2d(in_channels, channels, 1, stride=stride if stride_on == "conv1" else 1, bias=bias)
            self.bn1 = nn.BatchNorm2d(channels) if bn else nn.Identity()
            self.conv2 = nn.Conv2d(channels, channels, 3, stride=stride if stride_on == "conv2" else 1, padding=1,
                                   bias=bias)
            self.bn2 = nn.BatchNorm2d(channels) if bn else nn.Identity()
            self.conv3 = nn.Conv2d(channels, out, 1, stride=stride if stride_on == "conv3" else 1, bias=bias)
            self.bn3 = nn.BatchNorm2d(out) if bn else nn.Identity()
            changes = (in_channels != out) if project_when_width_only else (stride != 1 or in_channels != out)
            if project and changes:
                layers = [nn.Conv2d(in_channels, out, 1, stride=stride, bias=bias)]
                if project_bn:
                    layers.append(nn.BatchNorm2d(out))
                self.downsample = nn.Sequential(*layers)
            else:
                self.downsample = None

        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = F.relu(self.bn2(self.conv2(Y)))
            Y = self.bn3(self.conv3(Y))
            if not skip:
                return F.relu(Y)
            shortcut = X if self.downsample is None else self.downsample(X)
            if relu_before_add:
                return F.relu(Y) + shortcut
            return F.relu(Y + shortcut) if final_relu else Y + shortcut

    return Bottleneck


def torchvision_bottleneck(in_channels, channels, stride=1):
    """torchvision's own block, with the projection its ResNet gives it."""
    out = channels * tv_resnet.Bottleneck.expansion
    downsample = None
    if stride != 1 or in_channels != out:
        downsample = nn.Sequential(tv_resnet.conv1x1(in_channels, out, stride), nn.BatchNorm2d(out))
    return tv_resnet.Bottleneck(in_channels, channels, stride, downsample)


def package_bottleneck(in_channels, channels, stride=1):
    out = channels * PackageBottleneck.expansion
    downsample = None
    if stride != 1 or in_channels != out:
        downsample = nn.Sequential(nn.Conv2d(in_channels, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
    return PackageBottleneck(in_channels, channels, stride, downsample)


class ShortcutFirst(nn.Module):
    """Another layout: the shortcut's layers registered before the main path's, in Sequentials."""

    def __init__(self, in_channels, channels, stride=1):
        super().__init__()
        out = 4 * channels
        self.shortcut = (nn.Sequential(nn.Conv2d(in_channels, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
                         if stride != 1 or in_channels != out else nn.Identity())
        self.main = nn.Sequential(
            nn.Conv2d(in_channels, channels, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(),
            nn.Conv2d(channels, channels, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(),
            nn.Conv2d(channels, out, 1, bias=False), nn.BatchNorm2d(out))

    def forward(self, X):
        return F.relu(self.main(X) + self.shortcut(X))


@pytest.mark.parametrize("right", [make_bottleneck(), ShortcutFirst])
def test_bottleneck_accepts_torchvisions_block_and_other_layouts(right):
    check_bottleneck(right)


@pytest.mark.parametrize("delegating, call", [
    (torchvision_bottleneck, "calls torchvision.models.resnet.Bottleneck"),
    (package_bottleneck, "calls d2lnets.models.resnet.Bottleneck"),
])
def test_bottleneck_rejects_delegation(delegating, call):
    with pytest.raises(AssertionError, match=f"your Bottleneck {call}, which is the thing this exercise"):
        check_bottleneck(delegating)


def test_the_written_out_block_is_torchvisions():
    """The reference answer computes what torchvision's block computes, with the same weights."""
    for args in [(16, 4, 1), (8, 4, 2), (8, 4, 1)]:
        torch.manual_seed(0)
        mine, theirs = make_bottleneck()(*args).eval(), torchvision_bottleneck(*args).eval()
        mine.load_state_dict(theirs.state_dict())
        X = torch.randn(2, args[0], 6, 6)
        assert torch.allclose(mine(X), theirs(X), atol=1e-6)


class BottleneckStub(nn.Module):
    def __init__(self, in_channels, channels, stride=1):
        raise NotImplementedError


class BottleneckStubForward(make_bottleneck()):
    def forward(self, X):
        raise NotImplementedError


class BottleneckNoneForward(make_bottleneck()):
    def forward(self, X):
        pass   # the body a learner gets, with the raise deleted


@pytest.mark.parametrize("wrong, message, hint", [
    (BottleneckStub, "Bottleneck is not written yet", None),
    (BottleneckStubForward, "Bottleneck.forward is not written yet", None),
    (BottleneckNoneForward, "returns NoneType", None),
    (make_bottleneck(project=False), "needs a 1x1 projection from 8 to 16 channels with stride 2", 2),
    (make_bottleneck(project_when_width_only=True), r"needs a 1x1 projection from 16 to 16 channels", 2),
    (make_bottleneck(project_bn=False), "and one after the projection on the shortcut", 2),
    (make_bottleneck(bn=False), "BatchNorm2d layers, expected 3", 1),
    (make_bottleneck(expansion=1), "expands the narrow inner channels to 4 \\* channels = 16", 1),
    (make_bottleneck(stride_on="conv1"), "the first 1x1 convolution has the stride", 1),
    (make_bottleneck(stride_on="conv3"), "the 3x3 convolution has stride 1", 1),
    (make_bottleneck(stride_on=None), "nothing on the main path halves the resolution", 1),
    (make_bottleneck(relu_before_add=True), "ReLU comes before the addition", 3),
    (make_bottleneck(final_relu=False), "last ReLU is missing", 3),
    (make_bottleneck(skip=False), "no skip connection", 3),
    (make_bottleneck(bias=True), "no bias", 1),
    (make_residual(), "TypeError", None),
    (lambda *a, **k: "not a module", "subclass of nn.Module", None),
])
def test_bottleneck_rejects(wrong, message, hint):
    with pytest.raises(AssertionError, match=message) as failure:
        check_bottleneck(wrong)
    assert hint is None or named(str(failure.value)) == ("04", "2", hint)


def test_bottleneck_rejects_a_projection_that_is_built_but_not_used():
    class Forgetful(make_bottleneck()):
        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = F.relu(self.bn2(self.conv2(Y)))
            return F.relu(self.bn3(self.conv3(Y)) + X)

    with pytest.raises(AssertionError, match="fails"):
        check_bottleneck(Forgetful)


def test_bottleneck_rejects_a_relu_on_the_third_batch_norm():
    class ExtraReLU(make_bottleneck()):
        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = F.relu(self.bn2(self.conv2(Y)))
            Y = F.relu(self.bn3(self.conv3(Y)))
            shortcut = X if self.downsample is None else self.downsample(X)
            return F.relu(Y + shortcut)

    with pytest.raises(AssertionError, match="bn3's output goes straight"):
        check_bottleneck(ExtraReLU)


def test_bottleneck_rejects_a_wrong_order_with_the_right_layers():
    class ReluBeforeBN(make_bottleneck()):
        def forward(self, X):
            Y = self.bn1(F.relu(self.conv1(X)))
            Y = F.relu(self.bn2(self.conv2(Y)))
            Y = self.bn3(self.conv3(Y))
            shortcut = X if self.downsample is None else self.downsample(X)
            return F.relu(Y + shortcut)

    with pytest.raises(AssertionError, match="computes a different function"):
        check_bottleneck(ReluBeforeBN)
