"""``make bench``: training and data-loading speed, measured side by side with the book's code.

Every figure comes from this one run on this one machine:

1. the machine's matrix-multiply peak (fp32 and bf16), the yardstick for achieved FLOP/s, and how
   much faster one 3x3 convolution of ResNet-18 trains in the default settings than in the book's
   (the ceiling for a network made of such layers);
2. for each chapter's model, at its ``cpu``-profile size and at its ``full``-profile size:
   examples/s of ``train_ch5`` (default settings, and ``precision="fp32"``) and of the book's
   ``d2l.train_ch6`` on the same architecture and the same batches, the ratio, and the training
   FLOP/s achieved (forward + backward, counted by ``torch.utils.flop_counter``) as a share of the
   peak for its precision;
3. the data pipeline: ``d2lnets`` vs the book's ``load_data_fashion_mnist`` (torchvision
   ``Resize`` + ``ToTensor`` in a 4-worker DataLoader), images/s over a whole epoch at 28, 96 and
   224 px, and ours at 224 px with the paper's augmentations;
4. AlexNet (the book's, 224 px): throughput and peak memory against batch size;
5. accuracy: the fast default reaches the same test accuracy as fp32 (LeNet, small AlexNet);
6. with ``--compile`` (not part of ``make bench``: compiling takes minutes), ``compile=True``
   against the default on LeNet and ResNet-18.

How training speed is timed: the three loops take turns, one epoch of the same 5 batches each, for
2 rounds at 96 px and more (3 at 48 px, 6 at 28-32 px), so a slow spell of the machine hits all
three alike. A clock wrapped around the batches stamps every fetch; on the CPU, examples/s is the
batch size over the median step time, leaving out the first step of every epoch (warm-up); on CUDA,
where steps run asynchronously, it is each epoch's later steps over their wall time, the median
over epochs.
The book's live plot is switched off (its own timer leaves it out too).

Prints one table per part and writes everything to ``bench-results.json``. Runs on CPU or CUDA
(``--device``); the GPU workflow job runs it too.
"""
from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import d2lnets as d2l
from d2lnets import data as data_mod


def cpu_vgg() -> nn.Module:
    """Chapter 03's CPU-sized VGG-11: the book's VGG-11/4 features with batch norm, and a small
    classifier for the 1x1 feature maps of 32-pixel inputs (as the chapter builds it)."""
    features = d2l.models.vgg("A", 10, 1, batch_norm=True, width_ratio=4, hidden=256).features
    return nn.Sequential(features, nn.Flatten(), nn.Linear(128, 256), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(256, 10))


# chapter, model, factory, profile, input size, batch size (the chapters' own, which are the book's
# in the full profile, except 64 at 224 px, where a step takes seconds, to keep make bench within
# 10 minutes)
MODELS = [
    ("01_lenet", "LeNet (modern)", lambda: d2l.models.lenet(variant="modern"), "cpu+full", 28, 256),
    ("02_alexnet", "AlexNet small", lambda: d2l.models.alexnet(10, 1, variant="small"), "cpu", 32, 128),
    ("02_alexnet", "AlexNet (book)", lambda: d2l.models.alexnet(10, 1, variant="d2l"), "full", 224, 64),
    ("03_vgg", "VGG-11 CPU-sized", cpu_vgg, "cpu", 32, 128),
    ("03_vgg", "VGG-11/4 (book)", lambda: d2l.models.vgg("A", 10, 1, width_ratio=4), "full", 224, 64),
    ("04_resnet", "ResNet-18 (book)", lambda: d2l.models.resnet18(10, 1, variant="d2l"), "cpu", 48, 128),
    ("04_resnet", "ResNet-18 (book)", lambda: d2l.models.resnet18(10, 1, variant="d2l"), "full", 96, 256),
    ("05_densenet", "DenseNet (book)", lambda: d2l.models.densenet(10, 1), "cpu", 32, 128),
    ("05_densenet", "DenseNet (book)", lambda: d2l.models.densenet(10, 1), "full", 96, 256),
]
BATCHES = 5  # per epoch; the book's loop needs at least 5 (it plots every num_batches // 5)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def matmul_peak(device: torch.device, dtype: torch.dtype, n: int = 4096, reps: int = 4) -> float:
    """Best-of-``reps`` FLOP/s of an n x n matrix product."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        sync(device)
        start = time.perf_counter()
        torch.mm(a, b)
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def conv_speedup(device: torch.device, batch: int = 128, channels: int = 128, size: int = 12,
                 reps: int = 30) -> float:
    """How much faster one 3x3 convolution trains (forward + backward) in the default settings
    than in the book's (fp32, NCHW): the layer of ResNet-18's second stage at 96 px. The two take
    turns ``reps`` times; the ratio of their median times."""
    dtype, _, channels_last = d2l.train._choose_settings(device, "auto", "auto")
    setups = {}
    for name, (autocast, nhwc) in {"default": (dtype, channels_last), "book": (None, False)}.items():
        fmt = torch.channels_last if nhwc else torch.contiguous_format
        conv = nn.Conv2d(channels, channels, 3, padding=1).to(device, memory_format=fmt)
        X = torch.randn(batch, channels, size, size, device=device).contiguous(memory_format=fmt).requires_grad_()
        setups[name] = (conv, X, autocast)
    times = {name: [] for name in setups}
    for rep in range(reps + 1):
        for name, (conv, X, autocast) in setups.items():
            sync(device)
            start = time.perf_counter()
            with d2l.train._autocast(device, autocast):
                out = conv(X)
            out.float().sum().backward()
            sync(device)
            if rep:  # the first is a warm-up
                times[name].append(time.perf_counter() - start)
    return statistics.median(times["book"]) / statistics.median(times["default"])


def measure_peaks(device: torch.device) -> dict[str, float]:
    peaks = {"fp32": matmul_peak(device, torch.float32), "bf16": matmul_peak(device, torch.bfloat16)}
    if device.type == "cuda":
        peaks["fp16"] = matmul_peak(device, torch.float16)
    print("  " + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in peaks.items()), flush=True)
    return peaks


def fashion_batches(size: int, batch_size: int, count: int) -> list:
    train_iter, _ = d2l.load_data_fashion_mnist(batch_size, resize=size, num_train=batch_size * count)
    return list(train_iter)


def train_flops_per_example(make_net, X: torch.Tensor) -> float:
    """Forward + backward FLOPs of one example (counted on a batch of 2, in fp32, on the CPU)."""
    net = make_net()
    with FlopCounterMode(display=False) as counter:
        net(X[:2]).sum().backward()
    return counter.get_total_flops() / 2


class StepClock:
    """Batches that note the time of every fetch and of the end of each pass over them."""

    def __init__(self, batches: list, device: torch.device) -> None:
        self.batches, self.device, self.passes = batches, device, []

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        stamps = [time.perf_counter()]
        for i, batch in enumerate(self.batches):
            yield batch
            if i == 0:  # on CUDA, let the first (warm-up) step finish before timing the rest
                sync(self.device)
            stamps.append(time.perf_counter())
        self.passes.append(stamps)

    def examples_per_sec(self, batch_size: int) -> float:
        if self.device.type == "cpu":  # median step, the first of every pass left out
            steps = [b - a for s in self.passes for a, b in zip(s[1:], s[2:])]
            return batch_size / statistics.median(steps)
        return statistics.median((len(s) - 2) * batch_size / (s[-1] - s[1]) for s in self.passes)


@contextlib.contextmanager
def book_quietly():
    """The book's d2l with its live plot and its prints switched off."""
    from d2l import torch as d2l_book

    class NoPlot:
        def __init__(self, *args, **kwargs):
            pass

        def add(self, *args, **kwargs):
            pass

    saved = d2l_book.Animator
    d2l_book.Animator = NoPlot
    try:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="This DataLoader will create")  # 4 workers, 2 cores
            yield d2l_book
    finally:
        d2l_book.Animator = saved


def measure_training(make_net, batches: list, device: torch.device, rounds: int) -> dict[str, float]:
    """examples/s of train_ch5 (default and fp32) and of the book's train_ch6, taking turns."""
    d2l.set_seed(0)
    nets = {"auto": make_net(), "fp32": make_net()}  # ours keep training across rounds
    clocks = {name: StepClock(batches, device) for name in ("auto", "fp32", "book")}
    X, y = batches[0]
    test = [(X[:16], y[:16])]  # each loop evaluates after its epoch: untimed, so keep it short
    for _ in range(rounds):
        for precision in ("auto", "fp32"):
            d2l.train_ch5(nets[precision], clocks[precision], test, 1, lr=0.01, device=device,
                          precision=precision, verbose=False, plot=False)
        with book_quietly() as d2l_book:  # the book's loop re-initialises a new net every call
            d2l_book.train_ch6(make_net(), clocks["book"], test, 1, 0.01, device)
    batch_size = len(batches[0][0])
    return {name: clock.examples_per_sec(batch_size) for name, clock in clocks.items()}


def bench_models(device: torch.device, peaks: dict, quick: bool) -> list[dict]:
    rows = []
    settings = d2l.train._choose_settings(device, "auto", "auto")
    peak = peaks["bf16"] if settings[0] == torch.bfloat16 else peaks["fp16" if settings[0] else "fp32"]
    for chapter, name, make_net, profile, size, batch_size in MODELS:
        if quick and profile == "full":
            continue
        batches = fashion_batches(size, batch_size, BATCHES)
        flops = train_flops_per_example(make_net, batches[0][0])
        # small models: many short rounds, so the machine's slow spells (seconds long) even out
        rounds = 2 if quick or size >= 96 else 3 if size > 32 else 6
        rates = measure_training(make_net, batches, device, rounds)
        default, fp32, reference = rates["auto"], rates["fp32"], rates["book"]
        row = {"chapter": chapter, "model": name, "profile": profile, "size": size, "batch_size": batch_size,
               "ours_default": default, "ours_fp32": fp32, "book": reference,
               "speedup": default / reference, "fp32_vs_book": fp32 / reference,
               "gflop_per_example": flops / 1e9, "achieved_gflops": default * flops / 1e9,
               "share_of_peak": default * flops / peak, "fp32_share_of_fp32_peak": fp32 * flops / peaks["fp32"]}
        rows.append(row)
        print(f"  {name:18} {size:>4} px  ours {default:8.1f}  fp32 {fp32:8.1f}  book {reference:8.1f}  "
              f"x{row['speedup']:.2f}  fp32/book x{row['fp32_vs_book']:.2f}  "
              f"{row['achieved_gflops']:5.0f} GFLOP/s = {row['share_of_peak']:.0%} of peak", flush=True)
    return rows


@contextlib.contextmanager
def book_data_root():
    """A temporary ``../data`` holding the unpacked IDX files, as the book's loader expects."""
    found = next(p for p in map(data_mod._find, data_mod.data_dirs()) if p is not None)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "data" / "FashionMNIST" / "raw"
        raw.mkdir(parents=True)
        for path in found.values():
            content = path.read_bytes()
            (raw / path.name.removesuffix(".gz")).write_bytes(
                gzip.decompress(content) if path.suffix == ".gz" else content)
        work = Path(tmp) / "work"
        work.mkdir()
        old = os.getcwd()
        os.chdir(work)
        try:
            yield
        finally:
            os.chdir(old)


def epoch_images_per_sec(loader, device: torch.device, warm_up: bool = False) -> float:
    """images/s over one whole epoch, timed from creating the iterator (the book's DataLoader
    starts its worker processes then, every epoch) to the last batch on ``device``. ``warm_up``
    first draws a few batches untimed, for one-off start-up costs that do not recur per epoch."""
    if warm_up:
        for _ in zip(range(3), loader):
            pass
    sync(device)
    start, n = time.perf_counter(), 0
    for X, _ in loader:
        X = X.to(device, non_blocking=True)
        n += len(X)
    sync(device)
    return n / (time.perf_counter() - start)


def bench_data(device: torch.device, quick: bool) -> list[dict]:
    rows = []
    for size in (28, 96, 224):
        train_iter, _ = d2l.load_data_fashion_mnist(256, resize=size, device=device)
        ours_rate = epoch_images_per_sec(train_iter, device, warm_up=True)  # the book's costs recur
        with book_data_root(), book_quietly() as d2l_book:
            book_iter, _ = d2l_book.load_data_fashion_mnist(256, resize=size if size != 28 else None)
            book_rate = epoch_images_per_sec(book_iter, device)
        rows.append({"size": size, "augmented": False, "ours": ours_rate, "book": book_rate,
                     "speedup": ours_rate / book_rate})
        print(f"  {size:>4} px  ours {ours_rate:10.0f} images/s  book {book_rate:8.0f} images/s  "
              f"x{ours_rate / book_rate:.1f}", flush=True)
        if quick:
            break
    # the paper's augmentations, batched on the loader's device: crop, flip, PCA lighting
    images = d2l.load_fashion_mnist_tensors()["train_images"][:10_000].unsqueeze(1).float() / 255
    augment = d2l.augment.Augment(crop=224, padding=16, flip=True, lighting=d2l.augment.pca_components(images))
    train_iter, _ = d2l.load_data_fashion_mnist(256, resize=224, augment=augment, device=device,
                                                num_train=20_000)
    rate = epoch_images_per_sec(train_iter, device, warm_up=True)  # an epoch of 20,000 images
    rows.append({"size": 224, "augmented": True, "ours": rate, "book": None, "speedup": None})
    print(f"   224 px  ours {rate:10.0f} images/s  with random crop, flip and PCA lighting", flush=True)
    return rows


def rss_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process. Unlike ``ru_maxrss``, which Linux carries
    over ``exec`` from the parent, these start afresh in a new process."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def batch_worker(batch_size: int, device: torch.device) -> None:
    """One point of the batch-size sweep, in a fresh process so peak memory is its own."""
    base = rss_mb("VmRSS")
    batches = fashion_batches(224, batch_size, max(3, 256 // batch_size))  # 2 epochs: >= 4 timed steps
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    clock = StepClock(batches, device)
    X, y = batches[0]
    d2l.train_ch5(d2l.models.alexnet(10, 1, variant="d2l"), clock, [(X[:16], y[:16])], 2, lr=0.01,
                  device=device, verbose=False, plot=False)
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak_mb = rss_mb("VmHWM") - base
    print(json.dumps({"batch_size": batch_size, "examples_per_sec": clock.examples_per_sec(batch_size),
                      "peak_mb": peak_mb}))


def bench_batch_sizes(device: torch.device, sizes: list[int]) -> list[dict]:
    rows = []
    for b in sizes:
        out = subprocess.run([sys.executable, __file__, "--batch-worker", str(b), "--device", str(device)],
                             capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"  batch {b:>4}: {row['examples_per_sec']:7.1f} examples/s, peak memory {row['peak_mb']:7.0f} MB above idle",
              flush=True)
    return rows


def bench_accuracy(device: torch.device, quick: bool) -> list[dict]:
    runs = [("LeNet (modern)", lambda: d2l.models.lenet(variant="modern"), 28, 60_000, 10_000, 3, 0.1),
            ("AlexNet small", lambda: d2l.models.alexnet(10, 1, variant="small"), 32, 20_000, 10_000, 1, 0.05)]
    rows = []
    for name, make_net, size, num_train, num_test, epochs, lr in runs[: 1 if quick else 2]:
        train_iter, test_iter = d2l.load_data_fashion_mnist(256, resize=size, num_train=num_train, num_test=num_test)
        result = {"model": name, "size": size, "epochs": epochs, "num_train": num_train, "num_test": num_test}
        for precision in ("auto", "fp32"):
            d2l.set_seed(0)
            net = make_net()
            opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
            h = d2l.train_ch5(net, train_iter, test_iter, epochs, optimizer=opt, scheduler="onecycle",
                              device=device, precision=precision, verbose=False, plot=False)
            result[precision] = {"test_acc": h.final["test_acc"], "examples_per_sec": h.mean_examples_per_sec,
                                 "settings": h.settings}
        rows.append(result)
        print(f"  {name:16} default ({result['auto']['settings']}): test acc {result['auto']['test_acc']:.3f}  "
              f"fp32: {result['fp32']['test_acc']:.3f}", flush=True)
    return rows


def bench_compile(device: torch.device) -> list[dict]:
    """``compile=True`` against the default: the time to compile and the examples/s after."""
    rows = []
    for name, make_net, size, batch_size in [("LeNet (modern)", lambda: d2l.models.lenet(variant="modern"), 28, 256),
                                             ("ResNet-18 (book)", lambda: d2l.models.resnet18(10, 1, variant="d2l"),
                                              48, 128)]:
        batches = fashion_batches(size, batch_size, BATCHES)
        nets = {False: make_net(), True: make_net()}
        clocks = {False: StepClock(batches, device), True: StepClock(batches, device)}
        first_epoch = {}
        for round_ in range(3):
            for compiled in (False, True):
                h = d2l.train_ch5(nets[compiled], clocks[compiled], batches[:1], 1, lr=0.01, device=device,
                                  compile=compiled, verbose=False, plot=False)
                if round_ == 0:
                    first_epoch[compiled] = h.seconds[0]
        for clock in clocks.values():
            del clock.passes[0]  # the compiling epoch
        default, compiled = (clocks[c].examples_per_sec(batch_size) for c in (False, True))
        row = {"model": name, "size": size, "batch_size": batch_size, "default": default, "compiled": compiled,
               "speedup": compiled / default, "compile_seconds": first_epoch[True] - first_epoch[False]}
        rows.append(row)
        print(f"  {name:18} {size:>4} px  default {default:8.1f}  compiled {compiled:8.1f}  x{row['speedup']:.2f}  "
              f"(compiling took {row['compile_seconds']:.0f} s)", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", type=Path, default=Path("bench-results.json"))
    parser.add_argument("--quick", action="store_true", help="the cpu-profile sizes only, fewer runs (a smoke test)")
    parser.add_argument("--compile", action="store_true", help="also measure compile=True (adds minutes)")
    parser.add_argument("--batch-worker", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = torch.device(args.device) if args.device else d2l.default_device()
    if args.batch_worker:
        return batch_worker(args.batch_worker, device)

    start = time.perf_counter()
    machine = (f"{platform.machine()} {os.cpu_count()} cores" if device.type == "cpu"
               else torch.cuda.get_device_name(device))
    print(f"d2lnets benchmarks on {device} ({machine}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads", flush=True)
    seconds = {}

    def section(name: str, title: str, run):
        print(title, flush=True)
        t = time.perf_counter()
        out = run()
        seconds[name] = time.perf_counter() - t
        print(f"  ({seconds[name]:.0f} s)", flush=True)
        return out

    peaks = section("peaks", "matrix-multiply peak:", lambda: measure_peaks(device))
    conv = conv_speedup(device)
    print(f"  one ResNet-18 3x3 convolution (128 channels, 12x12, batch 128) trains {conv:.2f}x faster in the "
          "default settings than in the book's: the ceiling for networks made of such layers", flush=True)
    models = section("models", "training examples/s (train_ch5 default, train_ch5 fp32, the book's train_ch6):",
                     lambda: bench_models(device, peaks, args.quick))
    loaders = section("data", "data pipeline (one epoch of shuffled training batches of 256):",
                      lambda: bench_data(device, args.quick))
    sweep = section("batch_sizes", "AlexNet (book, 224 px): batch size vs throughput and memory:",
                    lambda: bench_batch_sizes(device, [32, 128] if args.quick else [32, 64, 128, 256]))
    accuracy = section("accuracy", "accuracy, default settings vs fp32:", lambda: bench_accuracy(device, args.quick))
    compiled = []
    if args.compile:
        compiled = section("compile", "torch.compile (train_ch5(compile=True)) against the default:",
                           lambda: bench_compile(device))
    loader_rate = {row["size"]: row["ours"] for row in loaders if not row["augmented"]}
    for row in models:  # is the data pipeline ever the bottleneck?
        nearest = min(loader_rate, key=lambda s: abs(s - row["size"]))
        row["loader_to_model"] = loader_rate[nearest] / row["ours_default"]
    result = {"device": str(device), "machine": machine, "torch": torch.__version__,
              "peaks_gflops": {k: v / 1e9 for k, v in peaks.items()}, "conv_speedup": conv,
              "models": models, "data": loaders,
              "batch_sizes": sweep, "accuracy": accuracy, "compile": compiled, "section_seconds": seconds,
              "seconds": time.perf_counter() - start}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(format_table(result))
    print(f"\nwrote {args.out} in {result['seconds']:.0f} s")


def format_table(r: dict) -> str:
    lines = [f"Benchmarks on {r['device']} ({r['machine']}), torch {r['torch']}; matmul peak "
             + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in r["peaks_gflops"].items())
             + (f"; a ResNet-18 3x3 convolution trains {r['conv_speedup']:.2f}× faster in the default settings "
                "than in the book's" if "conv_speedup" in r else ""), "",
             "| model | px | batch | train_ch5 ex/s | fp32 ex/s | book train_ch6 ex/s | speed-up | fp32/book "
             "| GFLOP/s | share of peak | loader/model |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in r["models"]:
        lines.append(f"| {m['model']} | {m['size']} | {m['batch_size']} | {m['ours_default']:.1f} | {m['ours_fp32']:.1f} "
                     f"| {m['book']:.1f} | {m['speedup']:.2f}× | {m['fp32_vs_book']:.2f}× | {m['achieved_gflops']:.0f} "
                     f"| {m['share_of_peak']:.0%} | {m['loader_to_model']:.0f}× |")
    lines += ["", "| data pipeline | d2lnets images/s | book images/s | speed-up |", "|---|---|---|---|"]
    for d in r["data"]:
        if d["augmented"]:
            lines.append(f"| {d['size']} px + crop, flip, PCA lighting | {d['ours']:.0f} | — | — |")
        else:
            lines.append(f"| {d['size']} px | {d['ours']:.0f} | {d['book']:.0f} | {d['speedup']:.1f}× |")
    lines += ["", "| AlexNet 224 px, batch | examples/s | peak memory above idle (MB) |", "|---|---|---|"]
    for b in r["batch_sizes"]:
        lines.append(f"| {b['batch_size']} | {b['examples_per_sec']:.1f} | {b['peak_mb']:.0f} |")
    lines += ["", "| accuracy | epochs | default | fp32 |", "|---|---|---|---|"]
    for a in r["accuracy"]:
        lines.append(f"| {a['model']} ({a['size']} px, {a['num_train']} train / {a.get('num_test', 10_000)} test "
                     f"examples) | {a['epochs']} "
                     f"| {a['auto']['test_acc']:.3f} | {a['fp32']['test_acc']:.3f} |")
    if r.get("compile"):
        lines += ["", "| compile=True | px | batch | default ex/s | compiled ex/s | speed-up | compile time (s) |",
                  "|---|---|---|---|---|---|---|"]
        for c in r["compile"]:
            lines.append(f"| {c['model']} | {c['size']} | {c['batch_size']} | {c['default']:.1f} | {c['compiled']:.1f} "
                         f"| {c['speedup']:.2f}× | {c['compile_seconds']:.0f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
