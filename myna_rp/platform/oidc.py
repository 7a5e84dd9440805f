"""OpenID Connect login with the Digital Authentication App (デジタル認証アプリ), and document signing through
its sign transactions.

:class:`MynaOIDCClient` (sync) and :class:`AsyncMynaOIDCClient` are thin I/O wrappers around one sans-IO
core (:class:`~myna_rp.platform._oidc_core.OIDCCore`), over an **injected** ``httpx.Client`` /
``httpx.AsyncClient`` (per-request timeouts always set, redirects never followed, bodies capped). OAuth
pieces come from authlib's sans-IO layer (authorization URL with PKCE S256, token request bodies,
``private_key_jwt`` client assertions); JOSE from joserfc. authlib's own httpx client classes are not used
because they own their transport (so no injected client, no ``httpx.MockTransport``/ASGI testing).

Login::

    client = MynaOIDCClient(http, issuer="https://op.example/oidc", client_id="bank",
                            private_key=ECKey.import_key(pem), clock=SystemClock())
    url, login_state = client.begin_login(["openid", "name", "address", "birthdate", "gender"],
                                          redirect_uri="https://bank.example/cb")
    # keep login_state (login_state.to_dict()) in the user's session; redirect the browser to url
    login = client.complete_login(callback_url, login_state)   # → OIDCLogin
    login.subject          # pairwise sub: stable for this RP across card renewal / phone change
    login.attributes       # BasicFourAttributes (all four scopes) or PartialAttributes

KYC with a sign transaction (the holder signs your document with the signing certificate)::

    tx = client.create_sign_transaction(digest=hashlib.sha256(document).digest())
    url, login_state = client.begin_login(["openid"], redirect_uri=..., sign_transaction=tx)
    login = client.complete_login(callback_url, login_state)
    signed = client.fetch_signature(tx, login=login)
    identity = verify_signature_result(signed, verifier, document=document)  # IdentityVerification(mode=OIDC)

Errors: :class:`~myna_rp.errors.OIDCError` with reason ``OIDC_STATE_MISMATCH``, ``OIDC_NONCE_MISMATCH``,
``OIDC_TOKEN_INVALID`` or ``OIDC_PROVIDER_ERROR`` (:class:`OIDCProviderError`, with the OAuth ``error``;
``CLIENT_AUTHENTICATION_FAILED`` for ``invalid_client``; :class:`ServiceTokenRefusedError` for a refused
client-credentials token; also a discovery document naming another issuer); transport problems
:class:`~myna_rp.errors.PlatformError` ``PLATFORM_UNAVAILABLE`` (timeout, connection, 5xx, 429) or
``PLATFORM_RESPONSE_INVALID`` (bad JSON, wrong content type, oversized body); no exception of httpx,
authlib or joserfc leaks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Generic, TypeVar

import httpx
from joserfc.jwk import ECKey, RSAKey

from ..clock import Clock, SystemClock
from ..errors import PlatformError, Reason, VerificationError
from ..identity import IdentityVerification, VerificationMode
from ..jpki.profile import CertificateKind
from ..jpki.verifier import JPKIVerifier
from ..revocation import RevocationEvidence
from ._core import CappedBody, Done, advance
from ._oidc_core import (
    ID_TOKEN_ALGORITHMS,
    IDTokenClaims,
    LoginState,
    OIDCAcr,
    OIDCCore,
    OIDCLogin,
    OIDCProviderError,
    OIDCScope,
    OIDCSettings,
    PartialAttributes,
    ProviderMetadata,
    Received,
    ServiceTokenRefusedError,
    SignatureResult,
    SignTransaction,
    Steps,
    digest_info_sha256,
    map_attributes,
)

T = TypeVar("T")
HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)

_TRANSPORT_ERRORS = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError)


def _transport_error(exc: Exception) -> PlatformError:
    what = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    return PlatformError(f"the call to the OpenID provider {what}", reason=Reason.PLATFORM_UNAVAILABLE)


def _too_large(limit: int) -> PlatformError:
    return PlatformError(
        f"the provider's answer exceeds {limit} bytes", reason=Reason.PLATFORM_RESPONSE_INVALID
    )


def _capped_body(limit: int, response: httpx.Response) -> CappedBody:
    return CappedBody(limit, response.headers, lambda: _too_large(limit))


def _received(response: httpx.Response, body: CappedBody) -> Received:
    headers = {name.lower(): value for name, value in response.headers.items()}
    return Received(response.status_code, headers, body.content())


def verify_signature_result(
    result: SignatureResult,
    verifier: JPKIVerifier,
    *,
    document: bytes,
    at: datetime | None = None,
    evidence: RevocationEvidence | None = None,
) -> IdentityVerification:
    """Verify a sign transaction's signature and certificate yourself; the KYC result in OIDC mode.

    The provider is not trusted for the verdict: the signature (PKCS#1 v1.5 over the DigestInfo of
    SHA-256(``document``), RFC 8017 §8.2), the certification path and the revocation status are checked by
    ``verifier`` under its own :class:`~myna_rp.revocation.RevocationPolicy`.

    Args:
        result: from :meth:`MynaOIDCClient.fetch_signature`.
        verifier: your :class:`~myna_rp.jpki.JPKIVerifier` (J-LIS roots, revocation sources).
        document: the exact bytes whose SHA-256 the transaction carried.
        at: verification time (aware); the verifier's clock by default.
        evidence: CRLs / OCSP responses you already hold.

    Returns:
        :class:`~myna_rp.identity.IdentityVerification` with ``mode=OIDC`` and the holder's basic four
        attributes (基本4情報) from the signing certificate (署名用電子証明書).

    Raises:
        VerificationError: ``DIGEST_MISMATCH`` when ``document`` is not what was signed; otherwise as
            :meth:`JPKIVerifier.verify_signature` (``SIGNATURE_INVALID``, ``CERTIFICATE_REVOKED``,
            ``REVOCATION_UNAVAILABLE``, ``WRONG_CERTIFICATE_KIND`` …).
    """
    if hashlib.sha256(document).digest() != result.digest:
        raise VerificationError(
            "the document is not the one whose digest was signed", reason=Reason.DIGEST_MISMATCH
        )
    verification = verifier.verify_signature(
        data=document,
        signature=result.signature,
        certificate=result.certificate_der,
        at=at,
        evidence=evidence,
        expected_kind=CertificateKind.SIGNING,
    )
    return IdentityVerification.from_jpki(verification, mode=VerificationMode.OIDC)


class _ClientBase(Generic[HttpT]):
    """What both wrappers share: the injected client, the core, and :meth:`verify_signature` (no I/O)."""

    def __init__(
        self,
        http: HttpT,
        *,
        issuer: str,
        client_id: str,
        private_key: ECKey | RSAKey,
        clock: Clock | None = None,
        settings: OIDCSettings | None = None,
        assertion_alg: str | None = None,
    ) -> None:
        self._http: HttpT = http
        self.core = OIDCCore(
            issuer=issuer,
            client_id=client_id,
            private_key=private_key,
            clock=clock if clock is not None else SystemClock(),
            settings=settings,
            assertion_alg=assertion_alg,
        )

    #: :func:`verify_signature_result` as a method (CPU only: no await, also on the async client).
    verify_signature = staticmethod(verify_signature_result)


class MynaOIDCClient(_ClientBase[httpx.Client]):
    """A relying party of the Digital Authentication App, over an injected ``httpx.Client``.

    Args:
        http: the HTTP client (yours: proxies, TLS, pools; or an ASGI/Mock transport in tests).
        issuer: the provider's issuer identifier (discovery at ``{issuer}/.well-known/openid-configuration``).
        client_id: your client id at the provider.
        private_key: your ``private_key_jwt`` key (joserfc ``ECKey`` P-256 or ``RSAKey``; its ``kid`` is
            sent); the provider holds the public half.
        clock: "now" (default :class:`~myna_rp.clock.SystemClock`).
        settings: timeouts, size cap, cache lifetimes, skews (:class:`OIDCSettings`).
        assertion_alg: the client-assertion algorithm (default ES256 for EC, PS256 for RSA).

    The instance caches discovery, the provider's JWKS (Clock-based TTL; an unknown ``kid`` refetches at
    most once per ``jwks_min_refresh``) and its client-credentials token; it keeps no per-login state.
    """

    # -- transport: the driver of the core's steps -------------------------------------------------

    def _run(self, steps: Steps[T]) -> T:
        step = advance(steps)
        while not isinstance(step, Done):
            step = advance(steps, self._send(step))
        return step.value

    def _send(self, request: httpx.Request) -> Received:
        try:
            response = self._http.send(request, stream=True, follow_redirects=False)
        except _TRANSPORT_ERRORS as exc:
            raise _transport_error(exc) from exc
        try:
            body = _capped_body(self.core.settings.max_response_bytes, response)
            for chunk in response.iter_bytes():
                body.add(chunk)
        except _TRANSPORT_ERRORS as exc:
            raise _transport_error(exc) from exc
        finally:
            response.close()
        return _received(response, body)

    # -- provider -----------------------------------------------------------------------------------

    def metadata(self) -> ProviderMetadata:
        """The provider's metadata (OIDC Discovery), cached for ``settings.metadata_ttl``."""
        return self._run(self.core.metadata_steps())

    # -- login --------------------------------------------------------------------------------------

    def begin_login(
        self,
        scopes: Sequence[str] = (OIDCScope.OPENID,),
        *,
        redirect_uri: str,
        acr_values: Sequence[str] = (),
        sign_transaction: SignTransaction | str | None = None,
    ) -> tuple[str, LoginState]:
        """Start a login: the URL to send the browser to, and the state to keep for the callback.

        Args:
            scopes: ``openid`` (added if missing), ``name``, ``address``, ``birthdate``, ``gender``,
                ``sign`` (added when ``sign_transaction`` is given).
            redirect_uri: exactly as registered at the provider.
            acr_values: acceptable authentication contexts, preferred first (e.g. :class:`OIDCAcr`);
                the returned ID token's ``acr`` must be one of them.
            sign_transaction: a transaction from :meth:`create_sign_transaction` for the holder to sign.

        Raises:
            PlatformError: discovery failed. ValueError: ``sign`` scope without a transaction.
        """
        return self._run(
            self.core.begin_login_steps(
                scopes, redirect_uri=redirect_uri, acr_values=acr_values, sign_transaction=sign_transaction
            )
        )

    def complete_login(self, callback: str | Mapping[str, str], state: LoginState) -> OIDCLogin:
        """Finish a login from the callback URL (or its query parameters).

        Checks ``state``, exchanges the code (PKCE verifier, private_key_jwt), validates the ID token
        (ES256 only, signature, iss, aud/azp, exp, iat, nonce, at_hash, acr) and, when attribute scopes
        were granted, reads UserInfo (``sub`` must match).

        Raises:
            OIDCError: ``OIDC_STATE_MISMATCH``, ``OIDC_NONCE_MISMATCH``, ``OIDC_TOKEN_INVALID``;
                :class:`OIDCProviderError` (``OIDC_PROVIDER_ERROR`` / ``CLIENT_AUTHENTICATION_FAILED``).
            PlatformError: ``PLATFORM_UNAVAILABLE``, ``PLATFORM_RESPONSE_INVALID``, ``PLATFORM_REJECTED``.
        """
        return self._run(self.core.complete_login_steps(callback, state))

    def validate_id_token(
        self, id_token: str, state: LoginState, *, access_token: str | None = None
    ) -> IDTokenClaims:
        """Validate an ID token against the provider's JWKS and ``state`` (the checks of
        :meth:`complete_login`; ``at_hash`` only when ``access_token`` is given).

        Raises:
            OIDCError: ``OIDC_TOKEN_INVALID`` / ``OIDC_NONCE_MISMATCH``. PlatformError: discovery/JWKS.
        """
        return self._run(self.core.validate_id_token_steps(id_token, state, access_token))

    # -- sign transactions --------------------------------------------------------------------------

    def create_sign_transaction(self, *, digest: bytes, digest_info: bool = False) -> SignTransaction:
        """Ask the provider to have the holder sign ``digest``.

        Args:
            digest: SHA-256 of the document (32 bytes), or with ``digest_info`` its RFC 8017 §9.2
                DigestInfo DER (51 bytes; :func:`digest_info_sha256` builds one).

        The client-credentials token is cached; a 401 ``invalid_token`` on the call drops it and repeats
        the call once with a fresh token.

        Raises:
            OIDCProviderError: our client credentials were refused at the token endpoint
                (``CLIENT_AUTHENTICATION_FAILED``); :class:`ServiceTokenRefusedError`
                (``OIDC_PROVIDER_ERROR``, ``error="invalid_token"``) when even a fresh token is refused.
            PlatformError: ``PLATFORM_REJECTED`` (e.g. a malformed digest), transport errors.
        """
        return self._run(self.core.create_transaction_steps(digest=digest, digest_info=digest_info))

    def fetch_signature(
        self, transaction: SignTransaction | str, *, login: OIDCLogin | None = None
    ) -> SignatureResult:
        """The holder's signature and signing certificate, once the holder approved.

        With ``login``, the signature must come from that login (same transaction, same ``sub``);
        with a :class:`SignTransaction`, the signed digest must be its digest.

        Raises:
            OIDCProviderError: not signed (``error`` = ``transaction_pending`` / ``_declined`` /
                ``_failed`` / ``_expired``); our credentials refused (``CLIENT_AUTHENTICATION_FAILED``) or
                a fresh token refused (:class:`ServiceTokenRefusedError`) — a stale cached token is
                replaced once first.
            OIDCError: ``OIDC_TOKEN_INVALID`` when ``login`` does not match.
            PlatformError: transport errors, unknown transaction (``PLATFORM_REJECTED``).
            MalformedInputError: ``transaction`` is not a plausible transaction id.
        """
        return self._run(self.core.fetch_signature_steps(transaction, login))


class AsyncMynaOIDCClient(_ClientBase[httpx.AsyncClient]):
    """:class:`MynaOIDCClient` over an ``httpx.AsyncClient`` (same core, same checks, same errors)."""

    async def _run(self, steps: Steps[T]) -> T:
        step = advance(steps)
        while not isinstance(step, Done):
            step = advance(steps, await self._send(step))
        return step.value

    async def _send(self, request: httpx.Request) -> Received:
        try:
            response = await self._http.send(request, stream=True, follow_redirects=False)
        except _TRANSPORT_ERRORS as exc:
            raise _transport_error(exc) from exc
        try:
            body = _capped_body(self.core.settings.max_response_bytes, response)
            async for chunk in response.aiter_bytes():
                body.add(chunk)
        except _TRANSPORT_ERRORS as exc:
            raise _transport_error(exc) from exc
        finally:
            await response.aclose()
        return _received(response, body)

    async def metadata(self) -> ProviderMetadata:
        """As :meth:`MynaOIDCClient.metadata`."""
        return await self._run(self.core.metadata_steps())

    async def begin_login(
        self,
        scopes: Sequence[str] = (OIDCScope.OPENID,),
        *,
        redirect_uri: str,
        acr_values: Sequence[str] = (),
        sign_transaction: SignTransaction | str | None = None,
    ) -> tuple[str, LoginState]:
        """As :meth:`MynaOIDCClient.begin_login`."""
        steps = self.core.begin_login_steps(
            scopes, redirect_uri=redirect_uri, acr_values=acr_values, sign_transaction=sign_transaction
        )
        return await self._run(steps)

    async def complete_login(self, callback: str | Mapping[str, str], state: LoginState) -> OIDCLogin:
        """As :meth:`MynaOIDCClient.complete_login`."""
        return await self._run(self.core.complete_login_steps(callback, state))

    async def validate_id_token(
        self, id_token: str, state: LoginState, *, access_token: str | None = None
    ) -> IDTokenClaims:
        """As :meth:`MynaOIDCClient.validate_id_token`."""
        return await self._run(self.core.validate_id_token_steps(id_token, state, access_token))

    async def create_sign_transaction(self, *, digest: bytes, digest_info: bool = False) -> SignTransaction:
        """As :meth:`MynaOIDCClient.create_sign_transaction`."""
        return await self._run(self.core.create_transaction_steps(digest=digest, digest_info=digest_info))

    async def fetch_signature(
        self, transaction: SignTransaction | str, *, login: OIDCLogin | None = None
    ) -> SignatureResult:
        """As :meth:`MynaOIDCClient.fetch_signature`."""
        return await self._run(self.core.fetch_signature_steps(transaction, login))


__all__ = [
    "ID_TOKEN_ALGORITHMS",
    "AsyncMynaOIDCClient",
    "IDTokenClaims",
    "LoginState",
    "MynaOIDCClient",
    "OIDCAcr",
    "OIDCLogin",
    "OIDCProviderError",
    "OIDCScope",
    "OIDCSettings",
    "PartialAttributes",
    "ProviderMetadata",
    "ServiceTokenRefusedError",
    "SignTransaction",
    "SignatureResult",
    "digest_info_sha256",
    "map_attributes",
    "verify_signature_result",
]
