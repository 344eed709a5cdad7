"""The machinery of ``make bench`` (benchmarks/), on tiny inputs: how steps are timed, the
side-by-side run of the three loops, where the rows come from, and the table. The figures
themselves come from ``make bench``."""
import ast
import sys
from pathlib import Path

import pytest
import torch

import d2lnets as d2l

pytestmark = pytest.mark.usefixtures("one_thread")

BENCH = Path(__file__).parent.parent / "benchmarks"
MODULES = ("timing", "matmul_peak", "training", "loaders", "batch_sweep", "accuracy", "compile_speed", "book",
           "gpu_training", "report", "run")


@pytest.fixture(scope="module")
def bench():
    """The benchmark modules, imported as ``python benchmarks/run.py`` imports them."""
    sys.path.insert(0, str(BENCH))
    try:
        modules = {name: __import__(name) for name in MODULES}
    finally:
        sys.path.remove(str(BENCH))
    return type("Bench", (), modules)


def test_step_clock_times_each_step_and_leaves_out_the_first(bench):
    clock = bench.timing.StepClock([0] * 4, torch.device("cpu"))
    # stamps: start, then after steps 1..4 (step 1 is the slow warm-up)
    clock.passes = [[0.0, 5.0, 6.0, 7.0, 8.0], [10.0, 13.0, 14.0, 16.0, 17.0]]
    assert clock.examples_per_sec(32) == 32 / 1.0  # median of 1, 1, 1, 1, 2, 1
    gpu = bench.timing.StepClock([0] * 4, torch.device("cuda"))
    gpu.passes = clock.passes
    assert gpu.examples_per_sec(32) == pytest.approx((3 * 32 / 3 + 3 * 32 / 4) / 2)  # per pass, then the median


def test_step_clock_stamps_every_fetch(bench):
    clock = bench.timing.StepClock([(1,), (2,), (3,)], torch.device("cpu"))
    assert len(clock) == 3
    assert list(clock) == [(1,), (2,), (3,)] and list(clock) == [(1,), (2,), (3,)]
    assert [len(s) for s in clock.passes] == [4, 4]
    assert all(a <= b for s in clock.passes for a, b in zip(s, s[1:]))


def test_the_three_loops_run_on_the_same_batches(bench):
    batches = [(torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))) for _ in range(bench.timing.BATCHES)]
    rates = bench.training.measure_training(lambda: d2l.models.lenet(variant="modern"), batches,
                                            torch.device("cpu"), 1)
    assert set(rates) == {"auto", "fp32", "book"} and all(r > 0 for r in rates.values())


def test_the_book_trains_quietly_and_its_module_is_left_alone(bench, capsys):
    from d2l import torch as d2l_book

    before = dict(vars(d2l_book))
    batches = [(torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))) for _ in range(5)]
    bench.timing.book_train_ch6(d2l.models.lenet(variant="modern"), batches, batches[:1], 1, 0.01, torch.device("cpu"))
    assert capsys.readouterr().out == ""
    after = vars(d2l_book)
    assert after.keys() == before.keys() and all(after[k] is v for k, v in before.items())


def test_rows_come_from_the_recipes(bench):
    """Every row is a chapter's main run in the cpu or full profile: its model, size and batch
    (the batch capped at 64 at 224 px), and every such run has its row."""
    rows = bench.training.rows()
    for row in rows:
        for profile in row["profile"].split("+"):
            R = d2l.recipe(row["chapter"], profile=profile)
            assert row["recipe"].model == R.model and row["recipe"].variant == R.variant
            assert row["model"] == R.title and row["size"] == R.image_size
            assert row["batch_size"] == (min(R.batch_size, 64) if R.image_size >= 224 else R.batch_size)
    covered = {(row["chapter"], p) for row in rows for p in row["profile"].split("+")}
    assert covered == {(c, p) for c in d2l.list_recipes() for p in ("cpu", "full")
                       if d2l.recipe(c, profile=p).model is not None
                       and d2l.recipe(c, profile=p).dataset == "fashion_mnist"}
    assert {c for c, _ in covered} == {"01_lenet", "02_alexnet", "03_vgg", "04_resnet", "05_densenet"}
    # the README's Performance table, row by row
    assert [(r["model"], r["size"], r["batch_size"]) for r in rows] == [
        ("LeNet (modern)", 28, 256), ("AlexNet small", 32, 128), ("AlexNet (book)", 224, 64),
        ("VGG-11 CPU-sized", 32, 128), ("VGG-11/4 (book)", 224, 64), ("ResNet-18 (book)", 32, 128),
        ("ResNet-18 (book)", 96, 256), ("DenseNet (book)", 32, 128), ("DenseNet (book)", 96, 256)]
    assert rows[0]["profile"] == "cpu+full"


def test_the_cpu_sized_vgg_row_trains_chapter_3s_network(bench):
    row = next(r for r in bench.training.rows() if r["chapter"] == "03_vgg" and r["profile"] == "cpu")
    net = row["recipe"].make_net()
    assert sum(p.numel() for p in net.parameters()) == 613_802
    assert net(torch.rand(2, 1, 32, 32)).shape == (2, 10)


def test_accuracy_and_compile_runs_follow_the_chapters_recipes(bench):
    for R, (chapter, changes) in zip(bench.accuracy.recipes(quick=False), bench.accuracy.RUNS):
        cpu = d2l.recipe(chapter, profile="cpu")
        assert (R.model, R.variant, R.image_size, R.lr, R.momentum, R.schedule) == \
               (cpu.model, cpu.variant, cpu.image_size, cpu.lr, cpu.momentum, cpu.schedule)
        assert all(getattr(R, k) == v for k, v in changes.items())
    assert len(bench.accuracy.recipes(quick=True)) == 1
    assert set(bench.compile_speed.CHAPTERS) <= set(d2l.list_recipes())


def test_benchmarks_use_only_public_names_and_change_nothing(bench):
    """No private imports from d2lnets, no monkeypatching, no change of working directory."""
    for path in BENCH.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("d2lnets"):
                assert not any(part.startswith("_") for part in node.module.split(".")), (path.name, node.module)
                assert not any(a.name.startswith("_") for a in node.names), (path.name, node.module)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "d2l":
                assert not node.attr.startswith("_"), (path.name, node.attr)
            if isinstance(node, ast.Assign):  # nothing assigned into a module: d2l.x = ..., d2l_book.x = ...
                for target in node.targets:
                    assert not (isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                                and target.value.id.startswith("d2l")), (path.name, ast.unparse(target))
        assert "os.chdir" not in path.read_text(), path.name


def test_one_epoch_of_a_loader_is_timed_whole(bench):
    X = torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8)
    loader = d2l.FashionMNISTLoader(X, torch.arange(64) % 10, 16, resize=32)
    assert bench.timing.epoch_images_per_sec(loader, torch.device("cpu")) > 0
    assert bench.timing.epoch_images_per_sec(loader, torch.device("cpu"), warm_up=True) > 0


def test_the_book_reads_the_data_written_for_it(bench, tmp_path):
    """The IDX files the bench writes for the book's loader are the dataset's, as torchvision reads them."""
    import torchvision

    bench.loaders.write_book_data(tmp_path)
    book = torchvision.datasets.FashionMNIST(root=str(tmp_path), train=False, download=False)
    ours = d2l.load_fashion_mnist_tensors()
    assert torch.equal(book.data, ours["test_images"]) and torch.equal(book.targets, ours["test_labels"].long())


def test_the_table(bench):
    model = {"model": "LeNet (modern)", "size": 28, "batch_size": 256, "ours_default": 20000.0, "ours_fp32": 16000.0,
             "book": 10000.0, "speedup": 2.0, "fp32_vs_book": 1.6, "achieved_gflops": 45.0, "share_of_peak": 0.12,
             "loader_to_model": 36.0}
    result = {"device": "cpu", "machine": "x86_64 2 cores", "torch": "2.x", "peaks_gflops": {"fp32": 150, "bf16": 380},
              "models": [model],
              "data": [{"size": 224, "augmented": False, "ours": 20000, "book": 4000, "speedup": 5.0},
                       {"size": 224, "augmented": True, "ours": 9000, "book": None, "speedup": None}],
              "batch_sizes": [{"batch_size": 64, "examples_per_sec": 60.0, "peak_mb": 900.0}],
              "accuracy": [{"model": "LeNet (modern)", "size": 28, "num_train": 60000, "epochs": 3,
                            "auto": {"test_acc": 0.876}, "fp32": {"test_acc": 0.878}}],
              "compile": [{"model": "LeNet (modern)", "size": 28, "batch_size": 256, "default": 20000.0,
                           "compiled": 12000.0, "speedup": 0.6, "compile_seconds": 35.0}]}
    table = bench.run.format_table(result)
    assert "| LeNet (modern) | 28 | 256 | 20000.0 | 16000.0 | 10000.0 | 2.00× | 1.60× | 45 | 12% | 36× |" in table
    assert "| 224 px | 20000 | 4000 | 5.0× |" in table
    assert "| 224 px + crop, flip, PCA lighting | 9000 | — | — |" in table
    assert "| LeNet (modern) | 28 | 256 | 20000.0 | 12000.0 | 0.60× | 35 |" in table
    assert "| LeNet (modern) (28 px, 60000 train / 10000 test examples) | 3 | 0.876 | 0.878 |" in table


def test_the_books_loop_written_out_computes_what_the_books_computes(bench):
    """benchmarks/book.py's train_ch6 (for GPU machines without d2l) gives the book's weights exactly."""
    sys.path.insert(0, str(BENCH))
    try:
        import book
    finally:
        sys.path.remove(str(BENCH))
    g = torch.Generator().manual_seed(3)
    batches = [(torch.rand(8, 1, 28, 28, generator=g), torch.randint(0, 10, (8,), generator=g)) for _ in range(5)]
    nets = []
    for train in (book.train_ch6, bench.timing.book_train_ch6):
        d2l.set_seed(0)
        net = d2l.models.lenet(variant="classic")
        train(net, batches, batches[:2], 2, 0.1, torch.device("cpu"))
        nets.append(net)
    for a, b in zip(nets[0].state_dict().values(), nets[1].state_dict().values()):
        assert torch.equal(a, b)
    from d2l import torch as d2l_book

    assert book.evaluate_accuracy_gpu(nets[0], batches) == d2l_book.evaluate_accuracy_gpu(nets[1], batches)


def test_the_event_clock_times_each_pass_after_its_warm_up(bench):
    clock = bench.timing.EventClock([(0,)] * 6, torch.device("cpu"), warm_up=2)
    assert len(list(clock)) == 6 and len(clock.marks) == 1
    clock.marks = [(10.0, 12.0), (20.0, 21.0), (30.0, 34.0)]  # 4 timed steps a pass
    assert clock.seconds() == [2.0, 1.0, 4.0]
    assert clock.examples_per_sec(8) == 4 * 8 / 2.0  # the median pass
    with pytest.raises(ValueError, match="need more than 6 batches"):
        bench.timing.EventClock([(0,)] * 6, torch.device("cpu"), warm_up=6)


def test_the_cards_stated_peaks(bench):
    peak = bench.gpu_training.card_peak
    assert peak("NVIDIA H100 80GB HBM3") == peak("NVIDIA H200") == 989.4
    assert peak("NVIDIA H100 PCIe") == 756.5 and peak("NVIDIA H100 NVL") == 835.5
    assert peak("NVIDIA A100-SXM4-80GB") == 312.0 and peak("NVIDIA A10") == 125.0
    assert peak("NVIDIA L40S") == 362.1 and peak("NVIDIA L4") == 121.0
    assert peak("NVIDIA GeForce RTX 3060") is None


def test_the_gpu_rows_are_the_full_profiles_main_runs_at_their_batch_sizes(bench):
    rows = bench.gpu_training.gpu_rows(rehearsal=False)
    assert [(r["chapter"], r["size"], r["batch_size"]) for r in rows] == [
        ("01_lenet", 28, 256), ("02_alexnet", 224, 128), ("03_vgg", 224, 128), ("04_resnet", 96, 256),
        ("05_densenet", 96, 256)]
    assert all(r["recipe"].profile == "full" for r in rows)


def test_a_gpu_row_times_both_precisions_and_the_book_and_restores_the_flags(bench):
    spec = {"recipe": d2l.recipe("01_lenet", profile="full"), "size": 28, "batch_size": 4}
    defaults = bench.timing.global_flags()
    m = bench.gpu_training.measure_row(spec, torch.device("cpu"), warm_up=2, timed=3, rounds=2, defaults=defaults)
    assert set(m["rates"]) == {"ours", "other", "book"} and all(r > 0 for r in m["rates"].values())
    assert m["precisions"] == {"ours": "fp32", "other": "bf16"}
    assert m["settings"]["ours"].startswith("fp32") and m["settings"]["other"].startswith("bfloat16")
    assert bench.timing.global_flags() == defaults


def _gpu_result():
    row = {"chapter": "02_alexnet", "model": "AlexNet (book)", "size": 224, "batch_size": 128, "precision": "bf16",
           "settings": "bfloat16 autocast, channels_last, TF32, fused SGD, CUDA graph", "ours": 44000.0,
           "book": 9000.0, "speedup": 44000 / 9000, "other_precision": "fp32", "other": 30000.0,
           "faster_precision": "bf16", "gflop_per_example": 5.6, "tflops": 246.4, "share_of_card_peak": 0.249,
           "share_of_measured_peak": 0.31, "syncs_per_step": 0.08, "book_syncs_per_step": 2.0, "timed_steps": 100,
           "rounds": 3}
    return {"device": "cuda", "machine": "NVIDIA H100 80GB HBM3", "torch": "2.x", "peaks_gflops": {"bf16": 790000.0},
            "method": "gpu", "card_peak_tflops": 989.4, "models": [row, {**row, "model": "LeNet", "speedup": 2.0}],
            "end_to_end": {"model": "AlexNet (book)", "size": 224, "batch_size": 128, "examples": 60000,
                           "ours": 30000.0, "ours_seconds": 2.0, "book": 6000.0, "book_seconds": 10.0, "speedup": 5.0}}


def test_the_gpu_table(bench):
    r = _gpu_result()
    assert bench.report.problems(r) == []
    table = bench.report.format_table(r)
    assert ("| AlexNet (book) | 224 | 128 | bf16 | 44000 | 30000 (fp32) | 9000 | 4.89× | 246.4 | 25% | 31% "
            "| 0.08 | 2.00 |") in table
    assert "Geometric mean over the rows: 3.13× the book's loop (lowest 2.00×)" in table
    assert "| AlexNet (book) 224 px, batch 128 | 60000 | 2.0 (30000) | 10.0 (6000) | 5.00× |" in table
    assert "989 TFLOP/s" in table and "3 interleaved rounds of 100 timed steps" in table


def test_what_is_not_a_bench_result(bench):
    assert bench.report.problems([]) == ["expected a JSON object, found list"]
    r = _gpu_result()
    del r["models"]
    assert bench.report.problems(r) == ["no 'models'"]
    assert bench.report.problems({**_gpu_result(), "end_to_end": []}) == ["'end_to_end' should be a dict, found list"]
