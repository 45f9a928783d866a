"""The monitor's report: a JSON file, one self-contained HTML page (plots inlined), an MLflow run.

The page renders the numbers of ``drift.monitor`` and nothing else, so the page and the JSON
never disagree. Plot labels are English (no CJK font is assumed on a server); headings and
the verdict are bilingual.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import mlflow
import numpy as np
from matplotlib.figure import Figure

from models.reference import ALL
from techrisk_base import settings

EXPERIMENT = "techrisk-monitor"
#: Features shown in the PSI heatmap: the most drifted ones.
HEATMAP_FEATURES = 15
VERDICT = {
    "ok": ("稳定：未越过任何阈值", "stable: no threshold crossed"),
    "watch": ("关注：有指标越过关注阈值", "watch: a watch threshold is crossed"),
    "act": ("行动：有指标越过行动阈值", "act: an act threshold is crossed"),
}
STYLE = """
body{font-family:system-ui,"Noto Sans CJK SC","PingFang SC",sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em}
td{text-align:right}td:first-child{text-align:left}th{background:#f3f3f3}
.act{color:#b00020;font-weight:bold}.ok{color:#1b5e20;font-weight:bold}
.watch{color:#a05a00;font-weight:bold}.too_few{color:#777}
.headline{font-size:1.15em;padding:.6em;border:2px solid}img{max-width:100%}
"""


def _json_safe(value: Any) -> Any:
    """NaN (an empty histogram's PSI) as null: JSON has no NaN."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _png(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return "<img src='data:image/png;base64," + base64.b64encode(buf.getvalue()).decode() + "'>"


def score_psi_figure(report: dict[str, Any]) -> Figure:
    """Score PSI per month, one line per segment, with the watch and act lines."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for segment in sorted({w["segment"] for w in report["windows"]}):
        ws = [w for w in report["windows"] if w["segment"] == segment]
        ax.plot([w["month"] for w in ws], [w["score_psi"] for w in ws], marker="o", label=segment)
    t = report["thresholds"]
    ax.axhline(t["psi_watch"], color="orange", linestyle=":", label="watch")
    ax.axhline(t["psi_act"], color="red", linestyle=":", label="act")
    ax.set(ylabel="PSI", title="Score PSI against training, per month")
    ax.tick_params(axis="x", rotation=45)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def feature_psi_figure(report: dict[str, Any]) -> Figure:
    """Heatmap of the most drifted features' PSI (all products) by month."""
    ws = [w for w in report["windows"] if w["segment"] == ALL]
    names = list(ws[0]["features"])
    table = np.array([[w["features"][n]["psi"] for w in ws] for n in names], dtype=float)
    top = np.argsort(-np.nan_to_num(table).max(axis=1))[:HEATMAP_FEATURES]
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(top) + 1.5))
    image = ax.imshow(table[top], aspect="auto", cmap="Reds", vmin=0, vmax=0.5)
    ax.set_yticks(range(len(top)), [names[i] for i in top], fontsize=7)
    ax.set_xticks(range(len(ws)), [w["month"] for w in ws], rotation=45, fontsize=7)
    ax.set_title("Feature PSI (all products), most drifted")
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    return fig


def migration_figure(segment: dict[str, Any]) -> Figure:
    """Champion grade (rows) × shadow grade (columns), counts."""
    matrix = np.array(segment["grade_migration"])
    fig, ax = plt.subplots(figsize=(4.5, 4))
    ax.imshow(np.log1p(matrix), cmap="Blues")
    for (i, j), n in np.ndenumerate(matrix):
        if n:
            ax.text(j, i, str(n), ha="center", va="center", fontsize=6)
    ticks = range(len(segment["grades"]))
    ax.set_xticks(ticks, segment["grades"])
    ax.set_yticks(ticks, segment["grades"])
    ax.set(xlabel="shadow grade", ylabel="champion grade", title="Grade migration")
    fig.tight_layout()
    return fig


def calibration_figure(calib: dict[str, Any]) -> Figure:
    """Realised default rate against mean predicted PD per grade."""
    rows = calib["grades"]
    x = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(x - 0.2, [r["mean_pd"] for r in rows], 0.4, label="mean PD")
    ax.bar(x + 0.2, [r["realised_rate"] for r in rows], 0.4, label="realised")
    ax.set_xticks(x, [str(r["grade"]) for r in rows])
    ax.set(xlabel="grade", ylabel="default rate", title="Realised vs predicted, per grade")
    ax.legend()
    fig.tight_layout()
    return fig


def _cell(status: str) -> str:
    return f"<td class='{status}'>{status}</td>"


def render_html(report: dict[str, Any]) -> str:
    zh, en = VERDICT[report["status"]]
    parts = [
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>",
        f"<title>techrisk monitor</title><style>{STYLE}</style></head><body>",
        "<h1>模型监控 · Model monitoring</h1>",
        f"<p class='headline {report['status']}'>{zh}<br>{en}</p>",
        f"<p>model version {html.escape(report['model_version'])}; "
        f"{report['decisions']} decisions, {report['period']['first']} – "
        f"{report['period']['last']} (windows by {report['window_by']}); "
        f"unreadable inputs: {len(report['unreadable'])}</p>",
        "<h2>人群稳定性 · Population drift</h2>",
        "<table><tr><th>segment</th><th>month</th><th>rows</th><th>score PSI</th>"
        "<th>status</th><th>flagged features</th></tr>",
    ]
    for w in report["windows"]:
        flagged = ", ".join(
            f"{n} (PSI {w['features'][n]['psi']:.2f}, missing "
            f"{w['features'][n]['missing_reference']:.0%}→{w['features'][n]['missing_now']:.0%})"
            for n in w["flagged_features"][:5]
        )
        parts.append(
            f"<tr><td>{w['segment']}</td><td>{w['month']}</td><td>{w['rows']}</td>"
            f"<td>{w['score_psi']:.3f}</td>{_cell(w['status'])}"
            f"<td style='text-align:left'>{html.escape(flagged)}</td></tr>"
        )
    parts += ["</table>", _png(score_psi_figure(report)), _png(feature_psi_figure(report))]
    shadow = report["shadow"]
    parts.append("<h2>冠军与影子模型 · Champion vs shadow</h2>")
    if shadow is None:
        parts.append("<p>无影子评分 · no shadow scores in this period</p>")
    else:
        parts.append(
            f"<p>shadow versions {', '.join(shadow['shadow_versions'])}</p><table><tr>"
            "<th>segment</th><th>rows</th><th>score PSI</th><th>same grade</th>"
            "<th>decision flips</th><th>status</th></tr>"
        )
        for name, s in shadow["segments"].items():
            parts.append(
                f"<tr><td>{name}</td><td>{s['rows']}</td><td>{s['score_psi']:.3f}</td>"
                f"<td>{s['same_grade']:.1%}</td><td>{s['flip_rate']:.1%}</td>"
                f"{_cell(s['status'])}</tr>"
            )
        parts += ["</table>", _png(migration_figure(shadow["segments"][ALL]))]
    calib = report["calibration"]
    parts.append("<h2>实际违约 · Realised defaults</h2>")
    if calib is None:
        parts.append("<p>尚无结果数据 · no outcomes loaded for these loans yet</p>")
    else:
        parts.append(
            "<table><tr><th>grade</th><th>loans</th><th>defaults</th><th>realised</th>"
            "<th>mean PD</th><th>binomial p</th><th>status</th></tr>"
        )
        for r in calib["grades"]:
            parts.append(
                f"<tr><td>{r['grade']}</td><td>{r['loans']}</td><td>{r['defaults']}</td>"
                f"<td>{r['realised_rate']:.2%}</td><td>{r['mean_pd']:.2%}</td>"
                f"<td>{r['p_value']:.3g}</td>{_cell(r['status'])}</tr>"
            )
        parts += ["</table>", _png(calibration_figure(calib))]
    parts.append("</body></html>")
    return "".join(parts)


def write_report(report: dict[str, Any], out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = {"json": out / "monitor.json", "html": out / "monitor.html"}
    files["json"].write_text(
        json.dumps(_json_safe(report), ensure_ascii=False, indent=1), encoding="utf-8"
    )
    files["html"].write_text(render_html(report), encoding="utf-8")
    return files


def log_report(report: dict[str, Any], files: dict[str, Path]) -> str:
    """One MLflow run per monitor pass: headline metrics, statuses, the two files."""
    uri = settings.tracking_uri()
    settings.ensure_local_store(uri)
    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=settings.artifact_location())
    mlflow.set_experiment(EXPERIMENT)
    metrics: dict[str, float] = {}
    for w in report["windows"]:
        key = f"{w['segment']}_{w['month']}"
        if not math.isnan(w["score_psi"]):
            metrics[f"score_psi_{key}"] = w["score_psi"]
        psis = [f["psi"] for f in w["features"].values() if not math.isnan(f["psi"])]
        if psis:
            metrics[f"max_feature_psi_{key}"] = max(psis)
    if report["shadow"]:
        for name, s in report["shadow"]["segments"].items():
            metrics[f"shadow_score_psi_{name}"] = s["score_psi"]
            metrics[f"shadow_flip_rate_{name}"] = s["flip_rate"]
    if report["calibration"]:
        metrics["realised_rate"] = report["calibration"]["realised_rate"]
        metrics["realised_mean_pd"] = report["calibration"]["mean_pd"]
    with mlflow.start_run() as run:
        mlflow.log_params(
            {
                "model_version": report["model_version"],
                "window_by": report["window_by"],
                **{f"threshold_{k}": v for k, v in report["thresholds"].items()},
            }
        )
        mlflow.set_tags({"status": report["status"], **report["parts"]})
        mlflow.log_metrics({k: float(v) for k, v in metrics.items() if math.isfinite(v)})
        for path in files.values():
            mlflow.log_artifact(str(path))
        return run.info.run_id
