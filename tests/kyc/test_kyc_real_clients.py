"""eKYC in platform and OIDC mode with the SDK's real clients against the mock platform in-process.

Platform mode: :class:`myna_rp.platform.PlatformClient` (API key) calls the mock's platform operator API
(``/platform/v1``), which verifies signature, path and OCSP and answers in PLATFORM mode.

OIDC mode: the RP creates a sign transaction over SHA-256(challenge) with
:class:`myna_rp.platform.oidc.MynaOIDCClient`, the holder approves in the Digital Authentication App (the
mock's :class:`AuthApp`, card or phone), the RP fetches the signature and verifies it itself
(:func:`verify_signature_result` with ``document=challenge.value``) — the signed digest commits to the
challenge — and hands the result to :class:`OIDCVerification`.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from kyc_support import BASE_URL, OIDC_ISSUER, REDIRECT, Registered, complete_with, kyc
from lifecycle_support import CARD_AUTH_PIN, CARD_PASSWORD, HANAKO, MOVED, PHONE_PASSWORD, PHONE_PIN, World

from mock_platform.device.auth_app import AuthApp
from myna_rp.errors import CertificateRevokedError, Reason, VerificationError
from myna_rp.identity import IdentityVerification, VerificationMode
from myna_rp.jpki import FormFactor
from myna_rp.kyc import (
    DirectVerification,
    OIDCVerification,
    PlatformVerification,
    SQLRecordRepository,
)
from myna_rp.platform import APIKey, PlatformClient
from myna_rp.platform.oidc import MynaOIDCClient, verify_signature_result
from myna_rp.revocation import CertStatus


def platform_client(world: World, rp: Registered) -> PlatformClient:
    return PlatformClient(
        f"{BASE_URL}/platform/v1",
        world.client,
        APIKey(rp.api_key),
        clock=world.clock,
        timeout=5.0,
        sleep=lambda _: None,
    )


# --------------------------------------------------------------------------------------------- platform


def test_platform_client_mode_records_what_direct_mode_records(
    world: World, repository: SQLRecordRepository, relying_party: Registered
) -> None:
    platform = kyc(world, repository, PlatformVerification(platform_client(world, relying_party)))
    direct = kyc(world, repository, DirectVerification(world.verifier()))
    phone = world.android_registered(world.person(HANAKO))
    assert phone.signing is not None
    made = [
        complete_with(service, phone.signing, service.start("s"), "acct-platform")
        for service in (platform, direct)
    ]
    via_platform, via_direct = made
    assert via_platform.mode is VerificationMode.PLATFORM
    assert via_platform.attributes == via_direct.attributes
    assert via_platform.certificate == via_direct.certificate
    assert via_platform.certificate.form_factor is FormFactor.ANDROID
    assert via_platform.revocation.status is CertStatus.GOOD
    assert via_platform.revocation.serial_number == phone.signing_certificate.serial_number
    assert via_platform.user_id  # the platform's 利用者ID, kept to follow the customer
    assert via_direct.user_id is None
    assert repository.records(user_id=via_platform.user_id) == [via_platform]


def test_platform_client_cms_and_refusals(
    world: World, repository: SQLRecordRepository, relying_party: Registered
) -> None:
    service = kyc(world, repository, PlatformVerification(platform_client(world, relying_party)))
    person = world.person(HANAKO)
    challenge = service.start("s-cms")
    cms = person.card.signing.sign_cms(challenge.value, signing_time=world.clock.now(), detached=True)
    record = service.complete("s-cms", challenge.value, customer_reference="acct-cms", cms=cms)
    assert record.mode is VerificationMode.PLATFORM
    assert record.certificate.form_factor is FormFactor.CARD

    other = service.start("s-other")
    with pytest.raises(VerificationError) as raised:
        service.complete(
            "s-other",
            other.value,
            customer_reference="c",
            signature=person.card.signing.sign(b"something else"),
            certificate=person.card.signing.certificate,
        )
    assert raised.value.reason is Reason.SIGNATURE_INVALID

    old = person.card.signing
    world.counter.change_attributes(person.card, MOVED)
    revoked = service.start("s-revoked")
    with pytest.raises(CertificateRevokedError) as revoked_error:
        service.complete(
            "s-revoked",
            revoked.value,
            customer_reference="c",
            signature=old.sign(revoked.value),
            certificate=old.certificate,
        )
    assert revoked_error.value.reason is Reason.CERTIFICATE_REVOKED

    kind = service.start("s-kind")
    with pytest.raises(VerificationError) as wrong:
        service.complete(
            "s-kind",
            kind.value,
            customer_reference="c",
            signature=person.card.user_authentication.sign(kind.value),
            certificate=person.card.user_authentication.certificate,
        )
    assert wrong.value.reason is Reason.WRONG_CERTIFICATE_KIND  # as in direct mode
    assert repository.records() == [record]


# --------------------------------------------------------------------------------------------- OIDC


def oidc_sign(
    world: World, rp: Registered, challenge_value: bytes, approve: Any
) -> tuple[IdentityVerification, bytes]:
    """The sign transaction over SHA-256(challenge), approved in the app; verified by the RP itself."""
    oidc = MynaOIDCClient(
        world.client, issuer=OIDC_ISSUER, client_id=rp.client_id, private_key=rp.key, clock=world.clock
    )
    transaction = oidc.create_sign_transaction(digest=hashlib.sha256(challenge_value).digest())
    url, state = oidc.begin_login(["openid"], redirect_uri=REDIRECT, sign_transaction=transaction)
    app = AuthApp(world.client)
    callback = approve(app, app.open(url))
    login = oidc.complete_login(callback, state)
    result = oidc.fetch_signature(transaction, login=login)
    verification = verify_signature_result(result, world.verifier(), document=challenge_value)
    return verification, result.certificate_der


@pytest.mark.parametrize("holder", ["card", "iphone"])
def test_oidc_sign_transaction_over_the_challenge_digest(
    world: World, repository: SQLRecordRepository, relying_party: Registered, holder: str
) -> None:
    service = kyc(world, repository, OIDCVerification(), keep_certificate=True)
    person = world.person(HANAKO)
    if holder == "card":

        def approve(app: AuthApp, request: Any) -> str:
            return app.approve_with_card(
                request, person.card, pin=CARD_AUTH_PIN, signing_password=CARD_PASSWORD
            )

        expected = person.card.signing.certificate
    else:
        phone = world.iphone_usable(person)

        def approve(app: AuthApp, request: Any) -> str:
            return app.approve_with_phone(request, phone, pin=PHONE_PIN, signing_password=PHONE_PASSWORD)

        expected = phone.signing_certificate
    challenge = service.start("s-oidc")
    verification, certificate_der = oidc_sign(world, relying_party, challenge.value, approve)
    assert verification.mode is VerificationMode.OIDC
    assert verification.signed_content == challenge.value
    record = service.complete(
        "s-oidc",
        challenge.value,
        customer_reference="acct-oidc",
        verification=verification,
        certificate=certificate_der,
    )
    assert record.mode is VerificationMode.OIDC
    assert record.attributes.name == HANAKO["name"]
    assert record.certificate.serial_number == expected.serial_number
    assert record.certificate_der == expected.public_bytes(Encoding.DER)
    assert record.revocation.status is CertStatus.GOOD
    assert repository.records() == [record]

    # The same sign transaction presented for another challenge is refused.
    other = service.start("s-other")
    with pytest.raises(VerificationError) as raised:
        service.complete(
            "s-other",
            other.value,
            customer_reference="c",
            verification=verification,
            certificate=certificate_der,
        )
    assert raised.value.reason is Reason.SIGNATURE_INVALID
    assert repository.records() == [record]
