"""Every negative OIDC case is rejected with a typed reason.

Two kinds of test:

* against the mock provider in-process (state, nonce, PKCE, code reuse, redirect URI, client key, callback
  ``iss``, key rotation);
* forged ID tokens built here with joserfc and a **test-only key**, fed to the client's validation through
  a stand-in provider (``httpx.MockTransport``) whose discovery and JWKS publish that key, so that each
  check (alg allow-list, signature, iss, aud/azp, exp, iat, nonce, at_hash) is exercised on its own; plus
  the HS256-with-the-public-key attack against the real provider's key.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import ECKey
from lifecycle_support import NOW, World
from oidc_support import ISSUER, RelyingPartyHandle, authorize, login, with_card

from mock_platform.device.auth_app import AuthApp, AuthAppProblemError, RedirectedToRelyingParty
from mock_platform.oidc import OAuthError
from myna_rp.clock import FixedClock
from myna_rp.errors import OIDCError, PlatformError, Reason
from myna_rp.platform.oidc import LoginState, MynaOIDCClient, OIDCProviderError, OIDCSettings

# ----------------------------------------------------------------------------------------- helpers


def _raise(error: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return handler


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _alg_none(fake: FakeProvider) -> str:
    header = _b64(json.dumps({"alg": "none", "kid": fake.key.kid}).encode())
    payload = fake.forge().split(".")[1]
    return f"{header}.{payload}."


def _hs256(header: dict[str, Any], payload_b64: str, secret: bytes) -> str:
    """HS256 by hand (joserfc itself refuses a public key as an HMAC secret)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{payload_b64}"
    mac = hmac.new(secret, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _crit_header(fake: FakeProvider) -> str:
    """A correctly ES256-signed token whose header has an unknown critical parameter (RFC 7515 §4.1.11)."""
    header = {"alg": "ES256", "kid": fake.key.kid, "crit": ["x-policy"], "x-policy": "strict"}
    signing_input = f"{_b64(json.dumps(header).encode())}.{fake.forge().split('.')[1]}"
    der = fake.key.raw_value.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _hs256_with_public_key(fake: FakeProvider) -> str:
    return _hs256(
        {"alg": "HS256", "kid": fake.key.kid}, fake.forge().split(".")[1], fake.key.as_pem(private=False)
    )


def _signed_by_stranger(fake: FakeProvider) -> str:
    stranger = ECKey.generate_key("P-256", private=True, parameters={"kid": fake.key.kid})
    payload = json.loads(base64.urlsafe_b64decode(fake.forge().split(".")[1] + "=="))
    return jwt.encode({"alg": "ES256", "kid": fake.key.kid}, payload, stranger)


def _tampered_payload(fake: FakeProvider) -> str:
    header, _, signature = fake.forge().split(".")
    other = fake.forge(sub="someone-else").split(".")[1]
    return f"{header}.{other}.{signature}"


def _drop_params(url: str, *names: str) -> str:
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in names]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def _set_params(url: str, **values: str) -> str:
    parts = urlsplit(url)
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in values]
    return urlunsplit(parts._replace(query=urlencode([*pairs, *values.items()])))


# ----------------------------------------------------------------------------------------- real provider


def test_oidc_wrong_state_is_refused(world: World, rp: RelyingPartyHandle) -> None:
    callback, state = authorize(rp, with_card(world.person()))
    with pytest.raises(OIDCError) as caught:
        rp.client.complete_login(callback, replace(state, state="another-session-state"))
    assert caught.value.reason is Reason.OIDC_STATE_MISMATCH
    stripped = _drop_params(callback, "state")
    with pytest.raises(OIDCError) as missing:
        rp.client.complete_login(stripped, state)
    assert missing.value.reason is Reason.OIDC_STATE_MISMATCH


def test_oidc_wrong_nonce_is_refused(world: World, rp: RelyingPartyHandle) -> None:
    callback, state = authorize(rp, with_card(world.person()))
    with pytest.raises(OIDCError) as caught:
        rp.client.complete_login(callback, replace(state, nonce="not-the-nonce-sent"))
    assert caught.value.reason is Reason.OIDC_NONCE_MISMATCH


def test_oidc_missing_pkce_verifier_is_refused_by_the_provider(world: World, rp: RelyingPartyHandle) -> None:
    callback, state = authorize(rp, with_card(world.person()))
    with pytest.raises(OIDCProviderError) as caught:
        rp.client.complete_login(callback, replace(state, code_verifier=""))
    assert caught.value.reason is Reason.OIDC_PROVIDER_ERROR
    assert caught.value.error == "invalid_grant"
    assert "code_verifier" in (caught.value.error_description or "")


def test_oidc_wrong_pkce_verifier_is_refused(world: World, rp: RelyingPartyHandle) -> None:
    callback, state = authorize(rp, with_card(world.person()))
    with pytest.raises(OIDCProviderError) as caught:
        rp.client.complete_login(callback, replace(state, code_verifier="A" * 64))
    assert caught.value.error == "invalid_grant"


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda url: _set_params(url, code_challenge_method="plain"), id="plain"),
        pytest.param(lambda url: _drop_params(url, "code_challenge_method"), id="method-missing-means-plain"),
        pytest.param(lambda url: _drop_params(url, "code_challenge", "code_challenge_method"), id="no-pkce"),
    ],
)
def test_oidc_pkce_plain_or_missing_is_refused(
    world: World, rp: RelyingPartyHandle, tamper: Callable[[str], str]
) -> None:
    url, state = rp.client.begin_login(["openid"], redirect_uri=rp.redirect_uri)
    with pytest.raises(RedirectedToRelyingParty) as redirected:
        AuthApp(world.client).open(tamper(url))
    assert redirected.value.location.startswith(rp.redirect_uri + "?")
    with pytest.raises(OIDCProviderError) as caught:
        rp.client.complete_login(redirected.value.location, state)
    assert caught.value.error == "invalid_request"


def test_oidc_code_reuse_is_refused_and_revokes_the_first_tokens(
    world: World, rp: RelyingPartyHandle
) -> None:
    callback, state = authorize(rp, with_card(world.person()))
    first = rp.client.complete_login(callback, state)
    bearer = {"Authorization": f"Bearer {first.access_token}"}
    assert world.client.get("/oidc/userinfo", headers=bearer).status_code == 200
    with pytest.raises(OIDCProviderError) as caught:
        rp.client.complete_login(callback, state)
    assert caught.value.error == "invalid_grant"
    revoked = world.client.get("/oidc/userinfo", headers=bearer)
    assert revoked.status_code == 401
    assert 'error="invalid_token"' in revoked.headers["www-authenticate"]


def test_oidc_expired_code_is_refused(world: World, rp: RelyingPartyHandle) -> None:
    callback, state = authorize(rp, with_card(world.person()))
    world.advance(seconds=61)
    with pytest.raises(OIDCProviderError) as caught:
        rp.client.complete_login(callback, state)
    assert caught.value.error == "invalid_grant"


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example/callback",
        "https://bank.example/callback/",
        "https://bank.example/callback?x=1",
        "https://bank.example/CALLBACK",
        "http://bank.example/callback",
    ],
)
def test_oidc_unregistered_redirect_uri_is_refused_without_redirect(
    world: World, rp: RelyingPartyHandle, redirect_uri: str
) -> None:
    url, _ = rp.client.begin_login(["openid"], redirect_uri=redirect_uri)
    with pytest.raises(AuthAppProblemError) as caught:
        AuthApp(world.client).open(url)
    assert caught.value.status == 400
    assert caught.value.code == "INVALID_REDIRECT_URI"


def test_oidc_redirect_uri_differing_at_the_token_endpoint_is_refused(
    world: World, rp: RelyingPartyHandle
) -> None:
    callback, state = authorize(rp, with_card(world.person()))
    with pytest.raises(OIDCProviderError) as caught:
        rp.client.complete_login(callback, replace(state, redirect_uri=rp.other_redirect_uri))
    assert caught.value.error == "invalid_grant"


def test_oidc_wrong_client_key_is_client_authentication_failed(world: World, rp: RelyingPartyHandle) -> None:
    callback, state = authorize(rp, with_card(world.person()))
    impostor = rp.fresh_client(private_key=ECKey.generate_key("P-256", private=True, parameters={"kid": "x"}))
    with pytest.raises(OIDCProviderError) as caught:
        impostor.complete_login(callback, state)
    assert caught.value.reason is Reason.CLIENT_AUTHENTICATION_FAILED
    assert caught.value.error == "invalid_client"
    assert caught.value.status_code == 401


def test_oidc_code_of_another_client_is_refused(
    world: World, make_rp: Callable[..., RelyingPartyHandle]
) -> None:
    bank, other = make_rp("Bank", "bank.example"), make_rp("Other", "other.example")
    callback, state = authorize(bank, with_card(world.person()))
    with pytest.raises(OIDCProviderError) as caught:
        other.client.complete_login(callback, replace(state, redirect_uri=other.redirect_uri))
    assert caught.value.error == "invalid_grant"


def test_oidc_callback_from_another_issuer_is_refused(world: World, rp: RelyingPartyHandle) -> None:
    callback, state = authorize(rp, with_card(world.person()))
    with pytest.raises(OIDCError) as caught:
        rp.client.complete_login(_set_params(callback, iss="https://evil.example/oidc"), state)
    assert caught.value.reason is Reason.OIDC_TOKEN_INVALID


def test_oidc_key_rotation_refetches_the_jwks_once_per_interval(world: World, rp: RelyingPartyHandle) -> None:
    person = world.person()
    login(rp, with_card(person))  # JWKS cached
    world.client.app.state.oidc.keys.rotate()  # type: ignore[attr-defined]
    # Within jwks_min_refresh of the last fetch the unknown kid is refused (no refetch storm) …
    callback, state = authorize(rp, with_card(person))
    with pytest.raises(OIDCError) as caught:
        rp.client.complete_login(callback, state)
    assert caught.value.reason is Reason.OIDC_TOKEN_INVALID
    # … after it, the client refetches the JWKS once and accepts the new key.
    world.advance(seconds=31)
    assert login(rp, with_card(person)).subject


def test_oidc_hs256_signed_with_the_providers_public_key_is_refused(
    world: World, rp: RelyingPartyHandle
) -> None:
    provider_key = ECKey.import_key(world.client.get("/oidc/jwks").json()["keys"][0])
    public_pem = provider_key.as_pem(private=False)
    state = _state()
    now = int(world.clock.now().timestamp())
    claims = {
        "iss": ISSUER,
        "sub": "x" * 43,
        "aud": rp.client_id,
        "iat": now,
        "exp": now + 600,
        "nonce": state.nonce,
    }
    token = _hs256({"alg": "HS256", "kid": provider_key.kid}, _b64(json.dumps(claims).encode()), public_pem)
    with pytest.raises(OIDCError) as caught:
        rp.client.validate_id_token(token, state)
    assert caught.value.reason is Reason.OIDC_TOKEN_INVALID
    assert "alg" in caught.value.message


# ----------------------------------------------------------------------------------------- forged tokens

TEST_ISSUER = "https://op.test.example/oidc"
CLIENT_ID = "rp-under-test"
NOW_TS = int(NOW.timestamp())


class FakeProvider:
    """A stand-in provider over ``httpx.MockTransport``: discovery + JWKS with a test-only key, and a token
    endpoint answering with whatever ID token the test sets."""

    def __init__(self) -> None:
        self.key = ECKey.generate_key("P-256", private=True, parameters={"kid": "test-only-1"})
        self.id_token = ""
        self.userinfo: dict[str, Any] = {}
        self.scope = "openid"
        self.hits: dict[str, int] = {}
        self.discovery: dict[str, Any] = {
            "issuer": TEST_ISSUER,
            "authorization_endpoint": f"{TEST_ISSUER}/authorize",
            "token_endpoint": f"{TEST_ISSUER}/token",
            "userinfo_endpoint": f"{TEST_ISSUER}/userinfo",
            "jwks_uri": f"{TEST_ISSUER}/jwks",
            "id_token_signing_alg_values_supported": ["ES256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        }
        self.override: Callable[[httpx.Request], httpx.Response] | None = None

    def handler(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.rsplit("/", 1)[-1]
        self.hits[path] = self.hits.get(path, 0) + 1
        if self.override is not None:
            return self.override(request)
        if path == "openid-configuration":
            return httpx.Response(200, json=self.discovery)
        if path == "jwks":
            return httpx.Response(
                200, json={"keys": [{**self.key.as_dict(private=False), "kid": self.key.kid}]}
            )
        if path == "token":
            return httpx.Response(
                200,
                json={
                    "access_token": "at-123",
                    "token_type": "Bearer",
                    "expires_in": 600,
                    "id_token": self.id_token,
                    "scope": self.scope,
                },
            )
        if path == "userinfo":
            return httpx.Response(200, json=self.userinfo)
        return httpx.Response(404)

    def client(self, **settings: Any) -> MynaOIDCClient:
        http = httpx.Client(transport=httpx.MockTransport(self.handler))
        return MynaOIDCClient(
            http,
            issuer=TEST_ISSUER,
            client_id=CLIENT_ID,
            private_key=ECKey.generate_key("P-256", private=True, parameters={"kid": "rp"}),
            clock=FixedClock(NOW),
            settings=OIDCSettings(**settings),
        )

    def forge(self, header: dict[str, Any] | None = None, **claims: Any) -> str:
        body = {
            "iss": TEST_ISSUER,
            "sub": "pairwise-subject",
            "aud": CLIENT_ID,
            "iat": NOW_TS,
            "exp": NOW_TS + 600,
            "nonce": NONCE,
            **claims,
        }
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode({"alg": "ES256", "kid": self.key.kid, **(header or {})}, body, self.key)


NONCE = "n-0S6_WzA2Mj"


def _state(**changes: Any) -> LoginState:
    base = LoginState(
        state="s",
        nonce=NONCE,
        code_verifier="v" * 64,
        redirect_uri="https://rp.example/callback",
        scopes=("openid",),
        acr_values=(),
        sign_transaction_id=None,
        created_at=NOW,
    )
    return replace(base, **changes)


@pytest.fixture
def fake() -> FakeProvider:
    return FakeProvider()


def test_oidc_forged_control_token_is_accepted(fake: FakeProvider) -> None:
    claims = fake.client().validate_id_token(fake.forge(), _state())
    assert claims.subject == "pairwise-subject"
    assert claims.issued_at == datetime.fromtimestamp(NOW_TS, UTC)


@pytest.mark.parametrize(
    ("forge", "reason"),
    [
        pytest.param(lambda f: f.forge(nonce="another-nonce"), Reason.OIDC_NONCE_MISMATCH, id="wrong-nonce"),
        pytest.param(lambda f: f.forge(nonce=None), Reason.OIDC_NONCE_MISMATCH, id="no-nonce"),
        pytest.param(
            lambda f: f.forge(iat=NOW_TS - 1200, exp=NOW_TS - 61), Reason.OIDC_TOKEN_INVALID, id="expired"
        ),
        pytest.param(lambda f: f.forge(exp=None), Reason.OIDC_TOKEN_INVALID, id="no-exp"),
        pytest.param(
            lambda f: f.forge(iat=NOW_TS + 300, exp=NOW_TS + 900), Reason.OIDC_TOKEN_INVALID, id="future-iat"
        ),
        pytest.param(
            lambda f: f.forge(iat=NOW_TS - 3600, exp=NOW_TS + 600), Reason.OIDC_TOKEN_INVALID, id="too-old"
        ),
        pytest.param(lambda f: f.forge(iat="yesterday"), Reason.OIDC_TOKEN_INVALID, id="iat-not-a-number"),
        pytest.param(lambda f: f.forge(aud="another-client"), Reason.OIDC_TOKEN_INVALID, id="wrong-audience"),
        pytest.param(
            lambda f: f.forge(aud=[CLIENT_ID, "another-client"]),
            Reason.OIDC_TOKEN_INVALID,
            id="aud-list-no-azp",
        ),
        pytest.param(
            lambda f: f.forge(aud=[CLIENT_ID, "x"], azp="x"), Reason.OIDC_TOKEN_INVALID, id="azp-other-client"
        ),
        pytest.param(
            lambda f: f.forge(iss="https://evil.example/oidc"), Reason.OIDC_TOKEN_INVALID, id="wrong-issuer"
        ),
        pytest.param(lambda f: f.forge(sub=""), Reason.OIDC_TOKEN_INVALID, id="empty-sub"),
        pytest.param(lambda f: _alg_none(f), Reason.OIDC_TOKEN_INVALID, id="alg-none"),
        pytest.param(lambda f: _hs256_with_public_key(f), Reason.OIDC_TOKEN_INVALID, id="hs256-public-key"),
        pytest.param(lambda f: _signed_by_stranger(f), Reason.OIDC_TOKEN_INVALID, id="foreign-key-same-kid"),
        pytest.param(lambda f: _tampered_payload(f), Reason.OIDC_TOKEN_INVALID, id="tampered-payload"),
        pytest.param(lambda f: f.forge({"kid": "unknown"}), Reason.OIDC_TOKEN_INVALID, id="unknown-kid"),
        pytest.param(lambda f: _crit_header(f), Reason.OIDC_TOKEN_INVALID, id="crit-header"),
        pytest.param(lambda f: "not.a-jwt", Reason.OIDC_TOKEN_INVALID, id="garbage"),
    ],
)
def test_oidc_forged_id_token_is_refused(
    fake: FakeProvider, forge: Callable[[FakeProvider], str], reason: Reason
) -> None:
    with pytest.raises(OIDCError) as caught:
        fake.client().validate_id_token(forge(fake), _state())
    assert caught.value.reason is reason


def test_oidc_multiple_audiences_with_azp_are_accepted(fake: FakeProvider) -> None:
    claims = fake.client().validate_id_token(fake.forge(aud=[CLIENT_ID, "other"], azp=CLIENT_ID), _state())
    assert claims.audience == (CLIENT_ID, "other")


def test_oidc_skew_tolerates_a_slightly_early_iat(fake: FakeProvider) -> None:
    assert fake.client().validate_id_token(fake.forge(iat=NOW_TS + 30), _state())
    with pytest.raises(OIDCError):
        fake.client(clock_skew=timedelta(0)).validate_id_token(fake.forge(iat=NOW_TS + 30), _state())


def test_oidc_acr_outside_the_requested_values_is_refused(fake: FakeProvider) -> None:
    state = _state(acr_values=("urn:myna-mock:acr:jpki-smartphone",))
    with pytest.raises(OIDCError) as caught:
        fake.client().validate_id_token(fake.forge(acr="urn:myna-mock:acr:jpki-card"), state)
    assert caught.value.reason is Reason.OIDC_TOKEN_INVALID


def test_oidc_at_hash_mismatch_is_refused(fake: FakeProvider) -> None:
    fake.id_token = fake.forge(at_hash="AAAAAAAAAAAAAAAAAAAAAA")
    with pytest.raises(OIDCError) as caught:
        fake.client().complete_login("https://rp.example/callback?code=c&state=s", _state())
    assert caught.value.reason is Reason.OIDC_TOKEN_INVALID
    good = base64.urlsafe_b64encode(hashlib.sha256(b"at-123").digest()[:16]).rstrip(b"=").decode()
    fake.id_token = fake.forge(at_hash=good)
    assert fake.client().complete_login("https://rp.example/callback?code=c&state=s", _state()).subject


def test_oidc_userinfo_sub_differing_from_the_id_token_is_refused(fake: FakeProvider) -> None:
    fake.id_token = fake.forge()
    fake.userinfo = {"sub": "someone-else", "name": "見本　太郎"}
    fake.scope = "openid name"
    with pytest.raises(OIDCError) as caught:
        fake.client().complete_login(
            "https://rp.example/callback?code=c&state=s", _state(scopes=("openid", "name"))
        )
    assert caught.value.reason is Reason.OIDC_TOKEN_INVALID


def test_oidc_discovery_naming_another_issuer_is_refused(fake: FakeProvider) -> None:
    fake.discovery["issuer"] = "https://evil.example/oidc"
    with pytest.raises(OIDCError) as caught:
        fake.client().metadata()
    # A configuration problem (the provider's issuer setting), not a token problem.
    assert caught.value.reason is Reason.OIDC_PROVIDER_ERROR
    assert "another issuer" in caught.value.message


def test_oidc_discovery_without_es256_is_refused(fake: FakeProvider) -> None:
    fake.discovery["id_token_signing_alg_values_supported"] = ["RS256"]
    with pytest.raises(PlatformError) as caught:
        fake.client().metadata()
    assert caught.value.reason is Reason.PLATFORM_RESPONSE_INVALID


def test_oidc_jwks_and_discovery_are_cached(fake: FakeProvider) -> None:
    client = fake.client()
    for _ in range(3):
        client.validate_id_token(fake.forge(), _state())
    assert fake.hits == {"openid-configuration": 1, "jwks": 1}


# ----------------------------------------------------------------------------------------- transport


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        pytest.param(
            lambda r: httpx.Response(503, headers={"Retry-After": "7"}), Reason.PLATFORM_UNAVAILABLE, id="503"
        ),
        pytest.param(lambda r: httpx.Response(429), Reason.PLATFORM_UNAVAILABLE, id="429"),
        pytest.param(_raise(httpx.ReadTimeout("slow")), Reason.PLATFORM_UNAVAILABLE, id="timeout"),
        pytest.param(
            _raise(httpx.ConnectError("refused")), Reason.PLATFORM_UNAVAILABLE, id="connection-refused"
        ),
        pytest.param(
            lambda r: httpx.Response(200, content=b"<html>", headers={"Content-Type": "text/html"}),
            Reason.PLATFORM_RESPONSE_INVALID,
            id="html",
        ),
        pytest.param(
            lambda r: httpx.Response(200, content=b"{not json", headers={"Content-Type": "application/json"}),
            Reason.PLATFORM_RESPONSE_INVALID,
            id="malformed-json",
        ),
        pytest.param(
            lambda r: httpx.Response(200, json=["a", "list"]), Reason.PLATFORM_RESPONSE_INVALID, id="list"
        ),
        pytest.param(
            lambda r: httpx.Response(200, json={"pad": "x" * 5000}),
            Reason.PLATFORM_RESPONSE_INVALID,
            id="oversized",
        ),
        pytest.param(lambda r: httpx.Response(404, text="nope"), Reason.PLATFORM_REJECTED, id="404"),
    ],
)
def test_oidc_transport_failures_are_typed(
    fake: FakeProvider, answer: Callable[[httpx.Request], httpx.Response], reason: Reason
) -> None:
    fake.override = answer
    with pytest.raises(PlatformError) as caught:
        fake.client(max_response_bytes=4096).metadata()
    assert caught.value.reason is reason


def test_oidc_retry_after_is_reported(fake: FakeProvider) -> None:
    fake.override = lambda r: httpx.Response(503, headers={"Retry-After": "7"})
    with pytest.raises(PlatformError) as caught:
        fake.client().metadata()
    assert caught.value.retry_after == 7.0
    assert caught.value.status_code == 503


def test_oidc_token_endpoint_oauth_error_is_provider_error(fake: FakeProvider) -> None:
    client = fake.client()
    client.metadata()
    fake.override = lambda r: httpx.Response(
        400, json={"error": "invalid_grant", "error_description": "used"}
    )
    with pytest.raises(OIDCProviderError) as caught:
        client.complete_login("https://rp.example/callback?code=c&state=s", _state())
    assert caught.value.reason is Reason.OIDC_PROVIDER_ERROR
    assert caught.value.error == "invalid_grant"
    assert caught.value.status_code == 400


# ----------------------------------------------------------------------------------------- no leaks

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_finite_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    header=st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit", "jwk"]), _json_values, max_size=4),
    claims=_json_values,
    signature=st.binary(max_size=80),
)
def test_oidc_arbitrary_tokens_only_raise_oidc_errors(
    fake: FakeProvider, header: dict[str, Any], claims: Any, signature: bytes
) -> None:
    token = ".".join(_b64(json.dumps(part).encode()) for part in (header, claims)) + "." + _b64(signature)
    client = fake.client()
    with pytest.raises(OIDCError):
        client.validate_id_token(token, _state())


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    claims=st.dictionaries(
        st.sampled_from(["iss", "sub", "aud", "azp", "exp", "iat", "nonce", "acr", "at_hash", "auth_time"]),
        _json_values,
    )
)
def test_oidc_validly_signed_arbitrary_claims_only_raise_oidc_errors(
    fake: FakeProvider, claims: dict[str, Any]
) -> None:
    token = jwt.encode({"alg": "ES256", "kid": fake.key.kid}, claims, fake.key)
    with contextlib.suppress(OIDCError):
        fake.client().validate_id_token(token, _state(), access_token="at")


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(body=_finite_json_values, status=st.sampled_from([200, 201, 400, 401, 403, 404, 422]))
def test_oidc_arbitrary_provider_answers_only_raise_typed_errors(
    fake: FakeProvider, body: Any, status: int
) -> None:
    fake.override = None  # the fixture lives across hypothesis examples
    client = fake.client()
    client.metadata()
    fake.override = lambda r: httpx.Response(status, json=body)
    for call in (
        lambda: client.complete_login(
            "https://rp.example/callback?code=c&state=s", _state(scopes=("openid", "name"))
        ),
        lambda: client.fetch_signature("stx_1"),
    ):
        with contextlib.suppress(OIDCError, PlatformError):
            call()


def test_oidc_concurrent_redemptions_of_one_code_yield_one_token(
    world: World, rp: RelyingPartyHandle
) -> None:
    """Single use holds under concurrency (a guarded UPDATE): of 6 simultaneous redemptions one wins."""
    callback, state = authorize(rp, with_card(world.person()))
    code = dict(parse_qsl(urlsplit(callback).query))["code"]
    metadata = rp.client.metadata()
    forms = [
        parse_qsl(rp.client.core.token_request(metadata, code=code, state=state).content.decode())
        for _ in range(6)
    ]
    service = world.client.app.state.oidc  # type: ignore[attr-defined]

    def redeem(form: list[tuple[str, str]]) -> str:
        try:
            service.token(form)
        except OAuthError as error:
            return error.error
        return "ok"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = sorted(pool.map(redeem, forms))
    assert outcomes == ["invalid_grant"] * 5 + ["ok"]
