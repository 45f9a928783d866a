"""Every embedded store follows ``TECHRISK_VAR``; each explicit setting wins over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from techrisk_base import settings
from techrisk_base.errors import InvalidArgument, TechriskError

_ENV = (
    "TECHRISK_VAR",
    "MLFLOW_TRACKING_URI",
    "TECHRISK_ARTIFACT_DIR",
    "TECHRISK_DATABASE_URL",
    "TECHRISK_MODEL_URI",
    "BENTOML_HOME",
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_relative_to_the_working_directory() -> None:
    assert settings.var_dir() == Path("var")
    assert settings.tracking_uri() == "sqlite:///var/mlflow.db"
    assert settings.database_url() == "sqlite:///var/techrisk.db"
    assert settings.artifact_dir() == Path("var/mlartifacts")
    assert settings.model_uri() == "models:/techrisk-pd@champion"


def test_techrisk_var_moves_every_embedded_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    var = tmp_path / "elsewhere"
    monkeypatch.setenv("TECHRISK_VAR", str(var))
    paths = {
        "market": settings.market_dir(),
        "features": settings.feature_table(),
        "screen list": settings.demo_screen_list(),
        "screening": settings.screening_dir(),
        "artifacts": settings.artifact_dir(),
        "audit": settings.audit_database(),
    }
    for what, path in paths.items():
        assert path.parent == var, what
    assert settings.tracking_uri() == f"sqlite:///{var}/mlflow.db"
    assert settings.database_url() == f"sqlite:///{var}/techrisk.db"


def test_explicit_settings_win_over_the_var_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TECHRISK_VAR", str(tmp_path / "var"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    monkeypatch.setenv("TECHRISK_ARTIFACT_DIR", str(tmp_path / "art"))
    monkeypatch.setenv("TECHRISK_DATABASE_URL", "postgresql+psycopg://u@h/db")
    monkeypatch.setenv("TECHRISK_MODEL_URI", "models:/other/3")
    assert settings.tracking_uri() == "http://127.0.0.1:5000"
    assert settings.artifact_dir() == tmp_path / "art"
    assert settings.database_url() == "postgresql+psycopg://u@h/db"
    assert settings.model_uri() == "models:/other/3"


def test_a_built_bento_keeps_its_stores_outside_the_bento(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(settings, "in_bento", lambda: True)
    monkeypatch.setenv("BENTOML_HOME", str(tmp_path / "bentoml"))
    assert settings.var_dir() == tmp_path / "bentoml" / "techrisk" / "var"
    assert settings.database_url() == f"sqlite:///{tmp_path}/bentoml/techrisk/var/techrisk.db"
    monkeypatch.setenv("TECHRISK_VAR", str(tmp_path / "mine"))
    assert settings.var_dir() == tmp_path / "mine"


def test_the_source_tree_is_not_a_bento() -> None:
    assert not settings.in_bento()


def test_local_store_folders_are_created_only_where_the_project_owns_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    settings.ensure_local_store("sqlite:///rel/mlflow.db")
    assert (tmp_path / "rel").is_dir()
    var = tmp_path / "abs" / "var"
    monkeypatch.setenv("TECHRISK_VAR", str(var))
    settings.ensure_local_store(settings.database_url())
    assert var.is_dir()
    settings.ensure_local_store(f"sqlite:///{tmp_path}/typo/mlflow.db")
    assert not (tmp_path / "typo").exists()
    settings.ensure_local_store("postgresql+psycopg://u@h/db")


def test_artifact_location_is_a_created_folder_uri(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TECHRISK_VAR", str(tmp_path / "var"))
    assert settings.artifact_location() == (tmp_path / "var" / "mlartifacts").as_uri()
    assert (tmp_path / "var" / "mlartifacts").is_dir()


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("models:/techrisk-pd@champion", ("techrisk-pd", None, "champion")),
        ("models:/techrisk-pd/4", ("techrisk-pd", "4", None)),
        ("models:/techrisk-pd", ("techrisk-pd", None, None)),
    ],
)
def test_registry_uris_parse(uri: str, expected: tuple) -> None:
    assert settings.parse_registry_uri(uri) == expected


def test_a_bad_registry_uri_is_a_typed_error_naming_the_setting() -> None:
    with pytest.raises(InvalidArgument, match=r"TECHRISK_MODEL_URI must look like .*got 'runs:/x'"):
        settings.parse_registry_uri("runs:/x")
    assert issubclass(InvalidArgument, TechriskError)
