"""The model card: what a data team and a credit committee read before trusting a model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def _decision_bands(model: PDModel, products: Sequence[str] | None) -> str:
    """Cut-offs for the products the training table holds; none when it has no product."""
    cutoffs = model.policy.to_dict()["cutoffs"]
    shown = [p for p in cutoffs if products is not None and p in set(products)]
    if not shown:
        return (
            "None: the training table has no product the decision policy knows, so the model "
            "gives PD, score and grade; approve / decline cut-offs are the bank's to set."
        )
    rows = "\n".join(
        f"| {p} | ≤ {cutoffs[p]['approve_max']:.1%} | > {cutoffs[p]['decline_min']:.1%} |"
        for p in shown
    )
    return f"| product | approve if PD | decline if PD |\n|---|---|---|\n{rows}"


def _champion_text(model: PDModel, chosen_on: str) -> str:
    """What the served margin is, for the kind of champion this run chose."""
    exact = (
        "so each feature's contribution converts exactly into score points "
        f"(slope a = {model.calibrator.slope_:.4f}, intercept b = "
        f"{model.calibrator.intercept_:.4f})."
    )
    if model.kind == "gbm":
        return (
            "The champion is the monotone-constrained LightGBM. The PD is the Platt-calibrated "
            f"map of its margin, and each feature's TreeSHAP contribution is exact, {exact}"
        )
    if model.kind == "scorecard":
        terms = len(model.scorecard.terms)
        return (
            f"The champion is the WoE logistic scorecard ({terms} features, event-rate trends "
            "following the registered directions). The PD is the Platt-calibrated map of its "
            f"logit, and each feature's term (coefficient × WoE of its bin) is additive, {exact}"
        )
    w = model.blend_weight
    return (
        f"The champion is a blend of the LightGBM margin (weight w = {w:.2f}) and the WoE "
        f"scorecard's logit (weight 1 − w = {1 - w:.2f}), the weight chosen on {chosen_on}. "
        "The PD is the Platt-calibrated map of the blended margin, and each feature's "
        f"contribution (w · TreeSHAP + (1 − w) · WoE term) is exact, {exact}"
    )


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
    label_column: str = "default_12m",
    label_description: str | None = None,
    positive_label: str | int | tuple[str | int, ...] | None = None,
    products: Sequence[str] | None = None,
    has_oracle: bool = False,
    has_policy_points: bool = False,
    chosen_on: str = "the validation slice",
    tuning: str = "",
) -> str:
    """The card in Markdown; it states only what this run has.

    ``chosen_on`` says which rows chose the champion among the contenders (the validation
    slice, or folds over train + valid for a small table without dates); ``tuning`` is the
    sentence on the booster's search (``training.run.tuning_sentence``): a reviewer who
    trains again must know whether the same booster is to be expected.

    No oracle sentence without a true PD, no policy-points sentence without that baseline, no
    decision bands for products the table does not hold, and the label in the config's words.
    """
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
    warnings = "\n".join(f"- {w}" for w in data_warnings) or "- none"
    baselines = "\n".join(
        line
        for line, present in (
            (
                "The oracle is the synthetic market's true PD: the ceiling any model could reach "
                "on these rows.",
                has_oracle,
            ),
            (
                "The policy points baseline is the 科技型中小企业 evaluation score alone (a "
                "ranking, not a PD).",
                has_policy_points,
            ),
        )
        if present
    )
    if positive_label is None:
        positive = f"'{label_column}' = 1"
    elif isinstance(positive_label, tuple):
        positive = f"'{label_column}' in {list(positive_label)!r}"
    else:
        positive = f"'{label_column}' = {positive_label!r}"
    label = (
        f"A positive label ({positive}) means: {label_description}."
        if label_description
        else f"A positive label is {positive} as the table records it (the config gives no "
        "label_description)."
    )
    seasoning = (
        " The newest applications' outcomes are the least seasoned."
        if window.get("split_kind") == "time"
        else ""
    )
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

{baselines}

### Per product (OOT)
{_metrics_table(per_product, ("auc", "ks", "ece", "default_rate", "pd_mean", "rows"))}

Score stability (PSI of the score, train vs OOT): {psi_score:.4f}.

## Score scale
score = {scale.offset:.2f} + {scale.factor:.4f} · ln((1 − PD) / PD):
{scale.base_score:.0f} points at odds {scale.base_odds:.0f}:1 (good:bad), {scale.pdo:.0f} points
to double the odds.
The champion was chosen among the contenders on {chosen_on}; the OOT slice took no part.
{_champion_text(model, chosen_on)}
{tuning}

| grade | PD range | score range |
|---|---|---|
{grade_rows}

### Observed default rate by grade (OOT)
| grade | rows | defaults | default rate | mean PD |
|---|---|---|---|---|
{observed}

### Decision bands
{_decision_bands(model, products)}

## Data warnings
{warnings}

## Limitations
- Trained on the rows above only; populations unlike them (other regions, industries, loan
  sizes) are out of scope until monitored.
- Labels: {label}{seasoning}
- Monotone directions given (feature registry or the config's `[monotone]`) bind every
  servable contender: the booster's constraints, the scorecard's bin trends and coefficient
  signs; a feature with direction 0 may act non-monotonically.
- No resampling or class weights: the PD is calibrated on the validation slice; recalibrate
  when the default rate moves.
"""
