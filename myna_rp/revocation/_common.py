"""Internals shared by the OCSP, CRL and checker modules (not public API).

Nothing here holds state: every function is pure apart from hashing.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from asn1crypto import algos
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
from cryptography.x509.oid import SignatureAlgorithmOID

from .status import RevocationReason

# Exceptions that cryptography and asn1crypto raise on bad input. Caught at our API boundary and
# re-raised as typed errors from myna_rp.errors (never leaked).
DEPENDENCY_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    UnsupportedAlgorithm,
    InvalidSignature,
    x509.InvalidVersion,
    x509.DuplicateExtension,
    x509.UnsupportedGeneralNameType,
    x509.AttributeNotFound,
)

# Hash algorithms accepted for OCSP CertIDs (RFC 6960 §4.1.1) and for signatures. MD5/MD2 are refused.
_ACCEPTED_HASHES: dict[str, str] = {
    "sha1": "sha1",
    "sha224": "sha224",
    "sha256": "sha256",
    "sha384": "sha384",
    "sha512": "sha512",
}

_REASON_BY_FLAG: dict[x509.ReasonFlags, RevocationReason] = {
    x509.ReasonFlags.unspecified: RevocationReason.UNSPECIFIED,
    x509.ReasonFlags.key_compromise: RevocationReason.KEY_COMPROMISE,
    x509.ReasonFlags.ca_compromise: RevocationReason.CA_COMPROMISE,
    x509.ReasonFlags.affiliation_changed: RevocationReason.AFFILIATION_CHANGED,
    x509.ReasonFlags.superseded: RevocationReason.SUPERSEDED,
    x509.ReasonFlags.cessation_of_operation: RevocationReason.CESSATION_OF_OPERATION,
    x509.ReasonFlags.certificate_hold: RevocationReason.CERTIFICATE_HOLD,
    x509.ReasonFlags.remove_from_crl: RevocationReason.REMOVE_FROM_CRL,
    x509.ReasonFlags.privilege_withdrawn: RevocationReason.PRIVILEGE_WITHDRAWN,
    x509.ReasonFlags.aa_compromise: RevocationReason.AA_COMPROMISE,
}


def reason_from_flag(flag: x509.ReasonFlags | None) -> RevocationReason | None:
    """Map cryptography's :class:`~cryptography.x509.ReasonFlags` to :class:`RevocationReason`."""
    if flag is None:
        return None
    return _REASON_BY_FLAG[flag]


def hash_name(algorithm: hashes.HashAlgorithm) -> str | None:
    """The hashlib name of an accepted hash algorithm, or ``None`` when it is not accepted."""
    return _ACCEPTED_HASHES.get(algorithm.name)


@dataclass(frozen=True, slots=True)
class IssuerIdentity:
    """The exact bytes an OCSP CertID is computed from (RFC 6960 §4.1.1).

    Attributes:
        name_der: the DER of the issuer certificate's subject, as encoded in that certificate.
        key_bits: the value of the subjectPublicKey BIT STRING (without the unused-bits octet).
    """

    name_der: bytes
    key_bits: bytes

    @classmethod
    def of(cls, certificate: x509.Certificate) -> IssuerIdentity:
        """Read the subject DER and subjectPublicKey bits of ``certificate``.

        cryptography does not expose the raw subjectPublicKey BIT STRING (re-encoding the key could
        change it, e.g. a compressed EC point), so asn1crypto reads it from the certificate DER.

        Raises:
            ValueError: the certificate DER cannot be read (callers wrap it).
        """
        parsed = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
        tbs = parsed["tbs_certificate"]
        bits = tbs["subject_public_key_info"]["public_key"].contents
        if not bits or bits[0] != 0:
            raise ValueError("subjectPublicKey BIT STRING has unused bits")
        return cls(name_der=tbs["subject"].dump(), key_bits=bytes(bits[1:]))

    def name_hash(self, algorithm: str) -> bytes:
        """``algorithm`` (hashlib name) over the subject DER."""
        return hashlib.new(algorithm, self.name_der).digest()

    def key_hash(self, algorithm: str) -> bytes:
        """``algorithm`` (hashlib name) over the subjectPublicKey bits."""
        return hashlib.new(algorithm, self.key_bits).digest()

    @property
    def sha1_key_hash(self) -> bytes:
        """SHA-1 of the subjectPublicKey bits: the OCSP ResponderID byKey value (RFC 6960 §4.2.1)."""
        return hashlib.sha1(self.key_bits).digest()  # noqa: S324 - mandated by RFC 6960, not a security hash here


class IssuerIdentityMemo:
    """A bounded, thread-safe memo of :meth:`IssuerIdentity.of`, owned by one checker or client.

    Issuers are few (CA generations, responders) and reading their identity costs a DER parse, so the
    objects that validate many answers keep one of these instead of a hidden module-level cache.
    """

    def __init__(self, max_entries: int = 256) -> None:
        self._max_entries = max_entries
        self._identities: dict[x509.Certificate, IssuerIdentity] = {}
        self._lock = threading.Lock()

    def __call__(self, certificate: x509.Certificate) -> IssuerIdentity:
        """The identity of ``certificate``. Raises what :meth:`IssuerIdentity.of` raises."""
        identity = self._identities.get(certificate)  # certificates hash and compare by their DER
        if identity is None:
            identity = IssuerIdentity.of(certificate)
            with self._lock:
                if len(self._identities) >= self._max_entries:
                    self._identities.clear()
                self._identities[certificate] = identity
        return identity


class Window(Enum):
    """Outcome of a thisUpdate/nextUpdate freshness test."""

    FRESH = "fresh"
    NOT_YET_VALID = "not_yet_valid"
    STALE = "stale"


def freshness(
    this_update: datetime,
    next_update: datetime | None,
    *,
    at: datetime,
    clock_skew: timedelta,
    max_age: timedelta,
) -> Window:
    """Is an answer issued at ``this_update`` and valid until ``next_update`` usable at ``at``?

    Rules (RFC 6960 §3.2 (4)(5), RFC 5280 §6.3.3 (a)(2)): ``this_update <= at + clock_skew``; then
    ``at <= next_update + clock_skew``, or when there is no ``next_update``,
    ``at - this_update <= max_age``. All datetimes are tz-aware.
    """
    if this_update > at + clock_skew:
        return Window.NOT_YET_VALID
    if next_update is not None:
        return Window.FRESH if at <= next_update + clock_skew else Window.STALE
    return Window.FRESH if at - this_update <= max_age else Window.STALE


def expiry(this_update: datetime, next_update: datetime | None, max_age: timedelta) -> datetime:
    """When a cached answer stops being usable: its nextUpdate, or thisUpdate + ``max_age``."""
    return next_update if next_update is not None else this_update + max_age


_RSA_PKCS1_OIDS = frozenset(
    {
        SignatureAlgorithmOID.RSA_WITH_SHA1,
        SignatureAlgorithmOID.RSA_WITH_SHA224,
        SignatureAlgorithmOID.RSA_WITH_SHA256,
        SignatureAlgorithmOID.RSA_WITH_SHA384,
        SignatureAlgorithmOID.RSA_WITH_SHA512,
    }
)
_ECDSA_OIDS = frozenset(
    {
        SignatureAlgorithmOID.ECDSA_WITH_SHA1,
        SignatureAlgorithmOID.ECDSA_WITH_SHA224,
        SignatureAlgorithmOID.ECDSA_WITH_SHA256,
        SignatureAlgorithmOID.ECDSA_WITH_SHA384,
        SignatureAlgorithmOID.ECDSA_WITH_SHA512,
    }
)
_DSA_OIDS = frozenset(
    {
        SignatureAlgorithmOID.DSA_WITH_SHA1,
        SignatureAlgorithmOID.DSA_WITH_SHA224,
        SignatureAlgorithmOID.DSA_WITH_SHA256,
    }
)

_HASH_CLASSES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class SignatureCheck(Enum):
    """Outcome of :func:`verify_signature`."""

    VALID = "valid"
    INVALID = "invalid"
    UNSUPPORTED = "unsupported"


def _pss_padding(parameters_der: bytes | None) -> tuple[padding.PSS, hashes.HashAlgorithm] | None:
    if parameters_der is None:
        return None
    params = algos.RSASSAPSSParams.load(parameters_der)
    hash_cls = _HASH_CLASSES.get(params["hash_algorithm"]["algorithm"].native)
    mgf = params["mask_gen_algorithm"]
    if hash_cls is None or mgf["algorithm"].native != "mgf1":
        return None
    mgf_hash_cls = _HASH_CLASSES.get(mgf["parameters"]["algorithm"].native)
    if mgf_hash_cls is None:
        return None
    salt = params["salt_length"].native
    if not isinstance(salt, int) or params["trailer_field"].native not in (1, "trailer_field_bc"):
        return None
    return padding.PSS(mgf=padding.MGF1(mgf_hash_cls()), salt_length=salt), hash_cls()


_KNOWN_SIGNATURE_OIDS = frozenset(
    {
        *_RSA_PKCS1_OIDS,
        *_ECDSA_OIDS,
        *_DSA_OIDS,
        SignatureAlgorithmOID.RSASSA_PSS,
        SignatureAlgorithmOID.ED25519,
        SignatureAlgorithmOID.ED448,
    }
)
_HASHED_OIDS = _RSA_PKCS1_OIDS | _ECDSA_OIDS | _DSA_OIDS


def _is_eddsa_pair(key: object, algorithm_oid: x509.ObjectIdentifier) -> bool:
    return (isinstance(key, ed25519.Ed25519PublicKey) and algorithm_oid == SignatureAlgorithmOID.ED25519) or (
        isinstance(key, ed448.Ed448PublicKey) and algorithm_oid == SignatureAlgorithmOID.ED448
    )


def verify_signature(
    public_key: object,
    *,
    signature: bytes,
    data: bytes,
    algorithm_oid: x509.ObjectIdentifier,
    hash_algorithm: hashes.HashAlgorithm | None,
    pss_parameters_der: bytes | None = None,
) -> SignatureCheck:
    """Verify ``signature`` over ``data`` with ``public_key`` under the signature algorithm ``algorithm_oid``.

    UNSUPPORTED: an algorithm we do not accept (unknown OID, MD5/MD2, unusable PSS parameters). INVALID: a
    bad signature, or a key whose type does not fit the algorithm. Never raises.
    """
    if algorithm_oid not in _KNOWN_SIGNATURE_OIDS:
        return SignatureCheck.UNSUPPORTED
    digest: hashes.HashAlgorithm = hashes.SHA256()  # replaced below for hashed algorithms
    if algorithm_oid in _HASHED_OIDS:
        if hash_algorithm is None or hash_name(hash_algorithm) is None:
            return SignatureCheck.UNSUPPORTED
        digest = hash_algorithm
    key = public_key
    try:
        if isinstance(key, rsa.RSAPublicKey) and algorithm_oid in _RSA_PKCS1_OIDS:
            key.verify(signature, data, padding.PKCS1v15(), digest)
        elif isinstance(key, rsa.RSAPublicKey) and algorithm_oid == SignatureAlgorithmOID.RSASSA_PSS:
            pss = _pss_padding(pss_parameters_der)
            if pss is None:
                return SignatureCheck.UNSUPPORTED
            key.verify(signature, data, pss[0], pss[1])
        elif isinstance(key, ec.EllipticCurvePublicKey) and algorithm_oid in _ECDSA_OIDS:
            key.verify(signature, data, ec.ECDSA(digest))
        elif isinstance(key, dsa.DSAPublicKey) and algorithm_oid in _DSA_OIDS:
            key.verify(signature, data, digest)
        elif _is_eddsa_pair(key, algorithm_oid):
            assert isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey)
            key.verify(signature, data)
        else:
            return SignatureCheck.INVALID  # the key type does not fit the algorithm
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
        return SignatureCheck.INVALID
    return SignatureCheck.VALID


def certificate_signature_parameters(certificate: x509.Certificate) -> bytes | None:
    """The DER of the certificate's signatureAlgorithm parameters when RSASSA-PSS, else ``None``."""
    if certificate.signature_algorithm_oid != SignatureAlgorithmOID.RSASSA_PSS:
        return None
    parsed = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    params = parsed["signature_algorithm"]["parameters"]
    return None if params.native is None else bytes(params.dump())


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Is ``certificate`` directly issued by ``issuer``: issuer name equals the issuer's subject and the
    signature verifies with the issuer's key (RFC 5280 §6.1.3 (a)(1), (a)(4))?

    cryptography's ``verify_directly_issued_by`` refuses SHA-1 signatures, which RFC 6960 responder
    certificates in the field (and the OpenSSL OCSP vectors) still use; this accepts SHA-1..SHA-512 and
    never MD5. Never raises for bad input.
    """
    try:
        if certificate.issuer != issuer.subject:
            return False
        try:
            hash_algorithm: hashes.HashAlgorithm | None = certificate.signature_hash_algorithm
        except UnsupportedAlgorithm:
            hash_algorithm = None
        outcome = verify_signature(
            issuer.public_key(),
            signature=certificate.signature,
            data=certificate.tbs_certificate_bytes,
            algorithm_oid=certificate.signature_algorithm_oid,
            hash_algorithm=hash_algorithm,
            pss_parameters_der=certificate_signature_parameters(certificate),
        )
    except DEPENDENCY_ERRORS:
        return False
    return outcome is SignatureCheck.VALID


def valid_at(certificate: x509.Certificate, at: datetime) -> bool:
    """``notBefore <= at <= notAfter`` (RFC 5280 §4.1.2.5), using cryptography's ``*_utc`` properties."""
    return certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc


def describe(error: BaseException) -> str:
    """A short, data-free description of a dependency exception for an error message."""
    return type(error).__name__
