"""The Bento declares everything its code imports.

A Bento carries only the files ``bentofile.yaml`` includes and installs only the packages it
lists (plus BentoML's own requirements). In this repository the editable install puts every
package of the source tree on ``sys.path``, so a Bento that forgot ``synthetic/`` or
``numba`` still serves here and fails in a container; these checks read the service's real
import graph instead.
"""

from __future__ import annotations

import ast
import importlib.metadata as md
import json
import re
import subprocess
import sys
from pathlib import Path

import pathspec
import yaml
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]


def _bentofile() -> dict:
    return yaml.safe_load((REPO / "bentofile.yaml").read_text())


def _service_files() -> list[Path]:
    """The repository's source files the service imports when a worker loads it."""
    code = (
        "import json, sys\n"
        "import serving.service\n"
        "print(json.dumps([getattr(m, '__file__', None) for m in list(sys.modules.values())]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout
    files = [Path(f).resolve() for f in json.loads(out.splitlines()[-1]) if f]
    return sorted({f for f in files if f.is_relative_to(REPO) and ".venv" not in f.parts})


def _imported_top_level(path: Path) -> set[str]:
    """Top-level names of every absolute import in the file, in functions too (lazy imports
    run on requests)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _installed_closure(requirements: list[str]) -> set[str]:
    """Distributions the requirements install, transitively (as this environment resolves
    them), by normalised name."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        if _key(req.name) in seen:
            continue
        seen.add(_key(req.name))
        try:
            needs = md.requires(req.name) or []
        except md.PackageNotFoundError:
            continue
        for extra in req.extras or {""}:
            for line in needs:
                child = Requirement(line)
                if child.marker is None or child.marker.evaluate({"extra": extra}):
                    todo.append(child)
    return seen


def test_every_source_file_the_service_imports_is_in_the_bento() -> None:
    # BentoML reads the include list as gitignore-style patterns.
    spec = pathspec.PathSpec.from_lines("gitwildmatch", _bentofile()["include"])
    missing = [
        str(f.relative_to(REPO))
        for f in _service_files()
        if not spec.match_file(str(f.relative_to(REPO)))
    ]
    assert not missing, f"bentofile.yaml does not include {missing}"


def test_every_package_the_service_imports_is_declared_for_the_bento() -> None:
    declared = _installed_closure(["bentoml", *_bentofile()["python"]["packages"]])
    distributions = md.packages_distributions()
    local = {f.relative_to(REPO).parts[0] for f in _service_files()}
    undeclared: dict[str, str] = {}
    for path in _service_files():
        for name in _imported_top_level(path) - local - set(sys.stdlib_module_names):
            for dist in distributions.get(name, [name]):
                if _key(dist) not in declared:
                    undeclared[name] = f"{dist} (imported by {path.relative_to(REPO)})"
    assert not undeclared, f"bentofile.yaml's packages lack {sorted(undeclared.values())}"


def test_the_fast_server_parts_are_declared_for_the_bento() -> None:
    """uvicorn picks uvloop and httptools when installed (~0.5 ms of CPU per request less);
    a Bento without them serves on the pure-Python event loop and parser."""
    declared = _installed_closure(_bentofile()["python"]["packages"])
    assert {"uvloop", "httptools"} <= declared
