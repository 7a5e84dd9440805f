"""JPKIVerifier: signatures made with the JPKI signing or user authentication certificate.

One immutable verifier is built from a trust store, a revocation checker and a revocation policy, and is
safe to share between threads. Every verification:

1. reads the time from the clock (or ``at``);
2. checks the leaf's validity period (CERTIFICATE_EXPIRED / CERTIFICATE_NOT_YET_VALID);
3. checks the JPKI profile: kind from policy OID + keyUsage, form factor (WRONG_KEY_USAGE);
4. validates the path to a trust anchor with ``cryptography.x509.verification`` (UNTRUSTED_ISSUER);
5. verifies the signature (SIGNATURE_INVALID);
6. checks revocation of every certificate below the anchor under the policy
   (CERTIFICATE_REVOKED / CERTIFICATE_ON_HOLD / REVOCATION_UNAVAILABLE);
7. parses the basic four attributes (signing certificates only).

Success returns a frozen result carrying the evidence; failure raises a :class:`~myna_rp.errors.MynaRPError`
whose ``reason`` says why. Legal context: 犯罪収益移転防止法施行規則 6条1項1号 (eKYC by the signing
certificate) requires steps 4-6.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from ..clock import Clock, SystemClock, require_aware
from ..encoding import load_certificate, single_der
from ..errors import (
    CertificateRevokedError,
    ChallengeError,
    ConfigurationError,
    MalformedInputError,
    Reason,
    VerificationError,
)
from ..revocation import CertStatus, RevocationPolicy, RevocationStatus
from ..revocation.checker import RevocationChecker, RevocationEvidence
from .attributes import BasicFourAttributes, parse_basic_four_attributes
from .cms import parse_signed_data
from .path import PathValidator
from .profile import CertificateKind, CertificateProfile, FormFactor, PolicyRules, classify
from .signature import verify_signature_bytes
from .truststore import TrustAnchor, TrustStore

_MAX_MEMOISED_LEAVES = 4096
_LOG = logging.getLogger("myna_rp.revocation")
_KIND_VALUES = frozenset(kind.value for kind in CertificateKind)

#: Domain-separation tag of the platform's holder-consent structures (docs/platform_operator.md): what a
#: holder signs to consent starts with it, and no login challenge may (a login signature can then never
#: double as a consent). The mock platform keeps its own copy (the packages do not import each other).
CONSENT_STRUCTURE_PREFIX = b"myna-platform-consent/"


def is_consent_structure(challenge: bytes) -> bool:
    """Whether ``challenge`` is shaped like a platform consent structure (never a valid login challenge)."""
    return bytes(challenge[: len(CONSENT_STRUCTURE_PREFIX)]) == CONSENT_STRUCTURE_PREFIX


def _require_bytes(**values: object) -> None:
    for name, value in values.items():
        if not isinstance(value, bytes | bytearray | memoryview):
            raise MalformedInputError(f"{name} must be bytes, got {type(value).__name__}")


def sha256_hex(certificate: x509.Certificate) -> str:
    """Lower-case hex SHA-256 of the certificate's DER (its fingerprint)."""
    return hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()


@dataclass(frozen=True, slots=True)
class CertificateCheck:
    """The certificate-level evidence shared by every kind of verification.

    Attributes:
        certificate: the end-entity certificate.
        certificate_kind: signing or user authentication.
        form_factor: card, Android, iPhone or unknown (from the policy-OID rules).
        policy_oids: the certificatePolicies OIDs of the leaf.
        chain: the validated path, leaf first, trust anchor last.
        trust_anchor: the anchor the path ends in (generation known for pinned J-LIS roots).
        revocation: the leaf's revocation status.
        chain_revocation: one status per certificate below the anchor, leaf first.
        verified_at: the time the verification was made for (aware).
    """

    certificate: x509.Certificate
    certificate_kind: CertificateKind
    form_factor: FormFactor
    policy_oids: tuple[str, ...]
    chain: tuple[x509.Certificate, ...]
    trust_anchor: TrustAnchor
    revocation: RevocationStatus
    chain_revocation: tuple[RevocationStatus, ...]
    verified_at: datetime

    def __repr__(self) -> str:
        # The leaf's subject carries L= (prefecture, municipality): keep it out of logs.
        return (
            f"CertificateCheck(kind={self.certificate_kind.value}, form_factor={self.form_factor.value}, "
            f"revocation={self.revocation.status.value}, chain_length={len(self.chain)})"
        )

    @property
    def serial_number(self) -> int:
        return self.certificate.serial_number

    @property
    def certificate_sha256(self) -> str:
        return sha256_hex(self.certificate)

    @property
    def chain_sha256(self) -> tuple[str, ...]:
        """SHA-256 hex of each certificate of the chain, leaf first."""
        return tuple(sha256_hex(c) for c in self.chain)


class _JPKIMint:
    """Single-use mark that :class:`JPKIVerifier` built a :class:`JPKIVerification` (module-private)."""

    __slots__ = ("used",)

    def __init__(self) -> None:
        self.used = False


@dataclass(frozen=True, slots=True)
class JPKIVerification:
    """A verified signature made with a JPKI certificate.

    Only a result built by :class:`JPKIVerifier` is marked verified (:func:`is_verified_jpki`); one built
    by hand, or copied with changes (``dataclasses.replace``), is not — consumers that must never answer
    from unverified data (``verify_age``) check the mark.

    Attributes:
        check: certificate-level evidence (kind, form factor, chain, revocation).
        attributes: the basic four attributes (基本4情報) for a signing certificate, else ``None``.
        signed_content: the bytes that were signed (the data, or the CMS content).
        hash_algorithm: the digest used by the signature (``sha256`` for JPKI tokens).
        cms_signer_identifier: for CMS, ``issuer_and_serial_number`` or ``subject_key_identifier``.
        cms_signing_time: for CMS, the signer's claimed signingTime (not a trusted time).
    """

    check: CertificateCheck
    attributes: BasicFourAttributes | None
    signed_content: bytes
    hash_algorithm: str
    cms_signer_identifier: str | None = None
    cms_signing_time: datetime | None = None
    _mint: _JPKIMint | None = field(default=None, kw_only=True, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        mint = self._mint
        if type(mint) is _JPKIMint and not mint.used:
            mint.used = True
        elif mint is not None:  # a copy (dataclasses.replace) or a forged mark: not the verifier's result
            object.__setattr__(self, "_mint", None)

    def __repr__(self) -> str:
        # Neither the attributes nor the signed content (which may be a personal document) are shown.
        return f"JPKIVerification({self.check!r}, hash_algorithm={self.hash_algorithm})"

    @property
    def certificate_kind(self) -> CertificateKind:
        return self.check.certificate_kind

    @property
    def form_factor(self) -> FormFactor:
        return self.check.form_factor

    @property
    def revocation(self) -> RevocationStatus:
        return self.check.revocation

    @property
    def certificate(self) -> x509.Certificate:
        return self.check.certificate


def is_verified_jpki(value: object) -> bool:
    """True only for a :class:`JPKIVerification` that :class:`JPKIVerifier` built (not by hand, not a
    copy made with ``dataclasses.replace``)."""
    if not isinstance(value, JPKIVerification):
        return False
    mint = value._mint
    return type(mint) is _JPKIMint and mint.used


@dataclass(frozen=True, slots=True)
class JPKIAuthentication:
    """A verified login with the user authentication certificate (利用者証明用電子証明書).

    Holds no personal data: the certificate carries none, and ``subject_id`` is a keyed hash.

    Attributes:
        subject_id: stable, opaque identifier of the certificate's subject (base64url, 43 chars); keyed by
            the verifier's ``subject_id_key`` so that two relying parties get unlinkable values.
        check: certificate-level evidence.
    """

    subject_id: str
    check: CertificateCheck

    @property
    def form_factor(self) -> FormFactor:
        return self.check.form_factor

    @property
    def revocation(self) -> RevocationStatus:
        return self.check.revocation


class JPKIVerifier:
    """Verifies JPKI signatures, certificate paths and revocation.

    Args:
        trust: the trust anchors (J-LIS roots, or the mock platform's roots in tests).
        revocation: the revocation checker; required unless ``policy`` is ``RevocationPolicy.UNSAFE_SKIP``.
        policy: the revocation policy, hard-fail ``REQUIRE`` by default.
        clock: the source of "now" when a call gives no ``at``.
        policy_rules: policy OID → kind and form factor.
        hash_algorithms: digests accepted for raw signatures, tried in order (SHA-256 by default).
        subject_id_key: the HMAC key for :attr:`JPKIAuthentication.subject_id` (a per-RP secret).
        path_cache_size: validated paths kept (see :class:`~myna_rp.jpki.path.PathValidator`); 0 disables.

    Raises:
        ConfigurationError: a policy that checks revocation but no checker.
    """

    def __init__(
        self,
        trust: TrustStore,
        *,
        revocation: RevocationChecker | None,
        policy: RevocationPolicy = RevocationPolicy.REQUIRE,
        clock: Clock | None = None,
        policy_rules: PolicyRules | None = None,
        hash_algorithms: Sequence[hashes.HashAlgorithm] = (hashes.SHA256(),),
        subject_id_key: bytes = b"",
        path_cache_size: int = 4096,
    ) -> None:
        if policy.check and revocation is None:
            raise ConfigurationError(
                f"revocation policy {policy.name} checks revocation: pass a RevocationChecker "
                "(or RevocationPolicy.UNSAFE_SKIP explicitly)"
            )
        if not hash_algorithms:
            raise ConfigurationError("at least one hash algorithm is needed")
        self._trust = trust
        self._paths = PathValidator(trust, cache_size=path_cache_size)
        self._revocation = revocation
        self._policy = policy
        self._clock: Clock = clock or SystemClock()
        self._rules = policy_rules or PolicyRules()
        self._hashes = tuple(hash_algorithms)
        self._subject_id_key = subject_id_key
        # Certificates hash and compare by DER; bounded, cleared when full.
        self._facts: dict[x509.Certificate, tuple[CertificateProfile, BasicFourAttributes | None]] = {}

    @property
    def policy(self) -> RevocationPolicy:
        return self._policy

    # -- public API -------------------------------------------------------------------------------

    def verify_signature(
        self,
        *,
        data: bytes,
        signature: bytes,
        certificate: bytes | x509.Certificate,
        intermediates: Sequence[x509.Certificate] = (),
        at: datetime | None = None,
        evidence: RevocationEvidence | None = None,
        expected_kind: CertificateKind | None = None,
    ) -> JPKIVerification:
        """Verify a raw signature (PKCS#1 v1.5 or ECDSA over SHA-256(data)) and its certificate.

        Args:
            data: the exact signed bytes (challenge or document).
            signature: the signature value.
            certificate: the signer's certificate (DER, PEM or parsed).
            at: verification time (aware); the clock's now by default.
            evidence: CRLs / OCSP responses supplied by the caller, used before online sources.
            expected_kind: require a signing or a user authentication certificate.

        Raises:
            MalformedInputError, VerificationError, CertificateRevokedError, RevocationUnavailableError.
        """
        _require_bytes(data=data, signature=signature)
        leaf = load_certificate(certificate)
        when = self._when(at)
        profile, attributes, chain, anchor = self._certificate_path(leaf, intermediates, when, expected_kind)
        used = self._verify_with_any_hash(leaf, signature, data)
        check = self._revocation_check(leaf, profile, chain, anchor, when, evidence)
        return JPKIVerification(
            check=check,
            attributes=attributes,
            signed_content=data,
            hash_algorithm=used.name,
            _mint=_JPKIMint(),
        )

    def verify_cms(
        self,
        signed_data: bytes,
        *,
        content: bytes | None = None,
        certificate: bytes | x509.Certificate | None = None,
        at: datetime | None = None,
        evidence: RevocationEvidence | None = None,
        expected_kind: CertificateKind | None = None,
    ) -> JPKIVerification:
        """Verify a CMS SignedData (RFC 5652), attached or detached (``content``), DER or PEM.

        The signer may be identified by issuerAndSerialNumber or subjectKeyIdentifier; its certificate
        is taken from the SignedData or from ``certificate``.

        Raises:
            MalformedInputError, VerificationError, CertificateRevokedError, RevocationUnavailableError.
        """
        _require_bytes(signed_data=signed_data)
        if content is not None:
            _require_bytes(content=content)
        der = single_der(signed_data, labels=("CMS", "PKCS7"), what="CMS SignedData")
        supplied = load_certificate(certificate) if certificate is not None else None
        parsed = parse_signed_data(der, content=content, certificate=supplied)
        leaf = parsed.signer_certificate
        when = self._when(at)
        profile, attributes, chain, anchor = self._certificate_path(
            leaf, parsed.other_certificates, when, expected_kind
        )
        verify_signature_bytes(
            leaf.public_key(), parsed.signature, parsed.signed_bytes, parsed.hash_algorithm
        )
        check = self._revocation_check(leaf, profile, chain, anchor, when, evidence)
        return JPKIVerification(
            check=check,
            attributes=attributes,
            signed_content=parsed.content,
            hash_algorithm=parsed.hash_algorithm.name,
            cms_signer_identifier=parsed.signer_identifier,
            cms_signing_time=parsed.signing_time,
            _mint=_JPKIMint(),
        )

    def verify_authentication(
        self,
        *,
        challenge: bytes,
        signature: bytes,
        certificate: bytes | x509.Certificate,
        at: datetime | None = None,
        evidence: RevocationEvidence | None = None,
    ) -> JPKIAuthentication:
        """Verify a challenge–response login with the user authentication certificate.

        The caller issues ``challenge`` (single use, see :mod:`myna_rp.challenge` in a later release) and
        receives the signature over it. Returns a stable ``subject_id``; never personal data.

        Raises:
            VerificationError: WRONG_KEY_USAGE when the certificate is not a user authentication
                certificate; otherwise as :meth:`verify_signature`.
            ChallengeError: ``CHALLENGE_MISMATCH`` when ``challenge`` is a platform consent structure
                (:data:`CONSENT_STRUCTURE_PREFIX`): a login never verifies one (domain separation).
        """
        _require_bytes(challenge=challenge, signature=signature)
        if is_consent_structure(bytes(challenge)):
            raise ChallengeError(
                "a platform consent structure is not a login challenge", reason=Reason.CHALLENGE_MISMATCH
            )
        leaf = load_certificate(certificate)
        when = self._when(at)
        profile, _, chain, anchor = self._certificate_path(
            leaf, (), when, CertificateKind.USER_AUTHENTICATION
        )
        self._verify_with_any_hash(leaf, signature, challenge)
        check = self._revocation_check(leaf, profile, chain, anchor, when, evidence)
        return JPKIAuthentication(subject_id=self.subject_id(leaf), check=check)

    def subject_id(self, certificate: x509.Certificate) -> str:
        """Opaque identifier of a certificate's subject: HMAC-SHA-256 over issuer and subject DER."""
        mac = hmac.new(
            self._subject_id_key,
            b"myna_rp/subject/v1\0"
            + certificate.issuer.public_bytes()
            + b"\0"
            + certificate.subject.public_bytes(),
            hashlib.sha256,
        ).digest()
        return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")

    # -- steps ------------------------------------------------------------------------------------

    def _when(self, at: datetime | None) -> datetime:
        return require_aware(at) if at is not None else require_aware(self._clock.now())

    def _certificate_path(
        self,
        leaf: x509.Certificate,
        intermediates: Sequence[x509.Certificate],
        when: datetime,
        expected_kind: CertificateKind | None,
    ) -> tuple[CertificateProfile, BasicFourAttributes | None, tuple[x509.Certificate, ...], TrustAnchor]:
        profile, attributes = self._leaf_facts(leaf)
        if expected_kind is not None and profile.kind is not expected_kind:
            raise VerificationError(
                f"a {expected_kind.value} certificate is required, got {profile.kind.value}",
                reason=Reason.WRONG_KEY_USAGE,
            )
        try:
            chain = self._paths.validate(leaf, at=when, intermediates=intermediates)
        except VerificationError as exc:
            raise self._explain_path_failure(leaf, intermediates, when, exc) from exc
        if len(chain) < 2:
            raise VerificationError(
                "the signer's certificate is itself a trust anchor", reason=Reason.UNTRUSTED_ISSUER
            )
        anchor = self._trust.anchor_for(chain[-1])
        if anchor is None:  # cannot happen: the store holds exactly the anchors
            raise VerificationError("path ends outside the trust store", reason=Reason.UNTRUSTED_ISSUER)
        if anchor.purpose.value in _KIND_VALUES and anchor.purpose.value != profile.kind.value:
            # J-LIS runs one hierarchy per purpose: a signing leaf under the authentication root (or the
            # reverse) is not a JPKI certificate, whatever its own extensions claim.
            raise VerificationError(
                f"a {profile.kind.value} certificate must chain to a {profile.kind.value} root, "
                f"not to a {anchor.purpose.value} root",
                reason=Reason.UNTRUSTED_ISSUER,
            )
        return profile, attributes, chain, anchor

    def _explain_path_failure(
        self,
        leaf: x509.Certificate,
        intermediates: Sequence[x509.Certificate],
        when: datetime,
        failure: VerificationError,
    ) -> VerificationError:
        """Tell an expired (or not yet valid) but otherwise trusted leaf from an untrusted one.

        Path validation fails as a whole; when the leaf is outside its validity period, the path is
        validated once more at the edge of that period. Only if it succeeds there is the leaf's time the
        reason; otherwise (rogue root, bad signature, …) the answer stays UNTRUSTED_ISSUER.
        """
        if leaf.not_valid_before_utc <= when <= leaf.not_valid_after_utc:
            return failure
        expired = when > leaf.not_valid_after_utc
        edge = leaf.not_valid_after_utc if expired else leaf.not_valid_before_utc
        try:
            self._paths.validate(leaf, at=edge, intermediates=intermediates)
        except VerificationError:
            return failure
        if expired:
            return VerificationError(
                f"certificate expired at {leaf.not_valid_after_utc.isoformat()}",
                reason=Reason.CERTIFICATE_EXPIRED,
            )
        return VerificationError(
            f"certificate is valid from {leaf.not_valid_before_utc.isoformat()}",
            reason=Reason.CERTIFICATE_NOT_YET_VALID,
        )

    def _verify_with_any_hash(
        self, leaf: x509.Certificate, signature: bytes, data: bytes
    ) -> hashes.HashAlgorithm:
        public_key = leaf.public_key()
        last: VerificationError | None = None
        for algorithm in self._hashes:
            try:
                verify_signature_bytes(public_key, signature, data, algorithm)
            except VerificationError as exc:
                if exc.reason is not Reason.SIGNATURE_INVALID:
                    raise
                last = exc
            else:
                return algorithm
        assert last is not None
        raise last

    def _revocation_check(
        self,
        leaf: x509.Certificate,
        profile: CertificateProfile,
        chain: tuple[x509.Certificate, ...],
        anchor: TrustAnchor,
        when: datetime,
        evidence: RevocationEvidence | None,
    ) -> CertificateCheck:
        if self._revocation is None:  # only reachable under UNSAFE_SKIP (checked in __init__)
            _LOG.warning(
                "revocation NOT checked (policy %s): this verification does not meet eKYC requirements",
                self._policy.name,
            )
            statuses = tuple(
                RevocationStatus(status=CertStatus.NOT_CHECKED, source=None, serial_number=c.serial_number)
                for c in chain[:-1]
            )
        else:
            try:
                statuses = tuple(
                    self._revocation.check_chain(chain, policy=self._policy, at=when, evidence=evidence)
                )
            except VerificationError as exc:
                exc.chain = chain
                raise
        for position, status in enumerate(statuses):
            what = "certificate" if position == 0 else f"CA certificate at depth {position}"
            error: CertificateRevokedError | None = None
            if status.status is CertStatus.REVOKED:
                error = CertificateRevokedError(
                    f"{what} is revoked ({status.reason.value if status.reason else 'no reason given'})",
                    status=status,
                    reason=Reason.CERTIFICATE_REVOKED,
                )
            elif status.status is CertStatus.ON_HOLD:
                error = CertificateRevokedError(
                    f"{what} is on hold (certificateHold)", status=status, reason=Reason.CERTIFICATE_ON_HOLD
                )
            if error is not None:
                error.chain = chain
                raise error
        return CertificateCheck(
            certificate=leaf,
            certificate_kind=profile.kind,
            form_factor=profile.form_factor,
            policy_oids=profile.policy_oids,
            chain=chain,
            trust_anchor=anchor,
            revocation=statuses[0],
            chain_revocation=statuses,
            verified_at=when,
        )

    def _leaf_facts(self, leaf: x509.Certificate) -> tuple[CertificateProfile, BasicFourAttributes | None]:
        """Profile and attributes of ``leaf``: pure functions of its DER, so memoised per verifier.

        Only successes are kept (a failing certificate is re-examined, and raises, every time). Path
        validation and revocation are never memoised here: they depend on time and on the outside world.
        """
        facts = self._facts.get(leaf)
        if facts is not None:
            return facts
        profile = classify(leaf, self._rules)
        attributes: BasicFourAttributes | None = None
        if profile.kind is CertificateKind.SIGNING:
            attributes = parse_basic_four_attributes(leaf)
            if attributes is None:
                raise VerificationError(
                    "signing certificate carries no basic four attributes", reason=Reason.WRONG_KEY_USAGE
                )
        if len(self._facts) >= _MAX_MEMOISED_LEAVES:
            self._facts.clear()
        self._facts[leaf] = (profile, attributes)
        return profile, attributes
