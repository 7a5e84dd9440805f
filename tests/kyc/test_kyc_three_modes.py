"""Issue 5, must show: one KYC verification done three ways (direct, platform API, OIDC), equal results.

The same synthetic person signs three challenges with the same card (署名用電子証明書): the RP verifies the
first itself (:class:`DirectVerification` over :class:`JPKIVerifier`), sends the second to the platform
operator (:class:`PlatformVerification` over :class:`PlatformClient`), and gets the third through the
Digital Authentication App's sign transaction (:class:`OIDCVerification`). The three confirmation records
(確認記録) differ only in their mode, times and challenge; the holder, certificate and revocation verdict
are equal, and so are the :class:`IdentityVerification` values by :meth:`same_identity_as`.
"""

from __future__ import annotations

from typing import Any

from kyc_support import Registered, complete_with, kyc
from lifecycle_support import CARD_AUTH_PIN, CARD_PASSWORD, HANAKO, World
from test_kyc_real_clients import oidc_sign, platform_client

from mock_platform.device.auth_app import AuthApp
from myna_rp.identity import IdentityVerification, VerificationMode
from myna_rp.jpki import FormFactor
from myna_rp.kyc import DirectVerification, OIDCVerification, PlatformVerification, SQLRecordRepository
from myna_rp.revocation import CertStatus


def test_direct_platform_and_oidc_give_equal_results(
    world: World, repository: SQLRecordRepository, relying_party: Registered
) -> None:
    person = world.person(HANAKO)
    card_signing = person.card.signing

    direct = kyc(world, repository, DirectVerification(world.verifier()))
    platform = kyc(world, repository, PlatformVerification(platform_client(world, relying_party)))
    oidc = kyc(world, repository, OIDCVerification())

    records = [
        complete_with(service, card_signing, service.start(f"s-{name}"), "acct-three-ways")
        for name, service in (("direct", direct), ("platform", platform))
    ]

    def approve(app: AuthApp, request: Any) -> str:
        return app.approve_with_card(request, person.card, pin=CARD_AUTH_PIN, signing_password=CARD_PASSWORD)

    challenge = oidc.start("s-oidc")
    verification, certificate_der = oidc_sign(world, relying_party, challenge.value, approve)
    records.append(
        oidc.complete(
            "s-oidc",
            challenge.value,
            customer_reference="acct-three-ways",
            verification=verification,
            certificate=certificate_der,
        )
    )

    assert [r.mode for r in records] == [
        VerificationMode.DIRECT,
        VerificationMode.PLATFORM,
        VerificationMode.OIDC,
    ]
    first = records[0]
    for record in records[1:]:
        assert record.attributes == first.attributes
        assert record.certificate == first.certificate
        assert record.revocation.status is CertStatus.GOOD
        assert record.revocation.serial_number == first.revocation.serial_number
        assert record.method == first.method
    assert first.attributes.name == HANAKO["name"]
    assert first.certificate.serial_number == card_signing.certificate.serial_number
    assert first.certificate.form_factor is FormFactor.CARD

    # The typed verification results compare equal on the holder, certificate and verdict.
    as_identity = [
        IdentityVerification(
            mode=r.mode,
            attributes=r.attributes,
            certificate=r.certificate,
            revocation=r.revocation,
            verified_at=r.verified_at,
            signed_content=b"",
        )
        for r in records
    ]
    assert all(v.same_identity_as(as_identity[0]) for v in as_identity)
    assert verification.same_identity_as(as_identity[0])
    assert repository.records(customer_reference="acct-three-ways") == records
