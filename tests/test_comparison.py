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
    # no records but the test's own: the checkout's (make results') are never read
    monkeypatch.setattr(d2l.records, "results_file", lambda: tmp_path / "no-records.jsonl")
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
    assert message == ("01_lenet: loaded 01_lenet-smoke.pt (LeNet (modern)), test accuracy 0.875 in the run that "
                       "saved it; no recorded result of 01_lenet to compare with (make results keeps them)")
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


# --- a saved model is used only when it is its chapter's recorded run --------------------------------

def _records(path, **accuracies):
    """A records file as make results keeps it: one result record per chapter, in the smoke profile."""
    import json

    path.write_text("".join(json.dumps({"schema": 2, "kind": "result", "chapter": chapter, "profile": "smoke",
                                        "model": "m", "test_acc": acc}) + "\n" for chapter, acc in accuracies.items()))
    return path


def test_a_saved_model_with_its_chapters_recorded_accuracy_is_loaded(smoke_runs, tmp_path):
    d2l.save_model(d2l.models.lenet(variant="modern"), "01_lenet", accuracy=0.891234)
    records = _records(tmp_path / "records.jsonl", **{"01_lenet": 0.8912})     # rounded as records keep it
    trained = d2l.models.lenet(variant="modern")
    net, meta, message = compare.saved_or_trained(d2l.models.lenet(variant="modern"), "01_lenet", trained,
                                                  records=records)
    assert net is not trained and meta["recorded"] == 0.8912
    assert message == ("01_lenet: loaded 01_lenet-smoke.pt (LeNet (modern)), test accuracy 0.891 in its chapter: "
                       "its recorded result")


def test_a_saved_model_from_another_run_is_not_used_and_both_numbers_are_named(smoke_runs, tmp_path):
    """The issue's case: 02_alexnet-cpu.pt from an older chapter 2 (0.902) while the chapter recorded 0.891."""
    d2l.save_model(d2l.models.lenet(variant="modern"), "02_alexnet", accuracy=0.902)
    records = _records(tmp_path / "records.jsonl", **{"01_lenet": 0.5, "02_alexnet": 0.891})
    trained = d2l.models.lenet(variant="modern")
    net, meta, message = compare.saved_or_trained(d2l.models.lenet(variant="modern"), "02_alexnet", trained,
                                                  records=records)
    assert net is trained and meta is None
    assert "not loading 02_alexnet-smoke.pt" in message and "0.902" in message and "recorded result 0.891" in message
    assert "using the network trained above" in message
    # a file saved without its accuracy cannot be checked: not used either
    d2l.save_model(d2l.models.lenet(variant="modern"), "02_alexnet")
    net, meta, message = compare.saved_or_trained(d2l.models.lenet(variant="modern"), "02_alexnet", trained,
                                                  records=records)
    assert net is trained and "records no test accuracy" in message and "0.891" in message


def test_without_a_record_the_saved_model_is_loaded_and_the_message_says_so(smoke_runs, tmp_path):
    d2l.save_model(d2l.models.lenet(variant="modern"), "01_lenet", accuracy=0.875)
    records = _records(tmp_path / "records.jsonl", **{"02_alexnet": 0.891})    # another chapter's only
    net, meta, message = compare.saved_or_trained(d2l.models.lenet(variant="modern"), "01_lenet",
                                                  d2l.models.lenet(variant="modern"), records=records)
    assert meta["recorded"] is None and "test accuracy 0.875 in the run that saved it" in message
    assert "no recorded result of 01_lenet" in message
    assert compare.saved_or_trained(d2l.models.lenet(variant="modern"), "01_lenet", d2l.models.lenet(
        variant="modern"), records=tmp_path / "absent.jsonl")[1]["recorded"] is None


def test_the_latest_record_of_the_chapter_in_the_profile_counts(tmp_path):
    import json

    from d2lnets.train.records import recorded_result

    path = tmp_path / "records.jsonl"
    lines = [{"kind": "result", "chapter": "02_alexnet", "profile": "cpu", "test_acc": 0.902},
             {"kind": "report", "chapter": "02_alexnet", "profile": "cpu", "name": "x", "value": 1},
             {"chapter": "02_alexnet", "wall_seconds": 60.0},
             {"kind": "result", "chapter": "02_alexnet", "profile": "smoke", "test_acc": 0.3},
             {"kind": "result", "chapter": "02_alexnet", "profile": "cpu", "test_acc": 0.891}]
    path.write_text("".join(json.dumps(r) + "\n" for r in lines) + '{"chapter": "02_al')   # cut short
    assert recorded_result("02_alexnet", "cpu", path)["test_acc"] == 0.891
    assert recorded_result("02_alexnet", "smoke", path)["test_acc"] == 0.3
    assert recorded_result("01_lenet", "cpu", path) is None and recorded_result("02_alexnet", "full", path) is None


# --- ties: differences within the seed spread are not ranks ---------------------------------------------

def test_a_ranking_prints_ties_within_the_spread():
    acc = {"LeNet": 0.857, "AlexNet": 0.838, "VGG-11": 0.891, "ResNet-18": 0.882, "DenseNet": 0.882}
    assert compare.ranking(acc) == "VGG-11 > ResNet-18 ≈ DenseNet > LeNet > AlexNet"   # equal values tie
    assert compare.ranking(acc, tie=0.011) == "VGG-11 ≈ ResNet-18 ≈ DenseNet > LeNet > AlexNet"
    assert compare.ranking(acc, tie=0.02) == "VGG-11 ≈ ResNet-18 ≈ DenseNet > LeNet ≈ AlexNet"
    # each value is measured from the one before it: 0.891 and 0.882 tie, 0.870 is 0.012 below 0.882
    assert compare.ranking({"a": 0.891, "b": 0.882, "c": 0.870}, tie=0.011) == "a ≈ b > c"
    # chapter 6's run: DenseNet and ResNet-18 are 0.006 apart, so they are never put in rank, although
    # ResNet-18 is 0.020 below VGG-11 (measuring from a group's first member printed "VGG-11 ≈ DenseNet >
    # ResNet-18")
    ch6 = {"LeNet": 0.855, "AlexNet": 0.838, "VGG-11": 0.897, "ResNet-18": 0.877, "DenseNet": 0.883}
    assert compare.ranking(ch6, tie=0.014) == "VGG-11 ≈ DenseNet ≈ ResNet-18 > LeNet > AlexNet"
    assert compare.ranking(ch6, tie=0.011) == "VGG-11 > DenseNet ≈ ResNet-18 > LeNet > AlexNet"
    # the rule itself, on many draws: a rank sign never stands between two values within the tie
    g = torch.Generator().manual_seed(0)
    for _ in range(200):
        vals = dict(zip("abcdef", (torch.rand(6, generator=g) * 0.05).tolist()))
        order = compare.ranking(vals, tie=0.01).replace(" ≈ ", " ").replace(" > ", " | ").split(" ")
        ranks, r = {}, 0
        for token in order:
            if token == "|":
                r += 1
            else:
                ranks[token] = r
        assert all(ranks[x] == ranks[y] for x in vals for y in vals if abs(vals[x] - vals[y]) <= 0.01)
    assert compare.ranking({"x": 3.0, "y": 1.0}, descending=False) == "y < x"
    with pytest.raises(ValueError, match="tie"):
        compare.ranking(acc, tie=-0.1)


# --- the scatter's labels: beside their points, never on each other, inside the axes --------------------

def _crowded_rows():
    """The run whose labels collided ("DenseNetResNet-18"), with a point at the axes' corner besides."""
    return [compare.Row("LeNet", 28, 61_706, 416_520, 60_416, 0.9, 0.857),
            compare.Row("AlexNet", 32, 7_507_050, 79_509_504, 951_296, 22.8, 0.838),
            compare.Row("VGG-11", 32, 613_802, 9_619_968, 489_472, 4.6, 0.891),
            compare.Row("ResNet-18", 32, 11_178_378, 35_410_944, 598_016, 16.5, 0.882),
            compare.Row("DenseNet", 32, 758_226, 14_344_112, 762_880, 7.6, 0.882)]


def test_the_labels_never_collide_nor_leave_the_axes():
    from d2lnets.viz.labels import label_boxes

    drawn = compare.plot_accuracy_vs_cost(_crowded_rows(), show=False)
    for ax, cost in zip(drawn.fig.axes, ("macs", "seconds_per_epoch")):
        boxes = label_boxes(ax)
        assert sorted(boxes) == sorted(r.name for r in _crowded_rows())
        frame, figure = ax.get_window_extent(), drawn.fig.bbox
        for name, box in boxes.items():
            assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1, name
            assert figure.x0 <= box.x0 and box.x1 <= figure.x1 and figure.y0 <= box.y0 and box.y1 <= figure.y1
        pairs = [(a, b) for a in boxes for b in boxes if a < b and boxes[a].overlaps(boxes[b])]
        assert not pairs, pairs
        for name, (x, y) in drawn.points[cost].items():   # each label sits next to its own point
            px, py = ax.transData.transform((x, y))
            box = boxes[name]
            assert box.x0 - 12 <= px <= box.x1 + 12 and box.y0 - 12 <= py <= box.y1 + 12, name


def test_the_overlap_check_catches_labels_written_at_one_offset():
    """What the test above rules out happens without place_labels: the old annotate(xytext=(4, 4))."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.2, 3.4), layout="constrained")
    ax = fig.subplots()
    rows = _crowded_rows()
    for r in rows:
        ax.plot([r.macs], [r.test_acc], "o")
        ax.annotate(r.name, (r.macs, r.test_acc), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xscale("log")
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw_without_rendering()
    boxes = {t.get_text(): t.get_window_extent(renderer) for t in ax.texts}
    frame = ax.get_window_extent(renderer)
    assert boxes["DenseNet"].overlaps(boxes["ResNet-18"]) or any(
        b.x1 > frame.x1 for b in boxes.values())   # colliding, or clipped at the right


def test_place_labels_says_what_it_takes():
    from matplotlib.figure import Figure

    from d2lnets.viz.labels import place_labels

    with pytest.raises(TypeError, match="name: "):
        place_labels(Figure().subplots(), [(1, 2)])


# --- ImageNet's weights: fine-tuned only from a real file, never from a stand-in --------------------------

@pytest.fixture
def hub(tmp_path, monkeypatch):
    """torch's hub cache in a folder of the test's (a learner's cache is never read or written)."""
    folder = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(folder))
    return folder


def _pretrained_cell():
    import nbformat

    nb = nbformat.read(compare_chapter(), as_version=4)
    return next(c.source for c in nb.cells if c.cell_type == "code" and "imagenet_weights(" in c.source
                and "verify" not in c.metadata.get("tags", []))


def compare_chapter():
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "chapters" / "06_comparison.ipynb"


def _run_cell(monkeypatch, capsys):
    """The chapter's own fine-tuning cell, in the smoke profile (its settings: 2 steps at 32 px)."""
    monkeypatch.setenv("D2LNETS_PROFILE", "smoke")
    monkeypatch.setenv("D2LNETS_RESULTS", "")
    namespace = {"d2l": d2l, "compare": compare, "torch": torch}
    exec(compile(_pretrained_cell(), "06_comparison: the fine-tuning cell", "exec"), namespace)
    return namespace, capsys.readouterr().out


def test_without_the_weights_the_cell_says_so_and_prints_no_number(hub, monkeypatch, capsys):
    assert compare.imagenet_weights("resnet18") is None
    namespace, out = _run_cell(monkeypatch, capsys)
    assert f"No ImageNet weights for resnet18: {hub / 'checkpoints' / 'resnet18-f37072fd.pth'} does not exist" in out
    assert 'torchvision.models.resnet18(weights="DEFAULT")' in out and "from random weights" in out
    assert "result: finetune_acc = not measured: no ImageNet weights here" in out
    assert "result: finetune_random_acc = not measured" in out
    assert "tuned" not in namespace                            # nothing was trained
    assert not any(c.isdigit() for line in out.splitlines() if line.startswith("result:") for c in line)


def test_with_the_weights_the_cell_fine_tunes_from_them_and_from_random_ones(hub, monkeypatch, capsys):
    (hub / "checkpoints").mkdir(parents=True)
    d2l.set_seed(3)
    state = torchvision.models.resnet18().state_dict()        # the right shape: what the cache would hold
    torch.save(state, hub / "checkpoints" / "resnet18-f37072fd.pth")
    assert compare.imagenet_weights("resnet18") == hub / "checkpoints" / "resnet18-f37072fd.pth"
    loaded = []
    load = compare.load_torchvision
    monkeypatch.setattr(compare, "load_torchvision", lambda *a, **k: loaded.append(a) or load(*a, **k))
    namespace, out = _run_cell(monkeypatch, capsys)
    assert loaded == [("resnet18", hub / "checkpoints" / "resnet18-f37072fd.pth")]
    tuned, scratch = namespace["tuned"], namespace["scratch"]
    assert f"result: finetune_acc = {d2l.records._fmt(tuned.final['test_acc'])}" in out
    assert f"result: finetune_random_acc = {d2l.records._fmt(scratch.final['test_acc'])}" in out
    assert "No ImageNet weights" not in out
    T = d2l.recipe("06_comparison", "pretrained", profile="smoke")
    assert tuned.num_epochs == scratch.num_epochs == T.num_epochs


def test_a_file_of_the_wrong_network_in_the_cache_is_an_error_not_a_result(hub, monkeypatch, capsys):
    (hub / "checkpoints").mkdir(parents=True)
    torch.save(torchvision.models.resnet34().state_dict(), hub / "checkpoints" / "resnet18-f37072fd.pth")
    with pytest.raises(RuntimeError, match="Unexpected key"):
        _run_cell(monkeypatch, capsys)
    with pytest.raises(ValueError, match="torchvision model with ImageNet weights"):
        compare.imagenet_weights("lenet")
