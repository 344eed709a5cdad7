"""AlexNet's two towers (Krizhevsky et al. 2012, Figure 2): LRN within each tower, the towers on two
devices against the one-device grouped network, and the five-flower write-up's half-width AlexNet."""
import copy
import io

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import d2lnets as d2l
import d2lnets.models as M
from d2lnets.models.alexnet import TwoTowerAlexNet
from d2lnets.models.layers import LocalResponseNorm

pytestmark = pytest.mark.usefixtures("one_thread")


def on_meta(factory, *args, **kwargs) -> nn.Module:
    with torch.device("meta"):
        return factory(*args, **kwargs)


# ---------------------------------------------------------------------------------------------
# LRN within each tower
# ---------------------------------------------------------------------------------------------
def torch_lrn_per_group(x, groups, size, alpha, beta, k):
    """torch.nn.LocalResponseNorm applied to each block of channels on its own."""
    lrn = nn.LocalResponseNorm(size, alpha, beta, k)
    return torch.cat([lrn(part) for part in x.chunk(groups, dim=1)], dim=1)


@pytest.mark.parametrize("groups, shape", [(2, (2, 8, 3, 4)), (2, (1, 96, 5, 5)), (3, (2, 9, 2, 3)), (4, (1, 4, 3, 3))])
@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_grouped_lrn_is_torch_lrn_on_each_group(groups, shape, size):
    torch.manual_seed(0)
    x = torch.randn(shape, dtype=torch.float64) * 3
    ours = LocalResponseNorm(size, alpha=0.5, beta=0.75, k=2.0, groups=groups)(x)
    torch.testing.assert_close(ours, torch_lrn_per_group(x, groups, size, 0.5, 0.75, 2.0), atol=1e-12, rtol=1e-12)
    # the paper's convention reads alpha without the 1/n: the same layer with alpha * n in torch's
    paper = LocalResponseNorm(size, alpha=0.1, beta=0.75, k=2.0, convention="paper", groups=groups)(x)
    torch.testing.assert_close(paper, torch_lrn_per_group(x, groups, size, 0.1 * size, 0.75, 2.0),
                               atol=1e-12, rtol=1e-12)


def test_grouped_lrn_windows_stop_at_the_towers_border():
    torch.manual_seed(0)
    x = torch.randn(1, 8, 2, 2) * 5
    one, two = LocalResponseNorm(5, 1.0, 0.75, 2.0)(x), LocalResponseNorm(5, 1.0, 0.75, 2.0, groups=2)(x)
    # channels 2 and 5 have windows (0..4 and 3..7) that cross the border between channels 3 and 4;
    # channels 0 and 7 (windows 0..2 and 5..7) do not
    assert not torch.allclose(one[:, 2:6], two[:, 2:6])
    torch.testing.assert_close(one[:, [0, 7]], two[:, [0, 7]])
    channels_last = x.to(memory_format=torch.channels_last)
    torch.testing.assert_close(LocalResponseNorm(5, 1.0, 0.75, 2.0, groups=2)(channels_last), two)
    # in bf16 (under autocast) the squares are summed in fp32, per tower as well
    torch.testing.assert_close(LocalResponseNorm(5, 1.0, 0.75, 2.0, groups=2)(x.bfloat16()).float(), two,
                               atol=0.05, rtol=0.02)


def test_grouped_lrn_errors_and_repr():
    with pytest.raises(ValueError, match=r"groups=2 splits the channels into 2 towers of equal width, but got "
                                         r"7 channels"):
        LocalResponseNorm(5, groups=2)(torch.randn(1, 7, 3, 3))
    with pytest.raises(ValueError, match="across='space' already normalises each channel on its own"):
        LocalResponseNorm(3, across="space", groups=2)
    with pytest.raises(ValueError, match="groups must be a positive integer"):
        LocalResponseNorm(5, groups=0)
    assert repr(LocalResponseNorm(5, groups=2)).endswith("across='channels', groups=2)")
    assert "groups" not in repr(LocalResponseNorm(5))


@torch.no_grad()
def test_paper_alexnet_normalises_within_each_tower():
    net = M.alexnet(10, variant="paper").eval()
    lrns = [m for m in net.features if isinstance(m, LocalResponseNorm)]
    assert [m.groups for m in lrns] == [2, 2]
    assert all(m.groups == 1 for m in M.alexnet(10, variant="paper", groups=1).features
               if isinstance(m, LocalResponseNorm))
    torch.manual_seed(0)
    x = torch.rand(1, 3, 227, 227) * 255  # pixel values: activations large enough for LRN to matter
    a = net.features[:2](x)  # conv1 and its ReLU: 96 maps, 48 per tower
    # the paper's k=2, n=5, alpha=1e-4, beta=0.75 in torch's convention, on each tower's 48 maps
    torch.testing.assert_close(net.features[2](a), torch_lrn_per_group(a, 2, 5, 5e-4, 0.75, 2.0))
    assert not torch.allclose(net.features[2](a), nn.LocalResponseNorm(5, 5e-4, 0.75, 2.0)(a))  # one window
    b = net.features[3:6](net.features[2](a))
    torch.testing.assert_close(net.features[6](b), torch_lrn_per_group(b, 2, 5, 5e-4, 0.75, 2.0))


# ---------------------------------------------------------------------------------------------
# the two towers on two devices
# ---------------------------------------------------------------------------------------------
def grads_as_state_dict(net: nn.Module) -> dict:
    """The gradients, named and shaped as ``net.state_dict()`` names and shapes its tensors."""
    g = copy.deepcopy(net)
    with torch.no_grad():
        for p, q in zip(net.parameters(), g.parameters()):
            q.copy_(p.grad)
    return g.state_dict()


def compare_with_one_device(devices, size=99, num_classes=10):
    """Copy a one-device paper AlexNet into the two-device one; outputs and gradients must agree."""
    torch.manual_seed(0)
    one = M.alexnet(num_classes, variant="paper", dropout=0.0).to(devices[0]).train()
    two = M.alexnet(num_classes, variant="paper", dropout=0.0, devices=devices).train()
    assert isinstance(two, TwoTowerAlexNet) and two.devices == tuple(torch.device(d) for d in devices)
    two.load_state_dict(one.state_dict())
    # pixel values in 0-255: activations large enough for each tower's LRN to differ from one across
    # the towers (on [0, 1] images and a fresh network LRN divides by nearly the same 2 ** 0.75 everywhere)
    x = torch.rand(3, 3, size, size, device=devices[0]) * 255
    y = torch.tensor([1, 4, 7], device=devices[0])
    out1, out2 = one(x), two(x)
    assert out2.device == torch.device(devices[0])
    torch.testing.assert_close(out2, out1, atol=1e-5, rtol=1e-5)
    with torch.no_grad():  # the comparison sees the LRN windows: crossing the towers' border changes the output
        across = copy.deepcopy(one)
        for m in across.features:
            if isinstance(m, LocalResponseNorm):
                m.groups = 1
        assert not torch.allclose(across(x), out1, atol=1e-5, rtol=1e-5)
    F.cross_entropy(out1, y).backward()
    F.cross_entropy(out2, y).backward()
    g1, g2 = grads_as_state_dict(one), grads_as_state_dict(two)
    assert list(g1) == list(g2)
    # Within 1e-5 of each tensor's largest entry on one kind of device; 1e-4 across a CPU and a GPU, whose
    # convolutions sum in other orders (measured on an H200: 2.0e-5 in conv2's weight gradient, of order 1)
    tol = 1e-5 if len({torch.device(d).type for d in devices}) == 1 else 1e-4
    for key in g1:
        scale = g1[key].abs().max().item()
        torch.testing.assert_close(g2[key].to(devices[0]), g1[key], atol=tol * max(scale, 1.0), rtol=1e-5,
                                   msg=lambda m, key=key: f"{key}: {m}")
    return one, two


def test_two_devices_state_dict_is_the_grouped_networks():
    with torch.device("cpu"):
        one, two = M.alexnet(102, variant="paper"), M.alexnet(102, variant="paper", devices=("cpu", "cpu"))
    s1, s2 = one.state_dict(), two.state_dict()
    assert list(s1) == list(s2)
    assert [tuple(v.shape) for v in s1.values()] == [tuple(v.shape) for v in s2.values()]
    assert d2l.num_params(two) == d2l.num_params(one) == 57_286_118
    # each tower holds half of every layer but fc8
    assert two.towers[0].features[4].weight.shape == (128, 48, 5, 5)
    assert two.towers[0].features[8].weight.shape == (192, 256, 3, 3)  # conv3 sees both towers
    assert two.towers[1].classifier[3].weight.shape == (2048, 4096)   # so does fc7
    for kwargs in (dict(lrn=False), dict(overlap=False, dropout=0.0)):  # the layers' numbers follow the options
        with torch.device("meta"):
            def keys(net):
                return [(k, tuple(v.shape)) for k, v in net.state_dict().items()]
            assert keys(M.alexnet(variant="paper", devices=("meta", "meta"), **kwargs)) == \
                keys(M.alexnet(variant="paper", **kwargs))
    # both ways: the one-device network's weights into the towers and back, exactly
    assert str(two.load_state_dict(s1)) == "<All keys matched successfully>"
    for key, value in two.state_dict().items():
        assert torch.equal(value, s1[key]), key
    torch.manual_seed(1)
    other = M.alexnet(102, variant="paper", devices=("cpu", "cpu"))
    one.load_state_dict(other.state_dict())
    assert all(torch.equal(v, one.state_dict()[k]) for k, v in other.state_dict().items())


def test_two_devices_checkpoint_and_nesting():
    torch.manual_seed(0)
    two = M.alexnet(10, variant="paper", devices=("cpu", "cpu"))
    buf = io.BytesIO()
    torch.save(two.state_dict(), buf)
    buf.seek(0)
    one = M.alexnet(10, variant="paper")
    one.load_state_dict(torch.load(buf))
    x = torch.rand(2, 3, 67, 67)
    torch.testing.assert_close(one.eval()(x), two.eval()(x), atol=1e-5, rtol=1e-5)
    # inside another module (a prefix on every key)
    outer2, outer1 = nn.Sequential(two), nn.Sequential(M.alexnet(10, variant="paper"))
    assert list(outer2.state_dict()) == list(outer1.state_dict())
    assert next(iter(outer2.state_dict())) == "0.features.0.weight"
    outer1.load_state_dict(outer2.state_dict())
    torch.testing.assert_close(outer1.eval()(x), two(x), atol=1e-5, rtol=1e-5)
    # a checkpoint of another size says which tensor and what the towers hold
    with pytest.raises(RuntimeError, match=r"size mismatch for classifier\.6\.weight|size mismatch for fc8"):
        two.load_state_dict(M.alexnet(5, variant="paper").state_dict())
    with pytest.raises(RuntimeError, match=r"size mismatch for features\.0\.weight: copying a tensor of shape "
                                           r"\(96, 1, 11, 11\), the two towers hold \(96, 3, 11, 11\)"):
        two.load_state_dict(M.alexnet(10, 1, variant="paper").state_dict())


def test_train_ch5_trains_the_towers_where_they_are(monkeypatch):
    """train_ch5 keeps a two-device network on its devices (and takes the data on the first); the
    one-device network trained on the same batches ends with the same weights."""
    monkeypatch.setenv("D2LNETS_PRECISION", "fp32")
    torch.manual_seed(0)
    X, y = torch.rand(16, 3, 67, 67), torch.randint(0, 10, (16,))
    batches = [(X[:8], y[:8]), (X[8:], y[8:])]
    two = M.alexnet(10, variant="paper", devices=("cpu", "cpu"), dropout=0.0)
    one = M.alexnet(10, variant="paper", dropout=0.0)
    one.load_state_dict(two.state_dict())
    for net in (two, one):
        d2l.train_ch5(net, batches, batches[:1], 1, lr=0.01, device="cpu", verbose=False, plot=False)
    assert [d.type for d in two.devices] == ["cpu", "cpu"]
    for k, v in one.state_dict().items():
        torch.testing.assert_close(two.state_dict()[k], v, atol=1e-5, rtol=1e-5, msg=k)
    # as if its first tower were on another device than the one asked for
    monkeypatch.setattr(type(two), "devices", property(lambda self: (torch.device("cpu:1"), torch.device("cpu"))))
    with pytest.raises(ValueError, match=r"spread over cpu:1, cpu and takes its input on cpu:1; train it with "
                                         r"device='cpu:1' \(got 'cpu'\)"):
        d2l.train_ch5(two, batches, batches[:1], 1, lr=0.01, device="cpu", verbose=False, plot=False)


def test_two_cpu_devices_match_one_device_outputs_and_gradients():
    compare_with_one_device(("cpu", "cpu"))


def test_two_devices_at_the_papers_resolution_in_eval_mode():
    torch.manual_seed(0)
    one = M.alexnet(1000, variant="paper").eval()
    two = M.alexnet(variant="paper", devices=("cpu", "cpu")).eval()
    two.load_state_dict(one.state_dict())
    x = torch.rand(1, 3, 227, 227)
    with torch.no_grad():
        torch.testing.assert_close(two(x), one(x), atol=1e-5, rtol=1e-5)
        assert two.towers[0].features[:two.conv3](x).shape == (1, 128, 13, 13)  # a tower's half of conv2's maps


GPU_PAIRS = [
    pytest.param(("cuda:0", "cuda:1"), marks=pytest.mark.skipif(
        torch.cuda.device_count() < 2, reason=f"needs 2 CUDA devices, one per tower; this machine has "
                                              f"{torch.cuda.device_count()}")),
    pytest.param(("cpu", "cuda:0"), marks=pytest.mark.skipif(
        torch.cuda.device_count() < 1, reason="needs a CUDA device for the second tower; this machine has none")),
]


@pytest.mark.parametrize("devices", GPU_PAIRS)
def test_towers_on_gpus_match_one_device_outputs_and_gradients(devices, monkeypatch):
    # fp32 as on the CPU: TF32 (10-bit mantissas) in the convolutions would differ by more than 1e-5
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    one, two = compare_with_one_device(devices, size=227)
    d0, d1 = (torch.device(d) for d in devices)
    assert all(p.device == d0 for p in two.towers[0].parameters())
    assert all(p.device == d1 for p in two.towers[1].parameters())
    assert two.fc8.weight.device == d0 and all(v.device == d0 for v in two.state_dict().values())


def test_two_devices_errors():
    for bad in ("cpu", ("cpu",), ("cpu", "cpu", "cpu"), ("cpu", "gpu0"), 3):
        with pytest.raises(ValueError, match=r"devices must be two devices, one per tower, e\.g\. \('cuda:0', "
                                             r"'cuda:1'\) or \('cpu', 'cpu'\)"):
            M.alexnet(variant="paper", devices=bad)
    n = torch.cuda.device_count()
    with pytest.raises(ValueError, match=rf"devices names cuda:{n + 1} but this machine has {n} CUDA device"):
        M.alexnet(variant="paper", devices=("cpu", f"cuda:{n + 1}"))
    for kwargs in (dict(variant="torchvision"), dict(variant="half"), dict(variant="paper", groups=1)):
        with pytest.raises(ValueError, match="devices=\\(d0, d1\\) puts the paper's two towers on two devices: it "
                                             "needs variant='paper'"):
            M.alexnet(devices=("cpu", "cpu"), **kwargs)
    two = M.alexnet(variant="paper", devices=("cpu", "cpu"))
    with pytest.raises(ValueError, match=r"built for 3-channel input but got 1 channels"):
        two(torch.rand(1, 1, 67, 67))
    with pytest.raises(ValueError, match=r"needs inputs of at least 67x67 pixels but got 66x66"):
        two(torch.rand(1, 3, 66, 66))


@torch.no_grad()
def test_two_devices_summary_and_diagram():
    one = M.alexnet(1000, variant="paper")
    two = M.alexnet(1000, variant="paper", devices=("cpu", "cpu"))
    s1, s2 = d2l.summary(one, (3, 227, 227)), d2l.summary(two, (3, 227, 227))
    assert s2.total_params == s1.total_params == 60_965_224
    assert s2.total_macs == s1.total_macs  # the same multiply-adds, split over the towers
    assert [r.output_shape[1:] for r in s2.rows if r.name == "towers.0.features.0"] == [(48, 55, 55)]
    d = d2l.draw_architecture(two, (3, 227, 227))
    convs = [n for n in d.nodes if n.kind == "conv"]
    assert [n.label.split(" · ")[0] for n in convs] == (  # as they run: conv1, conv2 of each tower, then conv3-5
        2 * ["Conv 11×11/4, 48", "Conv 5×5, 128"] + 2 * ["Conv 3×3, 192", "Conv 3×3, 192", "Conv 3×3, 128"])
    # where the towers meet: twice into conv3, fc6 and fc7 (once on each device), once into fc8
    assert [n.shape for n in d.nodes if n.kind == "cat"] == [(256, 13, 13)] * 2 + [(9216,)] * 2 + [(4096,)] * 3
    assert d.nodes[-1].label == "Linear 1000"


# ---------------------------------------------------------------------------------------------
# the half-width AlexNet of the five-flower write-up
# ---------------------------------------------------------------------------------------------
def write_up_half_alexnet(num_classes=5):
    """The write-up's Keras network (AlexNet_v1) layer by layer in torch: ZeroPadding2D((1, 2), (1, 2))
    then an unpadded 11x11/4 convolution, 'same' convolutions, Dropout before the two 2048 layers."""
    return nn.Sequential(
        nn.ZeroPad2d((1, 2, 1, 2)), nn.Conv2d(3, 48, 11, 4), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(48, 128, 5, padding=2), nn.ReLU(), nn.MaxPool2d(3, 2),
        nn.Conv2d(128, 192, 3, padding=1), nn.ReLU(), nn.Conv2d(192, 192, 3, padding=1), nn.ReLU(),
        nn.Conv2d(192, 128, 3, padding=1), nn.ReLU(), nn.MaxPool2d(3, 2), nn.Flatten(),
        nn.Dropout(0.5), nn.Linear(6 * 6 * 128, 2048), nn.ReLU(),
        nn.Dropout(0.5), nn.Linear(2048, 2048), nn.ReLU(), nn.Linear(2048, num_classes),
    )


def trace(layers, x):
    """The output shape of every layer but a ZeroPad2d."""
    shapes = []
    for m in layers:
        x = m(x)
        if not isinstance(m, nn.ZeroPad2d):
            shapes.append(tuple(x.shape))
    return shapes


def test_half_parameter_counts():
    assert d2l.num_params(on_meta(M.alexnet, num_classes=5, variant="half")) == 14_591_685
    assert d2l.num_params(on_meta(M.alexnet, variant="half")) == 14_591_685 + 2048 * 995 + 995
    assert d2l.num_params(write_up_half_alexnet()) == 14_591_685
    # the flower reproduction's two figures, and the paper's
    assert d2l.num_params(on_meta(M.alexnet, 102, variant="paper")) == 57_286_118
    assert d2l.num_params(on_meta(M.alexnet, 102, variant="paper", groups=1)) == 58_699_238
    assert d2l.num_params(on_meta(M.alexnet, 102, variant="paper", devices=("meta", "meta"))) == 57_286_118


@torch.no_grad()
def test_half_is_the_write_ups_network_at_224():
    torch.manual_seed(0)
    ours, theirs = M.alexnet(num_classes=5, variant="half").eval(), write_up_half_alexnet().eval()
    def params(net):
        return [tuple(p.shape) for p in net.parameters()]
    assert params(ours) == params(theirs)
    x = torch.rand(2, 3, 224, 224)
    # the same map sizes layer by layer (55, 27, 27, 13, 13, 13, 13, 6): padding 2 on both sides gives
    # the 55x55 that the write-up's 1-and-2 padding gives
    assert trace(ours.features, x) == trace(list(theirs)[:14], x)
    assert ours.features(x).shape == (2, 128, 6, 6) and ours(x).shape == (2, 5)
    conv1 = ours.features[0]
    assert (conv1.kernel_size, conv1.stride, conv1.padding) == ((11, 11), (4, 4), (2, 2))
    # one tower, no LRN; dropout on the inputs of fc6 and fc7 as the write-up
    assert all(m.groups == 1 for m in ours.modules() if isinstance(m, nn.Conv2d))
    assert not any(isinstance(m, LocalResponseNorm) for m in ours.modules())
    assert [type(m).__name__ for m in ours.classifier] == ["Dropout", "Linear", "ReLU", "Dropout", "Linear", "ReLU",
                                                           "Linear"]
    # with the write-up's weights copied in order, the classifier computes what the write-up's does
    for p, q in zip(ours.parameters(), theirs.parameters()):
        p.copy_(q)
    h = torch.rand(2, 6 * 6 * 128)
    torch.testing.assert_close(ours.classifier(h), nn.Sequential(*list(theirs)[15:])(h))


def test_half_is_not_small():
    half, small = M.alexnet(5, 3, variant="half"), M.alexnet(5, 3, variant="small")
    assert [m.out_channels for m in half.features if isinstance(m, nn.Conv2d)] == \
           [m.out_channels for m in small.features if isinstance(m, nn.Conv2d)] == [48, 128, 192, 192, 128]
    assert half.features[0].kernel_size == (11, 11) and small.features[0].kernel_size == (3, 3)
    assert half.min_size == 63 and small.min_size == 15
    with pytest.raises(ValueError, match=r"needs inputs of at least 63x63 pixels but got 32x32"):
        half(torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match=r"variant must be one of \('paper', 'torchvision', 'd2l', 'small', "
                                         r"'half'\), got 'halfwidth'"):
        M.alexnet(variant="halfwidth")
