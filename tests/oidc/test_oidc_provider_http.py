"""The mock provider's HTTP behaviour seen from outside: OAuth errors at the token endpoint (RFC 6749 §5.2
members inside a problem document), redirect errors at the authorization endpoint (with ``state`` and
``iss``), problems elsewhere, bearer challenges (RFC 6750 §3), ID token shape, key persistence. Bad input
never answers 500."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient
from lifecycle_support import NOW, World
from oidc_support import ISSUER, RelyingPartyHandle, authorize, login, with_card

from mock_platform.app import create_app
from mock_platform.clock import MockClock
from mock_platform.device.auth_app import AuthApp, AuthAppProblemError
from mock_platform.oidc import OIDCConfig
from mock_platform.settings import Settings

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _token(world: World, body: Any, headers: dict[str, str] | None = None) -> Any:
    content = urlencode(body) if isinstance(body, list | dict) else body
    return world.client.post("/oidc/token", content=content, headers=headers or FORM)


def _oauth_error(response: Any, status: int, error: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["cache-control"] == "no-store"
    body: dict[str, Any] = response.json()
    assert body["error"] == error
    assert body["code"] == error.upper()
    assert body["status"] == status
    return body


def _query(location: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}


def _b64json(part: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return result


# ----------------------------------------------------------------------------------------- token endpoint


def test_oidc_token_endpoint_errors_are_oauth_errors(world: World, rp: RelyingPartyHandle) -> None:
    _oauth_error(
        _token(world, {"grant_type": "authorization_code"}, {"Content-Type": "application/json"}),
        400,
        "invalid_request",
    )
    _oauth_error(_token(world, {"code": "x"}), 400, "invalid_request")
    _oauth_error(_token(world, {"grant_type": "password"}), 400, "unsupported_grant_type")
    _oauth_error(_token(world, {"grant_type": "authorization_code", "code": "x"}), 401, "invalid_client")
    _oauth_error(
        _token(world, [("grant_type", "client_credentials"), ("grant_type", "client_credentials")]),
        400,
        "invalid_request",
    )
    _oauth_error(_token(world, b"\xff\xfe=garbage"), 400, "invalid_request")
    forged = {
        "grant_type": "client_credentials",
        "client_id": rp.client_id,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": "e30.e30.",
    }
    body = _oauth_error(_token(world, forged), 401, "invalid_client")
    assert (
        "MALFORMED_ASSERTION" in body["error_description"]
        or "UNSUPPORTED_ALGORITHM" in body["error_description"]
    )


def test_oidc_client_credentials_only_for_sign(world: World, rp: RelyingPartyHandle) -> None:
    core = rp.client.core
    metadata = rp.client.metadata()
    request = core.client_credentials_request(metadata)
    ok = world.client.send(request)
    assert ok.status_code == 200
    assert ok.json()["scope"] == "sign"
    assert "id_token" not in ok.json()
    # The same request with scope openid is refused (a fresh assertion: jti is single use).
    request = core.client_credentials_request(metadata)
    body = request.content.decode().replace("scope=sign", "scope=openid")
    refused = world.client.post(metadata.token_endpoint, content=body, headers=FORM)
    _oauth_error(refused, 400, "invalid_scope")
    # A client-credentials token is no login: userinfo answers insufficient_scope.
    userinfo = world.client.get(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {ok.json()['access_token']}"}
    )
    assert userinfo.status_code == 403
    assert 'error="insufficient_scope"' in userinfo.headers["www-authenticate"]


def test_oidc_client_assertion_is_single_use(world: World, rp: RelyingPartyHandle) -> None:
    request = rp.client.core.client_credentials_request(rp.client.metadata())
    assert world.client.send(request).status_code == 200
    body = _oauth_error(world.client.send(request), 401, "invalid_client")
    assert "REPLAYED" in body["error_description"]


# ----------------------------------------------------------------------------------------- authorization


def _authorize_params(rp: RelyingPartyHandle, **changes: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid",
        "state": "st-1",
        "nonce": "no-1",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
        **changes,
    }
    return {name: value for name, value in params.items() if value is not None}


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "name address"}, "invalid_scope"),
        ({"code_challenge": "too-short"}, "invalid_request"),
        ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
        ({"request_uri": "https://bank.example/request.jwt"}, "request_uri_not_supported"),
        ({"prompt": "none"}, "login_required"),
        ({"acr_values": "urn:unknown:acr"}, "invalid_request"),
        ({"max_age": "-5"}, "invalid_request"),
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"authorization_details": "not json", "scope": "openid sign"}, "invalid_authorization_details"),
        ({"authorization_details": '[{"type":"jpki_sign","transaction_id":"stx_x"}]'}, "invalid_request"),
    ],
)
def test_oidc_authorization_errors_redirect_with_state_and_iss(
    world: World, rp: RelyingPartyHandle, changes: dict[str, str], error: str
) -> None:
    response = world.client.get(
        "/oidc/authorize", params=_authorize_params(rp, **changes), follow_redirects=False
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith(rp.redirect_uri + "?")
    query = _query(location)
    assert query["error"] == error
    assert query["state"] == "st-1"
    assert query["iss"] == ISSUER


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"client_id": "no-such-client"}, "INVALID_CLIENT"),
        ({"client_id": None}, "INVALID_CLIENT"),
        ({"redirect_uri": None}, "INVALID_REDIRECT_URI"),
        ({"redirect_uri": "https://attacker.example/callback"}, "INVALID_REDIRECT_URI"),
    ],
)
def test_oidc_untrusted_client_or_redirect_is_a_problem_not_a_redirect(
    world: World, rp: RelyingPartyHandle, changes: dict[str, str | None], code: str
) -> None:
    response = world.client.get(
        "/oidc/authorize", params=_authorize_params(rp, **changes), follow_redirects=False
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == code
    assert "location" not in response.headers


def test_oidc_repeated_redirect_uri_is_not_trusted(world: World, rp: RelyingPartyHandle) -> None:
    query = urlencode([*_authorize_params(rp).items(), ("redirect_uri", rp.other_redirect_uri)])
    response = world.client.get(f"/oidc/authorize?{query}", follow_redirects=False)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_REDIRECT_URI"


def test_oidc_authorize_by_post_form(world: World, rp: RelyingPartyHandle) -> None:
    response = world.client.post("/oidc/authorize", content=urlencode(_authorize_params(rp)), headers=FORM)
    assert response.status_code == 200
    body = response.json()
    assert body["interaction_uri"] == f"{ISSUER}/interactions/{body['interaction_id']}"
    interaction = AuthApp(world.client).show(body["interaction_uri"])
    assert interaction.status == "pending"
    assert interaction.scopes == ("openid",)
    assert interaction.claims == ("sub",)
    assert not interaction.needs_signing_certificate


def test_oidc_interaction_expires(world: World, rp: RelyingPartyHandle) -> None:
    person = world.person()
    url, _ = rp.client.begin_login(["openid"], redirect_uri=rp.redirect_uri)
    app = AuthApp(world.client)
    request = app.open(url)
    world.advance(minutes=11)
    assert app.show(request.interaction_uri).status == "expired"
    with pytest.raises(AuthAppProblemError) as caught:
        app.approve_with_card(request, person.card, pin="1234")
    assert caught.value.code == "INTERACTION_EXPIRED"


def test_oidc_interaction_bad_input_is_a_problem(world: World, rp: RelyingPartyHandle) -> None:
    assert world.client.get("/oidc/interactions/ia_unknown").json()["code"] == "UNKNOWN_INTERACTION"
    request = AuthApp(world.client).open(rp.client.begin_login(["openid"], redirect_uri=rp.redirect_uri)[0])
    approve = f"{request.interaction_uri}/approve"
    bad_signature = {
        "method": "card",
        "card_id": "card_x",
        "user_authentication_pin": "1234",
        "user_authentication_signature": "***",
    }
    response = world.client.post(approve, json=bad_signature, follow_redirects=False)
    assert response.status_code == 422
    assert response.json()["code"] == "INVALID_APPROVAL"
    unknown_card = {**bad_signature, "user_authentication_signature": "AAAA"}
    assert (
        world.client.post(approve, json=unknown_card, follow_redirects=False).json()["code"]
        == "UNKNOWN_TOKEN"
    )
    wrong_method = {**unknown_card, "method": "fax"}
    assert (
        world.client.post(approve, json=wrong_method, follow_redirects=False).json()["code"]
        == "VALIDATION_ERROR"
    )


# ----------------------------------------------------------------------------------------- resources


def test_oidc_userinfo_and_sign_transactions_need_a_bearer_token(
    world: World, rp: RelyingPartyHandle
) -> None:
    for method, path in (
        ("GET", "/oidc/userinfo"),
        ("POST", "/oidc/userinfo"),
        ("GET", "/oidc/sign-transactions/stx_x"),
    ):
        for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer not-a-token"}):
            response = world.client.request(method, path, headers=headers)
            assert response.status_code == 401
            assert response.headers["www-authenticate"].startswith("Bearer ")
            assert response.json()["code"] == "INVALID_TOKEN"
    created = world.client.post("/oidc/sign-transactions", json={"digest": "AAAA"})
    assert created.status_code == 401


def test_oidc_login_token_without_sign_scope_cannot_create_transactions(
    world: World, rp: RelyingPartyHandle
) -> None:
    result = login(rp, with_card(world.person()))
    response = world.client.post(
        "/oidc/sign-transactions",
        json={"digest": base64.urlsafe_b64encode(b"\x01" * 32).rstrip(b"=").decode()},
        headers={"Authorization": f"Bearer {result.access_token}"},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "INSUFFICIENT_SCOPE"


def test_oidc_access_token_expires(world: World, rp: RelyingPartyHandle) -> None:
    result = login(rp, with_card(world.person()))
    bearer = {"Authorization": f"Bearer {result.access_token}"}
    assert world.client.get("/oidc/userinfo", headers=bearer).status_code == 200
    world.advance(minutes=11)
    assert world.client.get("/oidc/userinfo", headers=bearer).status_code == 401


# ----------------------------------------------------------------------------------------- ID token shape


def test_oidc_id_token_shape(world: World, rp: RelyingPartyHandle) -> None:
    callback, state = authorize(rp, with_card(world.person()))
    token_request = rp.client.core.token_request(
        rp.client.metadata(), code=_query(callback)["code"], state=state
    )
    response = world.client.send(token_request)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    header_part, claims_part, _ = tokens["id_token"].split(".")
    header, claims = _b64json(header_part), _b64json(claims_part)
    assert header["alg"] == "ES256"
    assert header["kid"] in {key["kid"] for key in world.client.get("/oidc/jwks").json()["keys"]}
    assert claims["iss"] == ISSUER
    assert claims["aud"] == rp.client_id
    assert claims["nonce"] == state.nonce
    assert claims["exp"] - claims["iat"] == 600
    assert claims["iat"] == int(NOW.timestamp())
    assert claims["auth_time"] == int(NOW.timestamp())
    assert claims["acr"] == "urn:myna-mock:acr:jpki-card"
    assert claims["amr"] == ["sc", "pin"]
    assert set(claims) == {"iss", "sub", "aud", "exp", "iat", "auth_time", "acr", "amr", "at_hash", "nonce"}
    assert tokens["token_type"] == "Bearer"
    assert tokens["scope"] == "openid"


def test_oidc_signing_key_survives_a_restart(world: World, tmp_path: Any) -> None:
    """A second app instance on the same database publishes the same key (ID tokens stay verifiable)."""
    database_url = f"sqlite:///{tmp_path / 'restart.sqlite3'}"
    settings = Settings(database_url=database_url, test_mode=True)
    keys = []
    for _ in range(2):
        app = create_app(settings, clock=MockClock(NOW), oidc_config=OIDCConfig(issuer=ISSUER))
        with TestClient(app) as client:
            keys.append(client.get("/oidc/jwks").json()["keys"])
    assert keys[0] == keys[1]
    assert len(keys[0]) == 1


def test_oidc_issuer_comes_from_settings(tmp_path: Any) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'issuer.sqlite3'}",
        test_mode=True,
        oidc_issuer="https://id.example.test/auth",
    )
    with TestClient(create_app(settings, clock=MockClock(NOW))) as client:
        document = client.get("/auth/.well-known/openid-configuration").json()
        assert document["issuer"] == "https://id.example.test/auth"
        assert document["token_endpoint"] == "https://id.example.test/auth/token"
        assert client.get("/oidc/.well-known/openid-configuration").status_code == 404


def test_oidc_control_characters_are_refused_not_stored(world: World, rp: RelyingPartyHandle) -> None:
    """NUL and other control characters cannot be stored portably (PostgreSQL): refused as bad input."""
    response = world.client.get(
        "/oidc/authorize", params=_authorize_params(rp, nonce="a\x00b"), follow_redirects=False
    )
    assert response.status_code == 303
    assert _query(response.headers["location"])["error"] == "invalid_request"
    response = world.client.get(
        "/oidc/authorize", params=_authorize_params(rp, state="a\x00b"), follow_redirects=False
    )
    assert _query(response.headers["location"]).get("state") is None
    _oauth_error(
        _token(world, {"grant_type": "authorization_code", "code": "a\x00b"}), 400, "invalid_request"
    )
    assert world.client.get("/oidc/interactions/ia%00x").status_code == 404
    assert (
        world.client.get("/oidc/authorize", params=_authorize_params(rp, client_id="a\x00b")).status_code
        == 400
    )
