"""d2lnets.compare, the closing chapter's helpers: costs against summary and torch's counter, saved
models loaded only where they fit (in smoke, from a temporary runs folder), torchvision's weights
through from_torchvision, and the pictures' contents."""
import matplotlib
import pytest
import torch
import torchvision
from torch import nn

import d2lnets as d2l
from d2lnets import compare
from d2lnets.analysis.predictions import Predictions

matplotlib.use("Agg")


@pytest.fixture(autouse=True, scope="module")
def _threads(one_thread):
    yield


# --- costs, the table and the plot -------------------------------------------------------------

def test_cost_is_summarys_and_twice_its_macs_are_torchs_flops():
    from torch.utils.flop_counter import FlopCounterMode

    net = d2l.models.lenet(variant="modern")
    c = compare.cost(net, (1, 28, 28))
    s = d2l.summary(net, (1, 28, 28))
    assert c == {"params": 61_706, "macs": s.total_macs, "activation_bytes": s.activation_bytes}
    with FlopCounterMode(display=False) as counter:
        net(torch.zeros(1, 1, 28, 28))
    assert 2 * c["macs"] == counter.get_total_flops() == 2 * 416_520


def test_the_chapters_networks_at_one_budget():
    """The recipe trains the five networks of the chapters on one budget; LeNet at its own 28 px."""
    for profile in ("smoke", "cpu", "full"):
        R = d2l.recipe("06_comparison", profile=profile)
        networks = R.options["networks"]
        assert list(networks) == ["LeNet", "AlexNet", "VGG-11", "ResNet-18", "DenseNet"]
        assert {n: s.get("image_size", R.image_size) for n, s in networks.items()} == {
            "LeNet": 28, "AlexNet": 32, "VGG-11": 32, "ResNet-18": 32, "DenseNet": 32}
        for spec in networks.values():
            assert spec["recipe"] in d2l.list_recipes()
            assert set(spec) <= {"recipe", "model", "variant", "image_size", "lr", "weight_decay"}
    cpu = d2l.recipe("06_comparison", profile="cpu")
    assert cpu.num_train is not None and cpu.num_epochs * cpu.num_train <= 80_000   # the 10-minute budget
    with torch.device("meta"):
        counts = {n: d2l.num_params(d2l.models.get_model(s["model"], num_classes=10, in_channels=1,
                                                         variant=s["variant"]))
                  for n, s in cpu.options["networks"].items()}
    assert counts == {"LeNet": 61_706, "AlexNet": 7_507_050, "VGG-11": 613_802, "ResNet-18": 11_178_378,
                      "DenseNet": 758_226}


def _rows():
    return [compare.Row("LeNet", 28, 61_706, 416_520, 60_008, 1.5, 0.85),
            compare.Row("ResNet-18", 32, 11_178_378, 35_410_944, 598_056, 20.0, 0.91),
            compare.Row("VGG-11", 32, 613_802, 9_619_968, 489_512, 4.0, 0.92)]


def test_the_table_has_one_line_per_network_in_order():
    lines = compare.format_table(_rows()).splitlines()
    assert len(lines) == 4 and [line.split()[0] for line in lines[1:]] == ["LeNet", "ResNet-18", "VGG-11"]
    assert "11,178,378" in lines[2] and "35.41 M" in lines[2] and "0.910" in lines[2]
    with pytest.raises(TypeError, match="list of compare.Row"):
        compare.format_table([])


def test_the_plot_draws_each_network_at_its_cost_and_accuracy():
    drawn = compare.plot_accuracy_vs_cost(_rows(), show=False)
    assert drawn.points["macs"]["VGG-11"] == (9_619_968, 0.92)
    assert drawn.points["seconds_per_epoch"]["LeNet"] == (1.5, 0.85)
    axes = drawn.fig.axes
    assert len(axes) == 2 and all(ax.get_xscale() == "log" for ax in axes)
    assert sorted(t.get_text() for t in axes[0].texts) == ["LeNet", "ResNet-18", "VGG-11"]
    with pytest.raises(ValueError, match="costs must name"):
        compare.plot_accuracy_vs_cost(_rows(), costs="flops", show=False)


def test_confusions_side_by_side():
    y = torch.tensor([0, 1, 2, 2, 9])
    a = Predictions(y, torch.tensor([0, 1, 2, 1, 9]), torch.ones(5), 10,
                                    torch.tensor([3]), torch.zeros(1, 1, 28, 28))
    b = Predictions(y, y.clone(), torch.ones(5), 10, torch.tensor([], dtype=torch.long),
                                    torch.zeros(0, 1, 28, 28))
    grid = compare.show_confusions({"a": a, "b": b}, show=False)
    assert list(grid.matrices) == ["a", "b"] and grid.accuracy == pytest.approx({"a": 0.8, "b": 1.0})
    assert grid.matrices["a"][2, 1] == 1 and int(grid.matrices["a"].trace()) == 4
    assert torch.equal(grid.matrices["b"], d2l.confusion_matrix(y, y, 10))
    assert [ax.get_title() for ax in grid.fig.axes] == ["a: accuracy 0.800", "b: accuracy 1.000"]
    with pytest.raises(TypeError, match="d2l.predict"):
        compare.show_confusions({"a": "not predictions"}, show=False)


# --- saved models: loaded where one fits, else the network trained here ------------------------

@pytest.fixture
def smoke_runs(tmp_path, monkeypatch):
    """A smoke run without $D2LNETS_RUNS: saving.py's temporary runs folder, here inside tmp_path."""
    import tempfile

    monkeypatch.setenv("D2LNETS_PROFILE", "smoke")
    monkeypatch.delenv("D2LNETS_RUNS", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    assert d2l.runs_dir().parent == tmp_path
    return d2l.runs_dir()


def test_without_a_saved_model_the_trained_network_is_used(smoke_runs):
    trained = d2l.models.lenet(variant="modern")
    net, meta, message = compare.saved_or_trained(d2l.recipe("01_lenet").make_net(), "01_lenet", trained)
    assert net is trained and meta is None and "no saved model" in message


def test_a_saved_model_is_loaded_instead(smoke_runs):
    d2l.set_seed(1)
    saved = d2l.models.lenet(variant="modern")
    path = d2l.save_model(saved, "01_lenet", accuracy=0.875)
    assert path.parent == smoke_runs and path.name == "01_lenet-smoke.pt"
    trained = d2l.models.lenet(variant="modern")
    net, meta, message = compare.saved_or_trained(d2l.recipe("01_lenet").make_net(), "01_lenet", trained)
    assert net is not trained and meta["accuracy"] == 0.875
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), saved.state_dict().values()))
    assert message == "01_lenet: loaded 01_lenet-smoke.pt (LeNet (modern), test accuracy 0.875 in its chapter)"
    # another profile's model is not this profile's
    net, meta, message = compare.saved_or_trained(d2l.models.lenet(variant="modern"), "01_lenet", trained,
                                                  profile="cpu")
    assert net is trained and "no saved model" in message


def test_a_saved_model_of_another_architecture_is_not_used(smoke_runs):
    d2l.save_model(d2l.models.lenet(variant="modern"), "03_vgg")
    trained = d2l.models.vgg11(variant="small")
    net, meta, message = compare.saved_or_trained(d2l.models.vgg11(variant="small"), "03_vgg", trained)
    assert net is trained and meta is None and "does not fit" in message and "differ" in message


# --- torchvision's weights ---------------------------------------------------------------------

def test_a_torchvision_state_dict_loads_into_ours_with_the_same_outputs(tmp_path):
    torch.manual_seed(0)
    tv = torchvision.models.resnet18().eval()
    path = tmp_path / "resnet18.pt"
    torch.save(tv.state_dict(), path)
    net = compare.load_torchvision("resnet18", path)
    assert type(net).__module__.startswith("d2lnets.models") and not net.training
    assert net.state_dict().keys() == tv.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), tv.state_dict().values()))
    X = compare.to_imagenet(torch.rand(2, 1, 28, 28), 64)
    with torch.no_grad():
        torch.testing.assert_close(net(X), tv(X), rtol=0, atol=1e-5)


def test_fine_tuning_replaces_the_head_only(tmp_path):
    path = tmp_path / "resnet18.pt"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    net = compare.load_torchvision("resnet18", path, num_classes=10)
    assert isinstance(net.fc, nn.Linear) and (net.fc.in_features, net.fc.out_features) == (512, 10)
    assert net(compare.to_imagenet(torch.rand(3, 1, 28, 28), 32)).shape == (3, 10)
    dense = tmp_path / "densenet121.pt"
    torch.save(torchvision.models.densenet121().state_dict(), dense)
    assert compare.load_torchvision("densenet121", dense, num_classes=10).classifier.out_features == 10


def test_bad_weights_say_what_was_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="torch.save"):
        compare.load_torchvision("resnet18", tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="names a torchvision model|must name"):
        compare.load_torchvision("resnet19", tmp_path / "missing.pt")
    path = tmp_path / "resnet34.pt"
    torch.save(torchvision.models.resnet34().state_dict(), path)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        compare.load_torchvision("resnet18", path)


def test_imagenet_inputs_repeat_the_grey_channel_resized_and_normalised():
    X = torch.rand(4, 1, 28, 28)
    Y = compare.to_imagenet(X, 56)
    assert Y.shape == (4, 3, 56, 56)
    grey = torch.nn.functional.interpolate(X, size=(56, 56), mode="bilinear", align_corners=False)
    for c, (m, s) in enumerate(zip(compare.IMAGENET_MEAN, compare.IMAGENET_STD)):
        torch.testing.assert_close(Y[:, c:c + 1], (grey - m) / s)
    torch.testing.assert_close(compare.to_imagenet(X, 28)[:, :1], (X - 0.485) / 0.229)
    with pytest.raises(ValueError, match="grey images"):
        compare.to_imagenet(torch.rand(4, 3, 28, 28), 56)
    batches = compare.ImageNetBatches([(X, torch.arange(4))] * 3, 32)
    assert len(batches) == 3 and [tuple(b.shape) for b, _ in batches] == [(4, 3, 32, 32)] * 3


def test_imagenet_batches_pass_the_loaders_epoch_and_device_on():
    train_iter, _ = d2l.load_data_fashion_mnist(8, num_train=32, num_test=8)
    batches = compare.ImageNetBatches(train_iter, 32)
    first = torch.cat([y for _, y in batches])
    batches.set_epoch(1)
    assert train_iter.epoch == 1 and not torch.equal(torch.cat([y for _, y in batches]), first)   # reshuffled
    moved = batches.to("cpu")
    assert isinstance(moved, compare.ImageNetBatches) and moved.size == 32 and len(moved) == 4
