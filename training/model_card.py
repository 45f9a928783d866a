"""The model card: what a data team and a credit committee read before trusting a model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from models.pd_model import PDModel


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _metrics_table(contenders: Mapping[str, Mapping[str, float]], keys: tuple[str, ...]) -> str:
    lines = ["| model | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    for name, values in contenders.items():
        lines.append(f"| {name} | " + " | ".join(_fmt(values.get(k, "—")) for k in keys) + " |")
    return "\n".join(lines)


def render_model_card(
    *,
    model: PDModel,
    name: str,
    window: Mapping[str, str],
    rows: Mapping[str, int],
    contenders: Mapping[str, Mapping[str, float]],
    per_product: Mapping[str, Mapping[str, float]],
    grades: pd.DataFrame,
    psi_score: float,
    data_warnings: list[str],
    excluded: list[str],
) -> str:
    scale = model.scale
    grade_rows = "\n".join(
        f"| {g['grade']} | {g['pd_low']:.2%} – {g['pd_high']:.2%} | "
        f"{g['score_low']:.0f} – {g['score_high']:.0f} |"
        for g in model.master.table(scale)
    )
    observed = "\n".join(
        f"| {int(r.grade)} | {int(r.n)} | {int(r.defaults)} | {r.default_rate:.2%} | "
        f"{r.pd_mean:.2%} |"
        for r in grades.itertuples()
    )
    policy = "\n".join(
        f"| {product} | ≤ {c['approve_max']:.1%} | > {c['decline_min']:.1%} |"
        for product, c in model.policy.to_dict()["cutoffs"].items()
    )
    warnings = "\n".join(f"- {w}" for w in data_warnings) or "- none"
    return f"""# Model card: {name}

## Data
- Training window: {window.get("train", "—")}; validation: {window.get("valid", "—")};
  out-of-time test: {window.get("oot", "—")} (split: {window.get("split_kind", "—")}).
- Rows: train {rows.get("train", 0):,}, validation {rows.get("valid", 0):,},
  OOT {rows.get("oot", 0):,}.
- Features: {len(model.features)} ({len(model.encoder.categorical)} categorical).
  Excluded as likely leakage: {", ".join(excluded) or "none"}.

## Out-of-time performance against the baselines
{_metrics_table(contenders, ("auc", "gini", "ks", "brier", "ece"))}

The oracle is the synthetic market's true PD: the ceiling any model could reach on these rows.
The policy points baseline is the 科技型中小企业 evaluation score alone (a ranking, not a PD).

### Per product (OOT)
{_metrics_table(per_product, ("auc", "ks", "ece", "default_rate", "pd_mean", "rows"))}

Score stability (PSI of the score, train vs OOT): {psi_score:.4f}.

## Score scale
score = {scale.offset:.2f} + {scale.factor:.4f} · ln((1 − PD) / PD):
{scale.base_score:.0f} points at odds {scale.base_odds:.0f}:1 (good:bad), {scale.pdo:.0f} points
to double the odds. The PD is the
Platt-calibrated map of the LightGBM margin, so each feature's TreeSHAP contribution converts
exactly into score points (slope a = {model.calibrator.slope_:.4f},
intercept b = {model.calibrator.intercept_:.4f}).

| grade | PD range | score range |
|---|---|---|
{grade_rows}

### Observed default rate by grade (OOT)
| grade | rows | defaults | default rate | mean PD |
|---|---|---|---|---|
{observed}

### Decision bands
| product | approve if PD | decline if PD |
|---|---|---|
{policy}

## Data warnings
{warnings}

## Limitations
- Trained on the rows above only; populations unlike them (other regions, industries, loan
  sizes) are out of scope until monitored.
- Labels are 12-month defaults: the newest applications' outcomes are the least seasoned.
- Monotone constraints encode the registry's directions; a feature with direction 0 may act
  non-monotonically (R&D intensity has a sweet spot by design).
- No resampling or class weights: the PD is calibrated on the validation slice; recalibrate
  when the default rate moves.
"""
