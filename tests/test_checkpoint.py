"""Checkpoints of train_ch5 and an exact resume after a real kill (SIGKILL) in a subprocess."""
import os
import signal
import subprocess
import sys
import textwrap

import pytest
import torch

import d2lnets as d2l
from d2lnets.train.checkpoint import CheckpointError, read_checkpoint

# A small run: LeNet on 256 random images, 8 batches an epoch, 3 epochs, fp32 on the CPU. The
# script kills itself (SIGKILL) after KILL_AT optimizer steps when that is set.
SCRIPT = textwrap.dedent('''
    import json, os, signal, sys
    import torch
    torch.set_num_threads(1)
    import d2lnets as d2l

    out, ckpt, kill_at, every, resume = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5] == "1"
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (256, 28, 28), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (256,), generator=g)
    train_iter = d2l.ImageLoader(images, labels, 32, shuffle=True, seed=3)
    test_iter = d2l.ImageLoader(images[:64], labels[:64], 32)
    d2l.set_seed(0)
    net = d2l.models.lenet(variant="modern")
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    if kill_at:
        steps = [0]
        def hook(opt, args, kwargs):
            steps[0] += 1
            if steps[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
        optimizer.register_step_post_hook(hook)
    h = d2l.train_ch5(net, train_iter, test_iter, 3, optimizer=optimizer, scheduler="onecycle", device="cpu",
                      precision="fp32", verbose=False, checkpoint=ckpt or None,
                      checkpoint_every=int(every) if every != "0" else None, resume=resume)
    torch.save({"history": h.to_dict(), "state": net.state_dict()}, out)
''')


def _run(tmp_path, name, ckpt="", kill_at=0, every=0, resume=False):
    script = tmp_path / "train_small.py"
    script.write_text(SCRIPT)
    out = tmp_path / f"{name}.pt"
    env = dict(os.environ, D2LNETS_RUN_LOG="", OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, str(script), str(out), str(ckpt), str(kill_at), str(every),
                        "1" if resume else "0"], capture_output=True, text=True, env=env, timeout=120)
    return p, out


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("reference")
    p, out = _run(tmp, "reference")
    assert p.returncode == 0, p.stderr
    return torch.load(out, weights_only=True)


def _same(resumed, reference):
    h, ref = resumed["history"], reference["history"]
    for key in ("train_loss", "train_acc", "test_acc", "step", "step_epoch", "step_loss", "step_acc"):
        assert h[key] == ref[key], key
    for k, v in reference["state"].items():
        assert torch.equal(resumed["state"][k], v), k


@pytest.mark.parametrize("every, kill_at, at", [(0, 12, (1, 0)), (3, 13, (1, 4))],
                         ids=["epoch_boundary", "mid_epoch"])
def test_a_killed_run_resumes_bit_for_bit(tmp_path, uninterrupted, every, kill_at, at):
    ckpt = tmp_path / "run.pt"
    p, _ = _run(tmp_path, "killed", ckpt, kill_at=kill_at, every=every)
    assert p.returncode == -signal.SIGKILL, p.stderr
    meta = read_checkpoint(ckpt)["meta"]
    assert (meta["epoch"], meta["batch"]) == at
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    p, out = _run(tmp_path, "resumed", ckpt, every=every, resume=True)
    assert p.returncode == 0, p.stderr
    _same(torch.load(out, weights_only=True), uninterrupted)
    assert read_checkpoint(ckpt)["meta"]["epoch"] == 3


def _small(n=64):
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, 256, (n, 28, 28), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (n,), generator=g)
    return d2l.ImageLoader(images, labels, 32, shuffle=True), d2l.ImageLoader(images, labels, 32)


def _train(net, ckpt, **kw):
    train_iter, test_iter = _small()
    kw.setdefault("lr", 0.05)
    return d2l.train_ch5(net, train_iter, test_iter, 1, device="cpu", precision="fp32", verbose=False,
                         checkpoint=str(ckpt), **kw)


def test_an_existing_checkpoint_is_never_silently_replaced(tmp_path):
    ckpt = tmp_path / "run.pt"
    _train(d2l.models.lenet(variant="modern"), ckpt)
    before = ckpt.read_bytes()
    with pytest.raises(FileExistsError, match=r"resume=True.*overwrite=True"):
        _train(d2l.models.lenet(variant="modern"), ckpt)
    assert ckpt.read_bytes() == before
    other = tmp_path / "other.pt"
    other.write_bytes(b"PK\x03\x04 another checkpoint")  # (a zip archive, as torch.save writes)
    with pytest.raises(FileExistsError, match="other.pt already holds"):  # resuming A never replaces B
        _train(d2l.models.lenet(variant="modern"), other, resume=str(ckpt))
    assert other.read_bytes() == b"PK\x03\x04 another checkpoint"
    _train(d2l.models.lenet(variant="modern"), ckpt, overwrite=True)
    saved = torch.load(ckpt, weights_only=True)
    assert saved["format"] == "d2lnets-model" and saved["kind"] == "checkpoint"


def test_a_checkpoint_of_another_network_run_or_a_truncated_file_is_refused(tmp_path):
    ckpt = tmp_path / "run.pt"
    _train(d2l.models.lenet(variant="modern"), ckpt)
    other = d2l.models.lenet(variant="classic")
    other.features[0] = torch.nn.Conv2d(1, 8, 5, padding=2)
    before = {k: v.clone() for k, v in other.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"another network.*features\.0\.weight.*Nothing was loaded"):
        _train(other, ckpt, resume=True)
    assert all(torch.equal(v, before[k]) for k, v in other.state_dict().items())
    net = d2l.models.lenet(variant="modern")
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(CheckpointError, match=r"another run.*lr 0\.05 there, 0\.1 here"):
        _train(net, ckpt, resume=True, lr=0.1)
    assert all(torch.equal(v, before[k]) for k, v in net.state_dict().items())
    data = ckpt.read_bytes()
    ckpt.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="not a whole checkpoint.*truncated"):
        _train(net, ckpt, resume=True)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        _train(net, tmp_path / "none.pt", resume=True)
