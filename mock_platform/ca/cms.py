"""CMS SignedData (RFC 5652) as a JPKI token produces it, built with :mod:`asn1crypto`.

cryptography's ``PKCS7SignatureBuilder`` cannot identify the signer by subjectKeyIdentifier, so the
structure is assembled here and only the signature comes from the caller's key (which never leaves the
token simulator).

Shape (RFC 5652 §5):

* ``ContentInfo { id-signedData, SignedData }``;
* ``SignedData.version`` 1 with an issuerAndSerialNumber signer, 3 with a subjectKeyIdentifier signer
  (§5.1: v3 when any SignerInfo is v3; eContentType is id-data, no attribute certificates);
* ``SignerInfo.version`` 1 / 3 likewise (§5.3);
* digest SHA-256 (RFC 5754; parameters absent); signature algorithm rsaEncryption (parameters NULL,
  RFC 3370 §3.2) for RSA, ecdsa-with-SHA256 (parameters absent, RFC 5758 §3.2) for EC;
* signed attributes contentType (id-data), signingTime (UTCTime 1950–2049, GeneralizedTime otherwise,
  §11.3) and messageDigest; the signature covers their DER encoding as an explicit ``SET OF`` (§5.4);
* ``encapContentInfo.eContent`` present (attached) or absent (detached);
* the signer certificate embedded in ``certificates`` (optional, on by default).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from enum import StrEnum

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from ..clock import require_aware


class SignerIdentifierType(StrEnum):
    """How SignerInfo.sid names the signer certificate (RFC 5652 §5.3)."""

    ISSUER_AND_SERIAL_NUMBER = "issuer_and_serial_number"  # SignerInfo v1
    SUBJECT_KEY_IDENTIFIER = "subject_key_identifier"  # SignerInfo v3


def build_signed_data(
    content: bytes,
    *,
    certificate: x509.Certificate,
    sign: Callable[[bytes], bytes],
    signing_time: datetime,
    detached: bool = False,
    signer_identifier: SignerIdentifierType = SignerIdentifierType.ISSUER_AND_SERIAL_NUMBER,
    include_certificate: bool = True,
) -> bytes:
    """DER ``ContentInfo`` carrying a SignedData over ``content``.

    Args:
        content: the signed bytes (eContent of type id-data).
        certificate: the signer's certificate; its public key type picks the signature algorithm.
        sign: signs the given bytes with the certificate's private key (RSA PKCS#1 v1.5 with SHA-256 or
            ECDSA with SHA-256, DER ``Ecdsa-Sig-Value``) and returns the signature.
        signing_time: the signingTime attribute (aware).
        detached: omit eContent (the verifier gets the content separately).
        signer_identifier: issuerAndSerialNumber (v1) or subjectKeyIdentifier (v3).
        include_certificate: embed ``certificate`` in SignedData.certificates.

    Raises:
        ValueError: naive ``signing_time``; SKI form requested but the certificate has no SKI extension;
            a public key that is neither RSA nor EC.
    """
    cert = asn1_x509.Certificate.load(certificate.public_bytes(Encoding.DER))
    public_key = certificate.public_key()
    if isinstance(public_key, rsa.RSAPublicKey):
        signature_algorithm = algos.SignedDigestAlgorithm(
            {"algorithm": "rsassa_pkcs1v15", "parameters": core.Null()}
        )
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        signature_algorithm = algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"})
    else:
        raise ValueError("CMS signing supports RSA and EC certificates only")

    if signer_identifier is SignerIdentifierType.SUBJECT_KEY_IDENTIFIER:
        try:
            ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound as exc:
            raise ValueError("the certificate has no subjectKeyIdentifier") from exc
        sid = cms.SignerIdentifier({"subject_key_identifier": ski})
        version = "v3"
    else:
        sid = cms.SignerIdentifier(
            {
                "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                    {"issuer": cert.issuer, "serial_number": cert.serial_number}
                )
            }
        )
        version = "v1"

    signed_attrs = cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": [cms.ContentType("data")]}),
            cms.CMSAttribute({"type": "signing_time", "values": [_cms_time(signing_time)]}),
            cms.CMSAttribute(
                {"type": "message_digest", "values": [core.OctetString(hashlib.sha256(content).digest())]}
            ),
        ]
    )
    signature = sign(signed_attrs.dump())  # DER of the SET OF (tag 0x31), RFC 5652 §5.4

    digest_algorithm = algos.DigestAlgorithm({"algorithm": "sha256"})
    signer_info = cms.SignerInfo(
        {
            "version": version,
            "sid": sid,
            "digest_algorithm": digest_algorithm,
            "signed_attrs": signed_attrs,
            "signature_algorithm": signature_algorithm,
            "signature": signature,
        }
    )
    signed_data: dict[str, object] = {
        "version": version,
        "digest_algorithms": [digest_algorithm],
        "encap_content_info": {"content_type": "data", "content": None if detached else content},
        "signer_infos": [signer_info],
    }
    if include_certificate:
        signed_data["certificates"] = [cms.CertificateChoices({"certificate": cert})]
    content_info = cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})
    return bytes(content_info.dump())


def _cms_time(value: datetime) -> cms.Time:
    instant = require_aware(value, "signing time").astimezone(UTC).replace(microsecond=0)
    if 1950 <= instant.year <= 2049:
        return cms.Time({"utc_time": core.UTCTime(instant)})
    return cms.Time({"generalized_time": core.GeneralizedTime(instant)})
