"""Published facts the course quotes, in one place: the papers' and the book's figures, parameter
counts, dataset facts and the constants of the formulas and defaults the chapters explain.

**The allowlist's rule.** A number written in a chapter's markdown must be a fact that holds in every
run profile on every machine — never something a run measured (measured numbers belong in a code
cell's printed output, computed from the run). :data:`ALLOWED` maps each such number, as the prose
writes it, to the reason it may be written (:data:`ALLOWED_PERCENT` holds the percentages: a
number written ``N %`` must be listed there):

- a figure **published** by a paper, by the book (d2l 0.17, its first PyTorch edition), by
  torchvision or by a write-up the course follows — with its source;
- a **parameter count** or other fact of an architecture (layer widths, image sizes) — checked
  against torchvision or the package's models by ``tests/test_chapter_truth.py``;
- a **dataset fact** (sizes, splits, pixel statistics);
- a **constant of a formula or a library default** the prose explains (PyTorch's LRN and
  ``OneCycleLR`` defaults, batch norm's momentum);
- a **derived fact** the prose states without showing its arithmetic (a ratio of two parameter
  counts, a receptive field): deterministic, so it holds in every profile.

``tests/test_chapter_truth.py`` says which numbers in markdown it skips (section and list numbers,
names such as conv3 or VGG-11, versions, years, small counts, shapes such as 28×28, worked
arithmetic such as (227 − 11)/4 + 1 = 55); every other number must be a key of :data:`ALLOWED`
(of :data:`ALLOWED_PERCENT` when written ``N %``), or a count of millions that rounds a parameter
count listed here (``133 million`` for VGG-11's 132,863,336).

Adding a number here needs its source. Never add a measured number: print it from the run.
"""
from __future__ import annotations

__all__ = [
    "ALEXNET_102_PARAMS",
    "ALEXNET_HALF_5_PARAMS",
    "ALLOWED",
    "ALLOWED_PERCENT",
    "BOOK_1_0_LR",
    "BOOK_ALEXNET_EXAMPLES_PER_SEC",
    "BOOK_BATCH_SIZE",
    "BOOK_EDITION",
    "BOOK_EPOCHS",
    "BOOK_LR",
    "BOOK_PARAMS",
    "BOOK_RESIZE",
    "BOOK_TEST_ACC",
    "BN_PAPER_FEWER_STEPS",
    "CIFAR10",
    "FASHION_MNIST",
    "FLOWERS102",
    "LRN_PAPER",
    "LRN_TORCH",
    "LRN_TORCH_DEFAULT",
    "PARAMS",
    "RESNET_PAPER_TOP1_ERROR",
    "TORCHVISION_IMAGENET",
    "allowed",
]

# --- the book: Dive into Deep Learning, 0.17 (its first PyTorch edition) -------------------------
BOOK_EDITION = "d2l 0.17"
# final test accuracy after 10 epochs on a V100, as d2l 0.17 prints it (chapters 6.6, 7.1, 7.2, 7.6, 7.7)
BOOK_TEST_ACC = {"lenet": 0.79, "alexnet": 0.88, "vgg": 0.92, "resnet": 0.918, "densenet": 0.82}
BOOK_ALEXNET_EXAMPLES_PER_SEC = 4171  # d2l 0.17, 7.1: AlexNet training speed on a V100
BOOK_LR = {"lenet": 0.9, "alexnet": 0.01, "vgg": 0.05, "resnet": 0.05, "densenet": 0.1}  # d2l 0.17's recipes
BOOK_BATCH_SIZE = {"lenet": 256, "alexnet": 128, "vgg": 128, "resnet": 256, "densenet": 256}  # d2l 0.17
BOOK_EPOCHS = 10  # d2l 0.17 trains every network for 10 epochs
BOOK_RESIZE = {"alexnet": 224, "vgg": 224, "resnet": 96, "densenet": 96}  # d2l 0.17 upsamples Fashion-MNIST
BOOK_1_0_LR = 0.01  # d2l 1.0 trains VGG and ResNet with lr 0.01 (and prints no final accuracy)

# --- parameter counts (tests/test_chapter_truth.py checks them against torchvision and d2lnets.models)
PARAMS = {  # 1000 classes, 3 input channels (SPEC §7)
    "alexnet_paper": 60_965_224,      # two towers (groups=2 in conv2, conv4, conv5)
    "alexnet_one_tower": 62_378_344,  # the same with groups=1
    "torchvision_alexnet": 61_100_840,
    "vgg11": 132_863_336, "vgg13": 133_047_848, "vgg16": 138_357_544, "vgg19": 143_667_240,
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032, "resnet101": 44_549_160,
    "resnet152": 60_192_808, "densenet121": 7_978_856,
}
BOOK_PARAMS = {  # the book's Fashion-MNIST networks: 1 channel, 10 classes (SPEC §7)
    "lenet": 61_706, "alexnet": 46_764_746, "vgg11_width4": 43_093_322, "resnet18": 11_178_378,
    "densenet": 758_226,
}
ALEXNET_102_PARAMS = {"paper": 57_286_118, "one_tower": 58_699_238}  # Flowers-102 (the Keras write-up's)
ALEXNET_HALF_5_PARAMS = 14_591_685  # the five-flowers write-up's half-width AlexNet, 5 classes

# --- what the closing chapter's synthesis quotes ----------------------------------------------------
# torchvision's first ImageNet weights (IMAGENET1K_V1, one recipe for all), as its model table publishes
# them: top-1 accuracy (%) and multiply-adds per 224-px image in G (torchvision's "GFLOPS", which are
# d2l.summary's multiply-adds); tests/test_chapter_truth.py checks them against torchvision's metadata
TORCHVISION_IMAGENET = {
    "alexnet": (56.522, 0.714), "vgg11": (69.02, 7.609), "vgg11_bn": (70.37, 7.609), "vgg19": (72.376, 19.632),
    "resnet18": (69.758, 1.814), "resnet34": (73.314, 3.664), "resnet50": (76.13, 4.089),
    "densenet121": (74.434, 2.834),
}
# He et al. 2015, Table 2: ImageNet top-1 error (%, 10-crop testing) of plain and residual networks
RESNET_PAPER_TOP1_ERROR = {"plain18": 27.94, "plain34": 28.54, "resnet18": 27.88, "resnet34": 25.03}
BN_PAPER_FEWER_STEPS = 14  # Ioffe & Szegedy 2015 (abstract): Inception's accuracy in 14 times fewer steps

# --- AlexNet (Krizhevsky, Sutskever, Hinton 2012) ------------------------------------------------
LRN_PAPER = {"k": 2, "n": 5, "alpha": 1e-4, "beta": 0.75}  # paper §3.3
LRN_TORCH = {"size": 5, "alpha": 5e-4, "beta": 0.75, "k": 2}  # the paper's layer in PyTorch (alpha * n)
LRN_TORCH_DEFAULT = {"alpha": 1e-4, "beta": 0.75, "k": 1.0}  # nn.LocalResponseNorm's defaults

# --- datasets --------------------------------------------------------------------------------------
FASHION_MNIST = {"train": 60_000, "test": 10_000, "total": 70_000, "per_class": 6_000, "side": 28,
                 "mean": 0.2860, "std": 0.3530}  # Xiao et al. 2017; mean/std of the training pixels (SPEC §6)
CIFAR10 = {"train": 50_000, "test": 10_000, "total": 60_000, "side": 32}  # Krizhevsky 2009
# Nilsback & Zisserman 2008
FLOWERS102 = {"total": 8_189, "train": 1_020, "valid": 1_020, "test": 6_149, "classes": 102}

# --- the allowlist: number as the prose writes it -> why it may be written -------------------------
PCT = "%"  # marks a percentage: "20 %" is allowed only by a percentage, not by the 20-layer network
_ALLOWED: list[tuple] = [
    # the book (d2l 0.17)
    *[(v, f"d2l 0.17's published test accuracy ({k})") for k, v in BOOK_TEST_ACC.items()],
    (BOOK_ALEXNET_EXAMPLES_PER_SEC, "d2l 0.17: AlexNet examples/s on a V100"),
    *[(v, f"d2l 0.17's learning rate ({k})") for k, v in BOOK_LR.items()],
    (256, "d2l 0.17's batch size; also a layer width (AlexNet, VGG, ResNet) and AlexNet's 256 px images"),
    (128, "d2l 0.17's batch size (AlexNet, VGG); also a layer width"),
    (224, "the book's and ImageNet networks' input size (px)"),
    (96, "the book's ResNet/DenseNet input size (px); AlexNet's conv1 kernels"),
    # AlexNet paper
    (15.3, "AlexNet paper: ILSVRC-2012 top-5 test error", PCT),
    (26.2, "AlexNet paper: the runner-up's top-5 error", PCT),
    (18.2, "AlexNet paper, section 6.1: one CNN's top-5 error on the ILSVRC-2012 validation set (the 15.3 % "
           "entry averaged seven CNNs, two pre-trained on the Fall 2011 release)", PCT),
    (60, "AlexNet paper: '60 million parameters'"), (60, "the CIFAR-10 write-up's LeNet test accuracy", PCT),
    (1.2, "AlexNet paper: 1.2 million ImageNet training images"), (1000, "ImageNet's classes"),
    (1.4, "AlexNet paper: LRN lowers top-1 error by 1.4 %", PCT),
    (0.4, "AlexNet paper: overlapping pooling, top-1 -0.4 %", PCT),
    (0.3, "AlexNet paper: overlapping pooling, top-5 -0.3 %", PCT),
    (6, "AlexNet paper: ReLU reaches 25 % error 6x faster"),
    (25, "AlexNet paper Figure 1: the 25 % training-error threshold", PCT),
    (1, "AlexNet paper: PCA lighting, top-1 -1 %", PCT),
    (0.1, "AlexNet paper: PCA lighting alpha ~ N(0, 0.1); BN momentum; learning rates"),
    (0.01, "AlexNet paper: weights ~ N(0, 0.01); d2l 0.17's AlexNet lr and d2l 1.0's VGG/ResNet lr"),
    (0.5, "AlexNet paper: dropout p = 0.5"), (3, "AlexNet paper: a GTX 580 had 3 GB"),
    (0.99, "chapter 2's definition: a tanh unit is saturated when |tanh z| > 0.99"),
    (0.02, "chapter 2: the gradient of a saturated tanh unit, 1 - 0.99², is below 0.02"),
    (227, "AlexNet: the input size that makes conv1's arithmetic whole"), (384, "AlexNet: conv3/conv4 width"),
    (4096, "AlexNet/VGG: fully connected width"), (90, "AlexNet paper: 90 epochs"),
    (50_000, "ImageNet's validation images; CIFAR-10's training images"),
    (2048, ("AlexNet paper: 2,048 times as many inputs from crops and flips; half-width AlexNet's hidden "
            "units; ResNet-50's last width")),
    (1e-4, "AlexNet paper: LRN alpha"),
    (0.75, "AlexNet paper: LRN beta"), (5e-4, "PyTorch's alpha for the paper's LRN; VGG's weight decay"),
    # VGG paper (Simonyan & Zisserman 2014, Table 3)
    (29.7, "VGG paper: A-LRN top-1 error", PCT), (29.6, "VGG paper: A top-1 error", PCT),
    (10.5, "VGG paper: A-LRN top-5 error", PCT), (10.4, "VGG paper: A top-5 error", PCT),
    (0.9, "VGG/AlexNet papers' SGD momentum; d2l 0.17's LeNet lr"), (64, "VGG/ResNet: first stage width"),
    (512, "VGG/ResNet: last stage width"), (19, "VGG-19: the deepest configuration"),
    # ResNet paper (He et al. 2015) and DenseNet
    (56, "ResNet paper: the 56-layer plain network; AlexNet's 55/56 px maps"),
    (20, "ResNet paper: the 20-layer plain network"),
    (152, "ResNet paper: 152 layers"), (1024, "ResNet-50's stage-3 output channels"),
    (32, "DenseNet's growth rate; CIFAR-10's 32 px"), (74.4, "torchvision: densenet121 top-1 (74.434 %)", PCT),
    (76.1, "torchvision: resnet50 top-1 (76.13 %)", PCT),
    # parameter counts
    *[(v, f"parameters: {k}") for k, v in PARAMS.items()],     # (both: the two lists share a name, resnet18)
    *[(v, f"parameters: the book's {k}") for k, v in BOOK_PARAMS.items()],
    *[(v, f"parameters: AlexNet with 102 classes, {k}") for k, v in ALEXNET_102_PARAMS.items()],
    (ALEXNET_HALF_5_PARAMS, "parameters: the half-width AlexNet with 5 classes"),
    # datasets
    (60_000, "Fashion-MNIST training images; CIFAR-10's images"), (10_000, "Fashion-MNIST/CIFAR-10 test images"),
    (70_000, "Fashion-MNIST's images"), (6_000, "Fashion-MNIST images per class"), (28, "Fashion-MNIST's side (px)"),
    (0.286, "Fashion-MNIST pixel mean"), (0.353, "Fashion-MNIST pixel std"),
    (8_189, "Flowers-102 images"), (1_020, "Flowers-102 train and validation split"), (6_149, "Flowers-102 test split"),
    (2_040, "Flowers-102 train + validation"), (102, "Flowers-102 classes"),
    (6_552, "the Keras write-up's Flowers train/ folder"), (818, "the Keras write-up's Flowers valid/ folder"),
    # formula constants and library defaults
    (0.95, "OneCycleLR's max_momentum default"), (0.85, "OneCycleLR's base_momentum default"),
    (30, "OneCycleLR's pct_start default (30 % warm-up)", PCT), (255, "8-bit pixel range"),
    (2.303, "ln 10: the cross-entropy of a uniform guess over 10 classes"),
    (0.25, "the sigmoid's largest derivative, sigma'(0) = 1/4"),
    (95, "the effective receptive field's share of the gradient (a definition)", PCT),
    # derived facts of the architectures (deterministic; asserted or printed in the chapters' cells)
    (400, "LeNet: 16·5·5 flattened features"), (48_120, "LeNet: fc1's parameters 400·120 + 120"),
    (120, "LeNet: fc1 width"), (84, "LeNet: fc2 width"),
    (9_216, "AlexNet: 256·6·6 features into fc6"), (6_400, "the book's AlexNet: 256·5·5 features"),
    (55, "AlexNet: conv1's map side"), (27, "AlexNet: pool1's map side"), (13, "AlexNet: conv3-5 map side"),
    (54, "the book's AlexNet: conv1's map side"), (26, "the book's AlexNet: pool1's map side"),
    (0.94, "the book's AlexNet at 224 px: 0.94 G multiply-adds an image"),
    (2, "AlexNet: grouped convolutions save about 2 % of the parameters (62.4 M -> 61.0 M)", PCT),
    (90, "AlexNet: the fully connected layers hold more than 90 % of the parameters", PCT),
    (5_500, "LRN worked example: 10² + 20² + 30² + 40² + 50²"), (0.55, "LRN worked example: 1e-4 · 5,500"),
    (14.9, "LRN worked example: 30 / 2.55^0.75"), (27.7, "LRN worked example with torch's defaults"),
    (0.125, "Fashion-MNIST pixel variance, 0.353²"),
    (1, "PCA lighting at the paper's strength: 0.1 · 0.125 ≈ 1 % of the pixel range", PCT),
    (49, "(224/32)²: the pixels that 32 px inputs save; 7·7 weights of a 7×7 kernel"),
    (8, "VGG: A (133 M) to E (144 M) adds 8 % parameters", PCT),
    (124, "VGG-11: million parameters in its dense layers"),
    (103, "VGG-11: million parameters of fc6 (512·7·7·4,096)"), (0.6, "VGG: C's 1×1 convolutions add 0.6 M to B"),
    (45, "VGG: 27C² against 49C² weights, 45 % fewer", PCT), (150, "VGG-A's receptive field"),
    (212, "VGG-D's receptive field"), (268, "VGG-E's receptive field"), (195, "AlexNet's receptive field"),
    (12.8, "VGG: one 224×224×64 fp32 map, 12.8 MB"), (6_272, "VGG-11/4's features into the classifier, 128·7·7"),
    (17, "ResNet-50 has 17 % more parameters than ResNet-34", PCT),
    (17, "ResNet: the bottleneck (256→64→64→256) is 17 times cheaper than a basic block at 256 channels"),
    (4.5, "ResNet-152 has 4.5 times ResNet-34's layers"), (2.8, "ResNet-152 has 2.8 times ResNet-34's parameters"),
    (48, "half of 96 px; the half-width AlexNet's conv1 width"),
    (192, "AlexNet small/half: conv3/conv4 width; DenseNet channels"),
    (2.4, "ResNet-18: a 512→512 3×3 convolution, 2.4 M parameters"), (248, "the book's DenseNet's widest block output"),
    (15, "the book's ResNet-18 has 15× the DenseNet's parameters"), (29, "the book's DenseNet's smallest input (px)"),
    (67, "the paper's AlexNet's smallest input (px): conv1 without padding, three 3×3 stride-2 pools"),
    (600_000, "d2l 0.17's 10 epochs of Fashion-MNIST's 60,000 training images"),
    (4, "ResNet's bottleneck expansion (4× the stage width); DenseNet-BC's bn_size"),
    (16, "LeNet's conv2 channels; VGG-11/4's first width"), (34, "ResNet-34's layers"), (50, "ResNet-50's layers"),
    (101, "ResNet-101's layers"), (40, "LRN worked example's activations (10, 20, 30, 40, 50)"),
    (50, "LRN worked example's activations"), (30, "LRN worked example's activations"),
    (580, "the GTX 580, the paper's GPU (a name)"),
    # the closing chapter's synthesis: torchvision's model table, the ResNet and batch-norm papers
    *[(round(top1, 1), f"torchvision: {k} top-1 ({top1} %)", PCT) for k, (top1, _) in TORCHVISION_IMAGENET.items()],
    *[(round(g, 1 if g >= 1 else 2), f"torchvision: {k}, G multiply-adds ({g})") for k, (_, g) in
      TORCHVISION_IMAGENET.items()],
    (2.6, "torchvision: VGG-19 has 2.6 times VGG-11's multiply-adds (19.632 / 7.609)"),
    *[(v, f"ResNet paper, Table 2: {k} top-1 error", PCT) for k, v in RESNET_PAPER_TOP1_ERROR.items()],
    (18, "ResNet-18's layers; the ResNet paper's plain 18-layer network"),
    (BN_PAPER_FEWER_STEPS, "batch-norm paper: Inception's accuracy in 14 times fewer training steps"),
    # settings the prose prescribes in every profile (a question's suggestion)
    (112, "a size a question suggests for fine-tuning (224 / 2)"),
]


def _allowed(percent: bool) -> dict[float, str]:
    out: dict[float, str] = {}
    for value, reason, *unit in _ALLOWED:
        if bool(unit) == percent:
            out[float(value)] = out[float(value)] + "; " + reason if float(value) in out else reason
    return out


ALLOWED: dict[float, str] = _allowed(percent=False)  # numbers (not followed by %)
ALLOWED_PERCENT: dict[float, str] = _allowed(percent=True)  # percentages: "1.4 %" is ALLOWED_PERCENT[1.4]
_MILLIONS = [v for v in ALLOWED if v >= 100_000]


def allowed(value: float, decimals: int = 0, millions: bool = False, percent: bool = False) -> str | None:
    """Why ``value`` (as the prose writes it, with ``decimals`` digits after the point) may appear in
    a chapter's markdown, or None. ``percent``: the prose writes it as a percentage (``value %``),
    allowed only by a percentage of the list. ``millions``: the prose says "N million" (or "N M"),
    which is allowed when it rounds a count listed here."""
    value = abs(float(value))
    listed = ALLOWED_PERCENT if percent else ALLOWED
    if value in listed:
        return listed[value]
    if percent:
        return None
    if millions:
        for v in _MILLIONS:
            if round(v / 1e6, decimals) == value:
                return f"{ALLOWED[v]} ({v:,} rounded to millions)"
    return None
