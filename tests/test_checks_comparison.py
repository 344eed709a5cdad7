"""Chapter 6's checks accept the reference answers and reject the stub and catalogued wrong answers."""
import pytest
import torch
from torch import nn

import d2lnets as d2l
from d2lnets.checks.comparison import check_cheapest_above, check_conv_macs


def _stub(*args, **kwargs):
    raise NotImplementedError


# --- the cheapest network above an accuracy ----------------------------------------------------

def _cheapest(table, min_accuracy):
    ok = [r for r in table if r["accuracy"] >= min_accuracy]
    return min(ok, key=lambda r: r["macs"])["name"] if ok else None


def _cheapest_sorted(table, min_accuracy):
    for r in sorted(table, key=lambda r: r["macs"]):
        if r["accuracy"] >= min_accuracy:
            return r["name"]
    return None


@pytest.mark.parametrize("solution", [_cheapest, _cheapest_sorted])
def test_cheapest_above_check_accepts(solution):
    check_cheapest_above(solution)


def _by(key, at_least=True):
    def pick(table, min_accuracy):
        ok = [r for r in table if (r["accuracy"] >= min_accuracy if at_least else r["accuracy"] > min_accuracy)]
        return min(ok, key=lambda r: r[key])["name"] if ok else None
    return pick


def _most_accurate(table, min_accuracy):
    ok = [r for r in table if r["accuracy"] >= min_accuracy]
    return max(ok, key=lambda r: r["accuracy"])["name"] if ok else None


def _inverted(table, min_accuracy):
    ok = [r for r in table if r["accuracy"] < min_accuracy]
    return min(ok, key=lambda r: r["macs"])["name"] if ok else None


def _sorts_in_place(table, min_accuracy):
    table.sort(key=lambda r: r["macs"])
    return _cheapest(table, min_accuracy)


def _no_none(table, min_accuracy):
    ok = [r for r in table if r["accuracy"] >= min_accuracy] or table
    return min(ok, key=lambda r: r["macs"])["name"]


def _whole_row(table, min_accuracy):
    ok = [r for r in table if r["accuracy"] >= min_accuracy]
    return min(ok, key=lambda r: r["macs"]) if ok else None


def _cost(table, min_accuracy):
    ok = [r for r in table if r["accuracy"] >= min_accuracy]
    return min(r["macs"] for r in ok) if ok else None


def _hard_coded(table, min_accuracy):
    return "C"


@pytest.mark.parametrize("wrong, message", [
    (_stub, "not written yet"),
    (_by("params"), "you compare parameters"),
    (_by("macs", at_least=False), "use >=, not >"),
    (_most_accurate, "most accurate"),
    (lambda table, min_accuracy: min(table, key=lambda r: r["macs"])["name"], "cheapest network of all"),
    (_inverted, "wrong way round"),
    (_sorts_in_place, "changed the table"),
    (_no_none, "return None when no network"),
    (_whole_row, "returned a whole row"),
    (_cost, "a string, or None"),
    (_hard_coded, "must return None when no network"),
    (lambda table, min_accuracy: "A" if min_accuracy < 0.95 else None, "wrong network for some tables"),
    (lambda table: None, "raised TypeError"),
    ("cheapest_above", "without quotes"),
])
def test_cheapest_above_check_rejects(wrong, message):
    with pytest.raises(AssertionError, match=message):
        check_cheapest_above(wrong)


# --- a convolution's multiply-adds -------------------------------------------------------------

def _out(n, k, s, p):
    return (n + 2 * p - k) // s + 1


def _macs(in_channels, out_channels, kernel_size, stride, padding, input_size, groups=1):
    positions = _out(input_size, kernel_size, stride, padding) ** 2
    return positions * out_channels * (in_channels // groups) * kernel_size ** 2


def _from_summary(in_channels, out_channels, kernel_size, stride, padding, input_size, groups=1):
    net = nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups))
    return d2l.summary(net, (in_channels, input_size, input_size)).total_macs


def _from_torch(in_channels, out_channels, kernel_size, stride, padding, input_size, groups=1):
    """torch's own count: FlopCounterMode's FLOPs are twice the multiply-adds."""
    from torch.utils.flop_counter import FlopCounterMode

    conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False)
    with FlopCounterMode(display=False) as counter:
        conv(torch.zeros(1, in_channels, input_size, input_size))
    return counter.get_total_flops() // 2


@pytest.mark.parametrize("solution", [_macs, _from_summary, _from_torch,
                                      lambda *a, **k: float(_macs(*a, **k))])
def test_conv_macs_check_accepts(solution):
    torch.set_num_threads(1)
    check_conv_macs(solution)


def _wrong(fn):
    def conv_macs(in_channels, out_channels, kernel_size, stride, padding, input_size, groups=1):
        return fn(in_channels, out_channels, kernel_size, stride, padding, input_size, groups)
    return conv_macs


@pytest.mark.parametrize("wrong, message", [
    (_stub, "not written yet"),
    (_wrong(lambda c, o, k, s, p, n, g: 2 * _macs(c, o, k, s, p, n, g)), "counts FLOPs"),
    (_wrong(lambda c, o, k, s, p, n, g: _macs(c, o, k, s, p, n)), "groups=1 only"),
    (_wrong(lambda c, o, k, s, p, n, g: _macs(c, o, k, s, p, n, g) + o * _out(n, k, s, p) ** 2), "add the biases"),
    (_wrong(lambda c, o, k, s, p, n, g: o * n * n * (c // g) * k * k), "input's height and width"),
    (_wrong(lambda c, o, k, s, p, n, g: _macs(c, o, k, s, 0, n, g)), "leaves out the padding"),
    (_wrong(lambda c, o, k, s, p, n, g: _macs(c, o, k, 1, p, n, g)), "leaves out the stride"),
    (_wrong(lambda c, o, k, s, p, n, g: _out(n, k, s, p) ** 2 * o * (c // g) * k), "kernel_size \\*\\* 2"),
    (_wrong(lambda c, o, k, s, p, n, g: o * (c // g) * k * k), "number of weights"),
    (_wrong(lambda c, o, k, s, p, n, g: _out(n, k, s, p) ** 2 * (o // g) * c * k * k * 2 // 2 + 1),
     "not what summary counts"),
    (_wrong(lambda c, o, k, s, p, n, g: _macs(c, o, k, s, p, n, g) / 3), "whole"),
    (lambda in_channels, out_channels, kernel_size: 0, "raised TypeError"),
    (nn.Conv2d(1, 1, 3), "built Conv2d"),
])
def test_conv_macs_check_rejects(wrong, message):
    torch.set_num_threads(1)
    with pytest.raises(AssertionError, match=message):
        check_conv_macs(wrong)


@pytest.mark.parametrize("check", [check_cheapest_above, check_conv_macs])
def test_no_check_prints_its_answer(check, capsys):
    """A failure's message names no expected value: no number from the reference answers."""
    from d2lnets.checks import comparison

    answers = {str(_macs(*c[:6], groups=c[6])) for c in comparison._CONVS}
    answers |= {f"{_macs(*c[:6], groups=c[6]):,}" for c in comparison._CONVS}
    for wrong in [_stub, _wrong(lambda c, o, k, s, p, n, g: 2 * _macs(c, o, k, s, p, n, g)), _hard_coded,
                  _most_accurate]:
        try:
            check(wrong)
        except AssertionError as e:
            text = str(e)
            assert not any(a in text for a in answers), text
            if check is check_cheapest_above:
                assert "'C'" not in text and '"C"' not in text, text
    assert capsys.readouterr().out == ""
