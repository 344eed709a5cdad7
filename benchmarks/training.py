"""Training speed: for each chapter's model at its ``cpu``- and ``full``-profile size and batch
(read from ``d2lnets.recipes``), examples/s of ``train_ch5`` (default settings, and
``precision="fp32"``) and of the book's ``d2l.train_ch6`` on the same architecture and the same
batches, and the training FLOP/s achieved as a share of the matrix-multiply peak.

The three loops take turns, one epoch of the same 5 batches each, for 2 rounds at 96 px and more
(3 at 48 px, 6 at 28-32 px), so a slow spell of the machine hits all three alike."""
from __future__ import annotations

import torch
from timing import (
    BATCHES,
    StepClock,
    book_train_ch6,
    default_settings,
    fashion_batches,
    peak_for,
    train_flops_per_example,
)

import d2lnets as d2l

PROFILES = ("cpu", "full")
# At 224 px a step takes seconds: the bench trains in batches of at most 64 there (the chapters' 128)
# to stay within 10 minutes.
MAX_BATCH_AT_224 = 64


def bench_batch_size(recipe: d2l.Recipe) -> int:
    return min(recipe.batch_size, MAX_BATCH_AT_224) if recipe.image_size >= 224 else recipe.batch_size


def rows() -> list[dict]:
    """One row per chapter and distinct (model, size, batch) of its main run in the ``cpu`` and
    ``full`` profiles; ``profile`` is ``"cpu+full"`` where the two train alike. Only the main runs
    that train one of the package's networks on Fashion-MNIST (not 06's five, not 07's CIFAR-10)."""
    out = []
    for chapter in d2l.list_recipes():
        by_key: dict = {}
        for profile in PROFILES:
            R = d2l.recipe(chapter, profile=profile)
            if R.model is None or R.dataset != "fashion_mnist":
                continue
            batch = bench_batch_size(R)
            key = (R.model, R.variant, repr(sorted(R.model_args.items())), R.image_size, batch)
            if key in by_key:
                by_key[key]["profile"] += "+" + profile
            else:
                by_key[key] = {"chapter": chapter, "model": R.title, "profile": profile, "recipe": R,
                               "size": R.image_size, "batch_size": batch}
        out += by_key.values()
    return out


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
        book_train_ch6(make_net(), clocks["book"], test, 1, 0.01, device)  # re-initialises a new net
    batch_size = len(batches[0][0])
    return {name: clock.examples_per_sec(batch_size) for name, clock in clocks.items()}


def bench_models(device: torch.device, peaks: dict, quick: bool) -> list[dict]:
    out = []
    peak = peak_for(default_settings(device), peaks)
    for spec in rows():
        if quick and "cpu" not in spec["profile"].split("+"):
            continue
        make_net, size, batch_size = spec["recipe"].make_net, spec["size"], spec["batch_size"]
        batches = fashion_batches(size, batch_size, BATCHES)
        flops = train_flops_per_example(make_net, batches[0][0])
        # small models: many short rounds, so the machine's slow spells (seconds long) even out
        rounds = 2 if quick or size >= 96 else 3 if size > 32 else 6
        rates = measure_training(make_net, batches, device, rounds)
        default, fp32, reference = rates["auto"], rates["fp32"], rates["book"]
        row = {"chapter": spec["chapter"], "model": spec["model"], "profile": spec["profile"], "size": size,
               "batch_size": batch_size, "ours_default": default, "ours_fp32": fp32, "book": reference,
               "speedup": default / reference, "fp32_vs_book": fp32 / reference,
               "gflop_per_example": flops / 1e9, "achieved_gflops": default * flops / 1e9,
               "share_of_peak": default * flops / peak, "fp32_share_of_fp32_peak": fp32 * flops / peaks["fp32"]}
        out.append(row)
        print(f"  {spec['model']:18} {size:>4} px  ours {default:8.1f}  fp32 {fp32:8.1f}  book {reference:8.1f}  "
              f"x{row['speedup']:.2f}  fp32/book x{row['fp32_vs_book']:.2f}  "
              f"{row['achieved_gflops']:5.0f} GFLOP/s = {row['share_of_peak']:.0%} of peak", flush=True)
    return out
