"""Root CA generations: J-LIS DNs byte for byte, extensions, distinct keys, issuer selection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from mockpki_helpers import NOW

from mock_platform.ca.authority import (
    CAGeneration,
    GenerationPlan,
    create_generation,
    select_issuing_generation,
)
from mock_platform.ca.errors import NoIssuingCAError
from mock_platform.ca.profile import CertificateKind, ca_subject
from mock_platform.ca.service import CAService


def test_ca_subject_is_byte_identical_to_the_real_jlis_roots(vectors: Path) -> None:
    for purpose, name in (
        (CertificateKind.SIGNING, "signca03.cer"),
        (CertificateKind.USER_AUTHENTICATION, "authca03.cer"),
    ):
        real = x509.load_der_x509_certificate((vectors / "jlis-roots" / name).read_bytes())
        assert ca_subject(purpose).public_bytes() == real.subject.public_bytes()


def test_ca_subject_string_types() -> None:
    name = asn1_x509.Name.load(ca_subject(CertificateKind.SIGNING).public_bytes())
    kinds = [(type(rdn[0]["value"].chosen).__name__, rdn[0]["value"].native) for rdn in name.chosen]
    assert kinds == [
        ("PrintableString", "JP"),
        ("UTF8String", "JPKI"),
        ("UTF8String", "JPKI for digital signature"),
        ("UTF8String", "Japan Agency for Local Authority Information Systems"),
    ]


def test_bootstrap_creates_two_overlapping_generations_per_purpose_with_same_dn(service: CAService) -> None:
    infos = service.ca_certificates()
    assert [(i.purpose, i.generation) for i in infos] == [
        (CertificateKind.SIGNING, 1),
        (CertificateKind.SIGNING, 2),
        (CertificateKind.USER_AUTHENTICATION, 1),
        (CertificateKind.USER_AUTHENTICATION, 2),
    ]
    for purpose in CertificateKind:
        g1, g2 = (i for i in infos if i.purpose is purpose)
        assert g1.certificate.subject == g2.certificate.subject == ca_subject(purpose)
        assert g1.certificate.public_key() != g2.certificate.public_key()
        assert g1.subject_key_identifier != g2.subject_key_identifier
        assert g1.not_before < g2.not_before <= NOW <= g1.not_after < g2.not_after  # overlap around NOW
    assert len({i.sha256_fingerprint for i in infos}) == 4


def test_root_profile(service: CAService) -> None:
    root = service.ca_certificate(CertificateKind.SIGNING, 2).certificate
    assert root.issuer == root.subject
    assert root.signature_hash_algorithm is not None
    assert root.signature_hash_algorithm.name == "sha256"
    key = root.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    assert key.key_size == 2048
    assert key.public_numbers().e == 65537
    root.verify_directly_issued_by(root)
    extensions = root.extensions
    bc = extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical
    assert bc.value.ca
    ku = extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical
    assert ku.value.key_cert_sign
    assert ku.value.crl_sign
    assert not ku.value.digital_signature
    assert extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest == (
        x509.SubjectKeyIdentifier.from_public_key(key).digest
    )
    assert root.not_valid_after_utc.astimezone(UTC).strftime("%H:%M:%S") == "14:59:59"  # 23:59:59 JST
    with pytest.raises(x509.ExtensionNotFound):
        extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)  # like the real roots


def test_selection_is_newest_valid_generation() -> None:
    start = datetime(2020, 1, 1, tzinfo=UTC)
    g1 = create_generation(
        CertificateKind.SIGNING, 1, not_before=start, not_after=start + timedelta(days=3650)
    )
    g2 = _reuse_key(g1, 2, start + timedelta(days=1460), start + timedelta(days=5110))
    generations = [g2, g1]
    assert select_issuing_generation(generations, CertificateKind.SIGNING, start + timedelta(days=10)) is g1
    assert select_issuing_generation(generations, CertificateKind.SIGNING, start + timedelta(days=2000)) is g2
    assert select_issuing_generation(generations, CertificateKind.SIGNING, start + timedelta(days=4000)) is g2
    with pytest.raises(NoIssuingCAError):
        select_issuing_generation(
            generations, CertificateKind.USER_AUTHENTICATION, start + timedelta(days=10)
        )
    with pytest.raises(NoIssuingCAError):
        select_issuing_generation(generations, CertificateKind.SIGNING, start - timedelta(days=1))


def _reuse_key(base: CAGeneration, generation: int, start: datetime, end: datetime) -> CAGeneration:
    # Selection only looks at numbers and windows; reusing the key keeps the test fast.
    return create_generation(
        base.purpose, generation, not_before=start, not_after=end, private_key=base.private_key
    )


def test_default_plan_windows() -> None:
    plan = GenerationPlan()
    (s1, e1), (s2, e2) = (spec.window(NOW) for spec in plan.generations)
    assert s1 < s2 < NOW < e1 < e2
    assert e1 - s1 > timedelta(days=3640)
    assert e2 - s2 > timedelta(days=3640)
    with pytest.raises(ValueError, match="at least one"):
        GenerationPlan(generations=())


def test_export_for_tests_returns_matching_key(service: CAService) -> None:
    generation = service.export_ca_generation_for_tests(CertificateKind.USER_AUTHENTICATION, 1)
    assert generation.private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == generation.certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert "private_key" not in repr(generation)
    assert generation.sha256_fingerprint == generation.certificate.fingerprint(hashes.SHA256()).hex()
