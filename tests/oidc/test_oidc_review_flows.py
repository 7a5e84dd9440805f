"""Review fixes of the OpenID provider and client, in-process against the mock (issue 5 review): the RFC
9207 ``iss`` is required once advertised; pairwise ``sub`` sectors are never taken on a registration's word;
a stale client-credentials token is replaced; attacks that only the client/owner checks can stop
(a code redeemed by another client on the same redirect URI, a sign transaction presented by another
client before its owner); ``myna-mock serve --port`` derives the public URLs."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from lifecycle_support import World
from oidc_support import RelyingPartyHandle, authorize, login, with_card
from sqlalchemy import delete

from mock_platform import cli
from mock_platform.device.auth_app import AuthApp, RedirectedToRelyingParty
from mock_platform.oidc.models import OIDCAccessTokenRecord
from mock_platform.rp_auth import RegistrationError
from mock_platform.settings import Settings
from myna_rp.errors import OIDCError, Reason
from myna_rp.platform.oidc import OIDCProviderError

DOCUMENT = b"review: sign transactions belong to their client"


def _without(callback: str, name: str) -> str:
    parts = urlsplit(callback)
    query = [(key, value) for key, value in parse_qsl(parts.query) if key != name]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _host() -> str:
    return f"bank-{uuid.uuid4().hex[:8]}.example"


def test_mock_callback_without_iss_is_refused(world: World, rp: RelyingPartyHandle) -> None:
    assert rp.client.metadata().authorization_response_iss_parameter_supported
    callback, state = authorize(rp, with_card(world.person()))
    assert "iss=" in callback
    with pytest.raises(OIDCError) as caught:
        rp.client.complete_login(_without(callback, "iss"), state)
    assert caught.value.reason is Reason.OIDC_TOKEN_INVALID
    # The untouched callback completes (the code was not redeemed by the refused attempt).
    assert rp.client.complete_login(callback, state).subject


def test_a_second_rp_cannot_obtain_the_banks_sub(
    world: World, make_rp: Callable[..., RelyingPartyHandle]
) -> None:
    host = _host()
    bank = make_rp("Bank", host)
    assert bank.sector_identifier == host
    broker = make_rp("Data broker", host)  # claims redirect URIs on the bank's host
    assert broker.sector_identifier == broker.client_id
    with pytest.raises(RegistrationError) as named:
        make_rp("Data broker 2", f"app.{host}", sector_identifier=host)
    assert named.value.code == "SECTOR_TAKEN"
    person = world.person()
    assert login(bank, with_card(person)).subject != login(broker, with_card(person)).subject


def test_stale_service_token_is_replaced_against_the_mock(world: World, rp: RelyingPartyHandle) -> None:
    """The review's scenario: the provider forgets its tokens; the next sign-transaction call drops the
    cached token and succeeds with a fresh one (before: CLIENT_AUTHENTICATION_FAILED for ~9 minutes)."""
    rp.client.create_sign_transaction(digest=hashlib.sha256(b"1").digest())
    with world.client.app.state.oidc._db.transaction() as session:  # type: ignore[attr-defined]
        session.execute(delete(OIDCAccessTokenRecord))
    transaction = rp.client.create_sign_transaction(digest=hashlib.sha256(b"2").digest())
    assert transaction.status == "pending"


def test_code_redeemed_by_another_client_on_the_same_redirect_uri(
    world: World, make_rp: Callable[..., RelyingPartyHandle]
) -> None:
    """Both clients registered the same redirect URI (so the redirect check passes), and the thief has the
    owner's PKCE verifier: only the client check refuses it."""
    host = _host()
    owner = make_rp("Owner", host)
    thief = make_rp("Thief", host)
    assert thief.redirect_uri == owner.redirect_uri
    callback, state = authorize(owner, with_card(world.person()))
    with pytest.raises(OIDCProviderError) as caught:
        thief.client.complete_login(callback, state)
    assert caught.value.error == "invalid_grant"


def test_sign_transaction_presented_by_another_client_before_its_owner(
    world: World, make_rp: Callable[..., RelyingPartyHandle]
) -> None:
    owner = make_rp("Owner", _host())
    other = make_rp("Other", _host())
    transaction = owner.client.create_sign_transaction(digest=hashlib.sha256(DOCUMENT).digest())
    url, _ = other.client.begin_login(
        ["openid"], redirect_uri=other.redirect_uri, sign_transaction=transaction
    )
    with pytest.raises(RedirectedToRelyingParty) as refused:
        AuthApp(world.client).open(url)
    assert dict(parse_qsl(urlsplit(refused.value.location).query))["error"] == "invalid_authorization_details"
    # Still pending for its owner, who presents it and gets the signature.
    result = login(owner, with_card(world.person()), sign_transaction=transaction)
    signed = owner.client.fetch_signature(transaction, login=result)
    assert signed.digest == hashlib.sha256(DOCUMENT).digest()


# ------------------------------------------------------------------------------------- 12. serve --port


def test_serve_port_derives_the_public_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MYNA_MOCK_PUBLIC_BASE_URL", "MYNA_MOCK_OIDC_ISSUER"):
        monkeypatch.delenv(name, raising=False)
    started: dict[str, Any] = {}

    def fake_run(*args: Any, **kwargs: Any) -> None:
        started.update(kwargs)
        started["settings"] = Settings()

    import uvicorn

    monkeypatch.setattr(uvicorn, "run", fake_run)
    assert cli.main(["serve", "--port", "8711"]) == 0
    settings = started["settings"]
    assert started["port"] == 8711
    assert settings.public_base_url == "http://127.0.0.1:8711"
    assert settings.oidc_issuer == "http://127.0.0.1:8711/oidc"
    assert settings.platform_token_url == "http://127.0.0.1:8711/platform/v1/token"
    # Explicit settings win.
    monkeypatch.setenv("MYNA_MOCK_PUBLIC_BASE_URL", "https://platform.example")
    monkeypatch.setenv("MYNA_MOCK_OIDC_ISSUER", "https://id.example/auth")
    assert cli.main(["serve", "--port", "8712"]) == 0
    assert started["settings"].public_base_url == "https://platform.example"
    assert started["settings"].oidc_issuer == "https://id.example/auth"
    assert cli.public_base_url("::1", 8700) == "http://[::1]:8700"
