"""Document signing through sign transactions, end to end: the RP creates a transaction over the document's
SHA-256 digest (or its DigestInfo), the holder signs while approving the login (Android phone or card), the
RP fetches the signature and the signing certificate and verifies them itself with ``JPKIVerifier`` under
``RevocationPolicy.REQUIRE`` (OCSP through the mock), getting the same ``IdentityVerification`` as direct
verification, in OIDC mode."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from lifecycle_support import MOVED, PHONE_PASSWORD, PHONE_PIN, TARO, World
from oidc_support import ISSUER, RelyingPartyHandle, authorize, login, with_card, with_phone

from mock_platform.device.auth_app import AuthApp, AuthAppProblemError, RedirectedToRelyingParty
from myna_rp.challenge import MemoryChallengeStore
from myna_rp.errors import CertificateRevokedError, OIDCError, PlatformError, Reason, VerificationError
from myna_rp.identity import IdentityVerification, VerificationMode
from myna_rp.jpki import CertificateKind, FormFactor, JPKIVerifier
from myna_rp.jpki.attributes import parse_basic_four_attributes
from myna_rp.kyc import KycService, OIDCVerification, RetentionProfile, SQLRecordRepository, VerifierIdentity
from myna_rp.platform.oidc import (
    AsyncMynaOIDCClient,
    OIDCProviderError,
    digest_info_sha256,
    verify_signature_result,
)
from myna_rp.revocation import CertStatus, OCSPClient, RevocationChecker, RevocationPolicy

DOCUMENT = "口座開設申込書 (account opening application) — synthetic test document #42".encode()


def require_verifier(world: World) -> JPKIVerifier:
    """The RP's own verifier: the mock's roots, OCSP through the mock, hard-fail REQUIRE."""
    checker = RevocationChecker(
        ocsp=OCSPClient(world.client, {root.subject: "/ocsp" for root in world.roots}, sleep=lambda _: None),
        clock=world.clock,
    )
    return JPKIVerifier(world.trust, revocation=checker, policy=RevocationPolicy.REQUIRE, clock=world.clock)


def test_oidc_sign_on_android_verifies_with_jpki_verifier(world: World, rp: RelyingPartyHandle) -> None:
    person = world.person(TARO)
    phone = world.android_registered(person)
    transaction = rp.client.create_sign_transaction(digest=hashlib.sha256(DOCUMENT).digest())
    assert transaction.status == "pending"
    result = login(rp, with_phone(phone), sign_transaction=transaction)
    assert result.sign_transaction_id == transaction.transaction_id

    signed = rp.client.fetch_signature(transaction, login=result)
    assert signed.subject == result.subject
    identity = verify_signature_result(signed, require_verifier(world), document=DOCUMENT)

    assert identity.mode is VerificationMode.OIDC
    assert identity.attributes == parse_basic_four_attributes(phone.signing_certificate)
    assert identity.attributes.name == TARO["name"]
    assert identity.certificate.kind is CertificateKind.SIGNING
    assert identity.certificate.form_factor is FormFactor.ANDROID
    assert identity.revocation.status is CertStatus.GOOD
    assert identity.signed_content == DOCUMENT
    # Direct mode on the same phone's signature gives the same identity (mode and time aside).
    direct = IdentityVerification.from_jpki(
        require_verifier(world).verify_signature(
            data=DOCUMENT, signature=phone.sign(DOCUMENT), certificate=phone.signing_certificate
        )
    )
    assert direct.mode is VerificationMode.DIRECT
    assert identity.same_identity_as(direct)


def test_oidc_sign_with_card_and_digest_info(world: World, rp: RelyingPartyHandle) -> None:
    person = world.person()
    digest = hashlib.sha256(DOCUMENT).digest()
    transaction = rp.client.create_sign_transaction(digest=digest_info_sha256(digest), digest_info=True)
    assert transaction.digest == digest
    result = login(rp, with_card(person), sign_transaction=transaction)
    signed = rp.client.fetch_signature(transaction, login=result)
    identity = rp.client.verify_signature(signed, require_verifier(world), document=DOCUMENT)
    assert identity.certificate.form_factor is FormFactor.CARD
    direct = IdentityVerification.from_jpki(
        require_verifier(world).verify_signature(
            data=DOCUMENT,
            signature=person.card.signing.sign(DOCUMENT),
            certificate=person.card.signing.certificate,
        )
    )
    assert identity.same_identity_as(direct)
    assert identity.certificate.serial_number == person.card.signing.certificate.serial_number


def test_oidc_revoked_signing_certificate_is_certificate_revoked(
    world: World, rp: RelyingPartyHandle
) -> None:
    person = world.person()
    transaction = rp.client.create_sign_transaction(digest=hashlib.sha256(DOCUMENT).digest())
    result = login(rp, with_card(person), sign_transaction=transaction)
    signed = rp.client.fetch_signature(transaction, login=result)
    # The holder moves before the RP verifies: every signing certificate is revoked (affiliationChanged).
    world.counter.change_attributes(person.card, MOVED)
    with pytest.raises(CertificateRevokedError) as caught:
        verify_signature_result(signed, require_verifier(world), document=DOCUMENT)
    assert caught.value.reason is Reason.CERTIFICATE_REVOKED


def test_oidc_sign_other_document_is_digest_mismatch(world: World, rp: RelyingPartyHandle) -> None:
    transaction = rp.client.create_sign_transaction(digest=hashlib.sha256(DOCUMENT).digest())
    result = login(rp, with_card(world.person()), sign_transaction=transaction)
    signed = rp.client.fetch_signature(transaction, login=result)
    with pytest.raises(VerificationError) as caught:
        verify_signature_result(signed, require_verifier(world), document=DOCUMENT + b" (edited)")
    assert caught.value.reason is Reason.DIGEST_MISMATCH


def test_oidc_signature_before_approval_or_after_decline_is_not_available(
    world: World, rp: RelyingPartyHandle
) -> None:
    transaction = rp.client.create_sign_transaction(digest=hashlib.sha256(DOCUMENT).digest())
    with pytest.raises(OIDCProviderError) as pending:
        rp.client.fetch_signature(transaction)
    assert pending.value.error == "transaction_pending"
    url, _ = rp.client.begin_login(["openid"], redirect_uri=rp.redirect_uri, sign_transaction=transaction)
    app = AuthApp(world.client)
    app.decline(app.open(url))
    with pytest.raises(OIDCProviderError) as declined:
        rp.client.fetch_signature(transaction)
    assert declined.value.error == "transaction_declined"


def test_oidc_sign_transaction_is_presented_once_and_only_to_its_client(
    world: World, make_rp: Callable[..., RelyingPartyHandle]
) -> None:
    bank, other = make_rp("Bank", "bank.example"), make_rp("Other", "other.example")
    transaction = bank.client.create_sign_transaction(digest=hashlib.sha256(DOCUMENT).digest())
    app = AuthApp(world.client)
    app.open(
        bank.client.begin_login(["openid"], redirect_uri=bank.redirect_uri, sign_transaction=transaction)[0]
    )
    for rp in (bank, other):
        url, state = rp.client.begin_login(
            ["openid"], redirect_uri=rp.redirect_uri, sign_transaction=transaction
        )
        with pytest.raises(RedirectedToRelyingParty) as refused:
            app.open(url)
        with pytest.raises(OIDCProviderError) as caught:
            rp.client.complete_login(refused.value.location, state)
        assert caught.value.error == "invalid_authorization_details"
    with pytest.raises(PlatformError) as foreign:
        other.client.fetch_signature(transaction.transaction_id)
    assert foreign.value.reason is Reason.PLATFORM_REJECTED
    assert foreign.value.status_code == 404


def test_oidc_signature_bound_to_its_login(world: World, rp: RelyingPartyHandle) -> None:
    person, someone_else = world.person(), world.person(TARO)
    transaction = rp.client.create_sign_transaction(digest=hashlib.sha256(DOCUMENT).digest())
    login(rp, with_card(person), sign_transaction=transaction)
    plain_login = login(rp, with_card(someone_else))
    with pytest.raises(OIDCError) as caught:
        rp.client.fetch_signature(transaction, login=plain_login)
    assert caught.value.reason is Reason.OIDC_TOKEN_INVALID


def test_oidc_signature_over_another_digest_is_refused_by_the_provider(
    world: World, rp: RelyingPartyHandle
) -> None:
    person = world.person()
    phone = world.android_registered(person)
    transaction = rp.client.create_sign_transaction(digest=hashlib.sha256(DOCUMENT).digest())
    url, _ = rp.client.begin_login(["openid"], redirect_uri=rp.redirect_uri, sign_transaction=transaction)
    app = AuthApp(world.client)
    request = app.open(url)
    assert request.sign is not None
    assert request.sign.digest_info == digest_info_sha256(request.sign.digest)
    tampered = replace(request, sign=replace(request.sign, digest=hashlib.sha256(b"something else").digest()))
    with pytest.raises(AuthAppProblemError) as caught:
        app.approve_with_phone(tampered, phone, pin=PHONE_PIN, signing_password=PHONE_PASSWORD)
    assert caught.value.code == "SIGNATURE_INVALID"


def test_oidc_revoked_token_cannot_sign(world: World, rp: RelyingPartyHandle) -> None:
    person = world.person()
    phone = world.android_registered(person)
    world.counter.change_attributes(person.card, MOVED)  # the phone's signing certificate is revoked too
    transaction = rp.client.create_sign_transaction(digest=hashlib.sha256(DOCUMENT).digest())
    url, _ = rp.client.begin_login(["openid"], redirect_uri=rp.redirect_uri, sign_transaction=transaction)
    app = AuthApp(world.client)
    with pytest.raises(AuthAppProblemError) as caught:
        app.approve_with_phone(app.open(url), phone, pin=PHONE_PIN, signing_password=PHONE_PASSWORD)
    assert caught.value.code == "CERTIFICATE_NOT_VALID"


@pytest.mark.parametrize(
    ("digest", "digest_info"),
    [
        pytest.param(b"\x00" * 31, False, id="short-digest"),
        pytest.param(b"\x00" * 51, True, id="not-a-digest-info"),
        pytest.param(hashlib.sha256(DOCUMENT).digest(), True, id="digest-given-as-digest-info"),
    ],
)
def test_oidc_malformed_digest_is_rejected(rp: RelyingPartyHandle, digest: bytes, digest_info: bool) -> None:
    with pytest.raises(PlatformError) as caught:
        rp.client.create_sign_transaction(digest=digest, digest_info=digest_info)
    assert caught.value.reason is Reason.PLATFORM_REJECTED
    assert caught.value.status_code == 422


def test_oidc_expired_sign_transaction_cannot_be_presented(world: World, rp: RelyingPartyHandle) -> None:
    transaction = rp.client.create_sign_transaction(digest=hashlib.sha256(DOCUMENT).digest())
    world.advance(minutes=11)
    url, state = rp.client.begin_login(["openid"], redirect_uri=rp.redirect_uri, sign_transaction=transaction)
    with pytest.raises(RedirectedToRelyingParty) as refused:
        AuthApp(world.client).open(url)
    with pytest.raises(OIDCProviderError) as caught:
        rp.client.complete_login(refused.value.location, state)
    assert caught.value.error == "invalid_authorization_details"


def test_oidc_sign_scope_needs_a_transaction(rp: RelyingPartyHandle) -> None:
    with pytest.raises(ValueError, match="sign transaction"):
        rp.client.begin_login(["openid", "sign"], redirect_uri=rp.redirect_uri)


def test_oidc_sign_and_attributes_in_one_login(world: World, rp: RelyingPartyHandle) -> None:
    person = world.person()
    transaction = rp.client.create_sign_transaction(digest=hashlib.sha256(DOCUMENT).digest())
    callback, state = authorize(
        rp,
        with_card(person),
        scopes=["openid", "name", "address", "birthdate", "gender"],
        sign_transaction=transaction,
    )
    result = rp.client.complete_login(callback, state)
    identity = verify_signature_result(
        rp.client.fetch_signature(transaction, login=result), require_verifier(world), document=DOCUMENT
    )
    # What the provider released from its records equals what the signing certificate proves.
    assert result.attributes == identity.attributes


def test_oidc_async_client_sign_transaction(world: World, rp: RelyingPartyHandle) -> None:
    person = world.person()
    phone = world.android_registered(person)

    async def run() -> IdentityVerification:
        transport = httpx.ASGITransport(app=world.client.app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport) as http:
            client = AsyncMynaOIDCClient(
                http, issuer=ISSUER, client_id=rp.client_id, private_key=rp.key, clock=world.clock
            )
            transaction = await client.create_sign_transaction(digest=hashlib.sha256(DOCUMENT).digest())
            url, state = await client.begin_login(
                ["openid"], redirect_uri=rp.redirect_uri, sign_transaction=transaction
            )
            app = AuthApp(world.client)
            callback = app.approve_with_phone(
                app.open(url), phone, pin=PHONE_PIN, signing_password=PHONE_PASSWORD
            )
            result = await client.complete_login(callback, state)
            signed = await client.fetch_signature(transaction, login=result)
        return client.verify_signature(signed, require_verifier(world), document=DOCUMENT)

    identity = asyncio.run(run())
    assert identity.mode is VerificationMode.OIDC
    assert identity.attributes == parse_basic_four_attributes(phone.signing_certificate)


def test_oidc_kyc_with_a_sign_transaction_makes_a_confirmation_record(
    world: World, rp: RelyingPartyHandle, tmp_path: Path
) -> None:
    """docs/oidc.md's KYC example: the eKYC challenge's digest signed through the provider, verified by the
    RP's own JPKIVerifier, recorded by KycService in OIDC mode."""
    person = world.person(TARO)
    kyc = KycService(
        challenges=MemoryChallengeStore(clock=world.clock),
        verifier=OIDCVerification(),
        records=SQLRecordRepository(tmp_path / "records.sqlite3"),
        verifier_identity=VerifierIdentity("Example Bank K.K.", operator_id="kyc-oidc"),
        profile=RetentionProfile.BANK,
        clock=world.clock,
    )
    challenge = kyc.start("session-1")
    transaction = rp.client.create_sign_transaction(digest=hashlib.sha256(challenge.value).digest())
    result = login(rp, with_card(person), sign_transaction=transaction)
    signed = rp.client.fetch_signature(transaction, login=result)
    identity = verify_signature_result(signed, require_verifier(world), document=challenge.value)
    record = kyc.complete(
        "session-1", challenge.value, customer_reference="acct-000123", verification=identity
    )
    assert record.mode is VerificationMode.OIDC
    assert record.attributes == identity.attributes
    assert record.attributes.name == TARO["name"]
    assert record.certificate.serial_number == person.card.signing.certificate.serial_number


def test_oidc_sign_on_iphone(world: World, rp: RelyingPartyHandle) -> None:
    person = world.person()
    phone = world.iphone_usable(person)
    transaction = rp.client.create_sign_transaction(digest=hashlib.sha256(DOCUMENT).digest())
    result = login(rp, with_phone(phone), sign_transaction=transaction, scopes=["openid", "gender"])
    identity = verify_signature_result(
        rp.client.fetch_signature(transaction, login=result), require_verifier(world), document=DOCUMENT
    )
    assert identity.certificate.form_factor is FormFactor.IPHONE
    assert identity.attributes.gender.value == "2"
    assert result.acr == "urn:myna-mock:acr:jpki-smartphone"
