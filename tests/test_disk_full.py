"""A full disk, for real: every writer of the package on a small tmpfs in a private mount namespace.

``unshare -rm`` gives this test's subprocess a mount namespace of its own (as an unprivileged user),
where it mounts a 2 MB tmpfs; each case fills it and writes a model, a checkpoint, a record, a
notebook, RESULTS.md or a learner copy. Each must raise the package's ``DiskFullError`` (the disk is
full, the path, the bytes needed), keep the previous file whole and leave no temporary file. Skipped,
saying why, where ``unshare`` cannot make the namespace (not Linux, or user namespaces switched off).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import nbformat
import pytest

SIZE = 2 * 2**20

# Runs inside the namespace, with the tmpfs at argv[1]; prints one JSON object: case -> what came of it.
CASES = textwrap.dedent(r'''
    import json, os, sys, errno
    from pathlib import Path
    import torch
    from torch import nn
    import d2lnets as d2l
    from d2lnets.core.paths import DiskFullError
    from d2lnets.train.checkpoint import read_checkpoint

    disk = Path(sys.argv[1])
    results = {}

    def fill(leave):
        """Fill the disk but ``leave`` bytes."""
        filler = disk / "filler"
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            while os.write(fd, b"\0" * 4096):
                pass
        except OSError as e:
            assert e.errno == errno.ENOSPC
        finally:
            os.close(fd)
        size = filler.stat().st_size
        os.truncate(filler, max(0, size - leave))

    def empty():
        for p in disk.iterdir():
            p.unlink()

    def outcome(folder, call, check_previous):
        try:
            call()
            error = None
        except DiskFullError as e:
            error = {"message": str(e), "filename": e.filename, "needed": e.needed, "errno": e.errno}
        except BaseException as e:
            error = {"other": f"{type(e).__name__}: {e}"}
        left = sorted(p.name for p in folder.iterdir() if p.name != "filler")
        return {"error": error, "files": left, "previous_whole": check_previous()}

    def net(width):
        torch.manual_seed(0)
        return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, width), nn.ReLU(), nn.Linear(width, 10))

    # --- a saved model: the earlier save of the same recipe stays
    os.environ["D2LNETS_RUNS"] = str(disk)
    small = net(8)
    path = d2l.save_model(small, "01_x", profile="cpu")
    fill(20_000)
    results["model"] = outcome(disk, lambda: d2l.save_model(net(256), "01_x", profile="cpu"),
                               lambda: d2l.load_model(net(8), "01_x", profile="cpu")["recipe"] == "01_x")
    empty()

    # --- a checkpoint: the one of the epoch before stays, and says so
    g = torch.Generator().manual_seed(0)
    data = [(torch.rand(16, 1, 28, 28, generator=g), torch.randint(0, 10, (16,), generator=g)) for _ in range(2)]
    ckpt = disk / "run.pt"

    class FillsTheDisk(d2l.Hook):  # once epoch 1's checkpoint is written
        def on_epoch_start(self, run):
            if run.epoch == 1:
                fill(20_000)

    results["checkpoint"] = outcome(
        disk, lambda: d2l.train_ch5(net(32), data, data, 2, lr=0.1, device="cpu", checkpoint=str(ckpt),
                                    verbose=False, hooks=[FillsTheDisk()]),
        lambda: read_checkpoint(ckpt)["meta"]["epoch"] == 1)
    empty()

    # --- a record (JSON lines, appended): the earlier lines stay whole, the new one is not half there
    log = disk / "runs.jsonl"
    os.environ["D2LNETS_RUN_LOG"] = str(log)
    from d2lnets.train import records
    records.write(records.make_record("run", epochs=1))
    before = log.read_bytes()
    fill(0)
    results["record"] = outcome(disk, lambda: records.write(records.make_record("run", epochs=2, settings="x" * 9000)),
                                lambda: log.read_bytes() == before)
    empty()

    # --- an executed notebook (the kernel stood in for): the notebook stays as it was
    import nbformat, nbclient
    from d2lnets.tools import notebooks
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(1)")]
    nb_path = disk / "01_x.ipynb"
    nbformat.write(nb, nb_path)
    before = nb_path.read_bytes()

    class Kernel:
        def __init__(self, nb, **kwargs):
            self.nb = nb
        def execute(self):
            self.nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="x" * 100_000)]

    nbclient.NotebookClient = Kernel
    fill(20_000)
    results["notebook"] = outcome(disk, lambda: notebooks.run_notebook(nb_path, "smoke"),
                                  lambda: nb_path.read_bytes() == before)
    empty()

    # --- RESULTS.md
    md = disk / "RESULTS.md"
    md.write_text("# Results\n\nthe last version\n")
    fill(0)
    row = {"chapter": "01_x" * 1000, "model": "m", "input_size": 28, "epochs": 1, "test_acc": 0.5, "train_seconds": 1,
           "examples_per_sec": 1, "settings": "s", "device": "cpu"}
    results["RESULTS.md"] = outcome(disk, lambda: notebooks.write_results([row] * 10, {}, "cpu", md),
                                    lambda: md.read_text() == "# Results\n\nthe last version\n")
    empty()

    # --- learner copies: none half-written
    from d2lnets.tools import exercises
    src = Path(sys.argv[2])
    dest = disk / "exercises"
    fill(30_000)
    results["exercises"] = outcome(dest.parent, lambda: exercises.sync(src, dest),
                                   lambda: all(nbformat.read(p, as_version=4) for p in dest.glob("*.ipynb")))
    results["exercises"]["copies"] = sorted(p.name for p in dest.iterdir()) if dest.exists() else []
    print(json.dumps(results))
''')


def _unshare_works() -> str | None:
    if sys.platform != "linux" or shutil.which("unshare") is None:
        return "needs Linux's unshare to mount a small tmpfs in a private mount namespace"
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare -rm cannot make a mount namespace here ({probe.stderr.strip() or probe.returncode})"
    return None


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    why = _unshare_works()
    if why:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("disk-full")
    disk, script, chapters = tmp / "disk", tmp / "cases.py", tmp / "chapters"
    disk.mkdir()
    script.write_text(CASES)
    chapters.mkdir()
    for n in range(1, 5):  # four chapters of about 20 kB: the disk takes one copy, not two
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(f"chapter {n} " + "words " * 3000)]
        nbformat.write(nb, chapters / f"0{n}_x.ipynb")
    command = f"mount -t tmpfs -o size={SIZE} tmpfs {disk} && exec {sys.executable} {script} {disk} {chapters}"
    done = subprocess.run(["unshare", "-rm", "sh", "-c", command], capture_output=True, text=True, timeout=300,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp), "PYTHONWARNINGS": "ignore",
                               "D2LNETS_PROFILE": "smoke"})
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


WRITERS = ["model", "checkpoint", "record", "notebook", "RESULTS.md", "exercises"]


@pytest.mark.parametrize("writer", WRITERS)
def test_a_full_disk_says_so_and_keeps_the_previous_file(outcomes, writer):
    got = outcomes[writer]
    error = got["error"]
    assert error is not None and "other" not in error, f"{writer}: expected DiskFullError, got {error}"
    assert error["message"].startswith("the disk is full: ") and error["errno"] == 28
    assert error["filename"] in error["message"] and "what was there before is kept as it was" in error["message"]
    assert "free there" in error["message"]
    if writer in ("model", "checkpoint", "notebook", "RESULTS.md"):
        assert error["needed"] and "it needs about " in error["message"]
    assert got["previous_whole"], f"{writer}: the previous file was damaged"
    assert not [name for name in got["files"] if name.endswith(".tmp") or name.startswith(".")], got["files"]


def test_learner_copies_are_written_whole_or_not_at_all(outcomes):
    assert outcomes["exercises"]["copies"] == ["01_x.ipynb"]
