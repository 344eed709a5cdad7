"""The book's AlexNet at 224 px: throughput and peak memory against batch size. Each point runs
in a fresh process (``python benchmarks/batch_sweep.py --batch-size N``), so that its peak memory
is its own: the resident-set high-water mark minus its size before the data and model are built
(on CUDA, the allocator's peak)."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import torch
from timing import StepClock, fashion_batches, rss_mb

import d2lnets as d2l

RECIPE = ("02_alexnet", "full")  # the book's AlexNet, 224 px


def batch_worker(batch_size: int, device: torch.device) -> dict:
    """One point of the sweep (in this process)."""
    R = d2l.recipe(RECIPE[0], profile=RECIPE[1])
    base = rss_mb("VmRSS")
    batches = fashion_batches(R.image_size, batch_size, max(3, 256 // batch_size))  # 2 epochs: >= 4 timed steps
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    clock = StepClock(batches, device)
    X, y = batches[0]
    d2l.train_ch5(R.make_net(), clock, [(X[:16], y[:16])], 2, lr=R.lr, device=device, verbose=False, plot=False)
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak_mb = rss_mb("VmHWM") - base
    return {"batch_size": batch_size, "examples_per_sec": clock.examples_per_sec(batch_size), "peak_mb": peak_mb}


def bench_batch_sizes(device: torch.device, sizes: list[int]) -> list[dict]:
    rows = []
    for b in sizes:
        out = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--batch-size", str(b),
                              "--device", str(device)], capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"  batch {b:>4}: {row['examples_per_sec']:7.1f} examples/s, "
              f"peak memory {row['peak_mb']:7.0f} MB above idle", flush=True)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="one point of the batch-size sweep")
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()
    device = torch.device(args.device) if args.device else d2l.default_device()
    print(json.dumps(batch_worker(args.batch_size, device)))
