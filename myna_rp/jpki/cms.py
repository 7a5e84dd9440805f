"""CMS SignedData (RFC 5652) as produced by JPKI clients: one signer, RSA PKCS#1 v1.5 or ECDSA.

Parsing uses ``asn1crypto`` (``cryptography`` has no CMS verification API); every check is explicit:
- the signer is found by ``sid``: issuerAndSerialNumber (SignerInfo v1) or subjectKeyIdentifier (v3),
  RFC 5652 §5.3;
- with signed attributes, the signature covers their DER re-tagged as SET OF (§5.4), the
  message-digest attribute must equal the digest of the content and the content-type attribute must
  equal eContentType (§11.1, §11.2), each attribute present once with one value;
- without signed attributes, the signature covers the content itself (eContentType must then be id-data).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import cms, core
from asn1crypto import x509 as x509_asn1
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from ..encoding import parse_der_certificate
from ..errors import MalformedInputError, Reason, VerificationError
from .signature import HASHES

MAX_CMS_BYTES = 32 * 1024 * 1024
# PKCS#1 v1.5 and ECDSA only (RFC 5754 §3); RSASSA-PSS is not produced by JPKI tokens.
_SIGNATURE_ALGORITHMS = frozenset(
    {
        "rsassa_pkcs1v15",
        "sha256_rsa",
        "sha384_rsa",
        "sha512_rsa",
        "sha256_ecdsa",
        "sha384_ecdsa",
        "sha512_ecdsa",
    }
)


@dataclass(frozen=True, slots=True)
class ParsedSignedData:
    """What verification needs from a SignedData.

    Attributes:
        signer_certificate: the certificate matched by ``sid`` (from the SignedData or supplied).
        other_certificates: the remaining certificates in the SignedData (possible intermediates).
        content: the signed content (encapsulated, or the detached content supplied).
        signed_bytes: the exact bytes the signature covers.
        signature: the signature value.
        hash_algorithm: the digest algorithm of the SignerInfo.
        signer_identifier: ``issuer_and_serial_number`` or ``subject_key_identifier``.
        signing_time: the signingTime attribute, if any (a claim of the signer, not a trusted time).
    """

    signer_certificate: x509.Certificate
    other_certificates: tuple[x509.Certificate, ...]
    content: bytes
    signed_bytes: bytes
    signature: bytes
    hash_algorithm: hashes.HashAlgorithm
    signer_identifier: str
    signing_time: datetime | None


def _single_attribute(attrs: cms.CMSAttributes, name: str) -> Any:
    found = [attr for attr in attrs if attr["type"].native == name]
    if not found:
        return None
    if len(found) > 1 or len(found[0]["values"]) != 1:
        raise MalformedInputError(f"CMS signed attribute {name} must appear once with one value")
    return found[0]["values"][0]


def _ski(certificate: x509.Certificate) -> bytes | None:
    try:
        return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def _find_signer(
    sid: cms.SignerIdentifier, candidates: list[x509.Certificate]
) -> tuple[x509.Certificate, str]:
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"]
        serial = sid.chosen["serial_number"].native
        for certificate in candidates:
            # asn1crypto compares Names after RFC 5280 §7.1 normalisation (case, spaces, string types).
            if (
                certificate.serial_number == serial
                and x509_asn1.Name.load(certificate.issuer.public_bytes()) == issuer
            ):
                return certificate, sid.name
    elif sid.name == "subject_key_identifier":
        wanted = bytes(sid.chosen.native)
        for certificate in candidates:
            ski = _ski(certificate)
            if ski is not None and hmac.compare_digest(ski, wanted):
                return certificate, sid.name
    raise VerificationError(
        "no certificate matches the CMS signer identifier", reason=Reason.SIGNATURE_INVALID
    )


def parse_signed_data(
    data: bytes,
    *,
    content: bytes | None = None,
    certificate: x509.Certificate | None = None,
) -> ParsedSignedData:
    """Parse a DER ContentInfo holding SignedData and prepare the signer check.

    Args:
        data: DER ContentInfo (PEM "CMS"/"PKCS7" armour is handled by the caller).
        content: the detached content; for attached content, if given it must equal the encapsulated one.
        certificate: the expected signer certificate; when given, the SignerInfo must identify exactly this
            certificate (an embedded certificate never replaces it).

    Raises:
        MalformedInputError: not a SignedData, no or several signers, no content, bad attributes.
        VerificationError: SIGNATURE_INVALID (message digest mismatch, no matching signer) or
            UNSUPPORTED_ALGORITHM (digest other than SHA-256/384/512).
    """
    if len(data) > MAX_CMS_BYTES:
        raise MalformedInputError("CMS SignedData is too large")
    try:
        info = cms.ContentInfo.load(data, strict=True)
        if info["content_type"].native != "signed_data":
            raise MalformedInputError("CMS ContentInfo does not hold SignedData")
        signed_data = info["content"]
        signer_infos = list(signed_data["signer_infos"])
        encap = signed_data["encap_content_info"]
        econtent_type = encap["content_type"].dotted
        econtent = encap["content"]
        attached = None if econtent is None or isinstance(econtent, core.Void) else bytes(econtent.native)
        embedded = [
            parse_der_certificate(choice.chosen.dump(), what="certificate embedded in the CMS")
            for choice in (signed_data["certificates"] or [])
            if choice.name == "certificate"
        ]
    except MalformedInputError:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise MalformedInputError(f"CMS SignedData cannot be parsed: {exc}") from exc
    if len(signer_infos) != 1:
        raise MalformedInputError(f"CMS SignedData must have exactly one signer, found {len(signer_infos)}")
    if attached is not None and content is not None and not hmac.compare_digest(attached, content):
        raise VerificationError(
            "detached content differs from the encapsulated content", reason=Reason.SIGNATURE_INVALID
        )
    signed_content = attached if attached is not None else content
    if signed_content is None:
        raise MalformedInputError("CMS SignedData is detached and no content was supplied")
    # A certificate named by the caller is the only acceptable signer: never fall back to an embedded one.
    candidates = [certificate] if certificate is not None else embedded
    try:
        signer_info = signer_infos[0]
        signer, sid_form = _find_signer(signer_info["sid"], candidates)
        digest_name = signer_info["digest_algorithm"]["algorithm"].native
        hash_type = HASHES.get(digest_name)
        if hash_type is None:
            raise VerificationError(
                f"CMS digest algorithm {digest_name} not allowed", reason=Reason.UNSUPPORTED_ALGORITHM
            )
        signature_algorithm = signer_info["signature_algorithm"]["algorithm"].native
        if signature_algorithm not in _SIGNATURE_ALGORITHMS:
            raise VerificationError(
                f"CMS signature algorithm {signature_algorithm} not allowed",
                reason=Reason.UNSUPPORTED_ALGORITHM,
            )
        signature = bytes(signer_info["signature"].native)
        attrs = signer_info["signed_attrs"]
        signing_time: datetime | None = None
        if attrs is None or isinstance(attrs, core.Void) or len(attrs) == 0:
            if econtent_type != "1.2.840.113549.1.7.1":
                raise MalformedInputError("CMS without signed attributes must carry id-data content")
            signed_bytes = signed_content
        else:
            digest = _single_attribute(attrs, "message_digest")
            ctype = _single_attribute(attrs, "content_type")
            if digest is None or ctype is None:
                raise MalformedInputError("CMS signed attributes lack message-digest or content-type")
            if getattr(ctype, "dotted", None) != econtent_type:
                raise VerificationError(
                    "content-type attribute differs from eContentType", reason=Reason.SIGNATURE_INVALID
                )
            expected = hashlib.new(digest_name, signed_content).digest()
            if not hmac.compare_digest(bytes(getattr(digest, "native", b"")), expected):
                raise VerificationError(
                    "message-digest attribute does not match the content", reason=Reason.SIGNATURE_INVALID
                )
            st = _single_attribute(attrs, "signing_time")
            signing_time = getattr(st, "native", None) if st is not None else None
            raw = attrs.dump()
            signed_bytes = b"\x31" + raw[1:]  # [0] IMPLICIT → SET OF, RFC 5652 §5.4
    except (MalformedInputError, VerificationError):
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise MalformedInputError(f"CMS SignerInfo cannot be parsed: {exc}") from exc
    others = tuple(c for c in embedded if c is not signer)
    return ParsedSignedData(
        signer_certificate=signer,
        other_certificates=others,
        content=signed_content,
        signed_bytes=signed_bytes,
        signature=signature,
        hash_algorithm=hash_type(),
        signer_identifier=sid_form,
        signing_time=signing_time if isinstance(signing_time, datetime) else None,
    )
