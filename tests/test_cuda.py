"""The GPU path on a real GPU (every test here needs CUDA; `make gpu-check` runs them first): whole
steps replayed from a CUDA graph and what they train, the steady state's synchronisations counted
by CUDA itself, the flags set and put back, fused SGD, evaluation batches, augmentation that
matches the CPU's, the divergence guard, and the fast path's accuracy against eager fp32 over
seeds. Their CPU counterparts are in test_graph.py, test_hooks.py, test_precision.py and
test_augment.py."""
import math
import statistics
import warnings

import pytest
import torch

import d2lnets as d2l
from d2lnets.train import graph

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def _loaders(n=64 * 20 + 16, batch=64, augment=None, normalize=False, seed=0):
    """In-memory Fashion-MNIST-like loaders on the GPU (random pixels; a partial last batch)."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (n,), generator=g)
    train = d2l.FashionMNISTLoader(images, labels, batch, shuffle=True, augment=augment, normalize=normalize,
                                   device="cuda")
    return train, d2l.FashionMNISTLoader(images[:256], labels[:256], batch, device="cuda")


def _lenet(seed):
    d2l.set_seed(seed)
    return d2l.models.lenet(variant="modern")


def test_training_on_cuda_takes_the_whole_fast_path():
    train_iter, test_iter = _loaders()
    h = d2l.train_ch5(_lenet(0), train_iter, test_iter, 2, lr=0.05, device="cuda", precision="fp32", verbose=False)
    assert h.settings == "fp32, channels_last, TF32, fused SGD, CUDA graph", h.settings
    assert all(math.isfinite(x) for x in h.train_loss)
    assert torch.get_float32_matmul_precision() == "highest" and not torch.backends.cudnn.benchmark


def test_a_captured_step_stays_with_the_eager_step_for_20_fp32_steps():
    train_iter, test_iter = _loaders(n=64 * 20)
    nets = {}
    for capture in ("auto", False):
        net = _lenet(1)
        optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        h = d2l.train_ch5(net, train_iter, test_iter, 1, optimizer=optimizer, scheduler="onecycle", device="cuda",
                          precision="fp32", capture=capture, verbose=False)
        assert ("CUDA graph" in h.settings) == (capture == "auto")
        nets[capture] = net
    for a, b in zip(nets["auto"].parameters(), nets[False].parameters()):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)


def test_replays_happen_for_every_full_batch_after_the_warm_up(monkeypatch):
    replays = []
    real = graph.CudaGraphs.replay
    monkeypatch.setattr(graph.CudaGraphs, "replay", staticmethod(lambda g: (replays.append(1), real(g))))
    train_iter, test_iter = _loaders()  # 20 full batches and a partial one
    d2l.train_ch5(_lenet(2), train_iter, test_iter, 2, lr=0.05, device="cuda", verbose=False)
    assert len(replays) == 2 * 20 - graph.WARM_UP


@pytest.mark.parametrize("steps", [20, 200])
def test_the_steady_state_makes_the_host_wait_rarely(steps):
    """CUDA's own count (torch's sync debug mode), with augmentation and normalisation on the GPU:
    c + ceil(N/50) a epoch (c: the epoch's results, points, evaluation, weights check, the capture)."""
    images = d2l.load_fashion_mnist_tensors()["train_images"][:32 * steps]
    augment = d2l.augment.Augment(crop=28, padding=2, flip=True,
                                  lighting=d2l.augment.pca_components(images[:1000, None].float() / 255))
    train_iter = d2l.FashionMNISTLoader(images, torch.arange(len(images)) % 10, 32, shuffle=True, augment=augment,
                                        normalize=True, device="cuda")
    _, test_iter = _loaders()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            d2l.train_ch5(_lenet(3), train_iter, test_iter, 2, lr=0.05, device="cuda", verbose=False)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    syncs = sum("synchroniz" in str(w.message) for w in caught)
    print(f"{steps} steps an epoch: {syncs / 2:.1f} synchronisations an epoch")
    assert syncs / 2 <= 8 + math.ceil(steps / 50)


def test_fused_sgd_and_large_evaluation_batches():
    sizes = []
    net = _lenet(4)
    net.register_forward_hook(lambda m, args, out: sizes.append(len(args[0])) if not m.training else None)
    train_iter, _ = _loaders()
    _, test_iter = _loaders(n=3000, batch=64)
    h = d2l.train_ch5(net, train_iter, test_iter, 1, lr=0.05, device="cuda", verbose=False)
    assert "fused SGD" in h.settings and "fused SGD" not in d2l.train_ch5(
        net, train_iter, test_iter, 1, optimizer=torch.optim.SGD(net.parameters(), lr=0.05), device="cuda",
        verbose=False).settings  # (a caller's optimizer is used as given)
    assert sizes == [1024, 1024, 952] * 2  # 3,000 test images in batches of 1,024, not 47 of 64
    d2l.evaluate_accuracy(net, test_iter)
    assert sizes[-3:] == [1024, 1024, 952]


def test_augmentation_on_the_gpu_is_the_cpus():
    X = torch.rand(32, 3, 20, 20)
    eig = d2l.augment.pca_components(X)
    on_cpu = d2l.augment.Augment(crop=20, padding=3, lighting=eig, seed=9)(X)
    on_gpu = d2l.augment.Augment(crop=20, padding=3, lighting=eig, seed=9)(X.cuda())
    torch.testing.assert_close(on_gpu.cpu(), on_cpu, rtol=1e-5, atol=1e-6)


def test_the_divergence_guard_stops_and_restores_a_captured_run():
    net = _lenet(5)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    train_iter, test_iter = _loaders()
    with pytest.raises(d2l.TrainingDivergedError, match="diverged"):
        d2l.train_ch5(net, train_iter, test_iter, 2, lr=1e5, device="cuda", verbose=False)
    for k, v in net.state_dict().items():
        assert torch.equal(v.cpu(), before[k].cpu()), k


def test_the_exact_mode_on_cuda_is_eager_and_deterministic():
    seen = []

    class Look(d2l.Hook):
        def on_epoch_start(self, run):
            seen.append((torch.get_float32_matmul_precision(), torch.backends.cudnn.allow_tf32,
                         torch.are_deterministic_algorithms_enabled()))

    train_iter, test_iter = _loaders()
    runs = [d2l.train_ch5(_lenet(6), train_iter, test_iter, 1, lr=0.05, device="cuda", precision="exact",
                          verbose=False, hooks=[Look()]) for _ in range(2)]
    assert runs[0].settings == "exact fp32 (IEEE, deterministic)"
    assert seen[0] == ("highest", False, True)
    assert runs[0] == runs[1]  # the same History, run twice


@pytest.mark.parametrize("chapter, epochs", [("01_lenet", 3), ("02_alexnet", 2)])
def test_the_fast_path_reaches_eager_fp32s_accuracy_within_the_seed_spread(chapter, epochs):
    """Three seeds on the fast path (bf16, captured steps) against three in eager IEEE fp32 (the
    exact mode), the chapter's cpu recipe: the means differ by no more than the seeds' spread."""
    R = d2l.recipe(chapter, profile="cpu")
    train_iter, test_iter = d2l.load_data_fashion_mnist(R.batch_size, resize=R.image_size, device="cuda")
    acc = {}
    for precision in ("bf16", "exact"):
        acc[precision] = []
        for seed in (0, 1, 2):
            d2l.set_seed(seed)
            net = R.make_net()
            optimizer = torch.optim.SGD(net.parameters(), lr=R.lr, momentum=R.momentum, weight_decay=R.weight_decay)
            h = d2l.train_ch5(net, train_iter, test_iter, epochs, optimizer=optimizer, scheduler=R.schedule,
                              device="cuda", precision=precision, verbose=False)
            acc[precision].append(h.final["test_acc"])
    spread = max(max(a) - min(a) for a in acc.values())
    gap = abs(statistics.mean(acc["bf16"]) - statistics.mean(acc["exact"]))
    print(f"{chapter}: fast {acc['bf16']}, exact {acc['exact']}: gap {gap:.4f}, spread {spread:.4f}")
    assert gap <= max(spread, 0.002)
