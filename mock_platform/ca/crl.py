"""CRL issuing (RFC 5280 §5): v2 full CRLs per CA generation, on a daily schedule or forced.

Each CRL carries:

* ``version`` v2, ``signature`` sha256WithRSAEncryption by the generation's root key, ``issuer`` = the
  root's DN (shared by all generations: relying parties match by AKI/signature);
* ``thisUpdate`` = issue time; ``nextUpdate`` = the next scheduled issue + a grace period
  (:class:`CRLSchedule`), or absent for the scenario that needs it;
* extensions: authorityKeyIdentifier (keyIdentifier = root SKI, §5.2.1) and cRLNumber (§5.2.3,
  monotonically increasing per generation; the number is persisted by the caller);
* one entry per revoked or held certificate: serial, revocationDate, and the entry extensions reasonCode
  (§5.3.1) and, when known, invalidityDate (§5.3.2).

No issuingDistributionPoint: the mock's CRLs are complete for their generation, so the directoryName
cRLDistributionPoints of the certificates is informational (J-LIS partitions by municipality).

Scheduling is lazy and deterministic: a CRL is *due* once the clock has passed the first scheduled issue
instant after the latest CRL's thisUpdate (daily at ``issue_time`` JST by default). Whoever asks first
(the HTTP route, :meth:`~mock_platform.ca.service.CAService.current_crl`) triggers the issue; its
content is the revocation state at that moment. Revocations therefore reach a CRL only at its next issue,
and a released hold vanishes from the next issue (no removeFromCRL entry: allowed for full CRLs).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from ..clock import JST, require_aware, whole_seconds
from ._der import remove_crl_next_update
from .authority import CAGeneration
from .profile import RevocationReason


@dataclass(frozen=True, slots=True)
class RevokedEntry:
    """One CRL entry.

    Attributes:
        serial_number: the revoked certificate's serial.
        revocation_time: revocationDate (aware).
        reason: the reasonCode entry extension; ``None`` omits the extension (RFC 5280 §5.3.1 says an
            ``unspecified`` reason SHOULD be expressed that way; the mock encodes it explicitly by default
            because platform operators expose it as a reason).
        invalidity_date: the invalidityDate entry extension, when known (aware).
    """

    serial_number: int
    revocation_time: datetime
    reason: RevocationReason | None
    invalidity_date: datetime | None = None


def build_crl(
    *,
    issuer: CAGeneration,
    crl_number: int,
    this_update: datetime,
    next_update: datetime | None,
    entries: Iterable[RevokedEntry],
) -> x509.CertificateRevocationList:
    """Build and sign one v2 CRL.

    Args:
        issuer: the CA generation whose key signs (and whose DN and SKI are used).
        crl_number: cRLNumber, a non-negative integer < 2**159 (RFC 5280 §5.2.3: ≤ 20 octets).
        this_update: thisUpdate (aware; fractions dropped).
        next_update: nextUpdate, or ``None`` to omit the field.
        entries: the revoked certificates.

    Raises:
        ValueError: naive datetimes, nextUpdate before thisUpdate, or a CRL number out of range.
    """
    if not 0 <= crl_number < 2**159:
        raise ValueError("cRLNumber must be a non-negative integer of at most 20 octets")
    last = whole_seconds(require_aware(this_update))
    following = whole_seconds(require_aware(next_update)) if next_update is not None else None
    if following is not None and following < last:
        raise ValueError("nextUpdate precedes thisUpdate")
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.subject)
        .last_update(last)
        # A placeholder when the CRL must have none: cryptography requires one; removed below.
        .next_update(following if following is not None else last + timedelta(days=1))
        .add_extension(x509.AuthorityKeyIdentifier(issuer.subject_key_identifier, None, None), critical=False)
        .add_extension(x509.CRLNumber(crl_number), critical=False)
    )
    for entry in entries:
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial_number)
            .revocation_date(whole_seconds(require_aware(entry.revocation_time)))
        )
        if entry.reason is not None:
            revoked = revoked.add_extension(x509.CRLReason(entry.reason.reason_flag), critical=False)
        if entry.invalidity_date is not None:
            revoked = revoked.add_extension(
                x509.InvalidityDate(whole_seconds(require_aware(entry.invalidity_date)).astimezone(UTC)),
                critical=False,
            )
        builder = builder.add_revoked_certificate(revoked.build())
    crl = builder.sign(issuer.private_key, hashes.SHA256())
    if following is not None:
        return crl
    stripped = remove_crl_next_update(crl.public_bytes(serialization.Encoding.DER), issuer.private_key)
    return x509.load_der_x509_crl(stripped)


@dataclass(frozen=True, slots=True)
class CRLSchedule:
    """Daily CRL issue, like J-LIS ("updated daily").

    Attributes:
        issue_time: the JST wall-clock time of the daily issue (default 00:00).
        next_update_grace: added to the next scheduled issue to form nextUpdate, so a relying party that
            fetches a little late still holds a current CRL (default 1 hour).
    """

    issue_time: time = time(0, 0)
    next_update_grace: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if self.issue_time.tzinfo is not None:
            raise ValueError("issue_time is a JST wall-clock time without tzinfo")
        if self.next_update_grace < timedelta(0):
            raise ValueError("next_update_grace must not be negative")

    def next_issue_after(self, instant: datetime) -> datetime:
        """The first scheduled issue instant strictly after ``instant`` (aware UTC)."""
        local = require_aware(instant).astimezone(JST)
        candidate = datetime.combine(local.date(), self.issue_time, tzinfo=JST)
        if candidate <= local:
            candidate += timedelta(days=1)
        return candidate.astimezone(UTC)

    def next_update_for(self, this_update: datetime) -> datetime:
        """nextUpdate of a CRL issued at ``this_update``."""
        return self.next_issue_after(this_update) + self.next_update_grace

    def is_due(self, last_this_update: datetime | None, now: datetime) -> bool:
        """Whether a CRL is due at ``now``, given the latest CRL's thisUpdate (``None``: none yet)."""
        if last_this_update is None:
            return True
        return require_aware(now) >= self.next_issue_after(last_this_update)
