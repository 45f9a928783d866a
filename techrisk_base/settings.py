"""Where things go, read from the environment in this one place, with working defaults.

``TECHRISK_VAR`` (default ``var``, relative to the working directory, git-ignored) holds every
embedded store: the synthetic market, the feature table, the MLflow SQLite store and its
artifacts, the audit database and screening outputs. The other settings point elsewhere:
``MLFLOW_TRACKING_URI``, ``TECHRISK_ARTIFACT_DIR``, ``TECHRISK_DATABASE_URL``,
``TECHRISK_AUDIT_DEADLINE_S``, ``TECHRISK_AUDIT_KEY``, ``TECHRISK_MODEL_URI``,
``TECHRISK_SHADOW_URI``, ``TECHRISK_RELOAD_S``, ``TECHRISK_API_KEYS``, ``TECHRISK_RATE_PER_S``,
``TECHRISK_RATE_BURST``, ``TECHRISK_REQUESTS_PER_CONNECTION``, and the request limits
``TECHRISK_MAX_BODY_BYTES`` and ``TECHRISK_MAX_RECORDS``.

A built Bento is served with its source folder, not the caller's, as the working directory
of some processes, so a relative ``var`` would name two places. There the default is the
absolute ``$BENTOML_HOME/techrisk/var`` (``~/bentoml/techrisk/var``), outside the Bento so a
rebuilt or deleted Bento keeps its audit trail.

Every value is read when asked for, so a test or a caller that changes the environment is
heard.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from techrisk_base.errors import InvalidArgument

N = TypeVar("N", int, float)

DEFAULT_MODEL_URI = "models:/techrisk-pd@champion"
#: Name of the model in BentoML's model store when packaged into a Bento.
BENTO_MODEL_NAME = "techrisk-pd"
#: The folder holding this package: a Bento's ``src``, or the repository.
_SOURCE_ROOT = Path(__file__).resolve().parents[1]


def in_bento() -> bool:
    """Whether this code runs from a built Bento (its ``bento.yaml`` sits beside ``src``)."""
    return (_SOURCE_ROOT.parent / "bento.yaml").exists()


def var_dir() -> Path:
    """The folder of every embedded store (``TECHRISK_VAR``); not created here."""
    configured = os.environ.get("TECHRISK_VAR")
    if configured:
        return Path(configured).expanduser()
    if in_bento():
        home = os.environ.get("BENTOML_HOME") or "~/bentoml"
        return Path(home).expanduser() / "techrisk" / "var"
    return Path("var")


def market_dir() -> Path:
    return var_dir() / "market"


def feature_table() -> Path:
    return var_dir() / "features.parquet"


def demo_screen_list() -> Path:
    """The newest year's applications, which ``techrisk demo`` screens."""
    return var_dir() / "screening_list.parquet"


def screening_dir() -> Path:
    return var_dir() / "screening"


def tracking_uri() -> str:
    """MLflow's store: ``MLFLOW_TRACKING_URI``, else SQLite in the var folder."""
    return os.environ.get("MLFLOW_TRACKING_URI") or _sqlite_url(var_dir() / "mlflow.db")


def artifact_dir() -> Path:
    """Where new MLflow experiments keep artifacts: ``TECHRISK_ARTIFACT_DIR``, else var."""
    configured = os.environ.get("TECHRISK_ARTIFACT_DIR")
    return Path(configured).expanduser() if configured else var_dir() / "mlartifacts"


def database_url() -> str:
    """The audit database: ``TECHRISK_DATABASE_URL``, else SQLite in the var folder."""
    return os.environ.get("TECHRISK_DATABASE_URL") or _sqlite_url(audit_database())


def audit_database() -> Path:
    """The embedded audit database's file, used when ``TECHRISK_DATABASE_URL`` is unset."""
    return var_dir() / "techrisk.db"


#: Default of ``TECHRISK_AUDIT_DEADLINE_S``.
DEFAULT_AUDIT_DEADLINE_S = 2.0


def audit_deadline_s() -> float:
    """How long a request may wait for its audit row (``TECHRISK_AUDIT_DEADLINE_S``, seconds).

    Past it the request is refused with 503 and its decision is never committed later; lock
    and statement timeouts of the audit store are set from it.
    """
    return _number(
        "TECHRISK_AUDIT_DEADLINE_S",
        DEFAULT_AUDIT_DEADLINE_S,
        float,
        lambda v: 0.05 <= v <= 600,
        "must be a number of seconds in [0.05, 600]",
    )


def audit_key() -> str | None:
    """Fernet key encrypting stored inputs at rest (``TECHRISK_AUDIT_KEY``); unset: clear JSON.

    A secret: keep it out of the repository and of logs. Rows written under a key need that
    key to be read back in full; their hashes are checked without it.
    """
    return os.environ.get("TECHRISK_AUDIT_KEY") or None


def model_uri() -> str:
    return os.environ.get("TECHRISK_MODEL_URI") or DEFAULT_MODEL_URI


def shadow_uri() -> str | None:
    """``TECHRISK_SHADOW_URI``: a second model that scores each request after the answer
    (e.g. ``models:/techrisk-pd@challenger``); unset, no shadow scoring."""
    return os.environ.get("TECHRISK_SHADOW_URI") or None


def reload_seconds() -> float:
    """``TECHRISK_RELOAD_S``: how often the service asks the registry whether its aliases
    moved (default 30; 0 turns polling off, ``/admin/reload`` still works)."""
    return _number(
        "TECHRISK_RELOAD_S", 30.0, float, lambda v: v >= 0, "must be a number of seconds >= 0"
    )


def api_keys_path() -> Path:
    """The service's API keys, hashed (``TECHRISK_API_KEYS``, else ``api_keys.json`` in var).

    Beside the audit database, so a built Bento finds its keys under its absolute var folder
    whatever the working directory.
    """
    configured = os.environ.get("TECHRISK_API_KEYS")
    return Path(configured).expanduser() if configured else var_dir() / "api_keys.json"


#: Defaults of ``TECHRISK_RATE_PER_S`` and ``TECHRISK_RATE_BURST``.
DEFAULT_RATE_PER_S = 50.0
DEFAULT_RATE_BURST = 100


def rate_per_s() -> float:
    """Requests per second one API key may sustain in one worker process (``TECHRISK_RATE_PER_S``).

    Each worker keeps its own buckets, so with N workers a key gets up to N times this.
    """
    return _number(
        "TECHRISK_RATE_PER_S",
        DEFAULT_RATE_PER_S,
        float,
        lambda v: 0 < v <= 1e6,
        "must be a number of requests per second in (0, 1e6]",
    )


def rate_burst() -> int:
    """Requests one API key may send at once before the rate applies (``TECHRISK_RATE_BURST``)."""
    return _number(
        "TECHRISK_RATE_BURST",
        DEFAULT_RATE_BURST,
        _whole,
        lambda v: 1 <= v <= 1_000_000,
        "must be an integer in [1, 1000000]",
    )


#: Default of ``TECHRISK_MAX_BODY_BYTES``: 16 MiB holds a batch of ~400 typical firms.
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
#: Default of ``TECHRISK_MAX_RECORDS``: far above any real firm's records in one table.
DEFAULT_MAX_RECORDS = 10_000


def max_body_bytes() -> int:
    """Largest request body the service reads (``TECHRISK_MAX_BODY_BYTES``); larger is a 413.

    Bounds the memory and parse time one request may take before anything is validated.
    """
    return _number(
        "TECHRISK_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, _whole, _positive, _WHOLE_POSITIVE
    )


def max_records() -> int:
    """Most records one request may carry in one table (``TECHRISK_MAX_RECORDS``).

    A firm with more is not scored online (its request would hold one worker, and its audit
    row the store, for seconds); screen it in bulk instead.
    """
    return _number("TECHRISK_MAX_RECORDS", DEFAULT_MAX_RECORDS, _whole, _positive, _WHOLE_POSITIVE)


_WHOLE_POSITIVE = "must be a whole number >= 1"


def _positive(value: int) -> bool:
    return value >= 1


def _whole(text: str) -> int:
    """Digits only (spaces around allowed): ``int`` alone would take ``"1_000"`` and ``"+5"``."""
    if not re.fullmatch(r"\s*[0-9]+\s*", text):
        raise ValueError(text)
    return int(text)


def _number(
    name: str, default: N, parse: Callable[[str], N], ok: Callable[[N], bool], rule: str
) -> N:
    """The number the variable ``name`` holds, else ``default``; one that does not parse or
    fails ``ok`` (NaN fails every comparison) stops the caller with the variable and the rule,
    rather than running on a value nobody meant."""
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = parse(text)
    except ValueError:
        raise InvalidArgument(name, text, rule) from None
    if not ok(value):
        raise InvalidArgument(name, text, rule)
    return value


#: Requests a keep-alive connection carries before the service asks the client to reconnect.
DEFAULT_REQUESTS_PER_CONNECTION = 10


def requests_per_connection() -> int:
    """``TECHRISK_REQUESTS_PER_CONNECTION``: after this many requests on one keep-alive
    connection the answer carries ``Connection: close`` (default 10; 0: never).

    Worker processes share one listening socket and the first idle worker accepts every
    connection of a burst, so a few long-lived client connections can all land on one worker
    while the other idles; reconnecting now and then lets the idle worker take its share.
    """
    return _number(
        "TECHRISK_REQUESTS_PER_CONNECTION",
        DEFAULT_REQUESTS_PER_CONNECTION,
        _whole,
        lambda v: v >= 0,
        "must be a whole number of requests >= 0",
    )


def parse_registry_uri(uri: str) -> tuple[str, str | None, str | None]:
    """(name, version, alias) of ``models:/name@alias`` or ``models:/name/version``."""
    m = re.fullmatch(r"models:/([^/@]+)(?:@([^/]+)|/(\d+))?", uri)
    if not m:
        raise InvalidArgument(
            "TECHRISK_MODEL_URI",
            uri,
            "must look like models:/<name>@<alias> or models:/<name>/<version>",
        )
    name, alias, version = m.group(1), m.group(2), m.group(3)
    return name, version, alias


def artifact_location() -> str:
    """The artifact folder as a URI for new experiments, created so MLflow can write there."""
    path = artifact_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve().as_uri()


def ensure_local_store(uri: str) -> None:
    """Create the folder of an SQLite store that is relative or in the var folder.

    Other absolute paths are left as given, so a mistyped one fails loudly instead of growing
    a new directory tree.
    """
    if not uri.startswith("sqlite:///"):
        return
    database = uri.removeprefix("sqlite:///").split("?", 1)[0]
    if not database or database == ":memory:":
        return
    path = Path(database)
    if not path.is_absolute() or path.parent == var_dir().absolute():
        path.parent.mkdir(parents=True, exist_ok=True)


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.as_posix()}"
