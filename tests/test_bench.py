"""The machinery of ``make bench`` (benchmarks/run.py), on tiny inputs: how steps are timed, the
side-by-side run of the three loops, and the table. The figures themselves come from ``make bench``."""
import importlib.util
import json
from pathlib import Path

import pytest
import torch

import d2lnets as d2l

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def bench():
    path = Path(__file__).parent.parent / "benchmarks" / "run.py"
    spec = importlib.util.spec_from_file_location("bench_run", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_step_clock_times_each_step_and_leaves_out_the_first(bench):
    clock = bench.StepClock([0] * 4, torch.device("cpu"))
    # stamps: start, then after steps 1..4 (step 1 is the slow warm-up)
    clock.passes = [[0.0, 5.0, 6.0, 7.0, 8.0], [10.0, 13.0, 14.0, 16.0, 17.0]]
    assert clock.examples_per_sec(32) == 32 / 1.0  # median of 1, 1, 1, 1, 2, 1
    gpu = bench.StepClock([0] * 4, torch.device("cuda"))
    gpu.passes = clock.passes
    assert gpu.examples_per_sec(32) == pytest.approx((3 * 32 / 3 + 3 * 32 / 4) / 2)  # per pass, then the median


def test_step_clock_stamps_every_fetch(bench):
    clock = bench.StepClock([(1,), (2,), (3,)], torch.device("cpu"))
    assert len(clock) == 3
    assert list(clock) == [(1,), (2,), (3,)] and list(clock) == [(1,), (2,), (3,)]
    assert [len(s) for s in clock.passes] == [4, 4]
    assert all(a <= b for s in clock.passes for a, b in zip(s, s[1:]))


def test_the_three_loops_run_on_the_same_batches(bench):
    batches = [(torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))) for _ in range(bench.BATCHES)]
    rates = bench.measure_training(lambda: d2l.models.lenet(variant="modern"), batches, torch.device("cpu"), 1)
    assert set(rates) == {"auto", "fp32", "book"} and all(r > 0 for r in rates.values())


def test_the_book_runs_quietly_and_its_plot_comes_back(bench):
    from d2l import torch as d2l_book

    animator = d2l_book.Animator
    with bench.book_quietly() as book:
        assert book.Animator is not animator
        print("not shown")
    assert d2l_book.Animator is animator


def test_chapter_03_cpu_vgg_is_the_chapters(bench):
    chapter = json.loads((Path(__file__).parent.parent / "chapters" / "03_vgg.ipynb").read_text())
    cell = next("".join(c["source"]) for c in chapter["cells"] if "def cpu_vgg" in "".join(c["source"]))
    definition = cell[cell.index("def cpu_vgg"):].split("\n\n")[0]
    namespace = {"d2l": d2l, "nn": torch.nn}
    exec(definition, namespace)
    ours, theirs = bench.cpu_vgg(), namespace["cpu_vgg"]("A")
    shapes = [[(k, v.shape) for k, v in net.state_dict().items()] for net in (ours, theirs)]
    assert shapes[0] == shapes[1]
    assert [type(m) for m in ours.modules()] == [type(m) for m in theirs.modules()]



@pytest.mark.parametrize("chapter", ["04_resnet", "05_densenet"])
def test_rows_train_at_the_chapters_sizes_and_batches(bench, chapter):
    """The chapters' ``image_size`` and ``batch_size`` in each profile are the bench rows'."""
    source = "\n".join("".join(c["source"]) for c in json.loads(
        (Path(__file__).parent.parent / "chapters" / f"{chapter}.ipynb").read_text())["cells"]
        if c["cell_type"] == "code")
    settings = [line for line in source.splitlines() if line.startswith(("image_size = ", "batch_size = "))]
    assert len(settings) == 2, settings
    rows = [(profile, size, batch) for ch, _, _, profile, size, batch in bench.MODELS if ch == chapter]
    assert {profile for profile, _, _ in rows} == {"cpu", "full"}
    for profile, size, batch in rows:
        namespace = {"P": d2l.config.Profile(profile, torch.device("cpu"), None, None)}
        exec("\n".join(settings), namespace)
        assert (namespace["image_size"], namespace["batch_size"]) == (size, batch), (chapter, profile)

def test_one_epoch_of_a_loader_is_timed_whole(bench):
    X = torch.randint(0, 256, (64, 28, 28), dtype=torch.uint8)
    loader = d2l.FashionMNISTLoader(X, torch.arange(64) % 10, 16, resize=32)
    assert bench.epoch_images_per_sec(loader, torch.device("cpu")) > 0
    assert bench.epoch_images_per_sec(loader, torch.device("cpu"), warm_up=True) > 0


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
    table = bench.format_table(result)
    assert "| LeNet (modern) | 28 | 256 | 20000.0 | 16000.0 | 10000.0 | 2.00× | 1.60× | 45 | 12% | 36× |" in table
    assert "| 224 px | 20000 | 4000 | 5.0× |" in table
    assert "| 224 px + crop, flip, PCA lighting | 9000 | — | — |" in table
    assert "| LeNet (modern) | 28 | 256 | 20000.0 | 12000.0 | 0.60× | 35 |" in table
    assert "| LeNet (modern) (28 px, 60000 train / 10000 test examples) | 3 | 0.876 | 0.878 |" in table
