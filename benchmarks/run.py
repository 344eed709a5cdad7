"""``make bench``: training and data-loading speed, measured side by side with the book's code.

Every figure comes from this one run on this one machine, one measurement per module:

1. ``matmul_peak.py``: the machine's matrix-multiply peak (fp32 and bf16), the yardstick for
   achieved FLOP/s, and how much faster one 3x3 convolution of ResNet-18 trains in the default
   settings than in the book's (the ceiling for a network made of such layers);
2. ``training.py``: for each chapter's model, at its ``cpu``- and ``full``-profile size and batch
   (from ``d2lnets.recipes``): examples/s of ``train_ch5`` (default settings, and
   ``precision="fp32"``) and of the book's ``d2l.train_ch6`` on the same architecture and the same
   batches, the ratio, and the training FLOP/s achieved as a share of the peak for its precision;
   on a GPU ``gpu_training.py`` instead: the ``full`` profile's rows with batches resident on the
   GPU, CUDA events over at least 100 steps in three interleaved rounds, the recipes' precisions,
   TFLOP/s against the card's stated peak, synchronisations per step, and one end-to-end row
   against the book's own ``DataLoader`` pipeline;
3. ``loaders.py``: the data pipeline, ``d2lnets`` against the book's ``load_data_fashion_mnist``;
4. ``batch_sweep.py``: the book's AlexNet at 224 px, throughput and peak memory against batch size;
5. ``accuracy.py``: the fast default reaches the same test accuracy as fp32 (LeNet, small AlexNet);
6. ``compile_speed.py``, with ``--compile`` (not part of ``make bench``: compiling takes minutes):
   ``compile=True`` against the default on LeNet and ResNet-18.

``timing.py`` holds what they share: how steps are timed (``StepClock``), the book's code run
quietly, batches, FLOP counts and memory readings.

Prints one table per part and writes everything to ``bench-results.json`` (``--out``; a
machine's committed result: ``benchmarks/results/<machine>.json``). Runs on CPU or CUDA
(``--device``); ``--parts`` picks what to measure (the GPU check: ``--parts models,end_to_end``);
``--rehearsal`` runs the GPU's method on this device with a few small batches, to try it out.
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
from gpu_training import bench_end_to_end, bench_gpu_models, card_peak
from loaders import bench_data
from matmul_peak import conv_speedup, measure_peaks
from report import format_table
from training import bench_models

import d2lnets as d2l

PARTS = ("models", "data", "batch_sizes", "accuracy", "end_to_end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", type=Path, default=Path("bench-results.json"))
    parser.add_argument("--quick", action="store_true", help="the cpu-profile sizes only, fewer runs (a smoke test)")
    parser.add_argument("--compile", action="store_true", help="also measure compile=True (adds minutes)")
    parser.add_argument("--batch-worker", type=int, default=None,
                        help="measure one point of the batch-size sweep in this process, and stop")
    parser.add_argument("--parts", default=",".join(PARTS),
                        help=f"what to measure besides the matmul peak, from {','.join(PARTS)} (default: all; "
                        "end_to_end only with the GPU's method)")
    parser.add_argument("--rehearsal", action="store_true",
                        help="the GPU's method (gpu_training.py) on this device, on a few small batches")
    args = parser.parse_args()
    device = torch.device(args.device) if args.device else d2l.default_device()
    if args.batch_worker:
        print(json.dumps(batch_worker(args.batch_worker, device)))
        return
    parts = set(args.parts.split(","))
    if parts - set(PARTS):
        parser.error(f"--parts: unknown {', '.join(sorted(parts - set(PARTS)))}; the parts are {', '.join(PARTS)}")
    gpu = device.type == "cuda" or args.rehearsal

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
    result = {"device": str(device), "machine": machine, "torch": torch.__version__,
              "peaks_gflops": {k: v / 1e9 for k, v in peaks.items()}, "models": []}
    if not gpu:
        conv = result["conv_speedup"] = conv_speedup(device)
        print(f"  one ResNet-18 3x3 convolution (128 channels, 12x12, batch 128) trains {conv:.2f}x faster in the "
              "default settings than in the book's: the ceiling for networks made of such layers", flush=True)
    if "models" in parts and gpu:
        result.update(method="gpu", card_peak_tflops=card_peak(machine))
        result["models"] = section("models", "training examples/s on the GPU (train_ch5 in the recipe's precision "
                                   "and the other, the book's train_ch6; batches resident on the GPU):",
                                   lambda: bench_gpu_models(device, peaks, args.rehearsal))
    elif "models" in parts:
        result["models"] = section("models", "training examples/s (train_ch5 default, train_ch5 fp32, the book's "
                                   "train_ch6):", lambda: bench_models(device, peaks, args.quick))
    if "end_to_end" in parts and gpu:
        result["end_to_end"] = section("end_to_end", "one epoch end to end, the book's AlexNet at 224 px (ours "
                                       "against the book's pipeline):",
                                       lambda: bench_end_to_end(device, args.rehearsal))
    if "data" in parts:
        result["data"] = section("data", "data pipeline (one epoch of shuffled training batches of 256):",
                                 lambda: bench_data(device, args.quick))
    if "batch_sizes" in parts:
        result["batch_sizes"] = section("batch_sizes", "AlexNet (book, 224 px): batch size vs throughput and memory:",
                                        lambda: bench_batch_sizes(device, [32, 128] if args.quick else
                                                                  [32, 64, 128, 256]))
    if "accuracy" in parts:
        result["accuracy"] = section("accuracy", "accuracy, default settings vs fp32:",
                                     lambda: bench_accuracy(device, args.quick))
    if args.compile:
        result["compile"] = section("compile", "torch.compile (train_ch5(compile=True)) against the default:",
                                    lambda: bench_compile(device))
    if not gpu and result.get("data"):
        loader_rate = {row["size"]: row["ours"] for row in result["data"] if not row["augmented"]}
        for row in result["models"]:  # is the data pipeline ever the bottleneck?
            nearest = min(loader_rate, key=lambda s: abs(s - row["size"]))
            row["loader_to_model"] = loader_rate[nearest] / row["ours_default"]
    result.update(section_seconds=seconds, seconds=time.perf_counter() - start)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(format_table(result))
    print(f"\nwrote {args.out} in {result['seconds']:.0f} s")


if __name__ == "__main__":
    main()
