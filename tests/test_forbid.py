"""The guard against delegation (d2lnets.checks._forbid): what it forbids resolves, it sees a forbidden
call however it is reached, it leaves everything as it was after a check (even a failing one), and
outside a check it does nothing."""
import importlib
import importlib.util
import inspect

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import d2lnets as d2l
from d2lnets import checks
from d2lnets.checks._forbid import Delegation, _lookup, forbids
from d2lnets.checks._util import call

CHECKS = [getattr(checks, name) for name in checks.__all__ if name.startswith("check_")]


def test_every_check_has_a_rule_and_everything_it_names_exists():
    """A dotted name that no longer resolves (a module moved, a class renamed) would guard nothing."""
    for module in ("d2l.torch", "torchvision.transforms.v2", "sklearn.decomposition"):   # as a learner may
        pytest.importorskip(module)
    assert len(CHECKS) == 17
    for check in CHECKS:
        assert check.rule.instead, check.__name__
        for entry in check.rule.entries:
            entry = entry[0] if isinstance(entry, tuple) else entry
            if isinstance(entry, str) and importlib.util.find_spec(entry.split(".")[0]) is not None:
                assert _lookup(entry) is not None, (check.__name__, entry)   # else: for the source scan only


@forbids(d2l.receptive_field, "torch.nn.functional.dropout", "torch.nn.BatchNorm2d", "torch.utils.flop_counter",
         instead="do it yourself")
def check(fn, *args):
    return call(fn, "answer", *args)


def _state():
    """What the guard changes while a learner's code runs."""
    from torch.utils.flop_counter import FlopCounterMode

    return (d2l.receptive_field.__code__, FlopCounterMode.__dict__.get("__init__"),
            dict(torch.nn.modules.module._global_forward_pre_hooks), torch._C._len_torch_function_stack())


def test_after_a_check_everything_is_as_it_was_even_when_it_failed():
    before = _state()
    with pytest.raises(Delegation):
        check(lambda layers: d2l.receptive_field(layers), [(3, 1)])
    with pytest.raises(Delegation):
        check(lambda X: nn.BatchNorm2d(2)(X), torch.ones(2, 2, 2, 2))
    with pytest.raises(ZeroDivisionError):
        check(lambda: 1 / 0)
    assert _state() == before
    assert d2l.receptive_field([(3, 1), (3, 1)]) == 5 and F.dropout(torch.ones(3), 0.0).sum() == 3
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        nn.Linear(4, 2)(torch.ones(1, 4))
    assert counter.get_total_flops() == 16


def test_outside_a_check_nothing_is_forbidden():
    assert call(lambda layers: d2l.receptive_field(layers), "answer", [(3, 1)]) == 3
    assert call(lambda X: nn.BatchNorm2d(2)(X), "answer", torch.ones(2, 2, 2, 2)).shape == (2, 2, 2, 2)


_alias = d2l.receptive_field


def _helper(layers):
    return _alias(layers)


class _Holder:
    method = staticmethod(_helper)


@pytest.mark.parametrize("answer, says", [
    (lambda layers: _helper(layers), r"calls d2lnets[.\w]*\.shapes\.receptive_field"),          # an alias in a helper
    (lambda layers: _Holder.method(layers), r"calls d2lnets[.\w]*\.shapes\.receptive_field"),   # through a class
    (lambda layers: getattr(d2l, "receptive" + "_field")(layers), r"calls d2lnets[.\w]*\.shapes\.receptive_field"),
    (lambda X: getattr(F, "drop" + "out")(X, 0.5), "calls torch.nn.functional.dropout"),
    (lambda X: torch.ops.aten.dropout(X, 0.5, True), None),                              # not in this rule
    (lambda X: type("Mine", (nn.BatchNorm2d,), {})(1)(X), "runs a torch.nn.BatchNorm2d|calls torch.nn.BatchNorm2d"),
])
def test_a_forbidden_call_is_seen_however_it_is_reached(answer, says):
    arg = [(3, 1)] if "layers" in inspect.signature(answer).parameters else torch.ones(1, 1, 2, 2)
    if says is None:
        check(answer, arg)
        return
    with pytest.raises(Delegation, match=f"your answer ({says})[^,]*, which is the thing this exercise asks you "
                                         "to write; do it yourself"):
        check(answer, arg)


def test_the_source_scan_sees_a_call_on_a_path_the_check_does_not_take():
    def receptive_field(layers):
        if len(layers) > 100:   # never true in the check
            return d2l.receptive_field(layers)
        return 3

    with pytest.raises(Delegation, match=r"calls d2lnets[.\w]*\.shapes\.receptive_field"):
        check(receptive_field, [(3, 1)])


def test_the_source_scan_sees_an_import_of_a_package_not_imported_yet():
    def layer_cost(layer, input_shape):
        if input_shape is None:
            import torchinfo  # not installed here: only the scan can see it
            return torchinfo.summary(layer)
        return 0, 0

    with pytest.raises(Delegation, match="imports torchinfo"):
        checks.check_layer_cost(layer_cost)


def test_a_module_built_before_the_check_is_found():
    """The layer is built outside the answer and handed in: the search of what it returns finds it."""
    norm = nn.BatchNorm2d(4)

    class BatchNorm2d(nn.Module):
        def __init__(self, num_features, eps=1e-5, momentum=0.1):
            super().__init__()
            self.inner = norm

    with pytest.raises(Delegation, match="your BatchNorm2d is or holds a torch.nn.BatchNorm2d"):
        checks.check_batch_norm(BatchNorm2d)
