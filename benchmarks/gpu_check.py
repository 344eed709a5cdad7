"""``make gpu-check`` (``bash benchmarks/gpu_check.sh``): everything a GPU has to show, in one script.

In order, each part saying when it finishes and how long it took:

1. **set-up**: what the chapters, the tests and the bench import, found or installed. A lent GPU
   machine has Python and torch but no network and no Jupyter: what is missing is installed from
   wheels carried with the working tree (``gpu-wheels/``, made here by ``make gpu-carry``) into
   ``gpu-check/site`` (never into the machine's Python), else from a package index if one answers;
   Fashion-MNIST is found in ``data/``, ``$D2LNETS_DATA`` or ``--data PATH`` (``make gpu-carry`` copies
   the four ``.gz`` files into ``data/``);
2. **the CUDA tests**: the test files that hold tests needing CUDA (:data:`CUDA_TESTS`: ``tests/test_cuda.py``
   and two with CUDA cases; named, since the other test files import what a bare machine lacks);
3. **the bench's GPU rows** (``benchmarks/run.py --parts models,end_to_end``, written to
   ``benchmarks/results/cuda-<card>.json``);
4. **chapters 1 to 6 in the ``full`` profile**, one at a time, each in a fresh process without
   Jupyter (``d2lnets results --plain``), on CUDA only (``D2LNETS_REQUIRE_DEVICE=cuda``);
5. the ``## GPU`` section of RESULTS.md (which ``make results`` keeps): the card, each part's wall
   time, each chapter's result, the bench's summary, and the course's total against 20 minutes.

It can take several calls: what is done is written to ``gpu-check/state.json`` and skipped the next
time (a failed or interrupted part runs again). ``--budget SECONDS`` (``$GPU_CHECK_BUDGET``) starts no
part after that much of the call is gone and stops a chapter that would run past it, so a call
ends cleanly with what it finished; run it again to go on (on a lent machine, bring
``gpu-check/`` back and carry it with the next call). Everything printed also goes to
``gpu-check/log.txt``. The exit status is non-zero when a part failed or the ``full`` course took
more than 20 minutes (the GPU job of the CI fails then).

``GPU_CHECK_REHEARSAL=1`` (or ``--rehearsal``) rehearses it all on the CPU with the training cut
short: the ``smoke`` profile, the bench's ``--rehearsal``, the section written to
``gpu-check/RESULTS.md`` instead of RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ("01_lenet", "02_alexnet", "03_vgg", "04_resnet", "05_densenet", "06_comparison")
PARTS = ("set-up", "CUDA tests", "bench", *CHAPTERS)
# every test file with a test that needs CUDA (tests/test_gpu_check.py finds any left out)
CUDA_TESTS = ("tests/test_cuda.py", "tests/test_augment.py", "tests/test_alexnet_towers.py")
COURSE_LIMIT = 20 * 60  # seconds: the full course, chapters 1-6, on one GPU
# module -> (the distribution that provides it, what needs it)
NEEDED = {"numpy": ("numpy", "everything (d2lnets)"), "matplotlib": ("matplotlib", "everything (d2lnets)"),
          "PIL": ("pillow", "everything (matplotlib, torchvision)"),
          "torchvision": ("torchvision (the build that matches torch)", "chapters 2, 6, the bench's end-to-end row"),
          "pytest": ("pytest", "the CUDA tests"),
          "sklearn": ("scikit-learn (its files: installed with --no-deps)", "chapter 2's colour photos")}
WHEELS = ("pytest", "scikit-learn")  # what `make gpu-carry` fetches by default


class Check:
    def __init__(self, out: Path, rehearsal: bool, budget: float | None, python: str) -> None:
        self.out, self.rehearsal, self.budget, self.python = out, rehearsal, budget, python
        self.start = time.perf_counter()
        out.mkdir(parents=True, exist_ok=True)
        self.log = (out / "log.txt").open("a", encoding="utf-8")
        self.state_path = out / "state.json"
        self.state = json.loads(self.state_path.read_text()) if self.state_path.exists() else {"parts": {}}
        self.env = dict(os.environ)

    # --- saying and remembering -----------------------------------------------------------------
    def say(self, line: str = "") -> None:
        print(line, flush=True)
        self.log.write(line + "\n")
        self.log.flush()

    def save(self) -> None:
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=2) + "\n")
        tmp.replace(self.state_path)

    def left(self) -> float | None:
        return None if self.budget is None else self.budget - (time.perf_counter() - self.start)

    def part(self, name: str, run) -> bool:
        """Run part ``name`` unless an earlier call finished it; True when it is done."""
        done = self.state["parts"].get(name)
        if done and done["status"] == "done":
            self.say(f"== {name}: done in an earlier call ({done['seconds']:.0f} s)")
            return True
        left = self.left()
        if left is not None and left < 30:
            self.say(f"== {name}: not started, {max(left, 0):.0f} s left in this call's budget; run again to go on")
            return False
        self.say(f"== {name} ({datetime.now(UTC):%H:%M:%S} UTC)")
        t = time.perf_counter()
        status, detail = run()
        seconds = time.perf_counter() - t
        self.state["parts"][name] = {"status": status, "seconds": round(seconds, 1), "detail": detail}
        self.save()
        self.say(f"== {name}: {status} in {seconds:.0f} s{f' ({detail})' if detail else ''}")
        return status == "done"

    def run(self, command: list[str], env: dict | None = None, timeout: float | None = None) -> tuple[int, str]:
        """Run ``command`` in the repository, its output printed and logged line by line, stopped after
        ``timeout`` seconds; (exit status, its last line), or (-9, why) when it was stopped."""
        self.say("$ " + " ".join(command))
        process = subprocess.Popen(command, cwd=ROOT, env=env or self.env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, bufsize=1)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            process.kill()

        stop = threading.Timer(max(timeout, 1), kill) if timeout is not None else None
        if stop is not None:
            stop.start()
        last = ""
        try:
            for line in process.stdout:
                self.say("   " + line.rstrip())
                last = line.strip() or last
            code = process.wait()
        finally:
            if stop is not None:
                stop.cancel()
        if killed.is_set():
            return -9, f"stopped at this call's budget, after {timeout:.0f} s"
        return code, last

    # --- 1. set-up ------------------------------------------------------------------------------
    def set_up_part(self, data: str | None) -> bool:
        self.say("== set-up")
        t = time.perf_counter()
        ready = self.set_up(data)
        seconds = time.perf_counter() - t
        self.state["parts"]["set-up"] = {"status": "done" if ready else "failed", "seconds": round(seconds, 1),
                                         "detail": "" if ready else "see the log"}
        self.save()
        self.say(f"== set-up: {'done' if ready else 'failed'} in {seconds:.0f} s")
        return ready

    def set_up(self, data: str | None) -> bool:
        site = self.out / "site"
        paths = [str(ROOT), str(site), self.env.get("PYTHONPATH", "")]
        self.env.setdefault("D2LNETS_RUN_LOG", str(self.out / "runs.jsonl"))  # (CI names its own)
        self.env.update(PYTHONPATH=os.pathsep.join(p for p in paths if p), MPLBACKEND="Agg",
                        D2LNETS_RUNS=str(self.out / "runs"), D2LNETS_PROFILE="smoke" if self.rehearsal else "full",
                        D2LNETS_DEVICE="cpu" if self.rehearsal else "cuda")
        if not self.rehearsal:
            self.env["D2LNETS_REQUIRE_DEVICE"] = "cuda"
        missing = self.missing()
        if missing:
            self.install(missing, site)
            missing = self.missing()
        for module in missing:
            dist, needs = NEEDED[module]
            self.say(f"   missing: {module} ({dist}), needed by {needs}: carry its wheel in gpu-wheels/ "
                     f"(make gpu-carry GPU_WHEELS=\"... {dist.split()[0]}\")")
        probe = ("import torch, d2lnets; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), "
                 "torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')")
        code, line = self.run([self.python, "-c", probe])
        if code != 0:
            self.say("   d2lnets does not import here: nothing else can run")
            return False
        if not self.rehearsal and "cuda True" not in line:
            self.say("   torch sees no CUDA device: this check is for a GPU (GPU_CHECK_REHEARSAL=1 rehearses it)")
            return False
        self.state["card"] = line.split("cuda True", 1)[1].strip() if "cuda True" in line else "cpu (rehearsal)"
        self.state["torch"] = line.split()[1] if line.startswith("torch ") else "?"
        self.skip_tests = "pytest" in missing
        return self.find_data(data)

    def missing(self) -> list[str]:
        code = ("import importlib.util, json, sys; print(json.dumps([m for m in sys.argv[1:] "
                "if importlib.util.find_spec(m) is None]))")
        out = subprocess.run([self.python, "-c", code, *NEEDED], env=self.env, capture_output=True, text=True)
        return json.loads(out.stdout) if out.returncode == 0 else list(NEEDED)

    def install(self, missing: list[str], site: Path) -> None:
        wheels = Path(self.env.get("GPU_CHECK_WHEELS", ROOT / "gpu-wheels"))
        names = [NEEDED[m][0].split()[0] for m in missing if not NEEDED[m][0].startswith("torchvision")]
        if not names:
            return
        no_deps = [n for n in names if n == "scikit-learn"]
        with_deps = [n for n in names if n not in no_deps]
        base = [self.python, "-m", "pip", "install", "--quiet", "--target", str(site), "--disable-pip-version-check"]
        for extra, group in ((["--no-deps"], no_deps), ([], with_deps)):
            if not group:
                continue
            if wheels.is_dir():
                code, _ = self.run(base + extra + ["--no-index", "--find-links", str(wheels), *group])
                if code == 0:
                    continue
            self.run(base + extra + ["--timeout", "10", "--retries", "0", *group])  # an index, if one answers

    def find_data(self, data: str | None) -> bool:
        code = ("import d2lnets as d2l; t = d2l.load_fashion_mnist_tensors(download=False); "
                "print('Fashion-MNIST', tuple(t['train_images'].shape))")
        for where in ([data] if data else []) + [self.env.get("D2LNETS_DATA"), str(ROOT / "data"), None]:
            env = dict(self.env)
            if where:
                env["D2LNETS_DATA"] = where
            else:
                env.pop("D2LNETS_DATA", None)
            out = subprocess.run([self.python, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True)
            if out.returncode == 0:
                self.env = env
                self.say(f"   {out.stdout.strip()} found{f' in {where}' if where else ''}")
                return True
        self.say("   Fashion-MNIST not found: put its four .gz files in data/ (make gpu-carry copies them) or "
                 "give --data PATH")
        return False

    # --- 2-4. the parts ---------------------------------------------------------------------------
    def cuda_tests(self):
        if self.skip_tests:
            return "skipped", "no pytest here"
        code, last = self.run([self.python, "-m", "pytest", *CUDA_TESTS, "-q", "-rs", "-p", "no:cacheprovider"])
        return ("done" if code == 0 else "failed"), last

    def bench_path(self) -> Path:
        if self.rehearsal:
            return self.out / "bench-rehearsal.json"
        card = self.state.get("card", "")
        known = re.search(r"(GH200|H200|H100|A100|L40S|L4|A10)", card)
        name = known.group(1).lower() if known else re.sub(r"[^a-z0-9]+", "-", card.lower()).strip("-")
        return ROOT / "benchmarks" / "results" / f"cuda-{name}.json"

    def bench(self):
        command = [self.python, "benchmarks/run.py", "--parts", "models,end_to_end", "--out", str(self.bench_path())]
        command += ["--device", "cpu", "--rehearsal"] if self.rehearsal else ["--device", "cuda"]
        code, last = self.run(command)
        return ("done" if code == 0 else "failed"), last

    def chapter(self, name: str):
        records = self.out / f"records-{name}.jsonl"
        records.unlink(missing_ok=True)
        env = dict(self.env, D2LNETS_RESULTS=str(records))
        profile = "smoke" if self.rehearsal else "full"
        code, last = self.run([self.python, "-m", "d2lnets.tools.notebooks", "--plain", "--profile", profile,
                               f"chapters/{name}.ipynb"], env=env, timeout=self.left())
        if code != 0:
            return ("interrupted" if code == -9 else "failed"), last
        rows = [json.loads(line) for line in records.read_text().splitlines()] if records.exists() else []
        off = [r for r in rows if r.get("kind", "result") == "result" and not str(r.get("device", "")).startswith(
            "cpu" if self.rehearsal else "cuda")]
        if off:
            return "failed", f"trained on {off[0].get('device')}, not on {'the CPU' if self.rehearsal else 'CUDA'}"
        self.state.setdefault("records", {})[name] = rows
        return "done", last

    # --- 5. the section of RESULTS.md ---------------------------------------------------------------
    def section(self) -> tuple[str, list[str]]:
        parts, problems = self.state["parts"], []
        course = [parts[c]["seconds"] for c in CHAPTERS if parts.get(c, {}).get("status") == "done"]
        all_done = len(course) == len(CHAPTERS)
        total = sum(course)
        lines = ["## GPU", "",
                 f"Written by `make gpu-check` (`benchmarks/gpu_check.sh`) on {self.state.get('card')}, "
                 f"torch {self.state.get('torch', '?')}, Python {platform.python_version()}, "
                 f"{datetime.now(UTC):%Y-%m-%d}" + (" — a REHEARSAL on the CPU (smoke profile): not GPU "
                                                              "figures" if self.rehearsal else "") + ".", "",
                 "| part | status | wall time |", "|---|---|---|"]
        for name in [n for n in PARTS if n in parts]:
            p = parts[name]
            why = f": {p['detail']}" if p["status"] != "done" and p.get("detail") else ""
            lines.append(f"| {name} | {p['status']}{why} | {p['seconds']:.0f} s |")
            if p["status"] == "failed":
                problems.append(f"{name}: failed")
        rows = [r for c in CHAPTERS for r in self.state.get("records", {}).get(c, [])
                if r.get("kind", "result") == "result"]
        if rows:
            lines += ["", "| chapter | model | input | epochs | test acc | training time | examples/s | settings |",
                      "|---|---|---|---|---|---|---|---|"]
            lines += [f"| {r['chapter']} | {r['model']} | {r['input_size']} px | {r['epochs']} | {r['test_acc']:.3f} "
                      f"| {r['train_seconds']:.0f} s | {r['examples_per_sec']:.0f} | {r['settings']} on {r['device']} |"
                      for r in rows]
        verdict = ("within" if total <= COURSE_LIMIT else "OVER") if all_done else "not finished yet:"
        profile = "smoke" if self.rehearsal else "full"
        lines += ["", f"The `{profile}` course, chapters 1-6: {total:.0f} s of chapter wall time "
                      f"({len(course)} of {len(CHAPTERS)} chapters run), {verdict} the limit of {COURSE_LIMIT} s."]
        if all_done and total > COURSE_LIMIT and not self.rehearsal:  # (a rehearsal's smoke run on a CPU: said only)
            problems.append(f"the full course took {total:.0f} s, more than {COURSE_LIMIT} s")
        lines += self.bench_summary()
        return "\n".join(lines) + "\n", problems

    def bench_summary(self) -> list[str]:
        path = self.bench_path()
        if not path.exists():
            return []
        r = json.loads(path.read_text())
        rows, out = r.get("models", []), []
        if rows:
            ratios = [m["speedup"] for m in rows]
            mean = 1.0
            for x in ratios:
                mean *= x ** (1 / len(ratios))
            out.append(f"The bench (`{path.relative_to(ROOT)}`): train_ch5 at {mean:.2f}× the book's train_ch6 "
                       f"(geometric mean over {len(rows)} rows, lowest {min(ratios):.2f}×).")
            for m in rows:
                share = m.get("share_of_card_peak")
                out.append(f"- {m['model']} {m['size']} px, batch {m['batch_size']}, {m['precision']}: "
                           f"{m['ours']:.0f} examples/s, {m['speedup']:.2f}× the book, {m['tflops']:.1f} TFLOP/s"
                           + (f" ({share:.0%} of the card's dense bf16 peak)" if share is not None else "")
                           + f", {m['syncs_per_step']:.2f} synchronisations a step; {m['faster_precision']} faster")
        e = r.get("end_to_end")
        if e:
            out.append(f"- end to end, {e['model']} {e['size']} px, one epoch: {e['ours_seconds']:.1f} s against the "
                       f"book's pipeline's {e['book_seconds']:.1f} s ({e['speedup']:.2f}×)")
        return [""] + out if out else []


def prepare(wheels: list[str], python_version: str = "3.12") -> int:
    """Here, before a lent GPU: Fashion-MNIST's files into data/, wheels for its Python into gpu-wheels/."""
    import d2lnets as d2l

    files = d2l.data.locate(d2l.data.FASHION_MNIST, download=False)
    target = ROOT / "data"
    target.mkdir(exist_ok=True)
    for path in files.values():
        shutil.copy2(path, target / path.name)
    folder = ROOT / "gpu-wheels"
    folder.mkdir(exist_ok=True)
    platforms = [f"--platform={p}" for p in ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")]
    for name in wheels:
        deps = ["--no-deps"] if name == "scikit-learn" else []
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "--python-version",
                        python_version, *platforms, *deps, "-d", str(folder), name], check=True)
    sizes = {p: sum(f.stat().st_size for f in (ROOT / p).rglob("*") if f.is_file()) for p in ("data", "gpu-wheels")}
    for p, n in sizes.items():
        print(f"{p}/: {n / 2**20:.1f} MiB")
    total = sum(sizes.values()) / 2**20
    print(f"carry: data, gpu-wheels (and gpu-check, after a first call): {total:.1f} MiB of the 64 MiB a call carries")
    return 0 if total < 64 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a folder holding Fashion-MNIST's four files")
    parser.add_argument("--budget", type=float, default=float(os.environ.get("GPU_CHECK_BUDGET", 0)) or None,
                        help="seconds this call may run: no part starts after, a chapter stops there")
    parser.add_argument("--rehearsal", action="store_true", default=os.environ.get("GPU_CHECK_REHEARSAL") == "1",
                        help="rehearse on the CPU: smoke profile, short bench, section in gpu-check/RESULTS.md")
    parser.add_argument("--out", type=Path, default=ROOT / "gpu-check", help="state, log, records (default gpu-check/)")
    parser.add_argument("--results", type=Path, help="the RESULTS.md to write the GPU section into (default: the "
                        "checkout's; in a rehearsal gpu-check/RESULTS.md, a copy)")
    parser.add_argument("--prepare", action="store_true", help="here: copy the data and fetch wheels to carry")
    parser.add_argument("--wheels", nargs="*", default=list(WHEELS), help="with --prepare: what to fetch")
    parser.add_argument("--python-version", default="3.12", help="with --prepare: the GPU machine's Python")
    args = parser.parse_args(argv)
    if args.prepare:
        return prepare(args.wheels, args.python_version)
    check = Check(args.out, args.rehearsal, args.budget, sys.executable)
    what = "gpu check" + (" REHEARSAL (cpu, smoke)" if args.rehearsal else "")
    check.say(f"{what}: {ROOT}, Python {sys.version.split()[0]}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    ready = check.set_up_part(args.data)  # at every call: this machine's modules and data
    if ready:
        check.part("CUDA tests", check.cuda_tests)
        check.part("bench", check.bench)
        for name in CHAPTERS:
            check.part(name, lambda n=name: check.chapter(n))
    section, problems = check.section()
    results = args.results or (args.out / "RESULTS.md" if args.rehearsal else ROOT / "RESULTS.md")
    if args.rehearsal and not results.exists() and (ROOT / "RESULTS.md").exists():
        shutil.copy2(ROOT / "RESULTS.md", results)
    sys.path.insert(0, str(ROOT))
    from d2lnets.tools.notebooks import write_gpu_section

    write_gpu_section(results, section)
    check.say(f"wrote the GPU section of {results}:")
    for line in section.splitlines():
        check.say("   " + line)
    unfinished = [c for c in PARTS if check.state["parts"].get(c, {}).get("status") not in ("done", "skipped")]
    if problems:
        check.say("FAILED: " + "; ".join(problems))
        return 1
    if unfinished:
        check.say(f"not finished: {', '.join(unfinished)}; run again to go on")
        return 3
    check.say(f"gpu check done in {time.perf_counter() - check.start:.0f} s this call")
    return 0


if __name__ == "__main__":
    sys.exit(main())
