"""The relying party's side of each online channel, written with the SDK only (``myna_rp.mdoc``): the
RP builds its DeviceRequest (``age_request`` / ``build_device_request``), its SessionTranscript and opens
the envelope with the SDK; the phone is the mock's iPhone simulator, which encodes everything with the
mock's own code. Where the SDK has no builder (the OpenID4VP DCQL query) the mock's RP helper is used,
fed with the elements of the SDK's DeviceRequest.

Each ``via_*`` returns an :class:`Exchange`: the DeviceResponse the SDK opened, the transcript the RP
built for this session, and transcripts of *other* sessions (another nonce, another origin / merchant)
for replay tests.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import cbor2
from cryptography.hazmat.primitives.asymmetric import ec

# The persons at the mock clock's NOW (2026-11-29 12:00 JST), shared with the other age tests.
from lifecycle_support import AGE_19 as AGE_19
from lifecycle_support import AGE_25 as AGE_25
from lifecycle_support import PARTIAL_DOB as PARTIAL_DOB

from mock_platform.device import Smartphone
from mock_platform.mdoc.request import openid4vp_request
from myna_rp.mdoc import (
    SessionTranscript,
    apple_transcript,
    dcapi_encryption_info,
    dcapi_transcript,
    open_apple_envelope,
    open_dcapi_response,
    openid4vp_dcapi_transcript,
    public_key_sha256,
)

ORIGIN = "https://shop.example"
OTHER_ORIGIN = "https://evil.example"
MERCHANT = "merchant.example.shop"
TEAM = "TEAM123456"


@dataclass(frozen=True)
class Exchange:
    channel: str
    response: bytes  # the DeviceResponse, out of its envelope
    transcript: SessionTranscript  # built by the RP for this session
    others: tuple[SessionTranscript, ...]  # other sessions' transcripts (another nonce, origin, …)
    envelope: bytes | None = None  # the encrypted answer as received (Apple, DC API)
    recipient_key: ec.EllipticCurvePrivateKey | None = None


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def requested_elements(device_request: bytes) -> dict[str, list[str]]:
    """The elements an (SDK-built) DeviceRequest asks for, read back with plain cbor2."""
    request = cbor2.loads(device_request)
    [doc_request] = request["docRequests"]
    items = cbor2.loads(doc_request["itemsRequest"].value)
    return {ns: list(names) for ns, names in items["nameSpaces"].items()}


def via_apple(
    phone: Smartphone, device_request: bytes, *, withhold: Iterable[tuple[str, str]] = (), sync: bool = True
) -> Exchange:
    """iOS app, Apple "Verify with Wallet": APPLE-HPKE-v1 envelope opened by the SDK."""
    rp_key = ec.generate_private_key(ec.SECP256R1())
    nonce = secrets.token_bytes(32)
    envelope = phone.present_apple(
        device_request,
        nonce=nonce,
        merchant_id=MERCHANT,
        team_id=TEAM,
        recipient_public_key=rp_key.public_key(),
        withhold=withhold,
        sync=sync,
    )
    key_hash = public_key_sha256(rp_key.public_key())
    transcript = apple_transcript(
        nonce=nonce, merchant_id=MERCHANT, team_id=TEAM, encryption_key_hash=key_hash
    )
    response = open_apple_envelope(envelope, recipient_private_key=rp_key, session_transcript=transcript)
    others = (
        apple_transcript(
            nonce=secrets.token_bytes(32), merchant_id=MERCHANT, team_id=TEAM, encryption_key_hash=key_hash
        ),
        apple_transcript(
            nonce=nonce, merchant_id="merchant.example.other", team_id=TEAM, encryption_key_hash=key_hash
        ),
    )
    return Exchange("apple", response, transcript, others, envelope, rp_key)


def via_dc_api(
    phone: Smartphone, device_request: bytes, *, withhold: Iterable[tuple[str, str]] = (), sync: bool = True
) -> Exchange:
    """Web, Digital Credentials API ``org-iso-mdoc`` (ISO/IEC 18013-7 Annex C), opened by the SDK."""
    rp_key = ec.generate_private_key(ec.SECP256R1())
    info = dcapi_encryption_info(nonce=secrets.token_bytes(16), recipient_public_key=rp_key.public_key())
    answer = phone.present_dc_api(
        {"deviceRequest": b64url(device_request), "encryptionInfo": info},
        origin=ORIGIN,
        withhold=withhold,
        sync=sync,
    )
    encrypted = b64url_decode(answer["response"])
    transcript = dcapi_transcript(encryption_info_b64url=info, origin=ORIGIN)
    response = open_dcapi_response(encrypted, recipient_private_key=rp_key, session_transcript=transcript)
    other_info = dcapi_encryption_info(
        nonce=secrets.token_bytes(16), recipient_public_key=rp_key.public_key()
    )
    others = (
        dcapi_transcript(encryption_info_b64url=other_info, origin=ORIGIN),
        dcapi_transcript(encryption_info_b64url=info, origin=OTHER_ORIGIN),
    )
    return Exchange("dcapi", response, transcript, others, encrypted, rp_key)


def via_openid4vp(
    phone: Smartphone, device_request: bytes, *, withhold: Iterable[tuple[str, str]] = (), sync: bool = True
) -> Exchange:
    """OpenID4VP over the DC API (``response_mode: dc_api``, unencrypted: no JWK thumbprint)."""
    nonce = b64url(secrets.token_bytes(16))
    request = openid4vp_request(requested_elements(device_request), nonce=nonce)
    answer = phone.present_openid4vp(request, origin=ORIGIN, withhold=withhold, sync=sync)
    [token] = answer["vp_token"]["mnc"]
    transcript = openid4vp_dcapi_transcript(origin=ORIGIN, nonce=nonce)
    others = (
        openid4vp_dcapi_transcript(origin=ORIGIN, nonce=b64url(secrets.token_bytes(16))),
        openid4vp_dcapi_transcript(origin=OTHER_ORIGIN, nonce=nonce),
    )
    return Exchange("openid4vp_dcapi", b64url_decode(token), transcript, others)


Channel = Callable[..., Exchange]
CHANNELS: dict[str, Channel] = {"apple": via_apple, "dcapi": via_dc_api, "openid4vp": via_openid4vp}
