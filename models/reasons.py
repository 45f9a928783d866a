"""Reason codes: exact TreeSHAP contributions turned into a loan officer's words and points.

Each feature's contribution to the LightGBM margin converts exactly into score points
(``ScoreScale.points``), so the base points plus every feature's points equal the score. The
reasons group those points by feature family (IP, credit record, …), rank the families that
raise the risk and, separately, those that lower it, and render each family's main features in
Chinese and English with the firm's value beside a reference from the training population
(the industry median), in the manner of toad's ``ScoreCard.get_reason``.

Everything needed to speak — labels, units, families, references — is stored with the model,
so a model trained on a bank's own table explains itself with that table's column names.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import numpy as np

#: How a value of each unit is written: (zh suffix, en formatter).
_ZH_UNIT = {
    "count": "件",
    "times": "次",
    "wan": "万元",
    "days": "天",
    "months": "个月",
    "month_count": "个月",
    "rounds": "轮",
    "items": "项",
    "years": "年",
    "points": "分",
    "people": "人",
}
#: English unit names in the singular, for a value of exactly 1 ("1 time", not "1 times").
_EN_SINGULAR = {
    "times": "time",
    "days": "day",
    "months": "month",
    "years": "year",
    "people": "person",
    "points": "point",
    "month_count": "month",
    "rounds": "round",
}
#: Long durations read in years, as an officer writes them: from this many days or months on.
_YEARS_FROM = {"days": (730, 365.25), "months": (24, 12.0)}
OTHER_FAMILY = ("其他", "other")


class FeatureReason(TypedDict):
    """One feature speaking for its family: the firm's value beside the reference."""

    feature: str
    value: float | None
    reference: float | None
    points: float
    zh: str
    en: str


class FamilyReason(TypedDict):
    """One family's reason: its points (negative raises risk) and its leading features."""

    family: str
    family_zh: str
    family_en: str
    points: float
    features: list[FeatureReason]
    zh: str
    en: str


class RowReasons(TypedDict):
    """A row's reasons, each side most telling first (plain dicts: a batch makes millions)."""

    raise_risk: list[FamilyReason]
    lower_risk: list[FamilyReason]


@dataclass(frozen=True)
class ReasonColumn:
    """One rank of risk reasons over a batch: per row its family (None: no reason at this
    rank), points (NaN) and words (None)."""

    family: np.ndarray
    points: np.ndarray
    zh: np.ndarray
    en: np.ndarray

    @classmethod
    def empty(cls, n: int) -> ReasonColumn:
        return cls(
            family=np.full(n, None, dtype=object),
            points=np.full(n, np.nan),
            zh=np.full(n, None, dtype=object),
            en=np.full(n, None, dtype=object),
        )


@dataclass(frozen=True)
class FeatureMeta:
    family: str
    zh: str
    en: str
    unit: str = ""
    labels: tuple[str, ...] = ()
    direction: int = 0
    #: (zh, en) sentences with ``{value}`` for features that read badly as "label value",
    #: from the registry: ``text`` for short values, ``long_text`` once the value reads in
    #: years or sits at ``cap`` ("{value}未获股权融资"); empty: "label value".
    text: tuple[str, str] = ("", "")
    long_text: tuple[str, str] = ("", "")
    #: The value the feature is capped at ("10 years or more, or never"): "10 年以上".
    cap: float | None = None
    #: (zh labels, en labels) of coded values ("tdld" → 投贷联动); empty: the codes.
    label_texts: tuple[tuple[str, ...], tuple[str, ...]] = ((), ())

    @classmethod
    def plain(cls, name: str) -> FeatureMeta:
        """A column the registry does not know (a bank's own): its name is its label."""
        return cls("other", name, name)


def format_value(
    value: float,
    unit: str,
    labels: Sequence[str] = (),
    cap: float | None = None,
    label_texts: tuple[Sequence[str], Sequence[str]] = ((), ()),
) -> tuple[str, str]:
    """(zh, en) rendering of one value in its unit; missing reads as 'no record'.

    Long durations read in whole years (216 months → "18 年"), a value at ``cap`` reads
    "10 年以上" / "10+ years", and English takes the singular for exactly one.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "无记录", "no record"
    if unit in _YEARS_FROM and value >= _YEARS_FROM[unit][0]:
        years = value / _YEARS_FROM[unit][1]
        whole = abs(years - round(years)) < 0.05
        number = f"{round(years):,}" if whole else f"{years:,.1f}"
        if cap is not None and value >= cap:
            return f"{number} 年以上", f"{number}+ years"
        return f"{number} 年", f"{number} years"
    if unit == "ratio":
        text = f"{value:.1%}"
        return text, text
    if unit == "flag":
        return ("是", "yes") if value >= 0.5 else ("否", "no")
    if unit in ("level", "category") and labels:
        k = round(value) - (1 if unit == "level" else 0)
        if not 0 <= k < len(labels):
            return f"{value:g}", f"{value:g}"
        zh_labels, en_labels = label_texts
        return (zh_labels or labels)[k], (en_labels or labels)[k]
    if unit == "months" and value < 1:
        return "不足 1 个月", "under a month"
    if unit == "wan":
        return f"{value:,.0f} 万元", f"CNY {value / 100:,.2f}m"
    if unit in ("days", "people", "months", "month_count"):
        number = f"{value:,.0f}"
    elif unit == "years":
        number = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    else:
        number = f"{value:,.4g}"
    zh = f"{number} {_ZH_UNIT[unit]}" if unit in _ZH_UNIT else number
    if unit not in _EN_SINGULAR:
        return zh, number
    plural = "months" if unit == "month_count" else unit
    return zh, f"{number} {_EN_SINGULAR[unit] if value == 1 else plural}"


@dataclass
class ReasonBuilder:
    """Builds the reasons of one scored row from its contributions (already in points)."""

    features: list[str]
    meta: Mapping[str, FeatureMeta]
    families: Mapping[str, tuple[str, str]]
    #: feature → {"all": median, "<industry code>": median}
    references: Mapping[str, Mapping[str, float]]
    industry_feature: str | None = None

    def __post_init__(self) -> None:
        self._family_of = np.array([self._meta(f).family for f in self.features])
        self._family_names = list(dict.fromkeys(self._family_of))
        self._family_idx = {f: np.flatnonzero(self._family_of == f) for f in self._family_names}
        self._industry_col = (
            self.features.index(self.industry_feature)
            if self.industry_feature in self.features
            else None
        )
        self._ref_cache: dict[tuple[int, int | None], tuple[float, str, str]] = {}
        self._feature_meta = [(name, self._meta(name)) for name in self.features]

    def _meta(self, name: str) -> FeatureMeta:
        return self.meta.get(name) or FeatureMeta.plain(name)

    def reference(self, name: str, industry: float | None) -> tuple[float, str]:
        """The firm's industry median when known, else the population median."""
        refs = self.references.get(name, {})
        if industry is not None and not math.isnan(industry):
            key = str(int(industry))
            if key in refs:
                return refs[key], "industry"
        return refs.get("all", float("nan")), "all"

    def feature_reason(
        self, i: int, value: float, points: float, industry: float | None
    ) -> FeatureReason:
        ref, zh, en = self._feature_words(i, value, industry)
        return {
            "feature": self.features[i],
            "value": None if math.isnan(value) else value,
            "reference": None if math.isnan(ref) else ref,
            "points": points,
            "zh": zh,
            "en": en,
        }

    def _feature_words(
        self, i: int, value: float, industry: float | None
    ) -> tuple[float, str, str]:
        """(reference median, zh, en) of feature ``i`` at ``value`` for the firm's industry:
        the one wording of a feature, per row (:meth:`explain`) or per distinct value
        (:meth:`risk_columns`)."""
        ref, zh_ref, en_ref = self._reference_text(i, industry)
        _, m = self._feature_meta[i]
        zh_value, en_value = format_value(value, m.unit, m.labels, m.cap, m.label_texts)
        zh_text, en_text = self._sentence(m, value)
        return (
            ref,
            (zh_text.format(value=zh_value) if zh_text else f"{m.zh} {zh_value}") + f"（{zh_ref}）",
            (en_text.format(value=en_value) if en_text else f"{m.en}: {en_value}") + f" ({en_ref})",
        )

    @staticmethod
    def _sentence(m: FeatureMeta, value: float) -> tuple[str, str]:
        """The registry's sentence for this value, or ("", "") for "label value"."""
        if math.isnan(value):
            return "", ""
        long = (m.cap is not None and value >= m.cap) or (
            m.unit in _YEARS_FROM and value >= _YEARS_FROM[m.unit][0]
        )
        return m.long_text if long and m.long_text[0] else m.text

    def _reference_text(self, i: int, industry: float | None) -> tuple[float, str, str]:
        """(median, zh, en) of feature ``i`` for the firm's industry; cached, since a batch
        asks for the same few hundred (feature, industry) pairs millions of times."""
        key = (i, None if industry is None or math.isnan(industry) else int(industry))
        cached = self._ref_cache.get(key)
        if cached is None:
            name = self.features[i]
            m = self._meta(name)
            ref, scope = self.reference(name, industry)
            zh_ref, en_ref = format_value(ref, m.unit, m.labels, m.cap, m.label_texts)
            zh_scope, en_scope = (
                ("同业中位数", "industry median")
                if scope == "industry"
                else ("总体中位数", "overall median")
            )
            cached = (float(ref), f"{zh_scope} {zh_ref}", f"{en_scope} {en_ref}")
            self._ref_cache[key] = cached
        return cached

    @property
    def family_names(self) -> tuple[str, ...]:
        """The families in registry order: the columns of :meth:`family_totals`."""
        return tuple(self._family_names)

    def explain(
        self,
        X: np.ndarray,
        points: np.ndarray,
        top: int = 5,
        per_family: int = 2,
        lower: bool = True,
        totals: np.ndarray | None = None,
    ) -> list[RowReasons]:
        """Reasons of every row: families that raise the risk (most first) and that lower it.

        ``points`` are the rows' per-feature score points (negative = raises risk); ``totals``
        their :meth:`family_totals` when the caller has them already. The ranking of families
        and of each family's leading features is done for all rows at once, and only the
        chosen families are worded, so a batch of millions asking for three risk reasons
        (``lower=False``) pays for three renderings a row. A row's answer does not depend on
        the other rows of the batch.
        """
        if totals is None:
            totals = self.family_totals(points)
        k = min(top, len(self._family_names))
        raising = np.argsort(totals, axis=1, kind="stable")[:, :k]
        n_raising = np.minimum((totals < 0).sum(axis=1), k).tolist()
        up = self._leaders(points, 1, per_family)
        if lower:
            lowering = np.argsort(-totals, axis=1, kind="stable")[:, :k]
            n_lowering = np.minimum((totals > 0).sum(axis=1), k).tolist()
            down = self._leaders(points, -1, per_family)
        out: list[RowReasons] = []
        for i in range(len(points)):
            x, p, t = X[i], points[i], totals[i]
            industry = self._industry(x)
            out.append(
                {
                    "raise_risk": [
                        self._family_reason(f, float(t[f]), up[f][i], 1, x, p, industry)
                        for f in raising[i, : n_raising[i]].tolist()
                    ],
                    "lower_risk": [
                        self._family_reason(f, float(t[f]), down[f][i], -1, x, p, industry)
                        for f in lowering[i, : n_lowering[i]].tolist()
                    ]
                    if lower
                    else [],
                }
            )
        return out

    def _leaders(self, points: np.ndarray, sign: int, per_family: int) -> list[np.ndarray]:
        """Per family, each row's ``per_family`` features that push most in ``sign``'s way
        (1: raise risk, most negative points first), as feature indices (n, per_family)."""
        return [
            idx[np.argsort(sign * points[:, idx], axis=1, kind="stable")[:, :per_family]]
            for idx in (self._family_idx[f] for f in self._family_names)
        ]

    def family_totals(self, points: np.ndarray) -> np.ndarray:
        """Points per (row, family), added feature by feature in registry order.

        An explicit order, not ``sum(axis=1)``: numpy sums one row pairwise but many rows
        sequentially, and a batch must rank and word reasons exactly as a single request.
        """
        totals = np.zeros((len(points), len(self._family_names)))
        for k, family in enumerate(self._family_names):
            # A running sum runs feature by feature, as the explicit loop would.
            running = np.cumsum(points[:, self._family_idx[family]], axis=1)
            if running.shape[1]:
                totals[:, k] = running[:, -1]
        return totals

    def _industry(self, x: np.ndarray) -> float | None:
        return float(x[self._industry_col]) if self._industry_col is not None else None

    def _family_reason(
        self,
        k: int,
        total: float,
        leaders: np.ndarray,
        sign: int,
        x: np.ndarray,
        points: np.ndarray,
        industry: float | None,
    ) -> FamilyReason:
        """Family ``k``'s reason: its points, and those of its ``leaders`` that push in
        ``sign``'s way (a leading feature that pushes the other way does not speak)."""
        feats = [
            self.feature_reason(j, float(x[j]), float(points[j]), industry)
            for j in leaders.tolist()
            if sign * points[j] < 0
        ]
        family = self._family_names[k]
        zh, en = self.families.get(family, OTHER_FAMILY)
        zh_text, en_text = _family_words(
            zh, en, [f["zh"] for f in feats], [f["en"] for f in feats], total
        )
        return {
            "family": str(family),
            "family_zh": zh,
            "family_en": en,
            "points": total,
            "features": feats,
            "zh": zh_text,
            "en": en_text,
        }

    def risk_columns(
        self,
        X: np.ndarray,
        points: np.ndarray,
        top: int,
        totals: np.ndarray | None = None,
        per_family: int = 2,
    ) -> list[ReasonColumn]:
        """The first ``top`` risk-raising reasons of every row, rank by rank, as columns.

        The same families, points and words as :meth:`explain` with ``lower=False`` (a test
        holds them equal), for batch screening: no dict per row, and each feature is worded
        once per distinct (value, industry) of a part instead of once a row.
        """
        if totals is None:
            totals = self.family_totals(points)
        n = len(points)
        k = min(top, len(self._family_names))
        raising = np.argsort(totals, axis=1, kind="stable")[:, :k]
        n_raising = np.minimum((totals < 0).sum(axis=1), k)
        up = self._leaders(points, 1, per_family)
        industry = (
            X[:, self._industry_col] if self._industry_col is not None else np.full(n, np.nan)
        )
        columns = []
        for rank in range(top):
            column = ReasonColumn.empty(n)
            for f in range(len(self._family_names)) if rank < k else ():
                rows = np.flatnonzero((raising[:, rank] == f) & (n_raising > rank))
                if len(rows):
                    self._word_family(column, f, rows, up[f][rows], X, points, totals, industry)
            columns.append(column)
        return columns

    def _word_family(
        self,
        column: ReasonColumn,
        f: int,
        rows: np.ndarray,
        leaders: np.ndarray,
        X: np.ndarray,
        points: np.ndarray,
        totals: np.ndarray,
        industry: np.ndarray,
    ) -> None:
        """Family ``f``'s reason on ``rows`` of ``column``; ``leaders`` are their features
        that raise the risk most (one that lowers it does not speak)."""
        slots = [
            self._feature_column(leaders[:, s], rows, X, points, industry)
            for s in range(leaders.shape[1])
        ]
        family = self._family_names[f]
        zh, en = self.families.get(family, OTHER_FAMILY)
        total = totals[rows, f]
        column.family[rows] = str(family)
        column.points[rows] = total
        for r, t in enumerate(total.tolist()):
            said = [slot[r] for slot in slots if slot[r] is not None]
            column.zh[rows[r]], column.en[rows[r]] = _family_words(
                zh, en, [s[0] for s in said], [s[1] for s in said], t
            )

    def _feature_column(
        self,
        features: np.ndarray,
        rows: np.ndarray,
        X: np.ndarray,
        points: np.ndarray,
        industry: np.ndarray,
    ) -> list[tuple[str, str] | None]:
        """Per row, the (zh, en) of its feature in ``features`` when that feature raises the
        risk, else None; each distinct (feature, value, industry) is worded once."""
        out: list[tuple[str, str] | None] = [None] * len(rows)
        speaks = points[rows, features] < 0
        for j in np.unique(features[speaks]).tolist():
            at = np.flatnonzero(speaks & (features == j))
            values = X[rows[at], j]
            codes = industry[rows[at]]
            # bit patterns as keys: -0.0 and 0.0 are worded apart ("-0" is not "0")
            keys = np.stack([values.view(np.int64), codes.view(np.int64)], axis=1)
            _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
            words = [
                self._feature_words(j, float(values[u]), float(codes[u]))[1:]
                for u in first.tolist()
            ]
            for a, w in zip(at.tolist(), inverse.reshape(-1).tolist(), strict=True):
                out[a] = words[w]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "meta": {k: vars(v) | {"labels": list(v.labels)} for k, v in self.meta.items()},
            "families": {k: list(v) for k, v in self.families.items()},
            "references": {k: dict(v) for k, v in self.references.items()},
            "industry_feature": self.industry_feature,
        }

    @classmethod
    def from_dict(cls, features: list[str], data: Mapping[str, Any]) -> ReasonBuilder:
        meta = {k: FeatureMeta(**_meta_fields(v)) for k, v in data["meta"].items()}
        return cls(
            features=features,
            meta=meta,
            families={k: (v[0], v[1]) for k, v in data["families"].items()},
            references=data["references"],
            industry_feature=data["industry_feature"],
        )


def _family_words(
    zh: str, en: str, features_zh: Sequence[str], features_en: Sequence[str], total: float
) -> tuple[str, str]:
    """(zh, en) of a family's reason: its name, its speaking features and its points."""
    return (
        f"{zh}：" + "；".join(features_zh) + f"（{total:+.0f} 分）",
        f"{en}: " + "; ".join(features_en) + f" ({total:+.0f} points)",
    )


def _meta_fields(stored: Mapping[str, Any]) -> dict[str, Any]:
    """A stored FeatureMeta's fields with JSON lists back as tuples (older models lack some)."""
    fields = {**stored, "labels": tuple(stored["labels"])}
    for key in ("text", "long_text"):
        if key in fields:
            fields[key] = tuple(fields[key])
    if "label_texts" in fields:
        fields["label_texts"] = tuple(tuple(x) for x in fields["label_texts"])
    return fields


def industry_medians(
    X: np.ndarray, features: list[str], industry_feature: str | None
) -> dict[str, dict[str, float]]:
    """Per-feature medians of the training population, overall and per industry code."""
    out: dict[str, dict[str, float]] = {}
    ind = X[:, features.index(industry_feature)] if industry_feature in features else None
    for j, name in enumerate(features):
        col = X[:, j]
        refs = {"all": float(np.nanmedian(col)) if np.isfinite(col).any() else float("nan")}
        if ind is not None:
            for code in np.unique(ind[~np.isnan(ind)]):
                vals = col[ind == code]
                if np.isfinite(vals).any():
                    refs[str(int(code))] = float(np.nanmedian(vals))
        out[name] = refs
    return out
