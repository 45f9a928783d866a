"""A mistake the user can fix is one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from techrisk.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _elsewhere(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Run in an empty folder, with every embedded store under it."""
    monkeypatch.chdir(tmp_path)
    for name in ("MLFLOW_TRACKING_URI", "TECHRISK_DATABASE_URL", "TECHRISK_ARTIFACT_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TECHRISK_VAR", str(tmp_path / "var"))


def _one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["screen", "--coverage", "2"], "coverage must be within (0, 1]; got 2.0"),
        (["screen", "--coverage", "nan"], "coverage must be within (0, 1]; got nan"),
        (["screen", "--fund-capital", "-5"], "fund_capital must be > 0 (万元); got -5.0"),
        (["screen", "--shock-factor", "0"], "shock_factor must be > 0; got 0.0"),
        (["screen", "--lgd", "none=1.5"], "lgd['none'] must be within [0, 1]; got 1.5"),
        (["screen", "--market", "no-such-dir"], "no-such-dir: not a directory of contract tables"),
        (["features", "--market", "no-such-dir"], "no-such-dir: not a directory"),
        (["train", "--table", "absent.parquet"], "absent.parquet does not exist"),
        (["audit", "list"], "audit store sqlite:///"),
    ],
)
def test_a_user_error_is_one_line_with_exit_status_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = _one_line_error(capsys)
    assert err.startswith(f"techrisk {argv[0]}: error: ")
    assert message in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["generate", "--firms", "0"], "argument --firms: must be a positive integer; got '0'"),
        (["demo", "--firms", "many"], "argument --firms: must be a positive integer; got 'many'"),
        (["serve", "--port", "70000"], "argument --port: must be a TCP port in 1..65535"),
        (["train", "--valid-start", "2020-13-01"], "argument --valid-start: must be an ISO date"),
        (["train", "--tune-trials", "-3"], "argument --tune-trials: must be an integer >= 0"),
        (["retrain", "--tune-trials", "many"], "argument --tune-trials: must be an integer >= 0"),
        (["screen", "--chunk", "0"], "argument --chunk: must be a positive integer; got '0'"),
        (["audit", "list", "--limit", "-1"], "argument --limit: must be a positive integer"),
    ],
)
def test_a_bad_argument_value_is_argparse_usage_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert message in err.splitlines()[-1]


@pytest.mark.slow
def test_a_missing_model_names_the_uri_and_store(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bento"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    # MLflow logs its own creation of the empty store first; the error is the last line.
    err = err.strip().splitlines()[-1]
    assert err.startswith("techrisk bento: error: ")
    assert "no model at models:/techrisk-pd@champion in the MLflow store sqlite:///" in err


def test_a_schema_error_of_several_rules_prints_as_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    market = tmp_path / "market"
    market.mkdir()
    (market / "firms.csv").write_text("credit_code,name\nnot-a-code,x\n")
    assert main(["features", "--market", str(market)]) == 2
    err = _one_line_error(capsys)
    assert "table 'firms'" in err or "firms:" in err


@pytest.mark.slow
def test_the_console_script_exits_non_zero_without_a_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "techrisk.cli", "screen", "--coverage", "1.5"],
        cwd=REPO,
        env={**os.environ, "TECHRISK_VAR": str(tmp_path / "var")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "techrisk screen: error: coverage must be within (0, 1]; got 1.5"
