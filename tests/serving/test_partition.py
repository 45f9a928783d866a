"""The partition's intermediate Arrow IPC parts: whole inputs, Parquet's frames, safe resumes."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from serving.model_source import from_registry
from serving.screening.part import ModelRef
from serving.screening.partition import (
    PART_SUFFIX,
    ROW,
    ScreenInputs,
    part_name,
    partition,
    read_part,
)
from serving.screening.run import ResumeMismatch, screen
from tests.conftest import environment

N_PARTS = 3


@pytest.fixture(scope="module")
def parts_dir(small_market_dir, tmp_path_factory):
    directory = tmp_path_factory.mktemp("parts")
    partition(ScreenInputs.from_paths(small_market_dir), directory, N_PARTS)
    return directory


def test_every_input_row_lands_in_exactly_one_part(small_market_dir, parts_dir) -> None:
    inputs = ScreenInputs.from_paths(small_market_dir)
    frames = [read_part(parts_dir / part_name(k)) for k in range(N_PARTS)]
    for name, path in inputs.tables.items():
        rows = pd.concat([f[name][ROW] for f in frames if name in f], ignore_index=True)
        assert sorted(rows) == list(range(pq.ParquetFile(path).metadata.num_rows)), name


def test_parts_read_back_as_parquet_would_give_them(parts_dir, tmp_path) -> None:
    """Same values and dtypes (strings, dates, booleans) as the Parquet parts they replace."""
    part = parts_dir / part_name(0)
    got = read_part(part)
    assert set(got) == {p.stem for p in part.glob(f"*{PART_SUFFIX}")} and "firms" in got
    for name, frame in got.items():
        pq.write_table(ipc.open_file(part / f"{name}{PART_SUFFIX}").read_all(), tmp_path / "t.pq")
        expected = pd.read_parquet(tmp_path / "t.pq").reset_index(drop=True)
        pd.testing.assert_frame_equal(frame, expected, check_exact=True)


def test_a_work_directory_of_another_part_format_does_not_resume(
    registry, small_market_dir, tmp_path
) -> None:
    with environment(registry):
        handle = from_registry()
    # a list cut from a bigger frame keeps its pandas index in the file: not a row number
    apps = pd.read_parquet(small_market_dir / "applications.parquet").tail(200)
    apps.to_parquet(tmp_path / "list.parquet")
    inputs = ScreenInputs.from_paths(small_market_dir, tmp_path / "list.parquet")
    ref = ModelRef(handle.name, handle.version)
    today = dt.date(2025, 6, 30)
    screen(inputs, tmp_path / "out", handle.model, ref, today=today)
    manifest = tmp_path / "out" / "work" / "manifest.json"
    older = json.loads(manifest.read_text())
    del older["part_format"]  # a run partitioned into Parquet before the format was recorded
    manifest.write_text(json.dumps(older))
    with pytest.raises(ResumeMismatch, match="part_format"):
        screen(inputs, tmp_path / "out", handle.model, ref, today=today)
