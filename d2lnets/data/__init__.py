"""data — the datasets, offline first and checked: where files are found and proved genuine
(``store``), the in-memory batch loader (``loader``), Fashion-MNIST, CIFAR-10, Flowers-102 and
folders of images (one module each), batched augmentation (``augment``), and a generated stand-in
of CIFAR-10 and Flowers-102 in their real formats (``standin``).

(This package serves the names of the former modules ``d2lnets.data`` and ``d2lnets.datasets``.)
"""
from . import augment
from .cifar10 import (
                      CIFAR10,
                      CIFAR10_LABELS,
                      CIFAR10_MEAN,
                      CIFAR10_STD,
                      CIFAR10_URL,
                      CIFAR10Loader,
                      load_cifar10_tensors,
                      load_data_cifar10,
)
from .fashion_mnist import (
                      FASHION_MNIST,
                      FASHION_MNIST_MEAN,
                      FASHION_MNIST_STD,
                      TEXT_LABELS,
                      FashionMNISTLoader,
                      data_dirs,
                      get_fashion_mnist_labels,
                      load_data_fashion_mnist,
                      load_fashion_mnist_tensors,
)
from .flowers102 import FLOWERS102, FLOWERS102_URL, Flowers102Loader, load_data_flowers102, load_flowers102_tensors
from .image_folder import (
                      IMAGE_SUFFIXES,
                      IMAGENET_MEAN,
                      IMAGENET_STD,
                      ImageFolderLoader,
                      load_data_image_folder,
                      load_image_folder_tensors,
)
from .loader import ImageLoader
from .standin import Standins, write_standins
from .store import KNOWN_MD5, ChecksumError, DataNotFoundError, DatasetSpec, locate, verify_file

__all__ = [
    "CIFAR10", "CIFAR10Loader", "CIFAR10_LABELS", "CIFAR10_MEAN", "CIFAR10_STD", "CIFAR10_URL", "ChecksumError",
    "DataNotFoundError", "DatasetSpec", "FASHION_MNIST", "FASHION_MNIST_MEAN", "FASHION_MNIST_STD", "FLOWERS102",
    "FLOWERS102_URL", "FashionMNISTLoader", "Flowers102Loader", "IMAGENET_MEAN", "IMAGENET_STD", "IMAGE_SUFFIXES",
    "ImageFolderLoader", "ImageLoader", "KNOWN_MD5", "Standins", "TEXT_LABELS", "augment", "data_dirs",
    "get_fashion_mnist_labels", "load_cifar10_tensors", "load_data_cifar10", "load_data_fashion_mnist",
    "load_data_flowers102", "load_data_image_folder", "load_fashion_mnist_tensors", "load_flowers102_tensors",
    "load_image_folder_tensors", "locate", "verify_file", "write_standins",
]
