"""``make bench``: training and data-loading speed, measured side by side with the book's code.

Every figure comes from this one run on this one machine, one measurement per module:

1. ``matmul_peak.py``: the machine's matrix-multiply peak (fp32 and bf16), the yardstick for
   achieved FLOP/s, and how much faster one 3x3 convolution of ResNet-18 trains in the default
   settings than in the book's (the ceiling for a network made of such layers);
2. ``training.py``: for each chapter's model, at its ``cpu``- and ``full``-profile size and batch
   (from ``d2lnets.recipes``): examples/s of ``train_ch5`` (default settings, and
   ``precision="fp32"``) and of the book's ``d2l.train_ch6`` on the same architecture and the same
   batches, the ratio, and the training FLOP/s achieved as a share of the peak for its precision;
3. ``loaders.py``: the data pipeline, ``d2lnets`` against the book's ``load_data_fashion_mnist``;
4. ``batch_sweep.py``: the book's AlexNet at 224 px, throughput and peak memory against batch size;
5. ``accuracy.py``: the fast default reaches the same test accuracy as fp32 (LeNet, small AlexNet);
6. ``compile_speed.py``, with ``--compile`` (not part of ``make bench``: compiling takes minutes):
   ``compile=True`` against the default on LeNet and ResNet-18.

``timing.py`` holds what they share: how steps are timed (``StepClock``), the book's code run
quietly, batches, FLOP counts and memory readings.

Prints one table per part and writes everything to ``bench-results.json``. Runs on CPU or CUDA
(``--device``); the GPU workflow job runs it too.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch
from accuracy import bench_accuracy
from batch_sweep import batch_worker, bench_batch_sizes
from compile_speed import bench_compile
from loaders import bench_data
from matmul_peak import conv_speedup, measure_peaks
from report import format_table
from training import bench_models

import d2lnets as d2l


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", type=Path, default=Path("bench-results.json"))
    parser.add_argument("--quick", action="store_true", help="the cpu-profile sizes only, fewer runs (a smoke test)")
    parser.add_argument("--compile", action="store_true", help="also measure compile=True (adds minutes)")
    parser.add_argument("--batch-worker", type=int, default=None,
                        help="measure one point of the batch-size sweep in this process, and stop")
    args = parser.parse_args()
    device = torch.device(args.device) if args.device else d2l.default_device()
    if args.batch_worker:
        print(json.dumps(batch_worker(args.batch_worker, device)))
        return

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


if __name__ == "__main__":
    main()
