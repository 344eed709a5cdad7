"""``d2lnets.memory``: freed CPU memory is reused inside the block, and handed back after it.

The page-fault counter is the reference: a training step whose 33 MB activations land in fresh
blocks faults in every 4 KB page of them; one that reuses freed blocks faults in none.
"""
import json
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import d2lnets as d2l
from d2lnets.core import memory

pytestmark = pytest.mark.skipif(not memory.available(), reason="needs glibc (Linux)")

MB = 1 << 20
PAGES = 32 * MB // 4096   # the pages of one activation of the step below (16 x 8 x 256 x 256 floats)


def step_faults(steps: int = 6) -> list[int]:
    """Page faults taken by each of ``steps`` training steps (forward and backward of two
    convolutions whose activations are 32 MB each, above glibc's mmap threshold)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3, padding=1))
    X = torch.randn(16, 8, 256, 256)
    faults = []
    for _ in range(steps):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        net(X).sum().backward()
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return faults


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def test_freed_memory_is_reused_inside_and_not_outside():
    # a fresh process each: what glibc does with a long-used, fragmented heap is less predictable,
    # though never worse than without the block. Reuse sets in once the heap has settled: measured
    # on this machine (glibc 2.36, torch 2.14), from the third step or the fourth of every run most steps
    # fault in nothing, and a step outside faults in every page of its activations, every time. (A single
    # 64 MB block allocated again and again is no test: posix_memalign's slack keeps the freed
    # block from fitting the next request in about half of fresh processes.)
    script = (
        "import json, sys; sys.path.insert(0, 'tests')\n"
        "from test_memory import step_faults\n"
        "from d2lnets.core import memory\n"
        "outside = step_faults()\n"
        "with memory.reuse_freed_memory() as active:\n"
        "    inside = step_faults()\n"
        "    with memory.reuse_freed_memory():\n"
        "        pass\n"
        "    nested = step_faults(3)\n"
        "print(json.dumps([active, outside, inside, nested]))\n")
    for _ in range(2):   # two fresh processes
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).parent.parent)
        active, outside, inside, nested = json.loads(out.stdout)
        assert active
        assert min(outside[3:]) > 3 * PAGES, f"glibc should fault fresh blocks in at every step ({outside})"
        # the median step: glibc may still map one block afresh now and then (one step of 8,188 faults
        # in a clean-clone run), while with reuse off every step faults in tens of thousands of pages
        settled = sorted(inside[3:])[1]
        assert settled < PAGES // 20, f"inside the block freed memory should be reused once settled ({inside})"
        assert sorted(nested)[1] < PAGES // 20, f"leaving an inner block must not switch reuse off ({nested})"


def test_memory_is_handed_back_on_leaving():
    with memory.reuse_freed_memory():
        big = torch.ones(256 * MB // 4)
        del big
        held = rss_mb()
    assert held - rss_mb() > 200, "the freed 256 MB should go back to the system after the block"


def test_switched_off_by_environment_and_off_the_cpu(monkeypatch):
    with memory.reuse_freed_memory("cuda") as active:
        assert not active
    monkeypatch.setenv("D2LNETS_REUSE_MEMORY", "0")
    assert not memory.available()
    with memory.reuse_freed_memory() as active:
        assert not active


def test_training_evaluation_and_loading_use_it(monkeypatch):
    import contextlib

    from d2lnets.analysis import evaluate
    from d2lnets.data import loader as data
    from d2lnets.train import run

    entered = []

    @contextlib.contextmanager
    def recorder(device=None):
        entered.append(str(device))
        yield True

    monkeypatch.setattr(run, "reuse_freed_memory", recorder)
    monkeypatch.setattr(evaluate, "reuse_freed_memory", recorder)
    monkeypatch.setattr(data, "reuse_freed_memory", recorder)
    X = torch.randint(0, 256, (8, 28, 28), dtype=torch.uint8)
    loader = d2l.FashionMNISTLoader(X, torch.arange(8) % 10, 4)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    d2l.train_ch5(net, loader, loader, 1, lr=0.1, device="cpu", verbose=False, plot=False)
    # train_ch5 (once), the training pass and the test pass of the loader, evaluate_accuracy
    assert entered.count("cpu") == 4, entered
