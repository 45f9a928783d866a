"""Argument types for the command lines, so a bad value is argparse's one-line usage error.

Each raises ``argparse.ArgumentTypeError`` naming the rule and the value; argparse adds the
option's name and exits with status 2, with no traceback.
"""

from __future__ import annotations

import argparse
from datetime import date


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text!r}")
    return value


def count(text: str) -> int:
    """An integer >= 0, where 0 means none (``--tune-trials 0``: no tuning)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0; got {text!r}")
    return value


def port(text: str) -> int:
    value = positive_int(text)
    if value > 65_535:
        raise argparse.ArgumentTypeError(f"must be a TCP port in 1..65535; got {text!r}")
    return value


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be an ISO date (YYYY-MM-DD); got {text!r}"
        ) from None
