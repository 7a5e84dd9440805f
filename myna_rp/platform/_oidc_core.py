"""The protocol logic of the OpenID Connect relying party, without I/O (one core, sync and async wrappers).

:class:`OIDCCore` builds every HTTP request as an :class:`httpx.Request` (a plain value: nothing is sent)
and checks every answer handed back to it as a :class:`Received` (status, headers, body bytes already read
under a size cap). Each operation of the wrappers is one generator of the core (``*_steps``: discovery,
JWKS refetch on key rotation, service-token reuse and its one renewal included) that yields the requests
to send and is answered with what came back (:data:`Steps`); :class:`myna_rp.platform.oidc.MynaOIDCClient`
and :class:`~myna_rp.platform.oidc.AsyncMynaOIDCClient` only drive it and move the bytes.

Standards, and what is checked where:

* Discovery (OIDC Discovery 1.0 §4): ``issuer`` must equal the configured issuer (§4.3; else
  ``OIDC_PROVIDER_ERROR``: a configuration problem of the provider or of the RP, not a token); ES256 must be
  among ``id_token_signing_alg_values_supported``; ``S256`` among ``code_challenge_methods_supported`` and
  ``private_key_jwt`` among ``token_endpoint_auth_methods_supported`` when the provider lists them.
* Authorization request (OIDC Core §3.1.2.1) built with authlib's sans-IO ``OAuth2Client``: ``state`` and
  ``nonce`` (random, ≥ 256 bits), PKCE S256 (RFC 7636 §4.2), optional ``acr_values`` and RFC 9396
  ``authorization_details`` naming a sign transaction. Everything the callback step needs is returned to
  the caller as a :class:`LoginState` (no server-side store).
* Callback (RFC 6749 §4.1.2): ``state`` compared in constant time (``OIDC_STATE_MISMATCH``); RFC 9207
  ``iss`` checked when present, and required when the provider advertises
  ``authorization_response_iss_parameter_supported`` (§2.4; mix-up defence); ``error`` →
  :class:`OIDCProviderError`.
* Token request (RFC 6749 §4.1.3, §4.4): ``private_key_jwt`` client authentication (RFC 7523 §2.2, OIDC
  Core §9) with authlib's ``PrivateKeyJWT``; the assertion's ``iat``/``exp`` come from the :class:`Clock`.
* ID token (OIDC Core §3.1.3.7): ``alg`` on an allow-list of exactly ES256 (``none``, HS256 and every other
  value refused before any key is used), signature against the provider's JWKS (joserfc), ``iss``, ``aud``
  (and ``azp`` when several audiences), ``exp``, ``iat`` (not in the future beyond the skew, not older than
  :attr:`OIDCSettings.max_id_token_age`), ``nbf`` when present (not in the future beyond the skew, RFC 7519
  §4.1.5), ``nonce``, ``at_hash`` when present (§3.1.3.8), ``acr`` among the
  requested ``acr_values``. Any failure: :class:`~myna_rp.errors.OIDCError` ``OIDC_TOKEN_INVALID`` (or
  ``OIDC_NONCE_MISMATCH``).
* UserInfo (OIDC Core §5.3.2): ``sub`` must equal the ID token's; the claims of the granted scopes are
  mapped to :class:`~myna_rp.jpki.BasicFourAttributes` when all four are there, else to
  :class:`PartialAttributes` (claims defined in docs/oidc.md).
* Transport answers: 5xx / 429 → :class:`~myna_rp.errors.PlatformError` ``PLATFORM_UNAVAILABLE`` (with
  ``retry_after`` from ``Retry-After``, seconds or HTTP-date, parsed by the platform core's
  :func:`~myna_rp.platform._core.parse_retry_after`); bad JSON, wrong content type, a redirect →
  ``PLATFORM_RESPONSE_INVALID``; other 4xx problems → ``PLATFORM_REJECTED``; ``invalid_client`` at the token
  endpoint → :class:`OIDCProviderError` with reason ``CLIENT_AUTHENTICATION_FAILED`` (the provider refuses
  *us*); a sign-transaction call refusing our client-credentials *token* (401 ``invalid_token``) →
  :class:`ServiceTokenRefusedError` (``OIDC_PROVIDER_ERROR``, ``error="invalid_token"``): the core's runs then
  drop the cached token and retry once with a fresh one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx
from authlib.common.security import generate_token  # type: ignore[import-untyped,unused-ignore]
from authlib.oauth2.auth import ClientAuth  # type: ignore[import-untyped,unused-ignore]
from authlib.oauth2.client import OAuth2Client  # type: ignore[import-untyped,unused-ignore]
from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped,unused-ignore]
    prepare_token_request,
)
from authlib.oauth2.rfc7523 import PrivateKeyJWT  # type: ignore[import-untyped,unused-ignore]
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, KeySet, RSAKey

from ..clock import Clock, require_aware
from ..errors import MalformedInputError, OIDCError, PlatformError, Reason
from ..jpki.attributes import BasicFourAttributes, DateOfBirth, Gender, parse_date_of_birth
from ._core import parse_retry_after

T = TypeVar("T")

#: The only ID-token signature algorithm accepted (the Digital Authentication App signs with ES256).
ID_TOKEN_ALGORITHMS: frozenset[str] = frozenset({"ES256"})
#: RFC 7523 §2.2.
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: RFC 9396 type of a sign transaction in ``authorization_details`` (the mock provider's shape).
SIGN_DETAILS_TYPE = "jpki_sign"
#: DER prefix of an RFC 8017 §9.2 DigestInfo for SHA-256 (Note 1).
SHA256_DIGEST_INFO_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")

_JSON_TYPES = ("application/json", "application/problem+json")
_JWKS_TYPES = ("application/json", "application/jwk-set+json")
_FORM = "application/x-www-form-urlencoded"


class OIDCScope(StrEnum):
    """Scope values of the Digital Authentication App as the mock provider defines them."""

    OPENID = "openid"
    NAME = "name"
    ADDRESS = "address"
    BIRTHDATE = "birthdate"
    GENDER = "gender"
    SIGN = "sign"


class OIDCAcr(StrEnum):
    """``acr`` values of the mock provider (the real provider lists its own in ``acr_values_supported``).

    Any string is accepted where an ``acr`` is expected; these are the known ones.
    """

    CARD = "urn:myna-mock:acr:jpki-card"  # the physical card over NFC (利用者証明用電子証明書 on the card)
    SMARTPHONE = "urn:myna-mock:acr:jpki-smartphone"  # smartphone certificates (スマホ用電子証明書)


class OIDCProviderError(OIDCError):
    """The provider answered with an OAuth error (RFC 6749 §4.1.2.1 / §5.2).

    ``reason`` is ``OIDC_PROVIDER_ERROR``, or ``CLIENT_AUTHENTICATION_FAILED`` for ``invalid_client``.

    Attributes:
        error: the OAuth ``error`` code (``access_denied``, ``invalid_grant``, ``invalid_client`` …).
        error_description: the provider's ``error_description``, if any (never personal data).
        status_code: the HTTP status (token endpoint), or ``None`` (authorization response).
    """

    default_reason = Reason.OIDC_PROVIDER_ERROR

    def __init__(
        self,
        message: str,
        *,
        error: str,
        error_description: str | None = None,
        status_code: int | None = None,
        reason: Reason | None = None,
    ) -> None:
        super().__init__(message, reason=reason)
        self.error = error
        self.error_description = error_description
        self.status_code = status_code


@dataclass(frozen=True, slots=True)
class OIDCSettings:
    """Tolerances and limits of the relying party.

    Attributes:
        timeout: seconds for each HTTP call (connect, read, write, pool).
        max_response_bytes: larger answers are refused (``PLATFORM_RESPONSE_INVALID``).
        metadata_ttl: how long discovery metadata is reused.
        jwks_ttl: how long the provider's JWKS is reused (an unknown ``kid`` refetches sooner).
        jwks_min_refresh: the shortest interval between two JWKS fetches (unknown ``kid`` storms).
        clock_skew: tolerance on ``exp``/``iat``.
        max_id_token_age: ``iat`` older than this (plus skew) is refused.
        assertion_lifetime: ``exp`` − ``iat`` of our client assertions.
    """

    timeout: float = 10.0
    max_response_bytes: int = 1024 * 1024
    metadata_ttl: timedelta = timedelta(hours=1)
    jwks_ttl: timedelta = timedelta(minutes=10)
    jwks_min_refresh: timedelta = timedelta(seconds=30)
    clock_skew: timedelta = timedelta(seconds=60)
    max_id_token_age: timedelta = timedelta(minutes=10)
    assertion_lifetime: timedelta = timedelta(seconds=60)

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.max_response_bytes <= 0:
            raise ValueError("timeout and max_response_bytes must be positive")
        if self.clock_skew < timedelta(0) or self.max_id_token_age <= timedelta(0):
            raise ValueError("clock_skew must be ≥ 0 and max_id_token_age > 0")


@dataclass(frozen=True, slots=True)
class Received:
    """An HTTP answer as the core sees it: status, lower-cased headers, the body (already capped)."""

    status_code: int
    headers: Mapping[str, str]
    content: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()


#: A protocol run of :class:`OIDCCore`: yields the requests to send, is answered with each one's
#: :class:`Received`, returns the result. The wrappers drive it with :func:`~myna_rp.platform._core.advance`.
Steps = Generator[httpx.Request, Received, T]


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """The endpoints of the provider (OIDC Discovery 1.0 §3)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str | None
    sign_transaction_endpoint: str | None
    acr_values_supported: tuple[str, ...]
    #: RFC 9207 §3: the provider puts ``iss`` in every authorization response (then it is required).
    authorization_response_iss_parameter_supported: bool = False


@dataclass(frozen=True, slots=True)
class LoginState:
    """What the relying party keeps between :meth:`begin_login` and :meth:`complete_login` (e.g. in its
    session; it is secret: the ``code_verifier`` proves the code is ours).

    Attributes:
        state: the CSRF token echoed by the provider (RFC 6749 §10.12).
        nonce: bound into the ID token (OIDC Core §3.1.2.1).
        code_verifier: the PKCE secret (RFC 7636 §4.1).
        redirect_uri: the exact redirect URI sent.
        scopes: the scopes asked for.
        acr_values: the ``acr_values`` asked for (empty: any).
        sign_transaction_id: the sign transaction presented in this login, if any.
        created_at: when the login began (aware).
    """

    state: str
    nonce: str
    code_verifier: str = field(repr=False)
    redirect_uri: str
    scopes: tuple[str, ...]
    acr_values: tuple[str, ...]
    sign_transaction_id: str | None
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (store it server-side or in an encrypted session cookie)."""
        return {
            "state": self.state,
            "nonce": self.nonce,
            "code_verifier": self.code_verifier,
            "redirect_uri": self.redirect_uri,
            "scopes": list(self.scopes),
            "acr_values": list(self.acr_values),
            "sign_transaction_id": self.sign_transaction_id,
            "created_at": self.created_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LoginState:
        """The inverse of :meth:`to_dict`. Raises :class:`MalformedInputError`."""
        try:
            created = datetime.fromisoformat(str(data["created_at"]))
            require_aware(created)
            state = cls(
                state=str(data["state"]),
                nonce=str(data["nonce"]),
                code_verifier=str(data["code_verifier"]),
                redirect_uri=str(data["redirect_uri"]),
                scopes=tuple(str(s) for s in data["scopes"]),
                acr_values=tuple(str(a) for a in data["acr_values"]),
                sign_transaction_id=None
                if data["sign_transaction_id"] is None
                else str(data["sign_transaction_id"]),
                created_at=created,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise MalformedInputError("not a serialised LoginState") from exc
        return state


@dataclass(frozen=True, slots=True)
class TokenSet:
    """A token endpoint answer (RFC 6749 §5.1)."""

    access_token: str = field(repr=False)
    expires_at: datetime | None
    scopes: tuple[str, ...]
    id_token: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class IDTokenClaims:
    """The validated claims of an ID token (OIDC Core §2).

    Attributes:
        raw: every claim as received (``repr`` hides it).
    """

    issuer: str
    subject: str
    audience: tuple[str, ...]
    expires_at: datetime
    issued_at: datetime
    auth_time: datetime | None
    nonce: str | None
    acr: str | None
    amr: tuple[str, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class PartialAttributes:
    """The attribute claims of the granted scopes when not all four were asked for (``None`` = not
    granted). Same meanings as :class:`~myna_rp.jpki.BasicFourAttributes`."""

    name: str | None = None
    name_substitute_positions: str | None = None
    gender: Gender | None = None
    date_of_birth: DateOfBirth | None = None
    address: str | None = None
    address_substitute_positions: str | None = None

    def __repr__(self) -> str:
        granted = [name for name in ("name", "gender", "date_of_birth", "address") if getattr(self, name)]
        return f"PartialAttributes(granted={granted})"


@dataclass(frozen=True, slots=True)
class OIDCLogin:
    """A completed login.

    Attributes:
        subject: the pairwise ``sub`` (OIDC Core §8.1): stable for this RP across the holder's card
            renewals and phone changes; never a My Number.
        issuer: the provider.
        id_token: the validated ID token claims.
        scopes: the scopes granted (token response ``scope``).
        acr: the authentication context achieved (card or smartphone).
        attributes: the basic four attributes when the scopes gave all four, a :class:`PartialAttributes`
            when some, ``None`` when none.
        sign_transaction_id: the sign transaction the holder signed in this login, if any.
        access_token: the bearer token for UserInfo (``repr`` hides it).
        access_token_expires_at: when it expires, if the provider said.
    """

    subject: str
    issuer: str
    id_token: IDTokenClaims
    scopes: tuple[str, ...]
    acr: str | None
    attributes: BasicFourAttributes | PartialAttributes | None
    sign_transaction_id: str | None
    access_token: str = field(repr=False)
    access_token_expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class SignTransaction:
    """A sign transaction created at the provider."""

    transaction_id: str
    digest: bytes
    status: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SignatureResult:
    """The holder's signature of a sign transaction.

    Attributes:
        signature: RSA PKCS#1 v1.5 (or ECDSA) over the DigestInfo of :attr:`digest` (RFC 8017 §8.2).
        certificate_der: the signing certificate (署名用電子証明書) that made it, DER.
        subject: the pairwise ``sub`` of the signer for this RP (compare with the login's).
        acr: which token signed (card or smartphone).
    """

    transaction_id: str
    digest: bytes
    signature: bytes = field(repr=False)
    certificate_der: bytes = field(repr=False)
    signed_at: datetime
    subject: str | None
    acr: str | None


class ServiceTokenRefusedError(OIDCProviderError):
    """A sign-transaction call refused our client-credentials access token (401 ``invalid_token``, RFC 6750
    §3.1): the token is stale (expired, revoked, forgotten by the provider) — not our client credentials.
    ``reason`` ``OIDC_PROVIDER_ERROR``, ``error`` ``invalid_token``. The clients drop the cached token and
    retry once with a fresh one; a second refusal is raised."""


class UnknownSigningKeyError(OIDCError):
    """The ID token names a key the cached JWKS does not hold (the wrapper may refetch once)."""


class OIDCCore:
    """Sans-IO relying party for one provider (see the module docstring).

    Args:
        issuer: the provider's issuer identifier (exact string).
        client_id: our client id.
        private_key: our private key for ``private_key_jwt`` (a joserfc ``ECKey`` P-256 or ``RSAKey``);
            its ``kid`` is sent in the assertion header.
        clock: "now" for assertions, token checks and cache lifetimes.
        settings: :class:`OIDCSettings`.
        assertion_alg: ``ES256`` (EC keys, default) or ``PS256``/``RS256`` (RSA keys, default PS256).

    Holds the discovery and JWKS caches (per instance: no module state).
    """

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        private_key: ECKey | RSAKey,
        clock: Clock,
        settings: OIDCSettings | None = None,
        assertion_alg: str | None = None,
    ) -> None:
        if not issuer or issuer != issuer.strip() or issuer.endswith("/"):
            raise ValueError("issuer must be the exact issuer identifier, without a trailing '/'")
        if not isinstance(private_key, ECKey | RSAKey) or not private_key.is_private:
            raise ValueError("private_key must be a private joserfc ECKey or RSAKey")
        alg = assertion_alg or ("ES256" if isinstance(private_key, ECKey) else "PS256")
        if (isinstance(private_key, ECKey) and alg != "ES256") or (
            isinstance(private_key, RSAKey) and alg not in ("PS256", "RS256")
        ):
            raise ValueError("assertion_alg does not fit the key (EC: ES256; RSA: PS256 or RS256)")
        self.issuer = issuer
        self.client_id = client_id
        self.settings = settings if settings is not None else OIDCSettings()
        self._key = private_key
        self._alg = alg
        self._clock = clock
        self._metadata: tuple[ProviderMetadata, datetime] | None = None
        self._jwks: tuple[KeySet, datetime] | None = None
        self._service_token: tuple[str, datetime] | None = None

    def now(self) -> datetime:
        return require_aware(self._clock.now())

    # -- requests -----------------------------------------------------------------------------------

    def _request(
        self, method: str, url: str, *, headers: Mapping[str, str] | None = None, content: bytes | None = None
    ) -> httpx.Request:
        timeout = httpx.Timeout(self.settings.timeout)
        return httpx.Request(
            method,
            url,
            headers={"Accept": "application/json", **(headers or {})},
            content=content,
            extensions={"timeout": timeout.as_dict()},
        )

    def discovery_request(self) -> httpx.Request:
        return self._request("GET", f"{self.issuer}/.well-known/openid-configuration")

    def jwks_request(self, metadata: ProviderMetadata) -> httpx.Request:
        return self._request("GET", metadata.jwks_uri)

    def _form_request(self, url: str, body: str) -> httpx.Request:
        headers = {"Content-Type": _FORM}
        now = int(self.now().timestamp())
        claims = {
            "iat": now,
            "exp": now + int(self.settings.assertion_lifetime.total_seconds()),
            "jti": secrets.token_urlsafe(24),
        }
        header = {"kid": self._key.kid} if self._key.kid else None
        auth = ClientAuth(
            self.client_id, self._key, PrivateKeyJWT(url, claims=claims, headers=header, alg=self._alg)
        )
        url, headers, body = auth.prepare("POST", url, headers, body)
        return self._request("POST", url, headers=headers, content=body.encode("ascii"))

    def token_request(self, metadata: ProviderMetadata, *, code: str, state: LoginState) -> httpx.Request:
        """The authorization-code token request (RFC 6749 §4.1.3 + RFC 7636 §4.5 + private_key_jwt)."""
        body = prepare_token_request(
            "authorization_code",
            code=code,
            redirect_uri=state.redirect_uri,
            code_verifier=state.code_verifier,
            client_id=self.client_id,
        )
        return self._form_request(metadata.token_endpoint, body)

    def client_credentials_request(self, metadata: ProviderMetadata) -> httpx.Request:
        """A client-credentials token for sign transactions (RFC 6749 §4.4, scope ``sign``)."""
        body = prepare_token_request("client_credentials", scope="sign", client_id=self.client_id)
        return self._form_request(metadata.token_endpoint, body)

    def userinfo_request(self, metadata: ProviderMetadata, access_token: str) -> httpx.Request:
        if metadata.userinfo_endpoint is None:
            raise PlatformError(
                "the provider has no userinfo endpoint", reason=Reason.PLATFORM_RESPONSE_INVALID
            )
        return self._request(
            "GET", metadata.userinfo_endpoint, headers={"Authorization": f"Bearer {access_token}"}
        )

    def create_transaction_request(
        self, metadata: ProviderMetadata, access_token: str, *, digest: bytes, digest_info: bool
    ) -> httpx.Request:
        endpoint = self._sign_endpoint(metadata)
        body = json.dumps({"digest": _b64url(digest), "digest_info": digest_info}).encode("ascii")
        return self._request(
            "POST",
            endpoint,
            headers={"Authorization": f"Bearer {access_token}", "Content-Type": "application/json"},
            content=body,
        )

    def fetch_transaction_request(
        self, metadata: ProviderMetadata, access_token: str, transaction_id: str
    ) -> httpx.Request:
        if not transaction_id or not set(transaction_id) <= _ID_CHARS:
            raise MalformedInputError("not a sign transaction id")
        return self._request(
            "GET",
            f"{self._sign_endpoint(metadata)}/{transaction_id}",
            headers={"Authorization": f"Bearer {access_token}"},
        )

    @staticmethod
    def _sign_endpoint(metadata: ProviderMetadata) -> str:
        if metadata.sign_transaction_endpoint is None:
            raise PlatformError(
                "the provider offers no sign transactions", reason=Reason.PLATFORM_RESPONSE_INVALID
            )
        return metadata.sign_transaction_endpoint

    # -- caches -------------------------------------------------------------------------------------

    def cached_metadata(self) -> ProviderMetadata | None:
        if self._metadata is None:
            return None
        metadata, fetched = self._metadata
        return metadata if self.now() - fetched < self.settings.metadata_ttl else None

    def cached_jwks(self) -> KeySet | None:
        if self._jwks is None:
            return None
        keys, fetched = self._jwks
        return keys if self.now() - fetched < self.settings.jwks_ttl else None

    def may_refresh_jwks(self) -> bool:
        """Whether an unknown ``kid`` may trigger a refetch now (not within ``jwks_min_refresh``)."""
        return self._jwks is None or self.now() - self._jwks[1] >= self.settings.jwks_min_refresh

    def cached_service_token(self) -> str | None:
        if self._service_token is None:
            return None
        token, expires = self._service_token
        return token if self.now() + self.settings.clock_skew < expires else None

    def forget_service_token(self) -> None:
        """Drop the cached client-credentials token (the provider refused it)."""
        self._service_token = None

    def remember_service_token(self, tokens: TokenSet) -> str:
        lifetime = tokens.expires_at if tokens.expires_at is not None else self.now() + timedelta(minutes=1)
        self._service_token = (tokens.access_token, lifetime)
        return tokens.access_token

    # -- answers ------------------------------------------------------------------------------------

    def accept_discovery(self, received: Received) -> ProviderMetadata:
        body = _json_object(received, _JSON_TYPES, "discovery", now=self.now())
        issuer = body.get("issuer")
        if issuer != self.issuer:
            # OIDC Discovery §4.3: the issuer must be identical to the one the RP is configured with. A
            # configuration problem (the provider's issuer setting, or ours), not a token problem.
            raise OIDCError(
                "discovery names another issuer (check the provider's issuer setting)",
                reason=Reason.OIDC_PROVIDER_ERROR,
            )
        algs = body.get("id_token_signing_alg_values_supported")
        if not isinstance(algs, list) or "ES256" not in algs:
            raise PlatformError(
                "the provider does not sign ID tokens with ES256", reason=Reason.PLATFORM_RESPONSE_INVALID
            )
        for member, needed in (
            ("code_challenge_methods_supported", "S256"),
            ("token_endpoint_auth_methods_supported", "private_key_jwt"),
        ):
            listed = body.get(member)
            if listed is not None and (not isinstance(listed, list) or needed not in listed):
                raise PlatformError(
                    f"the provider does not support {needed}", reason=Reason.PLATFORM_RESPONSE_INVALID
                )
        acr = body.get("acr_values_supported", [])
        metadata = ProviderMetadata(
            issuer=issuer,
            authorization_endpoint=_url(body, "authorization_endpoint"),
            token_endpoint=_url(body, "token_endpoint"),
            jwks_uri=_url(body, "jwks_uri"),
            userinfo_endpoint=_url(body, "userinfo_endpoint", required=False),
            sign_transaction_endpoint=_url(body, "sign_transaction_endpoint", required=False),
            acr_values_supported=tuple(a for a in acr if isinstance(a, str)) if isinstance(acr, list) else (),
            authorization_response_iss_parameter_supported=body.get(
                "authorization_response_iss_parameter_supported"
            )
            is True,
        )
        self._metadata = (metadata, self.now())
        return metadata

    def accept_jwks(self, received: Received) -> KeySet:
        body = _json_object(received, _JWKS_TYPES, "JWKS", now=self.now())
        keys = body.get("keys")
        if not isinstance(keys, list):
            raise PlatformError("the JWKS has no keys array", reason=Reason.PLATFORM_RESPONSE_INVALID)
        usable = []
        for key in keys:
            # Only EC P-256 signature keys can verify an ES256 token; skip the rest (RFC 7517 §5: ignore
            # keys of unknown types) and anything carrying private members.
            if (
                isinstance(key, dict)
                and key.get("kty") == "EC"
                and key.get("crv") == "P-256"
                and key.get("use", "sig") == "sig"
                and key.get("alg", "ES256") == "ES256"
                and "d" not in key
            ):
                usable.append(key)
        try:
            key_set = KeySet.import_key_set({"keys": usable})
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise PlatformError("the JWKS does not parse", reason=Reason.PLATFORM_RESPONSE_INVALID) from exc
        self._jwks = (key_set, self.now())
        return key_set

    def accept_token(self, received: Received, *, expect_id_token: bool) -> TokenSet:
        """A token endpoint answer (RFC 6749 §5.1 / §5.2)."""
        body = _json_object(received, _JSON_TYPES, "token", allow_error=True, now=self.now())
        if received.status_code != 200:
            _raise_oauth_error(received, body)
        access_token = body.get("access_token")
        token_type = body.get("token_type")
        if not isinstance(access_token, str) or not access_token:
            raise PlatformError(
                "the token answer has no access_token", reason=Reason.PLATFORM_RESPONSE_INVALID
            )
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise PlatformError("the token type is not Bearer", reason=Reason.PLATFORM_RESPONSE_INVALID)
        id_token = body.get("id_token")
        if expect_id_token and (not isinstance(id_token, str) or not id_token):
            raise OIDCError("the token answer has no id_token", reason=Reason.OIDC_TOKEN_INVALID)
        expires_in = body.get("expires_in")
        expires_at = None
        if isinstance(expires_in, int) and not isinstance(expires_in, bool) and 0 < expires_in < 10**7:
            expires_at = self.now() + timedelta(seconds=expires_in)
        scope = body.get("scope")
        return TokenSet(
            access_token=access_token,
            expires_at=expires_at,
            scopes=tuple(scope.split()) if isinstance(scope, str) else (),
            id_token=id_token if isinstance(id_token, str) else None,
        )

    def accept_userinfo(self, received: Received, id_token: IDTokenClaims) -> dict[str, Any]:
        if received.status_code in (401, 403):
            raise OIDCError(
                "the provider refused the access token at userinfo", reason=Reason.OIDC_TOKEN_INVALID
            )
        body = _json_object(received, _JSON_TYPES, "userinfo", now=self.now())
        if body.get("sub") != id_token.subject:
            # OIDC Core §5.3.2: the UserInfo sub MUST match the ID token's (token substitution).
            raise OIDCError("userinfo sub differs from the ID token's", reason=Reason.OIDC_TOKEN_INVALID)
        return body

    def accept_transaction(self, received: Received) -> SignTransaction:
        body = self._transaction_body(received)
        try:
            return SignTransaction(
                transaction_id=str(body["transaction_id"]),
                digest=_b64url_decode(str(body["digest"])),
                status=str(body["status"]),
                expires_at=_aware(str(body["expires_at"])),
            )
        except (KeyError, ValueError) as exc:
            raise PlatformError(
                "malformed sign transaction", reason=Reason.PLATFORM_RESPONSE_INVALID
            ) from exc

    def accept_signature(self, received: Received, transaction_id: str) -> SignatureResult:
        """The signed transaction. Raises :class:`OIDCError` (``OIDC_PROVIDER_ERROR``) while it is not
        signed (pending, declined, failed, expired)."""
        body = self._transaction_body(received)
        status = body.get("status")
        if status != "signed":
            raise OIDCProviderError(
                f"the sign transaction is {status!s:.20}, not signed", error=f"transaction_{status!s:.20}"
            )
        try:
            result = SignatureResult(
                transaction_id=str(body["transaction_id"]),
                digest=_b64url_decode(str(body["digest"])),
                signature=_b64url_decode(str(body["signature"])),
                certificate_der=_b64url_decode(str(body["certificate"])),
                signed_at=_aware(str(body["signed_at"])),
                subject=body.get("sub") if isinstance(body.get("sub"), str) else None,
                acr=body.get("acr") if isinstance(body.get("acr"), str) else None,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise PlatformError(
                "malformed signed transaction", reason=Reason.PLATFORM_RESPONSE_INVALID
            ) from exc
        if result.transaction_id != transaction_id:
            raise PlatformError(
                "the provider answered for another transaction", reason=Reason.PLATFORM_RESPONSE_INVALID
            )
        return result

    def _transaction_body(self, received: Received) -> dict[str, Any]:
        body = _json_object(received, _JSON_TYPES, "sign transaction", allow_error=True, now=self.now())
        if received.status_code == 401:
            # RFC 6750 §3.1 invalid_token: the access token is stale; our client credentials are fine
            # until the token endpoint itself answers invalid_client.
            raise ServiceTokenRefusedError(
                "the provider refused our access token for sign transactions",
                error="invalid_token",
                status_code=401,
            )
        if received.status_code == 403:
            raise OIDCProviderError(
                "the provider refused our token for sign transactions (insufficient_scope)",
                error="insufficient_scope",
                status_code=403,
            )
        if received.status_code >= 400:
            raise PlatformError(
                f"the provider refused the sign transaction call ({body.get('code', '')!s:.40})",
                reason=Reason.PLATFORM_REJECTED,
                status_code=received.status_code,
                problem_type=body.get("type") if isinstance(body.get("type"), str) else None,
            )
        return body

    # -- login steps ----------------------------------------------------------------------------------

    def begin_login(
        self,
        metadata: ProviderMetadata,
        *,
        scopes: Sequence[str],
        redirect_uri: str,
        acr_values: Sequence[str] = (),
        sign_transaction_id: str | None = None,
    ) -> tuple[str, LoginState]:
        """The authorization URL and the :class:`LoginState` to keep (OIDC Core §3.1.2.1)."""
        chosen = tuple(dict.fromkeys(str(scope) for scope in scopes))
        if OIDCScope.OPENID.value not in chosen:
            chosen = (OIDCScope.OPENID.value, *chosen)
        if sign_transaction_id is not None and OIDCScope.SIGN.value not in chosen:
            chosen = (*chosen, OIDCScope.SIGN.value)
        if OIDCScope.SIGN.value in chosen and sign_transaction_id is None:
            raise ValueError("scope sign needs a sign transaction (create_sign_transaction)")
        state = LoginState(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            code_verifier=generate_token(64),
            redirect_uri=redirect_uri,
            scopes=chosen,
            acr_values=tuple(str(acr) for acr in acr_values),
            sign_transaction_id=sign_transaction_id,
            created_at=self.now(),
        )
        extra: dict[str, str] = {"nonce": state.nonce}
        if state.acr_values:
            extra["acr_values"] = " ".join(state.acr_values)
        if sign_transaction_id is not None:
            extra["authorization_details"] = json.dumps(
                [{"type": SIGN_DETAILS_TYPE, "transaction_id": sign_transaction_id}], separators=(",", ":")
            )
        client = OAuth2Client(
            None,
            client_id=self.client_id,
            redirect_uri=redirect_uri,
            scope=" ".join(chosen),
            code_challenge_method="S256",
        )
        url, _ = client.create_authorization_url(
            metadata.authorization_endpoint, state=state.state, code_verifier=state.code_verifier, **extra
        )
        return str(url), state

    def parse_callback(
        self, callback: str | Mapping[str, str], state: LoginState, *, require_iss: bool | None = None
    ) -> str:
        """The authorization code of a callback (URL or query parameters), after the ``state`` check.

        Args:
            require_iss: the provider advertises ``authorization_response_iss_parameter_supported``
                (:attr:`ProviderMetadata.authorization_response_iss_parameter_supported`): a callback
                without ``iss`` is then refused (RFC 9207 §2.4). ``None`` (default): as the last
                discovery document this core accepted says (``False`` before any).

        Raises:
            OIDCError: ``OIDC_STATE_MISMATCH``; ``OIDC_TOKEN_INVALID`` (RFC 9207 ``iss`` differs, or is
                missing while required).
            OIDCProviderError: the callback carries ``error``.
        """
        if isinstance(callback, str):
            pairs = parse_qsl(urlsplit(callback).query, keep_blank_values=True)
            if len({name for name, _ in pairs}) != len(pairs):
                raise OIDCError("the callback repeats a parameter", reason=Reason.OIDC_STATE_MISMATCH)
            params = dict(pairs)
        else:
            params = {str(k): str(v) for k, v in callback.items()}
        received_state = params.get("state", "")
        if not secrets.compare_digest(received_state.encode(), state.state.encode()):
            raise OIDCError("the callback state differs from the one sent", reason=Reason.OIDC_STATE_MISMATCH)
        iss = params.get("iss")
        if require_iss is None:
            require_iss = (
                self._metadata is not None
                and self._metadata[0].authorization_response_iss_parameter_supported
            )
        if iss is None and require_iss:
            raise OIDCError(
                "the callback carries no iss although the provider sends it (RFC 9207 §2.4)",
                reason=Reason.OIDC_TOKEN_INVALID,
            )
        if iss is not None and iss != self.issuer:
            raise OIDCError(
                "the callback comes from another issuer (RFC 9207)", reason=Reason.OIDC_TOKEN_INVALID
            )
        if "error" in params:
            error = params["error"][:64]
            raise OIDCProviderError(
                f"the provider answered {error}",
                error=error,
                error_description=params.get("error_description"),
            )
        code = params.get("code")
        if not code:
            raise OIDCProviderError("the callback carries no code", error="invalid_request")
        return code

    def validate_id_token(
        self, token: str, keys: KeySet, state: LoginState, *, access_token: str | None = None
    ) -> IDTokenClaims:
        """Validate an ID token (OIDC Core §3.1.3.7, see the module docstring).

        Raises:
            OIDCError: ``OIDC_TOKEN_INVALID`` or ``OIDC_NONCE_MISMATCH``.
            UnknownSigningKeyError: no key of ``keys`` has the token's ``kid``.
        """
        invalid = Reason.OIDC_TOKEN_INVALID
        if not isinstance(token, str) or len(token) > 16 * 1024 or token.count(".") != 2:
            raise OIDCError("the ID token is not a compact JWS", reason=invalid)
        try:
            header = jws.extract_compact(token.encode("ascii")).headers()
        except (JoseError, ValueError, TypeError, UnicodeError) as exc:
            raise OIDCError("the ID token header does not parse", reason=invalid) from exc
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in ID_TOKEN_ALGORITHMS:
            # The allow-list runs before any key is chosen: "none", HS256 with a public key as the
            # secret, RS256 … are all refused here.
            raise OIDCError(f"ID token alg {alg!s:.16} is not allowed (ES256 only)", reason=invalid)
        if "crit" in header:
            raise OIDCError("the ID token has critical header parameters", reason=invalid)
        key = _pick_key(keys, header.get("kid"))
        try:
            decoded = jwt.decode(token, key, algorithms=sorted(ID_TOKEN_ALGORITHMS))
        except (JoseError, ValueError, TypeError) as exc:
            raise OIDCError("the ID token signature does not verify", reason=invalid) from exc
        claims = decoded.claims
        now = self.now()
        skew = self.settings.clock_skew
        if claims.get("iss") != self.issuer:
            raise OIDCError("the ID token comes from another issuer", reason=invalid)
        audience = _audience(claims.get("aud"))
        if self.client_id not in audience:
            raise OIDCError("the ID token is for another audience", reason=invalid)
        if len(audience) > 1 and claims.get("azp") != self.client_id:
            raise OIDCError("several audiences and azp is not us", reason=invalid)
        if "azp" in claims and claims.get("azp") != self.client_id:
            raise OIDCError("the ID token's azp is another client", reason=invalid)
        expires_at = _numeric_date(claims, "exp", required=True)
        issued_at = _numeric_date(claims, "iat", required=True)
        assert expires_at is not None
        assert issued_at is not None
        if expires_at <= now - skew:
            raise OIDCError("the ID token expired", reason=invalid)
        if issued_at > now + skew:
            raise OIDCError("the ID token was issued in the future", reason=invalid)
        if issued_at < now - self.settings.max_id_token_age - skew:
            raise OIDCError("the ID token is too old", reason=invalid)
        not_before = _numeric_date(claims, "nbf", required=False)
        if not_before is not None and not_before > now + skew:
            # RFC 7519 §4.1.5: not to be accepted before nbf.
            raise OIDCError("the ID token is not valid yet (nbf)", reason=invalid)
        nonce = claims.get("nonce")
        if not isinstance(nonce, str) or not secrets.compare_digest(nonce.encode(), state.nonce.encode()):
            raise OIDCError("the ID token nonce differs from the one sent", reason=Reason.OIDC_NONCE_MISMATCH)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not 1 <= len(subject) <= 255:
            raise OIDCError("the ID token has no usable sub", reason=invalid)
        acr = claims.get("acr")
        if acr is not None and not isinstance(acr, str):
            raise OIDCError("the ID token acr is not a string", reason=invalid)
        if state.acr_values and acr not in state.acr_values:
            raise OIDCError("the ID token acr is not one of the acr_values asked for", reason=invalid)
        at_hash = claims.get("at_hash")
        if at_hash is not None and access_token is not None:
            expected = _b64url(hashlib.sha256(access_token.encode("ascii")).digest()[:16])
            if not isinstance(at_hash, str) or not secrets.compare_digest(
                at_hash.encode(), expected.encode()
            ):
                raise OIDCError("at_hash does not match the access token", reason=invalid)
        amr = claims.get("amr")
        return IDTokenClaims(
            issuer=self.issuer,
            subject=subject,
            audience=audience,
            expires_at=expires_at,
            issued_at=issued_at,
            auth_time=_numeric_date(claims, "auth_time", required=False),
            nonce=nonce,
            acr=acr,
            amr=tuple(a for a in amr if isinstance(a, str)) if isinstance(amr, list) else (),
            raw=dict(claims),
        )

    def login_result(
        self,
        tokens: TokenSet,
        id_token: IDTokenClaims,
        state: LoginState,
        userinfo: Mapping[str, Any] | None,
    ) -> OIDCLogin:
        granted = tokens.scopes or state.scopes
        return OIDCLogin(
            subject=id_token.subject,
            issuer=id_token.issuer,
            id_token=id_token,
            scopes=granted,
            acr=id_token.acr,
            attributes=map_attributes(userinfo, granted) if userinfo is not None else None,
            sign_transaction_id=state.sign_transaction_id,
            access_token=tokens.access_token,
            access_token_expires_at=tokens.expires_at,
        )

    @staticmethod
    def wants_userinfo(tokens: TokenSet, state: LoginState) -> bool:
        granted = tokens.scopes or state.scopes
        return any(scope in _ATTRIBUTE_SCOPES for scope in granted)

    # -- protocol runs (what the wrappers' public methods drive) ---------------------------------------

    def metadata_steps(self) -> Steps[ProviderMetadata]:
        """The provider's metadata: cached, or fetched (discovery)."""
        cached = self.cached_metadata()
        if cached is not None:
            return cached
        return self.accept_discovery((yield self.discovery_request()))

    def _jwks_steps(self, metadata: ProviderMetadata, *, force: bool = False) -> Steps[KeySet]:
        cached = None if force else self.cached_jwks()
        if cached is not None:
            return cached
        return self.accept_jwks((yield self.jwks_request(metadata)))

    def _service_token_steps(self, metadata: ProviderMetadata) -> Steps[str]:
        cached = self.cached_service_token()
        if cached is not None:
            return cached
        received = yield self.client_credentials_request(metadata)
        return self.remember_service_token(self.accept_token(received, expect_id_token=False))

    def _with_service_token(
        self, metadata: ProviderMetadata, request: Callable[[str], httpx.Request]
    ) -> Steps[Received]:
        """``request`` sent with our client-credentials token; on 401 (a stale cached token) the token is
        dropped and the request repeated once with a fresh one (a refused fresh token is the caller's)."""
        fresh = self.cached_service_token() is None
        token = yield from self._service_token_steps(metadata)
        received = yield request(token)
        if received.status_code == 401 and not fresh:
            self.forget_service_token()
            token = yield from self._service_token_steps(metadata)
            received = yield request(token)
        return received

    def begin_login_steps(
        self,
        scopes: Sequence[str],
        *,
        redirect_uri: str,
        acr_values: Sequence[str],
        sign_transaction: SignTransaction | str | None,
    ) -> Steps[tuple[str, LoginState]]:
        """:meth:`begin_login` after discovery (see ``MynaOIDCClient.begin_login``)."""
        metadata = yield from self.metadata_steps()
        transaction_id = _transaction_id(sign_transaction) if sign_transaction is not None else None
        return self.begin_login(
            metadata,
            scopes=[str(scope) for scope in scopes],
            redirect_uri=redirect_uri,
            acr_values=[str(acr) for acr in acr_values],
            sign_transaction_id=transaction_id,
        )

    def complete_login_steps(self, callback: str | Mapping[str, str], state: LoginState) -> Steps[OIDCLogin]:
        """Callback, code exchange, ID token, UserInfo (see ``MynaOIDCClient.complete_login``)."""
        metadata = yield from self.metadata_steps()
        code = self.parse_callback(
            callback, state, require_iss=metadata.authorization_response_iss_parameter_supported
        )
        received = yield self.token_request(metadata, code=code, state=state)
        tokens = self.accept_token(received, expect_id_token=True)
        assert tokens.id_token is not None
        claims = yield from self._validate_steps(metadata, tokens.id_token, state, tokens.access_token)
        userinfo = None
        if self.wants_userinfo(tokens, state):
            received = yield self.userinfo_request(metadata, tokens.access_token)
            userinfo = self.accept_userinfo(received, claims)
        return self.login_result(tokens, claims, state, userinfo)

    def _validate_steps(
        self, metadata: ProviderMetadata, id_token: str, state: LoginState, access_token: str | None
    ) -> Steps[IDTokenClaims]:
        keys = yield from self._jwks_steps(metadata)
        try:
            return self.validate_id_token(id_token, keys, state, access_token=access_token)
        except UnknownSigningKeyError:
            if not self.may_refresh_jwks():
                raise
        keys = yield from self._jwks_steps(metadata, force=True)  # key rotation: one refetch
        return self.validate_id_token(id_token, keys, state, access_token=access_token)

    def validate_id_token_steps(
        self, id_token: str, state: LoginState, access_token: str | None
    ) -> Steps[IDTokenClaims]:
        """:meth:`validate_id_token` against the provider's (cached or fetched) JWKS."""
        metadata = yield from self.metadata_steps()
        return (yield from self._validate_steps(metadata, id_token, state, access_token))

    def create_transaction_steps(self, *, digest: bytes, digest_info: bool) -> Steps[SignTransaction]:
        """A new sign transaction (see ``MynaOIDCClient.create_sign_transaction``)."""
        metadata = yield from self.metadata_steps()
        received = yield from self._with_service_token(
            metadata,
            lambda token: self.create_transaction_request(
                metadata, token, digest=digest, digest_info=digest_info
            ),
        )
        return self.accept_transaction(received)

    def fetch_signature_steps(
        self, transaction: SignTransaction | str, login: OIDCLogin | None
    ) -> Steps[SignatureResult]:
        """A transaction's signature, bound to ``transaction`` and ``login`` (see
        ``MynaOIDCClient.fetch_signature``)."""
        metadata = yield from self.metadata_steps()
        transaction_id = _transaction_id(transaction)
        self.fetch_transaction_request(metadata, "-", transaction_id)  # validates the id first
        received = yield from self._with_service_token(
            metadata, lambda token: self.fetch_transaction_request(metadata, token, transaction_id)
        )
        result = self.accept_signature(received, transaction_id)
        return _check_signature_binding(result, transaction, login)


# ----------------------------------------------------------------------------------------- helpers


def _transaction_id(transaction: SignTransaction | str) -> str:
    return transaction.transaction_id if isinstance(transaction, SignTransaction) else transaction


def _check_signature_binding(
    result: SignatureResult, transaction: SignTransaction | str, login: OIDCLogin | None
) -> SignatureResult:
    if isinstance(transaction, SignTransaction) and result.digest != transaction.digest:
        raise PlatformError(
            "the signed digest differs from the transaction's", reason=Reason.PLATFORM_RESPONSE_INVALID
        )
    if login is not None:
        if login.sign_transaction_id != result.transaction_id:
            raise OIDCError(
                "this login did not present that sign transaction", reason=Reason.OIDC_TOKEN_INVALID
            )
        if result.subject != login.subject:
            raise OIDCError("the signer is not the holder who logged in", reason=Reason.OIDC_TOKEN_INVALID)
    return result


_ATTRIBUTE_SCOPES = frozenset({OIDCScope.NAME, OIDCScope.ADDRESS, OIDCScope.BIRTHDATE, OIDCScope.GENDER})
_ID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")
_GENDER_CODES = {"male": Gender.MALE, "female": Gender.FEMALE, "not_stated": Gender.NOT_STATED}


def map_attributes(
    claims: Mapping[str, Any], scopes: Sequence[str]
) -> BasicFourAttributes | PartialAttributes | None:
    """UserInfo claims (docs/oidc.md) → :class:`BasicFourAttributes` when ``scopes`` grant all four,
    :class:`PartialAttributes` when some, ``None`` when none.

    Raises:
        PlatformError: ``PLATFORM_RESPONSE_INVALID`` when a granted claim is missing or malformed.
    """
    granted = {scope for scope in scopes if scope in _ATTRIBUTE_SCOPES}
    if not granted:
        return None
    try:
        name = name_positions = address = address_positions = None
        gender: Gender | None = None
        date_of_birth: DateOfBirth | None = None
        if OIDCScope.NAME in granted:
            name = _text(claims, "name")
            name_positions = _positions(claims.get("jpki_name_substitute_positions", ""), name)
        if OIDCScope.ADDRESS in granted:
            formatted = claims.get("address")
            address = (
                _text(formatted, "formatted") if isinstance(formatted, Mapping) else _text(claims, "address")
            )
            address_positions = _positions(claims.get("jpki_address_substitute_positions", ""), address)
        if OIDCScope.GENDER in granted:
            code = claims.get("jpki_gender")
            gender = Gender(code) if isinstance(code, str) else _GENDER_CODES[_text(claims, "gender")]
        if OIDCScope.BIRTHDATE in granted:
            raw = claims.get("jpki_date_of_birth")
            date_of_birth = parse_date_of_birth(raw) if isinstance(raw, str) else _from_birthdate(claims)
    except (KeyError, ValueError, TypeError, MalformedInputError) as exc:
        raise PlatformError(
            "userinfo lacks or garbles a granted attribute", reason=Reason.PLATFORM_RESPONSE_INVALID
        ) from exc
    if len(granted) == len(_ATTRIBUTE_SCOPES):
        assert name is not None and name_positions is not None and address is not None  # noqa: PT018
        assert address_positions is not None and gender is not None and date_of_birth is not None  # noqa: PT018
        return BasicFourAttributes(
            name=name,
            name_substitute_positions=name_positions,
            gender=gender,
            date_of_birth=date_of_birth,
            address=address,
            address_substitute_positions=address_positions,
        )
    return PartialAttributes(
        name=name,
        name_substitute_positions=name_positions,
        gender=gender,
        date_of_birth=date_of_birth,
        address=address,
        address_substitute_positions=address_positions,
    )


def _text(source: Any, key: str) -> str:
    value = source[key]
    if not isinstance(value, str) or not value or len(value) > 1024:
        raise ValueError(f"{key} is not a non-empty string")
    return value


def _positions(flags: Any, text: str) -> str:
    if not isinstance(flags, str) or flags.strip("01") or len(flags) > len(text):
        raise ValueError("substitute positions must be 0/1 flags, at most one per character")
    return flags


def _from_birthdate(claims: Mapping[str, Any]) -> DateOfBirth:
    """A DateOfBirth from the standard ``birthdate`` (no era digit: era 0, unknown)."""
    text = _text(claims, "birthdate")
    parts = text.split("-")
    if len(parts) == 3:
        return parse_date_of_birth("0" + "".join(parts))
    if len(parts) == 1 and len(text) == 4:
        return parse_date_of_birth("0" + text + "0000")
    raise ValueError("birthdate is neither YYYY-MM-DD nor YYYY")


def _pick_key(keys: KeySet, kid: Any) -> ECKey:
    candidates = [key for key in keys if isinstance(key, ECKey)]
    if kid is not None:
        if not isinstance(kid, str):
            raise OIDCError("the ID token kid is not a string", reason=Reason.OIDC_TOKEN_INVALID)
        candidates = [key for key in candidates if key.kid == kid]
        if not candidates:
            raise UnknownSigningKeyError(
                "the ID token names an unknown key", reason=Reason.OIDC_TOKEN_INVALID
            )
    if len(candidates) != 1:
        # Without a kid, only an unambiguous key set is acceptable.
        raise OIDCError(
            "cannot tell which provider key signed the ID token", reason=Reason.OIDC_TOKEN_INVALID
        )
    return candidates[0]


def _audience(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise OIDCError("the ID token aud is malformed", reason=Reason.OIDC_TOKEN_INVALID)


def _numeric_date(claims: Mapping[str, Any], name: str, *, required: bool) -> datetime | None:
    value = claims.get(name)
    if value is None:
        if required:
            raise OIDCError(f"the ID token has no {name}", reason=Reason.OIDC_TOKEN_INVALID)
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OIDCError(f"the ID token {name} is not a NumericDate", reason=Reason.OIDC_TOKEN_INVALID)
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise OIDCError(f"the ID token {name} is out of range", reason=Reason.OIDC_TOKEN_INVALID) from exc


def _json_object(
    received: Received,
    media_types: Sequence[str],
    what: str,
    *,
    now: datetime,
    allow_error: bool = False,
) -> dict[str, Any]:
    """The JSON object of an answer, after the status and content-type checks.

    ``allow_error``: 4xx answers are returned (the caller reads the OAuth/problem members) instead of
    raising ``PLATFORM_REJECTED``. ``now``: for an HTTP-date ``Retry-After``.
    """
    status = received.status_code
    if status == 429 or status >= 500:
        raise PlatformError(
            f"the provider is unavailable ({what}: HTTP {status})",
            reason=Reason.PLATFORM_UNAVAILABLE,
            status_code=status,
            retry_after=parse_retry_after(received.headers.get("retry-after"), now),
        )
    if 300 <= status < 400:
        raise PlatformError(
            f"{what}: unexpected redirect", reason=Reason.PLATFORM_RESPONSE_INVALID, status_code=status
        )
    body: Any = None
    if received.content_type in media_types:
        try:
            body = json.loads(received.content)
        except (ValueError, UnicodeDecodeError):
            body = None
    if status >= 400 and not allow_error:
        problem_type = body.get("type") if isinstance(body, dict) else None
        raise PlatformError(
            f"{what}: the provider answered HTTP {status}",
            reason=Reason.PLATFORM_REJECTED,
            status_code=status,
            problem_type=problem_type if isinstance(problem_type, str) else None,
        )
    if received.content_type not in media_types:
        raise PlatformError(
            f"{what}: unexpected content type", reason=Reason.PLATFORM_RESPONSE_INVALID, status_code=status
        )
    if not isinstance(body, dict):
        raise PlatformError(
            f"{what}: malformed JSON or not an object",
            reason=Reason.PLATFORM_RESPONSE_INVALID,
            status_code=status,
        )
    return body


def _raise_oauth_error(received: Received, body: Mapping[str, Any]) -> None:
    error = body.get("error")
    if not isinstance(error, str):
        raise PlatformError(
            f"the token endpoint answered HTTP {received.status_code} without an OAuth error",
            reason=Reason.PLATFORM_REJECTED,
            status_code=received.status_code,
        )
    description = body.get("error_description")
    raise OIDCProviderError(
        f"the token endpoint answered {error[:64]}",
        error=error[:64],
        error_description=description if isinstance(description, str) else None,
        status_code=received.status_code,
        reason=Reason.CLIENT_AUTHENTICATION_FAILED
        if error == "invalid_client"
        else Reason.OIDC_PROVIDER_ERROR,
    )


def _url(body: Mapping[str, Any], name: str, *, required: bool = True) -> Any:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or urlsplit(value).scheme not in ("http", "https"):
        raise PlatformError(
            f"discovery: {name} is not an http(s) URL", reason=Reason.PLATFORM_RESPONSE_INVALID
        )
    return value


def _aware(text: str) -> datetime:
    return require_aware(datetime.fromisoformat(text))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    if not set(text) <= _ID_CHARS - {".", "~"} or len(text) % 4 == 1:
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def digest_info_sha256(digest: bytes) -> bytes:
    """The RFC 8017 §9.2 DigestInfo DER of a SHA-256 ``digest`` (what a JPKI token signs)."""
    if len(digest) != 32:
        raise MalformedInputError("a SHA-256 digest is 32 bytes")
    return SHA256_DIGEST_INFO_PREFIX + digest


__all__ = [
    "CLIENT_ASSERTION_TYPE",
    "ID_TOKEN_ALGORITHMS",
    "SHA256_DIGEST_INFO_PREFIX",
    "IDTokenClaims",
    "LoginState",
    "OIDCAcr",
    "OIDCCore",
    "OIDCLogin",
    "OIDCProviderError",
    "OIDCScope",
    "OIDCSettings",
    "PartialAttributes",
    "ProviderMetadata",
    "Received",
    "ServiceTokenRefusedError",
    "SignTransaction",
    "SignatureResult",
    "Steps",
    "TokenSet",
    "UnknownSigningKeyError",
    "digest_info_sha256",
    "map_attributes",
]
