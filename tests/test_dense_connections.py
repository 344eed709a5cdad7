"""A dense block's connections, found by running it, and its drawing (DenseNet's Figure 1)."""
import matplotlib
import pytest
import torch
from matplotlib.colors import to_rgba
from matplotlib.patches import FancyArrowPatch
from torch import nn

import d2lnets as d2l
from d2lnets.analysis.connections import dense_connections

matplotlib.use("Agg")


@pytest.fixture(autouse=True, scope="module")
def _threads(one_thread):
    yield


class LearnersBlock(nn.Module):
    """The book's dense block as chapter 5's exercise writes it: the units in one nn.Sequential."""

    def __init__(self, num_convs, in_channels, growth_rate):
        super().__init__()
        self.net = nn.Sequential(*[d2l.models.conv_block(in_channels + i * growth_rate, growth_rate)
                                   for i in range(num_convs)])

    def forward(self, X):
        for blk in self.net:
            X = torch.cat((X, blk(X)), dim=1)
        return X


class LastTwo(nn.Module):
    """Each unit reads only the two feature maps made last (not a dense block)."""

    def __init__(self, channels=4, units=3):
        super().__init__()
        self.units = nn.ModuleList(nn.Conv2d(channels if i == 0 else 2 * channels, channels, 3, padding=1)
                                   for i in range(units))

    def forward(self, X):
        maps = [X]
        for i, unit in enumerate(self.units):
            maps.append(unit(maps[-1] if i == 0 else torch.cat(maps[-2:], dim=1)))
        return torch.cat(maps[-2:], dim=1)


class Appending(nn.Module):
    """A unit that returns its input with its new channels appended (DenseNet-BC's layer as exercise 2 of
    chapter 5 writes it)."""

    def __init__(self, in_channels, growth_rate):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, growth_rate, 3, padding=1)

    def forward(self, X):
        return torch.cat((X, self.conv(X)), dim=1)


def test_the_books_dense_block_reads_every_earlier_feature_map():
    c = dense_connections(d2l.models.DenseBlock(4, 3, 10), (3, 8, 8))
    assert c.reads == [[0], [0, 1], [0, 1, 2], [0, 1, 2, 3]] and c.output == [0, 1, 2, 3, 4] and c.dense
    assert c.channels == [3, 10, 10, 10, 10] and c.units == [f"denselayer{i}" for i in range(1, 5)]
    assert c.labels == ["BN · ReLU · Conv 3×3, 10"] * 4
    assert len(c.edges) == 4 * 5 // 2 + 5   # L(L + 1)/2 connections into the units, L + 1 into the output


def test_a_learners_block_torchvisions_block_and_appending_units_are_found_dense():
    assert dense_connections(LearnersBlock(3, 5, 4), (5, 6, 6)).reads == [[0], [0, 1], [0, 1, 2]]
    bc = d2l.models.densenet121().features.denseblock1   # DenseNet-BC: a 1x1 bottleneck in every unit
    c = dense_connections(bc, (64, 8, 8))
    assert c.dense and len(c.units) == 6 and c.labels[0] == "BN · ReLU · Conv 1×1, 128 · BN · ReLU · Conv 3×3, 32"
    appending = nn.Sequential(Appending(3, 2), Appending(5, 2), Appending(7, 2))
    c = dense_connections(appending, (3, 4, 4))
    assert c.channels == [3, 2, 2, 2] and c.dense


def test_a_block_that_is_not_dense_is_found_as_it_is():
    c = dense_connections(LastTwo(), (4, 5, 5))
    assert c.reads == [[0], [0, 1], [1, 2]] and c.output == [2, 3] and not c.dense
    chain = nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=1), nn.Conv2d(2, 2, 3, padding=1))
    c = dense_connections(chain, (2, 4, 4))
    assert c.reads == [[0], [1], [2]] and c.output == [3] and c.edges == [(0, 1), (1, 2), (2, 3), (3, 4)]


def test_the_block_is_left_as_it_was():
    blk = d2l.models.DenseBlock(2, 3, 4).train()
    before = {k: v.clone() for k, v in blk.state_dict().items()}
    dense_connections(blk, (3, 4, 4))
    assert blk.training and all(torch.equal(before[k], v) for k, v in blk.state_dict().items())
    assert not blk.denselayer1._forward_hooks and not blk.denselayer1._forward_pre_hooks


@pytest.mark.parametrize("block, size, error, words", [
    ("DenseBlock", (3, 8, 8), TypeError, "block must be"),
    (nn.Conv2d(3, 3, 1), (3, 8, 8), ValueError, "has 0 unit(s)"),
    (d2l.models.DenseBlock(2, 3, 4), (8, 8), ValueError, "input_size must be (C, H, W)"),
])
def test_bad_input_says_what_was_expected(block, size, error, words):
    with pytest.raises(error) as info:
        dense_connections(block, size)
    assert words in str(info.value)


def _arrows(fig):
    return [p for ax in fig.axes for p in ax.patches if isinstance(p, FancyArrowPatch)]


def test_the_drawing_has_an_arrow_for_every_connection_in_its_source_colour():
    d = d2l.draw_dense_block(d2l.models.DenseBlock(4, 64, 32), (64, 24, 24), title="DenseBlock(4, 64, 32)")
    assert d.arrows == d.connections.edges and len(_arrows(d.fig)) == 15
    for (src, _), patch in zip(d.arrows, _arrows(d.fig)):
        assert to_rgba(patch.get_edgecolor())[:3] == to_rgba(f"C{src}")[:3]
    texts = [t.get_text() for t in d.fig.axes[0].texts]
    assert "reads 160, adds 32" in texts and "192 channels" in texts and "DenseBlock(4, 64, 32)" in texts
    assert "every unit reads every earlier feature map" in repr(d) and d.fig.get_size_inches()[0] <= 12


def test_the_drawing_of_a_block_that_is_not_dense_draws_only_its_connections():
    d = d2l.draw_dense_block(LastTwo(), (4, 5, 5))
    assert len(_arrows(d.fig)) == len(d.arrows) == 3 + 2 + 2 and "every unit" not in repr(d)
