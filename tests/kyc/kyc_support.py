"""Helpers of the eKYC tests (a top-level module: this folder has no ``__init__.py``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from cryptography.hazmat.primitives.serialization import Encoding
from joserfc.jwk import ECKey
from lifecycle_support import OCSP_ONLY, World

from mock_platform.ca.token import TokenSimulator
from myna_rp.challenge import Challenge, MemoryChallengeStore
from myna_rp.identity import CertificateSummary, VerificationMode
from myna_rp.jpki import CertificateKind, FormFactor
from myna_rp.jpki.attributes import BasicFourAttributes, Gender, parse_date_of_birth
from myna_rp.jpki.verifier import JPKIVerifier
from myna_rp.kyc import (
    ConfirmationRecord,
    KycMethod,
    KycService,
    RetentionProfile,
    SignatureVerification,
    SQLRecordRepository,
    VerifierIdentity,
)
from myna_rp.revocation import (
    CertStatus,
    OCSPClient,
    RevocationChecker,
    RevocationPolicy,
    RevocationSource,
    RevocationStatus,
)

BASE_URL = "http://jlis-mock.test"  # the in-process mock platform (TestClient)
OIDC_ISSUER = f"{BASE_URL}/oidc"
RP = VerifierIdentity(organisation="Example Bank K.K. (synthetic)", operator_id="kyc-service")
T0 = datetime(2026, 11, 29, 3, 0, 0, tzinfo=UTC)


def verifier_with(world: World, policy: RevocationPolicy = OCSP_ONLY) -> JPKIVerifier:
    """The SDK's verifier over the mock (OCSP through the TestClient) under ``policy``."""
    checker = RevocationChecker(
        ocsp=OCSPClient(world.client, {root.subject: "/ocsp" for root in world.roots}, sleep=lambda _: None),
        clock=world.clock,
    )
    return JPKIVerifier(world.trust, revocation=checker, policy=policy, clock=world.clock)


def synthetic_record(
    *,
    customer_reference: str = "cust-0001",
    recorded_at: datetime = T0,
    profile: RetentionProfile = RetentionProfile.BANK,
    serial_number: int = 0x1234_5678_9ABC_DEF0_1234_5678_9ABC_DEF0,
    status: CertStatus = CertStatus.GOOD,
    certificate_der: bytes | None = None,
    **overrides: Any,
) -> ConfirmationRecord:
    """A record with synthetic values (storage tests that need no platform)."""
    fingerprint = hashlib.sha256(serial_number.to_bytes(20, "big")).hexdigest()
    values: dict[str, Any] = {
        "record_id": uuid4(),
        "method": KycMethod.JPKI_SIGNING_CERTIFICATE,
        "verified_at": recorded_at - timedelta(seconds=1),
        "recorded_at": recorded_at,
        "verified_by": RP,
        "mode": VerificationMode.DIRECT,
        "customer_reference": customer_reference,
        "challenge_id": "q" * 43,
        "attributes": BasicFourAttributes(
            name="見本　花子",
            name_substitute_positions="00000",
            gender=Gender.FEMALE,
            date_of_birth=parse_date_of_birth("420010600"),  # 不詳 day: no ISO date
            address="東京都千代田区見本町一丁目1番1号",
            address_substitute_positions="",
        ),
        "certificate": CertificateSummary(
            serial_number=serial_number,
            issuer=(
                "OU=Japan Agency for Local Authority Information Systems,"
                "OU=JPKI for digital signature,O=JPKI,C=JP"
            ),
            fingerprint_sha256=fingerprint,
            not_before=datetime(2025, 1, 1, tzinfo=UTC),
            not_after=datetime(2030, 1, 1, tzinfo=UTC),
            kind=CertificateKind.SIGNING,
            form_factor=FormFactor.IPHONE,
        ),
        "revocation": RevocationStatus(
            status=status,
            source=RevocationSource.CRL,
            serial_number=serial_number,
            this_update=recorded_at - timedelta(hours=3),
            next_update=recorded_at + timedelta(hours=21),
            crl_number=2**100 + 7,
        ),
        "retention": profile,
        "certificate_der": certificate_der,
    }
    values.update(overrides)
    return ConfirmationRecord(**values)


REDIRECT = "https://bank.example/kyc/callback"


@dataclass
class Registered:
    """A relying party registered at the mock: client id, API key and its private_key_jwt key."""

    client_id: str
    api_key: str
    key: ECKey


def kyc(
    world: World, repository: SQLRecordRepository, verifier: SignatureVerification, **options: Any
) -> KycService:
    """A bank's eKYC over ``verifier`` (any mode), its own in-memory challenges, on the world's clock."""
    return KycService(
        challenges=MemoryChallengeStore(clock=world.clock),
        verifier=verifier,
        records=repository,
        verifier_identity=RP,
        profile=RetentionProfile.BANK,
        clock=world.clock,
        **options,
    )


def der(token: TokenSimulator) -> bytes:
    return token.certificate.public_bytes(Encoding.DER)


def complete_with(
    service: KycService, token: TokenSimulator, challenge: Challenge, customer: str = "cust-0001"
) -> ConfirmationRecord:
    """``token`` (a card's or phone's signing key) signs ``challenge``; the service completes the KYC."""
    return service.complete(
        challenge.session_id,
        challenge.value,
        customer_reference=customer,
        signature=token.sign(challenge.value),
        certificate=der(token),
    )
