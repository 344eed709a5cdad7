"""What a network learned: filters, feature maps, and the receptive field as an input gradient."""
import matplotlib
import pytest
import torch
from torch import nn

import d2lnets as d2l

matplotlib.use("Agg")


@pytest.fixture(autouse=True, scope="module")
def _threads(one_thread):
    yield


def test_show_filters_draws_the_first_convolutions_kernels():
    net = d2l.models.lenet(variant="modern")
    f = d2l.show_filters(net)
    assert f.layer == "features.0" and f.shown == 6
    assert torch.equal(f.weights, net.features[0].weight.detach())
    assert len([ax for ax in f.fig.axes if ax.images]) == 6
    f = d2l.show_filters(net, "features.3", max_filters=8)
    assert f.shown == 8 and f.weights.shape == (16, 6, 5, 5)
    colour = d2l.show_filters(nn.Sequential(nn.Conv2d(3, 4, 3)))
    assert colour.fig.axes[0].images[0].get_array().shape == (3, 3, 3)  # RGB
    with pytest.raises(ValueError, match="'features.0', 'features.3'"):
        d2l.show_filters(net, "features.1")
    with pytest.raises(ValueError, match="no convolution"):
        d2l.show_filters(nn.Linear(2, 2))


def test_show_feature_maps_keeps_each_layers_output_and_the_mode():
    torch.manual_seed(0)
    net = d2l.models.lenet(variant="modern").train()
    X = torch.rand(1, 28, 28)
    fm = d2l.show_feature_maps(net, X, max_maps=4)
    assert list(fm.maps) == ["features.0", "features.2", "features.3", "features.5"] and fm.shown == 4
    with torch.no_grad():
        assert torch.allclose(fm.maps["features.2"], net.features[:3](X[None])[0])
    assert net.training
    for same in (X[0], X[None]):
        assert torch.equal(d2l.show_feature_maps(net, same, ["features.0"]).maps["features.0"], fm.maps["features.0"])
    with pytest.raises(ValueError, match="one image"):
        d2l.show_feature_maps(net, torch.rand(2, 1, 28, 28))
    with pytest.raises(ValueError, match="'conv9' is not a layer"):
        d2l.show_feature_maps(net, X, ["conv9"])


def linear_stack():
    net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.AvgPool2d(2), nn.Conv2d(1, 1, 3))
    for m in net:
        if isinstance(m, nn.Conv2d):
            nn.init.ones_(m.weight)
    return net


def test_gradient_of_a_linear_stack_fills_exactly_the_theoretical_field():
    net = linear_stack()
    rf = d2l.show_receptive_field(net, (1, 20, 20), num_samples=1)
    assert rf.size == d2l.receptive_field(net) == 8
    support = (rf.grad > 0).nonzero()
    top, left = support.min(0).values.tolist()
    bottom, right = support.max(0).values.tolist()
    assert (top, left, bottom, right) == rf.box and rf.inside == pytest.approx(1.0)
    assert rf.box[2] - rf.box[0] + 1 == 8


def test_effective_field_is_smaller_than_the_theoretical_in_a_deep_stack():
    torch.manual_seed(0)
    layers = []
    for i in range(10):
        layers += [nn.Conv2d(1 if i == 0 else 8, 8, 3, padding=1), nn.ReLU()]
    net = nn.Sequential(*layers)
    rf = d2l.show_receptive_field(net, (1, 48, 48), num_samples=4)
    assert rf.size == 21 and rf.inside == pytest.approx(1.0)
    assert rf.effective < rf.size
    assert all(p.grad is None for p in net.parameters())  # only the input's gradient was taken


def test_receptive_field_errors_name_the_fix():
    with pytest.raises(ValueError, match="net.features"):
        d2l.show_receptive_field(d2l.models.lenet(), (1, 28, 28))
    with pytest.raises(ValueError, match="one chain"):
        d2l.show_receptive_field(d2l.models.BasicBlock(4, 4), (4, 16, 16))
    with pytest.raises(ValueError, match="X must be a batch"):
        d2l.show_receptive_field(linear_stack(), (1, 20, 20), X=torch.rand(1, 1, 10, 10))
