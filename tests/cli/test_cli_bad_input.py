"""The CLI never prints a traceback: bad files give exit 1 (or 2 for usage) and a reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from myna_rp.cli import main

GARBAGE_PEM = b"-----BEGIN CERTIFICATE-----\nnot*base64*at*all\n-----END CERTIFICATE-----\n"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, object], str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, json.loads(out), err


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    cases = {
        "empty": b"",
        "truncated": bytes.fromhex("3082040a30820372a003020102"),
        "random": os.urandom(10 * 1024 * 1024),
        "garbage_pem": GARBAGE_PEM,
        "text": b"hello world\n",
    }
    paths = {}
    for name, data in cases.items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(data)
    return paths


@pytest.mark.parametrize("bad", ["empty", "truncated", "random", "garbage_pem", "text"])
def test_inspect_bad_file(bad: str, files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    code, payload, err = _run(capsys, "inspect", str(files[bad]))
    assert code == 1
    assert payload["valid"] is False
    assert payload["reason"] == "MALFORMED_INPUT"
    assert err.strip()


@pytest.mark.parametrize("bad", ["empty", "truncated", "random", "garbage_pem", "text"])
@pytest.mark.parametrize("role", ["trust-anchor", "certificate", "signature", "crl", "ocsp-response"])
def test_verify_jpki_bad_file_in_every_role(
    bad: str, role: str, files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = {
        "trust-anchor": str(files["truncated"]),
        "certificate": str(files["truncated"]),
        "signature": str(files["text"]),
        "data": str(files["text"]),
    }
    argv[role] = str(files[bad])
    args = ["verify-jpki", "--at", "2026-01-01T00:00:00Z"]
    for key, value in argv.items():
        args += [f"--{key}", value]
    code, payload, _ = _run(capsys, *args)
    assert code == 1
    assert payload["valid"] is False
    assert payload["reason"] == "MALFORMED_INPUT"


@pytest.mark.parametrize(
    "argv",
    [
        ["verify-jpki"],  # missing required options
        ["verify-jpki", "--trust-anchor", "x", "--certificate", "y"],  # neither --signature nor --cms
        [
            "verify-jpki",
            "--trust-anchor",
            "/nonexistent",
            "--certificate",
            "/nonexistent",
            "--cms",
            "/nonexistent",
        ],
        ["verify-jpki", "--trust-anchor", "x", "--certificate", "y", "--cms", "z", "--at", "yesterday"],
        ["no-such-command"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, payload, err = _run(capsys, *argv)
    assert code == 2
    assert payload["valid"] is False
    assert "usage" in err


def test_naive_time_is_a_usage_error(files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    t = str(files["text"])
    code, _, err = _run(
        capsys,
        "verify-jpki",
        "--trust-anchor",
        t,
        "--certificate",
        t,
        "--cms",
        t,
        "--at",
        "2026-01-01T00:00:00",
    )
    assert code == 2
    assert "offset" in err


def test_console_script_has_no_traceback(files: dict[str, Path]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "myna_rp.cli", "inspect", str(files["random"])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert json.loads(proc.stdout)["reason"] == "MALFORMED_INPUT"
