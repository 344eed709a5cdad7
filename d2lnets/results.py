"""Chapters record their main result here; ``make results`` turns the records into RESULTS.md.

The records themselves (one schema for training runs, chapters' results and reported values) are
made and written by :mod:`d2lnets.records`; this module keeps the chapters' names for them.
"""
from __future__ import annotations

from .records import record_result, report

__all__ = ["record_result", "report"]
