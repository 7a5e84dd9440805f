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
    paths["anchor"] = tmp_path / "anchor.der"
    paths["anchor"].write_bytes(_self_signed_der())
    return paths


def _self_signed_der() -> bytes:
    """A well-formed self-signed root, so that only the file under test is bad."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cli bad-input test root")])
    now = datetime(2025, 1, 1, tzinfo=UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(Encoding.DER)


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
        "trust-anchor": str(files["anchor"]),
        "certificate": str(files["truncated"]),
        "signature": str(files["text"]),
        "data": str(files["text"]),
    }
    argv[role] = str(files[bad])
    args = ["verify-jpki", "--at", "2026-01-01T00:00:00Z"]
    for key, value in argv.items():
        args += [f"--{key}", value]
    code, payload, _ = _run(capsys, *args)
    if role == "trust-anchor":  # bad trust configuration: a usage error, as for verify-mdoc --iaca
        assert code == 2
        assert payload["reason"] == "USAGE_ERROR"
        return
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
