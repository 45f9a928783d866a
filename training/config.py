"""What a training run reads: the feature table and how its columns are to be understood.

``techrisk train`` on our own feature table needs no config; a bank brings a small TOML file
that names its columns (see README "Bring your own data"). Every mistake in it is reported
with the key, the value and the rule, before any fitting starts.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from techrisk_base.errors import TechriskError

SPLITS = ("train", "valid", "oot")
#: Words a bank's split column may use for each slice (compared lower-cased, trimmed).
SPLIT_WORDS: Mapping[str, str] = {
    "train": "train",
    "training": "train",
    "dev": "train",
    "valid": "valid",
    "validation": "valid",
    "val": "valid",
    "oot": "oot",
    "test": "oot",
    "out_of_time": "oot",
    "holdout": "oot",
}


class ConfigError(TechriskError):
    """A config key or a table column does not fit what the run needs."""


@dataclass(frozen=True)
class ModelConfig:
    """How the contenders are fitted: the ``[lightgbm]`` and ``[tuning]`` tables of the TOML.

    ``lightgbm`` overrides any LightGBM parameter of the size-adapted defaults
    (``models.spec.adaptive_params``). ``tune_trials`` is how many Optuna trials search the
    validation slice and ``tune_seconds`` the wall clock that cuts the search short on a slow
    machine (None: ``training.run``'s defaults; 0 for either: no tuning). The trials, not the
    clock, set the search, so a run is reproducible on any machine the cap does not cut.
    ``max_depth`` caps the tuned trees' depth, because exact TreeSHAP cost per served row
    grows with it.
    """

    lightgbm: Mapping[str, Any] = field(default_factory=dict)
    tune_seconds: float | None = None
    tune_trials: int | None = None
    max_depth: int = 5

    def __post_init__(self) -> None:
        if self.tune_seconds is not None and not 0 <= self.tune_seconds < float("inf"):
            raise ConfigError(
                f"[tuning] seconds must be a finite number >= 0; got {self.tune_seconds!r}"
            )
        if self.tune_trials is not None and (
            isinstance(self.tune_trials, bool)
            or not isinstance(self.tune_trials, int)
            or self.tune_trials < 0
        ):
            raise ConfigError(f"[tuning] trials must be an integer >= 0; got {self.tune_trials!r}")
        if (
            isinstance(self.max_depth, bool)
            or not isinstance(self.max_depth, int)
            or not (2 <= self.max_depth <= 12)
        ):
            raise ConfigError(
                f"[tuning] max_depth must be an integer in [2, 12]; got {self.max_depth!r}"
            )
        reserved = sorted({"objective", "monotone_constraints"} & set(self.lightgbm))
        if reserved:
            raise ConfigError(
                f"[lightgbm] may not set {reserved}: the objective is binary and monotone "
                "constraints come from [monotone] and the feature registry"
            )

    def with_tuning(self, trials: int | None, seconds: float | None) -> ModelConfig:
        """This config with the command line's ``--tune-trials`` / ``--tune-seconds`` (None
        keeps the config's)."""
        return replace(
            self,
            tune_trials=self.tune_trials if trials is None else trials,
            tune_seconds=self.tune_seconds if seconds is None else seconds,
        )

    @classmethod
    def from_tables(cls, raw: Mapping[str, Any], path: Path) -> ModelConfig:
        """The ``[lightgbm]`` and ``[tuning]`` tables of a parsed TOML file."""
        lightgbm = raw.get("lightgbm", {})
        tuning = dict(raw.get("tuning", {}))
        if not isinstance(lightgbm, dict):
            raise ConfigError(f"config {path}: [lightgbm] must be a table; got {lightgbm!r}")
        unknown = sorted(set(tuning) - {"seconds", "trials", "max_depth"})
        if unknown:
            raise ConfigError(
                f"unknown key(s) in [tuning] of {path}: {unknown}; known: "
                "['max_depth', 'seconds', 'trials']"
            )
        seconds = tuning.get("seconds")
        if seconds is not None and (
            isinstance(seconds, bool) or not isinstance(seconds, int | float)
        ):
            raise ConfigError(f"config {path}: [tuning] seconds must be a number; got {seconds!r}")
        return cls(
            lightgbm=dict(lightgbm),
            tune_seconds=None if seconds is None else float(seconds),
            tune_trials=tuning.get("trials"),
            max_depth=tuning.get("max_depth", 5),
        )


@dataclass(frozen=True)
class TrainConfig:
    path: Path
    id_column: str = "loan_id"
    label_column: str = "default_12m"
    #: As-of date of each row; the split is by time on it. None → ``split_column`` or random.
    date_column: str | None = "applied_on"
    #: Explicit split labels (train / valid / oot), when the bank has decided its own.
    split_column: str | None = None
    product_column: str | None = "product"
    #: Feature columns; None means every column not named above.
    features: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    #: Extra categorical columns (non-numeric ones and the registry's are found anyway).
    categorical: tuple[str, ...] = ()
    #: Monotone directions by column (+1 riskier with more, -1 safer); the feature registry
    #: supplies them for our own columns.
    monotone: Mapping[str, int] = field(default_factory=dict)
    valid_start: date | None = None
    oot_start: date | None = None
    #: Fractions for a random-but-seeded split when the table has no dates.
    random_fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    seed: int = 0
    #: The label value(s) meaning default, for labels that are not 0/1 (``"Y"``, ``"bad"``,
    #: ``[2, 3]``); every other value is a non-default. None: the label must be 0/1.
    positive_label: str | int | tuple[str | int, ...] | None = None
    #: What a positive label means, in words ("charged off", "bankrupt within 5 years"); the
    #: model card states it.
    label_description: str | None = None
    max_univariate_auc: float = 0.9
    #: IV (train, WoE binning) above which a feature is suspicious (excluded with
    #: ``exclude_leaky``) and above which it is only worth a check.
    iv_suspicious: float = 1.0
    iv_check: float = 0.5
    #: A quick LightGBM's single-feature share of the gain, and the valid-AUC drop when the
    #: feature is left out, above which the feature is flagged; both together mark it leaky.
    max_gain_share: float = 0.5
    max_auc_drop: float = 0.05
    exclude_leaky: bool = False
    #: Synthetic market only: loan_id → true_pd, read for the oracle AUC and nothing else.
    truth_path: Path | None = None
    experiment: str = "techrisk"
    registered_name: str = "techrisk-pd"
    #: Contender fitting: LightGBM overrides and the tuning budget (see ``ModelConfig``).
    model: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self) -> None:
        if self.date_column and self.split_column:
            raise ConfigError("give either date_column or split_column, not both")
        if len(self.random_fractions) != 3 or abs(sum(self.random_fractions) - 1) > 1e-9:
            raise ConfigError(
                f"random_fractions must be three shares summing to 1; got {self.random_fractions}"
            )
        if any(f <= 0 for f in self.random_fractions):
            raise ConfigError(f"random_fractions must all be > 0; got {self.random_fractions}")
        if not 0.5 < self.max_univariate_auc <= 1:
            raise ConfigError(
                f"max_univariate_auc must be in (0.5, 1]; got {self.max_univariate_auc}"
            )
        if not 0 < self.iv_check <= self.iv_suspicious:
            raise ConfigError(
                f"iv_check and iv_suspicious must satisfy 0 < iv_check <= iv_suspicious; got "
                f"iv_check={self.iv_check}, iv_suspicious={self.iv_suspicious}"
            )
        if not 0 < self.max_gain_share <= 1:
            raise ConfigError(f"max_gain_share must be in (0, 1]; got {self.max_gain_share}")
        if not 0 < self.max_auc_drop < 0.5:
            raise ConfigError(f"max_auc_drop must be in (0, 0.5); got {self.max_auc_drop}")
        if isinstance(self.positive_label, tuple) and not self.positive_label:
            raise ConfigError("positive_label must name at least one value; got an empty list")
        bad = {k: v for k, v in self.monotone.items() if v not in (-1, 0, 1)}
        if bad:
            raise ConfigError(f"monotone directions must be -1, 0 or 1; got {bad}")
        if self.valid_start and self.oot_start and not self.valid_start < self.oot_start:
            raise ConfigError(
                f"valid_start must be before oot_start; got {self.valid_start} and {self.oot_start}"
            )

    def with_overrides(self, **changes: Any) -> TrainConfig:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_toml(cls, path: Path) -> TrainConfig:
        """Read a config file; relative paths in it are relative to the file."""
        path = Path(path)
        try:
            raw = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from exc
        data = {**raw.get("data", {}), **raw.get("split", {}), **raw.get("run", {})}
        if "monotone" in raw:
            data["monotone"] = raw["monotone"]
        known = set(cls.__dataclass_fields__) - {"model"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown config key(s) in {path}: {unknown}; known: {sorted(known)}")
        for key in ("date_column", "split_column", "product_column"):
            if data.get(key) == "":
                data[key] = None  # TOML has no null: an empty string means "none"
        if "path" not in data:
            raise ConfigError(f"config {path}: [data] path is required")
        for key in ("path", "truth_path"):
            if key in data:
                p = Path(data[key])
                data[key] = p if p.is_absolute() else (path.parent / p)
        if isinstance(data.get("positive_label"), list):
            data["positive_label"] = tuple(data["positive_label"])
        for key in ("features", "exclude", "categorical", "random_fractions"):
            if key in data and data[key] is not None:
                if isinstance(data[key], str) and key == "features" and data[key] == "all":
                    data[key] = None
                    continue
                if not isinstance(data[key], list):
                    raise ConfigError(f"config {path}: {key} must be a list; got {data[key]!r}")
                data[key] = tuple(data[key])
        for key in ("valid_start", "oot_start"):
            if key in data and not isinstance(data[key], date):
                try:
                    data[key] = date.fromisoformat(str(data[key]))
                except ValueError as exc:
                    raise ConfigError(
                        f"config {path}: {key} must be an ISO date; got {data[key]!r}"
                    ) from exc
        return cls(**data, model=ModelConfig.from_tables(raw, path))
