"""``d2lnets.memory``: freed CPU memory is reused inside the block, and handed back after it.

The page-fault counter is the reference: writing a fresh 64 MB block faults in every 4 KB page,
writing a reused one faults in none.
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
PAGES = 64 * MB // 4096


def refill_faults() -> int:
    """Page faults taken by allocating and writing a 64 MB tensor once the allocator has settled:
    the fewest over a few rounds (where the heap puts a block can take a round or two to settle)."""
    faults = []
    for _ in range(4):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        torch.empty(64 * MB // 4).fill_(1.0)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return min(faults)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


def test_freed_memory_is_reused_inside_and_not_outside():
    # a fresh process: what glibc does with a long-used, fragmented heap (or when a thread has been
    # moved off the main arena) is less predictable, though never worse than without the block
    script = (
        "import json, sys; sys.path.insert(0, 'tests')\n"
        "from test_memory import refill_faults\n"
        "from d2lnets import memory\n"
        "outside = refill_faults()\n"
        "with memory.reuse_freed_memory() as active:\n"
        "    inside = refill_faults()\n"
        "    with memory.reuse_freed_memory():\n"
        "        pass\n"
        "    nested = refill_faults()\n"
        "print(json.dumps([active, outside, inside, nested]))\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent)
    active, outside, inside, nested = json.loads(out.stdout)
    assert active
    assert outside > PAGES // 2, f"glibc should fault a fresh 64 MB block in ({outside} faults)"
    assert inside < PAGES // 20, f"inside the block the freed 64 MB should be reused ({inside} faults)"
    assert nested < PAGES // 20, f"leaving an inner block must not switch reuse off ({nested} faults)"


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
