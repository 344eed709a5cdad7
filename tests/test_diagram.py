"""Architecture diagrams: what is drawn matches the models' known structure."""
import matplotlib
import pytest
from torch import nn

import d2lnets as d2l
from d2lnets.analysis.graph import trace_graph

matplotlib.use("Agg")


@pytest.fixture(autouse=True, scope="module")
def _threads(one_thread):
    yield


def kinds(diagram, kind):
    return [n for n in diagram.nodes if n.kind == kind]


def test_lenet_blocks_and_shapes_match_summary():
    net = d2l.models.lenet()
    d = d2l.draw_architecture(net, (1, 28, 28))
    assert [n.kind for n in d.nodes] == ["input", "conv", "pool", "conv", "pool", "flatten", "linear", "linear",
                                         "linear"]
    assert d.num_blocks == 8 and not d.adds and not d.concats and not d.skip_edges and d.columns == 1
    assert d.nodes[1].label == "Conv 5×5, 6 · Sigmoid" and d.nodes[-1].label == "Linear 10"
    rows = {r.name: r.output_shape[1:] for r in d2l.summary(net, (1, 28, 28)).rows}
    for n in d.nodes[1:]:
        assert n.shape == rows[n.names[-1]], n  # a folded box shows the shape of its last layer
    assert [(e.src, e.dst) for e in d.edges] == list(zip([n.id for n in d.nodes], [n.id for n in d.nodes[1:]]))
    assert "8 blocks" in repr(d) and d.fig.get_size_inches()[0] <= 10


def test_unfolded_graph_has_one_node_per_summary_row():
    net = d2l.models.lenet(variant="modern")
    d = d2l.draw_architecture(net, (1, 28, 28), fold=False)
    assert d.num_blocks == len(d2l.summary(net, (1, 28, 28)).rows) == 12


def test_basic_block_has_one_add_with_the_identity_as_skip_edge():
    d = d2l.draw_architecture(d2l.models.BasicBlock(64, 64), (64, 16, 16))
    (add,) = d.adds
    (skip,) = d.skip_edges
    assert d.node(skip.src).kind == "input" and skip.dst == add.id
    assert add.label == "+ · ReLU" and len(kinds(d, "conv")) == 2


def test_projection_shortcut_is_the_skip_edge():
    proj = nn.Sequential(nn.Conv2d(64, 128, 1, stride=2, bias=False), nn.BatchNorm2d(128))
    d = d2l.draw_architecture(d2l.models.BasicBlock(64, 128, 2, proj), (64, 16, 16))
    (add,) = d.adds
    (skip,) = d.skip_edges
    shortcut = d.node(skip.src)
    assert shortcut.label == "Conv 1×1/2, 128 · BN" and shortcut.col == 1 and add.shape == (128, 8, 8)


def test_bottleneck_and_the_books_residual():
    d = d2l.draw_architecture(d2l.models.Bottleneck(256, 64), (256, 8, 8))
    assert len(d.adds) == 1 and len(d.skip_edges) == 1
    assert [n.shape[0] for n in kinds(d, "conv")] == [64, 64, 256]
    d = d2l.draw_architecture(d2l.models.Residual(128, use_1x1conv=True, strides=2), (64, 16, 16))
    (skip,) = d.skip_edges
    assert d.node(skip.src).label == "Conv 1×1/2, 128" and d.adds[0].shape == (128, 8, 8)


def test_dense_block_has_two_concatenations_and_a_transition_none():
    d = d2l.draw_architecture(d2l.models.DenseBlock(2, 3, 10), (3, 8, 8))
    assert len(d.concats) == 2 and len(d.concat_edges) == 2 and not d.skip_edges
    assert [c.shape for c in d.concats] == [(13, 8, 8), (23, 8, 8)]
    assert [n.label for n in kinds(d, "conv")] == ["BN · ReLU · Conv 3×3, 10"] * 2
    # the features carried over: the block's input into the first, the first's output into the second
    assert [d.node(e.src).kind for e in d.concat_edges] == ["input", "cat"]
    assert len(trace_graph(d2l.models.DenseBlock(2, 3, 10), (3, 8, 8), fold=False).nodes) == 1 + 2 * 4
    t = d2l.draw_architecture(d2l.models.transition_block(23, 10), (23, 8, 8))
    assert [n.label for n in t.nodes[1:]] == ["BN · ReLU · Conv 1×1, 10", "AvgPool 2×2/2"]
    assert t.nodes[-1].shape == (10, 4, 4) and not t.concats


def test_paper_alexnet_draws_its_grouped_convolutions_as_two_columns():
    net = d2l.models.alexnet(1000, 3, variant="paper")
    d = d2l.draw_architecture(net, (3, 227, 227))
    grouped = {n for n, m in net.named_modules() if isinstance(m, nn.Conv2d) and m.groups == 2}
    assert len(grouped) == 3  # conv2, conv4, conv5
    assert {n.names[0] for n in d.nodes if n.columns == 2} == grouped
    assert d.columns == 2 and all(n.columns == 1 for n in kinds(d, "conv") if n.names[0] not in grouped)
    assert [n.label.split(" · ")[0] for n in kinds(d, "conv")] == [
        "Conv 11×11/4, 96", "Conv 5×5, 128", "Conv 3×3, 384", "Conv 3×3, 192", "Conv 3×3, 128"]  # per tower
    assert d.fig.get_size_inches()[0] <= 10
    assert len(d2l.draw_architecture(d2l.models.alexnet(10, 1, variant="small"), (1, 32, 32)).nodes) > 5


def test_collapse_draws_whole_blocks_and_modes_are_restored():
    net = d2l.models.resnet18(10, 1, variant="d2l")
    net.train()
    d = d2l.draw_architecture(net, (1, 64, 64), collapse=d2l.models.BasicBlock)
    assert len(kinds(d, "block")) == 8 and not d.adds and net.training
    assert kinds(d, "block")[-1].shape == (512, 2, 2)
    with pytest.raises(ValueError, match="input_size"):
        d2l.draw_architecture(net, (3, 64, 64))  # the wrong channels: the model's own message, and mode kept
    assert net.training


def test_lazy_vgg_block_and_a_configuration():
    d = d2l.draw_architecture(d2l.models.vgg_block(2, 16), (1, 28, 28))
    assert [n.label for n in d.nodes[1:]] == ["Conv 3×3, 16 · ReLU"] * 2 + ["MaxPool 2×2/2"]
    d = d2l.draw_architecture(d2l.models.vgg("A", 10, 1, width_ratio=8), (1, 32, 32))
    assert len(kinds(d, "conv")) == 8 and len([n for n in kinds(d, "pool") if "MaxPool" in n.label]) == 5


def test_bad_arguments_say_what_to_pass():
    with pytest.raises(TypeError, match="net must be"):
        d2l.draw_architecture("lenet", (1, 28, 28))
    with pytest.raises(ValueError, match=r"input_size must be .*\(1, 28, 28\)"):
        d2l.draw_architecture(d2l.models.lenet(), 28)
    with pytest.raises(TypeError, match="collapse must be module classes"):
        d2l.draw_architecture(d2l.models.lenet(), (1, 28, 28), collapse="BasicBlock")


def test_a_whole_densenet_keeps_each_transitions_norm_with_its_convolution():
    net = d2l.models.densenet()
    d = d2l.draw_architecture(net, (1, 32, 32), collapse=type(net.features.denseblock1))
    labels = [n.label for n in d.nodes]
    assert labels.count("DenseBlock") == 3 and labels.count("BN · ReLU · Conv 1×1, 96") == 1
    assert sum(n.kind == "block" for n in d.nodes) == 4
    whole = d2l.draw_architecture(net, (1, 32, 32))
    assert len(whole.concats) == 16 and len(whole.concat_edges) == 16
    assert whole.find("denseblock2")[0].label == "BN · ReLU · Conv 3×3, 32"
