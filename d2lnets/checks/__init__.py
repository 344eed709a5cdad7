"""Checks for the chapters' coding exercises, one module per chapter.

Each check raises ``AssertionError`` with a message that says what is wrong and how to fix it,
and returns quietly when the answer is right. ``tests/`` proves that every check rejects the
unsolved stub and the plausible wrong answers catalogued beside it.
"""
from ._util import not_written
from .lenet import check_conv_output_size, check_modern_lenet

__all__ = ["check_conv_output_size", "check_modern_lenet", "not_written"]
