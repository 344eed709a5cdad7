"""The book's LeNet, after LeNet-5 (LeCun et al., 1998, "Gradient-based learning applied to
document recognition").

The book keeps LeNet-5's layer sizes but not its details: the 1998 network used a scaled tanh,
subsampling layers with a trainable weight and bias, a sparse table connecting the third layer's
maps to only some of the second's, and a final layer of radial basis functions.

Two variants, both with the book's layer sizes (6 and 16 channels of 5x5 convolutions, then
120-84-10 fully connected units; 61,706 parameters on 28x28 Fashion-MNIST):

- ``"d2l"`` (also called ``"classic"``): the book's LeNet (d2l 1.0's ``d2l.LeNet``): sigmoid
  activations and average pooling;
- ``"modern"``: ReLU and max pooling, the two changes that AlexNet later made standard.

Both are initialised as the book does (:func:`~d2lnets.models._common.init_cnn`, Xavier uniform).
"""
from __future__ import annotations

from torch import Tensor, nn

from ._common import check_input, check_sizes, init_cnn
from ._registry import check_variant, register_model

__all__ = ["LeNet"]

VARIANTS = ("d2l", "classic", "modern")


class LeNet(nn.Module):
    """The book's LeNet for 28x28 images (the first convolution pads by 2, as the book does)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, variant: str = "d2l") -> None:
        super().__init__()
        check_variant("lenet", variant, VARIANTS)
        num_classes, in_channels = check_sizes(num_classes, in_channels)
        modern = variant == "modern"
        act = nn.ReLU if modern else nn.Sigmoid
        pool = nn.MaxPool2d if modern else nn.AvgPool2d
        self.in_channels, self.variant = in_channels, variant
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, kernel_size=5, padding=2), act(), pool(kernel_size=2, stride=2),
            nn.Conv2d(6, 16, kernel_size=5), act(), pool(kernel_size=2, stride=2),
        )
        self.flatten = nn.Flatten()
        self.classifier = nn.Sequential(
            nn.Linear(16 * 5 * 5, 120), act(),
            nn.Linear(120, 84), act(),
            nn.Linear(84, num_classes),
        )
        self.apply(init_cnn)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, self.in_channels, f"LeNet ({self.variant})", exact_size=28)
        return self.classifier(self.flatten(self.features(x)))


@register_model(book=True)
def lenet(num_classes: int = 10, in_channels: int = 1, *, variant: str = "d2l") -> LeNet:
    """The book's LeNet: ``variant="d2l"`` (or ``"classic"``) as the book has it (sigmoid, average pooling),
    ``variant="modern"`` swaps them for ReLU and max pooling."""
    return LeNet(num_classes=num_classes, in_channels=in_channels, variant=variant)
