"""The as-of primitives against a brute-force loop over the events."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.pit import (
    EXACT_FIRMS,
    MEMO_QUERIES,
    MISSING_DAY,
    EventStream,
    Queries,
    add_months,
    to_days,
)

events = st.lists(
    st.tuples(st.integers(0, 3), st.integers(0, 60), st.one_of(st.none(), st.floats(-5, 5))),
    max_size=40,
)
queries = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 70)), min_size=1, max_size=15)


def _brute(ev, firm: int, day: int, window: int | None) -> list[float | None]:
    return [v for f, d, v in ev if f == firm and d < day and (window is None or d >= day - window)]


@settings(max_examples=200, deadline=None)
@given(ev=events, qs=queries, window=st.one_of(st.none(), st.integers(0, 30)))
def test_aggregates_match_a_loop(ev, qs, window) -> None:
    firm = np.array([e[0] for e in ev], dtype=np.int64)
    day = np.array([e[1] for e in ev], dtype=np.int64)
    val = np.array([np.nan if e[2] is None else e[2] for e in ev], dtype=np.float64)
    s = EventStream(firm, day, v=val)
    q = Queries(np.array([x[0] for x in qs]), np.array([x[1] for x in qs], dtype=np.int64))
    count, total = s.count(q, window), s.sum("v", q, window)
    mx, mean, last = s.max("v", q, window), s.mean("v", q, window), s.last("day", q)
    for i, (f, d) in enumerate(qs):
        inside = _brute(ev, f, d, window)
        known = [v for v in inside if v is not None]
        assert count[i] == len(inside)
        assert total[i] == pytest.approx(sum(known), abs=1e-9)
        assert (np.isnan(mx[i]) and not known) or mx[i] == max(known)
        assert (np.isnan(mean[i]) and not known) or mean[i] == pytest.approx(np.mean(known))
        before = [e[1] for e in ev if e[0] == f and e[1] < d]
        assert (np.isnan(last[i]) and not before) or last[i] == max(before)


@settings(max_examples=200, deadline=None)
@given(
    ev=st.lists(
        st.tuples(st.integers(0, EXACT_FIRMS - 1), st.integers(0, 60), st.floats(-1e7, 1e7)),
        min_size=1,
        max_size=60,
    ),
    day=st.integers(0, 70),
    window=st.one_of(st.none(), st.integers(0, 30)),
)
def test_a_firms_sums_are_the_same_bits_alone_and_beside_other_firms(ev, day, window) -> None:
    """The live service builds the requests that arrive together in one build; a stored
    input scored again alone must give the same PD, so its sums must not round differently
    after other firms' running totals."""
    firm = np.array([e[0] for e in ev], dtype=np.int64)
    days = np.array([e[1] for e in ev], dtype=np.int64)
    val = np.array([e[2] for e in ev], dtype=np.float64)
    together = EventStream(firm, days, v=val)
    firms = np.unique(firm)
    q = Queries(firms, np.full(len(firms), day, dtype=np.int64))
    total, mean = together.sum("v", q, window), together.mean("v", q, window)
    for i, f in enumerate(firms):
        own = firm == f
        alone = EventStream(np.zeros(own.sum(), dtype=np.int64), days[own], v=val[own])
        q1 = Queries(np.zeros(1, dtype=np.int64), np.array([day], dtype=np.int64))
        assert alone.sum("v", q1, window)[0] == total[i]
        assert np.array_equal(alone.mean("v", q1, window), mean[i : i + 1], equal_nan=True)


def test_event_on_the_as_of_day_is_not_known() -> None:
    s = EventStream(np.array([0, 0]), np.array([10, 20]))
    assert s.count(Queries(np.array([0]), np.array([20])))[0] == 1
    assert s.count(Queries(np.array([0]), np.array([21])))[0] == 2


def test_missing_days_and_foreign_firms_are_dropped() -> None:
    s = EventStream(np.array([0, -1, 0]), np.array([1, 2, MISSING_DAY]))
    assert len(s) == 1


def test_to_days_and_add_months() -> None:
    days = to_days(np.array(["2020-01-31", "2021-02-28", None], dtype="datetime64[D]"))
    assert days[2] == MISSING_DAY
    shifted = add_months(days[:2], 1)
    assert list(shifted.astype("datetime64[D]").astype(str)) == ["2020-02-29", "2021-03-28"]
    assert (
        add_months(to_days(np.array(["2019-07-01"], dtype="datetime64[D]")), 36)[0]
        == to_days(np.array(["2022-07-01"], dtype="datetime64[D]"))[0]
    )


def test_ranges_of_a_few_queries_are_remembered_by_content_and_read_only() -> None:
    s = EventStream(np.array([0, 0, 0]), np.array([5, 10, 20]), v=np.array([1.0, 2.0, 3.0]))
    q = Queries(np.array([0]), np.array([15]))
    lo, hi = s.bounds(q, 7)
    assert (lo.tolist(), hi.tolist()) == ([1], [2])
    assert s.bounds(Queries(np.array([0]), np.array([15])), 7)[0] is lo  # same content: kept
    with pytest.raises(ValueError, match="read-only"):
        hi[0] = 0
    # another as-of day, window or query set is its own range, not the remembered one
    assert s.bounds(q.shifted(6), 7)[1].tolist() == [1]
    assert s.bounds(q, None)[0].tolist() == [0]
    many = Queries(np.zeros(MEMO_QUERIES + 1, dtype=np.int64), np.full(MEMO_QUERIES + 1, 15))
    assert s.bounds(many)[0].flags.writeable  # a batch's ranges are not kept
