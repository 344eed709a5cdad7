"""The bench's results as tables: what ``make bench`` prints and what the course website shows.

Standard library only (the website is built without torch). ``benchmarks/run.py`` writes a result as
JSON (``bench-results.json``, or ``--out benchmarks/results/NAME.json`` for the committed files that
``benchmarks/results/README.md`` describes); :func:`format_table` turns one into Markdown tables,
and :func:`problems` says what is missing from a file that is not such a result.
"""
from __future__ import annotations

# What every result has (run.py writes them all; "compile" and "conv_speedup" may be absent).
REQUIRED = {"device": str, "machine": str, "torch": str, "peaks_gflops": dict, "models": list,
            "data": list, "batch_sizes": list, "accuracy": list}


def problems(r) -> list[str]:
    """What keeps ``r`` from being a bench result (an empty list: nothing)."""
    if not isinstance(r, dict):
        return [f"expected a JSON object, found {type(r).__name__}"]
    found = []
    for key, kind in REQUIRED.items():
        if key not in r:
            found.append(f"no {key!r}")
        elif not isinstance(r[key], kind):
            found.append(f"{key!r} should be a {'list' if kind is list else kind.__name__}, "
                         f"found {type(r[key]).__name__}")
    return found


def format_table(r: dict) -> str:
    lines = [f"Benchmarks on {r['device']} ({r['machine']}), torch {r['torch']}; matmul peak "
             + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in r["peaks_gflops"].items())
             + (f"; a ResNet-18 3x3 convolution trains {r['conv_speedup']:.2f}× faster in the default settings "
                "than in the book's" if "conv_speedup" in r else ""), "",
             "| model | px | batch | train_ch5 ex/s | fp32 ex/s | book train_ch6 ex/s | speed-up | fp32/book "
             "| GFLOP/s | share of peak | loader/model |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for m in r["models"]:
        lines.append(f"| {m['model']} | {m['size']} | {m['batch_size']} | {m['ours_default']:.1f} "
                     f"| {m['ours_fp32']:.1f} "
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
