"""The networks side by side, to scale in depth (d2lnets.viz.depth): the depth it reads from one forward
pass is the depth in the network's name (torchvision's VGG-11 and -19, ResNet-18, -34 and -50,
DenseNet-121), every multiply-add is in a bar, shortcuts and concatenations are where the networks have
them, and the columns are drawn to scale."""
import matplotlib
import pytest
import torch
import torchvision
from matplotlib.patches import Rectangle

import d2lnets as d2l
from d2lnets.viz.depth import draw_depth, layers_by_depth

matplotlib.use("Agg")
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("arch, depth", [("vgg11", 11), ("vgg19", 19), ("resnet18", 18), ("resnet34", 34),
                                         ("resnet50", 50), ("densenet121", 121), ("alexnet", 8)])
def test_the_depth_is_the_one_in_the_networks_name(arch, depth):
    """The papers count the layers with weights on the path from input to output; a projection on a
    shortcut runs beside the path, not on it."""
    net = getattr(torchvision.models, arch)().eval()
    column = layers_by_depth(net, (3, 64, 64) if arch != "alexnet" else (3, 224, 224))
    assert column.depth == depth
    assert column.macs == d2l.summary(net, (3, 64, 64) if arch != "alexnet" else (3, 224, 224)).total_macs


def _course_networks():
    R = d2l.recipe("06_comparison", profile="cpu")
    return {name: (d2l.models.get_model(s["model"], num_classes=10, in_channels=1, variant=s["variant"]),
                   (1, s.get("image_size", R.image_size), s.get("image_size", R.image_size)))
            for name, s in R.options["networks"].items()}


def test_the_five_networks_of_the_course():
    chart = draw_depth(_course_networks(), show=False)
    cols = chart.columns
    assert {n: c.depth for n, c in cols.items()} == {"LeNet": 5, "AlexNet": 8, "VGG-11": 10, "ResNet-18": 18,
                                                     "DenseNet": 21}
    for name, (net, size) in _course_networks().items():
        assert cols[name].macs == d2l.summary(net, size).total_macs   # every multiply-add is drawn
    # ResNet-18: a shortcut around every pair of 3x3 convolutions, 3 of them through a 1x1 projection
    resnet = cols["ResNet-18"]
    assert resnet.shortcuts == [(1 + 2 * i, 3 + 2 * i) for i in range(8)]
    side = [lay for lay in resnet.layers if lay.side]
    assert len(side) == 3 and all(lay.kind == "conv1x1" for lay in side)
    assert len(resnet.layers) == 18 + 3
    # DenseNet: in a block of 4, layer k reads every earlier layer and the block's input
    dense = cols["DenseNet"]
    assert not dense.shortcuts and dense.concats[:9] == [(1, 2), (1, 3), (1, 4), (1, 5), (2, 3), (2, 4), (2, 5),
                                                         (3, 4), (3, 5)]
    assert not any(c.shortcuts or c.concats for n, c in cols.items() if n in ("LeNet", "AlexNet", "VGG-11"))
    assert [lay.kind for lay in cols["LeNet"].layers] == ["conv", "conv", "linear", "linear", "linear"]
    assert all(lay.norm for lay in cols["VGG-11"].layers if lay.kind == "conv")   # batch norm after each


def test_the_columns_are_drawn_to_scale_in_depth():
    chart = draw_depth(_course_networks(), show=False)
    ax = chart.fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle) and p.get_height() > 0.5]   # a layer is 0.84 tall
    tops = {}
    for p in bars:   # each column's bars, told apart by where they are
        column = round(p.get_x() / 2.0)
        tops[column] = max(tops.get(column, 0.0), p.get_y() + p.get_height())
    depths = [c.depth for c in chart.columns.values()]
    assert [round(tops[i] + 0.08) for i in range(5)] == depths   # the tallest bar ends at the network's depth
    assert len(bars) == sum(len(c.layers) for c in chart.columns.values())
    widths = {round(p.get_width(), 3) for p in bars if round(p.get_x() / 2.0) == 3 and p.get_width() > 0.5}
    assert widths == {1.0}   # ResNet-18's stages keep a 3x3 convolution's multiply-adds: full-width bars


def test_bad_input_says_what_is_expected():
    with pytest.raises(TypeError, match=r"\{name: \(net, input_size\)\}"):
        draw_depth([torch.nn.Linear(2, 2)], show=False)
    with pytest.raises(TypeError, match="an nn.Module"):
        layers_by_depth("resnet18", (3, 64, 64))
