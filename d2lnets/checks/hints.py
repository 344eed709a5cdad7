"""Hints for the chapters' coding exercises: two or three each, every one a step closer, none the answer.

In a notebook ``d2l.hint("02", 1)`` prints the next hint of chapter 2's exercise 1 not yet shown
(``d2l.hint("02_alexnet", 1)`` too, and ``d2l.hint("02", "3b")`` for a part), ``d2l.hint("02", 1, 2)``
its second hint; at the shell ``make hint NB=02 EX=1 [N=2]``. A check's message for a mistake it
recognises ends by naming the hint that addresses it (:func:`see`). Exercises are numbered as the
chapters number them; ``tests/test_hints.py`` keeps the two in step and proves that no hint holds a
line of a reference solution.
"""
from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

__all__ = ["EXERCISES", "Exercise", "find", "format_hint", "hint", "named", "see"]


@dataclass(frozen=True)
class Exercise:
    chapter: str      # the chapter's file name, e.g. "02_alexnet"
    number: str       # as `make check` names it: "1", "3a"
    title: str        # as the chapter names it
    check: str        # the check's name in d2lnets.checks
    hints: tuple[str, ...]

    @property
    def ref(self) -> str:
        """How a notebook asks for this exercise's hints: ``'02', '3a'`` or ``'04', 3``."""
        number = self.number if not self.number.isdigit() else int(self.number)
        return f"{self.chapter[:2]!r}, {number!r}"


EXERCISES = [
    Exercise("01_lenet", "1", "The modern LeNet, by hand", "check_modern_lenet", (
        "Print the book's network, d2l.models.lenet(variant='d2l'): the modern LeNet has the same twelve "
        "layers in the same order, with the same sizes, in one nn.Sequential.",
        "Only two kinds of layer change: every nn.Sigmoid() becomes an nn.ReLU(), and every average pooling "
        "becomes a max pooling with the same 2x2 window and stride 2.",
        "The first convolution pads by 2 so that 28x28 stays 28x28; after the second pooling the maps are "
        "16 x 5 x 5, so nn.Flatten() hands 400 features to the first linear layer.",
    )),
    Exercise("01_lenet", "2", "A layer's cost", "check_layer_cost", (
        "Parameters: a convolution's weight has the shape [out_channels, in_channels / groups, kernel height, "
        "kernel width], a linear layer's [out_features, in_features]; there is one bias per output when "
        "layer.bias is not None.",
        "Multiply-adds: every output value costs one multiply-add per weight of its window, "
        "(in_channels / groups) x kernel height x kernel width for a convolution. So count the output values "
        "first: out_channels times the output's height times its width.",
        "The output's height follows from the input's height with N = (W - F + 2P) // S + 1, using the "
        "height entries of layer.kernel_size, layer.padding and layer.stride (they are pairs); the width "
        "likewise. Bias additions are not multiply-adds.",
    )),
    Exercise("02_alexnet", "1", "Local response normalisation", "check_lrn", (
        "Work on the squares of X. For output channel c, add up the squares of the channels in its window at "
        "the same pixel: a slice along dim 1, summed over dim 1. Build one such sum per channel and stack "
        "them back along dim 1.",
        "Channel c's window runs from max(0, c - size // 2) up to and including c + (size - 1) // 2, cut off "
        "at the last channel. Remember that a Python slice stops one before its end. Missing neighbours at "
        "the edges add nothing: never divide by fewer channels.",
        "PyTorch's convention divides alpha by size: every output is the input divided by "
        "(k + alpha / size * the window's sum of squares) raised to the power beta. The paper and "
        "TensorFlow use alpha without the division.",
    )),
    Exercise("02_alexnet", "2", "Inverted dropout", "check_dropout", (
        "Draw a fresh random mask of X's shape on every call: torch.rand(X.shape) gives uniform numbers in "
        "[0, 1), and comparing them with p keeps an element with probability 1 - p.",
        "Multiply X by the mask (as a float tensor) and divide by 1 - p: the survivors grow so that the "
        "expected output equals X, and nothing changes at test time.",
        "Three cases need no mask: training=False returns X as it is, p = 0 keeps everything, p = 1 drops "
        "everything (zeros; dividing by 1 - p = 0 would give NaN). Never change X in place.",
    )),
    Exercise("02_alexnet", "3a", "The colours' principal components", "check_rgb_pca", (
        "Every pixel of every image is one RGB sample. Move the channel axis to the front "
        "(images.transpose(0, 1)) and flatten everything else, to get a matrix with 3 rows and one column "
        "per pixel.",
        "Subtract the mean colour of ALL pixels (one mean per row of that matrix); the covariance is then the "
        "matrix times its transpose, divided by the number of pixels minus one: a 3 x 3 matrix.",
        "torch.linalg.eigh(cov) returns the eigenvalues from smallest to largest, eigenvector i in column i. "
        "Reverse both (the eigenvalues along their one axis, the eigenvectors along the columns) to put the "
        "largest first.",
    )),
    Exercise("02_alexnet", "3b", "PCA lighting", "check_pca_lighting", (
        "For one image b the shift is one C-vector: each eigenvector (a column of eigvecs) weighted by "
        "alphas[b, i] * eigvals[i], all added up. That is the matrix-vector product of eigvecs with "
        "alphas[b] * eigvals.",
        "For the whole batch at once, alphas * eigvals is a [B, C] tensor (broadcasting); multiplying it by "
        "the transposed eigenvector matrix gives one shift per image, again [B, C].",
        "Every pixel of image b gets the same shift: give the [B, C] shifts two trailing axes of size one "
        "(indexing with None) so that they broadcast over the height and width, and add them to X.",
    )),
    Exercise("03_vgg", "1", "Receptive field", "check_receptive_field", (
        "Start at ONE output pixel, F = 1, and go through the layers from the last to the first "
        "(reversed(layers)): each layer tells how many of its input pixels the F pixels of its output see.",
        "A layer with kernel K and stride S: its first window covers K input pixels, and each of the other "
        "F - 1 output positions moves the window S pixels further. Together that is (F - 1) * S + K.",
        "Try it by hand before coding: two 3x3 convolutions with stride 1 see 5 pixels; a 3x3 convolution "
        "followed by a 2x2 pooling with stride 2 sees 4.",
    )),
    Exercise("03_vgg", "2", "The VGG block, by hand", "check_vgg_block", (
        "Collect the layers in a Python list and turn it into one block at the end: nn.Sequential(*layers).",
        "In a loop over range(num_convs), add a 3x3 convolution with padding=1 and an nn.ReLU(). Only the "
        "first convolution takes in_channels; each later one takes the out_channels of the one before.",
        "After the loop, and only once, add the 2x2 max pooling with stride 2 that halves the height and width.",
    )),
    Exercise("04_resnet", "1", "The residual block, by hand", "check_residual", (
        "In __init__: conv1 (3x3, padding 1, stride strides), conv2 (3x3, padding 1), two batch norms, and a "
        "third, 1x1 convolution with stride strides only when use_1x1conv (else store None in its place).",
        "In forward: the main path is conv1, bn1, ReLU, conv2, bn2. The shortcut is X itself, or X through "
        "the 1x1 convolution when there is one.",
        "Add the main path and the shortcut first, then apply one ReLU to the sum. A ReLU before the "
        "addition, or none after it, makes another function.",
    )),
    Exercise("04_resnet", "2", "The bottleneck block, with its projection", "check_bottleneck", (
        "The main path: a 1x1 convolution from in_channels to channels, BN, ReLU; a 3x3 convolution "
        "(padding 1) that carries the stride, BN, ReLU; a 1x1 convolution to 4 * channels, BN. No biases.",
        "The shortcut needs a projection whenever the main path changes the shape: when stride is not 1 OR "
        "in_channels is not 4 * channels. The projection is a 1x1 convolution with the same stride, "
        "followed by a batch norm of its own.",
        "Add the shortcut to the third batch norm's output, then apply one ReLU. No ReLU between the third "
        "batch norm and the addition.",
    )),
    Exercise("04_resnet", "3", "Batch normalisation from scratch", "check_batch_norm", (
        "Training mode, per channel: the mean and the variance over the batch, height and width (dims 0, 2 "
        "and 3, keeping them as axes of size one), then (X - mean) / sqrt(var + eps), then gamma times that "
        "plus beta. Normalise with the biased variance, unbiased=False, as torch does.",
        "The running statistics change only in training, and without gradients (under torch.no_grad()): "
        "new = (1 - momentum) * old + momentum * the batch's statistic. For the running variance use the "
        "unbiased variance of the batch (dividing by n - 1, n values per channel).",
        "Evaluation mode (self.training is False): normalise with the running mean and variance and leave "
        "them unchanged. gamma and beta are nn.Parameter objects of num_features values (ones and zeros); "
        "register the running statistics with self.register_buffer (zeros and ones) so that they are saved "
        "and moved with the module.",
    )),
    Exercise("05_densenet", "1", "The dense block, by hand", "check_dense_block", (
        "conv_block is BN, ReLU, then the 3x3 convolution with padding 1, in one nn.Sequential: in DenseNet "
        "the batch norm and the ReLU come BEFORE the convolution.",
        "Unit i of the block takes everything that came before it: in_channels + i * growth_rate channels. "
        "Each unit makes growth_rate new ones.",
        "In forward, after each unit, join its output to its input along the channels with torch.cat, the "
        "input first. Never add them.",
    )),
    Exercise("05_densenet", "2", "DenseNet-BC's bottleneck layer", "check_bottleneck_layer", (
        "Two stages of BN, ReLU and a convolution, BN and ReLU in front of each convolution: the first over "
        "the layer's in_channels, the second over the bottleneck's channels.",
        "The 1x1 convolution maps in_channels to bn_size * growth_rate channels; the 3x3 convolution (padding "
        "1) maps those to growth_rate. Neither needs a bias: a batch norm comes next.",
        "forward returns the input unchanged, followed by the new channels, joined along dim 1. An in-place "
        "ReLU applied to the input itself would change the input you hand on.",
    )),
    Exercise("06_comparison", "1", "A NiN block and a head without dense layers", "check_nin", (
        "nin_block: one convolution with the given kernel_size, strides and padding, then two 1x1 "
        "convolutions that keep out_channels; a ReLU after each of the three, all in one nn.Sequential.",
        "nin_head: a NiN block from in_channels to num_classes channels (3x3, stride 1, padding 1): each "
        "channel is one class's map. Then average each map to one number and flatten to [batch, num_classes].",
        "nn.AdaptiveAvgPool2d((1, 1)) averages each channel over any height and width, and nn.Flatten() "
        "drops the two axes of size one. No nn.Linear anywhere: the 1x1 convolutions do the dense layers' "
        "work at every pixel.",
    )),
    Exercise("06_comparison", "2", "An Inception block", "check_inception", (
        "Four branches, each reading the block's input: a 1x1 convolution to c1; a 1x1 to c2[0] then a 3x3 "
        "to c2[1]; a 1x1 to c3[0] then a 5x5 to c3[1]; a 3x3 max pooling then a 1x1 to c4.",
        "Every branch keeps the height and width: padding 1 for the 3x3 convolution, padding 2 for the 5x5, "
        "and the pooling with stride 1 and padding 1. A ReLU follows every convolution, none the pooling.",
        "forward joins the four branches' outputs along the channels, in that order (1x1, 3x3, 5x5, pooling), "
        "with torch.cat on dim 1: c1 + c2[1] + c3[1] + c4 channels. Never add them.",
    )),
    Exercise("07_alexnet_colour", "1", "ResNeXt's grouped bottleneck", "check_resnext_block", (
        "It is chapter 4's bottleneck block (1x1, 3x3 with the stride, 1x1 to 4 * channels, each with BN, "
        "and the projection when the shape changes), only wider inside: width = channels * width_per_group "
        "// 64 * groups channels between the two 1x1 convolutions.",
        "Only the 3x3 convolution is grouped, groups=groups: each group of width / groups channels sees only "
        "its own channels, as each of AlexNet's towers saw only its own half. The 1x1 convolutions are "
        "ordinary (groups=1).",
        "The shortcut is X, or a 1x1 convolution with the stride followed by BN when stride is not 1 or "
        "in_channels is not 4 * channels. Add, then one ReLU. No biases anywhere.",
    )),
    Exercise("07_alexnet_colour", "2", "Ten-crop testing", "check_ten_crop", (
        "Cut the five size x size crops with slices of the last two axes: the four corners, and the centre "
        "starting at row (H - size) // 2 and column (W - size) // 2. torch.flip on the last axis mirrors a "
        "crop left to right.",
        "Run net on each of the ten crops (each one a batch of B images) and turn its logits into "
        "probabilities with a softmax over the classes, dim=1, BEFORE averaging.",
        "Average the ten [B, num_classes] probability tensors, e.g. stack them on a new first axis and take "
        "the mean over it. Averaging logits, or the predicted classes, gives another answer.",
    )),
]


def _chapter(chapter: object) -> str:
    text = str(chapter).replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".ipynb")
    found = re.match(r"0?(\d)(?:_|$)", text) if isinstance(chapter, (int, str)) else None
    if found is None or isinstance(chapter, bool):
        raise ValueError(f"no chapter {chapter!r}: name one as '02', 2 or '02_alexnet'")
    return f"0{found.group(1)}"


def _number(exercise: object) -> str:
    if isinstance(exercise, bool) or not isinstance(exercise, (int, str)):
        raise ValueError(f"no exercise {exercise!r}: name one by its number, e.g. 1, or '3b' for a part")
    return re.sub(r"[\s().]", "", str(exercise)).lower()


def find(chapter: object, exercise: object) -> Exercise:
    """The exercise of ``chapter`` ('02', 2 or '02_alexnet') numbered ``exercise`` (1 or '3b')."""
    number, ch = _number(exercise), _chapter(chapter)
    mine = [e for e in EXERCISES if e.chapter.startswith(ch)]
    if not mine:
        chapters = sorted({e.chapter[:2] for e in EXERCISES})
        raise ValueError(f"chapter {ch} has no exercises with hints; the chapters are {', '.join(chapters)}")
    for e in mine:
        if e.number == number:
            return e
    parts = [e.number for e in mine if e.number.rstrip("abcdefgh") == number]
    if parts:
        asks = " and ".join(f"d2l.hint({ch!r}, {p!r})" for p in parts)
        raise ValueError(f"exercise {number} of chapter {ch} has parts: ask {asks}")
    raise ValueError(f"chapter {mine[0].chapter} has no exercise {exercise!r}; its exercises are "
                     f"{', '.join(e.number for e in mine)}")


_shown: dict[tuple[str, str], int] = {}   # the hints shown in this process, per exercise


def hint(chapter: object, exercise: object, n: int | None = None) -> None:
    """Print the next hint for ``exercise`` of ``chapter`` not yet shown in this process, or hint ``n``."""
    e = find(chapter, exercise)
    key, total = (e.chapter, e.number), len(e.hints)
    if n is None:
        n = _shown.get(key, 0) + 1
        if n > total:
            print(f"That was the last of the {total} hints for {e.chapter} exercise {e.number}, {e.title}. "
                  f"Show one again with d2l.hint({e.ref}, N); the check's message says which one fits your mistake.")
            return
    else:
        format_hint(e, n)   # a hint that exists, or a clear ValueError
    _shown[key] = max(_shown.get(key, 0), n)
    print(format_hint(e, n))
    if n < total:
        print(f"(d2l.hint({e.ref}) again for the next one)")


def format_hint(e: Exercise, n: int) -> str:
    """Hint ``n`` of exercise ``e``, with what it belongs to."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(e.hints):
        raise ValueError(f"{e.chapter} exercise {e.number} has hints 1 to {len(e.hints)}, not {n!r}")
    text = textwrap.fill(e.hints[n - 1], width=100, break_on_hyphens=False)
    return f"Hint {n} of {len(e.hints)} for {e.chapter} exercise {e.number}, {e.title}:\n{text}"


def see(check: str, n: int) -> str:
    """The end of a check's message for a mistake that hint ``n`` of its exercise addresses."""
    e = next(e for e in EXERCISES if e.check == check)
    assert 1 <= n <= len(e.hints), f"{check} has no hint {n}"
    return f" — see d2l.hint({e.ref}, {n})"


_SEE = re.compile(r" — see d2l\.hint\('(\d\d)', '?(\w+?)'?, (\d)\)$")


def named(message: str) -> tuple[str, str, int] | None:
    """``("04", "3", 2)`` when ``message`` ends by naming hint 2 of chapter 4's exercise 3 (which exists)."""
    found = _SEE.search(message)
    if found is None:
        return None
    chapter, number, n = found.group(1), found.group(2), int(found.group(3))
    assert 1 <= n <= len(find(chapter, number).hints), f"the message names a hint that does not exist: {message}"
    return chapter, number, n
