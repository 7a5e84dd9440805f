"""The holder's side of the platform operator API: giving and withdrawing consent (同意) for an RP.

The holder (their phone app or a card reader) fetches a consent challenge for the relying party's
``client_id``, signs :func:`mock_platform.platform_api.service.consent_message` with the
**user-authentication** key (the card's or the phone's), and posts it. The platform verifies the
signature, the certificate (issued by it, good now) and records the consent for the certificate's owner.

Works with any :class:`httpx.Client` pointed at the platform (``TestClient(app)`` in-process). Errors raise
:class:`~mock_platform.device.simulator.PlatformProblemError`.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
from cryptography.hazmat.primitives.serialization import Encoding

from ..ca.token import TokenSimulator
from ..platform_api.service import consent_message
from .simulator import PlatformProblemError

_CHALLENGES = "/platform/v1/holder/consent-challenges"
_CONSENTS = "/platform/v1/holder/consents"


def _call(http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = http.post(path, json=body)
    try:
        parsed = response.json()
    except ValueError:
        parsed = {"code": f"HTTP_{response.status_code}"}
    if response.status_code >= 400 or not isinstance(parsed, dict):
        raise PlatformProblemError(response.status_code, parsed if isinstance(parsed, dict) else {})
    return parsed


def set_consent(http: httpx.Client, token: TokenSimulator, client_id: str, action: str) -> dict[str, Any]:
    """``action`` ``grant`` or ``withdraw`` consent for ``client_id``, signed with ``token`` (a
    user-authentication token with its certificate). Returns the platform's ``ConsentOut`` JSON."""
    challenge = _call(http, _CHALLENGES, {"client_id": client_id})
    nonce = base64.b64decode(challenge["nonce"])
    signature = token.sign(consent_message(action, client_id, nonce))
    return _call(
        http,
        _CONSENTS,
        {
            "challenge_id": challenge["challenge_id"],
            "client_id": client_id,
            "action": action,
            "signature": base64.b64encode(signature).decode("ascii"),
            "certificate": base64.b64encode(token.certificate.public_bytes(Encoding.DER)).decode("ascii"),
        },
    )


def give_consent(http: httpx.Client, token: TokenSimulator, client_id: str) -> dict[str, Any]:
    """Consent to give ``client_id`` the latest basic four attributes."""
    return set_consent(http, token, client_id, "grant")


def withdraw_consent(http: httpx.Client, token: TokenSimulator, client_id: str) -> dict[str, Any]:
    """Withdraw that consent (later attribute queries answer ``CONSENT_REQUIRED``)."""
    return set_consent(http, token, client_id, "withdraw")
