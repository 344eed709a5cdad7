"""What every benchmark shares: the clocks around training steps (host timestamps on the CPU, CUDA
events on a GPU), the book's code run quietly, batches of Fashion-MNIST, FLOP counts, memory
readings, torch's global flags and the synchronisations a loop makes."""
from __future__ import annotations

import contextlib
import io
import math
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


class EventClock:
    """Batches that time every pass over them from batch ``warm_up`` to the end: with CUDA events
    on a GPU (recorded in the stream, so they time what the GPU does, without waiting for it), with
    the host's clock elsewhere. The untimed first batches hold the warm-up (cuDNN's autotuning, the
    capture of a CUDA graph)."""

    def __init__(self, batches: list, device: torch.device, warm_up: int) -> None:
        if len(batches) <= warm_up:
            raise ValueError(f"need more than {warm_up} batches, got {len(batches)}")
        self.batches, self.device, self.warm_up, self.marks = batches, device, warm_up, []

    def __len__(self) -> int:
        return len(self.batches)

    def _mark(self):
        if self.device.type != "cuda":
            return time.perf_counter()
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def __iter__(self):
        start = None
        for i, batch in enumerate(self.batches):
            if i == self.warm_up:
                start = self._mark()
            yield batch
        self.marks.append((start, self._mark()))

    def seconds(self) -> list[float]:
        """Each pass's timed part, in seconds (waits for the GPU once)."""
        if self.device.type != "cuda":
            return [end - start for start, end in self.marks]
        torch.cuda.synchronize(self.device)
        return [start.elapsed_time(end) / 1000 for start, end in self.marks]

    def examples_per_sec(self, batch_size: int) -> float:
        """The median pass's timed steps, in examples per second."""
        return (len(self.batches) - self.warm_up) * batch_size / statistics.median(self.seconds())


def global_flags() -> dict:
    """torch's global arithmetic flags that a training loop may set (TF32, cuDNN, determinism)."""
    cudnn = torch.backends.cudnn
    return {"matmul_precision": torch.get_float32_matmul_precision(), "cudnn_tf32": cudnn.allow_tf32,
            "cudnn_benchmark": cudnn.benchmark, "cudnn_deterministic": cudnn.deterministic,
            "deterministic": torch.are_deterministic_algorithms_enabled()}


def set_global_flags(flags: dict) -> None:
    torch.set_float32_matmul_precision(flags["matmul_precision"])
    torch.backends.cudnn.allow_tf32 = flags["cudnn_tf32"]
    torch.backends.cudnn.benchmark = flags["cudnn_benchmark"]
    torch.backends.cudnn.deterministic = flags["cudnn_deterministic"]
    torch.use_deterministic_algorithms(flags["deterministic"])


def count_syncs(device: torch.device, run) -> int:
    """How many times ``run()`` makes the host wait for the GPU (torch's sync debug mode warns at
    each); off CUDA 0, without running it (nothing waits there)."""
    if device.type != "cuda":
        return 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            run()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message) for w in caught)


def geometric_mean(values) -> float:
    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values))


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
