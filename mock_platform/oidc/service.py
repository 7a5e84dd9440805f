"""OIDCService: an OpenID provider shaped like the Digital Authentication App (デジタル認証アプリ).

What it does, by standard:

* **Discovery and keys** (OIDC Discovery 1.0 §3/§4, RFC 7517): ``{issuer}/.well-known/openid-configuration``
  and ``{issuer}/jwks``; ID tokens signed with ES256 (RFC 7518 §3.4) by a key kept in the database
  (:class:`~mock_platform.oidc.keys.ProviderKeys`).
* **Authorization code flow** (OIDC Core §3.1, RFC 6749 §4.1) with PKCE S256 required (RFC 7636: a missing
  ``code_challenge`` or ``plain`` is refused), ``state`` echoed, ``nonce`` carried into the ID token,
  ``redirect_uri`` matched exactly against the RP's registered URIs (OIDC Core §3.1.2.1), ``iss`` in every
  authorization response (RFC 9207), ``acr_values`` (:class:`~mock_platform.oidc.claims.Acr`), and the
  scopes of :mod:`mock_platform.oidc.claims`. Codes are single use (a second use also revokes the tokens
  of the first, RFC 6749 §4.1.2) and live :attr:`OIDCConfig.code_ttl`.
* **Client authentication**: ``private_key_jwt`` only (OIDC Core §9, RFC 7523), through the shared
  :class:`~mock_platform.rp_auth.RelyingPartyRegistry` (audience: the token endpoint or the issuer).
* **ID tokens** with a pairwise ``sub`` (OIDC Core §8.1) from
  :meth:`RelyingPartyRegistry.subject_for` over the resident's id: the same for one RP sector whatever card
  or phone the holder uses (card renewal, phone change), different across sectors.
* **UserInfo** (OIDC Core §5.3) with a bearer token (RFC 6750): ``sub`` and the claims of the granted
  scopes only, as approved by the holder (a snapshot taken at approval).
* **Sign transactions** (this mock's shape of the app's signing feature): a client-credentials token
  (scope ``sign``) creates a transaction over a SHA-256 digest, or an RFC 8017 §9.2 DigestInfo of one; the
  authorization request references it with RFC 9396 ``authorization_details``
  (``[{"type": "jpki_sign", "transaction_id": …}]``) and scope ``sign``; the holder signs the digest with
  the JPKI signing key (PKCS#1 v1.5) while approving; the RP then fetches the signature and the signing
  certificate (DER).

The holder's part has no browser: :meth:`OIDCService.authorize` opens a pending *interaction*; the holder's
app (:mod:`mock_platform.device.auth_app`) reads it, then approves (token choice, PINs checked against the
lifecycle's PIN records with their lockout rules, signatures by the token's keys) or declines; the answer
is the RP redirect (303) with ``code`` and ``state``, or ``error=access_denied``.

Design: no module-level state; every state change is one transaction guarded by its expected status
(``UPDATE … WHERE status = 'pending'``), so a racing second approval, code redemption or signature cannot
apply twice. Logs carry ids and statuses only, never attributes, PINs or tokens.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from joserfc import jwt
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..ca.service import CAService, CertificateStatus
from ..clock import Clock, require_aware, whole_seconds
from ..db import CardRecord, Database, DeviceRecord, ResidentRecord, SmartphoneRegistrationRecord
from ..issuance.errors import PinLockedError
from ..issuance.pins import PinKind
from ..issuance.service import LifecycleService
from ..issuance.states import CardState, RegistrationState
from ..rp_auth import (
    ALLOWED_ASSERTION_ALGORITHMS,
    CLIENT_ASSERTION_TYPE,
    ClientAuthenticationError,
    RelyingParty,
    RelyingPartyRegistry,
)
from .claims import (
    CLAIMS_SUPPORTED,
    Acr,
    Scope,
    claims_for,
    needs_signing_certificate,
    parse_scopes,
    released_claim_names,
    scope_string,
)
from .errors import AuthorizationRedirectError, BearerTokenError, OAuthError, OIDCProblemError
from .keys import ProviderKeys
from .models import (
    OIDCAccessTokenRecord,
    OIDCAuthorizationCodeRecord,
    OIDCInteractionRecord,
    SignTransactionRecord,
)

logger = logging.getLogger(__name__)

#: The DER prefix of an RFC 8017 §9.2 DigestInfo for SHA-256 (Note 1), followed by the 32-byte digest.
SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
#: Domain separation of what the holder's token signs to answer an interaction challenge.
INTERACTION_CONTEXT = b"myna-mock/oidc-interaction/v1\x00"
#: RFC 9396 ``authorization_details`` type of a sign transaction.
SIGN_DETAILS_TYPE = "jpki_sign"

_MAX_PARAM = 2048
_MAX_STATE = 512
_PKCE_S256_LENGTH = 43  # base64url(SHA-256) without padding
_B64URL = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
_VERIFIER_CHARS = _B64URL | frozenset(".~")


def interaction_message(interaction_id: str, challenge: bytes, purpose: str) -> bytes:
    """The bytes a token signs (SHA-256, RSA PKCS#1 v1.5 or ECDSA) to answer an interaction challenge.

    ``purpose`` is ``user_authentication`` or ``signing`` (which key signs), so one signature cannot stand
    in for the other.
    """
    return (
        INTERACTION_CONTEXT
        + purpose.encode("ascii")
        + b"\x00"
        + interaction_id.encode("ascii")
        + b"\x00"
        + challenge
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url without padding. Raises ValueError."""
    if not text or not set(text) <= _B64URL or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def digest_from_digest_info(digest_info: bytes) -> bytes:
    """The SHA-256 digest inside an RFC 8017 §9.2 DigestInfo (exact DER of Note 1). Raises ValueError."""
    if len(digest_info) != len(SHA256_DIGEST_INFO_PREFIX) + 32 or not digest_info.startswith(
        SHA256_DIGEST_INFO_PREFIX
    ):
        raise ValueError("not the DER DigestInfo of a SHA-256 digest")
    return digest_info[len(SHA256_DIGEST_INFO_PREFIX) :]


@dataclass(frozen=True, slots=True)
class OIDCConfig:
    """Behaviour of the provider.

    Attributes:
        issuer: the issuer identifier (OIDC Discovery §2: https or http, no query or fragment, no trailing
            slash); its path is where the routes are mounted (``/oidc`` by default).
        interaction_ttl: how long the holder has to approve an authorization request.
        code_ttl: lifetime of an authorization code (short: RFC 6749 §4.1.2 recommends ≤ 10 minutes).
        access_token_ttl: lifetime of access tokens.
        id_token_ttl: ``exp`` − ``iat`` of ID tokens.
        sign_transaction_ttl: how long a sign transaction waits for the holder.
    """

    issuer: str = "http://127.0.0.1:8700/oidc"
    interaction_ttl: timedelta = timedelta(minutes=10)
    code_ttl: timedelta = timedelta(seconds=60)
    access_token_ttl: timedelta = timedelta(minutes=10)
    id_token_ttl: timedelta = timedelta(minutes=10)
    sign_transaction_ttl: timedelta = timedelta(minutes=10)

    def __post_init__(self) -> None:
        parts = urlsplit(self.issuer)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("issuer must be an absolute http(s) URL without query or fragment")
        if self.issuer.endswith("/"):
            raise ValueError("issuer must not end with '/'")
        for name in (
            "interaction_ttl",
            "code_ttl",
            "access_token_ttl",
            "id_token_ttl",
            "sign_transaction_ttl",
        ):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")

    @property
    def path_prefix(self) -> str:
        """The issuer's path (``/oidc``), where the router is mounted; ``""`` for a host-only issuer."""
        return urlsplit(self.issuer).path

    def endpoint(self, name: str) -> str:
        return f"{self.issuer}/{name}"


# ----------------------------------------------------------------------------------------- views


@dataclass(frozen=True, slots=True)
class AuthorizationStarted:
    """The answer of the authorization endpoint: the interaction the holder's app completes."""

    interaction_id: str
    expires_at: datetime
    interaction_uri: str


@dataclass(frozen=True, slots=True)
class SignRequestView:
    """What the holder is asked to sign: the digest, and the DigestInfo the token signs (RFC 8017 §9.2)."""

    transaction_id: str
    digest: bytes
    digest_info: bytes


@dataclass(frozen=True, slots=True)
class InteractionView:
    """An interaction as the holder's app shows it (no personal data: the app knows its holder)."""

    interaction_id: str
    status: str
    client_id: str
    client_name: str
    scopes: tuple[str, ...]
    claims: tuple[str, ...]
    acr_values: tuple[str, ...]
    needs_signing_certificate: bool
    challenge: bytes
    sign: SignRequestView | None
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Approval:
    """The holder's approval, as the app sends it.

    Attributes:
        method: ``card`` (the physical card over NFC) or ``smartphone`` (the phone's own certificates).
        card_id: the card's id (``token == "card"``).
        device_id, registration_id: the handset and its registration (``token == "smartphone"``).
        user_authentication_pin: the 4-digit PIN of the chosen token.
        user_authentication_signature: the user-authentication key's signature over
            :func:`interaction_message` (``purpose="user_authentication"``).
        signing_password: the signing password, when the scopes need the signing certificate.
        signing_signature: the signing key's signature: over the sign transaction's digest (PKCS#1 v1.5
            over its DigestInfo) with scope ``sign``, else over :func:`interaction_message`
            (``purpose="signing"``).
    """

    method: str
    user_authentication_pin: str
    user_authentication_signature: bytes
    card_id: str | None = None
    device_id: str | None = None
    registration_id: str | None = None
    signing_password: str | None = None
    signing_signature: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class SignTransactionView:
    """A sign transaction as its RP sees it. ``signature``/``certificate_der``/``subject`` once signed."""

    transaction_id: str
    status: str
    digest: bytes
    digest_info_given: bool
    created_at: datetime
    expires_at: datetime
    signed_at: datetime | None
    signature: bytes | None
    certificate_der: bytes | None
    subject: str | None
    acr: str | None


@dataclass(frozen=True, slots=True)
class _Holder:
    resident_pk: int
    acr: Acr
    card_public_id: str | None
    registration_pk: int | None
    user_authentication_serial: str | None
    signing_serial: str | None


@dataclass(frozen=True, slots=True)
class _AccessToken:
    client_id: str
    scopes: tuple[Scope, ...]
    interaction_pk: int | None


# ----------------------------------------------------------------------------------------- service


class OIDCService:
    """The provider over one database, clock, CA, lifecycle and relying-party registry.

    Args:
        database: the mock's database (tables created if missing).
        clock: "now" for every expiry and token timestamp.
        ca: certificates and their status (the holder's tokens must be good at approval).
        lifecycle: the PIN records and their lockout rules.
        registry: relying parties (client authentication, redirect URIs, pairwise subjects).
        config: :class:`OIDCConfig`.
    """

    def __init__(
        self,
        database: Database,
        clock: Clock,
        *,
        ca: CAService,
        lifecycle: LifecycleService,
        registry: RelyingPartyRegistry,
        config: OIDCConfig | None = None,
    ) -> None:
        self._db = database
        self._clock = clock
        self._ca = ca
        self._lifecycle = lifecycle
        self._registry = registry
        self._config = config if config is not None else OIDCConfig()
        database.create_all()
        self._keys = ProviderKeys(database, clock)
        self._keys.signing_key()

    @property
    def config(self) -> OIDCConfig:
        return self._config

    @property
    def keys(self) -> ProviderKeys:
        return self._keys

    def _now(self) -> datetime:
        return whole_seconds(require_aware(self._clock.now()))

    # ------------------------------------------------------------------ discovery

    def discovery(self) -> dict[str, Any]:
        """The provider metadata (OIDC Discovery 1.0 §3; RFC 8414 names; RFC 9207; RFC 9396)."""
        c = self._config
        return {
            "issuer": c.issuer,
            "authorization_endpoint": c.endpoint("authorize"),
            "token_endpoint": c.endpoint("token"),
            "userinfo_endpoint": c.endpoint("userinfo"),
            "jwks_uri": c.endpoint("jwks"),
            "sign_transaction_endpoint": c.endpoint("sign-transactions"),
            "scopes_supported": [scope.value for scope in Scope],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "client_credentials"],
            "acr_values_supported": [acr.value for acr in Acr],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "userinfo_signing_alg_values_supported": [],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": sorted(ALLOWED_ASSERTION_ALGORITHMS),
            "claims_supported": list(CLAIMS_SUPPORTED),
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": True,
            "authorization_details_types_supported": [SIGN_DETAILS_TYPE],
            "ui_locales_supported": ["ja", "en"],
        }

    def jwks(self) -> dict[str, Any]:
        return self._keys.jwks()

    # ------------------------------------------------------------------ authorization endpoint

    def authorize(self, params: Sequence[tuple[str, str]]) -> AuthorizationStarted:
        """Validate an authentication request (OIDC Core §3.1.2.1–§3.1.2.2) and open an interaction.

        Args:
            params: the request parameters in order (query for GET, form for POST), duplicates kept.

        Raises:
            OIDCProblemError: the client or its redirect URI cannot be trusted (never redirected):
                ``INVALID_CLIENT`` / ``INVALID_REDIRECT_URI`` (400).
            AuthorizationRedirectError: any other error, to be reported at the redirect URI.
        """
        values: dict[str, list[str]] = {}
        for name, value in params:
            values.setdefault(name, []).append(value)
        rp = self._trusted_client(values)
        redirect_uri = values["redirect_uri"][0]
        try:
            return self._start_interaction(rp, redirect_uri, values)
        except AuthorizationRedirectError as error:
            state = _single(values, "state")
            echoable = state is not None and len(state) <= _MAX_STATE and state.isprintable()
            raise error.to(redirect_uri, state if echoable else None) from None

    def error_redirect(self, redirect_uri: str, state: str | None, error: str, description: str) -> str:
        """``redirect_uri`` with ``error``, ``error_description``, ``state`` and ``iss`` (RFC 9207)."""
        params = {"error": error, "error_description": description}
        if state is not None:
            params["state"] = state
        params["iss"] = self._config.issuer
        return _with_query(redirect_uri, params)

    def _trusted_client(self, values: Mapping[str, list[str]]) -> RelyingParty:
        client_ids = values.get("client_id", [])
        if len(client_ids) != 1 or not _is_id(client_ids[0]):
            raise OIDCProblemError(
                400, "INVALID_CLIENT", "Invalid client", "exactly one client_id is required"
            )
        rp = self._registry.get(client_ids[0])
        if rp is None:
            raise OIDCProblemError(400, "INVALID_CLIENT", "Invalid client", "unknown client_id")
        uris = values.get("redirect_uri", [])
        # Exact string match against the registration (OIDC Core §3.1.2.1): no prefix or pattern matching.
        if len(uris) != 1 or uris[0] not in rp.redirect_uris:
            raise OIDCProblemError(
                400,
                "INVALID_REDIRECT_URI",
                "Invalid redirect URI",
                "redirect_uri is missing, repeated or not registered for this client",
            )
        return rp

    def _start_interaction(
        self, rp: RelyingParty, redirect_uri: str, values: Mapping[str, list[str]]
    ) -> AuthorizationStarted:
        redirect_error = AuthorizationRedirectError
        for name, items in values.items():
            if len(items) > 1:
                raise redirect_error("invalid_request", f"parameter {name} is repeated")
            if len(items[0]) > _MAX_PARAM:
                raise redirect_error("invalid_request", f"parameter {name} is too long")
            if any(ord(char) < 0x20 or ord(char) == 0x7F for char in items[0]):
                # Control characters (NUL above all) cannot be stored portably (PostgreSQL refuses NUL).
                raise redirect_error("invalid_request", f"parameter {name} contains control characters")
        if "request" in values:
            raise redirect_error("request_not_supported", "request objects are not supported")
        if "request_uri" in values:
            raise redirect_error("request_uri_not_supported", "request_uri is not supported")
        if _single(values, "response_type") != "code":
            raise redirect_error("unsupported_response_type", "only response_type=code is supported")
        if _single(values, "response_mode") not in (None, "query"):
            raise redirect_error("invalid_request", "only response_mode=query is supported")
        scopes = parse_scopes(_single(values, "scope") or "")
        if Scope.OPENID not in scopes:
            raise redirect_error("invalid_scope", "the openid scope is required")
        state = _single(values, "state")
        nonce = _single(values, "nonce")
        if (state is not None and len(state) > _MAX_STATE) or (nonce is not None and len(nonce) > _MAX_STATE):
            raise redirect_error("invalid_request", "state and nonce are limited to 512 characters")
        challenge = _single(values, "code_challenge")
        method = _single(values, "code_challenge_method")
        if challenge is None:
            raise redirect_error("invalid_request", "PKCE is required: send code_challenge (S256)")
        if method != "S256":
            # A missing method means "plain" (RFC 7636 §4.3): refused like an explicit plain.
            raise redirect_error("invalid_request", "code_challenge_method must be S256")
        if len(challenge) != _PKCE_S256_LENGTH or not set(challenge) <= _B64URL:
            raise redirect_error("invalid_request", "code_challenge is not a base64url SHA-256 value")
        if "none" in (_single(values, "prompt") or "").split(" "):
            raise redirect_error("login_required", "the holder must authenticate with the app")
        acr_values = _requested_acr(_single(values, "acr_values"))
        max_age = _max_age(_single(values, "max_age"))
        transaction_row = self._sign_transaction_for(rp, scopes, _single(values, "authorization_details"))

        now = self._now()
        record = OIDCInteractionRecord(
            public_id=_new_id("ia"),
            client_id=rp.client_id,
            redirect_uri=redirect_uri,
            scope=scope_string(scopes),
            state=state,
            nonce=nonce,
            code_challenge=challenge,
            acr_values=" ".join(acr.value for acr in acr_values) or None,
            max_age=max_age,
            sign_transaction_id=transaction_row,
            challenge=secrets.token_bytes(32),
            status="pending",
            created_at=now,
            expires_at=now + self._config.interaction_ttl,
        )
        try:
            with self._db.transaction() as session:
                session.add(record)
        except IntegrityError as exc:
            raise redirect_error(
                "invalid_authorization_details", "the sign transaction is already presented"
            ) from exc
        logger.info("interaction %s opened for client %s", record.public_id, rp.client_id)
        return AuthorizationStarted(
            record.public_id,
            record.expires_at,
            self._config.endpoint(f"interactions/{record.public_id}"),
        )

    def _sign_transaction_for(
        self, rp: RelyingParty, scopes: Sequence[Scope], raw_details: str | None
    ) -> int | None:
        """The row id of the sign transaction named by ``authorization_details`` (RFC 9396 §2), if any."""
        error = AuthorizationRedirectError
        if raw_details is None:
            if Scope.SIGN in scopes:
                raise error("invalid_request", "scope sign needs authorization_details naming a transaction")
            return None
        if Scope.SIGN not in scopes:
            raise error("invalid_request", "authorization_details of type jpki_sign need scope sign")
        try:
            details = json.loads(raw_details)
        except ValueError as exc:
            raise error("invalid_authorization_details", "authorization_details is not JSON") from exc
        if (
            not isinstance(details, list)
            or len(details) != 1
            or not isinstance(details[0], dict)
            or details[0].get("type") != SIGN_DETAILS_TYPE
            or not isinstance(details[0].get("transaction_id"), str)
            or not _is_id(details[0]["transaction_id"])
        ):
            raise error(
                "invalid_authorization_details",
                'expected [{"type": "jpki_sign", "transaction_id": "…"}]',
            )
        now = self._now()
        with self._db.transaction() as session:
            transaction = session.scalars(
                select(SignTransactionRecord).where(
                    SignTransactionRecord.public_id == details[0]["transaction_id"]
                )
            ).one_or_none()
            if transaction is None or transaction.client_id != rp.client_id:
                raise error("invalid_authorization_details", "unknown sign transaction")
            if transaction.status != "pending" or transaction.expires_at <= now:
                raise error("invalid_authorization_details", "the sign transaction is no longer pending")
            presented = session.scalars(
                select(OIDCInteractionRecord.id).where(
                    OIDCInteractionRecord.sign_transaction_id == transaction.id
                )
            ).first()
            if presented is not None:
                raise error("invalid_authorization_details", "the sign transaction is already presented")
            return transaction.id

    # ------------------------------------------------------------------ the holder's app

    def interaction(self, interaction_id: str) -> InteractionView:
        """What the app shows: client, scopes, claims to release, accepted tokens, challenge, digest.

        Raises:
            OIDCProblemError: ``UNKNOWN_INTERACTION`` (404).
        """
        with self._db.transaction() as session:
            record = self._interaction(session, interaction_id)
            transaction = (
                session.get(SignTransactionRecord, record.sign_transaction_id)
                if record.sign_transaction_id is not None
                else None
            )
        rp = self._registry.get(record.client_id)
        scopes = parse_scopes(record.scope)
        sign = None
        if transaction is not None:
            sign = SignRequestView(
                transaction.public_id, transaction.digest, SHA256_DIGEST_INFO_PREFIX + transaction.digest
            )
        status = record.status
        if status == "pending" and record.expires_at <= self._now():
            status = "expired"
        return InteractionView(
            interaction_id=record.public_id,
            status=status,
            client_id=record.client_id,
            client_name=rp.name if rp is not None else record.client_id,
            scopes=tuple(scope.value for scope in scopes),
            claims=tuple(released_claim_names(scopes)),
            acr_values=tuple(_accepted_acr(record.acr_values)),
            needs_signing_certificate=needs_signing_certificate(scopes),
            challenge=record.challenge,
            sign=sign,
            expires_at=record.expires_at,
        )

    def approve(self, interaction_id: str, approval: Approval) -> str:
        """The holder consents and authenticates; returns the RP redirect with ``code``, ``state``, ``iss``.

        Steps: the interaction is pending and not expired; the chosen token is usable and satisfies
        ``acr_values``; its user-authentication certificate is good and its key signed the challenge
        (possession); its PINs are checked (lockout rules of :mod:`mock_platform.issuance.pins`: a wrong
        entry counts, a correct one resets); the signing certificate is good and its signature verifies;
        then, in one transaction, the interaction is approved, the code minted and the sign transaction (if
        any) signed.

        Raises:
            OIDCProblemError: ``UNKNOWN_INTERACTION`` (404), ``INTERACTION_NOT_PENDING`` (409),
                ``INTERACTION_EXPIRED`` (409), ``INVALID_APPROVAL`` (422), ``ACR_NOT_SATISFIED`` (409),
                ``TOKEN_NOT_USABLE`` (409), ``WRONG_DEVICE`` (403), ``SIGNING_CERTIFICATE_REQUIRED``
                (409), ``CERTIFICATE_NOT_VALID`` (409), ``SIGNATURE_INVALID`` (422).
            LifecycleError: ``PIN_INCORRECT`` (403, ``remaining_tries``) — the interaction stays pending;
                ``PIN_LOCKED`` (423) — the interaction fails; the error's ``extra["redirect_to"]`` (a member
                of the problem document) is the RP redirect with ``error=access_denied``.
        """
        now = self._now()
        with self._db.transaction() as session:
            record = self._interaction(session, interaction_id)
        self._require_pending(record, now)
        scopes = parse_scopes(record.scope)
        holder = self._holder(approval)
        accepted = _accepted_acr(record.acr_values)
        if holder.acr not in accepted:
            raise OIDCProblemError(
                409,
                "ACR_NOT_SATISFIED",
                "Token not accepted",
                "the relying party asked for another kind of token (acr_values)",
                acr_values=[acr.value for acr in accepted],
            )
        signing = needs_signing_certificate(scopes)
        if holder.user_authentication_serial is None:
            raise OIDCProblemError(
                409,
                "TOKEN_NOT_USABLE",
                "Token not usable",
                "the token has no user-authentication certificate",
            )
        if signing and holder.signing_serial is None:
            raise OIDCProblemError(
                409,
                "SIGNING_CERTIFICATE_REQUIRED",
                "Signing certificate required",
                "the requested scopes need the signing certificate, which this token does not hold",
            )
        if signing and (approval.signing_password is None or approval.signing_signature is None):
            raise OIDCProblemError(
                422,
                "INVALID_APPROVAL",
                "Invalid approval",
                "the requested scopes need the signing password and a signing signature",
            )

        # Possession first: the token's user-authentication key answered this interaction's challenge.
        authentication_certificate = self._good_certificate(holder.user_authentication_serial, now)
        if not _verify(
            authentication_certificate.public_key(),
            approval.user_authentication_signature,
            interaction_message(record.public_id, record.challenge, "user_authentication"),
        ):
            raise OIDCProblemError(
                422,
                "SIGNATURE_INVALID",
                "Signature invalid",
                "the user-authentication signature does not verify",
            )
        # The PINs are counted only for whoever holds the token (its signature above proves it): on a real
        # card the applet checks the PIN before it signs; a lock fails the interaction.
        try:
            self._check_pin(holder, signing=False, secret=approval.user_authentication_pin)
            if signing:
                assert approval.signing_password is not None
                self._check_pin(holder, signing=True, secret=approval.signing_password)
        except PinLockedError as locked:
            self._fail(record, now)
            locked.extra["redirect_to"] = self.error_redirect(
                record.redirect_uri, record.state, "access_denied", "the holder could not authenticate"
            )
            raise

        transaction = None
        if record.sign_transaction_id is not None:
            with self._db.transaction() as session:
                transaction = session.get_one(SignTransactionRecord, record.sign_transaction_id)
            if transaction.status != "pending" or transaction.expires_at <= now:
                raise OIDCProblemError(
                    409, "INTERACTION_NOT_PENDING", "Sign transaction closed", "the sign transaction expired"
                )

        if signing:
            assert holder.signing_serial is not None
            assert approval.signing_signature is not None
            signing_certificate = self._good_certificate(holder.signing_serial, now)
            if transaction is not None:
                ok = _verify_digest(
                    signing_certificate.public_key(), approval.signing_signature, transaction.digest
                )
            else:
                ok = _verify(
                    signing_certificate.public_key(),
                    approval.signing_signature,
                    interaction_message(record.public_id, record.challenge, "signing"),
                )
            if not ok:
                raise OIDCProblemError(
                    422, "SIGNATURE_INVALID", "Signature invalid", "the signing signature does not verify"
                )

        code = secrets.token_urlsafe(32)
        with self._db.transaction() as session:
            resident = session.get_one(ResidentRecord, holder.resident_pk)
            claims = claims_for(resident, scopes)
            result = session.execute(
                update(OIDCInteractionRecord)
                .where(OIDCInteractionRecord.id == record.id, OIDCInteractionRecord.status == "pending")
                .values(
                    status="approved",
                    resident_id=holder.resident_pk,
                    acr=holder.acr.value,
                    amr=" ".join(holder.acr.amr),
                    auth_time=now,
                    claims_json=json.dumps(claims, ensure_ascii=False),
                    completed_at=now,
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                raise OIDCProblemError(
                    409,
                    "INTERACTION_NOT_PENDING",
                    "Interaction closed",
                    "the interaction was already completed",
                )
            session.add(
                OIDCAuthorizationCodeRecord(
                    code_sha256=_sha256_hex(code),
                    interaction_id=record.id,
                    expires_at=now + self._config.code_ttl,
                    created_at=now,
                )
            )
            if transaction is not None:
                signed = session.execute(
                    update(SignTransactionRecord)
                    .where(
                        SignTransactionRecord.id == transaction.id, SignTransactionRecord.status == "pending"
                    )
                    .values(
                        status="signed",
                        signature=approval.signing_signature,
                        certificate_serial=holder.signing_serial,
                        resident_id=holder.resident_pk,
                        acr=holder.acr.value,
                        signed_at=now,
                    )
                )
                if signed.rowcount != 1:  # type: ignore[attr-defined]
                    raise OIDCProblemError(
                        409, "INTERACTION_NOT_PENDING", "Sign transaction closed", "already signed or closed"
                    )
        logger.info("interaction %s approved with %s", record.public_id, holder.acr.name.lower())
        params = {"code": code}
        if record.state is not None:
            params["state"] = record.state
        params["iss"] = self._config.issuer
        return _with_query(record.redirect_uri, params)

    def decline(self, interaction_id: str) -> str:
        """The holder declines: the RP redirect with ``error=access_denied`` (OIDC Core §3.1.2.6).

        Raises:
            OIDCProblemError: ``UNKNOWN_INTERACTION``, ``INTERACTION_NOT_PENDING``, ``INTERACTION_EXPIRED``.
        """
        now = self._now()
        with self._db.transaction() as session:
            record = self._interaction(session, interaction_id)
        self._require_pending(record, now)
        self._close(record, now, status="declined")
        logger.info("interaction %s declined", record.public_id)
        return self.error_redirect(record.redirect_uri, record.state, "access_denied", "the holder declined")

    def _fail(self, record: OIDCInteractionRecord, now: datetime) -> None:
        self._close(record, now, status="failed")
        logger.info("interaction %s failed (PIN locked)", record.public_id)

    def _close(self, record: OIDCInteractionRecord, now: datetime, *, status: str) -> None:
        with self._db.transaction() as session:
            session.execute(
                update(OIDCInteractionRecord)
                .where(OIDCInteractionRecord.id == record.id, OIDCInteractionRecord.status == "pending")
                .values(status=status, error="access_denied", completed_at=now)
            )
            if record.sign_transaction_id is not None:
                session.execute(
                    update(SignTransactionRecord)
                    .where(
                        SignTransactionRecord.id == record.sign_transaction_id,
                        SignTransactionRecord.status == "pending",
                    )
                    .values(status=status)
                )

    def _require_pending(self, record: OIDCInteractionRecord, now: datetime) -> None:
        if record.status != "pending":
            raise OIDCProblemError(
                409,
                "INTERACTION_NOT_PENDING",
                "Interaction closed",
                f"the interaction is {record.status}",
                status_now=record.status,
            )
        if record.expires_at <= now:
            raise OIDCProblemError(409, "INTERACTION_EXPIRED", "Interaction expired", "start the login again")

    def _holder(self, approval: Approval) -> _Holder:
        """The resident and certificates behind the chosen token."""
        for value in (approval.card_id, approval.device_id, approval.registration_id):
            if value is not None and not _is_id(value):
                raise OIDCProblemError(404, "UNKNOWN_TOKEN", "Unknown token", "no such card or handset")
        with self._db.transaction() as session:
            if approval.method == "card":
                card = (
                    session.scalars(
                        select(CardRecord).where(CardRecord.public_id == approval.card_id)
                    ).one_or_none()
                    if approval.card_id
                    else None
                )
                if card is None:
                    raise OIDCProblemError(404, "UNKNOWN_TOKEN", "Unknown token", "no such card")
                if card.state != CardState.ACTIVE.value:
                    raise OIDCProblemError(
                        409, "TOKEN_NOT_USABLE", "Token not usable", f"the card is {card.state}"
                    )
                return _Holder(
                    card.resident_id,
                    Acr.CARD,
                    card.public_id,
                    None,
                    card.user_authentication_serial,
                    card.signing_serial,
                )
            if approval.method == "smartphone":
                reg = (
                    session.scalars(
                        select(SmartphoneRegistrationRecord).where(
                            SmartphoneRegistrationRecord.public_id == approval.registration_id
                        )
                    ).one_or_none()
                    if approval.registration_id
                    else None
                )
                if reg is None:
                    raise OIDCProblemError(
                        404, "UNKNOWN_TOKEN", "Unknown token", "no such smartphone registration"
                    )
                device = session.get_one(DeviceRecord, reg.device_id)
                if not secrets.compare_digest(device.device_id.encode(), (approval.device_id or "").encode()):
                    raise OIDCProblemError(
                        403, "WRONG_DEVICE", "Wrong device", "this registration belongs to another handset"
                    )
                if reg.state != RegistrationState.REGISTERED.value:
                    raise OIDCProblemError(
                        409,
                        "TOKEN_NOT_USABLE",
                        "Token not usable",
                        f"the smartphone registration is {reg.state}",
                    )
                return _Holder(
                    reg.resident_id,
                    Acr.SMARTPHONE,
                    None,
                    reg.id,
                    reg.user_authentication_serial,
                    reg.signing_serial,
                )
        raise OIDCProblemError(
            422, "INVALID_APPROVAL", "Invalid approval", "method must be card or smartphone"
        )

    def _check_pin(self, holder: _Holder, *, signing: bool, secret: str) -> None:
        if holder.card_public_id is not None:
            kind = PinKind.CARD_SIGNING if signing else PinKind.CARD_USER_AUTHENTICATION
            self._lifecycle.verify_card_pin(holder.card_public_id, kind, secret)
            return
        kind = PinKind.PHONE_SIGNING if signing else PinKind.PHONE_USER_AUTHENTICATION
        # The lifecycle's own counter logic (atomic failure count, lock at the limit, reset on success):
        # it has no public phone-PIN entry point yet, and duplicating it would let the rules drift.
        self._lifecycle._check_pin(kind, secret, registration_id=holder.registration_pk)

    def _good_certificate(self, serial_hex: str, now: datetime) -> x509.Certificate:
        self._ca.apply_pending_actions(serial_hex)  # a revocation a crash left pending
        state = self._ca.certificate_state(int(serial_hex, 16))
        if state.status is not CertificateStatus.GOOD or not state.not_before <= now <= state.not_after:
            raise OIDCProblemError(
                409,
                "CERTIFICATE_NOT_VALID",
                "Certificate not valid",
                "the token's certificate is revoked, on hold or outside its validity",
            )
        return self._ca.certificate(int(serial_hex, 16))

    def _interaction(self, session: Any, interaction_id: str) -> OIDCInteractionRecord:
        if not _is_id(interaction_id):
            raise OIDCProblemError(404, "UNKNOWN_INTERACTION", "Unknown interaction", "no such interaction")
        record = session.scalars(
            select(OIDCInteractionRecord).where(OIDCInteractionRecord.public_id == interaction_id)
        ).one_or_none()
        if record is None:
            raise OIDCProblemError(404, "UNKNOWN_INTERACTION", "Unknown interaction", "no such interaction")
        assert isinstance(record, OIDCInteractionRecord)
        return record

    # ------------------------------------------------------------------ token endpoint

    def token(self, form: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """The token endpoint (RFC 6749 §3.2, §4.1.3, §4.4; OIDC Core §3.1.3).

        Args:
            form: the ``application/x-www-form-urlencoded`` parameters, duplicates kept.

        Returns:
            The RFC 6749 §5.1 / OIDC Core §3.1.3.3 response: ``access_token``, ``token_type`` (Bearer),
            ``expires_in``, ``scope``, and ``id_token`` for the code grant (``authorization_details`` too
            for a sign transaction, RFC 9396 §7).

        Raises:
            OAuthError: ``invalid_request``, ``invalid_client`` (401), ``invalid_grant``,
                ``unsupported_grant_type``, ``invalid_scope``.
        """
        values: dict[str, str] = {}
        for name, value in form:
            if name in values:
                raise OAuthError("invalid_request", f"parameter {name} is repeated")
            if len(value) > 8192:
                raise OAuthError("invalid_request", f"parameter {name} is too long")
            if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
                raise OAuthError("invalid_request", f"parameter {name} contains control characters")
            values[name] = value
        grant_type = values.get("grant_type")
        if grant_type is None:
            raise OAuthError("invalid_request", "grant_type is required")
        if grant_type not in ("authorization_code", "client_credentials"):
            raise OAuthError("unsupported_grant_type", "only authorization_code and client_credentials")
        rp = self._authenticate_client(values)
        if grant_type == "client_credentials":
            return self._client_credentials(rp, values)
        return self._redeem_code(rp, values)

    def _authenticate_client(self, values: Mapping[str, str]) -> RelyingParty:
        assertion_type = values.get("client_assertion_type")
        assertion = values.get("client_assertion")
        if assertion_type != CLIENT_ASSERTION_TYPE or not assertion:
            raise OAuthError("invalid_client", "private_key_jwt client authentication is required")
        try:
            return self._registry.verify_client_assertion(
                assertion,
                audience=[self._config.endpoint("token"), self._config.issuer],
                client_id=values.get("client_id"),
            )
        except ClientAuthenticationError as exc:
            logger.info("client authentication failed: %s", exc.failure.value)
            raise OAuthError("invalid_client", f"client authentication failed ({exc.failure.value})") from exc

    def _client_credentials(self, rp: RelyingParty, values: Mapping[str, str]) -> dict[str, Any]:
        requested = values.get("scope", Scope.SIGN.value).split(" ")
        if set(requested) != {Scope.SIGN.value}:
            raise OAuthError("invalid_scope", "client credentials grant only scope sign")
        token, expires_in = self._mint_access_token(rp.client_id, (Scope.SIGN,), None)
        return {"access_token": token, "token_type": "Bearer", "expires_in": expires_in, "scope": "sign"}

    def _redeem_code(self, rp: RelyingParty, values: Mapping[str, str]) -> dict[str, Any]:
        code = values.get("code")
        if not code:
            raise OAuthError("invalid_request", "code is required")
        now = self._now()
        with self._db.transaction() as session:
            row = session.execute(
                select(OIDCAuthorizationCodeRecord, OIDCInteractionRecord)
                .join(
                    OIDCInteractionRecord,
                    OIDCAuthorizationCodeRecord.interaction_id == OIDCInteractionRecord.id,
                )
                .where(OIDCAuthorizationCodeRecord.code_sha256 == _sha256_hex(code))
            ).one_or_none()
            if row is None:
                raise OAuthError("invalid_grant", "unknown authorization code")
            code_record, interaction = row
            if interaction.client_id != rp.client_id:
                raise OAuthError("invalid_grant", "the code was issued to another client")
            # Single use: the first redemption attempt burns the code, whatever follows (fail closed).
            consumed = session.execute(
                update(OIDCAuthorizationCodeRecord)
                .where(
                    OIDCAuthorizationCodeRecord.id == code_record.id,
                    OIDCAuthorizationCodeRecord.used_at.is_(None),
                )
                .values(used_at=now)
            )
            reused = consumed.rowcount != 1  # type: ignore[attr-defined]
            if reused:
                session.execute(
                    update(OIDCAccessTokenRecord)
                    .where(OIDCAccessTokenRecord.interaction_id == interaction.id)
                    .values(revoked=True)
                )
        if reused:
            logger.info("authorization code of interaction %s reused: tokens revoked", interaction.public_id)
            raise OAuthError("invalid_grant", "the authorization code was already used")
        if code_record.expires_at <= now:
            raise OAuthError("invalid_grant", "the authorization code expired")
        if values.get("redirect_uri") != interaction.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization request")
        verifier = values.get("code_verifier")
        if verifier is None:
            raise OAuthError("invalid_grant", "code_verifier is required (PKCE)")
        if not 43 <= len(verifier) <= 128 or not set(verifier) <= _VERIFIER_CHARS:
            raise OAuthError("invalid_grant", "code_verifier is malformed (RFC 7636 §4.1)")
        computed = b64url(hashlib.sha256(verifier.encode("ascii")).digest())
        if not secrets.compare_digest(computed, interaction.code_challenge):
            raise OAuthError("invalid_grant", "code_verifier does not match code_challenge")
        if interaction.resident_id is None or interaction.acr is None or interaction.auth_time is None:
            raise OAuthError("invalid_grant", "the interaction was not approved")

        scopes = parse_scopes(interaction.scope)
        token, expires_in = self._mint_access_token(rp.client_id, scopes, interaction.id)
        with self._db.transaction() as session:
            resident = session.get_one(ResidentRecord, interaction.resident_id)
            transaction = (
                session.get(SignTransactionRecord, interaction.sign_transaction_id)
                if interaction.sign_transaction_id is not None
                else None
            )
        subject = self._registry.subject_for(rp, resident.public_id)
        claims: dict[str, Any] = {
            "iss": self._config.issuer,
            "sub": subject,
            "aud": rp.client_id,
            "exp": int((now + self._config.id_token_ttl).timestamp()),
            "iat": int(now.timestamp()),
            "auth_time": int(interaction.auth_time.timestamp()),
            "acr": interaction.acr,
            "amr": (interaction.amr or "").split(" "),
            "at_hash": _at_hash(token),
        }
        if interaction.nonce is not None:
            claims["nonce"] = interaction.nonce
        key = self._keys.signing_key()
        id_token = jwt.encode(
            {"alg": "ES256", "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=["ES256"]
        )
        response: dict[str, Any] = {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "scope": scope_string(scopes),
            "id_token": id_token,
        }
        if transaction is not None:
            response["authorization_details"] = [
                {"type": SIGN_DETAILS_TYPE, "transaction_id": transaction.public_id}
            ]
        logger.info("tokens issued for interaction %s", interaction.public_id)
        return response

    def _mint_access_token(
        self, client_id: str, scopes: Sequence[Scope], interaction_pk: int | None
    ) -> tuple[str, int]:
        token = secrets.token_urlsafe(32)
        now = self._now()
        with self._db.transaction() as session:
            session.add(
                OIDCAccessTokenRecord(
                    token_sha256=_sha256_hex(token),
                    client_id=client_id,
                    interaction_id=interaction_pk,
                    scope=scope_string(scopes),
                    expires_at=now + self._config.access_token_ttl,
                    created_at=now,
                )
            )
        return token, int(self._config.access_token_ttl.total_seconds())

    # ------------------------------------------------------------------ bearer-protected resources

    def _access_token(self, authorization: str | None) -> _AccessToken:
        if authorization is None:
            raise BearerTokenError("invalid_token", "an Authorization: Bearer token is required")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > 512:
            raise BearerTokenError("invalid_token", "an Authorization: Bearer token is required")
        now = self._now()
        with self._db.transaction() as session:
            record = session.scalars(
                select(OIDCAccessTokenRecord).where(OIDCAccessTokenRecord.token_sha256 == _sha256_hex(token))
            ).one_or_none()
        if record is None or record.revoked or record.expires_at <= now:
            raise BearerTokenError("invalid_token", "the access token is unknown, revoked or expired")
        return _AccessToken(record.client_id, parse_scopes(record.scope), record.interaction_id)

    def userinfo(self, authorization: str | None) -> dict[str, Any]:
        """The UserInfo response (OIDC Core §5.3.2): ``sub`` and the claims of the granted scopes.

        Raises:
            BearerTokenError: ``invalid_token`` (401), ``insufficient_scope`` (403: not an ``openid``
                token, e.g. a client-credentials token).
        """
        token = self._access_token(authorization)
        if Scope.OPENID not in token.scopes or token.interaction_pk is None:
            raise BearerTokenError("insufficient_scope", "the token was not issued for openid")
        with self._db.transaction() as session:
            interaction = session.get_one(OIDCInteractionRecord, token.interaction_pk)
            resident = session.get_one(ResidentRecord, interaction.resident_id)
        rp = self._registry.get(token.client_id)
        if rp is None:
            raise BearerTokenError("invalid_token", "the client is no longer registered")
        claims: dict[str, Any] = {"sub": self._registry.subject_for(rp, resident.public_id)}
        claims.update(json.loads(interaction.claims_json or "{}"))
        return claims

    def create_sign_transaction(
        self, authorization: str | None, *, digest: str, digest_info: bool
    ) -> SignTransactionView:
        """Create a sign transaction (bearer token with scope ``sign``).

        Args:
            digest: base64url of the 32-byte SHA-256 digest, or (``digest_info``) of its RFC 8017 §9.2
                DigestInfo DER.

        Raises:
            BearerTokenError: no valid token, or one without scope ``sign``.
            OIDCProblemError: ``INVALID_DIGEST`` (422).
        """
        token = self._access_token(authorization)
        if Scope.SIGN not in token.scopes:
            raise BearerTokenError("insufficient_scope", "scope sign is required")
        try:
            raw = b64url_decode(digest)
            value = digest_from_digest_info(raw) if digest_info else raw
        except ValueError as exc:
            raise OIDCProblemError(422, "INVALID_DIGEST", "Invalid digest", str(exc)) from exc
        if len(value) != 32:
            raise OIDCProblemError(422, "INVALID_DIGEST", "Invalid digest", "a SHA-256 digest is 32 bytes")
        now = self._now()
        record = SignTransactionRecord(
            public_id=_new_id("stx"),
            client_id=token.client_id,
            digest=value,
            digest_info_given=digest_info,
            status="pending",
            created_at=now,
            expires_at=now + self._config.sign_transaction_ttl,
        )
        with self._db.transaction() as session:
            session.add(record)
        logger.info("sign transaction %s created by client %s", record.public_id, token.client_id)
        return self._transaction_view(record, None)

    def sign_transaction(self, authorization: str | None, transaction_id: str) -> SignTransactionView:
        """A sign transaction of the token's client (scope ``sign``); unknown or foreign → 404.

        Raises:
            BearerTokenError, OIDCProblemError: ``UNKNOWN_SIGN_TRANSACTION`` (404).
        """
        token = self._access_token(authorization)
        if Scope.SIGN not in token.scopes:
            raise BearerTokenError("insufficient_scope", "scope sign is required")
        if not _is_id(transaction_id):
            raise OIDCProblemError(
                404, "UNKNOWN_SIGN_TRANSACTION", "Unknown sign transaction", "no such sign transaction"
            )
        with self._db.transaction() as session:
            record = session.scalars(
                select(SignTransactionRecord).where(SignTransactionRecord.public_id == transaction_id)
            ).one_or_none()
            resident = (
                session.get(ResidentRecord, record.resident_id)
                if record is not None and record.resident_id is not None
                else None
            )
        if record is None or not secrets.compare_digest(record.client_id, token.client_id):
            raise OIDCProblemError(
                404, "UNKNOWN_SIGN_TRANSACTION", "Unknown sign transaction", "no such sign transaction"
            )
        subject = None
        if resident is not None:
            rp = self._registry.get(record.client_id)
            subject = self._registry.subject_for(rp, resident.public_id) if rp is not None else None
        return self._transaction_view(record, subject)

    def _transaction_view(self, record: SignTransactionRecord, subject: str | None) -> SignTransactionView:
        status = record.status
        if status == "pending" and record.expires_at <= self._now():
            status = "expired"
        certificate_der = None
        if record.certificate_serial is not None:
            certificate_der = self._ca.certificate(int(record.certificate_serial, 16)).public_bytes(
                serialization.Encoding.DER
            )
        return SignTransactionView(
            transaction_id=record.public_id,
            status=status,
            digest=record.digest,
            digest_info_given=record.digest_info_given,
            created_at=record.created_at,
            expires_at=record.expires_at,
            signed_at=record.signed_at,
            signature=record.signature,
            certificate_der=certificate_der,
            subject=subject,
            acr=record.acr,
        )


# ----------------------------------------------------------------------------------------- helpers


def _is_id(value: str) -> bool:
    """A plausible identifier: 1–64 printable ASCII characters without spaces (ids, client ids)."""
    return 1 <= len(value) <= 64 and value.isascii() and value.isprintable() and " " not in value


def _single(values: Mapping[str, list[str]], name: str) -> str | None:
    items = values.get(name)
    return items[0] if items else None


def _requested_acr(raw: str | None) -> tuple[Acr, ...]:
    """The known values of ``acr_values`` in the RP's order; unknown values are ignored (voluntary)."""
    if raw is None:
        return ()
    known = {acr.value: acr for acr in Acr}
    chosen: list[Acr] = []
    for value in raw.split(" "):
        acr = known.get(value)
        if acr is not None and acr not in chosen:
            chosen.append(acr)
    if not chosen:
        raise AuthorizationRedirectError("invalid_request", "none of the acr_values is supported")
    return tuple(chosen)


def _accepted_acr(stored: str | None) -> tuple[Acr, ...]:
    if not stored:
        return tuple(Acr)
    return tuple(Acr(value) for value in stored.split(" "))


def _max_age(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        raise AuthorizationRedirectError("invalid_request", "max_age must be a non-negative integer")
    return int(raw)


def _with_query(uri: str, params: Mapping[str, str]) -> str:
    parts = urlsplit(uri)
    query = parts.query + ("&" if parts.query else "") + urlencode(params)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _at_hash(access_token: str) -> str:
    """OIDC Core §3.1.3.6: base64url of the left half of SHA-256(access_token) (ES256 → SHA-256)."""
    return b64url(hashlib.sha256(access_token.encode("ascii")).digest()[:16])


def _verify(public_key: object, signature: bytes, message: bytes) -> bool:
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


def _verify_digest(public_key: object, signature: bytes, digest: bytes) -> bool:
    algorithm = Prehashed(hashes.SHA256())
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, digest, padding.PKCS1v15(), algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, digest, ec.ECDSA(algorithm))
        else:
            return False
    except (InvalidSignature, ValueError):
        return False
    return True


__all__ = [
    "INTERACTION_CONTEXT",
    "SHA256_DIGEST_INFO_PREFIX",
    "SIGN_DETAILS_TYPE",
    "Approval",
    "AuthorizationStarted",
    "InteractionView",
    "OIDCConfig",
    "OIDCService",
    "SignRequestView",
    "SignTransactionView",
    "b64url",
    "b64url_decode",
    "digest_from_digest_info",
    "interaction_message",
]
