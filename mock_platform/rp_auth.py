"""Relying-party registry and client authentication, shared by the platform API and the OpenID provider.

A relying party (RP, 依拠当事者) is registered once (:meth:`RelyingPartyRegistry.register`, or the
test-mode route ``POST /admin/relying-parties``) with:

* a public JWKS for ``private_key_jwt`` client authentication (OIDC Core §9, RFC 7523 §2.2 / §3);
* optionally an API key (only its SHA-256 is stored) for local use;
* redirect URIs (OpenID provider), a webhook URL + secret (platform API), and a sector identifier for
  pairwise subject identifiers (OIDC Core §8.1).

Client authentication (:meth:`RelyingPartyRegistry.verify_client_assertion`) checks a JWT client
assertion: ``iss`` == ``sub`` == a registered ``client_id``; ``aud`` contains the expected audience (the
token endpoint URL or the issuer identifier); ``exp`` present, in the future (± skew) and not further
than :attr:`RPAuthConfig.max_assertion_lifetime` away; ``iat``/``nbf`` not in the future; ``jti`` present
and single-use (stored until ``exp``, RFC 7523 §3 item 7); header ``alg`` in ES256 / PS256 / RS256 (never
``none`` or an HMAC: the registry only holds public keys); the signature verified with joserfc against the
RP's registered keys. Every failure raises :class:`ClientAuthenticationError`, which routes map to the
OAuth error ``invalid_client`` with HTTP 401 (RFC 6749 §5.2).

:func:`RelyingPartyRegistry.subject_for` derives the per-RP (pairwise) user identifier from a resident's
internal identifier with HMAC-SHA-256 under a platform secret kept in the database: stable for the RP,
unlinkable across RPs with different sector identifiers, and never revealing the internal identifier.

**Sector identifiers** (OIDC Core §8.1). Two clients get the same pairwise identifiers exactly when they
share a sector, so a sector is never taken on a client's word:

* the sector is the host of the client's redirect URIs when they all share one host; an explicit
  ``sector_identifier`` (a host, or an https ``sector_identifier_uri`` whose host is used) must cover every
  redirect URI host (equal to it, or a subdomain); several hosts without one → the ``client_id`` (a sector
  of its own); no redirect URIs → the ``client_id`` too;
* a sector belongs to the first registration that takes it (a UNIQUE row of ``relying_party_sectors``).
  A later registration joins it only with ``sector_proof``: the API key of a client already in that
  sector, or a ``private_key_jwt`` assertion by such a client with ``aud`` =
  ``urn:myna-mock:sector:<sector>`` — proof that the registering party controls that client. Without
  proof, an explicit ``sector_identifier`` is refused (``SECTOR_TAKEN``) and a sector derived from the
  redirect URIs falls back to the ``client_id`` (identifiers of its own, unlinkable to anyone's).

This is the mock's simplification of §8.1: a real provider fetches the ``sector_identifier_uri`` over
https from the sector's host (its JSON array must list the client's redirect URIs) and registration is a
contract with the operator. Here nothing proves control of a *host*; what is guaranteed is that no client
obtains another owner's identifiers by naming that owner's host or sector.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from fastapi.responses import JSONResponse
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import Integer, LargeBinary, String, Text, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from .clock import Clock
from .db import Base, Database, UTCDateTime
from .routes.problems import problem_response

#: Signature algorithms accepted for client assertions (asymmetric only; OIDC Core §9 private_key_jwt).
ALLOWED_ASSERTION_ALGORITHMS: frozenset[str] = frozenset({"ES256", "PS256", "RS256"})

#: RFC 7523 §2.2 ``client_assertion_type`` value.
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

_MAX_ASSERTION_BYTES = 8 * 1024
_MAX_JWKS_KEYS = 10


# --------------------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------------------


class RelyingPartyRecord(Base):
    """A registered relying party (client). Public keys only; the API key as a SHA-256 hex digest."""

    __tablename__ = "relying_parties"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    jwks_json: Mapped[str | None] = mapped_column(Text, default=None)
    api_key_sha256: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    redirect_uris_json: Mapped[str] = mapped_column(Text, default="[]")
    webhook_url: Mapped[str | None] = mapped_column(String(500), default=None)
    webhook_secret: Mapped[str | None] = mapped_column(String(200), default=None)
    sector_identifier: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RelyingPartySectorRecord(Base):
    """Who took a pairwise-identifier sector first (OIDC Core §8.1); joining it needs a proof."""

    __tablename__ = "relying_party_sectors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sector: Mapped[str] = mapped_column(String(255), unique=True)
    owner_client_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UsedClientAssertionRecord(Base):
    """A client-assertion ``jti`` already accepted (RFC 7523 §3 item 7), kept until the assertion expires."""

    __tablename__ = "used_client_assertions"
    __table_args__ = (UniqueConstraint("client_id", "jti", name="uq_used_client_assertion"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), index=True)
    jti: Mapped[str] = mapped_column(String(255))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class PlatformSecretRecord(Base):
    """Named random secrets of the platform (e.g. the pairwise-subject key), created on first use."""

    __tablename__ = "platform_secrets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    value: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


# --------------------------------------------------------------------------------------------------------
# Values and errors
# --------------------------------------------------------------------------------------------------------


class ClientAuthenticationFailure(StrEnum):
    """Why client authentication failed. Every value maps to OAuth ``invalid_client`` / HTTP 401."""

    UNKNOWN_CLIENT = "UNKNOWN_CLIENT"  # iss/sub/client_id not registered, or no keys / no API key
    MALFORMED_ASSERTION = "MALFORMED_ASSERTION"  # not a compact JWS, bad JSON, missing claim, too large
    UNSUPPORTED_ALGORITHM = "UNSUPPORTED_ALGORITHM"  # alg not ES256/PS256/RS256 (none, HS256, …)
    SIGNATURE_INVALID = "SIGNATURE_INVALID"  # no registered key verifies the signature
    CLIENT_MISMATCH = "CLIENT_MISMATCH"  # iss != sub, or differs from the client_id the request names
    WRONG_AUDIENCE = "WRONG_AUDIENCE"  # aud does not contain the expected audience
    EXPIRED = "EXPIRED"  # exp missing or in the past (beyond the skew)
    LIFETIME_TOO_LONG = "LIFETIME_TOO_LONG"  # exp further away than the configured maximum
    ISSUED_IN_FUTURE = "ISSUED_IN_FUTURE"  # iat or nbf after now (beyond the skew)
    REPLAYED = "REPLAYED"  # this jti was already used by this client
    INVALID_API_KEY = "INVALID_API_KEY"  # no RP holds this API key


class ClientAuthenticationError(Exception):
    """Client authentication failed. Answer with ``invalid_client`` and HTTP 401 (RFC 6749 §5.2).

    Attributes:
        failure: the machine-readable :class:`ClientAuthenticationFailure`.
        message: a sentence for logs (no secrets, no assertion contents).
        oauth_error: always ``"invalid_client"``.
        status_code: always ``401``.
    """

    oauth_error = "invalid_client"
    status_code = 401

    def __init__(self, failure: ClientAuthenticationFailure, message: str) -> None:
        super().__init__(f"{failure.value}: {message}")
        self.failure = failure
        self.message = message


class RegistrationError(ValueError):
    """A relying-party registration was refused (bad JWKS, duplicate client_id, bad URL…)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class RelyingParty:
    """A registered relying party (never carries the API key; only whether one is set).

    Attributes:
        client_id: the OAuth ``client_id`` (RFC 6749 §2.2).
        name: display name.
        jwks: the public JWK Set (RFC 7517 §5) for private_key_jwt, or ``None``.
        has_api_key: whether an API key was registered.
        redirect_uris: exact-match redirect URIs (OIDC Core §3.1.2.1).
        webhook_url: where the platform API posts signed events, or ``None``.
        webhook_secret: the HMAC secret of those events (``whsec_`` + base64), or ``None``.
        sector_identifier: the host (or identifier) pairwise subjects are computed for (OIDC Core §8.1).
        created_at: registration time (aware UTC).
    """

    client_id: str
    name: str
    jwks: Mapping[str, Any] | None
    has_api_key: bool
    redirect_uris: tuple[str, ...]
    webhook_url: str | None
    webhook_secret: str | None = field(repr=False)
    sector_identifier: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RPAuthConfig:
    """Tolerances of client-assertion checks.

    Attributes:
        clock_skew: tolerance on ``exp``, ``iat`` and ``nbf`` (default 60 s).
        max_assertion_lifetime: the farthest ``exp`` may lie in the future (default 1 h; bounds the replay
            store).
    """

    clock_skew: timedelta = timedelta(seconds=60)
    max_assertion_lifetime: timedelta = timedelta(hours=1)


def invalid_client_response(error: ClientAuthenticationError, *, instance: str | None = None) -> JSONResponse:
    """HTTP 401 ``application/problem+json`` that is also an RFC 6749 §5.2 error response.

    Body: the RFC 9457 members with ``code`` ``INVALID_CLIENT`` plus ``error: "invalid_client"``,
    ``error_description`` and ``failure`` (the :class:`ClientAuthenticationFailure` value); header
    ``Cache-Control: no-store``. OAuth clients read ``error``; problem clients read ``code``.
    """
    response = problem_response(
        401,
        "INVALID_CLIENT",
        "Client authentication failed",
        error.message,
        instance=instance,
        error="invalid_client",
        error_description=error.message,
        failure=error.failure.value,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def generate_webhook_secret() -> str:
    """A new Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def generate_api_key() -> str:
    """A new API key (43 url-safe characters, 256 bits)."""
    return secrets.token_urlsafe(32)


def _sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def _validate_jwks(jwks: Mapping[str, Any]) -> dict[str, Any]:
    """Parse a public JWK Set: 1–10 RSA/EC keys, no private members. Raises :class:`RegistrationError`."""
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(keys, list) or not 1 <= len(keys) <= _MAX_JWKS_KEYS:
        raise RegistrationError("INVALID_JWKS", f"jwks must hold 1 to {_MAX_JWKS_KEYS} keys")
    for key in keys:
        if not isinstance(key, Mapping):
            raise RegistrationError("INVALID_JWKS", "each JWK must be an object")
        if key.get("kty") not in ("RSA", "EC"):
            raise RegistrationError("INVALID_JWKS", "only RSA and EC keys are accepted")
        if any(member in key for member in ("d", "p", "q", "dp", "dq", "qi", "oth", "k")):
            raise RegistrationError("INVALID_JWKS", "the JWK Set must contain public keys only")
    try:
        parsed = KeySet.import_key_set({"keys": [dict(key) for key in keys]})
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        raise RegistrationError("INVALID_JWKS", "the JWK Set does not parse") from exc
    for parsed_key in parsed:
        if isinstance(parsed_key, RSAKey) and parsed_key.raw_value.key_size < 2048:
            raise RegistrationError("INVALID_JWKS", "RSA keys must be at least 2048 bits")
        if isinstance(parsed_key, ECKey) and parsed_key.curve_name != "P-256":
            raise RegistrationError("INVALID_JWKS", "EC keys must be on P-256")
    return {"keys": [dict(key) for key in keys]}


#: ``aud`` of a ``private_key_jwt`` assertion proving control of a client in ``sector`` (+ the sector).
SECTOR_PROOF_AUDIENCE = "urn:myna-mock:sector:"

_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")


def _sector_host(value: str) -> str:
    """The host an explicit ``sector_identifier`` names (a host name, or an https URI's host)."""
    text = value.strip()
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme != "https" or not parts.hostname:
            raise RegistrationError("INVALID_SECTOR", "a sector_identifier_uri must be an https URL")
        text = parts.hostname
    host = text.lower().rstrip(".")
    if not 1 <= len(host) <= 253 or not set(host) <= _HOST_CHARS or ".." in host or host.startswith("."):
        raise RegistrationError("INVALID_SECTOR", "sector_identifier must be a host name or an https URI")
    return host


def _covers(sector: str, host: str) -> bool:
    return host == sector or host.endswith("." + sector)


def _requested_sector(
    client_id: str, redirect_uris: Sequence[str], sector_identifier: str | None
) -> tuple[str, bool]:
    """(the sector asked for, whether it was derived from the redirect URIs' single host)."""
    hosts = {(urlsplit(uri).hostname or "").lower() for uri in redirect_uris}
    if sector_identifier:
        sector = _sector_host(sector_identifier)
        if not all(_covers(sector, host) for host in hosts):
            raise RegistrationError(
                "INVALID_SECTOR", "every redirect URI host must be the sector host or one of its subdomains"
            )
        return sector, False
    if len(hosts) == 1:
        (host,) = hosts
        if host:
            return host, True
    return client_id, False


def _record_to_rp(record: RelyingPartyRecord) -> RelyingParty:
    return RelyingParty(
        client_id=record.client_id,
        name=record.name,
        jwks=json.loads(record.jwks_json) if record.jwks_json is not None else None,
        has_api_key=record.api_key_sha256 is not None,
        redirect_uris=tuple(json.loads(record.redirect_uris_json)),
        webhook_url=record.webhook_url,
        webhook_secret=record.webhook_secret,
        sector_identifier=record.sector_identifier,
        created_at=record.created_at,
    )


def _numeric_date(claims: Mapping[str, Any], name: str) -> datetime | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ClientAuthenticationError(
            ClientAuthenticationFailure.MALFORMED_ASSERTION, f"'{name}' is not a NumericDate"
        )
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ClientAuthenticationError(
            ClientAuthenticationFailure.MALFORMED_ASSERTION, f"'{name}' is out of range"
        ) from exc


# --------------------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------------------


class RelyingPartyRegistry:
    """Registered relying parties and their authentication (private_key_jwt, API key).

    Args:
        database: the mock's :class:`Database` (tables are created if missing).
        clock: the time source for ``exp``/``iat`` checks and timestamps.
        config: tolerances; default :class:`RPAuthConfig`.

    Thread-safe and multi-process-safe: state lives in the database; jti uniqueness is a UNIQUE
    constraint.
    """

    _SUBJECT_SECRET = "pairwise_subject_v1"  # noqa: S105 - a row name, not a secret

    def __init__(self, database: Database, clock: Clock, config: RPAuthConfig | None = None) -> None:
        self._database = database
        self._clock = clock
        self._config = config if config is not None else RPAuthConfig()
        database.create_all()
        self._claim_existing_sectors()

    def _claim_existing_sectors(self) -> None:
        """Give the sectors of clients registered before sector ownership existed to their first client
        (so a new registration cannot join them unproven)."""
        with contextlib.suppress(IntegrityError):  # another process claimed them at the same time
            self._claim_unowned_sectors()

    def _claim_unowned_sectors(self) -> None:
        with self._database.transaction() as session:
            held = set(session.scalars(select(RelyingPartySectorRecord.sector)))
            first: dict[str, str] = {}
            for sector, client_id in session.execute(
                select(RelyingPartyRecord.sector_identifier, RelyingPartyRecord.client_id).order_by(
                    RelyingPartyRecord.id
                )
            ):
                if sector not in held:
                    first.setdefault(sector, client_id)
            now = self._clock.now()
            for sector, client_id in first.items():
                session.add(
                    RelyingPartySectorRecord(sector=sector, owner_client_id=client_id, created_at=now)
                )

    # -- registration --------------------------------------------------------------------------------------

    def register(
        self,
        *,
        name: str,
        client_id: str | None = None,
        jwks: Mapping[str, Any] | None = None,
        api_key: str | None = None,
        redirect_uris: Sequence[str] = (),
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        sector_identifier: str | None = None,
        sector_proof: str | None = None,
    ) -> RelyingParty:
        """Register a relying party.

        Args:
            name: display name (1–100 characters).
            client_id: the identifier to use; default: 22 random url-safe characters.
            jwks: public JWK Set (RSA ≥ 2048 or EC P-256) for private_key_jwt.
            api_key: an API key to accept (only its SHA-256 is stored); at least 32 characters.
            redirect_uris: absolute http(s) URIs, matched exactly by the OpenID provider.
            webhook_url: absolute http(s) URL of the RP's webhook endpoint.
            webhook_secret: its HMAC secret; default: a new ``whsec_`` secret when ``webhook_url`` is set.
            sector_identifier: the pairwise-identifier sector (a host, or an https sector_identifier_uri);
                it must cover every redirect URI host. Default: the single host of ``redirect_uris``, else
                the ``client_id``. See the module docstring for who may take or join a sector.
            sector_proof: to join a sector another client already holds: that client's API key, or a
                ``private_key_jwt`` assertion signed by it with ``aud`` = ``urn:myna-mock:sector:<sector>``.

        Raises:
            RegistrationError: no credential (neither jwks nor api_key), a bad JWKS/URL, a duplicate
                ``client_id``/API key (``CLIENT_EXISTS``), a sector not covering the redirect URIs
                (``INVALID_SECTOR``), or a sector held by another client without a valid proof
                (``SECTOR_TAKEN``).
        """
        if not 1 <= len(name) <= 100:
            raise RegistrationError("INVALID_REGISTRATION", "name must be 1–100 characters")
        if jwks is None and api_key is None:
            raise RegistrationError("INVALID_REGISTRATION", "give a jwks, an api_key or both")
        client_id = client_id if client_id is not None else secrets.token_urlsafe(16)
        if not 1 <= len(client_id) <= 64 or not client_id.isprintable() or " " in client_id:
            raise RegistrationError("INVALID_REGISTRATION", "client_id must be 1–64 printable characters")
        if api_key is not None and not 32 <= len(api_key) <= 256:
            raise RegistrationError("INVALID_REGISTRATION", "api_key must be 32–256 characters")
        for uri in (*redirect_uris, *([webhook_url] if webhook_url else [])):
            parts = urlsplit(uri)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
                raise RegistrationError(
                    "INVALID_REGISTRATION", "URIs must be absolute http(s) without fragment"
                )
        jwks_value = _validate_jwks(jwks) if jwks is not None else None
        if webhook_url is not None and webhook_secret is None:
            webhook_secret = generate_webhook_secret()
        if webhook_secret is not None and not webhook_secret.startswith("whsec_"):
            raise RegistrationError("INVALID_REGISTRATION", "webhook_secret must start with 'whsec_'")
        requested, derived = _requested_sector(client_id, redirect_uris, sector_identifier)
        proven = self._proven_sector(sector_proof) if sector_proof is not None else None
        if proven is not None and proven != requested:
            raise RegistrationError("INVALID_SECTOR", "the sector proof is for another sector than requested")
        candidates = [requested] if not derived else [requested, client_id]
        for sector in candidates:
            claim = sector != proven  # joining a proven sector adds no claim; anything else claims it
            now = self._clock.now()
            record = RelyingPartyRecord(
                client_id=client_id,
                name=name,
                jwks_json=json.dumps(jwks_value) if jwks_value is not None else None,
                api_key_sha256=_sha256_hex(api_key) if api_key is not None else None,
                redirect_uris_json=json.dumps(list(redirect_uris)),
                webhook_url=webhook_url,
                webhook_secret=webhook_secret,
                sector_identifier=sector,
                created_at=now,
            )
            try:
                with self._database.transaction() as session:
                    session.add(record)
                    if claim:
                        session.add(
                            RelyingPartySectorRecord(sector=sector, owner_client_id=client_id, created_at=now)
                        )
                    session.flush()
                    return _record_to_rp(record)
            except IntegrityError as exc:
                if not claim or not self._sector_held(sector):
                    raise RegistrationError(
                        "CLIENT_EXISTS", "client_id or API key already registered"
                    ) from exc
                if self.get(client_id) is not None:
                    raise RegistrationError("CLIENT_EXISTS", "client_id already registered") from exc
                # The sector belongs to another client and no proof was given for it: a sector derived
                # from the redirect URIs falls back to the client's own; an explicit one is refused.
                continue
        raise RegistrationError(
            "SECTOR_TAKEN",
            "that sector belongs to another client: give sector_proof (a credential of a client in it)",
        )

    def _sector_held(self, sector: str) -> bool:
        with self._database.transaction() as session:
            return (
                session.scalar(
                    select(RelyingPartySectorRecord.id).where(RelyingPartySectorRecord.sector == sector)
                )
                is not None
            )

    def _proven_sector(self, proof: str) -> str:
        """The sector of the client ``proof`` authenticates (its API key, or its client assertion with
        ``aud`` = ``urn:myna-mock:sector:<sector>``). Raises ``SECTOR_TAKEN`` when it proves nothing."""
        try:
            if proof.count(".") == 2:
                unverified = jws.extract_compact(proof.encode("ascii"))
                claims = json.loads(unverified.payload)
                audience = claims.get("aud") if isinstance(claims, dict) else None
                if not isinstance(audience, str) or not audience.startswith(SECTOR_PROOF_AUDIENCE):
                    raise RegistrationError("SECTOR_TAKEN", "the sector proof names no sector")
                rp = self.verify_client_assertion(proof, audience=audience)
                if audience != SECTOR_PROOF_AUDIENCE + rp.sector_identifier:
                    raise RegistrationError("SECTOR_TAKEN", "the sector proof is for another sector")
            else:
                rp = self.verify_api_key(proof)
        except (ClientAuthenticationError, JoseError, ValueError, UnicodeError) as exc:
            if isinstance(exc, RegistrationError):
                raise
            raise RegistrationError(
                "SECTOR_TAKEN", "the sector proof does not authenticate a client"
            ) from exc
        return rp.sector_identifier

    def get(self, client_id: str) -> RelyingParty | None:
        """The relying party with ``client_id``, or ``None`` (also for ids no registration can have:
        empty, over 255 characters, or holding control characters such as NUL, which PostgreSQL refuses)."""
        if not client_id or len(client_id) > 255 or not client_id.isprintable():
            return None
        with self._database.transaction() as session:
            record = session.scalar(
                select(RelyingPartyRecord).where(RelyingPartyRecord.client_id == client_id)
            )
            return _record_to_rp(record) if record is not None else None

    def with_webhooks(self) -> list[RelyingParty]:
        """Every relying party that registered a webhook URL (ordered by registration)."""
        with self._database.transaction() as session:
            records = session.scalars(
                select(RelyingPartyRecord)
                .where(RelyingPartyRecord.webhook_url.is_not(None))
                .order_by(RelyingPartyRecord.id)
            ).all()
            return [_record_to_rp(record) for record in records]

    # -- authentication ------------------------------------------------------------------------------------

    def verify_api_key(self, key: str) -> RelyingParty:
        """The relying party holding API key ``key``.

        Looks up by SHA-256 and compares the digests in constant time (``hmac.compare_digest``).

        Raises:
            ClientAuthenticationError: ``INVALID_API_KEY`` when no RP holds it.
        """
        digest = _sha256_hex(key)
        with self._database.transaction() as session:
            record = session.scalar(
                select(RelyingPartyRecord).where(RelyingPartyRecord.api_key_sha256 == digest)
            )
            if record is None or record.api_key_sha256 is None:
                raise ClientAuthenticationError(
                    ClientAuthenticationFailure.INVALID_API_KEY, "unknown API key"
                )
            if not hmac.compare_digest(record.api_key_sha256, digest):
                raise ClientAuthenticationError(
                    ClientAuthenticationFailure.INVALID_API_KEY, "unknown API key"
                )
            return _record_to_rp(record)

    def verify_client_assertion(
        self, assertion: str, *, audience: str | Sequence[str], client_id: str | None = None
    ) -> RelyingParty:
        """Authenticate a client by its JWT assertion (private_key_jwt: OIDC Core §9, RFC 7523 §3).

        Args:
            assertion: the compact JWS from the ``client_assertion`` form parameter.
            audience: the value(s) the server accepts in ``aud`` (token endpoint URL, issuer identifier);
                at least one must be in the assertion's ``aud``.
            client_id: the ``client_id`` form parameter if the request sent one; must equal ``iss``.

        Returns:
            The authenticated :class:`RelyingParty`. The ``jti`` is recorded (single use) in the same call.

        Raises:
            ClientAuthenticationError: for any failure (see :class:`ClientAuthenticationFailure`).
        """
        failure = ClientAuthenticationFailure
        if not isinstance(assertion, str) or len(assertion) > _MAX_ASSERTION_BYTES:
            raise ClientAuthenticationError(failure.MALFORMED_ASSERTION, "assertion missing or too large")
        try:
            unverified = jws.extract_compact(assertion.encode("ascii"))
            header = unverified.headers()
            claims = json.loads(unverified.payload)
        except (JoseError, ValueError, TypeError, UnicodeError) as exc:
            raise ClientAuthenticationError(failure.MALFORMED_ASSERTION, "not a compact JWS") from exc
        if not isinstance(claims, dict):
            raise ClientAuthenticationError(failure.MALFORMED_ASSERTION, "claims are not a JSON object")
        alg = header.get("alg")
        if alg not in ALLOWED_ASSERTION_ALGORITHMS:
            raise ClientAuthenticationError(failure.UNSUPPORTED_ALGORITHM, "alg not in ES256/PS256/RS256")
        iss, sub = claims.get("iss"), claims.get("sub")
        if not isinstance(iss, str) or not isinstance(sub, str):
            raise ClientAuthenticationError(failure.MALFORMED_ASSERTION, "iss and sub must be strings")
        if iss != sub or (client_id is not None and client_id != iss):
            raise ClientAuthenticationError(failure.CLIENT_MISMATCH, "iss, sub and client_id differ")
        rp = self.get(iss)
        if rp is None or rp.jwks is None:
            raise ClientAuthenticationError(failure.UNKNOWN_CLIENT, "unknown client or no registered keys")

        key_set = KeySet.import_key_set({"keys": [dict(key) for key in rp.jwks["keys"]]})
        kid = header.get("kid")
        candidates = [key for key in key_set if kid is None or key.kid == kid]
        verified = False
        for key in candidates:
            try:
                jwt.decode(assertion, key, algorithms=[str(alg)])
            except (JoseError, ValueError, TypeError):
                continue
            verified = True
            break
        if not verified:
            raise ClientAuthenticationError(
                failure.SIGNATURE_INVALID, "no registered key verifies the assertion"
            )

        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else None
        if audiences is None or not all(isinstance(item, str) for item in audiences):
            raise ClientAuthenticationError(failure.MALFORMED_ASSERTION, "aud must be a string or list")
        expected = [audience] if isinstance(audience, str) else list(audience)
        if not any(item in audiences for item in expected):
            raise ClientAuthenticationError(failure.WRONG_AUDIENCE, "aud does not name this server")

        now = self._clock.now()
        skew = self._config.clock_skew
        exp = _numeric_date(claims, "exp")
        if exp is None or exp <= now - skew:
            raise ClientAuthenticationError(failure.EXPIRED, "exp missing or in the past")
        if exp > now + self._config.max_assertion_lifetime + skew:
            raise ClientAuthenticationError(failure.LIFETIME_TOO_LONG, "exp too far in the future")
        for name in ("iat", "nbf"):
            instant = _numeric_date(claims, name)
            if instant is not None and instant > now + skew:
                raise ClientAuthenticationError(failure.ISSUED_IN_FUTURE, f"'{name}' is in the future")
        jti = claims.get("jti")
        if not isinstance(jti, str) or not 1 <= len(jti) <= 255:
            raise ClientAuthenticationError(failure.MALFORMED_ASSERTION, "jti missing or not a short string")
        self._consume_jti(rp.client_id, jti, exp, now)
        return rp

    def _consume_jti(self, client_id: str, jti: str, expires_at: datetime, now: datetime) -> None:
        try:
            with self._database.transaction() as session:
                session.execute(
                    delete(UsedClientAssertionRecord).where(UsedClientAssertionRecord.expires_at < now)
                )
                session.add(UsedClientAssertionRecord(client_id=client_id, jti=jti, expires_at=expires_at))
                session.flush()
        except IntegrityError as exc:
            raise ClientAuthenticationError(
                ClientAuthenticationFailure.REPLAYED, "client assertion jti already used"
            ) from exc

    # -- pairwise identifiers ------------------------------------------------------------------------------

    def subject_for(self, rp: RelyingParty, internal_id: str) -> str:
        """The pairwise identifier of a resident for ``rp`` (OIDC Core §8.1; the platform API's user ID).

        ``base64url(HMAC-SHA-256(platform secret, sector_identifier || 0x00 || internal_id))`` without
        padding (43 characters). Same sector → same value; the internal identifier (and any My Number)
        cannot be recovered from it.
        """
        key = self._secret(self._SUBJECT_SECRET)
        message = rp.sector_identifier.encode("utf-8") + b"\x00" + internal_id.encode("utf-8")
        digest = hmac.new(key, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")

    def _secret(self, name: str) -> bytes:
        with self._database.transaction() as session:
            value = session.scalar(
                select(PlatformSecretRecord.value).where(PlatformSecretRecord.name == name)
            )
            if value is not None:
                return value
        try:
            with self._database.transaction() as session:
                session.add(
                    PlatformSecretRecord(
                        name=name, value=secrets.token_bytes(32), created_at=self._clock.now()
                    )
                )
        except IntegrityError:
            pass  # another process created it first: use theirs
        with self._database.transaction() as session:
            stored = session.scalar(
                select(PlatformSecretRecord.value).where(PlatformSecretRecord.name == name)
            )
            if stored is None:  # pragma: no cover - the insert above or a concurrent one committed
                raise RuntimeError("platform secret missing after creation")
            return stored
