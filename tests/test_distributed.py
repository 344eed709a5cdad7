"""train_ch5 in two CPU processes (gloo, DistributedDataParallel) against one process on the same
global batches; and a pair with one rank killed (SIGKILL) that resumes from the checkpoint, bit for
bit (fp32 on the CPU: the same operations in the same order, so no tolerance is needed)."""
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import d2lnets as d2l
from d2lnets.train.checkpoint import read_checkpoint

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


# --- one rank killed (SIGKILL), the pair resumed from the checkpoint ----------------------------------
# Each rank is its own `python RANK_SCRIPT` process given torchrun's environment (RANK, LOCAL_RANK,
# WORLD_SIZE, MASTER_ADDR, MASTER_PORT), so train_ch5 sets up the gloo group itself, as under torchrun.
# LeNet on 256 random images, a global batch of 64 (32 a rank): 4 steps an epoch, 3 epochs, fp32.
# With KILL_RANK set, that rank kills itself with SIGKILL after its 6th optimizer step (epoch 2,
# batch 2): the end-of-epoch-1 checkpoint is written by then, since rank 0 writes it before its 5th
# step's gradients can be averaged with the other rank's.
RANK_SCRIPT = '''
import os, signal, sys
import torch
torch.set_num_threads(1)
import d2lnets as d2l

out, ckpt, kill_rank, resume = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
rank = int(os.environ["RANK"])
g = torch.Generator().manual_seed(0)
images = torch.randint(0, 256, (256, 28, 28), dtype=torch.uint8, generator=g)
labels = torch.randint(0, 10, (256,), generator=g)
train_iter = d2l.ImageLoader(images, labels, 32, shuffle=True, seed=5)
test_iter = d2l.ImageLoader(images[:64], labels[:64], 32)
d2l.set_seed(0)
net = d2l.models.lenet(variant="modern")
optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
if rank == kill_rank:
    steps = [0]
    def hook(opt, args, kwargs):
        steps[0] += 1
        if steps[0] == 6:
            os.kill(os.getpid(), signal.SIGKILL)
    optimizer.register_step_post_hook(hook)
h = d2l.train_ch5(net, train_iter, test_iter, 3, optimizer=optimizer, scheduler="onecycle", device="cpu",
                  precision="fp32", channels_last=False, verbose=False, plot=False, checkpoint=ckpt, resume=resume)
torch.save({"history": h.to_dict(), "state": net.state_dict()}, out)
'''
SURVIVOR_WAIT = 20  # seconds the other rank gets to fail on its own once its peer is dead


def _launch_pair(tmp_path, name, ckpt, kill_rank=-1, resume=False):
    """Start both ranks and wait for them, leaving none running: a rank that outlives its failed peer
    by SURVIVOR_WAIT seconds is killed (gloo's own timeout is 30 minutes). Returns the exit codes, the
    outputs and whether a survivor had to be killed."""
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    port = _free_port()
    procs = []
    for rank in range(WORLD):
        env = dict(os.environ, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD), LOCAL_WORLD_SIZE=str(WORLD),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), D2LNETS_RUN_LOG="", OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen(
            [sys.executable, str(script), str(tmp_path / f"{name}{rank}.pt"), str(ckpt), str(kill_rank),
             "1" if resume else "0"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    deadline, first_death, killed_survivor = time.monotonic() + 120, None, False
    try:
        while any(p.poll() is None for p in procs):
            now = time.monotonic()
            if first_death is None and any(p.poll() is not None and p.returncode != 0 for p in procs):
                first_death = now
            if now > deadline or (first_death is not None and now - first_death > SURVIVOR_WAIT):
                for p in procs:
                    if p.poll() is None:
                        p.kill()
                        killed_survivor = True
                if now > deadline:
                    pytest.fail(f"{name}: the ranks ran past 120 s")
            time.sleep(0.05)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.wait()
    return [p.returncode for p in procs], [p.stdout.read() for p in procs], killed_survivor


@pytest.fixture(scope="module")
def uninterrupted_pair(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pair")
    codes, logs, _ = _launch_pair(tmp, "reference", tmp / "run.pt")
    assert codes == [0, 0], "\n".join(logs)
    return [torch.load(tmp / f"reference{r}.pt", weights_only=True) for r in range(WORLD)]


@pytest.mark.parametrize("kill_rank", [1, 0], ids=["kill_rank1", "kill_rank0_the_writer"])
def test_a_pair_with_one_rank_killed_resumes_bit_for_bit(tmp_path, uninterrupted_pair, kill_rank):
    ckpt = tmp_path / "run.pt"
    codes, logs, _ = _launch_pair(tmp_path, "killed", ckpt, kill_rank=kill_rank)
    assert codes[kill_rank] == -signal.SIGKILL, "\n".join(logs)
    # the survivor cannot finish without its peer: here it fails at its next gradient average
    # (gloo: "Connection reset by peer"), else _launch_pair kills it
    assert codes[1 - kill_rank] != 0, logs[1 - kill_rank]
    meta = read_checkpoint(ckpt)["meta"]
    assert (meta["epoch"], meta["batch"], meta["step"]) == (1, 0, 4)  # the end of epoch 1, whole
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    codes, logs, _ = _launch_pair(tmp_path, "resumed", ckpt, resume=True)
    assert codes == [0, 0], "\n".join(logs)
    assert read_checkpoint(ckpt)["meta"]["epoch"] == 3
    for rank in range(WORLD):  # fp32 on the CPU, same operations in the same order: bit for bit
        resumed, reference = torch.load(tmp_path / f"resumed{rank}.pt", weights_only=True), uninterrupted_pair[rank]
        # The epochs' results and the step points are sums over both ranks, the same on each rank
        # (the checkpoint holds rank 0's, so a resumed rank 1 carries them too).
        keys = ("train_loss", "train_acc", "test_acc", "step", "step_epoch", "step_loss", "step_acc")
        for key in keys:
            assert resumed["history"][key] == reference["history"][key], (rank, key)
        for k, v in reference["state"].items():
            assert torch.equal(resumed["state"][k], v), (rank, k)
