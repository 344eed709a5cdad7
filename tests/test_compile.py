"""torch.compile on the course's networks, tested on the CPU with the ``aot_eager`` backend (no C++
compiler needed): each chapter's network compiles whole, forward and backward, with no graph break;
a second network of an architecture reuses the code compiled for the first (no recompiling per
seed); and training through the compiled network stays with eager training. ``make test-compile``
also compiles every factory of ``d2l.models`` (``D2LNETS_TEST_COMPILE_ALL=1``)."""
import os
import time

import pytest
import torch
from torch._dynamo.utils import counters

import d2lnets as d2l

pytestmark = pytest.mark.usefixtures("one_thread")

CHAPTERS = ("01_lenet", "02_alexnet", "03_vgg", "04_resnet", "05_densenet")


def _compiles_whole(net: torch.nn.Module, X: torch.Tensor) -> dict:
    """Forward and backward through torch.compile(fullgraph=True, aot_eager); the graphs made."""
    torch._dynamo.reset()
    counters.clear()
    compiled = torch.compile(net, backend="aot_eager", fullgraph=True)  # fullgraph: a graph break raises
    compiled(X).sum().backward()
    assert not counters["graph_break"], dict(counters["graph_break"])
    return dict(counters["stats"])


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_each_chapters_network_compiles_whole(chapter):
    R = d2l.recipe(chapter)
    start = time.perf_counter()
    stats = _compiles_whole(R.make_net(), torch.rand(2, 1, R.image_size, R.image_size))
    print(f"{chapter}: {stats}, {time.perf_counter() - start:.1f} s")
    assert stats["unique_graphs"] == 1


@pytest.mark.skipif(os.environ.get("D2LNETS_TEST_COMPILE_ALL") != "1",
                    reason="every factory of d2l.models: make test-compile (D2LNETS_TEST_COMPILE_ALL=1)")
@pytest.mark.parametrize("name", d2l.models.list_models())
def test_every_factory_compiles_whole(name):
    net = d2l.models.get_model(name, num_classes=10, in_channels=1)
    size = 28 if name == "lenet" else max(32, getattr(net, "min_size", 0))
    assert _compiles_whole(net, torch.rand(2, 1, size, size))["unique_graphs"] == 1


def _train(seed: int, compile, steps: int = 20, variant="modern") -> tuple[torch.nn.Module, d2l.History]:
    g = torch.Generator().manual_seed(100)
    batches = [(torch.rand(16, 1, 28, 28, generator=g), torch.randint(0, 10, (16,), generator=g))
               for _ in range(steps)]
    d2l.set_seed(seed)
    net = d2l.models.lenet(variant=variant)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    h = d2l.train_ch5(net, batches, batches[:2], 1, optimizer=optimizer, scheduler="onecycle", device="cpu",
                      precision="fp32", channels_last=False, compile=compile, verbose=False, plot=False)
    return net, h


def test_an_architecture_compiles_once_whatever_the_seed():
    torch._dynamo.reset()
    counters.clear()
    _train(0, "aot_eager", steps=3)
    first = (dict(counters["stats"]), sum(counters["recompiles"].values()))
    for seed in (1, 2):
        _train(seed, "aot_eager", steps=3)
    assert (dict(counters["stats"]), sum(counters["recompiles"].values())) == first, "compiled again for a new seed"
    _train(0, "aot_eager", steps=3, variant="classic")  # another architecture: the counters see it
    assert dict(counters["stats"]) != first[0]


def test_a_compiled_step_stays_with_the_eager_step_for_20_steps():
    (compiled, h), (eager, h_eager) = _train(7, "aot_eager"), _train(7, False)
    assert h.settings == "fp32, compiled (aot_eager)"
    for a, b in zip(compiled.parameters(), eager.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert h.train_loss[0] == pytest.approx(h_eager.train_loss[0], rel=1e-4)


def test_compile_takes_true_false_or_a_backend():
    with pytest.raises(ValueError, match="compile must be True, False or the name of a torch.compile backend"):
        _train(0, 1, steps=1)
