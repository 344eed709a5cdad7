"""summary() against torch's FLOP counter, and the shape arithmetic."""
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import d2lnets.models as M
from d2lnets.analysis.shapes import conv_output_size, min_input_size, receptive_field
from d2lnets.analysis.summary import summary

pytestmark = pytest.mark.usefixtures("one_thread")


def torch_flops(net: nn.Module, shape) -> int:
    net.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(torch.zeros(shape))
    return counter.get_total_flops()


@pytest.mark.parametrize("factory, kwargs, shape", [
    (M.lenet, {}, (1, 28, 28)),
    (M.lenet, dict(variant="modern"), (3, 1, 28, 28)),
    (M.alexnet, {}, (3, 64, 64)),
    (M.alexnet, dict(variant="paper"), (3, 67, 67)),
    (M.alexnet, dict(num_classes=10, in_channels=1, variant="d2l"), (1, 65, 65)),
    (M.alexnet, dict(num_classes=10, in_channels=1, variant="small", lrn=True), (2, 1, 32, 32)),
    (M.vgg11, {}, (3, 32, 32)),
    (M.resnet18, {}, (3, 64, 64)),
    (M.resnet18, dict(num_classes=10, in_channels=1, variant="d2l"), (1, 32, 32)),
    (M.densenet121, {}, (3, 32, 32)),
    (M.densenet, {}, (1, 32, 32)),
])
def test_macs_agree_with_flop_counter(factory, kwargs, shape):
    net = factory(**kwargs)
    s = summary(net, shape)
    full = shape if len(shape) == 4 else (1, *shape)
    assert s.total_flops == 2 * s.total_macs == torch_flops(net, full)
    assert s.input_shape == full
    n = sum(p.numel() for p in net.parameters())
    assert s.total_params == s.trainable_params == n == sum(r.params for r in s.rows)


def test_rows_of_alexnet():
    net = M.alexnet(variant="paper").train()
    s = summary(net, (3, 227, 227))
    assert net.training  # mode restored
    by_name = {r.name: r for r in s.rows}
    conv1 = by_name["features.0"]
    assert conv1.layer_type == "Conv2d" and conv1.output_shape == (1, 96, 55, 55)
    assert conv1.params == 96 * 3 * 11 * 11 + 96
    assert conv1.macs == 55 * 55 * 96 * 3 * 11 * 11
    assert conv1.activation_bytes == 96 * 55 * 55 * 4
    assert by_name["features.2"].layer_type == "LocalResponseNorm"
    assert by_name["features.2"].macs == 0
    assert s.rows[-1].output_shape == (1, 1000)
    assert s.param_bytes == 4 * 60_965_224
    assert s.activation_bytes == sum(r.activation_bytes for r in s.rows)
    # the book's exercise: the FC layers hold the parameters, the convolutions do the work
    fc = [r for r in s.rows if r.layer_type == "Linear"]
    conv = [r for r in s.rows if r.layer_type == "Conv2d"]
    assert sum(r.params for r in fc) > 0.9 * s.total_params
    assert sum(r.macs for r in conv) > 0.9 * s.total_macs


def test_batch_scales_macs_and_activations():
    net = M.lenet()
    one, four = summary(net, (1, 28, 28)), summary(net, (4, 1, 28, 28))
    assert four.total_macs == 4 * one.total_macs == 4 * 416_520
    assert four.activation_bytes == 4 * one.activation_bytes
    assert four.total_params == one.total_params == 61_706


def test_shared_modules_count_once():
    net = M.resnet18(num_classes=10)
    s = summary(net, (3, 32, 32))
    relu_rows = [r for r in s.rows if r.name == "layer1.0.relu"]
    assert len(relu_rows) == 2  # torchvision's blocks call their ReLU twice
    assert s.total_params == sum(r.params for r in s.rows)


def test_lazy_layers_get_initialised():
    s = summary(M.vgg_block(2, 8), (3, 16, 16))
    assert s.total_params == (3 * 9 * 8 + 8) + (8 * 9 * 8 + 8)
    assert s.rows[-1].output_shape == (1, 8, 8, 8)


def test_table_text_and_html():
    s = summary(M.lenet(), (1, 28, 28))
    text = str(s)
    lines = text.splitlines()
    assert lines[0].split() == ["Layer", "Type", "Output", "shape", "Params", "MACs", "Activations"]
    table = lines[: len(s.rows) + 3]  # header, rule, rows, rule
    assert len({len(line) for line in table}) == 1  # fixed width
    assert "Total params: 61,706" in text and "Multiply-adds: 416.52k (416,520)" in text
    assert "features.0" in text and "[1, 6, 28, 28]" in text
    assert repr(s) == text
    assert s._repr_html_().startswith("<table>") and "61,706" in s._repr_html_()


def test_summary_bad_input_size():
    with pytest.raises(ValueError,
                       match=r"input_size must be \(C, H, W\), the shape of one image .* or \(B, C, H, W\)"):
        summary(M.lenet(), (28, 28))


# ---------------------------------------------------------------------------------------------
def test_conv_output_size():
    assert conv_output_size(227, 11, 0, 4) == 55
    assert conv_output_size(224, 11, 2, 4) == 55
    assert conv_output_size(224, 11, 0, 4) == 54  # why the paper's "224" must have been 227
    assert conv_output_size(55, 3, S=2) == 27
    assert conv_output_size(28, 5, P=2) == 28
    assert conv_output_size(5, 5) == 1
    with pytest.raises(ValueError, match="does not fit"):
        conv_output_size(4, 5)
    with pytest.raises(ValueError, match="S must be a positive integer"):
        conv_output_size(28, 3, 1, 0)
    with pytest.raises(ValueError, match="W must be a positive integer"):
        conv_output_size(2.5, 1)


def test_receptive_field():
    assert receptive_field([(3, 1), (3, 1)]) == 5
    assert receptive_field([(3, 1)] * 3) == 7  # three 3x3 convolutions see as far as one 7x7
    assert receptive_field([(2, 2), (2, 2)]) == 4
    assert receptive_field([(3, 1, 1), (2, 2)]) == 4
    assert receptive_field([]) == 1
    with torch.device("meta"):  # no weights needed
        assert receptive_field(M.alexnet(variant="paper").features) == 195
        assert receptive_field(M.vgg16().features) == 212
    with pytest.raises(ValueError, match=r"expected \(kernel, stride\)"):
        receptive_field([(3,)])


def test_min_input_size():
    with torch.device("meta"):
        assert min_input_size(M.alexnet().features) == 63
        assert min_input_size(M.vgg11().features) == 32
    assert min_input_size([(3, 1, 1)]) == 1
    assert min_input_size([(5, 1)]) == 5
