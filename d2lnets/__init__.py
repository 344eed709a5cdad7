"""d2lnets — the package behind the course on classic convolutional networks.

    import d2lnets as d2l
    train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size=256)
    net = d2l.models.lenet(variant="modern")
    history = d2l.train_ch5(net, train_iter, test_iter, num_epochs=10, lr=0.1)
"""
from . import augment, checks, models
from .config import Profile, default_device, profile, set_seed, try_gpu
from .data import (
    ChecksumError,
    DataNotFoundError,
    FashionMNISTLoader,
    get_fashion_mnist_labels,
    load_data_fashion_mnist,
    load_fashion_mnist_tensors,
)
from .layers import LocalResponseNorm
from .results import record_result
from .plot import Animator, plot_histories, show_images
from .diagram import draw_architecture
from .learned import show_feature_maps, show_filters
from .mistakes import show_mistakes, show_predictions
from .predictions import confusion_matrix, predict
from .receptive import show_receptive_field
from .saving import ModelMismatchError, load_model, model_path, runs_dir, save_model
from .schedule import one_cycle, plot_one_cycle
from .summary import conv_output_size, receptive_field, summary
from .train import Accumulator, History, Timer, TrainingDivergedError, evaluate_accuracy, train_ch5

__version__ = "0.1.0"

__all__ = [
    "Accumulator", "Animator", "augment", "checks", "ChecksumError", "DataNotFoundError", "FashionMNISTLoader", "History",
    "LocalResponseNorm", "Profile", "Timer", "TrainingDivergedError", "conv_output_size",
    "default_device", "evaluate_accuracy", "get_fashion_mnist_labels", "load_data_fashion_mnist",
    "load_fashion_mnist_tensors", "models", "plot_histories", "profile", "receptive_field", "record_result",
    "set_seed", "show_images", "summary", "train_ch5", "try_gpu",
]
__all__ += [  # what the course's pictures and saved models need
    "ModelMismatchError", "confusion_matrix", "draw_architecture", "load_model", "model_path", "one_cycle",
    "plot_one_cycle", "predict", "runs_dir", "save_model", "show_feature_maps", "show_filters", "show_mistakes",
    "show_predictions", "show_receptive_field",
]
