"""Checks for the chapters' coding exercises, one module per chapter.

Each check raises ``AssertionError`` with a message that says what is wrong and how to fix it
(ending, for a mistake it recognises, with the hint that addresses it: ``hints``), and returns
quietly when the answer is right. No check passes an answer that calls the library's own
implementation of what its exercise asks to write (``_forbid``: ``Delegation``, an AssertionError).
``tests/`` proves that every check rejects the unsolved stub, a delegating answer and the
plausible wrong answers catalogued beside it.
"""
from ._forbid import Delegation
from ._util import not_written
from .alexnet import check_dropout, check_lrn, check_pca_lighting, check_rgb_pca
from .batchnorm import check_batch_norm
from .colour import check_resnext_block, check_ten_crop
from .comparison import check_inception, check_nin
from .densenet import check_bottleneck_layer, check_dense_block
from .hints import hint
from .lenet import check_layer_cost, check_modern_lenet
from .resnet import check_bottleneck, check_residual
from .vgg import check_receptive_field, check_vgg_block

__all__ = ["Delegation", "check_batch_norm", "check_bottleneck", "check_bottleneck_layer", "check_dense_block",
           "check_dropout", "check_inception", "check_layer_cost", "check_lrn", "check_modern_lenet", "check_nin",
           "check_pca_lighting", "check_receptive_field", "check_residual", "check_resnext_block", "check_rgb_pca",
           "check_ten_crop", "check_vgg_block", "hint", "not_written"]
