"""Split a fund's input files into parts by firm, reading each file once in bounded batches.

Screening must not hold a million firms' records at once, yet a firm's features need all of
its records together. One streaming pass hashes every row's ``credit_code`` into one of
``n_parts`` buckets and appends it to that bucket's file per table; each part then holds
whole firms and is screened on its own (one after another, or in parallel on Dask workers).

Part files are uncompressed Arrow IPC (Feather v2), not Parquet: they are written once and read
once on the same machine, and Arrow's own layout needs no encoding either way (measured on a
20 k-firm market: 5× faster to write and 4× faster to read than Parquet, for 8× the disk; the
work directory is an intermediate, removed with ``--restart``).

Rows are not validated here, only routed: a row with a broken credit code still lands in some
part, where validation reports it with its row number in the input file (``_row``). Nothing is
dropped on the way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from features.errors import Failure, SchemaError
from features.schemas import SOURCE_TABLES, TABLES

#: Column carrying each row's 0-based position in its input file.
ROW = "_row"
#: Rows read per batch while partitioning: bounds memory whatever the file size.
BATCH_ROWS = 200_000
#: Columns a fund's list may leave out (the outcome is not known when screening).
OPTIONAL = {"applications": ("default_12m",)}
SUFFIXES = (".parquet", ".csv")
#: The part files' format, recorded in a run's manifest so that a resume never mixes formats.
PART_FORMAT = "arrow-ipc"
PART_SUFFIX = ".arrow"


@dataclass(frozen=True)
class ScreenInputs:
    """The files of one screening: each contract table (absent = no rows) and the list."""

    tables: dict[str, Path]

    @classmethod
    def from_paths(cls, market: Path, applications: Path | None = None) -> ScreenInputs:
        """Tables ``<name>.parquet|csv`` in ``market``; the list from there or its own path."""
        market = Path(market)
        if not market.is_dir():
            raise FileNotFoundError(f"{market}: not a directory of contract tables")
        tables = {}
        for name in SOURCE_TABLES:
            path = next(
                (market / f"{name}{s}" for s in SUFFIXES if (market / f"{name}{s}").exists()),
                None,
            )
            if path is not None:
                tables[name] = path
        if applications is not None:
            tables["applications"] = Path(applications)
        if "applications" not in tables:
            raise FileNotFoundError(
                f"no applications list: give --applications or put applications.parquet|csv "
                f"in {market}"
            )
        if "firms" not in tables:
            raise FileNotFoundError(f"{market}: no firms.parquet or firms.csv")
        for path in tables.values():
            if path.suffix not in SUFFIXES:
                raise ValueError(f"{path}: suffix must be one of {', '.join(SUFFIXES)}")
        return cls(tables)

    def fingerprint(self) -> dict[str, list]:
        """What identifies the inputs for a resume: path, size and modification time."""
        return {
            name: [str(path.resolve()), path.stat().st_size, path.stat().st_mtime_ns]
            for name, path in sorted(self.tables.items())
        }

    def count_applications(self) -> int:
        path = self.tables["applications"]
        if path.suffix == ".parquet":
            return pq.ParquetFile(path).metadata.num_rows
        return sum(len(b) for b in _csv_batches(path, ["credit_code"]))


def part_name(k: int) -> str:
    return f"part-{k:05d}"


def partition(inputs: ScreenInputs, directory: Path, n_parts: int) -> None:
    """Write ``directory/part-KKKKK/<table>.arrow`` for every table and part."""
    for name, path in inputs.tables.items():
        writers: dict[int, ipc.RecordBatchFileWriter] = {}
        offset = 0
        try:
            for batch in _batches(name, path):
                rows = pa.array(np.arange(offset, offset + len(batch), dtype=np.int64))
                offset += len(batch)
                table = pa.Table.from_batches([batch]).append_column(ROW, rows)
                bucket = _parts_of_column(table.column("credit_code"), n_parts)
                order = np.argsort(bucket, kind="stable")
                bounds = np.searchsorted(bucket[order], np.arange(n_parts + 1))
                for k in range(n_parts):
                    if bounds[k] == bounds[k + 1]:
                        continue
                    piece = table.take(pa.array(order[bounds[k] : bounds[k + 1]]))
                    if k not in writers:
                        out = directory / part_name(k) / f"{name}{PART_SUFFIX}"
                        out.parent.mkdir(parents=True, exist_ok=True)
                        writers[k] = ipc.new_file(out, piece.schema)
                    writers[k].write_table(piece)
        finally:
            for writer in writers.values():
                writer.close()


def read_part(part_dir: Path) -> dict[str, pd.DataFrame]:
    """Every table of one part as pandas, with Parquet's dtypes, indexed 0…n−1.

    An input file may carry a stored pandas index (``frame.tail(200).to_parquet()``); it is
    not a row number here (``_row`` is), and positions are what validation indexes by.
    """
    return {
        p.stem: ipc.open_file(p).read_all().to_pandas().reset_index(drop=True)
        for p in sorted(part_dir.glob(f"*{PART_SUFFIX}"))
    }


def part_of(codes: np.ndarray, n_parts: int) -> np.ndarray:
    """The part of each credit code: a fixed hash, so a firm's rows always meet.

    Codes are hashed as given; a code with stray spaces is invalid anyway and is reported
    from whichever part it lands in.
    """
    values = pd.Series(codes, dtype=object).fillna("").to_numpy(dtype=object)
    return (pd.util.hash_array(values) % np.uint64(n_parts)).astype(np.int64)


def _parts_of_column(codes: pa.ChunkedArray, n_parts: int) -> np.ndarray:
    """``part_of`` for an Arrow column, hashing each distinct code once (a firm's code
    repeats on all its records)."""
    encoded = pc.dictionary_encode(codes.combine_chunks())
    indices = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    # the nulls' part last, so that index -1 picks it
    values = np.append(encoded.dictionary.to_numpy(zero_copy_only=False), None)
    return part_of(values, n_parts)[indices]


def _batches(name: str, path: Path):
    """The table's contract columns in batches; a missing required column fails up front."""
    schema = TABLES[name]
    wanted = list(schema.columns)
    present = (
        set(pq.read_schema(path).names)
        if path.suffix == ".parquet"
        else set(pacsv.open_csv(path).schema.names)
    )
    missing = [c for c in wanted if c not in present and c not in OPTIONAL.get(name, ())]
    if missing:
        raise SchemaError(
            name, [Failure(None, c, None, f"is required but missing from {path}") for c in missing]
        )
    columns = [c for c in wanted if c in present]
    if path.suffix == ".parquet":
        yield from pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=columns)
    else:
        yield from _csv_batches(path, columns)


def _csv_batches(path: Path, columns: list[str]):
    """CSV read as text: parsing (and reporting what does not parse) is the loader's job."""
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=1 << 24),
        convert_options=pacsv.ConvertOptions(
            include_columns=columns,
            column_types=dict.fromkeys(columns, pa.string()),
            strings_can_be_null=True,
        ),
    )
    yield from reader
