"""The SDK's public surface and the independence rule (architecture.md)."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import myna_rp
import myna_rp.jpki
import myna_rp.revocation

PACKAGE = Path(myna_rp.__file__).resolve().parent


def test_all_names_resolve() -> None:
    for module in (myna_rp, myna_rp.jpki, myna_rp.revocation):
        assert len(set(module.__all__)) == len(module.__all__)
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module.__name__}.{name}"


def test_top_level_surface() -> None:
    expected = {
        "JPKIVerifier", "TrustStore", "RevocationChecker", "RevocationPolicy", "RevocationEvidence",
        "OCSPClient", "CRLSource", "MynaRPError", "Reason", "Clock", "FixedClock", "SystemClock",
        "CertificateKind", "FormFactor", "BasicFourAttributes",
    }
    assert expected <= set(myna_rp.__all__)


def test_myna_rp_never_imports_mock_platform() -> None:
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "import_module":
                names = [
                    a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
                ]
            bad = [n for n in names if n.split(".")[0] in {"mock_platform", "myna_demo"}]
            if bad:
                offenders[str(path.relative_to(PACKAGE))] = bad
    assert offenders == {}


def test_every_dependency_error_is_wrapped() -> None:
    """Each public error class is a MynaRPError with a Reason."""
    errors = importlib.import_module("myna_rp.errors")
    for name in dir(errors):
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, Exception) and value.__module__ == errors.__name__:
            assert issubclass(value, myna_rp.MynaRPError)
            assert isinstance(value.default_reason, myna_rp.Reason)
