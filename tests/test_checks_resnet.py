"""Chapter 4's check accepts the book's residual block and rejects the catalogued wrong answers."""
import pytest
import torch.nn.functional as F
from torch import nn

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


@pytest.mark.parametrize("wrong, message", [
    (Stub, "Residual is not written yet"),
    (StubForward, "Residual.forward is not written yet"),
    (make_residual(skip=False), "no skip connection"),
    (make_residual(relu_before_add=True), "ReLU comes before the addition"),
    (make_residual(final_relu=False), "last ReLU is missing"),
    (make_residual(project_stride=False), "1x1 convolution on the shortcut has stride 1"),
    (make_residual(project=False), "needs a 1x1 convolution"),
    (make_residual(bias=False), "parameters; the package's block has"),
    (make_residual(padding=0), "padding"),
    (lambda *a, **k: "not a module", "subclass of nn.Module"),
])
def test_rejects(wrong, message):
    with pytest.raises(AssertionError, match=message):
        check_residual(wrong)


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
