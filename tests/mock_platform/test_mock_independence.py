"""mock_platform never imports myna_rp (architecture.md, independence rule), and keeps no module state."""

from __future__ import annotations

import ast
from pathlib import Path

import mock_platform.app

# Not mock_platform.__file__: under pytest's prepend import mode the tests/mock_platform folder makes
# "mock_platform" a namespace package whose __file__ is None (the real modules still load).
PACKAGE = Path(mock_platform.app.__file__).resolve().parent


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_mock_platform_never_imports_myna_rp() -> None:
    offenders = {
        str(path.relative_to(PACKAGE)): sorted(n for n in _imports(path) if n.split(".")[0] == "myna_rp")
        for path in PACKAGE.rglob("*.py")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_module_level_app_or_service() -> None:
    names = {"FastAPI", "CAService", "Database", "MockClock", "SystemClock", "Settings"}
    assert not any(type(value).__name__ in names for value in vars(mock_platform.app).values())
