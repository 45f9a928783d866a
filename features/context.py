"""The state of one feature build: the as-of queries, the firm universe, cached arrays.

Sources are tables given either as DataFrames (files, batches) or as plain mappings of
column → numpy array (a live request, which never needs to pay for building a DataFrame).
Families read numpy columns only: pandas overhead on tiny frames is what would otherwise
dominate a one-firm request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.errors import UnknownFirm
from features.pit import EventStream, Queries, to_days

T = TypeVar("T")

#: A table as a DataFrame or as a mapping of column name to array.
Table = pd.DataFrame | Mapping[str, np.ndarray]


def positions_in(codes: pd.Series, universe: pd.Index) -> np.ndarray:
    """Position of each code in ``universe`` (-1 if absent), hashed in Arrow.

    Millions of record rows carry a credit code each; matching them in Arrow avoids making a
    Python string of every one (pandas' own string columns are Arrow arrays already).
    """
    if len(codes) == 0:
        return np.empty(0, dtype=np.int64)
    values = pa.array(codes, from_pandas=True)
    if not pa.types.is_string(values.type) and not pa.types.is_large_string(values.type):
        return universe.get_indexer(codes).astype(np.int64)
    found = pc.index_in(values, value_set=pa.array(universe.to_numpy(dtype=object), values.type))
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


class BuildContext:
    """Maps the applications to as-of queries and every source table to the same firm ints.

    Families ask it for columns, firm ids and streams; everything is computed once per build
    and shared (the policy family reuses the IP and financial streams, for example).
    """

    def __init__(self, sources: Mapping[str, Table], applications: Table) -> None:
        self.sources = sources
        self.apps = applications
        self._memo: dict[str, object] = {}
        codes = np.asarray(applications["credit_code"])
        # One application (a live request) needs no hashing: its universe is its one firm.
        universe = codes[:1] if len(codes) == 1 else pd.unique(codes)
        self._single = universe[0] if len(universe) == 1 else None
        self._universe = pd.Index(universe) if self._single is None else None
        self.q = Queries(self._index_of(codes), to_days(applications["applied_on"]))
        row = self._firm_rows()
        if (row < 0).any():
            missing = universe[row < 0]
            raise UnknownFirm(
                f"applications name {len(missing)} firm(s) absent from table 'firms', "
                f"e.g. {list(missing[:3])}"
            )
        #: Row of ``firms`` for each query (one firm row per credit code).
        self.firm_row = row[self.q.firm]

    def __len__(self) -> int:
        return len(self.q)

    def col(self, table: str, column: str) -> np.ndarray:
        """A column of a source table as numpy; an absent table has no rows (a thin file)."""
        frame = self.sources.get(table)
        if frame is None or (isinstance(frame, Mapping) and column not in frame):
            return np.empty(0, dtype=object)
        return self.memo(f"col:{table}.{column}", lambda: np.asarray(frame[column]))

    def app_col(self, column: str) -> np.ndarray:
        return np.asarray(self.apps[column])

    def firm_ids(self, table: str) -> np.ndarray:
        """Dense firm ints of a table's rows (-1 for firms outside this build)."""
        return self.memo(f"firm_ids:{table}", lambda: self._firm_ids(table))

    def _firm_ids(self, table: str) -> np.ndarray:
        frame = self.sources.get(table)
        if self._single is None and isinstance(frame, pd.DataFrame):
            return positions_in(frame["credit_code"], self._many())
        return self._index_of(self.col(table, "credit_code"))

    def days(self, table: str, column: str) -> np.ndarray:
        return self.memo(f"days:{table}.{column}", lambda: to_days(self.col(table, column)))

    def stream(self, key: str, build: Callable[[], EventStream]) -> EventStream:
        return self.memo(f"stream:{key}", build)

    def memo(self, key: str, build: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]  # type: ignore[return-value]

    def _index_of(self, codes: np.ndarray) -> np.ndarray:
        if self._single is not None:  # one-firm request: a comparison beats hashing
            return np.where(codes == self._single, 0, -1).astype(np.int64)
        return self._many().get_indexer(codes).astype(np.int64)

    def _firm_rows(self) -> np.ndarray:
        codes = self.col("firms", "credit_code")
        if self._single is not None:
            hits = np.flatnonzero(codes == self._single)
            return np.array([hits[0] if len(hits) else -1], dtype=np.int64)
        return pd.Index(codes).get_indexer(self._many()).astype(np.int64)

    def _many(self) -> pd.Index:
        """The universe of a build of several firms (a one-firm build compares instead)."""
        assert self._universe is not None
        return self._universe
