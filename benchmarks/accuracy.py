"""Accuracy: the fast default settings reach the same test accuracy as fp32. Two chapters' ``cpu``
recipes (model, size, optimizer, peak learning rate, momentum, schedule, seed), shortened so that
the pair trains in about two minutes: fewer epochs or examples, and batches of 256."""
from __future__ import annotations

import dataclasses

import torch

import d2lnets as d2l

# (chapter, what the bench changes in its cpu recipe)
RUNS = [
    ("01_lenet", dict(num_epochs=3, num_train=60_000, num_test=10_000, batch_size=256)),
    ("02_alexnet", dict(num_epochs=1, num_train=20_000, num_test=10_000, batch_size=256)),
]


def recipes(quick: bool) -> list[d2l.Recipe]:
    runs = [dataclasses.replace(d2l.recipe(chapter, profile="cpu"), **changes) for chapter, changes in RUNS]
    return runs[:1] if quick else runs


def train(R: d2l.Recipe, device: torch.device, precision: str, train_iter, test_iter) -> d2l.History:
    d2l.set_seed(R.seed)
    net = R.make_net()
    opt = torch.optim.SGD(net.parameters(), lr=R.lr, momentum=R.momentum, weight_decay=R.weight_decay)
    return d2l.train_ch5(net, train_iter, test_iter, R.num_epochs, optimizer=opt, scheduler=R.schedule,
                         device=device, precision=precision, verbose=False, plot=False)


def bench_accuracy(device: torch.device, quick: bool) -> list[dict]:
    rows = []
    for R in recipes(quick):
        train_iter, test_iter = d2l.load_data_fashion_mnist(R.batch_size, resize=R.image_size,
                                                            num_train=R.num_train, num_test=R.num_test)
        result = {"model": R.title, "size": R.image_size, "epochs": R.num_epochs, "num_train": R.num_train,
                  "num_test": R.num_test}
        for precision in ("auto", "fp32"):
            h = train(R, device, precision, train_iter, test_iter)
            result[precision] = {"test_acc": h.final["test_acc"], "examples_per_sec": h.mean_examples_per_sec,
                                 "settings": h.settings}
        rows.append(result)
        print(f"  {R.title:16} default ({result['auto']['settings']}): test acc {result['auto']['test_acc']:.3f}  "
              f"fp32: {result['fp32']['test_acc']:.3f}", flush=True)
    return rows
