"""``make bench``: training and data-loading speed, measured side by side with the book's code.

Every figure comes from this one run on this one machine:

1. the machine's matrix-multiply peak (fp32 and bf16), the yardstick for achieved FLOP/s;
2. for each chapter's model, at its ``cpu``-profile size and at its ``full``-profile size:
   examples/s of ``train_ch5`` (default settings, and ``precision="fp32"``) and of the book's
   ``d2l.train_ch6`` on the same architecture and the same batches, the ratio, and the training
   FLOP/s achieved (forward + backward, counted by ``torch.utils.flop_counter``) as a share of the
   peak for its precision;
3. the data pipeline: ``d2lnets`` vs the book's ``load_data_fashion_mnist`` (torchvision
   ``Resize`` + ``ToTensor`` in a 4-worker DataLoader), images/s at 28, 96 and 224 px;
4. AlexNet (the book's, 224 px): throughput and peak memory against batch size;
5. accuracy: the fast default reaches the same test accuracy as fp32 (LeNet, small AlexNet).

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
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import d2lnets as d2l
from d2lnets import data as data_mod

# chapter, model, factory, cpu-profile input size, full-profile input size, batch size
MODELS = [
    ("01_lenet", "LeNet (modern)", lambda: d2l.models.lenet(variant="modern"), 28, 28, 256),
    ("02_alexnet", "AlexNet small / book", lambda: d2l.models.alexnet(10, 1, variant="small"), 32, None, 128),
    ("02_alexnet", "AlexNet (book)", lambda: d2l.models.alexnet(10, 1, variant="d2l"), None, 224, 64),
    ("03_vgg", "VGG-11/4 (book)", lambda: d2l.models.vgg("A", 10, 1, width_ratio=4), 32, 224, 64),
    ("04_resnet", "ResNet-18 (book)", lambda: d2l.models.resnet18(10, 1, variant="d2l"), 48, 96, 64),
    ("05_densenet", "DenseNet (book)", lambda: d2l.models.densenet(10, 1), 32, 96, 64),
]
TIMED_BATCHES = 5  # the book's loop needs at least 5 batches per epoch


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


def fashion_batches(size: int, batch_size: int, count: int) -> list:
    train_iter, _ = d2l.load_data_fashion_mnist(batch_size, resize=size, num_train=batch_size * count)
    return list(train_iter)


def train_flops_per_example(make_net, X: torch.Tensor) -> float:
    """Forward + backward FLOPs of one example (counted on a batch of 2, in fp32, on the CPU)."""
    net = make_net()
    with FlopCounterMode(display=False) as counter:
        net(X[:2]).sum().backward()
    return counter.get_total_flops() / 2


def ours(make_net, batches, device, precision: str) -> float:
    """examples/s of train_ch5, second epoch (the first warms up)."""
    d2l.set_seed(0)
    net = make_net()
    h = d2l.train_ch5(net, batches, batches[:1], 2, lr=0.01, device=device, precision=precision,
                      verbose=False, plot=False)
    return h.examples_per_sec[1]


def book(make_net, batches, device) -> float:
    """examples/s that the book's train_ch6 prints, on its second call (the first warms up)."""
    from d2l import torch as d2l_book

    rate = None
    for _ in range(2):
        d2l.set_seed(0)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            d2l_book.train_ch6(make_net(), batches, batches[:1], 1, 0.01, device)
        rate = float(re.search(r"([\d.]+) examples/sec", out.getvalue()).group(1))
    return rate


def bench_models(device: torch.device, peaks: dict, quick: bool) -> list[dict]:
    rows = []
    for chapter, name, make_net, cpu_size, full_size, batch_size in MODELS:
        for profile, size in (("cpu", cpu_size), ("full", full_size)):
            if size is None or (profile == "full" and size == cpu_size):
                continue
            batches = fashion_batches(size, batch_size, TIMED_BATCHES)
            flops = train_flops_per_example(make_net, batches[0][0])
            default = ours(make_net, batches, device, "auto")
            fp32 = ours(make_net, batches, device, "fp32")
            reference = book(make_net, batches, device)
            settings = d2l.train._choose_settings(device, "auto", "auto")
            peak = peaks["bf16"] if settings[0] == torch.bfloat16 else peaks["fp16" if settings[0] else "fp32"]
            row = {"chapter": chapter, "model": name, "profile": profile, "size": size, "batch_size": batch_size,
                   "ours_default": default, "ours_fp32": fp32, "book": reference,
                   "speedup": default / reference, "fp32_vs_book": fp32 / reference,
                   "gflop_per_example": flops / 1e9, "achieved_gflops": default * flops / 1e9,
                   "share_of_peak": default * flops / peak, "fp32_share_of_fp32_peak": fp32 * flops / peaks["fp32"]}
            rows.append(row)
            print(f"  {name:22} {size:>4} px  ours {default:8.1f}  fp32 {fp32:8.1f}  book {reference:8.1f}  "
                  f"x{row['speedup']:.2f}  {row['achieved_gflops']:6.1f} GFLOP/s = {row['share_of_peak']:.0%} of peak",
                  flush=True)
            if quick:
                break
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


def images_per_sec(loader, max_images: int, device: torch.device) -> float:
    it = iter(loader)
    next(it)  # start-up (worker processes, first batch) is not timed
    n, start = 0, time.perf_counter()
    for X, _ in it:
        X = X.to(device)
        n += len(X)
        if n >= max_images:
            break
    sync(device)
    rate = n / (time.perf_counter() - start)
    if hasattr(it, "_shutdown_workers"):  # stop the book's worker processes before the next measurement
        it._shutdown_workers()
    return rate


def bench_data(device: torch.device) -> list[dict]:
    from d2l import torch as d2l_book

    rows = []
    for size in (28, 96, 224):
        train_iter, _ = d2l.load_data_fashion_mnist(256, resize=size, device=device)
        ours_rate = images_per_sec(train_iter, 20_000, device)
        with book_data_root(), contextlib.redirect_stdout(io.StringIO()):
            book_iter, _ = d2l_book.load_data_fashion_mnist(256, resize=size if size != 28 else None)
            book_rate = images_per_sec(book_iter, 8_000 if size == 224 else 20_000, device)
        rows.append({"size": size, "ours": ours_rate, "book": book_rate, "speedup": ours_rate / book_rate})
        print(f"  {size:>4} px  ours {ours_rate:10.0f} images/s  book {book_rate:8.0f} images/s  "
              f"x{ours_rate / book_rate:.1f}", flush=True)
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
    batches = fashion_batches(224, batch_size, 2)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    h = d2l.train_ch5(d2l.models.alexnet(10, 1, variant="d2l"), batches, batches[:1], 2, lr=0.01,
                      device=device, verbose=False, plot=False)
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak_mb = rss_mb("VmHWM") - base
    print(json.dumps({"batch_size": batch_size, "examples_per_sec": h.examples_per_sec[1], "peak_mb": peak_mb}))


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
    runs = [("LeNet (modern)", lambda: d2l.models.lenet(variant="modern"), 28, None, 3, 0.1),
            ("AlexNet small", lambda: d2l.models.alexnet(10, 1, variant="small"), 32, 20_000, 1, 0.05)]
    rows = []
    for name, make_net, size, num_train, epochs, lr in runs[: 1 if quick else 2]:
        train_iter, test_iter = d2l.load_data_fashion_mnist(256, resize=size, num_train=num_train)
        result = {"model": name, "size": size, "epochs": epochs, "num_train": num_train or 60_000}
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", type=Path, default=Path("bench-results.json"))
    parser.add_argument("--quick", action="store_true", help="one size per model, fewer runs (a smoke test)")
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
    print("matrix-multiply peak:", flush=True)
    peaks = {"fp32": matmul_peak(device, torch.float32), "bf16": matmul_peak(device, torch.bfloat16)}
    if device.type == "cuda":
        peaks["fp16"] = matmul_peak(device, torch.float16)
    print("  " + ", ".join(f"{k} {v / 1e9:.0f} GFLOP/s" for k, v in peaks.items()), flush=True)
    print("training examples/s (train_ch5 default, train_ch5 fp32, the book's train_ch6):", flush=True)
    models = bench_models(device, peaks, args.quick)
    print("data pipeline (shuffled training batches of 256):", flush=True)
    loaders = bench_data(device)
    print("AlexNet (book, 224 px): batch size vs throughput and memory:", flush=True)
    sweep = bench_batch_sizes(device, [32, 128] if args.quick else [16, 32, 64, 128, 256])
    print("accuracy, default settings vs fp32:", flush=True)
    accuracy = bench_accuracy(device, args.quick)
    loader_rate = {row["size"]: row["ours"] for row in loaders}
    for row in models:  # is the data pipeline ever the bottleneck?
        nearest = min(loader_rate, key=lambda s: abs(s - row["size"]))
        row["loader_to_model"] = loader_rate[nearest] / row["ours_default"]
    result = {"device": str(device), "machine": machine, "torch": torch.__version__,
              "peaks_gflops": {k: v / 1e9 for k, v in peaks.items()}, "models": models, "data": loaders,
              "batch_sizes": sweep, "accuracy": accuracy, "seconds": time.perf_counter() - start}
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(format_table(result))
    print(f"\nwrote {args.out} in {result['seconds']:.0f} s")


def format_table(r: dict) -> str:
    lines = [f"Benchmarks on {r['device']} ({r['machine']}), torch {r['torch']}; matmul peak "
             + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in r["peaks_gflops"].items()), "",
             "| model | px | batch | train_ch5 ex/s | fp32 ex/s | book train_ch6 ex/s | speed-up | fp32/book "
             "| GFLOP/s | share of peak | loader/model |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in r["models"]:
        lines.append(f"| {m['model']} | {m['size']} | {m['batch_size']} | {m['ours_default']:.1f} | {m['ours_fp32']:.1f} "
                     f"| {m['book']:.1f} | {m['speedup']:.2f}× | {m['fp32_vs_book']:.2f}× | {m['achieved_gflops']:.0f} "
                     f"| {m['share_of_peak']:.0%} | {m['loader_to_model']:.0f}× |")
    lines += ["", "| data pipeline | d2lnets images/s | book images/s | speed-up |", "|---|---|---|---|"]
    for d in r["data"]:
        lines.append(f"| {d['size']} px | {d['ours']:.0f} | {d['book']:.0f} | {d['speedup']:.1f}× |")
    lines += ["", "| AlexNet 224 px, batch | examples/s | peak memory above idle (MB) |", "|---|---|---|"]
    for b in r["batch_sizes"]:
        lines.append(f"| {b['batch_size']} | {b['examples_per_sec']:.1f} | {b['peak_mb']:.0f} |")
    lines += ["", "| accuracy | epochs | default | fp32 |", "|---|---|---|---|"]
    for a in r["accuracy"]:
        lines.append(f"| {a['model']} ({a['size']} px, {a['num_train']} examples) | {a['epochs']} "
                     f"| {a['auto']['test_acc']:.3f} | {a['fp32']['test_acc']:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
