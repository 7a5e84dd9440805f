"""The platform operator's own JPKI verification (no SDK import: the mock checks with its own code).

The mock issued every certificate it can be asked about, so verification here is:

1. the certificate parses (DER, ≤ 16 KiB) and is *exactly* one the mock issued (serial found, DER equal);
2. its issuer is one of the mock's root generations and the certificate's signature verifies with that
   root's key (the chain, RFC 5280 §6.1 reduced to one link under a known anchor);
3. it is within its validity period now (the injected clock);
4. it is of the expected kind (signing for signatures, user authentication for logins);
5. the signature over the data verifies: RSA PKCS#1 v1.5 or ECDSA, SHA-256 (RFC 8017 §8.2; X9.62), or a
   CMS SignedData (RFC 5652 §5.4, §5.6: message-digest and content-type signed attributes);
6. its revocation status in the mock's own database is good (a pending CA-outbox action is applied
   first), with an OCSP response (RFC 6960) for it built by the mock's responder as evidence.

Failures raise :class:`PlatformVerificationError` whose ``code`` uses the same strings as the SDK's
``Reason`` (``SIGNATURE_INVALID``, ``CERTIFICATE_REVOKED``…), so the SDK maps them one to one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from asn1crypto import cms as asn1_cms
from asn1crypto import core as asn1_core
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp

from ..ca.errors import UnknownCertificateError
from ..ca.profile import (
    OID_ADDRESS,
    OID_ADDRESS_SUBSTITUTE_POSITIONS,
    OID_DATE_OF_BIRTH,
    OID_GENDER,
    OID_NAME,
    OID_NAME_SUBSTITUTE_POSITIONS,
    CertificateKind,
    FormFactor,
    RevocationReason,
)
from ..ca.service import CAService, CertificateStatus
from ..clock import Clock

MAX_CERTIFICATE_BYTES = 16 * 1024
MAX_CMS_BYTES = 64 * 1024


class VerificationCode(StrEnum):
    """Why a verification failed (the same strings as ``myna_rp.errors.Reason``)."""

    MALFORMED_INPUT = "MALFORMED_INPUT"
    SIGNATURE_INVALID = "SIGNATURE_INVALID"
    CERTIFICATE_EXPIRED = "CERTIFICATE_EXPIRED"
    CERTIFICATE_NOT_YET_VALID = "CERTIFICATE_NOT_YET_VALID"
    UNTRUSTED_ISSUER = "UNTRUSTED_ISSUER"
    WRONG_KEY_USAGE = "WRONG_KEY_USAGE"  # a signing certificate where user authentication is needed, or back
    CERTIFICATE_REVOKED = "CERTIFICATE_REVOKED"
    CERTIFICATE_ON_HOLD = "CERTIFICATE_ON_HOLD"
    UNSUPPORTED_ALGORITHM = "UNSUPPORTED_ALGORITHM"


class PlatformVerificationError(Exception):
    """A verification failed; ``code`` says why. ``revocation`` is set for revoked / on-hold."""

    def __init__(
        self, code: VerificationCode, message: str, *, revocation: RevocationFacts | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.revocation = revocation


@dataclass(frozen=True, slots=True)
class AttributeFacts:
    """The basic four attributes exactly as carried in a signing certificate (strings)."""

    name: str
    name_substitute_positions: str
    gender: str
    date_of_birth: str
    address: str
    address_substitute_positions: str


@dataclass(frozen=True, slots=True)
class CertificateFacts:
    """A certificate summary: what an RP's confirmation record keeps (no DER)."""

    certificate: x509.Certificate
    serial_number: int
    issuer: str
    sha256_fingerprint: str
    not_before: datetime
    not_after: datetime
    kind: CertificateKind
    form_factor: FormFactor

    @property
    def serial_hex(self) -> str:
        return format(self.serial_number, "x")

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


@dataclass(frozen=True, slots=True)
class RevocationFacts:
    """The revocation status now, with the mock responder's OCSP answer as evidence."""

    status: CertificateStatus
    reason: RevocationReason | None
    revoked_at: datetime | None
    this_update: datetime
    next_update: datetime | None
    produced_at: datetime
    ocsp_response: bytes


@dataclass(frozen=True, slots=True)
class SignatureFacts:
    """A verified signature: certificate, attributes (signing), revocation, the signed content."""

    certificate: CertificateFacts
    attributes: AttributeFacts | None
    revocation: RevocationFacts
    signed_content: bytes
    verified_at: datetime
    cms_signing_time: datetime | None = None


def _fail(code: VerificationCode, message: str) -> PlatformVerificationError:
    return PlatformVerificationError(code, message)


def load_certificate(der: bytes) -> x509.Certificate:
    """Parse a DER certificate (≤ 16 KiB); ``MALFORMED_INPUT`` otherwise."""
    if not der or len(der) > MAX_CERTIFICATE_BYTES:
        raise _fail(VerificationCode.MALFORMED_INPUT, "the certificate is empty or too large")
    try:
        certificate = x509.load_der_x509_certificate(der)
        certificate.serial_number  # noqa: B018 - forces the lazy parse of the TBS fields
    except ValueError as exc:
        raise _fail(VerificationCode.MALFORMED_INPUT, "the certificate is not DER X.509") from exc
    return certificate


def _verify_raw(public_key: object, signature: bytes, data: bytes) -> None:
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            raise _fail(VerificationCode.UNSUPPORTED_ALGORITHM, "the certificate key is neither RSA nor EC")
    except InvalidSignature as exc:
        raise _fail(VerificationCode.SIGNATURE_INVALID, "the signature does not verify") from exc
    except ValueError as exc:  # e.g. a malformed ECDSA DER signature
        raise _fail(VerificationCode.SIGNATURE_INVALID, "the signature does not verify") from exc


def _decode_text(der: bytes) -> str:
    try:
        value = asn1_core.load(der)
    except ValueError as exc:
        raise _fail(VerificationCode.MALFORMED_INPUT, "an attribute value is not DER") from exc
    if isinstance(value, asn1_core.UTF8String):
        return str(value.native)
    if isinstance(value, asn1_core.OctetString):
        try:
            return bytes(value.native).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _fail(VerificationCode.MALFORMED_INPUT, "an attribute value is not UTF-8") from exc
    raise _fail(VerificationCode.MALFORMED_INPUT, "an attribute value is neither UTF8String nor OCTET STRING")


def attributes_of(certificate: x509.Certificate) -> AttributeFacts | None:
    """The basic four attributes of the subjectAltName otherNames, or ``None`` (user authentication)."""
    try:
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    values: dict[str, str] = {}
    for other in san.get_values_for_type(x509.OtherName):
        values[other.type_id.dotted_string] = _decode_text(other.value)
    required = (OID_NAME, OID_GENDER, OID_DATE_OF_BIRTH, OID_ADDRESS)
    if not any(oid.dotted_string in values for oid in required):
        return None
    if not all(oid.dotted_string in values for oid in required):
        raise _fail(VerificationCode.MALFORMED_INPUT, "the basic four attributes are incomplete")
    return AttributeFacts(
        name=values[OID_NAME.dotted_string],
        name_substitute_positions=values.get(OID_NAME_SUBSTITUTE_POSITIONS.dotted_string, ""),
        gender=values[OID_GENDER.dotted_string],
        date_of_birth=values[OID_DATE_OF_BIRTH.dotted_string],
        address=values[OID_ADDRESS.dotted_string],
        address_substitute_positions=values.get(OID_ADDRESS_SUBSTITUTE_POSITIONS.dotted_string, ""),
    )


@dataclass(frozen=True, slots=True)
class _ParsedCMS:
    signer: x509.Certificate
    signature: bytes
    signed_bytes: bytes
    content: bytes
    signing_time: datetime | None


def _parse_cms(der: bytes, content: bytes | None, supplied: x509.Certificate | None) -> _ParsedCMS:
    """The one SignerInfo of a SignedData (RFC 5652 §5), its signed bytes and content; checks the
    message-digest (§11.2) and content-type (§11.1) attributes and SHA-256 as the digest."""
    malformed = VerificationCode.MALFORMED_INPUT
    if not der or len(der) > MAX_CMS_BYTES:
        raise _fail(malformed, "the CMS SignedData is empty or too large")
    try:
        info = asn1_cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise _fail(malformed, "the ContentInfo is not SignedData")
        signed = info["content"]
        signer_infos = signed["signer_infos"]
        if len(signer_infos) != 1:
            raise _fail(malformed, "exactly one SignerInfo is expected")
        signer_info = signer_infos[0]
        encap = signed["encap_content_info"]
        attached = encap["content"].native if encap["content"] is not None else None
        if attached is not None and content is not None and bytes(attached) != content:
            raise _fail(VerificationCode.SIGNATURE_INVALID, "the given content differs from the attached one")
        body = bytes(attached) if attached is not None else content
        if body is None:
            raise _fail(malformed, "detached SignedData needs the content")
        if signer_info["digest_algorithm"]["algorithm"].native != "sha256":
            raise _fail(VerificationCode.UNSUPPORTED_ALGORITHM, "only SHA-256 is accepted as the digest")
        sid = signer_info["sid"]
        candidates: list[x509.Certificate] = []
        for choice in signed["certificates"] or []:
            if choice.name == "certificate":
                candidates.append(x509.load_der_x509_certificate(choice.chosen.dump()))
        if supplied is not None:
            candidates.append(supplied)
        signer = _match_signer(sid, candidates)
        signature = bytes(signer_info["signature"].native)
        attrs = signer_info["signed_attrs"]
        signing_time: datetime | None = None
        if attrs is not None and len(attrs) > 0:
            found: dict[str, object] = {}
            for attribute in attrs:
                name = attribute["type"].native
                if name in found:
                    raise _fail(malformed, "a signed attribute appears twice")
                values = attribute["values"]
                if len(values) != 1:
                    raise _fail(malformed, "a signed attribute must have one value")
                found[name] = values[0].native
            if found.get("content_type") != "data":
                raise _fail(malformed, "the content-type attribute is not id-data")
            if found.get("message_digest") != hashlib.sha256(body).digest():
                raise _fail(
                    VerificationCode.SIGNATURE_INVALID, "the message digest does not match the content"
                )
            when = found.get("signing_time")
            signing_time = when if isinstance(when, datetime) else None
            encoded = attrs.dump()
            signed_bytes = b"\x31" + encoded[1:]  # RFC 5652 §5.4: DER of the explicit SET OF
        else:
            signed_bytes = body
    except PlatformVerificationError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise _fail(malformed, "the CMS SignedData does not parse") from exc
    return _ParsedCMS(signer, signature, signed_bytes, body, signing_time)


def _match_signer(sid: asn1_cms.SignerIdentifier, candidates: list[x509.Certificate]) -> x509.Certificate:
    for certificate in candidates:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            issuer_der = certificate.issuer.public_bytes()
            if (
                wanted["serial_number"].native == certificate.serial_number
                and wanted["issuer"].dump() == issuer_der
            ):
                return certificate
        else:
            try:
                ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            except x509.ExtensionNotFound:
                continue
            if bytes(sid.chosen.native) == ski:
                return certificate
    raise _fail(VerificationCode.MALFORMED_INPUT, "the signer certificate is neither included nor given")


class PlatformVerifier:
    """Verifies JPKI signatures and logins against the mock's own CAs and database.

    Args:
        ca: the mock's CA service (roots, issued certificates, revocation state, OCSP responder).
        clock: "now" for the validity period and the verification time.
    """

    def __init__(self, ca: CAService, clock: Clock) -> None:
        self._ca = ca
        self._clock = clock

    def check_certificate(
        self, certificate: x509.Certificate, expected_kind: CertificateKind, now: datetime
    ) -> CertificateFacts:
        """Steps 1–4 of the module docstring. Raises :class:`PlatformVerificationError`."""
        der = certificate.public_bytes(serialization.Encoding.DER)
        try:
            state = self._ca.certificate_state(certificate.serial_number)
            issued = self._ca.certificate(certificate.serial_number)
        except UnknownCertificateError as exc:
            raise _fail(VerificationCode.UNTRUSTED_ISSUER, "not a certificate this platform issued") from exc
        if issued.public_bytes(serialization.Encoding.DER) != der:
            raise _fail(VerificationCode.UNTRUSTED_ISSUER, "not a certificate this platform issued")
        if state.kind is not expected_kind:
            raise _fail(VerificationCode.WRONG_KEY_USAGE, f"a {expected_kind.value} certificate is required")
        root = self._issuer_of(certificate)
        if not root.not_valid_before_utc <= now <= root.not_valid_after_utc:
            raise _fail(VerificationCode.CERTIFICATE_EXPIRED, "the issuing CA is outside its validity")
        if now < certificate.not_valid_before_utc:
            raise _fail(VerificationCode.CERTIFICATE_NOT_YET_VALID, "the certificate is not yet valid")
        if now > certificate.not_valid_after_utc:
            raise _fail(VerificationCode.CERTIFICATE_EXPIRED, "the certificate has expired")
        return CertificateFacts(
            certificate=certificate,
            serial_number=certificate.serial_number,
            issuer=certificate.issuer.rfc4514_string(),
            sha256_fingerprint=hashlib.sha256(der).hexdigest(),
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            kind=state.kind,
            form_factor=state.form_factor,
        )

    def _issuer_of(self, certificate: x509.Certificate) -> x509.Certificate:
        for info in self._ca.ca_certificates():
            root = info.certificate
            if root.subject != certificate.issuer:
                continue
            try:
                certificate.verify_directly_issued_by(root)
            except (InvalidSignature, ValueError, TypeError):
                continue
            return root
        raise _fail(VerificationCode.UNTRUSTED_ISSUER, "no root of this platform issued the certificate")

    def revocation(self, certificate: x509.Certificate) -> RevocationFacts:
        """The status now (pending CA actions applied) and an OCSP response as evidence."""
        serial_hex = format(certificate.serial_number, "x")
        self._ca.apply_pending_actions(serial_hex)
        state = self._ca.certificate_state(certificate.serial_number)
        root = self._issuer_of(certificate)
        request = ocsp.OCSPRequestBuilder().add_certificate(certificate, root, hashes.SHA256()).build()
        response_der = self._ca.ocsp_respond(request.public_bytes(serialization.Encoding.DER))
        response = ocsp.load_der_ocsp_response(response_der)
        if response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:  # pragma: no cover
            raise RuntimeError("the mock's own OCSP responder refused its own certificate")
        reason = state.revocation_reason
        if state.status is CertificateStatus.ON_HOLD:
            reason = RevocationReason.CERTIFICATE_HOLD
        return RevocationFacts(
            status=state.status,
            reason=reason,
            revoked_at=state.revoked_at,
            this_update=response.this_update_utc,
            next_update=response.next_update_utc,
            produced_at=response.produced_at_utc,
            ocsp_response=response_der,
        )

    def _require_good(self, certificate: x509.Certificate) -> RevocationFacts:
        facts = self.revocation(certificate)
        if facts.status is CertificateStatus.REVOKED:
            raise PlatformVerificationError(
                VerificationCode.CERTIFICATE_REVOKED, "the certificate is revoked", revocation=facts
            )
        if facts.status is CertificateStatus.ON_HOLD:
            raise PlatformVerificationError(
                VerificationCode.CERTIFICATE_ON_HOLD, "the certificate is on hold", revocation=facts
            )
        return facts

    def verify_signature(self, *, data: bytes, signature: bytes, certificate_der: bytes) -> SignatureFacts:
        """A raw signature by a signing certificate over ``data`` (steps 1–6)."""
        certificate = load_certificate(certificate_der)
        now = self._clock.now()
        facts = self.check_certificate(certificate, CertificateKind.SIGNING, now)
        attributes = attributes_of(certificate)
        _verify_raw(certificate.public_key(), signature, data)
        revocation = self._require_good(certificate)
        return SignatureFacts(facts, attributes, revocation, data, now)

    def verify_cms(
        self, *, signed_data: bytes, content: bytes | None, certificate_der: bytes | None
    ) -> SignatureFacts:
        """A CMS SignedData by a signing certificate, attached or detached (steps 1–6)."""
        supplied = load_certificate(certificate_der) if certificate_der is not None else None
        parsed = _parse_cms(signed_data, content, supplied)
        now = self._clock.now()
        facts = self.check_certificate(parsed.signer, CertificateKind.SIGNING, now)
        attributes = attributes_of(parsed.signer)
        _verify_raw(parsed.signer.public_key(), parsed.signature, parsed.signed_bytes)
        revocation = self._require_good(parsed.signer)
        return SignatureFacts(facts, attributes, revocation, parsed.content, now, parsed.signing_time)

    def verify_authentication(
        self, *, challenge: bytes, signature: bytes, certificate_der: bytes
    ) -> tuple[CertificateFacts, RevocationFacts, datetime]:
        """A login: the user-authentication certificate's signature over ``challenge`` (steps 1–6)."""
        certificate = load_certificate(certificate_der)
        now = self._clock.now()
        facts = self.check_certificate(certificate, CertificateKind.USER_AUTHENTICATION, now)
        _verify_raw(certificate.public_key(), signature, challenge)
        return facts, self._require_good(certificate), now
