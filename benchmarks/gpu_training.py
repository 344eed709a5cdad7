"""Training speed on a GPU: ``train_ch5`` against the book's ``train_ch6`` on the same card, in one run.

For each chapter's main run in the ``full`` profile (model, size and batch size from
``d2lnets.recipes``), the batches are made once and stay on the GPU for every loop, so both loops
are timed training, not loading. Each loop trains one epoch of ``WARM_UP + TIMED`` batches per
round; the first ``WARM_UP`` steps are left out (cuDNN's autotuning, the capture of a CUDA graph,
which ``train_ch5`` makes at its fourth step), the rest are timed with CUDA events; the loops take
turns for ``ROUNDS`` rounds and each reports its median round. ``train_ch5`` runs in the recipe's
precision and in the other one (bf16 against fp32: the measurement the recipes' ``precision``
records); the book's loop (``book.py``: ``train_ch6`` written out from d2l, which a bare GPU
machine cannot import) runs under torch's defaults, the global flags put back before it runs
(and checked to be back after every ``train_ch5``). Each row gives examples/s, the training
TFLOP/s (FLOPs counted by ``FlopCounterMode``), its share of the card's stated dense bf16 peak
(:data:`CARD_PEAKS`) and of the bf16 matrix-multiply peak measured here, the synchronisations per
step of each loop (torch's sync debug mode, in an untimed epoch), and the ratio to the book.

:func:`bench_end_to_end` adds one row end to end: the book's AlexNet at 224 px for one epoch of all
60,000 images, the book's own pipeline (``load_data_fashion_mnist``: a 4-worker DataLoader of PIL
``Resize`` and ``ToTensor``, then ``train_ch6``, both from ``book.py``) against ``d2lnets``' (its
loader on the GPU, then ``train_ch5``), each timed by the wall clock from making the loader to the
end of the epoch's evaluation. The book's runs in a child process working beside the ``../data`` it reads
(``python benchmarks/gpu_training.py --book-end-to-end``).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import book
import torch
from timing import (
    EventClock,
    count_syncs,
    geometric_mean,
    global_flags,
    set_global_flags,
    sync,
    train_flops_per_example,
)
from training import rows

import d2lnets as d2l

WARM_UP, TIMED, ROUNDS = 10, 100, 3
LR = 0.01  # both loops, plain SGD (the book's train_ch6 takes a learning rate)

# Each card's stated dense bf16 tensor peak, TFLOP/s, without sparsity: NVIDIA's data sheets (H100
# SXM and H200: 1,979 with 2:4 sparsity, 989.4 dense, as the H100 architecture whitepaper's table
# gives it; H100 PCIe 1,513 and NVL 1,671 sparse; A100 312; L40S 362; L4 121; A10 125). The first
# name that the device's name contains wins (so "H100 PCIe" before "H100", "A100" before "A10").
CARD_PEAKS = (("H100 PCIe", 756.5), ("H100 NVL", 835.5), ("H100", 989.4), ("H200", 989.4), ("GH200", 989.4),
              ("A100", 312.0), ("L40S", 362.1), ("L4", 121.0), ("A10", 125.0))


def card_peak(name: str) -> float | None:
    """The stated dense bf16 peak of the card called ``name`` (TFLOP/s), or None if not in the table."""
    return next((peak for card, peak in CARD_PEAKS if card in name), None)


def gpu_rows(rehearsal: bool) -> list[dict]:
    """The chapters' main runs in the full profile, at their own batch sizes (a rehearsal on the CPU:
    batches of 2)."""
    out = []
    for spec in rows():
        if "full" in spec["profile"].split("+"):
            R = d2l.recipe(spec["chapter"], profile="full")
            out.append({**spec, "recipe": R, "batch_size": 2 if rehearsal else R.batch_size})
    return out


def _batches(size: int, batch_size: int, count: int, device: torch.device) -> list:
    """``count`` batches of Fashion-MNIST at ``size`` px, made by the loader on ``device`` and kept there."""
    train_iter, _ = d2l.load_data_fashion_mnist(batch_size, resize=size, num_train=batch_size * count, device=device)
    return [(X.clone(), y.clone()) for X, y in train_iter]


def measure_row(spec: dict, device: torch.device, warm_up: int, timed: int, rounds: int, defaults: dict) -> dict:
    """examples/s and synchronisations per step of train_ch5 (both precisions) and of the book's loop."""
    R = spec["recipe"]
    other = "bf16" if R.precision == "fp32" else "fp32"
    precisions = {"ours": R.precision, "other": other}
    batches = _batches(spec["size"], spec["batch_size"], warm_up + timed, device)
    test = [(batches[0][0][:16], batches[0][1][:16])]
    d2l.set_seed(0)
    nets = {name: R.make_net() for name in precisions}  # ours keep training across rounds
    clocks = {name: EventClock(batches, device, warm_up) for name in (*precisions, "book")}
    settings = {}

    def train_ours(name, clock):
        h = d2l.train_ch5(nets[name], clock, test, 1, lr=LR, device=device, precision=precisions[name],
                          verbose=False, plot=False)
        settings[name] = h.settings
        if global_flags() != defaults:
            raise RuntimeError(f"train_ch5 left torch's flags changed: {global_flags()} (before: {defaults})")

    def train_book(clock):
        set_global_flags(defaults)  # torch's defaults for the book, whatever ran before
        book.train_ch6(R.make_net(), clock, test, 1, LR, device)  # (it initialises its new network itself)

    for _ in range(rounds):
        for name in precisions:
            train_ours(name, clocks[name])
        train_book(clocks["book"])
    rates = {name: clock.examples_per_sec(spec["batch_size"]) for name, clock in clocks.items()}
    steps = len(batches)
    syncs = {name: count_syncs(device, lambda n=name: train_ours(n, EventClock(batches, device, warm_up))) / steps
             for name in precisions}
    syncs["book"] = count_syncs(device, lambda: train_book(EventClock(batches, device, warm_up))) / steps
    return {"rates": rates, "syncs": syncs, "settings": settings, "precisions": precisions}


def bench_gpu_models(device: torch.device, peaks: dict, rehearsal: bool = False) -> list[dict]:
    warm_up, timed, rounds = (4, 2, 1) if rehearsal else (WARM_UP, TIMED, ROUNDS)  # (the book needs >= 5 batches)
    defaults = global_flags()
    stated = card_peak(torch.cuda.get_device_name(device)) if device.type == "cuda" else None
    measured_bf16 = peaks.get("bf16")
    out = []
    for spec in gpu_rows(rehearsal):
        R, size, batch_size = spec["recipe"], spec["size"], spec["batch_size"]
        flops = train_flops_per_example(R.make_net, torch.rand(2, 1, size, size))
        m = measure_row(spec, device, warm_up, timed, rounds, defaults)
        ours, other, book = m["rates"]["ours"], m["rates"]["other"], m["rates"]["book"]
        tflops = ours * flops / 1e12
        faster = R.precision if ours >= other else m["precisions"]["other"]
        row = {"chapter": spec["chapter"], "model": spec["model"], "size": size, "batch_size": batch_size,
               "precision": R.precision, "settings": m["settings"]["ours"], "ours": ours, "book": book,
               "speedup": ours / book, "other_precision": m["precisions"]["other"], "other": other,
               "faster_precision": faster, "gflop_per_example": flops / 1e9, "tflops": tflops,
               "share_of_card_peak": tflops / stated if stated else None,
               "share_of_measured_peak": tflops * 1e12 / measured_bf16 if measured_bf16 else None,
               "syncs_per_step": m["syncs"]["ours"], "book_syncs_per_step": m["syncs"]["book"],
               "timed_steps": timed, "rounds": rounds}
        out.append(row)
        share = f"{row['share_of_card_peak']:.0%} of the card's bf16 peak" if stated else "card not in CARD_PEAKS"
        print(f"  {spec['model']:18} {size:>4} px  batch {batch_size:>4}  {R.precision}: {ours:9.0f} ex/s  "
              f"({m['precisions']['other']}: {other:9.0f})  book {book:9.0f}  x{row['speedup']:.2f}  "
              f"{tflops:6.1f} TFLOP/s = {share}  syncs/step {row['syncs_per_step']:.2f} "
              f"(book {row['book_syncs_per_step']:.2f})", flush=True)
        if faster != R.precision:
            print(f"    the recipe's precision ({R.precision}) is the slower here: {faster} trains "
                  f"{max(ours, other) / min(ours, other):.2f}x faster; change 'precision' in recipes.py "
                  f"for {spec['chapter']} if other cards agree", flush=True)
    if out:
        print(f"  geometric mean over the rows: x{geometric_mean(r['speedup'] for r in out):.2f} the book's loop; "
              f"lowest x{min(r['speedup'] for r in out):.2f}", flush=True)
    return out


def _alexnet(rehearsal: bool) -> d2l.Recipe:
    R = d2l.recipe("02_alexnet", profile="full")
    return dataclasses.replace(R, batch_size=8) if rehearsal else R


def book_end_to_end(device: torch.device, rehearsal: bool) -> dict:
    """One epoch of the book's pipeline and train_ch6 (in this process, working beside ../data)."""
    R = _alexnet(rehearsal)
    d2l.set_seed(0)
    net = R.make_net()
    sync(device)
    start = time.perf_counter()
    train_iter, test_iter = book.load_data_fashion_mnist(R.batch_size, resize=R.image_size)
    if rehearsal:  # a few batches of each, through the same DataLoaders
        train_iter = [b for _, b in zip(range(5), train_iter)]
        test_iter = [b for _, b in zip(range(2), test_iter)]
    n = sum(len(y) for _, y in train_iter) if rehearsal else len(train_iter.dataset)
    book.train_ch6(net, train_iter, test_iter, 1, LR, device)
    sync(device)
    return {"examples": n, "seconds": time.perf_counter() - start}


def bench_end_to_end(device: torch.device, rehearsal: bool = False) -> dict:
    """The book's AlexNet at 224 px, one epoch end to end: the book's pipeline against ours."""
    from loaders import write_book_data

    R = _alexnet(rehearsal)
    with tempfile.TemporaryDirectory() as tmp:
        write_book_data(Path(tmp) / "data")
        work = Path(tmp) / "work"
        work.mkdir()
        command = [sys.executable, str(Path(__file__).resolve()), "--book-end-to-end", "--device", str(device)]
        out = subprocess.run(command + (["--rehearsal"] if rehearsal else []), cwd=work, capture_output=True,
                             text=True, check=True)
    book = json.loads(out.stdout.strip().splitlines()[-1])
    d2l.set_seed(0)
    net = R.make_net()
    sync(device)
    start = time.perf_counter()
    num_train, num_test = (R.batch_size * 5, R.batch_size * 2) if rehearsal else (None, None)
    train_iter, test_iter = d2l.load_data_fashion_mnist(R.batch_size, resize=R.image_size, device=device,
                                                        num_train=num_train, num_test=num_test)
    h = d2l.train_ch5(net, train_iter, test_iter, 1, lr=LR, device=device, precision=R.precision, verbose=False,
                      plot=False)
    sync(device)
    seconds = time.perf_counter() - start
    ours = train_iter.num_examples / seconds
    row = {"model": R.title, "size": R.image_size, "batch_size": R.batch_size, "examples": train_iter.num_examples,
           "ours": ours, "ours_seconds": seconds, "settings": h.settings, "book": book["examples"] / book["seconds"],
           "book_seconds": book["seconds"]}
    row["speedup"] = row["ours"] / row["book"]
    print(f"  {R.title} {R.image_size} px, one epoch of {row['examples']} images, loader to evaluation: ours "
          f"{seconds:.1f} s ({ours:.0f} ex/s), the book's pipeline {book['seconds']:.1f} s "
          f"({row['book']:.0f} ex/s): x{row['speedup']:.2f}", flush=True)
    return row


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="the book's end-to-end epoch (run by bench_end_to_end)")
    parser.add_argument("--book-end-to-end", action="store_true", required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--rehearsal", action="store_true")
    args = parser.parse_args()
    print(json.dumps(book_end_to_end(torch.device(args.device), args.rehearsal)))
