"""d2lnets — the package behind the course on classic convolutional networks.

    import d2lnets as d2l
    train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size=256)
    net = d2l.models.lenet(variant="modern")
    history = d2l.train_ch5(net, train_iter, test_iter, num_epochs=10, lr=0.1)

Architecture: one home for each fact. The modules, in layers; a module imports only from its own
layer and the layers above it, never from one below.

1. Foundations
   - ``_validate``: argument checks and the error messages shared by the public functions.
   - ``config``: run profiles (``smoke``/``cpu``/``full``), devices, seeds.
   - ``memory``: keeps freed CPU memory for reuse while training (glibc).
   - ``precision``: the device and precision policy (bf16 autocast, channels-last).
2. Building blocks (no plotting, no training)
   - ``layers``: layers built from their formulas (``LocalResponseNorm``).
   - ``augment``: batched data augmentation (flips, crops, PCA lighting).
   - ``shapes``: shape arithmetic: ``conv_output_size``, ``receptive_field``, ``min_input_size``,
     ``num_params``.
   - ``graph``: a network's graph as it runs (for the diagrams).
3. Models and exercise checks
   - ``models/``: every network; factories registered once (``register_model``), one architecture
     table per family, ``variant="d2l"`` for the book's five. Imports ``layers``, ``shapes`` and
     ``_validate`` only: never a report, a plot, the data or the training loop.
   - ``checks/``: the exercises' checks and their hints (``d2l.hint``); import ``models``, ``shapes``,
     ``augment``, ``layers``, ``summary`` (never a plot).
4. Data
   - ``data``: Fashion-MNIST, offline first, checksummed, in memory.
   - ``datasets``: CIFAR-10, Flowers-102 and image folders through the same data layer.
5. Reports and pictures
   - ``summary``: the per-layer table (shapes, parameters, multiply-adds, memory); re-exports
     the ``shapes`` functions for older code.
   - ``predictions``: predictions over a loader, the confusion matrix.
   - ``plot``: the live plot, image grids, training curves; ``_show``: shows a finished figure.
   - ``diagram``, ``learned``, ``mistakes``, ``receptive``, ``schedule``: architecture diagrams,
     filters and feature maps, errors, receptive fields, the one-cycle schedule.
6. Training and runs
   - ``train``: ``train_ch5``, ``evaluate_accuracy`` and the training loop's helpers.
   - ``records``: records of runs, one schema; ``results``: a chapter's reported results.
   - ``recipes``: what each chapter trains in each profile (reads ``models``).
   - ``saving``: saving a trained model and loading it back only where it fits.
   - ``checkpoint``: a run's checkpoints (``train_ch5(checkpoint=..., resume=...)``) in ``saving``'s
     format, and the exact resume from one.
   - ``distributed``: ``train_ch5`` under torchrun: the process group, DistributedDataParallel,
     each process's shard of the data, the metrics summed over the processes.
   - ``compare``: the closing chapter's helpers: the five networks' costs side by side, saved
     models or trained ones, confusion matrices side by side, torchvision's weights fine-tuned.
7. Tools (command lines)
   - ``setup`` (data, JupyterLab settings), ``exercises`` (learner copies), ``check`` (check the
     exercises; ``--hint``, ``--progress``), ``progress`` (the record of what is solved), ``notebooks`` (run the chapters), ``colab`` (Colab cells and links), ``cli``
     (``python -m d2lnets.train``: train a recipe from the command line).
"""
from . import augment, checks, models
from .checks.hints import hint
from .config import Profile, default_device, profile, set_seed, try_gpu
from .data import (
    ChecksumError,
    DataNotFoundError,
    FashionMNISTLoader,
    ImageLoader,
    get_fashion_mnist_labels,
    load_cifar10_tensors,
    load_data_cifar10,
    load_data_fashion_mnist,
    load_data_flowers102,
    load_data_image_folder,
    load_fashion_mnist_tensors,
    load_flowers102_tensors,
    load_image_folder_tensors,
)
from .layers import LocalResponseNorm
from . import precision, records
from .records import record_result, report
from .plot import Animator, plot_histories, show_images
from .diagram import draw_architecture
from .learned import show_feature_maps, show_filters
from .mistakes import show_mistakes, show_predictions
from .predictions import confusion_matrix, predict
from .receptive import show_receptive_field
from .recipes import Recipe, list_recipes, recipe
from .checkpoint import CheckpointError
from .saving import ModelMismatchError, load_model, model_path, runs_dir, save_model
from .schedule import one_cycle, plot_one_cycle
from .shapes import conv_output_size, num_params, receptive_field
from .summary import summary
from .train import Accumulator, History, Timer, TrainingDivergedError, evaluate_accuracy, train_ch5

__version__ = "0.1.0"

__all__ = [
    "Accumulator", "Animator", "augment", "checks", "ChecksumError", "DataNotFoundError", "FashionMNISTLoader", "History",
    "LocalResponseNorm", "Profile", "Timer", "TrainingDivergedError", "conv_output_size",
    "default_device", "evaluate_accuracy", "get_fashion_mnist_labels", "load_data_fashion_mnist",
    "load_fashion_mnist_tensors", "models", "num_params", "plot_histories", "profile", "receptive_field", "record_result",
    "set_seed", "show_images", "summary", "train_ch5", "try_gpu",
]
__all__ += [  # the colour datasets, through the same data layer as Fashion-MNIST
    "ImageLoader", "load_cifar10_tensors", "load_data_cifar10", "load_data_flowers102", "load_data_image_folder",
    "load_flowers102_tensors", "load_image_folder_tensors",
]
__all__ += [  # what the course's pictures and saved models need
    "ModelMismatchError", "confusion_matrix", "draw_architecture", "load_model", "model_path", "one_cycle",
    "plot_one_cycle", "predict", "runs_dir", "save_model", "show_feature_maps", "show_filters", "show_mistakes",
    "show_predictions", "show_receptive_field",
]
__all__ += ["Recipe", "list_recipes", "recipe"]  # what each chapter trains, per profile
__all__ += ["precision", "records", "report"]  # how runs train, and what they record
__all__ += ["CheckpointError"]  # train_ch5(checkpoint=..., resume=...)
__all__ += ["hint"]  # d2l.hint("02", 1): a hint for a chapter's exercise

from . import compare  # noqa: E402  (layer 6: the closing chapter)
__all__ += ["compare"]
