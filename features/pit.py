"""Point-in-time primitives: every feature is an aggregate over a firm's dated events.

Each raw table is turned into one or more *event streams*: rows with a firm, a day on which
the fact became known, and values. A feature "as of D" is then an aggregate over the events
of that firm with ``day < D`` (strictly before), optionally within a look-back window
``[D - window, D)``. This is Feast's as-of join reduced to its core, written with
``numpy.searchsorted`` on a sorted ``(firm, day)`` key so that the same code answers one
query (a live request) in microseconds and a million queries (a batch) in seconds, without
materialising the query × event cross product.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Days are int64 days since 1970-01-01; missing dates become this sentinel, which sorts
#: after every real date and is therefore never "known before" any as-of date.
MISSING_DAY = np.int64(2**40)
_DAY_BITS = 42
_DAY_OFFSET = np.int64(2**41)


def to_days(values: pd.Series | np.ndarray | pd.DatetimeIndex) -> np.ndarray:
    """Dates (datetime64, date objects or ISO strings) as int64 days; missing → MISSING_DAY."""
    arr = np.asarray(values)
    if arr.dtype.kind != "M":
        arr = pd.to_datetime(pd.Series(arr), errors="raise").to_numpy()
    days = arr.astype("datetime64[D]")
    out = days.astype(np.int64)
    out[np.isnat(days)] = MISSING_DAY
    return out


def as_days(values: object) -> np.ndarray:
    """Like :func:`to_days`, and integers are taken as days already (as ``to_days`` made them).

    Date objects (with None for missing) convert in numpy, without pandas' parser: a live
    request converts a handful of them and must not pay for a Series.
    """
    arr = np.asarray(values)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64)
    if arr.dtype.kind == "O":
        # ISO text with a time of day and the like fail here; to_days parses those.
        with contextlib.suppress(TypeError, ValueError):
            arr = np.array(arr.tolist(), dtype="datetime64[D]")
    return to_days(arr)


def add_months(days: np.ndarray, months: int) -> np.ndarray:
    """Same day-of-month ``months`` later, clipped to month end (Feb 29 → Feb 28)."""
    d = days.astype("datetime64[D]")
    m = d.astype("datetime64[M]")
    dom = (d - m.astype("datetime64[D]")).astype(np.int64)
    target = m + np.timedelta64(months, "M")
    length = (
        (target + np.timedelta64(1, "M")).astype("datetime64[D]") - target.astype("datetime64[D]")
    ).astype(np.int64)
    return target.astype("datetime64[D]").astype(np.int64) + np.minimum(dom, length - 1)


#: Query sets up to this size have their index ranges remembered by each stream.
MEMO_QUERIES = 16

#: A stream of at most this many firms sums each firm's values apart from the others', so
#: a firm's sums and means are the same bits whichever firms share its build: the live
#: service scores the requests that arrive together in one build (``serving.batching``), and
#: a decision's stored input, scored again alone, must reproduce its PD exactly. A larger
#: build (batch screening) runs one prefix sum over all firms, where a firm's windowed sum
#: can differ from its own in the last bits.
EXACT_FIRMS = 16

#: A look-back window in days: one for all queries, one per query, or None (all history).
Window = int | np.ndarray | None


@dataclass(frozen=True)
class Queries:
    """As-of points: one row per (firm, as-of day), firms already mapped to dense ints."""

    firm: np.ndarray  # int64 index into the firm universe of this build
    day: np.ndarray  # int64 as-of day D; features use events with day < D

    def __len__(self) -> int:
        return len(self.firm)

    def shifted(self, days: int) -> Queries:
        """The same firms as of ``days`` earlier (e.g. a year ago, for growth features)."""
        return Queries(self.firm, self.day - days)


class EventStream:
    """A firm's dated events, sorted by (firm, day), answering as-of aggregates.

    ``firm`` are dense firm ints (the build's universe; events of firms outside it carry -1
    and are dropped), ``day`` the day each event became known.
    """

    def __init__(self, firm: np.ndarray, day: np.ndarray, **values: np.ndarray) -> None:
        keep = (firm >= 0) & (day != MISSING_DAY)
        key = (firm[keep].astype(np.int64) << _DAY_BITS) + (day[keep] + _DAY_OFFSET)
        order = np.argsort(key, kind="stable")
        self.key = key[order]
        self.day = day[keep][order]
        self.values = {name: np.asarray(v)[keep][order] for name, v in values.items()}
        self._prefix: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._ranges: dict[tuple[bytes, bytes, int | None], tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.key)

    # -- index ranges -------------------------------------------------------------------
    def bounds(self, q: Queries, window_days: Window = None) -> tuple[np.ndarray, np.ndarray]:
        """Index range [lo, hi) of each query's events with D - window <= day < D.

        ``window_days`` is one length for every query or one per query (a calendar window).
        The ranges of a few queries are remembered (read-only): a live request is one query,
        and its features ask the same stream for the same window again and again (a count,
        a sum and a latest value over one window share their range).
        """
        memo = len(q) <= MEMO_QUERIES and (window_days is None or type(window_days) is int)
        if memo:
            key = (q.firm.tobytes(), q.day.tobytes(), window_days)
            known = self._ranges.get(key)
            if known is not None:
                return known
        base = q.firm.astype(np.int64) << _DAY_BITS
        hi = np.searchsorted(self.key, base + q.day + _DAY_OFFSET, side="left")
        start = q.day - window_days if window_days is not None else np.full_like(q.day, -(2**40))
        lo = np.searchsorted(self.key, base + start + _DAY_OFFSET, side="left")
        ranges = lo, np.maximum(lo, hi)
        if memo:
            for bound in ranges:
                bound.flags.writeable = False
            self._ranges[key] = ranges
        return ranges

    # -- aggregates ---------------------------------------------------------------------
    def count(self, q: Queries, window_days: Window = None) -> np.ndarray:
        lo, hi = self.bounds(q, window_days)
        return (hi - lo).astype(np.float64)

    def sum(self, name: str, q: Queries, window_days: Window = None) -> np.ndarray:
        """Sum of non-missing values; 0 when there are events but none carries a value."""
        lo, hi = self._slots(*self.bounds(q, window_days))
        total, _ = self._prefix_sums(name)
        return total[hi] - total[lo]

    def mean(self, name: str, q: Queries, window_days: Window = None) -> np.ndarray:
        """Mean of non-missing values; NaN when none."""
        lo, hi = self._slots(*self.bounds(q, window_days))
        total, n = self._prefix_sums(name)
        cnt = n[hi] - n[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(cnt > 0, (total[hi] - total[lo]) / np.maximum(cnt, 1), np.nan)

    def max(self, name: str, q: Queries, window_days: Window = None) -> np.ndarray:
        """Max of values in the window; NaN when the window is empty."""
        return self._reduce(np.fmax, name, q, window_days)

    def min(self, name: str, q: Queries, window_days: Window = None) -> np.ndarray:
        return self._reduce(np.fmin, name, q, window_days)

    def last(self, name: str, q: Queries, back: int = 0) -> np.ndarray:
        """Value of the ``back``-th latest event known before D (0 = latest); NaN if none."""
        lo, hi = self.bounds(q)
        idx = hi - 1 - back
        ok = idx >= lo
        vals = self.values[name] if name != "day" else self.day
        out = np.full(len(q), np.nan)
        if ok.any():
            out[ok] = vals[idx[ok]]
        return out

    def first_day(self, q: Queries) -> np.ndarray:
        """Day of the firm's earliest event before D; NaN when it has none."""
        lo, hi = self.bounds(q)
        out = np.full(len(q), np.nan)
        ok = hi > lo
        out[ok] = self.day[lo[ok]]
        return out

    def days_since_last(self, q: Queries) -> np.ndarray:
        """Days from the latest event before D to D; NaN when the firm has none."""
        return q.day - self.last("day", q)

    # -- internals ----------------------------------------------------------------------
    def _prefix_sums(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Running sums of the present values and their counts, laid out as ``_slots`` reads
        them: one run over the stream, or one per firm (each starting at 0 in a slot of its
        own) when the stream holds a few firms."""
        if name not in self._prefix:
            v = self.values[name].astype(np.float64)
            present = ~np.isnan(v)
            starts = self._firm_starts
            self._prefix[name] = (
                _running(np.where(present, v, 0.0), starts),
                _running(present.astype(np.int64), starts),
            )
        return self._prefix[name]

    @functools.cached_property
    def _firm_starts(self) -> np.ndarray | None:
        """Where each firm's events begin, when the stream holds 2 to ``EXACT_FIRMS`` firms;
        None otherwise (one firm's running sum is already its own)."""
        firm = self.key >> _DAY_BITS
        starts = np.flatnonzero(firm[1:] != firm[:-1]) + 1
        return np.concatenate(([0], starts)) if 0 < len(starts) < EXACT_FIRMS else None

    def _slots(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Event ranges as positions in ``_prefix_sums``: the j-th firm's run sits j slots
        further on. A range never spans two firms, and an empty one reads one slot twice."""
        starts = self._firm_starts
        if starts is None:
            return lo, hi
        shift = np.searchsorted(starts, lo, side="right") - 1
        return lo + shift, hi + shift

    def _reduce(self, ufunc: np.ufunc, name: str, q: Queries, window_days: Window) -> np.ndarray:
        lo, hi = self.bounds(q, window_days)
        out = np.full(len(q), np.nan)
        nonempty = hi > lo
        if not nonempty.any():
            return out
        # reduceat over interleaved (lo, hi) pairs reduces v[lo:hi]; the odd slots are junk.
        v = np.append(self.values[name].astype(np.float64), np.nan)
        idx = np.column_stack((lo[nonempty], hi[nonempty])).ravel()
        out[nonempty] = ufunc.reduceat(v, idx)[::2]
        return out


def _running(values: np.ndarray, starts: np.ndarray | None) -> np.ndarray:
    """``[0, v0, v0 + v1, ...]``, or that per firm run, back to back, when ``starts`` gives
    the runs: each firm's sums are then computed from its own values only."""
    if starts is None:
        return np.concatenate(([0], np.cumsum(values)))
    out = np.zeros(len(values) + len(starts), dtype=values.dtype)
    ends = np.append(starts[1:], len(values))
    for j, (a, b) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True)):
        out[a + j + 1 : b + j + 1] = np.cumsum(values[a:b])
    return out
