"""Read raw tables, coerce them to the contract's dtypes and validate them.

Validation reports every failing row, not just the first, because a bank fixing its export
needs the whole list; batch scoring uses :func:`split_valid` to score the good rows and
report the bad ones. Everything is vectorised (pandera's checks, ``valid_mask`` for credit
codes) so that millions of rows validate in seconds.

Two stages, both reporting :class:`~features.errors.Failure` rows:

1. coercion: each column is parsed to its dtype (see ``features.schemas``); values that do
   not parse (a date that is not a date, a number that is not a number) fail here;
2. the pandera schema checks the rows that parsed (ranges, categories, credit codes, keys,
   rules across columns).

Rows are reported by 0-based position in the table as given. Unknown columns are dropped;
a missing column fails the whole table.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from features.contract import BY_NAME
from features.errors import Failure, SchemaError
from features.schemas import DATE_DTYPE, SOURCE_TABLES, TABLES

_SUFFIXES = (".parquet", ".csv")
#: Tokens accepted for a flag, compared after stripping and lower-casing.
_FLAGS = {
    **dict.fromkeys(("true", "t", "yes", "y", "1", "1.0"), True),
    **dict.fromkeys(("false", "f", "no", "n", "0", "0.0"), False),
}
#: Wording of pandera's built-in checks.
_BUILT_IN_RULES = {
    "not_nullable": "must not be null",
    "field_uniqueness": "must be unique",
    "multiple_fields_uniqueness": "must be unique",
}
_NOT_NULL = _BUILT_IN_RULES["not_nullable"]
#: A table keyed on the whole record (``Table.whole_record_key``): its rows repeat.
WHOLE_RECORD_RULE = "must not repeat another row: one record twice would count twice"


def load_table(name: str, source: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Table ``name`` from a Parquet or CSV file (by suffix) or a frame, coerced and valid.

    Raises :class:`SchemaError` listing every failing row.
    """
    frame = source if isinstance(source, pd.DataFrame) else read_table(name, Path(source))
    return validate_table(name, frame)


def validate_table(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` coerced to the dtypes of table ``name``; :class:`SchemaError` if a row fails."""
    valid, failures = split_valid(name, frame)
    if failures:
        raise SchemaError(name, failures)
    return valid


def split_valid(name: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Failure]]:
    """The rows of ``frame`` that meet the contract (coerced) and the failures of the others.

    Rows keep their original index labels. Rows sharing a duplicated key all fail, since
    nothing says which of them is right. A missing column is not a row's fault, so it
    raises :class:`SchemaError` instead.
    """
    schema = _schema(name)
    absent = [c for c in schema.columns if c not in frame.columns]
    missing = [c for c in absent if BY_NAME[name].column(c).in_files == "required"]
    if missing:
        raise SchemaError(
            name, [Failure(None, c, None, "is required but missing") for c in missing]
        )
    # A column a file may leave out is read as missing throughout.
    frame = frame.assign(**dict.fromkeys(absent)) if absent else frame
    data = frame[list(schema.columns)].reset_index(drop=True)
    data, failures = _coerce(schema, data)
    parsed = _without(data, failures)
    parsed = parsed.astype(
        {c: _dtype(col) for c, col in schema.columns.items() if _kind(col) in ("int", "bool")}
    )
    failures += _check(schema, parsed)
    if any(f.row is None for f in failures):
        raise SchemaError(name, failures)
    order = {c: i for i, c in enumerate(schema.columns)}
    failures.sort(key=lambda f: (f.row, order.get(f.column, len(order))))
    valid = _without(parsed, failures)
    valid.index = frame.index[valid.index.to_numpy()]
    return valid, failures


def _without(data: pd.DataFrame, failures: list[Failure]) -> pd.DataFrame:
    """``data`` (indexed by row position) less the rows that failed."""
    return data[~data.index.isin([f.row for f in failures])] if failures else data


def read_table(name: str, path: Path) -> pd.DataFrame:
    """The contract's columns of ``path`` as stored (no coercion); others are not read."""
    wanted = list(_schema(name).columns)
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        present = set(pq.read_schema(path).names)
        return pd.read_parquet(path, columns=[c for c in wanted if c in present])
    if path.suffix == ".csv":
        text = [c for c, col in _schema(name).columns.items() if _kind(col) == "text"]
        return pd.read_csv(path, usecols=lambda c: c in wanted, dtype=dict.fromkeys(text, str))
    raise ValueError(f"{path}: suffix must be one of {', '.join(_SUFFIXES)}")


def load_sources(directory: str | Path) -> dict[str, pd.DataFrame]:
    """Every source table from ``<table>.parquet`` or ``<table>.csv`` in ``directory``.

    An absent table is an empty one (a thin-file firm has no IP, say). ``truth`` is not a
    source; read it with ``load_table("truth", path)``.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: not a directory")
    sources = {}
    for name in SOURCE_TABLES:
        path = next((p for p in _candidates(directory, name) if p.exists()), None)
        sources[name] = empty_table(name) if path is None else load_table(name, path)
    return sources


def empty_table(name: str) -> pd.DataFrame:
    """A table with no rows and the contract's columns and dtypes."""
    return pd.DataFrame(
        {c: pd.Series(dtype=_dtype(col)) for c, col in _schema(name).columns.items()}
    )


# -- coercion --------------------------------------------------------------------------------
def _coerce(schema: pa.DataFrameSchema, data: pd.DataFrame) -> tuple[pd.DataFrame, list[Failure]]:
    """Parse each column to its kind; values that do not parse become failures."""
    failures: list[Failure] = []
    parsers = {
        "text": _parse_text,
        "date": _parse_date,
        "float": _parse_number,
        "int": _parse_int,
        "bool": _parse_flag,
    }
    out = {}
    for column, spec in schema.columns.items():
        raw = data[column]
        out[column], bad, rule = parsers[_kind(spec)](raw)
        failures += _failures(column, raw, bad, rule)
        if _kind(spec) in ("int", "bool"):
            failures += _failures(column, raw, raw.isna().to_numpy(), _NOT_NULL)
    return pd.DataFrame(out, index=data.index, copy=False), failures


def _parse_text(raw: pd.Series) -> tuple[pd.Series, np.ndarray, str]:
    text = raw if raw.dtype == "str" else raw.astype(str).where(raw.notna())
    return text, np.zeros(len(raw), dtype=bool), ""


def _parse_date(raw: pd.Series) -> tuple[pd.Series, np.ndarray, str]:
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        raw = raw.dt.tz_localize(None)
    if raw.dtype.kind == "M":
        dates = raw
    else:
        dates = pd.to_datetime(_date_texts(raw), errors="coerce", format="ISO8601")
    bad = (raw.notna() & dates.isna()).to_numpy()
    return dates.astype(DATE_DTYPE), bad, "must be a date (YYYY-MM-DD)"


def _date_texts(raw: pd.Series) -> pd.Series:
    """Date cells as text for ISO 8601 parsing. A CSV column of ``20210301`` is read as
    numbers, and pandas 4 reads numbers as offsets from 1970: as text they stay what the bank
    wrote (ISO 8601's basic ``YYYYMMDD``), and any other number is no date. A column of text
    (the usual case, millions of rows in a screening) is passed on without a Python loop."""
    if pd.api.types.infer_dtype(raw, skipna=True) in ("string", "empty"):
        return raw
    return raw.map(_date_text)


def _date_text(value: object) -> object:
    if isinstance(value, bool | np.bool_):
        return str(value)
    if isinstance(value, int | np.integer):
        return str(value)
    if isinstance(value, float | np.floating):
        return str(int(value)) if np.isfinite(value) and value == int(value) else str(value)
    return value


def _parse_number(raw: pd.Series) -> tuple[pd.Series, np.ndarray, str]:
    numbers = pd.to_numeric(raw, errors="coerce").astype(np.float64)
    bad = (raw.notna() & ~np.isfinite(numbers)).to_numpy()
    return numbers.where(~bad), bad, "must be a finite number"


def _parse_int(raw: pd.Series) -> tuple[pd.Series, np.ndarray, str]:
    numbers, bad, _ = _parse_number(raw)
    bad = bad | ((numbers != np.floor(numbers)) & numbers.notna()).to_numpy()
    return numbers, bad, "must be an integer"


def _parse_flag(raw: pd.Series) -> tuple[pd.Series, np.ndarray, str]:
    if raw.dtype == np.bool_:
        return raw.astype(bool), np.zeros(len(raw), dtype=bool), ""
    flags = raw.astype(str).str.strip().str.lower().map(_FLAGS)
    bad = (raw.notna() & flags.isna()).to_numpy()
    return flags, bad, "must be true or false"


def _failures(column: str, raw: pd.Series, bad: np.ndarray, rule: str) -> list[Failure]:
    rows = np.flatnonzero(bad)
    return [
        Failure(int(r), column, v, rule) for r, v in zip(rows, raw.iloc[rows].tolist(), strict=True)
    ]


# -- pandera ---------------------------------------------------------------------------------
def _check(schema: pa.DataFrameSchema, data: pd.DataFrame) -> list[Failure]:
    """pandera's lazy validation, translated to one failure per (row, column, rule)."""
    try:
        schema.validate(data, lazy=True, inplace=True)  # inplace: no copy; nothing is coerced
    except pa.errors.SchemaErrors as exc:
        return _translate(schema, data, exc.failure_cases)
    return []


def _translate(
    schema: pa.DataFrameSchema, data: pd.DataFrame, cases: pd.DataFrame
) -> list[Failure]:
    failures: list[Failure] = []
    frame_level = cases["schema_context"] == "DataFrameSchema"
    by_check = cases[frame_level].groupby(["check", "check_number"], dropna=False, sort=False)
    for (check, number), group in by_check:
        rows = pd.unique(group["index"].dropna().astype(np.int64))
        if check == "multiple_fields_uniqueness":
            key = list(schema.unique)
            values: Iterable[object] = data.loc[rows, key].itertuples(index=False, name=None)
            whole = BY_NAME[schema.name].whole_record_key
            rule = WHOLE_RECORD_RULE if whole else _BUILT_IN_RULES[check]
            failures += _rows(rows, ", ".join(key), values, rule)
        else:
            rule = schema.checks[int(number)]
            failures += _rows(rows, rule.name, data.loc[rows, rule.name].tolist(), rule.error)
    columns = cases[~frame_level]
    rules = columns["check"].map(lambda c: _BUILT_IN_RULES.get(c, c))
    for row, column, value, rule in zip(
        columns["index"], columns["column"], columns["failure_case"], rules, strict=True
    ):
        failures.append(Failure(None if pd.isna(row) else int(row), column, value, rule))
    return failures


def _rows(rows: np.ndarray, column: str, values: Iterable[object], rule: str) -> list[Failure]:
    return [Failure(int(r), column, v, rule) for r, v in zip(rows, values, strict=True)]


# -- schema helpers --------------------------------------------------------------------------
def _schema(name: str) -> pa.DataFrameSchema:
    if name not in TABLES:
        raise ValueError(f"unknown table {name!r}; expected one of {', '.join(TABLES)}")
    return TABLES[name]


def _kind(column: pa.Column) -> str:
    return {"M": "date", "f": "float", "i": "int", "b": "bool"}.get(column.dtype.type.kind, "text")


def _dtype(column: pa.Column) -> str | np.dtype:
    """The dtype a column has after loading (dates at the contract's resolution)."""
    return {"date": DATE_DTYPE, "text": "str"}.get(_kind(column), column.dtype.type)


def _candidates(directory: Path, name: str) -> list[Path]:
    return [directory / f"{name}{suffix}" for suffix in _SUFFIXES]
