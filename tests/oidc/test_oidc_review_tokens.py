"""Review fixes of the OpenID Connect client (issue 5 review), against a stand-in provider over
``httpx.MockTransport``: each forged ID token fails one check only (``exp``, ``azp``, ``nbf``); the
callback must carry ``iss`` when the provider advertises it (RFC 9207 §2.4); ``Retry-After`` dates are
read by the platform core's parser; a stale client-credentials token is dropped and replaced once, and a
refused token reads differently from refused client credentials; a discovery naming another issuer is a
provider-configuration error, not a token error."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from myna_rp.clock import FixedClock
from myna_rp.errors import OIDCError, PlatformError, Reason
from myna_rp.platform.oidc import (
    AsyncMynaOIDCClient,
    LoginState,
    MynaOIDCClient,
    OIDCProviderError,
    OIDCSettings,
    ServiceTokenRefusedError,
)

NOW = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)
NOW_TS = int(NOW.timestamp())
ISSUER = "https://op.review.example/oidc"
CLIENT_ID = "rp-review"
NONCE = "n" * 43
STATE = "s" * 43
CALLBACK = f"https://rp.example/callback?code=c&state={STATE}&iss={ISSUER}"


class Provider:
    """Discovery + JWKS + token (+ sign transactions) with a test-only key; counts hits per endpoint."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256", private=True, parameters={"kid": "review-1"})
        self.id_token = ""
        self.hits: dict[str, int] = {}
        self.discovery: dict[str, Any] = {
            "issuer": ISSUER,
            "authorization_endpoint": f"{ISSUER}/authorize",
            "token_endpoint": f"{ISSUER}/token",
            "jwks_uri": f"{ISSUER}/jwks",
            "sign_transaction_endpoint": f"{ISSUER}/sign-transactions",
            "id_token_signing_alg_values_supported": ["ES256"],
            "authorization_response_iss_parameter_supported": True,
        }
        self.tokens_issued = 0
        self.accepted_tokens: set[str] = set()
        self.token_error: str | None = None
        self.refuse_all_tokens = False
        self.discovery_answer: Callable[[], httpx.Response] | None = None

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.rsplit("/", 1)[-1]
        self.hits[path] = self.hits.get(path, 0) + 1
        if path == "openid-configuration":
            if self.discovery_answer is not None:
                return self.discovery_answer()
            return httpx.Response(200, json=self.discovery)
        if path == "jwks":
            return httpx.Response(
                200, json={"keys": [{**self.key.as_dict(private=False), "kid": self.key.kid}]}
            )
        if path == "token":
            if self.token_error is not None:
                return httpx.Response(401, json={"error": self.token_error})
            self.tokens_issued += 1
            token = f"at-{self.tokens_issued}"
            self.accepted_tokens.add(token)
            return httpx.Response(
                200,
                json={
                    "access_token": token,
                    "token_type": "Bearer",
                    "expires_in": 600,
                    "id_token": self.id_token,
                },
            )
        if path == "sign-transactions":
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
            if bearer not in self.accepted_tokens or self.refuse_all_tokens:
                return httpx.Response(
                    401,
                    json={"code": "INVALID_TOKEN"},
                    headers={"www-authenticate": 'Bearer error="invalid_token"'},
                )
            return httpx.Response(
                201,
                json={
                    "transaction_id": "stx_1",
                    "digest": "A" * 43,
                    "status": "pending",
                    "expires_at": (NOW + timedelta(minutes=10)).isoformat(),
                },
            )
        return httpx.Response(404)

    def client(self, **settings: Any) -> MynaOIDCClient:
        return MynaOIDCClient(
            httpx.Client(transport=httpx.MockTransport(self.handler)),
            issuer=ISSUER,
            client_id=CLIENT_ID,
            private_key=ECKey.generate_key("P-256", private=True, parameters={"kid": "rp"}),
            clock=FixedClock(NOW),
            settings=OIDCSettings(**settings),
        )

    def forge(self, **claims: Any) -> str:
        body = {
            "iss": ISSUER,
            "sub": "pairwise",
            "aud": CLIENT_ID,
            "iat": NOW_TS,
            "exp": NOW_TS + 600,
            "nonce": NONCE,
        }
        body.update(claims)
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode({"alg": "ES256", "kid": self.key.kid}, body, self.key)


def _state() -> LoginState:
    return LoginState(
        state=STATE,
        nonce=NONCE,
        code_verifier="v" * 64,
        redirect_uri="https://rp.example/callback",
        scopes=("openid",),
        acr_values=(),
        sign_transaction_id=None,
        created_at=NOW,
    )


def _token_refusal(provider: Provider, **claims: Any) -> OIDCError:
    provider.id_token = provider.forge(**claims)
    with pytest.raises(OIDCError) as caught:
        provider.client().complete_login(CALLBACK, _state())
    return caught.value


# ------------------------------------------------------------------------------------- 11. one check each


def test_expired_id_token_with_a_recent_iat_is_refused() -> None:
    """``iat`` 30 s ago (fresh, not future), ``exp`` 2 minutes ago (beyond the 60 s skew): only the
    ``exp`` check can refuse it."""
    provider = Provider()
    error = _token_refusal(provider, iat=NOW_TS - 30, exp=NOW_TS - 120)
    assert error.reason is Reason.OIDC_TOKEN_INVALID
    assert "expired" in error.message
    # Inside the skew it is accepted (the check is the skew-aware one).
    provider.id_token = provider.forge(iat=NOW_TS - 30, exp=NOW_TS - 30)
    assert provider.client().complete_login(CALLBACK, _state()).subject == "pairwise"


def test_azp_naming_another_client_is_refused_with_a_single_audience() -> None:
    error = _token_refusal(Provider(), aud=CLIENT_ID, azp="another-client")
    assert error.reason is Reason.OIDC_TOKEN_INVALID
    assert "azp" in error.message


def test_id_token_with_a_future_nbf_is_refused() -> None:
    provider = Provider()
    error = _token_refusal(provider, nbf=NOW_TS + 300)
    assert error.reason is Reason.OIDC_TOKEN_INVALID
    assert "nbf" in error.message
    provider.id_token = provider.forge(nbf=NOW_TS + 30)  # within the skew
    assert provider.client().complete_login(CALLBACK, _state()).subject == "pairwise"


# ------------------------------------------------------------------------------------- 4. RFC 9207


def test_callback_without_iss_is_refused_when_the_provider_advertises_it() -> None:
    provider = Provider()
    provider.id_token = provider.forge()
    without_iss = f"https://rp.example/callback?code=c&state={STATE}"
    with pytest.raises(OIDCError) as caught:
        provider.client().complete_login(without_iss, _state())
    assert caught.value.reason is Reason.OIDC_TOKEN_INVALID
    assert "iss" in caught.value.message
    assert provider.hits.get("token", 0) == 0  # refused before the code is redeemed
    # A provider that does not advertise it: a callback without iss is still accepted.
    provider.discovery.pop("authorization_response_iss_parameter_supported")
    assert provider.client().complete_login(without_iss, _state()).subject == "pairwise"


# ------------------------------------------------------------------------------------- 10 / 12. discovery


def test_retry_after_http_date_is_read() -> None:
    provider = Provider()
    provider.discovery_answer = lambda: httpx.Response(
        503, headers={"retry-after": "Sun, 29 Nov 2026 03:00:10 GMT"}
    )
    with pytest.raises(PlatformError) as dated:
        provider.client().metadata()
    assert dated.value.reason is Reason.PLATFORM_UNAVAILABLE
    assert dated.value.retry_after == 10.0
    provider.discovery_answer = lambda: httpx.Response(429, headers={"retry-after": b"\xb2"})
    with pytest.raises(PlatformError) as odd:
        provider.client().metadata()
    assert odd.value.retry_after is None


def test_discovery_naming_another_issuer_is_a_provider_configuration_error() -> None:
    provider = Provider()
    provider.discovery["issuer"] = "http://127.0.0.1:8700/oidc"
    with pytest.raises(OIDCError) as caught:
        provider.client().metadata()
    assert caught.value.reason is Reason.OIDC_PROVIDER_ERROR
    assert "discovery names another issuer (check the provider's issuer setting)" in caught.value.message


# ------------------------------------------------------------------------------------- 9. service token


def test_a_stale_service_token_is_dropped_and_replaced_once() -> None:
    provider = Provider()
    client = provider.client()
    digest = hashlib.sha256(b"doc").digest()
    client.create_sign_transaction(digest=digest)
    assert provider.tokens_issued == 1
    provider.accepted_tokens.clear()  # the provider forgot its tokens (restart, revocation …)
    assert client.create_sign_transaction(digest=digest).transaction_id == "stx_1"
    assert provider.tokens_issued == 2
    assert provider.hits["sign-transactions"] == 3


def test_async_stale_service_token_is_dropped_and_replaced_once() -> None:
    provider = Provider()

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(provider.handler)) as http:
            client = AsyncMynaOIDCClient(
                http,
                issuer=ISSUER,
                client_id=CLIENT_ID,
                private_key=ECKey.generate_key("P-256", private=True, parameters={"kid": "rp"}),
                clock=FixedClock(NOW),
            )
            digest = hashlib.sha256(b"doc").digest()
            await client.create_sign_transaction(digest=digest)
            provider.accepted_tokens.clear()
            assert (await client.create_sign_transaction(digest=digest)).transaction_id == "stx_1"

    asyncio.run(run())
    assert provider.tokens_issued == 2


def test_a_refused_token_reads_differently_from_refused_credentials() -> None:
    provider = Provider()
    client = provider.client()
    digest = hashlib.sha256(b"doc").digest()
    client.create_sign_transaction(digest=digest)
    # Every token refused (even a fresh one): one retry, then a token problem.
    provider.refuse_all_tokens = True
    with pytest.raises(ServiceTokenRefusedError) as stale:
        client.create_sign_transaction(digest=digest)
    assert stale.value.reason is Reason.OIDC_PROVIDER_ERROR
    assert stale.value.error == "invalid_token"
    assert provider.tokens_issued == 2  # exactly one fresh token was tried
    # The token endpoint refusing our client: CLIENT_AUTHENTICATION_FAILED.
    provider.token_error = "invalid_client"
    with pytest.raises(OIDCProviderError) as refused:
        provider.client().create_sign_transaction(digest=digest)
    assert refused.value.reason is Reason.CLIENT_AUTHENTICATION_FAILED
    assert not isinstance(refused.value, ServiceTokenRefusedError)
