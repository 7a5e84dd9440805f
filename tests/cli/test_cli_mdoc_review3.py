"""verify-mdoc / verify-age after the third review of issue 4: a map whose keys are not all text strings is
printed as an explicit ``{"cbor_map": [[key, value], ...]}`` (keys that print alike are never merged); the
``--max-bytes`` default follows ``CBOROptions``/``MAX_CBOR_BYTES`` (1 MiB); nested element values (read-only
since the third review) still print as JSON objects and arrays."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

import cbor2
import pytest
from cryptography.hazmat.primitives.serialization import Encoding

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "mdoc"))

from mdoc_issuer import NS, NS_JP, IssuerPKI, default_elements, issue

from myna_rp.cli import build_parser, cbor_json, main
from myna_rp.mdoc import CBOROptions
from myna_rp.mdoc.cbor import MAX_CBOR_BYTES

AT = "2026-06-01T12:00:00Z"


def _strict_json(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"non-standard JSON constant {constant}")

    return json.loads(text, parse_constant=refuse)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, _strict_json(out), err


@pytest.fixture(scope="module")
def pki() -> IssuerPKI:
    return IssuerPKI()


def _files(tmp_path: Path, pki: IssuerPKI, elements: dict[str, dict[str, Any]]) -> list[str]:
    issued = issue(pki, elements=elements)
    (tmp_path / "iaca.pem").write_bytes(pki.iaca.public_bytes(Encoding.PEM))
    (tmp_path / "response.cbor").write_bytes(issued.device_response)
    (tmp_path / "transcript.cbor").write_bytes(issued.transcript)
    return [
        "--iaca", str(tmp_path / "iaca.pem"), "--device-response", str(tmp_path / "response.cbor"),
        "--session-transcript", str(tmp_path / "transcript.cbor"), "--at", AT,
    ]  # fmt: skip


# --- 6. maps with keys that are not all text strings ---------------------------------------------------


@pytest.mark.parametrize("command", ["verify-mdoc", "verify-age"])
def test_colliding_keys_are_all_printed(
    tmp_path: Path, pki: IssuerPKI, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    values = {
        "collide": {1: "int-one", "1": "str-one"},
        "bytes_vs_text": {b"\x00": "bytes key", "AA==": "text key"},
        "bool_vs_text": {True: "bool", "true": "text"},
        "text_only": {"a": {"b": [1, {"c": 2}]}},
        "nested": [{2: "two"}, {"x": {None: 0}}],
    }
    code, payload, _ = _run(
        capsys, command, *_files(tmp_path, pki, {"org.example": values, NS: {"age_over_20": True}})
    )
    assert code == 0
    out = payload["elements"]["org.example"]
    # before: {"1": "str-one"} — the integer key's entry was lost
    assert out["collide"] == {"cbor_map": [[1, "int-one"], ["1", "str-one"]]}
    assert out["bytes_vs_text"] == {"cbor_map": [["AA==", "bytes key"], ["AA==", "text key"]]}
    assert out["bool_vs_text"] == {"cbor_map": [[True, "bool"], ["true", "text"]]}
    assert out["text_only"] == {"a": {"b": [1, {"c": 2}]}}  # all keys text: a plain object
    assert out["nested"] == [{"cbor_map": [[2, "two"]]}, {"x": {"cbor_map": [[None, 0]]}}]
    if command == "verify-age":
        assert payload["over"] is True


def test_cbor_json_maps_and_frozen_values() -> None:
    assert cbor_json({1: "a", "1": "b"}) == {"cbor_map": [[1, "a"], ["1", "b"]]}
    assert cbor_json(MappingProxyType({"1": (1, MappingProxyType({2: b"\x01"}))})) == {
        "1": [1, {"cbor_map": [[2, "AQ=="]]}]
    }
    assert cbor_json({(1, 2): 3, cbor2.CBORTag(7, 1): 4}) == {
        "cbor_map": [[[1, 2], 3], [{"tag": 7, "value": 1}, 4]]
    }
    assert cbor_json({}) == {}
    # every entry of a map survives, in order, whatever its key
    keys = [0, "0", b"0", True, None, -1, 0.5, "x"]  # (0/False and 1/True are one key in a Python dict)
    printed = cbor_json(dict.fromkeys(keys, "v"))
    assert printed["cbor_map"] == [[k, "v"] for k in [0, "0", "MA==", True, None, -1, 0.5, "x"]]


def test_nested_birth_date_map_prints_as_an_object(
    tmp_path: Path, pki: IssuerPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    code, payload, _ = _run(
        capsys,
        "verify-age",
        *_files(
            tmp_path, pki, {NS: {"birth_date": {"birth_date": date(2001, 4, 2), "approximate_mask": "0000"}}}
        ),
    )
    assert code == 0
    assert payload["elements"][NS]["birth_date"] == {"birth_date": "2001-04-02", "approximate_mask": "0000"}
    assert (payload["over"], payload["evidence"]) == (True, "birth_date")


# --- 1. the CLI's size limit follows the option -----------------------------------------------------------


def test_max_bytes_default_follows_the_cbor_option() -> None:
    for command in ("verify-mdoc", "verify-age"):
        args = build_parser().parse_args(
            [command, "--iaca", "x", "--device-response", "y", "--session-transcript", "z"]
        )
        assert args.max_bytes == MAX_CBOR_BYTES == CBOROptions().max_bytes == 1024 * 1024


def test_a_response_over_1_mib_needs_max_bytes(
    tmp_path: Path, pki: IssuerPKI, capsys: pytest.CaptureFixture[str]
) -> None:
    elements = default_elements()
    elements[NS_JP]["portrait"] = b"\xff\xd8" + bytes(1024 * 1024)
    argv = _files(tmp_path, pki, elements)
    code, payload, err = _run(capsys, "verify-mdoc", *argv)
    assert (code, payload["reason"]) == (1, "MALFORMED_INPUT")
    assert "larger than 1048576 bytes" in err
    code, payload, _ = _run(capsys, "verify-mdoc", *argv, "--max-bytes", str(2 * 1024 * 1024))
    assert code == 0
    assert payload["valid"] is True
