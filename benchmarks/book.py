"""The book's training loop and data pipeline, written out from d2l 1.0.3 (``d2l/torch.py``:
``train_ch6``, ``evaluate_accuracy_gpu``, ``accuracy``, ``load_data_fashion_mnist``), for the GPU
bench: a lent GPU machine has neither ``d2l`` nor what importing it needs (pandas, scipy, IPython,
requests). Line for line the book's code, without its plot and its prints, and with ``Timer`` and
``Accumulator`` from ``d2lnets`` (the book's own two classes); ``tests/test_bench.py`` proves that
``train_ch6`` here computes exactly the weights the book's computes. The CPU bench calls the book's
package itself (``timing.book_train_ch6``).
"""
from __future__ import annotations

import torch
import torchvision
from torch import nn
from torchvision import transforms

from d2lnets import Accumulator, Timer


def accuracy(y_hat, y):
    """Compute the number of correct predictions."""
    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(axis=1)
    cmp = y_hat.type(y.dtype) == y
    return float(cmp.type(y.dtype).sum())


def evaluate_accuracy_gpu(net, data_iter, device=None):
    """Compute the accuracy for a model on a dataset using a GPU."""
    if isinstance(net, nn.Module):
        net.eval()  # Set the model to evaluation mode
        if not device:
            device = next(iter(net.parameters())).device
    metric = Accumulator(2)  # No. of correct predictions, no. of predictions
    with torch.no_grad():
        for X, y in data_iter:
            X = X.to(device)
            y = y.to(device)
            metric.add(accuracy(net(X), y), y.numel())
    return metric[0] / metric[1]


def train_ch6(net, train_iter, test_iter, num_epochs, lr, device):
    """Train a model with a GPU (the book's chapter 6), without its live plot and its prints; returns
    the last epoch's training loss and accuracy and its test accuracy."""
    def init_weights(m):
        if type(m) == nn.Linear or type(m) == nn.Conv2d:  # noqa: E721 (the book's test)
            nn.init.xavier_uniform_(m.weight)
    net.apply(init_weights)
    net.to(device)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    loss = nn.CrossEntropyLoss()
    timer = Timer()
    for _ in range(num_epochs):
        metric = Accumulator(3)  # Sum of training loss, sum of training accuracy, no. of examples
        net.train()
        for X, y in train_iter:
            timer.start()
            optimizer.zero_grad()
            X, y = X.to(device), y.to(device)
            y_hat = net(X)
            l = loss(y_hat, y)
            l.backward()
            optimizer.step()
            with torch.no_grad():
                metric.add(l * X.shape[0], accuracy(y_hat, y), X.shape[0])
            timer.stop()
            train_l, train_acc = metric[0] / metric[2], metric[1] / metric[2]  # (what the book plots)
        test_acc = evaluate_accuracy_gpu(net, test_iter)
    return train_l, train_acc, test_acc


def load_data_fashion_mnist(batch_size, resize=None):
    """Load Fashion-MNIST (from ``../data``, as the book does) into 4-worker DataLoaders."""
    trans = [transforms.ToTensor()]
    if resize:
        trans.insert(0, transforms.Resize(resize))
    trans = transforms.Compose(trans)
    mnist_train = torchvision.datasets.FashionMNIST(root="../data", train=True, transform=trans, download=True)
    mnist_test = torchvision.datasets.FashionMNIST(root="../data", train=False, transform=trans, download=True)
    return (torch.utils.data.DataLoader(mnist_train, batch_size, shuffle=True, num_workers=4),
            torch.utils.data.DataLoader(mnist_test, batch_size, shuffle=False, num_workers=4))
