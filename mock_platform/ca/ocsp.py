"""OCSP (RFC 6960): request parsing, issuer matching, response building, delegated responders.

The pieces are pure functions over explicit inputs; :class:`~mock_platform.ca.service.CAService` wires
them to the database and the clock, and the fixture generator calls them directly for rogue responses.

Behaviour of the mock responder (J-LIS facts from domain-jpki.md; protocol from RFC 6960):

* one CertID per request (cryptography parses no more); the hash algorithm may be SHA-1 or SHA-256,
  and the response's CertID uses the request's algorithm and hashes verbatim;
* the issuer is found by matching issuerNameHash **and** issuerKeyHash against every CA generation
  (generations share a DN, so the key hash is what tells them apart);
* status: ``good``; ``revoked`` (revocationTime, revocationReason) — immediately, without the CRL's
  daily lag; a certificate on hold is ``revoked`` with reason certificateHold until released;
  ``unknown`` for a serial this generation never issued;
* thisUpdate = producedAt = now; nextUpdate = now + 15 minutes (J-LIS OCSP data is at most 15 minutes
  old);
* the nonce extension (RFC 8954) is echoed; a nonce outside 1–32 octets is a malformed request;
* responses are signed by the CA itself or by a delegated responder certificate issued by the same
  generation with EKU id-kp-OCSPSigning and id-pkix-ocsp-nocheck (§4.2.2.2, §4.2.2.2.1); responderID
  byKey by default, byName as an option;
* an unparseable request gives ``malformedRequest`` (1); a request the mock cannot answer (several
  CertIDs, an unsupported hash, an issuer that is not one of its CAs) gives ``unauthorized`` (6), as
  RFC 5019 §2.2.3 suggests for a responder that is not authoritative. Never an HTTP 500.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..clock import require_aware, whole_seconds
from ._der import set_ocsp_produced_at
from .authority import CAGeneration, issuer_key_hash, issuer_name_hash
from .builder import build_end_entity_certificate
from .keys import PrivateKey, PublicKey
from .profile import JLIS_OU, RevocationReason, key_usage

#: RFC 8954 §2.1: nonces are 1 to 32 octets.
MAX_NONCE_LENGTH = 32

SUPPORTED_HASHES: tuple[type[hashes.HashAlgorithm], ...] = (hashes.SHA1, hashes.SHA256)


class ResponderIdType(StrEnum):
    """ResponderID choice (RFC 6960 §4.2.1)."""

    BY_KEY = "by_key"  # SHA-1 of the responder's public key BIT STRING
    BY_NAME = "by_name"  # the responder certificate's subject DN


class OCSPRequestError(Exception):
    """The request cannot be answered; ``status`` is the OCSPResponseStatus to send back.

    Attributes:
        status: ``MALFORMED_REQUEST`` or ``UNAUTHORIZED``.
        message: why (for logs; contains no request bytes).
    """

    def __init__(self, status: ocsp.OCSPResponseStatus, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class CertID:
    """RFC 6960 §4.1.1 CertID: the hash algorithm, issuer name/key hashes and the serial number."""

    algorithm: hashes.HashAlgorithm
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial_number: int

    @classmethod
    def for_certificate(
        cls, issuer: x509.Certificate, serial_number: int, algorithm: hashes.HashAlgorithm
    ) -> CertID:
        """The CertID of ``serial_number`` under ``issuer`` with ``algorithm`` hashes."""
        return cls(
            algorithm, issuer_name_hash(issuer, algorithm), issuer_key_hash(issuer, algorithm), serial_number
        )

    def matches(self, issuer: x509.Certificate) -> bool:
        """Whether both hashes match ``issuer`` (name *and* key)."""
        return (
            issuer_name_hash(issuer, self.algorithm) == self.issuer_name_hash
            and issuer_key_hash(issuer, self.algorithm) == self.issuer_key_hash
        )


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    """What the mock uses from an OCSPRequest: the single CertID and the nonce, if any."""

    cert_id: CertID
    nonce: bytes | None


def parse_ocsp_request(request_der: bytes) -> ParsedRequest:
    """Parse a DER OCSPRequest.

    Raises:
        OCSPRequestError: ``MALFORMED_REQUEST`` for bytes that are not an OCSPRequest or a bad nonce;
            ``UNAUTHORIZED`` for several CertIDs or a hash algorithm other than SHA-1/SHA-256.
    """
    try:
        request = ocsp.load_der_ocsp_request(request_der)
    except NotImplementedError as exc:  # cryptography: "more than one request"
        raise OCSPRequestError(ocsp.OCSPResponseStatus.UNAUTHORIZED, "only single-CertID requests") from exc
    except (ValueError, TypeError) as exc:
        raise OCSPRequestError(ocsp.OCSPResponseStatus.MALFORMED_REQUEST, "not a DER OCSPRequest") from exc
    try:
        algorithm = request.hash_algorithm
        extensions = request.extensions
    except UnsupportedAlgorithm as exc:
        raise OCSPRequestError(ocsp.OCSPResponseStatus.UNAUTHORIZED, "unsupported CertID hash") from exc
    except ValueError as exc:
        raise OCSPRequestError(ocsp.OCSPResponseStatus.MALFORMED_REQUEST, "bad request extensions") from exc
    if not isinstance(algorithm, SUPPORTED_HASHES):
        raise OCSPRequestError(ocsp.OCSPResponseStatus.UNAUTHORIZED, "unsupported CertID hash")
    nonce: bytes | None = None
    with contextlib.suppress(x509.ExtensionNotFound):
        nonce = extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    if nonce is not None and not 1 <= len(nonce) <= MAX_NONCE_LENGTH:
        raise OCSPRequestError(ocsp.OCSPResponseStatus.MALFORMED_REQUEST, "nonce must be 1–32 octets")
    cert_id = CertID(algorithm, request.issuer_name_hash, request.issuer_key_hash, request.serial_number)
    return ParsedRequest(cert_id=cert_id, nonce=nonce)


def find_issuer(cert_id: CertID, generations: Iterable[CAGeneration]) -> CAGeneration | None:
    """The CA generation whose name and key hashes both match ``cert_id``, or ``None``."""
    for generation in generations:
        if cert_id.matches(generation.certificate):
            return generation
    return None


@dataclass(frozen=True, slots=True)
class OCSPSigner:
    """Who signs a response.

    Attributes:
        certificate: the CA certificate (CA-signed) or the delegated responder certificate; the
            responderID is computed from it.
        private_key: its key (hidden from ``repr``).
        certificates: what goes into ``BasicOCSPResponse.certs`` (the delegated responder certificate;
            empty when the CA signs).
    """

    certificate: x509.Certificate
    private_key: PrivateKey = field(repr=False)
    certificates: tuple[x509.Certificate, ...] = ()


@dataclass(frozen=True, slots=True)
class SingleStatus:
    """The certStatus of one SingleResponse.

    Attributes:
        status: good / revoked / unknown.
        revocation_time: required for revoked.
        reason: revocationReason of a revoked status; ``None`` omits the field.
    """

    status: ocsp.OCSPCertStatus
    revocation_time: datetime | None = None
    reason: RevocationReason | None = None

    def __post_init__(self) -> None:
        revoked = self.status is ocsp.OCSPCertStatus.REVOKED
        if revoked != (self.revocation_time is not None) or (not revoked and self.reason is not None):
            raise ValueError("revocation time (and reason) belong to, and only to, a revoked status")

    @classmethod
    def good(cls) -> SingleStatus:
        return cls(ocsp.OCSPCertStatus.GOOD)

    @classmethod
    def unknown(cls) -> SingleStatus:
        return cls(ocsp.OCSPCertStatus.UNKNOWN)

    @classmethod
    def revoked(cls, revocation_time: datetime, reason: RevocationReason | None) -> SingleStatus:
        return cls(ocsp.OCSPCertStatus.REVOKED, revocation_time, reason)


def build_ocsp_response(
    *,
    cert_id: CertID,
    status: SingleStatus,
    signer: OCSPSigner,
    this_update: datetime,
    next_update: datetime | None,
    produced_at: datetime,
    responder_id: ResponderIdType = ResponderIdType.BY_KEY,
    nonce: bytes | None = None,
) -> bytes:
    """A DER OCSPResponse (successful, BasicOCSPResponse) with one SingleResponse.

    Args:
        cert_id: echoed as the SingleResponse CertID (same algorithm and hashes as the request).
        status: the certStatus.
        signer: key, certificate (for the responderID) and certificates to embed.
        this_update, next_update: aware; ``next_update`` ``None`` omits it.
        produced_at: producedAt (aware; from the injected clock, see :mod:`mock_platform.ca._der`).
        responder_id: byKey or byName.
        nonce: the request nonce to echo (RFC 8954), or ``None``.

    Raises:
        ValueError: naive datetimes.
    """
    revocation_time = status.revocation_time
    builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
        issuer_name_hash=cert_id.issuer_name_hash,
        issuer_key_hash=cert_id.issuer_key_hash,
        serial_number=cert_id.serial_number,
        algorithm=cert_id.algorithm,
        cert_status=status.status,
        this_update=whole_seconds(require_aware(this_update)),
        next_update=whole_seconds(require_aware(next_update)) if next_update is not None else None,
        revocation_time=whole_seconds(require_aware(revocation_time))
        if revocation_time is not None
        else None,
        revocation_reason=status.reason.reason_flag if status.reason is not None else None,
    )
    encoding = (
        ocsp.OCSPResponderEncoding.HASH
        if responder_id is ResponderIdType.BY_KEY
        else ocsp.OCSPResponderEncoding.NAME
    )
    builder = builder.responder_id(encoding, signer.certificate)
    if signer.certificates:
        builder = builder.certificates(list(signer.certificates))
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    response = builder.sign(signer.private_key, hashes.SHA256())
    return set_ocsp_produced_at(
        response.public_bytes(serialization.Encoding.DER), produced_at.astimezone(UTC), signer.private_key
    )


def unsuccessful_response(status: ocsp.OCSPResponseStatus) -> bytes:
    """A DER OCSPResponse with an error status and no responseBytes (RFC 6960 §4.2.1)."""
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(serialization.Encoding.DER)


def responder_subject(issuer: CAGeneration) -> x509.Name:
    """``C=JP, O=JPKI, OU=<purpose OU>, OU=<J-LIS OU>, CN=OCSP Responder G<n>`` (the mock's naming)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, issuer.purpose.organizational_unit),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, JLIS_OU),
            x509.NameAttribute(NameOID.COMMON_NAME, f"OCSP Responder G{issuer.generation}"),
        ]
    )


def build_ocsp_responder_certificate(
    *,
    issuer: CAGeneration,
    public_key: PublicKey,
    not_before: datetime,
    not_after: datetime,
    ocsp_signing: bool = True,
    nocheck: bool = True,
    subject: x509.Name | None = None,
    serial_number: int | None = None,
) -> x509.Certificate:
    """A delegated OCSP responder certificate (RFC 6960 §4.2.2.2) issued by ``issuer``.

    Built with the same :func:`~mock_platform.ca.builder.build_end_entity_certificate` as holders'
    certificates: keyUsage digitalSignature (critical), EKU id-kp-OCSPSigning, id-pkix-ocsp-nocheck
    (NULL, non-critical, §4.2.2.2.1), AKI/SKI, no policies, no SAN, no CRL distribution point.
    ``ocsp_signing=False`` / ``nocheck=False`` build the flawed variants negative tests need.
    """
    extras: list[tuple[x509.ExtensionType, bool]] = [(x509.OCSPNoCheck(), False)] if nocheck else []
    return build_end_entity_certificate(
        issuer=issuer,
        public_key=public_key,
        kind=issuer.purpose,
        not_before=not_before,
        not_after=not_after,
        serial_number=serial_number,
        subject=subject if subject is not None else responder_subject(issuer),
        key_usage=key_usage(digital_signature=True),
        policy_oids=None,
        extended_key_usage=[ExtendedKeyUsageOID.OCSP_SIGNING] if ocsp_signing else None,
        subject_alt_name=None,
        issuer_alt_name=False,
        crl_distribution_point=None,
        extra_extensions=extras,
    )
