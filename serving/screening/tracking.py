"""A screening run on record in MLflow: what was screened, with which model, and the report."""

from __future__ import annotations

import mlflow

from serving.scoring import ModelHandle
from serving.screening.run import ScreenResult
from techrisk_base import settings

EXPERIMENT = "techrisk-screening"


def log_screening(result: ScreenResult, handle: ModelHandle) -> str:
    """Log the report (JSON + HTML), counts and fund figures; the row-level output stays put.

    The scored rows can be millions; the run records where they were written instead.
    """
    uri = settings.tracking_uri()
    settings.ensure_local_store(uri)
    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        # Created here, not by set_experiment, whose default would put artifacts in ./mlruns.
        mlflow.create_experiment(EXPERIMENT, artifact_location=settings.artifact_location())
    mlflow.set_experiment(EXPERIMENT)
    report = result.report
    band = report["approve_band"]
    with mlflow.start_run() as run:
        mlflow.log_params(
            {
                "model_uri": handle.uri,
                "model_version": handle.version,
                "output": str(result.out.resolve()),
                **{
                    f"fund_{k}": v
                    for k, v in report["params"].items()
                    if k not in ("scenarios", "shocks")
                },
                "stress_scenarios": ", ".join(s["name"] for s in report["params"]["shocks"]),
            }
        )
        mlflow.log_metrics(
            {
                **{k: float(v) for k, v in result.counts.items()},
                "seconds": result.seconds,
                "expected_loss": report["expected_loss"]["total"],
                "approve_leverage": band["leverage"],
                "approve_el_to_capital": band["expected_loss_to_capital"],
                "approve_fundable": float(band["fundable"]),
                **{
                    f"stress_{s['scenario']}_approve_leverage": s["approve_leverage"]
                    for s in report["stress"]
                },
                **{f"stress_{s['scenario']}_el": s["expected_loss"] for s in report["stress"]},
            }
        )
        for key in ("report_json", "report_html", "summary", "errors"):
            mlflow.log_artifact(str(result.files[key]))
        return run.info.run_id
