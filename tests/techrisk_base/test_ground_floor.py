"""The ground floor imports nothing but the standard library, so every package may import it."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import techrisk_base

GROUND = Path(techrisk_base.__file__).parent


def _imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_ground_floor_imports_only_the_standard_library() -> None:
    modules = sorted(GROUND.glob("*.py"))
    assert len(modules) >= 3
    for module in modules:
        outside = _imported_roots(module) - set(sys.stdlib_module_names) - {"techrisk_base"}
        assert not outside, f"{module.name} imports {sorted(outside)}"
