"""Checks for the chapters' coding exercises, one module per chapter.

Each check raises ``AssertionError`` with a message that says what is wrong and how to fix it,
and returns quietly when the answer is right. ``tests/`` proves that every check rejects the
unsolved stub and the plausible wrong answers catalogued beside it.
"""
from ._util import not_written
from .alexnet import check_dropout, check_lrn, check_pca_lighting
from .densenet import check_dense_block, check_transition_block
from .lenet import check_conv_output_size, check_modern_lenet
from .resnet import check_residual
from .vgg import check_receptive_field, check_vgg_block

__all__ = ["check_conv_output_size", "check_dense_block", "check_dropout", "check_lrn", "check_modern_lenet",
           "check_pca_lighting", "check_receptive_field", "check_residual", "check_transition_block",
           "check_vgg_block", "not_written"]
