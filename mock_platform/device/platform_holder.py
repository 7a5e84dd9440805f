"""The holder's side of the platform operator API: the platform's own app giving and withdrawing consent
(同意) for a relying party to receive the latest basic four attributes.

Consent never travels through an RP. The platform's app, on the holder's phone (or with the card on an
NFC reader):

1. asks the platform for a consent challenge for (RP, action), naming the holder's token — the card's id,
   or the handset and its smartphone registration (identifiers the platform's app knows and RPs never
   see);
2. signs the consent structure (:func:`mock_platform.platform_api.service.consent_message`, starting with
   ``myna-platform-consent/``) with that token's user-authentication key through
   :meth:`~mock_platform.ca.token.TokenSimulator.sign_consent` — the token's login signing
   (:meth:`~mock_platform.ca.token.TokenSimulator.sign`, :meth:`Smartphone.authenticate`) refuses such data,
   so an RP's login challenge can never produce one;
3. posts the signature with the user-authentication PIN the holder typed into the app; the platform checks
   it with the lockout rules of the PIN records.

Works with any :class:`httpx.Client` pointed at the platform (``TestClient(app)`` in-process). Errors raise
:class:`~mock_platform.device.simulator.PlatformProblemError` (``code`` ``PIN_INCORRECT`` with
``remaining_tries``, ``PIN_LOCKED``, ``UNKNOWN_CLIENT``, ``TOKEN_NOT_USABLE``, ``TOO_MANY_CHALLENGES`` …).
"""

from __future__ import annotations

import base64
from typing import Any

import httpx

from ..ca.token import TokenSimulator
from ..platform_api.service import consent_message
from .simulator import Card, PlatformProblemError, Smartphone

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


def _token(holder: Card | Smartphone) -> tuple[dict[str, Any], TokenSimulator]:
    if isinstance(holder, Card):
        return {"method": "card", "card_id": holder.card_id}, holder.user_authentication
    if holder.registration_id is None or holder.user_authentication is None:
        raise LookupError("this handset has no smartphone certificates")
    return (
        {"method": "smartphone", "device_id": holder.device_id, "registration_id": holder.registration_id},
        holder.user_authentication,
    )


def set_consent(
    http: httpx.Client, holder: Card | Smartphone, client_id: str, action: str, *, pin: str
) -> dict[str, Any]:
    """``action`` ``grant`` or ``withdraw`` consent for ``client_id`` with the holder's ``Card`` or
    ``Smartphone`` (its user-authentication key and ``pin``). Returns the platform's ``ConsentOut`` JSON
    (``client_id``, ``relying_party_name``, ``status``, ``updated_at``)."""
    names, token = _token(holder)
    challenge = _call(http, _CHALLENGES, {"client_id": client_id, "action": action, **names})
    nonce = base64.b64decode(challenge["nonce"])
    signature = token.sign_consent(consent_message(action, client_id, nonce))
    return _call(
        http,
        _CONSENTS,
        {
            "challenge_id": challenge["challenge_id"],
            "signature": base64.b64encode(signature).decode("ascii"),
            "user_authentication_pin": pin,
        },
    )


def give_consent(
    http: httpx.Client, holder: Card | Smartphone, client_id: str, *, pin: str
) -> dict[str, Any]:
    """Consent to give ``client_id`` the latest basic four attributes."""
    return set_consent(http, holder, client_id, "grant", pin=pin)


def withdraw_consent(
    http: httpx.Client, holder: Card | Smartphone, client_id: str, *, pin: str
) -> dict[str, Any]:
    """Withdraw that consent (later attribute queries answer ``CONSENT_REQUIRED``)."""
    return set_consent(http, holder, client_id, "withdraw", pin=pin)
