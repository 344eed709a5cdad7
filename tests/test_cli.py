"""python -m d2lnets.train: the command line for the chapters' recipes."""
import json
import os
import subprocess
import sys

import pytest

from d2lnets.tools.train_cli import train_main as main

TINY = ["--profile", "smoke", "--epochs", "1", "--num-train", "256", "--num-test", "128", "--precision", "fp32"]


def test_help_lists_the_recipes_and_models(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "01_lenet" in out and "05_densenet" in out and "resnet18" in out and "--checkpoint" in out


def test_trains_a_recipe_in_a_subprocess_and_records_it(tmp_path):
    log, ckpt = tmp_path / "runs.jsonl", tmp_path / "lenet.pt"
    env = dict(os.environ, D2LNETS_RUNS=str(tmp_path), OMP_NUM_THREADS="1")
    p = subprocess.run([sys.executable, "-m", "d2lnets.train", "01_lenet", *TINY, "--run-log", str(log),
                        "--checkpoint", str(ckpt)], capture_output=True, text=True, env=env, timeout=120,
                       cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "epoch 1/1: loss" in p.stdout and "training 01_lenet (lenet, modern)" in p.stdout
    assert "Warning" not in p.stderr, p.stderr
    (record,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert record["kind"] == "run" and record["epochs"] == 1 and record["profile"] == "smoke"
    assert ckpt.is_file()


def test_refuses_to_replace_a_checkpoint_and_names_the_options(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("D2LNETS_RUN_LOG", str(tmp_path / "runs.jsonl"))
    monkeypatch.setenv("D2LNETS_PROFILE", "smoke")
    ckpt = tmp_path / "x.pt"
    ckpt.write_bytes(b"PK\x03\x04 a learner's checkpoint")  # (a zip archive, as torch.save writes)
    assert main(["01_lenet", *TINY, "--checkpoint", str(ckpt)]) == 2
    err = capsys.readouterr().err
    assert "already holds a checkpoint" in err and "--resume" in err and "--overwrite" in err
    assert ckpt.read_bytes() == b"PK\x03\x04 a learner's checkpoint"


def test_asks_for_a_recipe_or_a_model(capsys):
    with pytest.raises(SystemExit) as e:
        main([])
    assert e.value.code == 2 and "give a recipe" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--model", "nonet"])
    assert "no model 'nonet'" in capsys.readouterr().err
