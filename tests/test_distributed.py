"""train_ch5 in two CPU processes (gloo, DistributedDataParallel) against one process on the same
global batches."""
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import d2lnets as d2l

N, BATCH, WORLD = 256, 32, 2


def _data(batch_size, **kw):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (N, 28, 28), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (N,), generator=g)
    return (d2l.ImageLoader(images, labels, batch_size, shuffle=True, seed=5, **kw),
            d2l.ImageLoader(images[:96], labels[:96], 32))


def _train(train_iter, test_iter, checkpoint=None):
    torch.set_num_threads(1)
    d2l.set_seed(0)
    net = d2l.models.lenet(variant="modern")
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    h = d2l.train_ch5(net, train_iter, test_iter, 1, optimizer=optimizer, device="cpu", precision="fp32",
                      channels_last=False, verbose=False, plot=False, checkpoint=checkpoint)
    return net, h


def _worker(rank, port, out):
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    try:
        d2l.set_seed(rank + 100)  # a different initialisation on rank 1: DDP starts from rank 0's
        net, h = _train(*_data(BATCH), checkpoint=str(out.parent / "ddp.pt"))
        torch.save({"state": net.state_dict(), "history": h.to_dict()}, out.parent / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_gloo_processes_train_as_one_process_on_the_global_batches(tmp_path):
    mp.spawn(_worker, args=(_free_port(), tmp_path / "out"), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    net, h = _train(*_data(BATCH * WORLD, drop_last=True))
    for k, v in net.state_dict().items():
        for r in ranks:
            torch.testing.assert_close(r["state"][k], v, atol=1e-5, rtol=0, msg=k)
    for r in ranks:
        assert r["history"]["train_acc"] == h.train_acc and r["history"]["test_acc"] == h.test_acc
        assert r["history"]["train_loss"] == pytest.approx(h.train_loss, abs=1e-5)
    saved = torch.load(tmp_path / "ddp.pt", weights_only=True)  # rank 0's checkpoint, of the plain network
    assert saved["kind"] == "checkpoint" and "features.0.weight" in saved["state_dict"]


def test_a_shard_takes_its_slice_of_each_global_batch():
    whole, _ = _data(BATCH * WORLD, drop_last=True)
    parts = [whole.shard(r, WORLD) for r in range(WORLD)]
    for p in parts:
        p.batch_size = BATCH
    assert len(parts[0]) == len(parts[1]) == N // (BATCH * WORLD) == len(whole)
    for (X, y), *shares in zip(whole, *parts):
        assert torch.equal(X, torch.cat([s[0] for s in shares])) and torch.equal(y, torch.cat([s[1] for s in shares]))
    with pytest.raises(ValueError, match="rank must be from 0 to world_size - 1"):
        whole.shard(2, 2)
