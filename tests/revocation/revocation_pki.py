"""A small test PKI and builders for OCSP responses and CRLs (tests only).

Parties (all valid around :data:`NOW`):

- ``root``: RSA-2048 CA (keyCertSign, cRLSign) issuing ``leaf``, ``leaf2``, ``intermediate`` and the
  delegated responders ``responder`` (id-kp-OCSPSigning), ``responder_no_eku`` (serverAuth only),
  ``responder_expired`` (OCSPSigning, expired before NOW) and ``responder_custom_ski`` (OCSPSigning, with a
  subjectKeyIdentifier extension that is NOT the SHA-1 of its key bits);
- ``intermediate``: EC P-256 CA under ``root``, issuing ``inter_leaf``;
- ``other_ca``: an unrelated EC root with its own ``other_responder`` (OCSPSigning) and ``other_leaf``;
- ``no_crlsign_ca``: a CA whose keyUsage has keyCertSign only, issuing ``no_crlsign_leaf``;
- ``crl_signer``: a separate CRL-signing certificate with the intermediate's name, issued by ``root``;
  ``rogue_crl_signer``: the same name, self-signed.

OCSP responses are built with cryptography's ``OCSPResponseBuilder`` where it can (one single response),
and with asn1crypto (:func:`raw_ocsp`) for what it cannot: several single responses, a byKey ResponderID of
our choosing, lying CertID fields. Both are signed properly over tbsResponseData. CRLs likewise:
:func:`make_crl` (cryptography) and :func:`raw_crl` (asn1crypto, e.g. without nextUpdate).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from asn1crypto import algos, core
from asn1crypto import crl as acrl
from asn1crypto import ocsp as aocsp
from asn1crypto import x509 as ax509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Party:
    cert: x509.Certificate
    key: PrivateKey

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)


def name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "myna_rp test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def issue(
    subject: str,
    key: PrivateKey,
    issuer: Party | None,
    *,
    serial: int,
    ca: bool,
    key_usage: x509.KeyUsage | None = None,
    eku: list[x509.ObjectIdentifier] | None = None,
    not_before: datetime = NOW - timedelta(days=30),
    not_after: datetime = NOW + timedelta(days=365),
    ski: bytes | None = None,
    extra: list[tuple[x509.ExtensionType, bool]] | None = None,
) -> Party:
    subject_name = name(subject)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject_name)
        .issuer_name(issuer.cert.subject if issuer else subject_name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if key_usage is not None:
        builder = builder.add_extension(key_usage, critical=True)
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    ski_value = (
        x509.SubjectKeyIdentifier(ski)
        if ski is not None
        else x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    )
    builder = builder.add_extension(ski_value, critical=False)
    for extension, critical in extra or []:
        builder = builder.add_extension(extension, critical=critical)
    signer_key = issuer.key if issuer else key
    return Party(builder.sign(signer_key, hashes.SHA256()), key)


def ca_usage(crl_sign: bool = True) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def ee_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def crl_signer_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@dataclass(frozen=True)
class PKI:
    root: Party
    leaf: Party
    leaf2: Party
    responder: Party
    responder_no_eku: Party
    responder_expired: Party
    responder_custom_ski: Party
    intermediate: Party
    inter_leaf: Party
    other_ca: Party
    other_responder: Party
    other_leaf: Party
    no_crlsign_ca: Party
    no_crlsign_leaf: Party
    crl_signer: Party  # the intermediate's name, separate key, cRLSign, issued by root
    rogue_crl_signer: Party  # the intermediate's name, cRLSign, self-signed (not under root)


def build_pki() -> PKI:
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    root = issue("Test JPKI Root CA", root_key, None, serial=1, ca=True, key_usage=ca_usage())
    ocsp_eku = [ExtendedKeyUsageOID.OCSP_SIGNING]
    other_key = ec_key()
    other_ca = issue("Other CA", other_key, None, serial=1, ca=True, key_usage=ca_usage())
    no_crl_key = ec_key()
    no_crlsign_ca = issue("No cRLSign CA", no_crl_key, None, serial=1, ca=True, key_usage=ca_usage(False))
    intermediate = issue("Test Intermediate CA", ec_key(), root, serial=50, ca=True, key_usage=ca_usage())
    signer_key = ec_key()
    crl_signer = Party(  # the intermediate's name, issued by root, cRLSign only (PKITS 4.4.19 shape)
        x509.CertificateBuilder()
        .subject_name(intermediate.cert.subject)
        .issuer_name(root.cert.subject)
        .public_key(signer_key.public_key())
        .serial_number(60)
        .not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(crl_signer_usage(), critical=True)
        .sign(root_key, hashes.SHA256()),
        signer_key,
    )
    rogue_key = ec_key()
    rogue = Party(  # the intermediate's name too, but self-signed: not under root
        x509.CertificateBuilder()
        .subject_name(intermediate.cert.subject)
        .issuer_name(intermediate.cert.subject)
        .public_key(rogue_key.public_key())
        .serial_number(61)
        .not_valid_before(NOW - timedelta(days=30))
        .not_valid_after(NOW + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(crl_signer_usage(), critical=True)
        .sign(rogue_key, hashes.SHA256()),
        rogue_key,
    )
    return PKI(
        root=root,
        leaf=issue("leaf 1", ec_key(), root, serial=0x1001, ca=False, key_usage=ee_usage()),
        leaf2=issue("leaf 2", ec_key(), root, serial=0x1002, ca=False, key_usage=ee_usage()),
        responder=issue("OCSP responder", ec_key(), root, serial=0x2001, ca=False, eku=ocsp_eku),
        responder_no_eku=issue(
            "OCSP responder without EKU",
            ec_key(),
            root,
            serial=0x2002,
            ca=False,
            eku=[ExtendedKeyUsageOID.SERVER_AUTH],
        ),
        responder_expired=issue(
            "OCSP responder expired",
            ec_key(),
            root,
            serial=0x2003,
            ca=False,
            eku=ocsp_eku,
            not_before=NOW - timedelta(days=60),
            not_after=NOW - timedelta(days=1),
        ),
        responder_custom_ski=issue(
            "OCSP responder custom SKI",
            ec_key(),
            root,
            serial=0x2004,
            ca=False,
            eku=ocsp_eku,
            ski=hashlib.sha1(b"not the key").digest(),
        ),
        intermediate=intermediate,
        inter_leaf=issue("intermediate leaf", ec_key(), intermediate, serial=0x3001, ca=False),
        other_ca=other_ca,
        other_responder=issue("Other responder", ec_key(), other_ca, serial=0x4001, ca=False, eku=ocsp_eku),
        other_leaf=issue("other leaf", ec_key(), other_ca, serial=0x1001, ca=False),
        no_crlsign_ca=no_crlsign_ca,
        no_crlsign_leaf=issue("no cRLSign leaf", ec_key(), no_crlsign_ca, serial=0x5001, ca=False),
        crl_signer=crl_signer,
        rogue_crl_signer=rogue,
    )


# -- OCSP ---------------------------------------------------------------------------------------------


def make_ocsp(
    *,
    cert: Party,
    issuer: Party,
    signer: Party | None = None,
    signing_key: PrivateKey | None = None,
    status: ocsp.OCSPCertStatus = ocsp.OCSPCertStatus.GOOD,
    reason: x509.ReasonFlags | None = None,
    revocation_time: datetime | None = None,
    this_update: datetime = NOW - timedelta(minutes=10),
    next_update: datetime | None = NOW + timedelta(hours=12),
    by_name: bool = False,
    include_certs: list[Party] | None = None,
    nonce: bytes | None = None,
    algorithm: hashes.HashAlgorithm | None = None,
    extensions: list[tuple[x509.ExtensionType, bool]] | None = None,
) -> bytes:
    """One single response, built with cryptography's OCSPResponseBuilder."""
    signer = signer or issuer
    builder = ocsp.OCSPResponseBuilder().add_response(
        cert=cert.cert,
        issuer=issuer.cert,
        algorithm=algorithm or hashes.SHA1(),
        cert_status=status,
        this_update=this_update,
        next_update=next_update,
        revocation_time=(revocation_time or NOW - timedelta(days=1))
        if status is ocsp.OCSPCertStatus.REVOKED
        else None,
        revocation_reason=reason if status is ocsp.OCSPCertStatus.REVOKED else None,
    )
    builder = builder.responder_id(
        ocsp.OCSPResponderEncoding.NAME if by_name else ocsp.OCSPResponderEncoding.HASH, signer.cert
    )
    if include_certs is None and signer is not issuer:
        include_certs = [signer]
    if include_certs:
        builder = builder.certificates([p.cert for p in include_certs])
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    for extension, critical in extensions or []:
        builder = builder.add_extension(extension, critical=critical)
    response = builder.sign(signing_key or signer.key, hashes.SHA256())
    return response.public_bytes(serialization.Encoding.DER)


def key_bits(cert: x509.Certificate) -> bytes:
    parsed = ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    return bytes(parsed["tbs_certificate"]["subject_public_key_info"]["public_key"].contents[1:])


def name_der(cert: x509.Certificate) -> bytes:
    parsed = ax509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    return bytes(parsed["tbs_certificate"]["subject"].dump())


def single(
    *,
    cert: x509.Certificate,
    issuer: x509.Certificate,
    status: str = "good",
    reason: str | None = None,
    hash_name: str = "sha1",
    hash_label: str | None = None,
    name_hash: bytes | None = None,
    key_hash: bytes | None = None,
    serial: int | None = None,
    this_update: datetime = NOW - timedelta(minutes=10),
    next_update: datetime | None = NOW + timedelta(hours=12),
) -> dict[str, Any]:
    """A SingleResponse for :func:`raw_ocsp`. ``hash_label`` lets the CertID claim another algorithm."""
    cert_status: aocsp.CertStatus
    if status == "good":
        cert_status = aocsp.CertStatus(name="good", value=core.Null())
    elif status == "unknown":
        cert_status = aocsp.CertStatus(name="unknown", value=core.Null())
    else:
        info: dict[str, Any] = {"revocation_time": NOW - timedelta(days=1)}
        if reason is not None:
            info["revocation_reason"] = reason
        cert_status = aocsp.CertStatus(name="revoked", value=aocsp.RevokedInfo(info))
    entry: dict[str, Any] = {
        "cert_id": {
            "hash_algorithm": {"algorithm": hash_label or hash_name},
            "issuer_name_hash": name_hash
            if name_hash is not None
            else hashlib.new(hash_name, name_der(issuer)).digest(),
            "issuer_key_hash": key_hash
            if key_hash is not None
            else hashlib.new(hash_name, key_bits(issuer)).digest(),
            "serial_number": serial if serial is not None else cert.serial_number,
        },
        "cert_status": cert_status,
        "this_update": this_update,
    }
    if next_update is not None:
        entry["next_update"] = next_update
    return entry


def _sign(key: PrivateKey, data: bytes) -> tuple[str, bytes]:
    if isinstance(key, rsa.RSAPrivateKey):
        return "sha256_rsa", key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return "sha256_ecdsa", key.sign(data, ec.ECDSA(hashes.SHA256()))


def raw_ocsp(
    *,
    singles: list[dict[str, Any]],
    signing_key: PrivateKey,
    responder_key_hash: bytes | None = None,
    responder_name: x509.Name | None = None,
    certs: list[x509.Certificate] | None = None,
    produced_at: datetime = NOW - timedelta(minutes=5),
    nonce: bytes | None = None,
) -> bytes:
    """An OCSPResponse built with asn1crypto: any number of single responses, any ResponderID."""
    if responder_name is not None:
        responder_id = aocsp.ResponderId(name="by_name", value=ax509.Name.load(responder_name.public_bytes()))
    else:
        assert responder_key_hash is not None
        responder_id = aocsp.ResponderId(name="by_key", value=responder_key_hash)
    tbs_fields: dict[str, Any] = {
        "version": "v1",
        "responder_id": responder_id,
        "produced_at": produced_at,
        "responses": singles,
    }
    if nonce is not None:
        tbs_fields["response_extensions"] = [
            {"extn_id": "nonce", "critical": False, "extn_value": core.OctetString(nonce)}
        ]
    tbs = aocsp.ResponseData(tbs_fields)
    algorithm, signature = _sign(signing_key, tbs.dump())
    basic_fields: dict[str, Any] = {
        "tbs_response_data": tbs,
        "signature_algorithm": algos.SignedDigestAlgorithm({"algorithm": algorithm}),
        "signature": signature,
    }
    if certs:
        basic_fields["certs"] = [
            ax509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in certs
        ]
    basic = aocsp.BasicOCSPResponse(basic_fields)
    response = aocsp.OCSPResponse(
        {
            "response_status": "successful",
            "response_bytes": {"response_type": "basic_ocsp_response", "response": basic},
        }
    )
    return bytes(response.dump())


def sha1_key_hash(cert: x509.Certificate) -> bytes:
    return hashlib.sha1(key_bits(cert)).digest()


# -- CRL ----------------------------------------------------------------------------------------------


def make_crl(
    issuer: Party,
    *,
    revoked: Sequence[tuple[int, x509.ReasonFlags | None]] | None = None,
    this_update: datetime = NOW - timedelta(hours=1),
    next_update: datetime = NOW + timedelta(hours=23),
    number: int | None = 1,
    signing_key: PrivateKey | None = None,
    issuer_name: x509.Name | None = None,
    extensions: list[tuple[x509.ExtensionType, bool]] | None = None,
    entry_extensions: list[tuple[x509.ExtensionType, bool]] | None = None,
    aki_from: Party | None = None,
) -> bytes:
    """A CRL built with cryptography's CertificateRevocationListBuilder."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer_name or issuer.cert.subject)
        .last_update(this_update)
        .next_update(next_update)
    )
    if number is not None:
        builder = builder.add_extension(x509.CRLNumber(number), critical=False)
    aki_party = aki_from or issuer
    builder = builder.add_extension(
        x509.AuthorityKeyIdentifier.from_issuer_public_key(aki_party.key.public_key()), critical=False
    )
    for extension, critical in extensions or []:
        builder = builder.add_extension(extension, critical=critical)
    for serial, reason in revoked or []:
        entry = (
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(NOW - timedelta(days=2))
        )
        if reason is not None:
            entry = entry.add_extension(x509.CRLReason(reason), critical=False)
        for extension, critical in entry_extensions or []:
            entry = entry.add_extension(extension, critical=critical)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(signing_key or issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def raw_crl(
    issuer: Party,
    *,
    revoked: list[tuple[int, str | None]] | None = None,
    this_update: datetime = NOW - timedelta(hours=1),
    next_update: datetime | None = None,
    number: int | None = 1,
) -> bytes:
    """A CRL built with asn1crypto: allows no nextUpdate and negative serials."""
    entries = []
    for serial, reason in revoked or []:
        entry: dict[str, Any] = {
            "user_certificate": serial,
            "revocation_date": ax509.Time(name="utc_time", value=NOW - timedelta(days=2)),
        }
        if reason is not None:
            entry["crl_entry_extensions"] = [
                {"extn_id": "crl_reason", "critical": False, "extn_value": reason}
            ]
        entries.append(entry)
    tbs_fields: dict[str, Any] = {
        "version": "v2",
        "signature": {
            "algorithm": "sha256_rsa" if isinstance(issuer.key, rsa.RSAPrivateKey) else "sha256_ecdsa"
        },
        "issuer": ax509.Name.load(issuer.cert.subject.public_bytes()),
        "this_update": ax509.Time(name="utc_time", value=this_update),
    }
    if next_update is not None:
        tbs_fields["next_update"] = ax509.Time(name="utc_time", value=next_update)
    if entries:
        tbs_fields["revoked_certificates"] = entries
    if number is not None:
        tbs_fields["crl_extensions"] = [{"extn_id": "crl_number", "critical": False, "extn_value": number}]
    tbs = acrl.TbsCertList(tbs_fields)
    algorithm, signature = _sign(issuer.key, tbs.dump())
    certificate_list = acrl.CertificateList(
        {
            "tbs_cert_list": tbs,
            "signature_algorithm": {"algorithm": algorithm},
            "signature": signature,
        }
    )
    return bytes(certificate_list.dump())
