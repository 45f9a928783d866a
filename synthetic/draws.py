"""Small vectorised drawing helpers shared by the table generators."""

from __future__ import annotations

import numpy as np


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    """Logistic function, the link of every probability in the generator."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=np.float64)))


def rank_uniform(z: np.ndarray) -> np.ndarray:
    """Ranks of z mapped to (0, 1): imposes an exact marginal while keeping the dependence."""
    ranks = np.empty(len(z))
    ranks[np.argsort(z, kind="stable")] = np.arange(len(z))
    return (ranks + 0.5) / max(len(z), 1)


def top_share(score: np.ndarray, share: float) -> np.ndarray:
    """True for the ``share`` of rows with the highest score (an exact share)."""
    return rank_uniform(score) > 1 - share


def lognormal(
    rng: np.random.Generator, median: np.ndarray | float, sd: float, size: int
) -> np.ndarray:
    """Lognormal draws around ``median`` with log-scale spread ``sd`` (money amounts)."""
    return np.asarray(median) * np.exp(sd * rng.standard_normal(size))


def expand(counts: np.ndarray) -> np.ndarray:
    """Parent index of each child row when parent i has counts[i] children (np.repeat)."""
    return np.repeat(np.arange(len(counts)), np.asarray(counts, dtype=np.int64))


def position_in_group(counts: np.ndarray) -> np.ndarray:
    """0, 1, … within each parent's block of children (for expand's rows)."""
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    return np.arange(counts.sum()) - np.repeat(starts, counts)
