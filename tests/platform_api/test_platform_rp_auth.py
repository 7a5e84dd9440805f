"""mock_platform.rp_auth: RP registry, private_key_jwt client authentication (OIDC Core §9, RFC 7523 §3),
API keys, pairwise user IDs; the test-mode registration route; the platform token endpoint."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from joserfc import jws, jwt
from joserfc.jwk import ECKey, OctKey, RSAKey
from lifecycle_support import NOW, World
from platform_api_support import TOKEN_URL, RelyingPartyKit, client_assertion, register_rp

from mock_platform.clock import MockClock
from mock_platform.db import Database
from mock_platform.rp_auth import (
    CLIENT_ASSERTION_TYPE,
    ClientAuthenticationError,
    ClientAuthenticationFailure,
    RegistrationError,
    RelyingPartyRegistry,
)

AUDIENCE = "https://platform.example/platform/v1/token"
F = ClientAuthenticationFailure


@pytest.fixture
def clock() -> MockClock:
    return MockClock(NOW)


@pytest.fixture
def registry(clock: MockClock) -> Iterator[RelyingPartyRegistry]:
    database = Database("sqlite://")
    yield RelyingPartyRegistry(database, clock)
    database.dispose()


@pytest.fixture
def kit(registry: RelyingPartyRegistry) -> RelyingPartyKit:
    key = ECKey.generate_key("P-256", parameters={"kid": "k1"}, private=True)
    rp = registry.register(name="Bank", jwks={"keys": [key.as_dict(private=False)]})
    return RelyingPartyKit(rp.client_id, key, None, None)


def _refused(registry: RelyingPartyRegistry, assertion: str, **kwargs: Any) -> ClientAuthenticationFailure:
    with pytest.raises(ClientAuthenticationError) as caught:
        registry.verify_client_assertion(assertion, audience=kwargs.pop("audience", AUDIENCE), **kwargs)
    assert caught.value.oauth_error == "invalid_client"
    assert caught.value.status_code == 401
    return caught.value.failure


def _weak_rsa() -> dict[str, Any]:
    from cryptography.hazmat.primitives.asymmetric import rsa

    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # refused by the registry
    return RSAKey.import_key(weak.public_key()).as_dict(private=False)


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part(header)}.{part(claims)}."


# --------------------------------------------------------------------------------------------- assertions


def test_valid_assertion_authenticates_once(registry: RelyingPartyRegistry, kit: RelyingPartyKit) -> None:
    assertion = client_assertion(kit, NOW, audience=AUDIENCE)
    assert registry.verify_client_assertion(assertion, audience=AUDIENCE).client_id == kit.client_id
    assert _refused(registry, assertion) is F.REPLAYED


def test_audience_may_be_a_list_and_any_expected_value(
    registry: RelyingPartyRegistry, kit: RelyingPartyKit
) -> None:
    assertion = client_assertion(kit, NOW, audience=["https://other.example", "https://issuer.example"])
    rp = registry.verify_client_assertion(assertion, audience=[AUDIENCE, "https://issuer.example"])
    assert rp.client_id == kit.client_id


@pytest.mark.parametrize(
    ("claims", "expected"),
    [
        ({"aud": "https://evil.example/token"}, F.WRONG_AUDIENCE),
        ({"aud": None}, F.MALFORMED_ASSERTION),
        ({"exp": None}, F.EXPIRED),
        ({"exp": int(NOW.timestamp()) - 120}, F.EXPIRED),
        ({"exp": int(NOW.timestamp()) + 3 * 3600}, F.LIFETIME_TOO_LONG),
        ({"iat": int(NOW.timestamp()) + 600}, F.ISSUED_IN_FUTURE),
        ({"nbf": int(NOW.timestamp()) + 600}, F.ISSUED_IN_FUTURE),
        ({"jti": None}, F.MALFORMED_ASSERTION),
        ({"sub": "someone-else"}, F.CLIENT_MISMATCH),
        ({"exp": "tomorrow"}, F.MALFORMED_ASSERTION),
    ],
)
def test_claim_checks(
    registry: RelyingPartyRegistry, kit: RelyingPartyKit, claims: dict[str, Any], expected: F
) -> None:
    assert _refused(registry, client_assertion(kit, NOW, audience=AUDIENCE, **claims)) is expected


def test_small_clock_skew_is_tolerated(registry: RelyingPartyRegistry, kit: RelyingPartyKit) -> None:
    assertion = client_assertion(kit, NOW, audience=AUDIENCE, iat=int(NOW.timestamp()) + 30)
    assert registry.verify_client_assertion(assertion, audience=AUDIENCE).client_id == kit.client_id


def test_unknown_client(registry: RelyingPartyRegistry, kit: RelyingPartyKit) -> None:
    stranger = RelyingPartyKit("nobody", kit.key, None, None)
    assert _refused(registry, client_assertion(stranger, NOW, audience=AUDIENCE)) is F.UNKNOWN_CLIENT


def test_client_id_parameter_must_match(registry: RelyingPartyRegistry, kit: RelyingPartyKit) -> None:
    assertion = client_assertion(kit, NOW, audience=AUDIENCE)
    assert _refused(registry, assertion, client_id="another") is F.CLIENT_MISMATCH


def test_signature_by_another_key(registry: RelyingPartyRegistry, kit: RelyingPartyKit) -> None:
    other = ECKey.generate_key("P-256", parameters={"kid": "k1"}, private=True)
    assertion = client_assertion(kit, NOW, audience=AUDIENCE, key=other)
    assert _refused(registry, assertion) is F.SIGNATURE_INVALID


def test_unknown_kid(registry: RelyingPartyRegistry, kit: RelyingPartyKit) -> None:
    assertion = client_assertion(kit, NOW, audience=AUDIENCE, header={"alg": "ES256", "kid": "nope"})
    assert _refused(registry, assertion) is F.SIGNATURE_INVALID


def test_tampered_payload(registry: RelyingPartyRegistry, kit: RelyingPartyKit) -> None:
    header, _, signature = client_assertion(kit, NOW, audience=AUDIENCE).split(".")
    claims = {"iss": kit.client_id, "sub": kit.client_id, "aud": AUDIENCE, "exp": int(NOW.timestamp()) + 60}
    forged = ".".join([header, _unsigned({}, claims).split(".")[1], signature])
    assert _refused(registry, forged) is F.SIGNATURE_INVALID


def test_alg_none_refused(registry: RelyingPartyRegistry, kit: RelyingPartyKit) -> None:
    claims = {
        "iss": kit.client_id,
        "sub": kit.client_id,
        "aud": AUDIENCE,
        "exp": int(NOW.timestamp()) + 60,
        "jti": "x",
    }
    assert _refused(registry, _unsigned({"alg": "none"}, claims)) is F.UNSUPPORTED_ALGORITHM


def test_hs256_with_the_public_key_as_secret_refused(
    registry: RelyingPartyRegistry, kit: RelyingPartyKit
) -> None:
    secret = OctKey.import_key(json.dumps(kit.key.as_dict(private=False)).encode())
    claims = {"iss": kit.client_id, "sub": kit.client_id, "aud": AUDIENCE, "exp": int(NOW.timestamp()) + 60}
    token = jwt.encode({"alg": "HS256"}, {**claims, "jti": "y"}, secret, algorithms=["HS256"])
    assert _refused(registry, token) is F.UNSUPPORTED_ALGORITHM


def test_es256_header_with_rsa_key_refused(registry: RelyingPartyRegistry) -> None:
    rsa = RSAKey.generate_key(2048, parameters={"kid": "r1"}, private=True)
    rp = registry.register(name="RSA RP", jwks={"keys": [rsa.as_dict(private=False)]})
    kit = RelyingPartyKit(rp.client_id, rsa, None, None)  # type: ignore[arg-type]
    good = client_assertion(kit, NOW, audience=AUDIENCE, header={"alg": "PS256", "kid": "r1"})
    assert registry.verify_client_assertion(good, audience=AUDIENCE).client_id == rp.client_id
    ec = ECKey.generate_key("P-256", private=True)
    wrong = client_assertion(kit, NOW, audience=AUDIENCE, header={"alg": "ES256", "kid": "r1"}, key=ec)
    assert _refused(registry, wrong) is F.SIGNATURE_INVALID


@pytest.mark.parametrize("garbage", ["", "a.b", "not-a-jwt", "a.b.c.d", "x" * 9000])
def test_garbage_assertions(registry: RelyingPartyRegistry, garbage: str) -> None:
    assert _refused(registry, garbage) is F.MALFORMED_ASSERTION


def test_jti_store_is_purged_after_expiry(
    registry: RelyingPartyRegistry, kit: RelyingPartyKit, clock: MockClock
) -> None:
    assertion = client_assertion(kit, NOW, audience=AUDIENCE, jti="fixed")
    registry.verify_client_assertion(assertion, audience=AUDIENCE)
    clock.advance(timedelta(minutes=10))
    # The same jti after the first assertion's expiry is a new assertion (the old row was purged).
    later = client_assertion(kit, clock.now(), audience=AUDIENCE, jti="fixed")
    assert registry.verify_client_assertion(later, audience=AUDIENCE).client_id == kit.client_id
    assert _refused(registry, later) is F.REPLAYED


# --------------------------------------------------------------------------------------------- registration


def test_api_key_only_hash_stored(registry: RelyingPartyRegistry) -> None:
    key = secrets.token_urlsafe(32)
    rp = registry.register(name="Local", api_key=key)
    assert rp.has_api_key
    assert rp.jwks is None
    assert registry.verify_api_key(key).client_id == rp.client_id
    with pytest.raises(ClientAuthenticationError) as caught:
        registry.verify_api_key(key + "x")
    assert caught.value.failure is F.INVALID_API_KEY
    # Without registered keys, an assertion naming this client is refused.
    kit = RelyingPartyKit(rp.client_id, ECKey.generate_key("P-256", private=True), None, None)
    assert _refused(registry, client_assertion(kit, NOW, audience=AUDIENCE)) is F.UNKNOWN_CLIENT


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({}, "INVALID_REGISTRATION"),
        ({"jwks": {"keys": []}}, "INVALID_JWKS"),
        ({"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}}, "INVALID_JWKS"),
        (
            {"jwks": {"keys": [ECKey.generate_key("P-256", private=True).as_dict(private=True)]}},
            "INVALID_JWKS",
        ),
        ({"jwks": {"keys": [ECKey.generate_key("P-384").as_dict(private=False)]}}, "INVALID_JWKS"),
        ({"jwks": {"keys": [_weak_rsa()]}}, "INVALID_JWKS"),
        ({"api_key": "short"}, "INVALID_REGISTRATION"),
        ({"api_key": "k" * 40, "redirect_uris": ["/relative"]}, "INVALID_REGISTRATION"),
        ({"api_key": "k" * 40, "webhook_url": "ftp://x.example/"}, "INVALID_REGISTRATION"),
        (
            {"api_key": "k" * 40, "webhook_url": "https://x.example/", "webhook_secret": "plain"},
            "INVALID_REGISTRATION",
        ),
    ],
)
def test_registration_refusals(registry: RelyingPartyRegistry, kwargs: dict[str, Any], code: str) -> None:
    with pytest.raises(RegistrationError) as caught:
        registry.register(name="X", **kwargs)
    assert caught.value.code == code


def test_duplicate_client_id(registry: RelyingPartyRegistry) -> None:
    registry.register(name="A", client_id="same", api_key="a" * 40)
    with pytest.raises(RegistrationError) as caught:
        registry.register(name="B", client_id="same", api_key="b" * 40)
    assert caught.value.code == "CLIENT_EXISTS"


def test_sector_and_webhook_defaults(registry: RelyingPartyRegistry) -> None:
    one_host = registry.register(
        name="A",
        api_key="a" * 40,
        redirect_uris=["https://a.example/cb", "https://a.example/cb2"],
        webhook_url="https://a.example/hook",
    )
    assert one_host.sector_identifier == "a.example"
    assert one_host.webhook_secret is not None
    assert one_host.webhook_secret.startswith("whsec_")
    assert len(base64.b64decode(one_host.webhook_secret.removeprefix("whsec_"))) == 32
    assert "webhook_secret" not in repr(one_host)
    two_hosts = registry.register(
        name="B", api_key="b" * 40, redirect_uris=["https://b.example/cb", "https://c.example/cb"]
    )
    assert two_hosts.sector_identifier == two_hosts.client_id


def test_pairwise_subjects(registry: RelyingPartyRegistry) -> None:
    a = registry.register(name="A", api_key="a" * 40, sector_identifier="bank.example")
    # Joining A's sector needs proof of controlling a client in it (A's API key here).
    a2 = registry.register(
        name="A2", api_key="c" * 40, sector_identifier="bank.example", sector_proof="a" * 40
    )
    b = registry.register(name="B", api_key="b" * 40, sector_identifier="shop.example")
    first = registry.subject_for(a, "res-1")
    assert first == registry.subject_for(a, "res-1") == registry.subject_for(a2, "res-1")
    assert first != registry.subject_for(b, "res-1")
    assert first != registry.subject_for(a, "res-2")
    assert len(first) == 43
    assert "res-1" not in first


# --------------------------------------------------------------------------------------------- HTTP


def test_admin_route(world: World) -> None:
    kit = register_rp(world.client, "Route RP", webhook_url="https://rp.example/hook", api_key=True)
    assert kit.webhook_secret is not None
    assert kit.api_key is not None
    shown = world.client.get(f"/admin/relying-parties/{kit.client_id}").json()
    assert shown["webhook_secret"] is None
    assert shown["api_key"] is None
    assert shown["has_api_key"] is True
    again = world.client.post(
        "/admin/relying-parties", json={"name": "dup", "client_id": kit.client_id, "generate_api_key": True}
    )
    assert (again.status_code, again.json()["code"]) == (409, "CLIENT_EXISTS")
    bad = world.client.post("/admin/relying-parties", json={"name": "x", "jwks": {"keys": [{"kty": "oct"}]}})
    assert (bad.status_code, bad.json()["code"]) == (422, "INVALID_JWKS")
    missing = world.client.get("/admin/relying-parties/unknown")
    assert (missing.status_code, missing.json()["code"]) == (404, "UNKNOWN_CLIENT")


def _token(world: World, **form: str) -> Any:
    return world.client.post(TOKEN_URL, data=form)


def test_token_endpoint(world: World) -> None:
    kit = register_rp(world.client, "Token RP")
    assertion = client_assertion(kit, world.clock.now())
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
        "client_id": kit.client_id,
    }
    issued = _token(world, **form)
    assert issued.status_code == 200, issued.text
    assert issued.headers["cache-control"] == "no-store"
    body = issued.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 300
    # The token works on an RP route, and stops working once expired.
    status = world.client.get(
        "/platform/v1/certificates/1/status", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert status.status_code == 404  # authenticated; the serial is just not linked to this RP
    world.advance(minutes=6)
    expired = world.client.get(
        "/platform/v1/certificates/1/status", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert expired.status_code == 401
    assert expired.json()["code"] == "INVALID_TOKEN"
    assert 'error="invalid_token"' in expired.headers["www-authenticate"]
    # The same assertion twice: replay.
    replay = _token(world, **form)
    assert replay.status_code == 401
    assert replay.json()["error"] == "invalid_client"
    assert replay.json()["code"] == "INVALID_CLIENT"
    assert replay.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"grant_type": "client_credentials"}, 400, "invalid_request"),
        (
            {
                "grant_type": "client_credentials",
                "client_assertion_type": CLIENT_ASSERTION_TYPE,
                "client_assertion": "x",
            },
            401,
            "invalid_client",
        ),
    ],
)
def test_token_endpoint_refusals(world: World, form: dict[str, str], status: int, error: str) -> None:
    answer = _token(world, **form)
    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert answer.json()["code"] == error.upper()


def test_token_endpoint_needs_a_form(world: World) -> None:
    answer = world.client.post(TOKEN_URL, json={"grant_type": "client_credentials"})
    assert (answer.status_code, answer.json()["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")


def test_token_endpoint_refuses_repeated_parameters(world: World) -> None:
    answer = world.client.post(
        TOKEN_URL,
        content=b"grant_type=client_credentials&grant_type=client_credentials",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_request")


def test_rp_routes_need_authentication(world: World) -> None:
    answer = world.client.post("/platform/v1/authentication/challenges")
    assert (answer.status_code, answer.json()["code"]) == (401, "UNAUTHENTICATED")
    assert answer.headers["www-authenticate"].startswith("Bearer")
    wrong_key = world.client.post(
        "/platform/v1/authentication/challenges", headers={"X-API-Key": "nope" * 10}
    )
    assert (wrong_key.status_code, wrong_key.json()["code"]) == (401, "INVALID_CLIENT")
    kit = register_rp(world.client, "Key RP", api_key=True)
    assert kit.api_key is not None
    ok = world.client.post("/platform/v1/authentication/challenges", headers={"X-API-Key": kit.api_key})
    assert ok.status_code == 201
    assert len(base64.b64decode(ok.json()["nonce"])) == 32


def test_assertion_extracted_header_only_once(kit: RelyingPartyKit) -> None:
    # Sanity of the helper: the assertions the tests build are compact ES256 JWS with our kid.
    token = client_assertion(kit, datetime(2026, 1, 1, tzinfo=UTC), audience=AUDIENCE)
    assert jws.extract_compact(token.encode()).headers() == {"typ": "JWT", "alg": "ES256", "kid": "k1"}
