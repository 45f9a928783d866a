"""``techrisk retrain``: a challenger on the newer table, judged against the champion.

The challenger is trained by the same stages and tuning budget as ``techrisk train`` on the
table's labelled rows (recent applications whose 12 months are not over have no outcome
yet). Both models then score the same newest out-of-time window: the challenger's OOT
slice, cut so that it starts after the last day the champion was fitted or calibrated on.
The gates' values are logged to the challenger's MLflow run; if every gate passes (and the
run is not a dry run) ``@champion`` moves to the challenger and the old one keeps
``@previous``. A dry run leaves the registry as it found it: the challenger is logged to its
run (tagged ``techrisk.dry_run``) but not registered.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import mlflow
import pandas as pd

from models.packaging import load_pd_model
from models.pd_model import PDModel
from techrisk_base import settings
from training.config import ConfigError, TrainConfig
from training.dataset import read_table
from training.gates import GateConfig, GateResult, Window, evaluate_gates
from training.promotion import PromotionJournal, PromotionRecord, alias_version, move_champion
from training.run import RunResult, train


@dataclass
class RetrainResult:
    champion_version: str
    #: None in a dry run: the challenger is on its run only, not in the registry.
    challenger_version: str | None
    run_id: str
    window_start: dt.date
    window_rows: int
    window_labelled: int
    gates: list[GateResult]
    promotion: PromotionRecord | None

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.gates)


def _last_fitted_day(model: PDModel) -> dt.date | None:
    """The last application date of the slices a model was fitted and calibrated on."""
    valid = model.info.get("window", {}).get("valid")
    if not valid:
        return None
    return dt.date.fromisoformat(valid.split("–")[-1].strip())


def labelled_table(table: Path, config: TrainConfig) -> tuple[pd.DataFrame, Path]:
    """The feature table and a copy of its labelled rows (what a run can learn from)."""
    frame = read_table(table)
    if config.label_column not in frame.columns:
        raise ConfigError(f"label column '{config.label_column}' is not in {table}")
    out = settings.var_dir() / "retrain" / f"{Path(table).stem}.labelled.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    frame[frame[config.label_column].notna()].to_parquet(out, index=False)
    return frame, out


def _coverage(frame: pd.DataFrame, features: list[str]) -> dict[str, float]:
    return {f: float(frame[f].notna().mean()) if f in frame else 0.0 for f in features}


def retrain(
    config: TrainConfig,
    gate_config: GateConfig,
    *,
    dry_run: bool,
    by: str,
    journal: PromotionJournal | None = None,
    reason: str | None = None,
    step: Callable[[str], None] = lambda _m: None,
) -> RetrainResult:
    """Train the challenger, evaluate the gates, promote when all pass (unless a dry run).

    ``journal`` records the promotion before any alias moves; only a dry run needs none.
    """
    if journal is None and not dry_run:
        raise ValueError("retrain needs a journal to record a promotion, unless it is a dry run")
    name = config.registered_name
    champion_version = alias_version(name, "champion")
    if champion_version is None:
        raise ConfigError(f"model {name} has no @champion: run techrisk train first")
    champion = load_pd_model(f"models:/{name}/{champion_version}")

    frame, labelled_path = labelled_table(config.path, config)
    step(f"training the challenger on {labelled_path.name}")
    result: RunResult = train(
        replace(config, path=labelled_path),
        step=step,
        register=not dry_run,
        tags={"techrisk.retrain": "challenger", "techrisk.dry_run": str(dry_run).lower()},
    )
    challenger = result.model

    split = challenger.info["window"]
    if "oot_start" not in split or config.date_column is None:
        raise ConfigError(
            f"retrain compares models on the newest applications, so it needs a time split; "
            f"got split_kind {split.get('split_kind')!r}"
        )
    dates = pd.to_datetime(frame[config.date_column])
    start = dt.date.fromisoformat(split["oot_start"])
    fitted = _last_fitted_day(champion)
    if fitted is not None and fitted >= start:
        start = fitted + dt.timedelta(days=1)
    in_window = (dates >= pd.Timestamp(start)).to_numpy()
    window = frame[in_window].reset_index(drop=True)
    labelled = window[config.label_column].notna().to_numpy()
    if labelled.sum() == 0:
        raise ConfigError(
            f"no labelled application on or after {start} (after the champion's fitting "
            "window): extend the market further before retraining"
        )
    step(f"scoring the window from {start}: {len(window):,} applications")
    champ_scores = champion.score(champion.encode(window))
    chall_scores = challenger.score(challenger.encode(window))
    train_rows = frame[(dates < pd.Timestamp(split["valid_start"])).to_numpy()]
    gate_window = Window(
        y=window.loc[labelled, config.label_column].to_numpy(dtype=float),
        product=window.loc[labelled, config.product_column].astype(str).to_numpy(),
        champion_pd=champ_scores.pd[labelled],
        challenger_pd=chall_scores.pd[labelled],
        challenger_grade=chall_scores.grade[labelled],
        champion_score_all=champ_scores.score,
        challenger_score_all=chall_scores.score,
        coverage_train=_coverage(train_rows, challenger.features),
        coverage_window=_coverage(window, challenger.features),
    )
    gates = evaluate_gates(gate_window, gate_config)
    passed = all(g.passed for g in gates)
    gate_dicts = [asdict(g) for g in gates]
    # Resume the challenger's run in its own experiment: a screening or monitoring run earlier
    # in the same process may have left another experiment active, which start_run refuses.
    mlflow.set_experiment(experiment_id=mlflow.get_run(result.run_id).info.experiment_id)
    with mlflow.start_run(run_id=result.run_id):
        mlflow.log_params(
            {
                "retrain_champion_version": champion_version,
                "retrain_window_start": start.isoformat(),
                "retrain_dry_run": dry_run,
                **{f"gate_{k}": v for k, v in asdict(gate_config).items()},
            }
        )
        metrics = {}
        for g in gates:
            metrics[f"gate_{g.name}_value"] = g.value
            metrics[f"gate_{g.name}_threshold"] = g.threshold
            metrics[f"gate_{g.name}_passed"] = float(g.passed)
        mlflow.log_metrics({**metrics, "gates_passed": float(passed)})
        mlflow.log_dict({"window_start": start.isoformat(), "gates": gate_dicts}, "gates.json")
    promotion = None
    if passed and journal is not None and not dry_run and result.model_version is not None:
        promotion = move_champion(
            name,
            result.model_version,
            action="promote",
            by=by,
            reason=reason or "every retrain gate passed",
            journal=journal,
            gates=gate_dicts,
            run_id=result.run_id,
        )
    return RetrainResult(
        champion_version=champion_version,
        challenger_version=result.model_version,
        run_id=result.run_id,
        window_start=start,
        window_rows=len(window),
        window_labelled=int(labelled.sum()),
        gates=gates,
        promotion=promotion,
    )
