"""LeNet-5 (LeCun et al., 1998, "Gradient-based learning applied to document recognition").

Two variants, both with the book's layer sizes (6 and 16 channels of 5x5 convolutions, then
120-84-10 fully connected units; 61,706 parameters on 28x28 Fashion-MNIST):

- ``"classic"``: sigmoid activations and average pooling, as in the 1998 paper;
- ``"modern"``: ReLU and max pooling, the two changes that AlexNet later made standard.
"""
from __future__ import annotations

from torch import Tensor, nn

from ._common import check_input, check_sizes

__all__ = ["LeNet", "lenet"]


class LeNet(nn.Module):
    """LeNet-5 for 28x28 images (the first convolution pads by 2, as the book does)."""

    def __init__(self, num_classes: int = 10, in_channels: int = 1, variant: str = "classic") -> None:
        super().__init__()
        if variant not in ("classic", "modern"):
            raise ValueError(f"variant must be 'classic' or 'modern', got {variant!r}")
        num_classes, in_channels = check_sizes(num_classes, in_channels)
        act = nn.Sigmoid if variant == "classic" else nn.ReLU
        pool = nn.AvgPool2d if variant == "classic" else nn.MaxPool2d
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
        for m in self.modules():  # Xavier, as the book initialises LeNet
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        check_input(x, self.in_channels, f"LeNet ({self.variant})", exact_size=28)
        return self.classifier(self.flatten(self.features(x)))


def lenet(num_classes: int = 10, in_channels: int = 1, *, variant: str = "classic") -> LeNet:
    """LeNet-5; ``variant="modern"`` swaps sigmoid/average pooling for ReLU/max pooling."""
    return LeNet(num_classes=num_classes, in_channels=in_channels, variant=variant)
