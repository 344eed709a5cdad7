"""The appendix's checks (ResNeXt's block, ten-crop testing) accept the reference answers and reject
delegation, the stub and each catalogued mistake with its own message and hint."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torchvision.models import resnet as tv_resnet

from d2lnets.checks.colour import _CROP_CASES, RESNEXT, _average, _crops, _net, check_resnext_block, check_ten_crop
from d2lnets.checks.hints import named

pytestmark = pytest.mark.usefixtures("one_thread")


def _stub(*args, **kwargs):
    raise NotImplementedError


# --- ResNeXt's block ----------------------------------------------------------------------------------

def make_resnext(width="right", group_3x3=True, group_1x1=False, project=True, stride_on="conv2", final_relu=True):
    """ResNeXt's block as torchvision builds it, written out, or with a catalogued mistake."""

    class ResNeXtBlock(nn.Module):
        def __init__(self, in_channels, channels, stride=1, groups=32, width_per_group=4):
            super().__init__()
            inner = {"right": channels * width_per_group // 64 * groups, "resnet": channels,
                     "no64": channels * width_per_group * groups, "fixed": width_per_group * groups}[width]
            out, g1 = 4 * channels, groups if group_1x1 else 1
            self.conv1 = nn.Conv2d(in_channels, inner, 1, stride=stride if stride_on == "conv1" else 1, bias=False,
                                   groups=g1 if in_channels % g1 == 0 else 1)
            self.bn1 = nn.BatchNorm2d(inner)
            self.conv2 = nn.Conv2d(inner, inner, 3, stride=stride if stride_on == "conv2" else 1, padding=1,
                                   groups=groups if group_3x3 else 1, bias=False)
            self.bn2 = nn.BatchNorm2d(inner)
            self.conv3 = nn.Conv2d(inner, out, 1, bias=False, groups=g1)
            self.bn3 = nn.BatchNorm2d(out)
            self.downsample = None
            if project and (stride != 1 or in_channels != out):
                self.downsample = nn.Sequential(nn.Conv2d(in_channels, out, 1, stride=stride, bias=False),
                                                nn.BatchNorm2d(out))

        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = F.relu(self.bn2(self.conv2(Y)))
            Y = self.bn3(self.conv3(Y)) + (X if self.downsample is None else self.downsample(X))
            return F.relu(Y) if final_relu else Y

    return ResNeXtBlock


def test_resnext_check_accepts_the_block():
    check_resnext_block(make_resnext())


def test_the_written_out_block_is_torchvisions_resnext50_block():
    """Outside reference: torchvision's ResNeXt-50 32x4d builds its blocks as the written-out one does."""
    net = tv_resnet.resnext50_32x4d()   # random weights, nothing downloaded
    theirs = net.layer2[0].eval()
    mine = make_resnext()(256, 128, stride=2).eval()
    mine.load_state_dict(theirs.state_dict())
    X = torch.randn(1, 256, 8, 8)
    torch.testing.assert_close(mine(X), theirs(X))


def test_the_cases_tell_the_widths_apart():
    from d2lnets.checks._bottleneck import inner_width, resolved

    for case in RESNEXT.cases:
        _, channels, _, groups, wpg = resolved(case)
        assert len({inner_width(case), channels, channels * wpg * groups, wpg * groups}) == 4, case


class Stub(nn.Module):
    def __init__(self, in_channels, channels, stride=1, groups=32, width_per_group=4):
        raise NotImplementedError


@pytest.mark.parametrize("wrong, message, hint", [
    (Stub, "ResNeXtBlock is not written yet", None),
    (make_resnext(width="resnet"), "that is ResNet's width, channels", 1),
    (make_resnext(width="no64"), "divide by 64", 1),
    (make_resnext(width="fixed"), "the width grows with channels", 1),
    (make_resnext(group_3x3=False), "the 3x3 convolution has groups=1, expected groups=8", 2),
    (make_resnext(group_1x1=True), "a 1x1 convolution is grouped", 2),
    (make_resnext(project=False), "needs a 1x1 projection", 3),
    (make_resnext(stride_on="conv1"), "the first 1x1 convolution has the stride", 1),
    (make_resnext(final_relu=False), "the last ReLU is missing", 3),
    (lambda in_channels, channels, stride=1: make_resnext()(in_channels, channels, stride), "raised TypeError", None),
])
def test_resnext_check_rejects(wrong, message, hint):
    with pytest.raises(AssertionError, match=message) as failure:
        check_resnext_block(wrong)
    assert hint is None or named(str(failure.value)) == ("07", "1", hint)


def test_resnext_check_rejects_torchvisions_block():
    def ResNeXtBlock(in_channels, channels, stride=1, groups=32, width_per_group=4):
        out = 4 * channels
        down = None
        if stride != 1 or in_channels != out:
            down = nn.Sequential(nn.Conv2d(in_channels, out, 1, stride=stride, bias=False), nn.BatchNorm2d(out))
        return tv_resnet.Bottleneck(in_channels, channels, stride, down, groups=groups, base_width=width_per_group)

    with pytest.raises(AssertionError, match="your ResNeXtBlock calls torchvision.models.resnet.Bottleneck"):
        check_resnext_block(ResNeXtBlock)


# --- ten-crop testing ------------------------------------------------------------------------------

def make_ten_crop(average="softmax", flips=True, flip_dim=-1, corner=0, centre=0, softmax_dim=1, train=False):
    def ten_crop_predict(net, X, size):
        H, W = X.shape[-2:]
        a, t, l = corner, (H - size) // 2 + centre, (W - size) // 2 + centre
        crops = [X[..., a:a + size, a:a + size], X[..., a:a + size, W - size - a:W - a],
                 X[..., H - size - a:H - a, a:a + size], X[..., H - size - a:H - a, W - size - a:W - a],
                 X[..., t:t + size, l:l + size]]
        if flips:
            crops += [c.flip(flip_dim) for c in crops]
        with torch.no_grad():
            logits = torch.stack([net(c) for c in crops])
        if average == "logits":
            return logits.mean(0)
        if average == "votes":
            return F.one_hot(logits.argmax(-1), logits.shape[-1]).float().mean(0)
        return logits.softmax(dim=softmax_dim + 1).mean(0)
    return ten_crop_predict


def test_ten_crop_check_accepts_the_answer():
    check_ten_crop(make_ten_crop())


def test_the_reference_is_torchvisions_ten_crop():
    """Outside reference: the check's ten crops average to what torchvision's TenCrop gives."""
    from torchvision.transforms.v2 import functional as TF

    for i, (B, H, W, size) in enumerate(_CROP_CASES):
        X, net = torch.rand(B, 3, H, W), _net(size, seed=i)
        with torch.no_grad():
            theirs = torch.stack([net(c).softmax(dim=1) for c in TF.ten_crop(X, [size, size])]).mean(0)
        torch.testing.assert_close(_average(net, _crops(X, size)), theirs)


def test_the_check_leaves_the_learners_random_numbers_alone():
    state = torch.get_rng_state()
    check_ten_crop(make_ten_crop())
    assert torch.equal(state, torch.get_rng_state())


@pytest.mark.parametrize("wrong, message, hint", [
    (_stub, "ten_crop_predict is not written yet", None),
    (make_ten_crop(average="logits"), "you averaged the logits", 2),
    (make_ten_crop(average="votes"), "you averaged the predicted classes", 3),
    (make_ten_crop(softmax_dim=0), r"your softmax runs over the batch", 2),
    (make_ten_crop(flips=False), "these are the five crops only", 1),
    (make_ten_crop(flip_dim=-2), "upside down", 1),
    (make_ten_crop(corner=1), "start a pixel in from the edges", 1),
    (make_ten_crop(centre=1), "your centre crop is off by one", 1),
    (lambda net, X, size: net(X[..., :size, :size]).softmax(1), r"differs from the average of the ten crops", 1),
    (lambda net, X, size: net(X[..., :size, :size]).argmax(1), r"expected a tensor of shape \(3, 5\)", 3),
    (lambda net, X, size: net(X), r"fails .* every crop must be size x size", 1),
])
def test_ten_crop_check_rejects(wrong, message, hint):
    with pytest.raises(AssertionError, match=message) as failure:
        check_ten_crop(wrong)
    assert hint is None or named(str(failure.value)) == ("07", "2", hint)


def test_ten_crop_check_rejects_torchvisions_crops():
    from torchvision import transforms

    def ten_crop_predict(net, X, size):
        crops = transforms.TenCrop(size)(X)
        return torch.stack([net(c).softmax(1) for c in crops]).mean(0)

    with pytest.raises(AssertionError, match="your ten_crop_predict (calls|runs a) torchvision.transforms"):
        check_ten_crop(ten_crop_predict)
