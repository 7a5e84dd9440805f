"""Real wallet DeviceResponses (openwallet-foundation-labs/mdoc-ts tests/examples, Apache-2.0; see
../shared/vectors/README.md, section mdoc-wallet-samples), verified with the transcripts listed in
cases.json. The Google sample carries tdates with fractional seconds, which ISO/IEC 18013-5 forbids: it
verifies only with the explicit ``CBOROptions(lenient_tdate=True)``, and is refused by the strict default."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from myna_rp import MalformedInputError
from myna_rp.encoding import load_certificates
from myna_rp.mdoc import (
    CBOROptions,
    DeviceAuthKind,
    IACAStore,
    MdocVerifier,
    openid4vp_dcapi_transcript,
    openid4vp_transcript,
)
from myna_rp.mdoc.cbor import dumps

pytestmark = pytest.mark.vectors

LENIENT = {"google"}


def _cases(vectors_dir: Path) -> list[dict[str, Any]]:
    return json.loads((vectors_dir / "mdoc-wallet-samples" / "cases.json").read_text())["cases"]


CASE_NAMES = ["google", "france", "ubique", "animo-mdoc-05", "bdr"]


@pytest.fixture(scope="module")
def samples(vectors: Path) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in _cases(vectors)}


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, list | tuple):  # arrays inside element values come out as tuples (read-only)
        return [_plain(v) for v in value]
    if hasattr(value, "items"):
        return {k: _plain(v) for k, v in value.items()}
    return value


@pytest.mark.parametrize("name", CASE_NAMES)
def test_wallet_sample_verifies(vectors: Path, samples: dict[str, dict[str, Any]], name: str) -> None:
    case = samples[name]
    folder = vectors / "mdoc-wallet-samples"
    anchors = [c for f in case["trusted_certificates"] for c in load_certificates((folder / f).read_bytes())]
    at = datetime.fromisoformat(case["verification_time"].replace("Z", "+00:00"))
    verifier = MdocVerifier(IACAStore(anchors), cbor_options=CBOROptions(lenient_tdate=name in LENIENT))
    expected = case["expected"]
    if "device_response" in case:
        transcript = (folder / case["session_transcript"]["file"]).read_bytes()
        assert hashlib.sha256(transcript).hexdigest() == case["session_transcript"]["sha256"]
        p = verifier.verify(
            (folder / case["device_response"]).read_bytes(), session_transcript=transcript, at=at
        )
        assert p.device_auth is DeviceAuthKind.SIGNATURE
    else:
        p = verifier.verify_issuer_signed(
            (folder / case["issuer_signed"]).read_bytes(), doc_type=expected["docType"], at=at
        )
        assert p.device_auth is DeviceAuthKind.NONE
    assert p.doc_type == expected["docType"]
    assert _plain(p.elements) == expected["elements"]
    assert p.validity.valid_until == datetime.fromisoformat(expected["validityInfo"]["validUntil"])
    assert p.validity.signed == datetime.fromisoformat(expected["validityInfo"]["signed"])
    assert len(p.issuer_chain) == expected["x5chain_len"] + (1 if name == "animo-mdoc-05" else 0)
    assert hashlib.sha256(p.issuer_chain[0].public_bytes(_der())).hexdigest() == expected["leaf_sha256"]


def _der():  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


def test_google_sample_refused_by_strict_tdate(vectors: Path, samples: dict[str, dict[str, Any]]) -> None:
    case = samples["google"]
    folder = vectors / "mdoc-wallet-samples"
    anchors = [c for f in case["trusted_certificates"] for c in load_certificates((folder / f).read_bytes())]
    with pytest.raises(MalformedInputError):
        MdocVerifier(IACAStore(anchors)).verify(
            (folder / case["device_response"]).read_bytes(),
            session_transcript=(folder / case["session_transcript"]["file"]).read_bytes(),
            at=datetime.fromisoformat(case["verification_time"].replace("Z", "+00:00")),
        )


def test_animo_transcript_rebuilt_by_the_openid4vp_builder(vectors: Path, samples: dict[str, Any]) -> None:
    """OpenID4VP 1.0 redirect handover built from cases.json inputs equals the sample's transcript."""
    case = samples["animo-mdoc-05"]["session_transcript"]
    inputs = case["inputs"]
    built = openid4vp_transcript(
        client_id=inputs["client_id"],
        nonce=inputs["nonce"],
        jwk_thumbprint=bytes.fromhex(inputs["jwk_thumbprint_hex"]),
        response_uri=inputs["response_uri"],
    )
    assert built.raw == (vectors / "mdoc-wallet-samples" / case["file"]).read_bytes()


def test_google_draft24_transcript_shape(vectors: Path, samples: dict[str, Any]) -> None:
    """Draft 24 hashed [origin, client_id, nonce]; 1.0 hashes [origin, nonce, thumbprint]. The builder
    implements 1.0; the draft-24 bytes are reproduced here from the same primitives to pin the format."""
    case = samples["google"]["session_transcript"]
    i = case["inputs"]
    info_hash = hashlib.sha256(dumps([i["origin"], i["client_id"], i["nonce"]])).digest()
    raw = dumps([None, None, ["OpenID4VPDCAPIHandover", info_hash]])
    assert raw == (vectors / "mdoc-wallet-samples" / case["file"]).read_bytes()
    assert openid4vp_dcapi_transcript(origin=i["origin"], nonce=i["nonce"]).raw != raw
