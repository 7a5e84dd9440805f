"""The holder's side of an OpenID Connect login: the Digital Authentication App (デジタル認証アプリ).

The relying party sends the user's browser to the provider's authorization endpoint; the app on the
user's phone then shows who asks for what (the consent screen), lets the user choose the token — the
physical card read over NFC, or the phone's own smartphone certificates (スマホ用電子証明書) — takes the
PIN(s), signs the provider's challenge (and, for a sign transaction, the document digest) with the token's
keys, and hands the browser back to the relying party (the provider's 303 redirect with ``code`` and
``state``, or ``error=access_denied`` when the user declines).

* :meth:`AuthApp.open` — the browser opens the RP's authorization URL; the app receives the interaction
  (:class:`InteractionRequest`). A request the provider refuses is sent straight back to the RP:
  :class:`RedirectedToRelyingParty` carries that redirect.
* :meth:`AuthApp.approve_with_card` / :meth:`AuthApp.approve_with_phone` — PINs, signatures, consent;
  return the redirect to the RP.
* :meth:`AuthApp.decline` — the user says no.

PINs are checked by the platform against its PIN records with the lifecycle's lockout rules (card and
phone keep separate counters): a wrong PIN raises :class:`PinIncorrectProblemError` (``remaining_tries``;
the interaction stays open), a locked one :class:`PinLockedProblemError` (the interaction fails; its
``redirect_to`` sends the browser back to the RP with ``error=access_denied``). Other refusals raise
:class:`AuthAppProblemError` with the provider's stable ``code``.

Works with any :class:`httpx.Client` pointed at the platform (``TestClient(app)`` in-process or a client
for ``myna-mock serve``). Nothing here logs; PINs only travel in request bodies.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from ..ca.token import TokenSimulator
from ..oidc.service import interaction_message
from .simulator import Card, PlatformProblemError, Smartphone

_JSON = dict[str, Any]


class AuthAppProblemError(PlatformProblemError):
    """The provider refused a step of the app (problem+json with a stable ``code``)."""


class PinIncorrectProblemError(AuthAppProblemError):
    """``PIN_INCORRECT``: a wrong PIN or password; ``remaining_tries`` before the lock."""

    @property
    def remaining_tries(self) -> int | None:
        value = self.body.get("remaining_tries")
        return value if isinstance(value, int) else None


class PinLockedProblemError(AuthAppProblemError):
    """``PIN_LOCKED``: the PIN is locked (reset at the municipal counter); the interaction has failed.

    Attributes:
        redirect_to: the RP redirect with ``error=access_denied`` (where the browser goes next), if given.
    """

    @property
    def redirect_to(self) -> str | None:
        value = self.body.get("redirect_to")
        return value if isinstance(value, str) else None


class RedirectedToRelyingParty(Exception):  # noqa: N818 - an outcome, not a failure of the app
    """The provider sent the browser straight back to the RP (a refused request: ``error`` in the URL)."""

    def __init__(self, location: str) -> None:
        super().__init__("the provider redirected the browser back to the relying party")
        self.location = location


@dataclass(frozen=True, slots=True)
class SignRequest:
    """The document digest the user is asked to sign (SHA-256) and its DigestInfo (RFC 8017 §9.2)."""

    transaction_id: str
    digest: bytes
    digest_info: bytes


@dataclass(frozen=True, slots=True)
class InteractionRequest:
    """What the app shows: the RP, the scopes and claims to release, accepted tokens, and what to sign.

    Attributes:
        interaction_uri: the provider's URL of this interaction (approve / decline are below it).
        acr_values: the tokens the RP accepts (``urn:myna-mock:acr:jpki-card`` / ``…:jpki-smartphone``).
        needs_signing_certificate: the scopes need the signing password (attributes or ``sign``).
        challenge: the provider's one-time challenge the token signs.
    """

    interaction_id: str
    interaction_uri: str
    status: str
    client_id: str
    client_name: str
    scopes: tuple[str, ...]
    claims: tuple[str, ...]
    acr_values: tuple[str, ...]
    needs_signing_certificate: bool
    challenge: bytes
    sign: SignRequest | None
    expires_at: datetime


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class AuthApp:
    """The Digital Authentication App on the user's phone, driving the mock provider over HTTP.

    Args:
        http: the client to the platform (also plays the user's browser for :meth:`open`).
    """

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    # -- the browser hands the request to the app ---------------------------------------------------

    def open(self, authorization_url: str) -> InteractionRequest:
        """Open the RP's authorization URL (the browser) and read the interaction (the app).

        Raises:
            RedirectedToRelyingParty: the provider refused the request and redirected to the RP.
            AuthAppProblemError: the provider refused without redirecting (unknown client, bad
                redirect URI: the browser shows an error page).
        """
        response = self._http.get(authorization_url, follow_redirects=False)
        if response.status_code in (302, 303):
            raise RedirectedToRelyingParty(response.headers["location"])
        body = self._json(response)
        return self.show(str(body["interaction_uri"]))

    def show(self, interaction_uri: str) -> InteractionRequest:
        """Read (again) the interaction at ``interaction_uri``."""
        body = self._json(self._http.get(interaction_uri))
        sign = body.get("sign")
        return InteractionRequest(
            interaction_id=body["interaction_id"],
            interaction_uri=interaction_uri,
            status=body["status"],
            client_id=body["client_id"],
            client_name=body["client_name"],
            scopes=tuple(body["scopes"]),
            claims=tuple(body["claims"]),
            acr_values=tuple(body["acr_values"]),
            needs_signing_certificate=bool(body["needs_signing_certificate"]),
            challenge=_b64url_decode(body["challenge"]),
            sign=SignRequest(
                sign["transaction_id"], _b64url_decode(sign["digest"]), _b64url_decode(sign["digest_info"])
            )
            if isinstance(sign, Mapping)
            else None,
            expires_at=datetime.fromisoformat(body["expires_at"]),
        )

    # -- the user's answer ------------------------------------------------------------------------

    def approve_with_card(
        self,
        request: InteractionRequest,
        card: Card,
        *,
        pin: str,
        signing_password: str | None = None,
    ) -> str:
        """Consent and authenticate with the physical card (its 4-digit user-authentication PIN, and the
        signing password when the scopes need the signing certificate). Returns the redirect to the RP."""
        body = self._approval(
            request, card.user_authentication, card.signing, pin=pin, signing_password=signing_password
        )
        return self._approve(request, {"method": "card", "card_id": card.card_id, **body})

    def approve_with_phone(
        self,
        request: InteractionRequest,
        phone: Smartphone,
        *,
        pin: str,
        signing_password: str | None = None,
    ) -> str:
        """Consent and authenticate with the phone's smartphone certificates (their own PIN and
        password). Returns the redirect to the RP."""
        if phone.registration_id is None or phone.user_authentication is None:
            raise LookupError("this handset has no smartphone certificates")
        body = self._approval(
            request, phone.user_authentication, phone.signing, pin=pin, signing_password=signing_password
        )
        return self._approve(
            request,
            {
                "method": "smartphone",
                "device_id": phone.device_id,
                "registration_id": phone.registration_id,
                **body,
            },
        )

    def decline(self, request: InteractionRequest) -> str:
        """The user declines: returns the redirect to the RP (``error=access_denied``)."""
        return self._redirect(self._http.post(f"{request.interaction_uri}/decline", follow_redirects=False))

    # -- internals --------------------------------------------------------------------------------

    def _approval(
        self,
        request: InteractionRequest,
        authentication: TokenSimulator,
        signing: TokenSimulator | None,
        *,
        pin: str,
        signing_password: str | None,
    ) -> _JSON:
        # The token signs whatever the app gives it once the PIN is entered; the provider checks the PIN
        # against its records (the counters live there) and then the signatures.
        body: _JSON = {
            "user_authentication_pin": pin,
            "user_authentication_signature": _b64url(
                authentication.sign(
                    interaction_message(request.interaction_id, request.challenge, "user_authentication")
                )
            ),
        }
        if request.needs_signing_certificate and signing is not None and signing_password is not None:
            if request.sign is not None:
                signature = signing.sign_digest(request.sign.digest)
            else:
                signature = signing.sign(
                    interaction_message(request.interaction_id, request.challenge, "signing")
                )
            body["signing_password"] = signing_password
            body["signing_signature"] = _b64url(signature)
        return body

    def _approve(self, request: InteractionRequest, body: _JSON) -> str:
        return self._redirect(
            self._http.post(f"{request.interaction_uri}/approve", json=body, follow_redirects=False)
        )

    def _redirect(self, response: httpx.Response) -> str:
        if response.status_code in (302, 303):
            return response.headers["location"]
        self._json(response)  # raises the problem
        raise AuthAppProblemError(response.status_code, {"code": "UNEXPECTED_ANSWER"})

    @staticmethod
    def _json(response: httpx.Response) -> _JSON:
        try:
            body = response.json()
        except ValueError:
            body = {"code": f"HTTP_{response.status_code}", "detail": response.text[:200]}
        if not isinstance(body, dict):
            body = {"code": f"HTTP_{response.status_code}"}
        if response.status_code >= 400:
            code = body.get("code")
            error_type: type[AuthAppProblemError] = AuthAppProblemError
            if code == "PIN_INCORRECT":
                error_type = PinIncorrectProblemError
            elif code == "PIN_LOCKED":
                error_type = PinLockedProblemError
            raise error_type(response.status_code, body)
        return body


__all__ = [
    "AuthApp",
    "AuthAppProblemError",
    "InteractionRequest",
    "PinIncorrectProblemError",
    "PinLockedProblemError",
    "RedirectedToRelyingParty",
    "SignRequest",
]
