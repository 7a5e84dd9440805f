"""Two DER edits that cryptography's builders cannot express, done with asn1crypto and re-signed.

cryptography builds every CRL and OCSP response of the mock; this module only patches the result:

* :func:`remove_crl_next_update` — ``CertificateRevocationListBuilder`` insists on nextUpdate, but a CRL
  without it is legal RFC 5280 ASN.1 (``nextUpdate Time OPTIONAL``, §5.1.2.5; the profile says "MUST
  include", which is exactly what the ``crl_without_next_update`` scenario violates on purpose).
* :func:`set_ocsp_produced_at` — ``OCSPResponseBuilder`` stamps producedAt from the *system* clock; the
  mock's time is an input, so producedAt (RFC 6960 §4.2.1: "the time at which the OCSP responder signed
  this response") must come from the injected clock.

Both rebuild the to-be-signed structure field by field (keeping every other field's original encoding)
and re-sign it with the same key and the same algorithm (SHA-256; PKCS#1 v1.5 for RSA keys).
"""

from __future__ import annotations

from datetime import UTC, datetime

from asn1crypto import core
from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from ..clock import require_aware
from .keys import PrivateKey


def _sign(private_key: PrivateKey, data: bytes) -> bytes:
    if isinstance(private_key, rsa.RSAPrivateKey):
        return private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return private_key.sign(data, ec.ECDSA(hashes.SHA256()))


def _present_fields(value: core.Sequence, *, skip: str | None = None) -> dict[str, object]:
    return {
        name: value[name]
        for name, *_ in value._fields
        if name != skip and not isinstance(value[name], core.Void)
    }


def remove_crl_next_update(crl_der: bytes, private_key: PrivateKey) -> bytes:
    """``crl_der`` without ``nextUpdate``, re-signed with ``private_key`` (the CRL issuer's key)."""
    certificate_list = asn1_crl.CertificateList.load(crl_der)
    tbs = asn1_crl.TbsCertList(_present_fields(certificate_list["tbs_cert_list"], skip="next_update"))
    signature = _sign(private_key, tbs.dump())
    rebuilt = asn1_crl.CertificateList(
        {
            "tbs_cert_list": tbs,
            "signature_algorithm": certificate_list["signature_algorithm"],
            "signature": signature,
        }
    )
    return bytes(rebuilt.dump())


def set_ocsp_produced_at(response_der: bytes, produced_at: datetime, private_key: PrivateKey) -> bytes:
    """A successful OCSP response with producedAt replaced by ``produced_at`` (whole seconds, UTC) and
    the BasicOCSPResponse re-signed by ``private_key`` (the responder's key)."""
    instant = require_aware(produced_at, "producedAt").astimezone(UTC).replace(microsecond=0)
    response = asn1_ocsp.OCSPResponse.load(response_der)
    basic = response["response_bytes"]["response"].parsed
    fields = _present_fields(basic["tbs_response_data"])
    fields["produced_at"] = core.GeneralizedTime(instant)
    response_data = asn1_ocsp.ResponseData(fields)
    basic_fields = _present_fields(basic)
    basic_fields["tbs_response_data"] = response_data
    basic_fields["signature"] = _sign(private_key, response_data.dump())
    rebuilt = asn1_ocsp.OCSPResponse(
        {
            "response_status": response["response_status"],
            "response_bytes": {
                "response_type": response["response_bytes"]["response_type"],
                "response": asn1_ocsp.BasicOCSPResponse(basic_fields),
            },
        }
    )
    return bytes(rebuilt.dump())
