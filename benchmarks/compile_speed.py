"""``train_ch5(compile=True)`` against the default: the time to compile and the examples/s after
(``python benchmarks/run.py --compile``; not part of ``make bench``: compiling takes minutes).
LeNet and ResNet-18 at their ``cpu``-recipe sizes and batches."""
from __future__ import annotations

import torch
from timing import BATCHES, StepClock, fashion_batches

import d2lnets as d2l

CHAPTERS = ("01_lenet", "04_resnet")


def bench_compile(device: torch.device) -> list[dict]:
    rows = []
    for chapter in CHAPTERS:
        R = d2l.recipe(chapter, profile="cpu")
        batches = fashion_batches(R.image_size, R.batch_size, BATCHES)
        nets = {False: R.make_net(), True: R.make_net()}
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
        default, compiled = (clocks[c].examples_per_sec(R.batch_size) for c in (False, True))
        row = {"model": R.title, "size": R.image_size, "batch_size": R.batch_size, "default": default,
               "compiled": compiled, "speedup": compiled / default,
               "compile_seconds": first_epoch[True] - first_epoch[False]}
        rows.append(row)
        print(f"  {R.title:18} {R.image_size:>4} px  default {default:8.1f}  compiled {compiled:8.1f}  "
              f"x{row['speedup']:.2f}  (compiling took {row['compile_seconds']:.0f} s)", flush=True)
    return rows
