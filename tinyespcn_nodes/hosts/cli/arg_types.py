"""argparse types for numbers in a range: one parser shape, each refusal naming what was expected."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def ranged(kind: type, accepts: Callable[[float], bool], expected: str) -> Callable[[str], float]:
    """A `type=` for argparse: `kind(text)` when `accepts` it (NaN never is), else a one-line error."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not accepts(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


strength_arg = ranged(float, lambda v: 0 <= v <= 1, "a number in [0, 1]")
factor_arg = ranged(float, lambda v: 1 < v <= 8, "a number in (1, 8]")
quality_arg = ranged(int, lambda v: 1 <= v <= 100, "an integer 1-100")
