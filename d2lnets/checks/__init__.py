"""Checks for the chapters' coding exercises, one module per chapter.

Each check raises ``AssertionError`` with a message that says what is wrong and how to fix it,
and returns quietly when the answer is right. ``tests/`` proves that every check rejects the
unsolved stub and the plausible wrong answers catalogued beside it.
"""
from ._util import not_written
from .alexnet import check_dropout, check_lrn, check_pca_lighting, check_rgb_pca
from .colour import check_alexnet_sizes, check_grouped_conv_params, check_two_towers
from .comparison import check_cheapest_above, check_conv_macs
from .densenet import check_bottleneck_layer, check_dense_block
from .lenet import check_layer_cost, check_modern_lenet
from .resnet import check_bottleneck, check_residual
from .vgg import check_receptive_field, check_vgg_block

__all__ = ["check_alexnet_sizes", "check_bottleneck", "check_bottleneck_layer", "check_cheapest_above",
           "check_conv_macs", "check_dense_block", "check_dropout", "check_grouped_conv_params", "check_layer_cost",
           "check_lrn", "check_modern_lenet", "check_pca_lighting", "check_receptive_field", "check_residual",
           "check_rgb_pca", "check_two_towers", "check_vgg_block", "not_written"]
