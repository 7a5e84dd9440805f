"""The SDK's PlatformClient against the mock platform operator API, in-process, with synthetic holders.

Platform mode must give the same typed results as direct verification (``JPKIVerifier`` with
``RevocationPolicy.REQUIRE`` over the mock's OCSP responder): the same ``IdentityVerification`` on
success, the same ``Reason`` on failure.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from lifecycle_support import CARD_AUTH_PIN, HANAKO, MOVED, PHONE_PIN, TARO, Person, World
from platform_api_support import BASE_URL, RelyingPartyKit, register_rp

from mock_platform.ca.token import TokenSimulator
from mock_platform.device.platform_holder import give_consent, withdraw_consent
from myna_rp.errors import (
    CertificateRevokedError,
    ChallengeError,
    MalformedInputError,
    MynaRPError,
    PlatformError,
    Reason,
)
from myna_rp.identity import AuthenticationVerification, IdentityVerification, VerificationMode
from myna_rp.jpki import JPKIVerifier
from myna_rp.platform import APIKey, AsyncPlatformClient, PlatformClient, PrivateKeyJWT
from myna_rp.revocation import (
    CertStatus,
    OCSPClient,
    RevocationChecker,
    RevocationPolicy,
    RevocationReason,
    RevocationSource,
)

DATA = b"KYC challenge 2026-11-29 bank.example"


def direct_verifier(world: World) -> JPKIVerifier:
    """Direct mode, hard-fail REQUIRE, a fresh checker per call (no cached answer hides a change)."""
    checker = RevocationChecker(
        ocsp=OCSPClient(world.client, {root.subject: "/ocsp" for root in world.roots}, sleep=lambda _: None),
        clock=world.clock,
    )
    return JPKIVerifier(world.trust, revocation=checker, policy=RevocationPolicy.REQUIRE, clock=world.clock)


def direct(world: World, token: TokenSimulator, data: bytes = DATA) -> IdentityVerification:
    verification = direct_verifier(world).verify_signature(
        data=data, signature=token.sign(data), certificate=token.certificate
    )
    return IdentityVerification.from_jpki(verification)


def via_platform(platform: PlatformClient, token: TokenSimulator, data: bytes = DATA) -> IdentityVerification:
    return platform.verify_signature(data=data, signature=token.sign(data), certificate=token.certificate)


def refusal(call: Callable[[], object]) -> MynaRPError:
    with pytest.raises(MynaRPError) as caught:
        call()
    return caught.value


def client_for(world: World, kit: RelyingPartyKit) -> PlatformClient:
    return PlatformClient(BASE_URL, world.client, PrivateKeyJWT(kit.client_id, kit.key), clock=world.clock)


# --------------------------------------------------------------------------------------------- identity


@pytest.mark.parametrize("holder", ["card", "android", "iphone"])
def test_platform_equals_direct(world: World, platform: PlatformClient, holder: str) -> None:
    person = world.person(HANAKO)
    if holder == "card":
        token = person.card.signing
    elif holder == "android":
        phone = world.android_registered(person)
        assert phone.signing is not None
        token = phone.signing
    else:
        iphone = world.iphone_usable(person)
        assert iphone.signing is not None
        token = iphone.signing
    through_platform = via_platform(platform, token)
    directly = direct(world, token)
    assert through_platform.mode is VerificationMode.PLATFORM
    assert directly.mode is VerificationMode.DIRECT
    assert through_platform.same_identity_as(directly)
    assert through_platform.attributes == directly.attributes
    assert through_platform.certificate == directly.certificate
    assert through_platform.certificate.form_factor.value == holder
    assert through_platform.revocation.status is CertStatus.GOOD
    assert through_platform.revocation.source is RevocationSource.OCSP
    assert through_platform.signed_content == directly.signed_content == DATA
    assert through_platform.verified_at == directly.verified_at == world.clock.now()
    assert through_platform.user_id is not None
    assert directly.user_id is None


@pytest.mark.parametrize("detached", [False, True])
def test_cms_through_the_platform(world: World, platform: PlatformClient, detached: bool) -> None:
    person = world.person(TARO)
    phone = world.android_registered(person)
    assert phone.signing is not None
    signed = phone.sign_cms(DATA, signing_time=world.clock.now(), detached=detached)
    result = platform.verify_cms(signed, content=DATA if detached else None)
    directly = IdentityVerification.from_jpki(
        direct_verifier(world).verify_cms(signed, content=DATA if detached else None)
    )
    assert result.same_identity_as(directly)
    assert result.signed_content == DATA
    # Other content than the signed one (detached: digest mismatch; attached: differs from eContent).
    tampered = refusal(lambda: platform.verify_cms(signed, content=DATA + b"!"))
    assert tampered.reason is Reason.SIGNATURE_INVALID


def test_failures_have_the_direct_reasons(world: World, platform: PlatformClient) -> None:
    person = world.person(HANAKO)
    card = person.card

    # A signature over other data.
    def wrong(verify: Callable[..., object]) -> object:
        return verify(data=DATA, signature=card.signing.sign(b"other"), certificate=card.signing.certificate)

    assert refusal(lambda: wrong(platform.verify_signature)).reason is Reason.SIGNATURE_INVALID
    assert refusal(lambda: wrong(direct_verifier(world).verify_signature)).reason is Reason.SIGNATURE_INVALID
    # A user-authentication certificate where a signing certificate is needed.
    auth = card.user_authentication
    wrong_kind = refusal(
        lambda: platform.verify_signature(data=DATA, signature=auth.sign(DATA), certificate=auth.certificate)
    )
    assert wrong_kind.reason is Reason.WRONG_KEY_USAGE
    # A look-alike the platform never issued: the same profile, serial and names, a rogue issuer key.
    genuine = card.signing.certificate
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(genuine.subject)
        .issuer_name(genuine.issuer)
        .public_key(key.public_key())
        .serial_number(genuine.serial_number)
        .not_valid_before(genuine.not_valid_before_utc)
        .not_valid_after(genuine.not_valid_after_utc)
    )
    for extension in genuine.extensions:
        builder = builder.add_extension(extension.value, critical=extension.critical)
    rogue = builder.sign(key, hashes.SHA256())
    signature = key.sign(DATA, ec.ECDSA(hashes.SHA256()))
    error = refusal(lambda: platform.verify_signature(data=DATA, signature=signature, certificate=rogue))
    assert error.reason is Reason.UNTRUSTED_ISSUER
    direct_error = refusal(
        lambda: direct_verifier(world).verify_signature(data=DATA, signature=signature, certificate=rogue)
    )
    assert direct_error.reason is Reason.UNTRUSTED_ISSUER
    # Garbage where a certificate goes: refused by the SDK before any request.
    garbage = refusal(
        lambda: platform.verify_signature(data=DATA, signature=b"s", certificate=b"\x30\x03junk")
    )
    assert isinstance(garbage, MalformedInputError)


def test_expired_certificate(world: World, platform: PlatformClient) -> None:
    person = world.person(HANAKO)
    token = person.card.signing
    world.clock.set(token.certificate.not_valid_after_utc + timedelta(days=1))
    assert refusal(lambda: via_platform(platform, token)).reason is Reason.CERTIFICATE_EXPIRED
    assert refusal(lambda: direct(world, token)).reason is Reason.CERTIFICATE_EXPIRED


# --------------------------------------------------------------------------------------------- revocation


def test_revoked_after_attribute_change(world: World, platform: PlatformClient) -> None:
    person = world.person(HANAKO)
    phone = world.android_registered(person)
    assert phone.signing is not None
    old_card, old_phone = person.card.signing, phone.signing
    before = via_platform(platform, old_card)
    world.counter.change_attributes(person.card, MOVED)
    for token in (old_card, old_phone):
        through_platform = refusal(lambda token=token: via_platform(platform, token))
        directly = refusal(lambda token=token: direct(world, token))
        assert isinstance(through_platform, CertificateRevokedError)
        assert isinstance(directly, CertificateRevokedError)
        assert through_platform.reason is directly.reason is Reason.CERTIFICATE_REVOKED
        platform_status: Any = through_platform.status
        direct_status: Any = directly.status
        assert platform_status.reason is direct_status.reason is RevocationReason.AFFILIATION_CHANGED
        assert platform_status.serial_number == direct_status.serial_number == token.certificate.serial_number
    # Status now (現況確認) says the same; the new card certificate is good and names the same person.
    status = platform.certificate_status(old_card.certificate)
    assert status.revocation.status is CertStatus.REVOKED
    assert status.revocation.reason is RevocationReason.AFFILIATION_CHANGED
    assert status.revocation.revocation_time is not None
    after = via_platform(platform, person.card.signing)
    assert after.user_id == before.user_id
    assert after.attributes.address == MOVED["address"]
    assert after.attributes != before.attributes


def test_phone_suspension_holds_the_login_certificate(world: World, platform: PlatformClient) -> None:
    person = world.person(HANAKO)
    phone = world.android_registered(person)
    assert phone.user_authentication is not None
    challenge = platform.authentication_challenge()
    login = platform.verify_authentication(
        challenge=challenge,
        signature=phone.authenticate(challenge.nonce),
        certificate=phone.user_authentication_certificate,
    )
    assert login.revocation.status is CertStatus.GOOD
    world.counter.suspend_phone(person.resident_id)
    challenge = platform.authentication_challenge()
    held = refusal(
        lambda: platform.verify_authentication(
            challenge=challenge,
            signature=phone.authenticate(challenge.nonce),
            certificate=phone.user_authentication_certificate,
        )
    )
    direct_held = refusal(
        lambda: direct_verifier(world).verify_authentication(
            challenge=challenge.nonce,
            signature=phone.authenticate(challenge.nonce),
            certificate=phone.user_authentication_certificate,
        )
    )
    assert isinstance(held, CertificateRevokedError)
    assert held.reason is direct_held.reason is Reason.CERTIFICATE_ON_HOLD
    status = platform.certificate_status(phone.user_authentication_certificate)
    assert status.revocation.status is CertStatus.ON_HOLD


def test_status_only_for_linked_holders(world: World, platform: PlatformClient) -> None:
    stranger = world.person(TARO)
    error = refusal(lambda: platform.certificate_status(stranger.card.signing.certificate))
    assert isinstance(error, PlatformError)
    assert error.reason is Reason.PLATFORM_REJECTED
    assert error.status_code == 404
    via_platform(platform, stranger.card.signing)  # now linked
    assert platform.certificate_status(stranger.card.signing.certificate).revocation.status is CertStatus.GOOD
    # Linked through one certificate: the holder's other certificates are queryable too.
    other = platform.certificate_status(stranger.card.user_authentication.certificate)
    assert other.certificate.kind.value == "user_authentication"


# --------------------------------------------------------------------------------------------- logins


def _login(platform: PlatformClient, token: TokenSimulator) -> AuthenticationVerification:
    challenge = platform.authentication_challenge()
    return platform.verify_authentication(
        challenge=challenge, signature=token.sign(challenge.nonce), certificate=token.certificate
    )


def test_login_and_replay(world: World, platform: PlatformClient) -> None:
    person = world.person(HANAKO)
    auth = person.card.user_authentication
    challenge = platform.authentication_challenge()
    assert len(challenge.nonce) == 32
    assert challenge.expires_at == world.clock.now() + timedelta(minutes=5)
    signature = auth.sign(challenge.nonce)
    login = platform.verify_authentication(
        challenge=challenge, signature=signature, certificate=auth.certificate
    )
    assert login.mode is VerificationMode.PLATFORM
    assert login.challenge == challenge.nonce
    assert login.certificate.serial_number == auth.certificate.serial_number
    directly = AuthenticationVerification.from_jpki(
        direct_verifier(world).verify_authentication(
            challenge=challenge.nonce, signature=signature, certificate=auth.certificate
        ),
        challenge=challenge.nonce,
    )
    assert login.certificate == directly.certificate
    assert login.revocation.status is directly.revocation.status is CertStatus.GOOD
    # The same nonce again: replayed, even with a valid signature.
    replay = refusal(
        lambda: platform.verify_authentication(
            challenge=challenge, signature=signature, certificate=auth.certificate
        )
    )
    assert isinstance(replay, ChallengeError)
    assert replay.reason is Reason.CHALLENGE_REPLAYED
    # The login's user ID is the one the signing certificate gives.
    assert via_platform(platform, person.card.signing).user_id == login.user_id


def test_login_challenge_rules(world: World, platform: PlatformClient) -> None:
    person = world.person(HANAKO)
    auth = person.card.user_authentication
    # A signature over something else burns the challenge.
    challenge = platform.authentication_challenge()
    bad = refusal(
        lambda: platform.verify_authentication(
            challenge=challenge, signature=auth.sign(b"not the nonce"), certificate=auth.certificate
        )
    )
    assert bad.reason is Reason.SIGNATURE_INVALID
    again = refusal(
        lambda: platform.verify_authentication(
            challenge=challenge, signature=auth.sign(challenge.nonce), certificate=auth.certificate
        )
    )
    assert again.reason is Reason.CHALLENGE_REPLAYED
    # Expired.
    late = platform.authentication_challenge()
    world.advance(minutes=6)
    expired = refusal(
        lambda: platform.verify_authentication(
            challenge=late, signature=auth.sign(late.nonce), certificate=auth.certificate
        )
    )
    assert expired.reason is Reason.CHALLENGE_EXPIRED
    # Issued to another relying party.
    other = client_for(world, register_rp(world.client, "Other RP"))
    theirs = other.authentication_challenge()
    mismatch = refusal(
        lambda: platform.verify_authentication(
            challenge=theirs, signature=auth.sign(theirs.nonce), certificate=auth.certificate
        )
    )
    assert mismatch.reason is Reason.CHALLENGE_MISMATCH
    # A signing certificate cannot log in.
    signing_login = refusal(lambda: _login(platform, person.card.signing))
    assert signing_login.reason is Reason.WRONG_KEY_USAGE


# --------------------------------------------------------------------------------------------- consent


def test_consent_given_and_withdrawn(world: World, platform: PlatformClient, bank: RelyingPartyKit) -> None:
    person = world.person(HANAKO)
    phone = world.android_registered(person)
    assert phone.signing is not None
    assert phone.user_authentication is not None
    user_id = via_platform(platform, phone.signing).user_id
    assert user_id is not None
    before = refusal(lambda: platform.latest_attributes(user_id))
    assert isinstance(before, PlatformError)
    assert before.reason is Reason.CONSENT_REQUIRED
    # Consent to another RP does not count for this one.
    shop = register_rp(world.client, "Shop")
    give_consent(world.client, phone, shop.client_id, pin=PHONE_PIN)
    assert refusal(lambda: platform.latest_attributes(user_id)).reason is Reason.CONSENT_REQUIRED
    answer = give_consent(world.client, phone, bank.client_id, pin=PHONE_PIN)
    assert answer["status"] == "granted"
    assert answer["relying_party_name"] == "Example Bank"
    latest = platform.latest_attributes(user_id)
    assert latest == via_platform(platform, phone.signing).attributes
    # After a move the platform gives the new attributes (the old certificates are revoked).
    world.counter.change_attributes(person.card, MOVED)
    moved = platform.latest_attributes(user_id)
    assert moved.address == MOVED["address"]
    assert moved == via_platform(platform, person.card.signing).attributes
    withdrawn = withdraw_consent(world.client, person.card, bank.client_id, pin=CARD_AUTH_PIN)
    assert withdrawn["status"] == "withdrawn"
    assert refusal(lambda: platform.latest_attributes(user_id)).reason is Reason.CONSENT_REQUIRED


def test_consent_needs_a_valid_holder_signature(world: World, bank: RelyingPartyKit) -> None:
    person = world.person(HANAKO)
    token = {"method": "card", "card_id": person.card.card_id}
    challenge = world.client.post(
        "/platform/v1/holder/consent-challenges",
        json={"client_id": bank.client_id, "action": "grant", **token},
    )
    assert challenge.status_code == 201
    body = challenge.json()
    forged = world.client.post(
        "/platform/v1/holder/consents",
        json={
            "challenge_id": body["challenge_id"],
            "signature": base64.b64encode(person.card.user_authentication.sign(b"something else")).decode(),
            "user_authentication_pin": CARD_AUTH_PIN,
        },
    )
    assert (forged.status_code, forged.json()["code"]) == (422, "SIGNATURE_INVALID")
    unknown = world.client.post(
        "/platform/v1/holder/consent-challenges", json={"client_id": "nobody", "action": "grant", **token}
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "UNKNOWN_CLIENT")


def test_unknown_user(world: World, platform: PlatformClient) -> None:
    error = refusal(lambda: platform.latest_attributes("A" * 43))
    assert isinstance(error, PlatformError)
    assert (error.reason, error.status_code) == (Reason.PLATFORM_REJECTED, 404)


# --------------------------------------------------------------------------------------------- user ID


def test_user_id_is_stable_across_renewal_and_device_change(world: World, platform: PlatformClient) -> None:
    person: Person = world.person(HANAKO)
    first_phone = world.android_registered(person)
    assert first_phone.signing is not None
    assert first_phone.user_authentication is not None
    user_id = via_platform(platform, person.card.signing).user_id
    assert user_id is not None
    assert via_platform(platform, first_phone.signing).user_id == user_id
    assert _login(platform, first_phone.user_authentication).user_id == user_id
    assert _login(platform, person.card.user_authentication).user_id == user_id
    # Device change (機種変更, 4-B): new handset, new keys, new certificates; same person.
    new_phone = world.android_registered(person, device_change=True)
    assert new_phone.signing is not None
    assert new_phone.signing.certificate.serial_number != first_phone.signing.certificate.serial_number
    assert via_platform(platform, new_phone.signing).user_id == user_id
    assert refusal(lambda: via_platform(platform, first_phone.signing)).reason is Reason.CERTIFICATE_REVOKED  # type: ignore[arg-type]
    # Card renewal: new card certificates; same person.
    old_serial = person.card.signing.certificate.serial_number
    world.counter.renew_card(person.card)
    assert person.card.signing.certificate.serial_number != old_serial
    assert via_platform(platform, person.card.signing).user_id == user_id
    assert _login(platform, person.card.user_authentication).user_id == user_id
    # Another RP gets another identifier for the same person; another person another one here.
    shop = client_for(world, register_rp(world.client, "Shop"))
    assert via_platform(shop, person.card.signing).user_id not in (None, user_id)
    taro = world.person(TARO)
    assert via_platform(platform, taro.card.signing).user_id != user_id
    # Never the resident id (nor anything derived in the clear from it).
    assert person.resident_id not in user_id
    assert (
        user_id
        != base64.urlsafe_b64encode(hashlib.sha256(person.resident_id.encode()).digest())
        .rstrip(b"=")
        .decode()
    )


# --------------------------------------------------------------------------------------------- other clients


def test_api_key_client(world: World) -> None:
    kit = register_rp(world.client, "Local RP", api_key=True)
    assert kit.api_key is not None
    client = PlatformClient(BASE_URL, world.client, APIKey(kit.api_key), clock=world.clock)
    person = world.person(HANAKO)
    assert via_platform(client, person.card.signing).same_identity_as(direct(world, person.card.signing))
    wrong = PlatformClient(BASE_URL, world.client, APIKey("x" * 43), clock=world.clock)
    assert (
        refusal(lambda: via_platform(wrong, person.card.signing)).reason
        is Reason.CLIENT_AUTHENTICATION_FAILED
    )


def test_unregistered_key_is_refused(world: World, bank: RelyingPartyKit) -> None:
    from joserfc.jwk import ECKey

    impostor = PlatformClient(
        BASE_URL,
        world.client,
        PrivateKeyJWT(
            bank.client_id, ECKey.generate_key("P-256", parameters={"kid": bank.key.kid}, private=True)
        ),
        clock=world.clock,
    )
    person = world.person(HANAKO)
    assert (
        refusal(lambda: via_platform(impostor, person.card.signing)).reason
        is Reason.CLIENT_AUTHENTICATION_FAILED
    )


def test_expired_token_is_renewed(world: World, platform: PlatformClient) -> None:
    person = world.person(HANAKO)
    first = via_platform(platform, person.card.signing)
    world.advance(minutes=4, seconds=45)  # inside the SDK's refresh margin: a new token is fetched
    assert via_platform(platform, person.card.signing).same_identity_as(first)
    world.advance(minutes=10)
    assert via_platform(platform, person.card.signing).same_identity_as(first)


def test_async_client_in_process(world: World, bank: RelyingPartyKit) -> None:
    person = world.person(HANAKO)
    app: Any = world.client.app
    signature = person.card.signing.sign(DATA)
    auth = person.card.user_authentication

    async def scenario() -> tuple[IdentityVerification, AuthenticationVerification]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, timeout=5.0) as http:
            client = AsyncPlatformClient(
                BASE_URL, http, PrivateKeyJWT(bank.client_id, bank.key), clock=world.clock
            )
            verified = await client.verify_signature(
                data=DATA, signature=signature, certificate=person.card.signing.certificate
            )
            challenge = await client.authentication_challenge()
            login = await client.verify_authentication(
                challenge=challenge, signature=auth.sign(challenge.nonce), certificate=auth.certificate
            )
            return verified, login

    verified, login = asyncio.run(scenario())
    assert verified.same_identity_as(direct(world, person.card.signing))
    assert login.user_id == verified.user_id
