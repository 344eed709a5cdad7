"""No check passes by delegation (issue 25): for every exercise of every chapter, a learner's answer that
calls the library's own implementation of the thing asked (the course's, torch's or torchvision's) is
rejected with a message naming the call, and the chapter's own reference solution is accepted. Both
run as `make check` runs them: after the chapter's set-up cells and the exercises before them."""
import contextlib
import io
import linecache
from pathlib import Path

import nbformat
import pytest

from d2lnets.tools.check import exercises_of

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = {p.stem[:2]: p for p in sorted((ROOT / "chapters").glob("[0-9][0-9]_*.ipynb"))}

# (chapter, exercise, a delegating answer as a learner would write it in the notebook, what the message names)
TABLE = [
    ("01", "1", """
def modern_lenet():
    net = d2l.models.lenet(variant="modern")
    return nn.Sequential(*net.features, net.flatten, *net.classifier)
""", r"calls d2lnets.models.lenet.lenet"),
    ("01", "2", """
def layer_cost(layer, input_shape):
    row = d2l.summary(nn.Sequential(layer), input_shape).rows[0]
    return row.params, row.macs
""", r"calls d2lnets[.\w]*\.summary\.summary \(d2l.summary\)"),
    ("02", "1", """
lrn = lambda X, size=5, alpha=1e-4, beta=0.75, k=2.0: nn.LocalResponseNorm(size, alpha, beta, k)(X)
""", r"runs a torch.nn.LocalResponseNorm"),
    ("02", "2", """
from torch.nn.functional import dropout as my_dropout

def dropout_layer(X, p, training=True):
    return my_dropout(X, p, training)
""", r"calls torch.nn.functional.dropout"),
    ("02", "3a", """
def rgb_pca(images):
    return augment.pca_components(images)
""", r"calls d2lnets[.\w]*\.augment\.pca_components"),
    ("02", "3b", """
def pca_lighting(X, eigvals, eigvecs, alphas):
    return augment.pca_lighting(X, eigvals, eigvecs, alphas=alphas)
""", r"calls d2lnets[.\w]*\.augment\.pca_lighting"),
    ("03", "1", """
receptive_field = d2l.receptive_field
""", r"is d2lnets[.\w]*\.shapes\.receptive_field \(d2l.receptive_field\)"),
    ("03", "2", """
def vgg_block(num_convs, in_channels, out_channels):
    return d2l.models.vgg_block(num_convs, out_channels, in_channels=in_channels)
""", r"calls d2lnets.models.vgg.vgg_block"),
    ("04", "1", """
class Residual(d2l.models.Residual):
    pass
""", r"is built on d2lnets.models.resnet.Residual"),
    ("04", "2", """
from torchvision.models.resnet import Bottleneck as TV

def Bottleneck(in_channels, channels, stride=1):
    down = None if stride == 1 and in_channels == 4 * channels else nn.Sequential(
        nn.Conv2d(in_channels, 4 * channels, 1, stride, bias=False), nn.BatchNorm2d(4 * channels))
    return TV(in_channels, channels, stride, down)
""", r"calls torchvision.models.resnet.Bottleneck"),
    ("04", "3", """
def BatchNorm2d(num_features, eps=1e-5, momentum=0.1):
    return nn.BatchNorm2d(num_features, eps, momentum)
""", r"calls torch.nn.BatchNorm2d"),
    ("05", "1", """
def conv_block(in_channels, out_channels):
    return d2l.models.conv_block(in_channels, out_channels)

class DenseBlock(nn.Module):
    def __init__(self, num_convs, in_channels, growth_rate):
        super().__init__()
        self.net = nn.Sequential(*[conv_block(in_channels + i * growth_rate, growth_rate) for i in range(num_convs)])

    def forward(self, X):
        for blk in self.net:
            X = torch.cat((X, blk(X)), dim=1)
        return X
""", r"calls d2lnets.models.densenet.conv_block"),
    ("05", "2", """
import torchvision

class BottleneckLayer(nn.Module):
    def __init__(self, in_channels, growth_rate, bn_size=4):
        super().__init__()
        self.layer = torchvision.models.densenet._DenseLayer(in_channels, growth_rate, bn_size, 0.0)

    def forward(self, X):
        return torch.cat((X, self.layer(X)), dim=1)
""", r"calls torchvision.models.densenet._DenseLayer"),
    ("06", "1", """
from torchvision.ops import Conv2dNormActivation as Unit

def nin_block(in_channels, out_channels, kernel_size, strides, padding):
    return nn.Sequential(Unit(in_channels, out_channels, kernel_size, strides, padding, norm_layer=None),
                         Unit(out_channels, out_channels, 1, norm_layer=None),
                         Unit(out_channels, out_channels, 1, norm_layer=None))

def nin_head(in_channels, num_classes):
    return nn.Sequential(nin_block(in_channels, num_classes, 3, 1, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten())
""", r"calls torchvision.ops.misc.Conv2dNormActivation"),
    ("06", "2", """
from torchvision.models.googlenet import Inception as Block

class Inception(nn.Module):
    def __init__(self, in_channels, c1, c2, c3, c4):
        super().__init__()
        self.block = Block(in_channels, c1, c2[0], c2[1], c3[0], c3[1], c4)

    def forward(self, X):
        return self.block(X)
""", r"calls torchvision.models.googlenet.Inception"),
    ("07", "1", """
from torchvision.models import resnet

def ResNeXtBlock(in_channels, channels, stride=1, groups=32, width_per_group=4):
    down = None if stride == 1 and in_channels == 4 * channels else nn.Sequential(
        nn.Conv2d(in_channels, 4 * channels, 1, stride, bias=False), nn.BatchNorm2d(4 * channels))
    return resnet.Bottleneck(in_channels, channels, stride, down, groups=groups, base_width=width_per_group)
""", r"calls torchvision.models.resnet.Bottleneck"),
    ("07", "2", """
from torchvision.transforms import v2

def ten_crop_predict(net, X, size):
    with torch.no_grad():
        return torch.stack([net(c).softmax(dim=1) for c in v2.TenCrop(size)(X)]).mean(dim=0)
""", r"calls torchvision.transforms.v2.TenCrop"),
]


def _run(sources, ns):
    """Run cells as `make check` runs them (their source known to linecache, so that checks can read it)."""
    for source in sources:
        name = f"<notebook cell {len(linecache.cache)}>"
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, name, "exec"), ns)  # noqa: S102


def _namespace(chapter: str, number: str):
    """A fresh namespace after the chapter's set-up cells and the exercises before ``number``; the exercise."""
    setup, exercises = exercises_of(nbformat.read(CHAPTERS[chapter], as_version=4))
    ns = {"__name__": "__main__"}
    _run([s for _, s in setup], ns)
    i = next(i for i, ex in enumerate(exercises) if ex.number == number)
    for ex in exercises[:i]:
        _run([s for _, s in ex.cells + ex.checks], ns)
    return ns, exercises[i]


def test_the_table_has_every_exercise():
    every = {(ch, ex.number) for ch, path in CHAPTERS.items()
             for ex in exercises_of(nbformat.read(path, as_version=4))[1]}
    assert {(ch, n) for ch, n, _, _ in TABLE} == every


@pytest.mark.parametrize("chapter, number, answer, call", TABLE, ids=[f"{c}-{n}" for c, n, _, _ in TABLE])
def test_delegation_is_rejected_and_the_reference_accepted(chapter, number, answer, call, one_thread):
    ns, exercise = _namespace(chapter, number)
    _run([s for _, s in exercise.cells + exercise.checks], dict(ns))   # the chapter's own solution passes
    _run([answer], ns)
    with pytest.raises(AssertionError, match=f"^your \\w+(\\.forward)? {call}, which "):
        _run([s for _, s in exercise.checks], ns)
