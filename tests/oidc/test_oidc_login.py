"""OIDC login end to end against the mock provider in-process: discovery, PKCE, private_key_jwt, ES256 ID
tokens, UserInfo mapped to the basic four attributes, pairwise subjects, acr, decline, PIN lockout."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from lifecycle_support import CARD_AUTH_PIN, HANAKO, PHONE_PASSWORD, PHONE_PIN, TARO, World
from oidc_support import ISSUER, RelyingPartyHandle, authorize, login, with_card, with_phone

from mock_platform.device.auth_app import (
    AuthApp,
    AuthAppProblemError,
    PinIncorrectProblemError,
    PinLockedProblemError,
)
from myna_rp.errors import Reason
from myna_rp.jpki import BasicFourAttributes
from myna_rp.jpki.attributes import parse_basic_four_attributes
from myna_rp.platform.oidc import (
    AsyncMynaOIDCClient,
    LoginState,
    MynaOIDCClient,
    OIDCAcr,
    OIDCProviderError,
    PartialAttributes,
)


def test_oidc_discovery_and_jwks(world: World, rp: RelyingPartyHandle) -> None:
    metadata = rp.client.metadata()
    assert metadata.issuer == ISSUER
    document = world.client.get("/oidc/.well-known/openid-configuration").json()
    assert document["id_token_signing_alg_values_supported"] == ["ES256"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert document["subject_types_supported"] == ["pairwise"]
    assert set(document["scopes_supported"]) == {"openid", "name", "address", "birthdate", "gender", "sign"}
    keys = world.client.get(metadata.jwks_uri).json()["keys"]
    assert keys
    assert all(key["kty"] == "EC" and key["crv"] == "P-256" and "d" not in key for key in keys)


def test_oidc_login_with_card_openid_only(world: World, rp: RelyingPartyHandle) -> None:
    person = world.person()
    result = login(rp, with_card(person))
    assert result.issuer == ISSUER
    assert result.acr == OIDCAcr.CARD
    assert result.id_token.amr == ("sc", "pin")
    assert result.attributes is None
    assert len(result.subject) == 43
    assert person.resident_id not in result.subject


def test_oidc_login_all_four_scopes_on_android_maps_to_basic_four(
    world: World, rp: RelyingPartyHandle
) -> None:
    person = world.person(TARO)
    phone = world.android_registered(person)
    result = login(rp, with_phone(phone), scopes=["openid", "name", "address", "birthdate", "gender"])
    assert result.acr == OIDCAcr.SMARTPHONE
    assert isinstance(result.attributes, BasicFourAttributes)
    # The same attributes the signing certificate carries, as the SDK parses them from the certificate.
    assert result.attributes == parse_basic_four_attributes(phone.signing_certificate)
    assert result.attributes.name == TARO["name"]
    assert result.attributes.date_of_birth.raw == TARO["date_of_birth"]


def test_oidc_partial_scopes_give_partial_attributes_and_userinfo_only_those(
    world: World, rp: RelyingPartyHandle
) -> None:
    person = world.person(HANAKO)
    result = login(rp, with_card(person), scopes=["openid", "birthdate"])
    assert isinstance(result.attributes, PartialAttributes)
    assert result.attributes.date_of_birth is not None
    assert result.attributes.date_of_birth.raw == HANAKO["date_of_birth"]
    assert result.attributes.name is None
    assert result.attributes.address is None
    userinfo = world.client.get(
        "/oidc/userinfo", headers={"Authorization": f"Bearer {result.access_token}"}
    ).json()
    assert set(userinfo) == {"sub", "birthdate", "jpki_date_of_birth"}
    assert userinfo["birthdate"] == "1985-07-04"


def test_oidc_pairwise_sub_differs_between_rps_and_is_stable_across_phone_change(
    world: World, make_rp: Callable[..., RelyingPartyHandle]
) -> None:
    bank = make_rp("Bank", "bank.example")
    shop = make_rp("Shop", "shop.example")
    person = world.person()
    old_phone = world.android_registered(person)
    at_bank = login(bank, with_phone(old_phone)).subject
    at_shop = login(shop, with_phone(old_phone)).subject
    assert at_bank != at_shop

    # 4-B device change: the new Android handset replaces the old one (new keys, new certificates).
    new_phone = world.phone("android")
    world.android_registered(person, new_phone, device_change=True)
    assert login(bank, with_phone(new_phone)).subject == at_bank
    # The card renewed (new card certificates): still the same person for the bank.
    world.counter.renew_card(person.card)
    assert login(bank, with_card(person)).subject == at_bank
    # Another person is someone else.
    assert login(bank, with_card(world.person(TARO))).subject != at_bank


def test_oidc_same_sector_same_sub(world: World, make_rp: Callable[..., RelyingPartyHandle]) -> None:
    web = make_rp("Bank web", "samesector-bank.example", sector_identifier="samesector-bank.example")
    # The bank's app joins the web client's sector by proving it controls that client (an assertion
    # signed with the web client's key for the sector): the mock's stand-in for OIDC Core §8.1.
    now = int(world.clock.now().timestamp())
    proof = jwt.encode(
        {"alg": "ES256", "kid": web.key.kid},
        {
            "iss": web.client_id,
            "sub": web.client_id,
            "aud": "urn:myna-mock:sector:samesector-bank.example",
            "iat": now,
            "exp": now + 60,
            "jti": "sector-proof-1",
        },
        web.key,
    )
    app_key = ECKey.generate_key("P-256", private=True, parameters={"kid": "app-1"})
    registered = world.client.app.state.relying_parties.register(  # type: ignore[attr-defined]
        name="Bank app",
        jwks={"keys": [app_key.as_dict(private=False)]},
        redirect_uris=["https://app.samesector-bank.example/callback"],
        sector_identifier="samesector-bank.example",
        sector_proof=proof,
    )
    app = RelyingPartyHandle(
        client_id=registered.client_id,
        key=app_key,
        redirect_uri="https://app.samesector-bank.example/callback",
        other_redirect_uri="https://app.samesector-bank.example/callback",
        sector_identifier=registered.sector_identifier,
        client=MynaOIDCClient(
            world.client,
            issuer=ISSUER,
            client_id=registered.client_id,
            private_key=app_key,
            clock=world.clock,
        ),
        world=world,
    )
    person = world.person()
    assert login(web, with_card(person)).subject == login(app, with_card(person)).subject


def test_oidc_decline_is_access_denied(world: World, rp: RelyingPartyHandle) -> None:
    person = world.person()
    url, state = rp.client.begin_login(["openid"], redirect_uri=rp.redirect_uri)
    app = AuthApp(world.client)
    request = app.open(url)
    callback = app.decline(request)
    with pytest.raises(OIDCProviderError) as caught:
        rp.client.complete_login(callback, state)
    assert caught.value.reason is Reason.OIDC_PROVIDER_ERROR
    assert caught.value.error == "access_denied"
    # A declined interaction cannot be approved afterwards.
    with pytest.raises(AuthAppProblemError) as closed:
        app.approve_with_card(request, person.card, pin=CARD_AUTH_PIN)
    assert closed.value.code == "INTERACTION_NOT_PENDING"


def test_oidc_acr_values_restrict_the_token(world: World, rp: RelyingPartyHandle) -> None:
    person = world.person()
    phone = world.android_registered(person)
    url, state = rp.client.begin_login(
        ["openid"], redirect_uri=rp.redirect_uri, acr_values=[OIDCAcr.SMARTPHONE]
    )
    app = AuthApp(world.client)
    request = app.open(url)
    assert request.acr_values == (OIDCAcr.SMARTPHONE.value,)
    with pytest.raises(AuthAppProblemError) as refused:
        app.approve_with_card(request, person.card, pin=CARD_AUTH_PIN)
    assert refused.value.code == "ACR_NOT_SATISFIED"
    # The interaction stays open: the holder uses the phone instead.
    result = rp.client.complete_login(app.approve_with_phone(request, phone, pin=PHONE_PIN), state)
    assert result.acr == OIDCAcr.SMARTPHONE


def test_oidc_pin_lockout_fails_the_interaction(world: World, rp: RelyingPartyHandle) -> None:
    person = world.person()
    url, state = rp.client.begin_login(["openid"], redirect_uri=rp.redirect_uri)
    app = AuthApp(world.client)
    request = app.open(url)
    for remaining in (2, 1):
        with pytest.raises(PinIncorrectProblemError) as wrong:
            app.approve_with_card(request, person.card, pin="0000")
        assert wrong.value.remaining_tries == remaining
    with pytest.raises(PinLockedProblemError) as locked:
        app.approve_with_card(request, person.card, pin="0000")
    assert locked.value.status == 423
    # The browser is sent back to the RP with access_denied; the SDK reports the provider's error.
    assert locked.value.redirect_to is not None
    with pytest.raises(OIDCProviderError) as denied:
        rp.client.complete_login(locked.value.redirect_to, state)
    assert denied.value.error == "access_denied"
    # The interaction is over, and the PIN stays locked for the next login (lifecycle counter).
    assert app.show(request.interaction_uri).status == "failed"
    next_request = app.open(rp.client.begin_login(["openid"], redirect_uri=rp.redirect_uri)[0])
    with pytest.raises(PinLockedProblemError):
        app.approve_with_card(next_request, person.card, pin=CARD_AUTH_PIN)
    # Reset at the municipal counter: usable again.
    world.counter.reset_pin(person.card, "card_user_authentication", CARD_AUTH_PIN)
    assert login(rp, with_card(person)).acr == OIDCAcr.CARD


def test_oidc_wrong_pin_then_right_pin_resets_the_counter(world: World, rp: RelyingPartyHandle) -> None:
    person = world.person()
    phone = world.android_registered(person)
    url, state = rp.client.begin_login(["openid", "name"], redirect_uri=rp.redirect_uri)
    app = AuthApp(world.client)
    request = app.open(url)
    with pytest.raises(PinIncorrectProblemError) as wrong:
        app.approve_with_phone(request, phone, pin=PHONE_PIN, signing_password="WRONG1")
    assert wrong.value.remaining_tries == 4  # signing password: 5 tries
    result = rp.client.complete_login(
        app.approve_with_phone(request, phone, pin=PHONE_PIN, signing_password=PHONE_PASSWORD), state
    )
    assert isinstance(result.attributes, PartialAttributes)
    assert result.attributes.name == HANAKO["name"]


def test_oidc_attribute_scopes_need_the_signing_certificate(world: World, rp: RelyingPartyHandle) -> None:
    person = world.person()
    phone = world.android_registered(person, certificates=("user_authentication",))
    url, _ = rp.client.begin_login(["openid", "address"], redirect_uri=rp.redirect_uri)
    app = AuthApp(world.client)
    request = app.open(url)
    assert request.needs_signing_certificate
    with pytest.raises(AuthAppProblemError) as refused:
        app.approve_with_phone(request, phone, pin=PHONE_PIN, signing_password=PHONE_PASSWORD)
    assert refused.value.code == "SIGNING_CERTIFICATE_REQUIRED"


def test_oidc_interaction_approved_once(world: World, rp: RelyingPartyHandle) -> None:
    person = world.person()
    url, _ = rp.client.begin_login(["openid"], redirect_uri=rp.redirect_uri)
    app = AuthApp(world.client)
    request = app.open(url)
    app.approve_with_card(request, person.card, pin=CARD_AUTH_PIN)
    with pytest.raises(AuthAppProblemError) as again:
        app.approve_with_card(request, person.card, pin=CARD_AUTH_PIN)
    assert again.value.code == "INTERACTION_NOT_PENDING"


def test_oidc_suspended_phone_cannot_log_in(world: World, rp: RelyingPartyHandle) -> None:
    person = world.person()
    phone = world.android_registered(person)
    world.counter.suspend_phone(person.resident_id)
    url, _ = rp.client.begin_login(["openid"], redirect_uri=rp.redirect_uri)
    app = AuthApp(world.client)
    with pytest.raises(AuthAppProblemError) as refused:
        app.approve_with_phone(app.open(url), phone, pin=PHONE_PIN)
    assert refused.value.code == "TOKEN_NOT_USABLE"


def test_oidc_login_state_survives_serialisation(world: World, rp: RelyingPartyHandle) -> None:
    person = world.person()
    callback, state = authorize(rp, with_card(person))
    restored = LoginState.from_dict(json.loads(json.dumps(state.to_dict())))
    assert restored == state
    assert rp.fresh_client().complete_login(callback, restored).acr == OIDCAcr.CARD


def test_oidc_async_client_full_login(world: World, rp: RelyingPartyHandle) -> None:
    person = world.person(TARO)
    phone = world.android_registered(person)

    async def run() -> None:
        transport = httpx.ASGITransport(app=world.client.app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport) as http:
            client = AsyncMynaOIDCClient(
                http, issuer=ISSUER, client_id=rp.client_id, private_key=rp.key, clock=world.clock
            )
            url, state = await client.begin_login(
                ["openid", "name", "address", "birthdate", "gender"], redirect_uri=rp.redirect_uri
            )
            app = AuthApp(world.client)
            callback = app.approve_with_phone(
                app.open(url), phone, pin=PHONE_PIN, signing_password=PHONE_PASSWORD
            )
            result = await client.complete_login(callback, state)
        assert result.attributes == parse_basic_four_attributes(phone.signing_certificate)
        assert result.subject == login(rp, with_card(person)).subject

    asyncio.run(run())


def test_oidc_pin_guesses_without_the_token_do_not_count(world: World, rp: RelyingPartyHandle) -> None:
    """Only the token's holder can spend PIN tries: without a valid signature of the challenge the provider
    stops before the PIN check (on a real card the applet counts PINs; no card, no count)."""
    person = world.person()
    url, state = rp.client.begin_login(["openid"], redirect_uri=rp.redirect_uri)
    app = AuthApp(world.client)
    request = app.open(url)
    guess = {
        "method": "card",
        "card_id": person.card.card_id,
        "user_authentication_pin": "0000",
        "user_authentication_signature": "AAAA",
    }
    for _ in range(5):
        response = world.client.post(f"{request.interaction_uri}/approve", json=guess, follow_redirects=False)
        assert response.json()["code"] == "SIGNATURE_INVALID"
    assert rp.client.complete_login(
        app.approve_with_card(request, person.card, pin=CARD_AUTH_PIN), state
    ).subject
