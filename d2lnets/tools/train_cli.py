"""``d2lnets train``: train a chapter's recipe, or a model, with ``train_ch5`` from the command line.

    d2lnets train 02_alexnet --epochs 3 --checkpoint runs/alexnet.pt
    d2lnets train 02_alexnet --epochs 3 --checkpoint runs/alexnet.pt --resume
    d2lnets train --model resnet18 --dataset fashion-mnist --image-size 32 --epochs 2
    torchrun --nproc-per-node=2 -m d2lnets.train 01_lenet       (several processes)

A recipe trains as its chapter does (:func:`d2lnets.recipe` in the profile: the network, the
image size, the batch size, the subset of the data, SGD with its learning rate, momentum and
weight decay, its schedule); an option given overrides the recipe's value. The per-epoch lines are
printed, and the run's record (:mod:`d2lnets.train.records`) is appended to ``--run-log`` (default
``$D2LNETS_RUN_LOG``, else ``runs.jsonl`` in :func:`d2lnets.runs_dir`). Ctrl-C stops it with one line:
where training was, and the checkpoint kept (with the command that goes on from it).
"""
from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

from .interrupt import Interrupted, one_line

DATASETS = ("fashion-mnist",)
# --model without a recipe: what the chapters train with, at a size every course model takes
MODEL_DEFAULTS = dict(image_size=32, batch_size=128, num_epochs=10, lr=0.05, momentum=0.9, weight_decay=0.0,
                      schedule="onecycle", optimizer="sgd", seed=0)


def _parser() -> argparse.ArgumentParser:
    from .. import models
    from ..course.recipes import list_recipes

    epilog = (f"recipes: {', '.join(list_recipes())}\nmodels: {', '.join(models.list_models())}\n"
              "An option given overrides the recipe's value. Under torchrun every process trains a share "
              "of each batch (see the README).")
    p = argparse.ArgumentParser(prog="d2lnets train", epilog=epilog,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Train a chapter's recipe (or --model NAME) on Fashion-MNIST with "
                                            "train_ch5.")
    p.add_argument("recipe", nargs="?", help="a chapter's recipe, e.g. 01_lenet (or leave it out and give --model)")
    p.add_argument("--model", help="a model of d2l.models instead of a recipe, e.g. resnet18")
    p.add_argument("--variant", help="the model's variant, e.g. d2l, modern, small")
    p.add_argument("--dataset", default="fashion-mnist", choices=DATASETS)
    p.add_argument("--profile", choices=("smoke", "cpu", "full"), help="the run profile (default: $D2LNETS_PROFILE, "
                   "else full with a GPU, else cpu)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--momentum", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--schedule", choices=("onecycle", "none"))
    p.add_argument("--image-size", type=int)
    p.add_argument("--num-train", type=int, help="train on a subset of this many examples")
    p.add_argument("--num-test", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--device", help="cpu, cuda, cuda:1, mps (default: the fastest there is)")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16", "exact"),
                   help="default: on CUDA the recipe's (measured per network), else auto")
    p.add_argument("--checkpoint", help="write a checkpoint to this file after every epoch")
    p.add_argument("--checkpoint-every", type=int, help="and every N optimizer steps")
    p.add_argument("--resume", action="store_true", help="go on from --checkpoint")
    p.add_argument("--overwrite", action="store_true", help="start anew, replacing the file --checkpoint names")
    p.add_argument("--save", action="store_true", help="save the trained model as the recipe's (d2l.save_model)")
    p.add_argument("--sync-batchnorm", action="store_true", help="under torchrun on GPUs: batch norm over the "
                   "global batch (SyncBatchNorm)")
    p.add_argument("--run-log", help="append the run's record here (default: $D2LNETS_RUN_LOG, else runs.jsonl in "
                   "the runs folder)")
    return p


def _settings(args, parser) -> dict:
    """What to train: the recipe's values (or the model's defaults), with the options given."""
    from ..course.recipes import recipe

    if (args.recipe is None) == (args.model is None):
        parser.error("give a recipe (e.g. 01_lenet) or --model NAME, one of the two")
    if args.recipe is not None:
        try:
            r = recipe(args.recipe)
        except ValueError as e:
            parser.error(str(e))
        values = dict(name=r.name, model=r.model, variant=r.variant, model_args=dict(r.model_args),
                      image_size=r.image_size, batch_size=r.batch_size, num_epochs=r.num_epochs, lr=r.lr,
                      momentum=r.momentum, weight_decay=r.weight_decay, schedule=r.schedule,
                      optimizer=r.optimizer, seed=r.seed, num_train=r.num_train, num_test=r.num_test,
                      precision=r.precision)
        if r.model is None:
            parser.error(f"recipe {r.name!r} trains a network its chapter builds; give --model NAME")
    else:
        from .. import models
        from ..core.config import profile

        if args.model not in models.list_models():
            parser.error(f"no model {args.model!r}; the models are {', '.join(models.list_models())}")
        prof = profile()
        values = dict(MODEL_DEFAULTS, name=args.model, model=args.model, variant=None, model_args={},
                      num_train=prof.num_train, num_test=prof.num_test, precision="auto")
        if args.model == "lenet":
            values["image_size"] = 28
    given = dict(variant=args.variant, num_epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                 momentum=args.momentum, weight_decay=args.weight_decay, image_size=args.image_size,
                 num_train=args.num_train, num_test=args.num_test, seed=args.seed,
                 schedule=None if args.schedule is None else {"none": None}.get(args.schedule, args.schedule))
    values.update({k: v for k, v in given.items() if v is not None or (k == "schedule" and args.schedule)})
    return values


def _interrupted(where, args, argv: list[str], started: float) -> Interrupted:
    """What Ctrl-C stopped (``where``: the :class:`Where` hook) and what was kept, in one line."""
    if where.epoch is None:
        place = "before training started"
    else:
        of = f" of {where.num_batches}" if where.num_batches else ""
        place = f"in epoch {where.epoch + 1} of {where.num_epochs} (after batch {where.batch}{of})"
    path = args.checkpoint and Path(args.checkpoint)
    if path and path.is_file():
        written = path.stat().st_mtime
        when = datetime.datetime.fromtimestamp(written).strftime("%H:%M:%S")
        given = argv if argv is not None else sys.argv[1:]
        again = " ".join(a for a in given if a not in ("--resume", "--overwrite"))
        kept = (f"the checkpoint {path} (written at {when}{'' if written >= started else ', before this run'}) is "
                f"kept: go on with d2lnets train {again} --resume")
    elif path:
        kept = f"no checkpoint was written yet ({path} is written at the end of each epoch)"
    else:
        kept = "nothing was saved (with --checkpoint PATH a run can go on later)"
    return Interrupted(f"interrupted {place}; {kept}. No run record was written")


def _where():
    from ..train.hooks import Hook

    class Where(Hook):
        """Where the run is, for the line that Ctrl-C prints."""

        epoch = batch = num_epochs = num_batches = None

        def on_epoch_start(self, run) -> None:
            self.epoch, self.batch, self.num_epochs, self.num_batches = run.epoch, run.batch, run.num_epochs, \
                run.num_batches

        def on_step_end(self, run) -> None:
            self.batch = run.batch

    return Where()


@one_line("d2lnets train")
def train_main(argv: list[str] | None = None) -> int:
    started = time.time()
    parser = _parser()
    args = parser.parse_args(argv)
    if args.profile:
        os.environ["D2LNETS_PROFILE"] = args.profile
    if args.resume and not args.checkpoint:
        parser.error("--resume goes on from --checkpoint PATH: give the checkpoint's path")
    v = _settings(args, parser)
    from ..train.history import TrainingDivergedError

    where = _where()
    try:
        return _train(args, parser, v, where)
    except KeyboardInterrupt:
        raise _interrupted(where, args, argv, started) from None
    except (ValueError, TypeError, OSError, TrainingDivergedError) as e:  # refused, a full disk, a divergence
        print(f"error: {e}", file=sys.stderr)
        return 2


def _train(args, parser, v: dict, where) -> int:
    from .. import models
    from ..core import config
    from ..course.recipes import build_optimizer
    from ..data.fashion_mnist import load_data_fashion_mnist
    from ..train.loop import train_ch5
    from ..train.saving import runs_dir, save_model

    if args.run_log or not config.run_log_path():
        log = args.run_log or str(runs_dir() / "runs.jsonl")
        os.makedirs(os.path.dirname(os.path.abspath(log)), exist_ok=True)
        os.environ["D2LNETS_RUN_LOG"] = log
    if v["seed"] is not None:
        config.set_seed(v["seed"])
    kwargs = dict(v["model_args"])
    if v["variant"] is not None:
        kwargs["variant"] = v["variant"]
    net = models.get_model(v["model"], num_classes=10, in_channels=1, **kwargs)
    train_iter, test_iter = load_data_fashion_mnist(v["batch_size"], resize=v["image_size"],
                                                    num_train=v["num_train"], num_test=v["num_test"])
    device = config.as_device(args.device)
    optimizer = build_optimizer(v["optimizer"], net.parameters(), v["lr"], v["momentum"], v["weight_decay"], device)
    precision = v["precision"] if args.precision == "auto" and device.type == "cuda" else args.precision
    say = print if int(os.environ.get("RANK", "0")) == 0 else (lambda *a, **k: None)  # torchrun: rank 0 speaks
    world = int(os.environ.get("WORLD_SIZE", "1"))
    per = f" per process x {world} processes = {v['batch_size'] * world}" if world > 1 else ""
    say(f"training {v['name']} ({v['model']}{', ' + v['variant'] if v['variant'] else ''}) on Fashion-MNIST at "
        f"{v['image_size']} px: {v['num_epochs']} epochs, batch size {v['batch_size']}{per}, lr {v['lr']:g}"
          f"{', ' + v['schedule'] if v['schedule'] else ''}, profile {config.profile().name}", flush=True)
    history = train_ch5(net, train_iter, test_iter, v["num_epochs"], optimizer=optimizer,
                        scheduler=v["schedule"], device=device, precision=precision, plot=False,
                        checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every,
                        resume=args.resume, overwrite=args.overwrite,
                        sync_batchnorm=args.sync_batchnorm, hooks=[where])
    say(f"run record appended to {os.environ['D2LNETS_RUN_LOG']}")
    if args.save:
        if args.recipe is None:
            parser.error("--save saves a recipe's model; give a recipe")
        if int(os.environ.get("RANK", "0")) == 0:
            print(f"model saved to {save_model(net, args.recipe, accuracy=history.test_acc[-1])}")
    return 0
