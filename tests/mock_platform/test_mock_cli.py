"""myna-mock command line (uvicorn is replaced by a recorder)."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn

from mock_platform.cli import is_loopback, main


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("192.168.1.10", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, expected: bool) -> None:
    assert is_loopback(host) is expected


def test_serve_runs_the_factory_on_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append((app, kwargs)))
    assert main(["serve"]) == 0
    ((app, kwargs),) = calls
    assert app == "mock_platform.app:create_app"
    assert kwargs["factory"] is True
    assert (kwargs["host"], kwargs["port"]) == ("127.0.0.1", 8700)


def test_serve_refuses_non_loopback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: calls.append(a))
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "unauthenticated" in capsys.readouterr().err
    assert calls == []
    assert main(["serve", "--host", "0.0.0.0", "--allow-non-loopback", "--port", "9000"]) == 0
    assert main(["serve", "--port", "70000"]) == 2
