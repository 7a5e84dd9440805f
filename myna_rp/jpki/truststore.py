"""Trust anchors: the J-LIS root CAs (one self-signed root per purpose and generation, no intermediates).

All generations of a purpose share one subject DN, so anchors are told apart by key (fingerprint, SKI),
never by name. The J-LIS production roots are pinned to their SHA-256 fingerprints (domain-jpki.md; the
``source`` of each pin says whether J-LIS published it or it was observed on a public copy).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.verification import Store

from ..encoding import load_certificates
from ..errors import ConfigurationError

JPKI_SIGNING_OU = "JPKI for digital signature"
JPKI_USER_AUTHENTICATION_OU = "JPKI for user authentication"


class AnchorPurpose(StrEnum):
    """Which hierarchy an anchor roots."""

    SIGNING = "signing"
    USER_AUTHENTICATION = "user_authentication"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class JLISRootPin:
    """A pinned J-LIS root: purpose, generation, SHA-256 of the DER, and where the value comes from."""

    purpose: AnchorPurpose
    generation: int
    sha256: str
    source: str


def _jlis_pins() -> Mapping[str, JLISRootPin]:
    s, u = AnchorPurpose.SIGNING, AnchorPurpose.USER_AUTHENTICATION
    pins = (
        JLISRootPin(s, 1, "19645405a1fe14377434bd55957628ac4038557c542403a2243f21c706fc9355", "observed"),
        JLISRootPin(
            s, 2, "79679c33e4cc9319440f1ad120a597ff1844e2ef217063adb176966fd5e6fbeb", "J-LIS published"
        ),
        JLISRootPin(
            s, 3, "d227f6cde11d35c5252178f106f843d24651944975413b539fa2fb68dbfa365f", "J-LIS published"
        ),
        JLISRootPin(u, 1, "4dcfc4ca0aaf9fb2a3081b3f0c991c320b3acc008667a341eeaec5af1d58ca7d", "observed"),
        JLISRootPin(u, 3, "64114f29620c24ed2631d46476a040e7ee740d956089c00b036a6a8118c322b5", "observed"),
    )
    return MappingProxyType({pin.sha256: pin for pin in pins})


@dataclass(frozen=True, slots=True)
class TrustAnchor:
    """One trusted root.

    Attributes:
        certificate: the root certificate.
        sha256: lower-case hex SHA-256 of its DER.
        purpose: signing / user authentication (from the OU of the subject DN) or other.
        generation: the J-LIS generation when the anchor is a pinned J-LIS root, else ``None``.
    """

    certificate: x509.Certificate
    sha256: str
    purpose: AnchorPurpose
    generation: int | None


def _purpose_of(certificate: x509.Certificate) -> AnchorPurpose:
    ous = {a.value for a in certificate.subject.get_attributes_for_oid(x509.NameOID.ORGANIZATIONAL_UNIT_NAME)}
    if JPKI_SIGNING_OU in ous:
        return AnchorPurpose.SIGNING
    if JPKI_USER_AUTHENTICATION_OU in ous:
        return AnchorPurpose.USER_AUTHENTICATION
    return AnchorPurpose.OTHER


class TrustStore:
    """An immutable set of trust anchors.

    Build with :meth:`from_certificates`, :meth:`from_pem_files` (PEM or DER files) or
    :meth:`jlis_production` (J-LIS roots, each checked against its pinned fingerprint).

    Raises:
        ConfigurationError: no anchors, or a J-LIS root whose fingerprint is not pinned.
        MalformedInputError: a file that is not a certificate.
    """

    JLIS_PINS: Mapping[str, JLISRootPin] = _jlis_pins()

    def __init__(self, anchors: Iterable[TrustAnchor]) -> None:
        unique = {a.sha256: a for a in anchors}
        if not unique:
            raise ConfigurationError("a trust store needs at least one trust anchor")
        self._anchors = tuple(unique.values())
        self._store = Store([a.certificate for a in self._anchors])
        # Certificates hash and compare by their DER, so this lookup costs no re-encoding.
        self._by_certificate = MappingProxyType({a.certificate: a for a in self._anchors})

    @classmethod
    def from_certificates(cls, certificates: Iterable[x509.Certificate]) -> TrustStore:
        anchors = []
        for certificate in certificates:
            digest = hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()
            pin = cls.JLIS_PINS.get(digest)
            anchors.append(
                TrustAnchor(
                    certificate=certificate,
                    sha256=digest,
                    purpose=pin.purpose if pin else _purpose_of(certificate),
                    generation=pin.generation if pin else None,
                )
            )
        return cls(anchors)

    @classmethod
    def from_pem_files(cls, paths: Iterable[str | Path]) -> TrustStore:
        """Load every certificate in the given files (PEM, possibly several per file, or DER)."""
        certificates: list[x509.Certificate] = []
        for path in paths:
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                raise ConfigurationError(f"cannot read trust anchor file {path}: {exc.strerror}") from exc
            certificates.extend(load_certificates(data, what=f"trust anchor {Path(path).name}"))
        return cls.from_certificates(certificates)

    @classmethod
    def jlis_production(
        cls, paths: Iterable[str | Path], *, extra_pins: Iterable[JLISRootPin] = ()
    ) -> TrustStore:
        """Load J-LIS production roots, refusing any file whose SHA-256 is not pinned.

        ``extra_pins`` adds fingerprints not known to this release (e.g. authca02, whose official value
        is not in our sources); check them against https://www.jpki.go.jp/ca/ before use.
        """
        pins = dict(cls.JLIS_PINS) | {p.sha256: p for p in extra_pins}
        anchors = []
        for anchor in cls.from_pem_files(paths).anchors:
            pin = pins.get(anchor.sha256)
            if pin is None:
                raise ConfigurationError(
                    f"root with SHA-256 {anchor.sha256} is not a pinned J-LIS production root"
                )
            anchors.append(TrustAnchor(anchor.certificate, anchor.sha256, pin.purpose, pin.generation))
        return cls(anchors)

    @property
    def anchors(self) -> tuple[TrustAnchor, ...]:
        return self._anchors

    @property
    def store(self) -> Store:
        """The ``cryptography`` verification store built once from the anchors."""
        return self._store

    def anchor_for(self, certificate: x509.Certificate) -> TrustAnchor | None:
        """The anchor whose DER equals ``certificate``, if any."""
        return self._by_certificate.get(certificate)
