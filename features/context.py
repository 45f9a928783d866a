"""The state of one feature build: the as-of queries, the firm universe, cached streams."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

import numpy as np
import pandas as pd
from features.schemas import TABLES

from features.errors import UnknownFirm
from features.pit import EventStream, Queries, to_days

T = TypeVar("T")


class BuildContext:
    """Maps the applications to as-of queries and every source table to the same firm ints.

    Families ask it for tables, firm ids and streams; streams are built once per build and
    shared (the policy family reuses the IP and financial streams, for example).
    """

    def __init__(self, sources: Mapping[str, pd.DataFrame], applications: pd.DataFrame) -> None:
        self.sources = sources
        self.apps = applications
        codes = applications["credit_code"].to_numpy()
        self.firm_codes = pd.Index(pd.unique(codes))
        self.q = Queries(self.firm_codes.get_indexer(codes), to_days(applications["applied_on"]))
        firms = self.table("firms")
        row = pd.Index(firms["credit_code"]).get_indexer(self.firm_codes)
        if (row < 0).any():
            missing = self.firm_codes[row < 0]
            raise UnknownFirm(
                f"applications name {len(missing)} firm(s) absent from table 'firms', "
                f"e.g. {list(missing[:3])}"
            )
        #: Row of ``firms`` for each query (one firm row per credit code).
        self.firm_row = row[self.q.firm]
        self._memo: dict[str, object] = {}

    def __len__(self) -> int:
        return len(self.q)

    def table(self, name: str) -> pd.DataFrame:
        """A source table; an absent table is an empty one (a thin file is not an error)."""
        frame = self.sources.get(name)
        if frame is None:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in TABLES[name].columns})
        return frame

    def firm_ids(self, name: str) -> np.ndarray:
        """Dense firm ints of a table's rows (-1 for firms outside this build)."""
        return self.memo(
            f"firm_ids:{name}",
            lambda: self.firm_codes.get_indexer(self.table(name)["credit_code"].to_numpy()),
        )

    def days(self, name: str, column: str) -> np.ndarray:
        return self.memo(f"days:{name}.{column}", lambda: to_days(self.table(name)[column]))

    def stream(self, key: str, build: Callable[[], EventStream]) -> EventStream:
        return self.memo(f"stream:{key}", build)

    def memo(self, key: str, build: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = build()
        return self._memo[key]  # type: ignore[return-value]
