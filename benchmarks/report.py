"""The bench's results as tables: what ``make bench`` prints and what the course website shows.

Standard library only (the website is built without torch). ``benchmarks/run.py`` writes a result as
JSON (``bench-results.json``, or ``--out benchmarks/results/NAME.json`` for the committed files that
``benchmarks/results/README.md`` describes); :func:`format_table` turns one into Markdown tables,
and :func:`problems` says what is missing from a file that is not such a result.

Two kinds of training rows: the CPU's (``train_ch5`` in its default settings and in fp32 against the
book's ``train_ch6``, host-timed), and a GPU's (``"method": "gpu"``, ``gpu_training.py``: batches on
the GPU, CUDA events, the recipes' precisions, TFLOP/s against the card's stated peak,
synchronisations per step), with one end-to-end row.
"""
from __future__ import annotations

import math

# What every result has ("conv_speedup" may be absent), and what a full run adds: the parts
# `run.py --parts` left out are absent (the GPU check measures the training rows only).
REQUIRED = {"device": str, "machine": str, "torch": str, "peaks_gflops": dict, "models": list}
OPTIONAL = {"data": list, "batch_sizes": list, "accuracy": list, "compile": list, "end_to_end": dict}


def problems(r) -> list[str]:
    """What keeps ``r`` from being a bench result (an empty list: nothing)."""
    if not isinstance(r, dict):
        return [f"expected a JSON object, found {type(r).__name__}"]
    found = []
    for key, kind in {**REQUIRED, **OPTIONAL}.items():
        if key not in r:
            if key in REQUIRED:
                found.append(f"no {key!r}")
        elif not isinstance(r[key], kind):
            found.append(f"{key!r} should be a {'list' if kind is list else kind.__name__}, "
                         f"found {type(r[key]).__name__}")
    return found


def _share(x) -> str:
    return "—" if x is None else f"{x:.0%}"


def _times(x) -> str:
    return "—" if x is None else f"{x:.0f}×"


def _gpu_tables(r: dict) -> list[str]:
    """A GPU run's rows: train_ch5 in the recipe's precision against the book's loop, on resident batches."""
    peak = r.get("card_peak_tflops")
    lines = ["", f"Training steps on batches resident on the GPU, CUDA events, the median of "
                 f"{r['models'][0]['rounds'] if r['models'] else 0} interleaved rounds of "
                 f"{r['models'][0]['timed_steps'] if r['models'] else 0} timed steps; the card's stated dense bf16 "
                 f"peak: {f'{peak:.0f} TFLOP/s' if peak else 'not in the table'}.", "",
             "| model | px | batch | precision | train_ch5 ex/s | other precision ex/s | book train_ch6 ex/s "
             "| × book | TFLOP/s | share of card's peak | share of measured peak | syncs/step | book syncs/step |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in r["models"]:
        lines.append(f"| {m['model']} | {m['size']} | {m['batch_size']} | {m['precision']} | {m['ours']:.0f} "
                     f"| {m['other']:.0f} ({m['other_precision']}) | {m['book']:.0f} | {m['speedup']:.2f}× "
                     f"| {m['tflops']:.1f} | {_share(m['share_of_card_peak'])} | {_share(m['share_of_measured_peak'])} "
                     f"| {m['syncs_per_step']:.2f} | {m['book_syncs_per_step']:.2f} |")
    if r["models"]:
        speedups = [m["speedup"] for m in r["models"]]
        mean = math.exp(sum(math.log(x) for x in speedups) / len(speedups))
        lines += ["", f"Geometric mean over the rows: {mean:.2f}× the book's loop (lowest {min(speedups):.2f}×)."]
    e = r.get("end_to_end")
    if e:
        lines += ["", "| end to end, one epoch | images | d2lnets s (ex/s) | the book's pipeline s (ex/s) | × book |",
                  "|---|---|---|---|---|",
                  f"| {e['model']} {e['size']} px, batch {e['batch_size']} | {e['examples']} "
                  f"| {e['ours_seconds']:.1f} ({e['ours']:.0f}) | {e['book_seconds']:.1f} ({e['book']:.0f}) "
                  f"| {e['speedup']:.2f}× |"]
    return lines


def _cpu_tables(r: dict) -> list[str]:
    """A CPU run's rows: train_ch5 (default settings, fp32) against the book's loop, host-timed."""
    lines = ["", "| model | px | batch | train_ch5 ex/s | fp32 ex/s | book train_ch6 ex/s | speed-up | fp32/book "
             "| GFLOP/s | share of peak | loader/model |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in r["models"]:
        lines.append(f"| {m['model']} | {m['size']} | {m['batch_size']} | {m['ours_default']:.1f} "
                     f"| {m['ours_fp32']:.1f} "
                     f"| {m['book']:.1f} | {m['speedup']:.2f}× | {m['fp32_vs_book']:.2f}× | {m['achieved_gflops']:.0f} "
                     f"| {m['share_of_peak']:.0%} | {_times(m.get('loader_to_model'))} |")
    return lines


def format_table(r: dict) -> str:
    lines = [f"Benchmarks on {r['device']} ({r['machine']}), torch {r['torch']}; matmul peak "
             + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in r["peaks_gflops"].items())
             + (f"; a ResNet-18 3x3 convolution trains {r['conv_speedup']:.2f}× faster in the default settings "
                "than in the book's" if "conv_speedup" in r else "")]
    lines += _gpu_tables(r) if r.get("method") == "gpu" else _cpu_tables(r)
    if r.get("data"):
        lines += ["", "| data pipeline | d2lnets images/s | book images/s | speed-up |", "|---|---|---|---|"]
        for d in r["data"]:
            if d["augmented"]:
                lines.append(f"| {d['size']} px + crop, flip, PCA lighting | {d['ours']:.0f} | — | — |")
            else:
                lines.append(f"| {d['size']} px | {d['ours']:.0f} | {d['book']:.0f} | {d['speedup']:.1f}× |")
    if r.get("batch_sizes"):
        lines += ["", "| AlexNet 224 px, batch | examples/s | peak memory above idle (MB) |", "|---|---|---|"]
        for b in r["batch_sizes"]:
            lines.append(f"| {b['batch_size']} | {b['examples_per_sec']:.1f} | {b['peak_mb']:.0f} |")
    if r.get("accuracy"):
        lines += ["", "| accuracy | epochs | default | fp32 |", "|---|---|---|---|"]
        for a in r["accuracy"]:
            lines.append(f"| {a['model']} ({a['size']} px, {a['num_train']} train / {a.get('num_test', 10_000)} "
                         f"test examples) | {a['epochs']} | {a['auto']['test_acc']:.3f} "
                         f"| {a['fp32']['test_acc']:.3f} |")
    if r.get("compile"):
        lines += ["", "| compile=True | px | batch | default ex/s | compiled ex/s | speed-up | compile time (s) |",
                  "|---|---|---|---|---|---|---|"]
        for c in r["compile"]:
            lines.append(f"| {c['model']} | {c['size']} | {c['batch_size']} | {c['default']:.1f} | {c['compiled']:.1f} "
                         f"| {c['speedup']:.2f}× | {c['compile_seconds']:.0f} |")
    return "\n".join(lines)
