"""Chapter 4's batch-normalisation check accepts a layer written from the formula and rejects delegation,
the stub and each catalogued mistake with its own message and hint; its reference is nn.BatchNorm2d."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from d2lnets.checks.batchnorm import _simulate, _steps, check_batch_norm
from d2lnets.checks.hints import named

pytestmark = pytest.mark.usefixtures("one_thread")


def make_bn(dims=(0, 2, 3), running_unbiased=True, momentum_swapped=False, running_in_training=False,
            batch_in_eval=False, eps_outside=False, affine=True, update=True, update_in_eval=False,
            unbiased_norm=False, detach_stats=False, keep_graph=False, view=(-1,), plain_buffers=False,
            plain_gamma=False, defaults=(1e-5, 0.1)):
    """A batch-norm layer from the formula, with switches for the catalogued mistakes."""

    class BatchNorm2d(nn.Module):
        def __init__(self, num_features, eps=defaults[0], momentum=defaults[1]):
            super().__init__()
            self.eps, self.momentum = eps, momentum
            shape = (1, num_features, 1, 1) if view == (1, -1, 1, 1) else (num_features,)
            gamma, beta = torch.ones(shape), torch.zeros(shape)
            self.gamma = gamma if plain_gamma else nn.Parameter(gamma)
            self.beta = nn.Parameter(beta)
            if plain_buffers:
                self.running_mean, self.running_var = torch.zeros(shape), torch.ones(shape)
            else:
                self.register_buffer("running_mean", torch.zeros(shape))
                self.register_buffer("running_var", torch.ones(shape))

        def forward(self, X):
            mean, var = X.mean(dims, keepdim=True), X.var(dims, unbiased=unbiased_norm, keepdim=True)
            if detach_stats:
                mean, var = mean.detach(), var.detach()
            if (self.training and update) or update_in_eval:
                n = X.numel() // mean.numel()
                running_var = var * n / (n - 1) if running_unbiased and not unbiased_norm else var
                m = 1 - self.momentum if momentum_swapped else self.momentum
                fit = mean.numel() == self.running_mean.numel()   # statistics of another shape simply broadcast
                with torch.no_grad() if not keep_graph else torch.enable_grad():
                    self.running_mean = (1 - m) * self.running_mean + m * (
                        mean.reshape(self.running_mean.shape) if fit else mean)
                    self.running_var = (1 - m) * self.running_var + m * (
                        running_var.reshape(self.running_var.shape) if fit else running_var)
            if (not self.training and not batch_in_eval) or running_in_training:
                mean, var = self.running_mean.view(1, -1, 1, 1), self.running_var.view(1, -1, 1, 1)
            scale = var.sqrt() + self.eps if eps_outside else (var + self.eps).sqrt()
            X_hat = (X - mean) / scale
            if not affine:
                return X_hat
            return self.gamma.view(1, -1, 1, 1) * X_hat + self.beta.view(1, -1, 1, 1)

    return BatchNorm2d


def test_accepts_the_formula_in_either_shape():
    check_batch_norm(make_bn())
    check_batch_norm(make_bn(view=(1, -1, 1, 1)))   # d2l's layout: [1, C, 1, 1] parameters and statistics


def test_the_simulated_right_layer_is_torchs():
    """The check names mistakes by simulating them; without a mistake the simulation is nn.BatchNorm2d."""
    steps, gamma, beta = _steps(), torch.rand(4) + 0.5, torch.randn(4)
    ref = nn.BatchNorm2d(4, eps=0.05, momentum=0.3)
    with torch.no_grad():
        ref.weight.copy_(gamma)
        ref.bias.copy_(beta)
    for (training, X), (Y, rm, rv) in zip(steps, _simulate(steps, gamma, beta, 0.05, 0.3)):
        ref.train(training)
        torch.testing.assert_close(Y, ref(X).detach())
        torch.testing.assert_close((rm, rv), (ref.running_mean, ref.running_var))


class Stub(nn.Module):
    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        raise NotImplementedError


class StubForward(make_bn()):
    def forward(self, X):
        raise NotImplementedError


@pytest.mark.parametrize("wrong, message, hint", [
    (Stub, "BatchNorm2d is not written yet", None),
    (StubForward, "BatchNorm2d.forward is not written yet", None),
    (make_bn(running_unbiased=False), "running variance uses the biased variance", 2),
    (make_bn(momentum_swapped=True), "momentum is the weight of the NEW batch", 2),
    (make_bn(running_in_training=True), "in training mode you normalise with the running statistics", 1),
    (make_bn(batch_in_eval=True), "in evaluation mode you normalise with the batch's statistics", 3),
    (make_bn(dims=(0,), view=(1, -1, 1, 1)), "your statistics are per pixel", 1),
    (make_bn(dims=(1,), view=(1, -1, 1, 1)), "your statistics run over the channels", 1),
    (make_bn(dims=(1, 2, 3)), "per example .*layer normalisation", 1),
    (make_bn(dims=(2, 3)), "per image and channel .*instance normalisation", 1),
    (make_bn(dims=(0,)), r"fails on a batch .* the statistics have one value per channel", 1),
    (make_bn(eps_outside=True), "eps is outside the square root", 1),
    (make_bn(affine=False), "scale it by gamma and shift it by beta", 1),
    (make_bn(update=False), "your running statistics never change", 2),
    (make_bn(update_in_eval=True), "your running statistics change in evaluation mode", 3),
    (make_bn(unbiased_norm=True), "you normalise with the unbiased variance", 1),
    (make_bn(keep_graph=True), "keeps a computation graph", 2),
    (make_bn(detach_stats=True), "the gradient of the input differs", 2),
    (make_bn(plain_buffers=True), "plain tensor attribute; register it as a buffer", 3),
    (make_bn(plain_gamma=True), "plain tensor attribute; register it as a parameter", 3),
    (make_bn(defaults=(1e-3, 0.1)), r"give eps and momentum torch's defaults", 2),
    (make_bn(defaults=(1e-5, 0.9)), r"give eps and momentum torch's defaults", 2),
    (lambda num_features, eps=1e-5, momentum=0.1: "not a layer", "subclass of nn.Module", None),
])
def test_rejects(wrong, message, hint):
    with pytest.raises(AssertionError, match=message) as failure:
        check_batch_norm(wrong)
    assert hint is None or str(failure.value).startswith("BatchNorm2d(4")
    assert hint is None or named(str(failure.value)) == ("04", "3", hint)


def test_rejects_a_layer_that_normalises_with_an_other_function():
    class Halves(make_bn()):
        def forward(self, X):
            return super().forward(X) / 2

    with pytest.raises(AssertionError, match="training step 1: your output differs from nn.BatchNorm2d's"):
        check_batch_norm(Halves)


class Inside(make_bn()):
    """Delegation inside the learner's own class: a torch layer kept as a part."""

    def __init__(self, num_features, eps=1e-5, momentum=0.1):
        super().__init__(num_features, eps, momentum)
        self.inner = nn.BatchNorm2d(num_features, eps, momentum)


def _functional(self, X):
    return F.batch_norm(X, self.running_mean, self.running_var, self.gamma, self.beta, self.training,
                        self.momentum, self.eps)


_alias = torch.batch_norm


def _by_alias(self, X):
    return _alias(X, self.gamma, self.beta, self.running_mean, self.running_var, self.training, self.momentum,
                  self.eps, False)


@pytest.mark.parametrize("delegating, call", [
    (lambda num_features, eps=1e-5, momentum=0.1: nn.BatchNorm2d(num_features, eps, momentum),
     "is or holds a torch.nn.BatchNorm2d"),
    (Inside, "calls torch.nn.BatchNorm2d"),
    (type("BatchNorm2d", (make_bn(),), {"forward": _functional}), "calls torch.nn.functional.batch_norm"),
    (type("BatchNorm2d", (make_bn(),), {"forward": _by_alias}), "calls torch.batch_norm"),
    (type("BatchNorm2d", (make_bn(),), {"forward": lambda self, X: F.layer_norm(X, X.shape[1:])}),
     "calls torch.nn.functional.layer_norm"),
])
def test_rejects_delegation(delegating, call):
    with pytest.raises(AssertionError, match=f"your BatchNorm2d[.a-z]* {call}, which is the thing this exercise"):
        check_batch_norm(delegating)


def test_the_steps_tell_the_mistakes_apart():
    """Every catalogued mistake gives another trajectory than the right layer and than every other mistake."""
    from d2lnets.checks.batchnorm import _MISTAKES

    steps, gamma, beta = _steps(), torch.rand(4) + 0.5, torch.randn(4)
    runs = {m: _simulate(steps, gamma, beta, 0.05, 0.3, m) for m in [None, *_MISTAKES]}
    for a in runs:
        for b in runs:
            if a is not None and b is not None and a < b:
                differ = any(not torch.allclose(x[0], y[0], atol=1e-4) for x, y in zip(runs[a], runs[b]))
                differ = differ or any(x[1] is not None and y[1] is not None and not torch.allclose(x[i], y[i])
                                       for x, y in zip(runs[a], runs[b]) for i in (1, 2))
                assert differ, (a, b)
