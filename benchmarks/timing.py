"""What every benchmark shares: the clock around training steps, the book's code run quietly,
batches of Fashion-MNIST, FLOP counts and memory readings."""
from __future__ import annotations

import contextlib
import io
import resource
import statistics
import time
import types
import warnings

import torch
from torch.utils.flop_counter import FlopCounterMode

import d2lnets as d2l
from d2lnets.core.precision import choose_settings

BATCHES = 5  # per epoch; the book's loop needs at least 5 (it plots every num_batches // 5)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepClock:
    """Batches that note the time of every fetch and of the end of each pass over them.

    On the CPU, examples/s is the batch size over the median step time, leaving out the first step
    of every pass (warm-up); on CUDA, where steps run asynchronously, it is each pass's later steps
    over their wall time, the median over passes."""

    def __init__(self, batches: list, device: torch.device) -> None:
        self.batches, self.device, self.passes = batches, device, []

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        stamps = [time.perf_counter()]
        for i, batch in enumerate(self.batches):
            yield batch
            if i == 0:  # on CUDA, let the first (warm-up) step finish before timing the rest
                sync(self.device)
            stamps.append(time.perf_counter())
        self.passes.append(stamps)

    def examples_per_sec(self, batch_size: int) -> float:
        if self.device.type == "cpu":  # median step, the first of every pass left out
            steps = [b - a for s in self.passes for a, b in zip(s[1:], s[2:])]
            return batch_size / statistics.median(steps)
        return statistics.median((len(s) - 2) * batch_size / (s[-1] - s[1]) for s in self.passes)


class _NoPlot:
    """The book's Animator, drawing nothing."""

    def __init__(self, *args, **kwargs):
        pass

    def add(self, *args, **kwargs):
        pass


class _BookWithoutPlot:
    """The book's module as its own functions see it (``d2l.Animator``, ``d2l.Timer``, ...), but with
    an Animator that draws nothing."""

    Animator = _NoPlot

    def __init__(self, module) -> None:
        self._module = module

    def __getattr__(self, name: str):
        return getattr(self._module, name)


@contextlib.contextmanager
def book_quietly():
    """The book's ``d2l.torch``, with its prints and its 4-worker DataLoader warning silenced."""
    from d2l import torch as d2l_book

    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="This DataLoader will create")  # 4 workers, 2 cores
        yield d2l_book


def book_train_ch6(net, train_iter, test_iter, num_epochs: int, lr: float, device: torch.device) -> None:
    """The book's ``d2l.train_ch6``, quietly and without its live plot (its own timer leaves the plot
    out too): a copy of the function whose ``d2l`` draws nothing. The book's module is not changed."""
    with book_quietly() as d2l_book:
        train_ch6 = d2l_book.train_ch6
        namespace = dict(train_ch6.__globals__, d2l=_BookWithoutPlot(d2l_book))
        quiet = types.FunctionType(train_ch6.__code__, namespace, train_ch6.__name__, train_ch6.__defaults__,
                                   train_ch6.__closure__)
        quiet(net, train_iter, test_iter, num_epochs, lr, device)


def default_settings(device: torch.device):
    """The settings ``train_ch5`` picks by default on ``device`` (d2lnets.precision)."""
    return choose_settings(device, "auto", "auto")


def peak_for(settings, peaks: dict[str, float]) -> float:
    """The matrix-multiply peak of the precision ``settings`` compute in."""
    return peaks[{torch.bfloat16: "bf16", torch.float16: "fp16", None: "fp32"}[settings.dtype]]


def fashion_batches(size: int, batch_size: int, count: int) -> list:
    """``count`` training batches of Fashion-MNIST at ``size`` px, in memory."""
    train_iter, _ = d2l.load_data_fashion_mnist(batch_size, resize=size, num_train=batch_size * count)
    return list(train_iter)


def train_flops_per_example(make_net, X: torch.Tensor) -> float:
    """Forward + backward FLOPs of one example (counted on a batch of 2, in fp32, on the CPU)."""
    net = make_net()
    with FlopCounterMode(display=False) as counter:
        net(X[:2]).sum().backward()
    return counter.get_total_flops() / 2


def epoch_images_per_sec(loader, device: torch.device, warm_up: bool = False) -> float:
    """images/s over one whole epoch, timed from creating the iterator (the book's DataLoader
    starts its worker processes then, every epoch) to the last batch on ``device``. ``warm_up``
    first draws a few batches untimed, for one-off start-up costs that do not recur per epoch."""
    if warm_up:
        for _ in zip(range(3), loader):
            pass
    sync(device)
    start, n = time.perf_counter(), 0
    for X, _ in loader:
        X = X.to(device, non_blocking=True)
        n += len(X)
    sync(device)
    return n / (time.perf_counter() - start)


def rss_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process. Unlike ``ru_maxrss``, which Linux carries
    over ``exec`` from the parent, these start afresh in a new process."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
