"""CRLs (RFC 5280 §5, §6.3): validation, an O(1) serial index, and where CRLs come from.

Parsing is cryptography's (``x509.load_der_x509_crl`` / ``load_pem_x509_crl``).

:func:`validate_crl` accepts a complete CRL only when (RFC 5280 §6.3.3):

- its issuer name equals the certificate issuer's subject (b)(1) — indirect CRLs are not supported;
- its signature verifies with the issuer's key, or with a separate CRL-signer key whose certificate has the
  same name, carries cRLSign and was validated by the caller to the same trust anchor (f)(g);
- the issuer's keyUsage, when present, asserts cRLSign (§4.2.1.3);
- authorityKeyIdentifier, when present with a keyIdentifier, equals the signer's subjectKeyIdentifier;
- ``thisUpdate <= at + skew`` and ``at <= nextUpdate + skew``, or without nextUpdate
  ``at - thisUpdate <= policy.crl_max_age`` (a)(2);
- no critical CRL extension or critical CRL entry extension it cannot process (§5.2, §5.3: "MUST NOT use
  the CRL"); delta CRLs, indirect CRLs (certificateIssuer) and reason-partitioned CRLs are refused;
- its cRLNumber is not lower than one already seen for the issuer (§5.2.3; a rollback).

:class:`CRLIndex` is built once per CRL: one pass over the entries (which is also the critical entry
extension scan) into a ``dict`` serial → packed ``(revocation time << 4) | reason code``. Lookups are one
dict probe; nothing else of the CRL is kept alive. Negative serials (PKITS 4.4.14/15) are plain Python ints.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final

import httpx
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import CRLEntryExtensionOID, ExtensionOID

from ..clock import require_aware
from ..errors import ConfigurationError, CRLFailure, CRLInvalidError, FetchFailure, RevocationFetchError
from . import _transport
from ._common import DEPENDENCY_ERRORS, Window, describe, freshness, hash_name
from .policy import RevocationPolicy
from .status import CertStatus, RevocationReason, RevocationSource, RevocationStatus

__all__ = ["CRLIndex", "CRLSource", "crl_issuer", "load_crl", "validate_crl"]

# RFC 5280 §5.3.1 CRLReason codes; 15 marks "no reasonCode extension".
_NO_REASON: Final = 15
_REMOVE_FROM_CRL: Final = 8
_HOLD: Final = 6
_CODE_BY_FLAG: Final[dict[x509.ReasonFlags, int]] = {
    x509.ReasonFlags.unspecified: 0,
    x509.ReasonFlags.key_compromise: 1,
    x509.ReasonFlags.ca_compromise: 2,
    x509.ReasonFlags.affiliation_changed: 3,
    x509.ReasonFlags.superseded: 4,
    x509.ReasonFlags.cessation_of_operation: 5,
    x509.ReasonFlags.certificate_hold: 6,
    x509.ReasonFlags.remove_from_crl: 8,
    x509.ReasonFlags.privilege_withdrawn: 9,
    x509.ReasonFlags.aa_compromise: 10,
}
_REASON_BY_CODE: Final[dict[int, RevocationReason]] = {
    0: RevocationReason.UNSPECIFIED,
    1: RevocationReason.KEY_COMPROMISE,
    2: RevocationReason.CA_COMPROMISE,
    3: RevocationReason.AFFILIATION_CHANGED,
    4: RevocationReason.SUPERSEDED,
    5: RevocationReason.CESSATION_OF_OPERATION,
    6: RevocationReason.CERTIFICATE_HOLD,
    8: RevocationReason.REMOVE_FROM_CRL,
    9: RevocationReason.PRIVILEGE_WITHDRAWN,
    10: RevocationReason.AA_COMPROMISE,
}

# CRL extensions this module processes (critical ones among them are honoured, §5.2).
_KNOWN_CRL_EXTENSIONS: Final = frozenset(
    {
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.CRL_NUMBER,
        ExtensionOID.ISSUING_DISTRIBUTION_POINT,
        ExtensionOID.ISSUER_ALTERNATIVE_NAME,
        ExtensionOID.AUTHORITY_INFORMATION_ACCESS,
        ExtensionOID.FRESHEST_CRL,
    }
)

CRL_CONTENT_TYPES: Final = frozenset(
    {
        "application/pkix-crl",
        "application/x-pkcs7-crl",
        "application/x-x509-crl",
        "application/octet-stream",
    }
)


def _fail(cause: CRLFailure, message: str, label: str = "") -> CRLInvalidError:
    return CRLInvalidError(message, cause=cause, source_label=label)


def load_crl(data: bytes | x509.CertificateRevocationList) -> x509.CertificateRevocationList:
    """Parse a CRL from DER or PEM bytes (a parsed CRL is returned unchanged).

    Raises:
        CRLInvalidError: MALFORMED when the bytes are not a CertificateList (RFC 5280 §5.1).
    """
    if isinstance(data, x509.CertificateRevocationList):
        return data
    raw = bytes(data)
    try:
        if raw.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(raw)
        return x509.load_der_x509_crl(raw)
    except DEPENDENCY_ERRORS as exc:
        raise _fail(CRLFailure.MALFORMED, f"not a CRL ({describe(exc)})") from exc


def crl_issuer(crl: x509.CertificateRevocationList, *, source_label: str = "") -> x509.Name:
    """The CRL's issuer name (parsed lazily by cryptography).

    Raises:
        CRLInvalidError: MALFORMED when the name does not parse.
    """
    try:
        return crl.issuer
    except DEPENDENCY_ERRORS as exc:
        raise _fail(CRLFailure.MALFORMED, f"unreadable CRL issuer ({describe(exc)})", source_label) from exc


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        return certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


class CRLIndex:
    """A validated CRL reduced to what revocation lookups need. Immutable.

    Build it with :func:`validate_crl` (validates, then indexes) or :meth:`build` (indexes only). Memory is
    one dict entry per revoked serial (two Python ints); the CRL object itself is not retained.

    Attributes (read-only):
        issuer: the CRL issuer name.
        this_update / next_update: aware UTC datetimes (``next_update`` may be ``None``).
        crl_number: the cRLNumber, or ``None``.
        issuing_distribution_point: the IDP extension value, or ``None``.
    """

    __slots__ = ("_entries", "_idp", "_issuer", "_next_update", "_number", "_this_update")

    def __init__(
        self,
        *,
        entries: dict[int, int],
        issuer: x509.Name,
        this_update: datetime,
        next_update: datetime | None,
        crl_number: int | None,
        issuing_distribution_point: x509.IssuingDistributionPoint | None,
    ) -> None:
        self._entries = entries
        self._issuer = issuer
        self._this_update = this_update
        self._next_update = next_update
        self._number = crl_number
        self._idp = issuing_distribution_point

    @classmethod
    def build(cls, crl: x509.CertificateRevocationList, *, source_label: str = "") -> CRLIndex:
        """Index every entry of ``crl`` in one pass. No signature/freshness check: see :func:`validate_crl`.

        Raises:
            CRLInvalidError: UNKNOWN_CRITICAL_ENTRY_EXTENSION (§5.3), UNSUPPORTED_CRL (certificateIssuer, i.e.
                an indirect CRL, or removeFromCRL in a complete CRL), MALFORMED.
        """
        entries: dict[int, int] = {}
        code_by_flag = _CODE_BY_FLAG
        reason_oid = CRLEntryExtensionOID.CRL_REASON
        invalidity_oid = CRLEntryExtensionOID.INVALIDITY_DATE
        issuer_oid = CRLEntryExtensionOID.CERTIFICATE_ISSUER
        try:
            for entry in crl:
                code = _NO_REASON
                for ext in entry.extensions:
                    oid = ext.oid
                    if oid == reason_oid:
                        code = code_by_flag[ext.value.reason]
                    elif oid == invalidity_oid:
                        continue
                    elif oid == issuer_oid:
                        raise _fail(
                            CRLFailure.UNSUPPORTED_CRL,
                            "entry with certificateIssuer: indirect CRLs are not supported (§5.3.3)",
                            source_label,
                        )
                    elif ext.critical:
                        raise _fail(
                            CRLFailure.UNKNOWN_CRITICAL_ENTRY_EXTENSION,
                            f"critical CRL entry extension {oid.dotted_string} cannot be processed (§5.3)",
                            source_label,
                        )
                if code == _REMOVE_FROM_CRL:
                    raise _fail(
                        CRLFailure.UNSUPPORTED_CRL,
                        "removeFromCRL appears only in delta CRLs (§5.3.1)",
                        source_label,
                    )
                packed = (int(entry.revocation_date_utc.timestamp()) << 4) | code
                serial = entry.serial_number
                previous = entries.get(serial)
                if previous is not None and (packed & 15) == _HOLD:
                    continue  # a duplicate entry: keep the stronger (non-hold) one
                entries[serial] = packed
            number: int | None
            try:
                number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
            except x509.ExtensionNotFound:
                number = None
            try:
                idp: x509.IssuingDistributionPoint | None = crl.extensions.get_extension_for_class(
                    x509.IssuingDistributionPoint
                ).value
            except x509.ExtensionNotFound:
                idp = None
            return cls(
                entries=entries,
                issuer=crl.issuer,
                this_update=crl.last_update_utc,
                next_update=crl.next_update_utc,
                crl_number=number,
                issuing_distribution_point=idp,
            )
        except DEPENDENCY_ERRORS as exc:
            raise _fail(
                CRLFailure.MALFORMED, f"unreadable CRL entry ({describe(exc)})", source_label
            ) from exc

    @property
    def issuer(self) -> x509.Name:
        return self._issuer

    @property
    def this_update(self) -> datetime:
        return self._this_update

    @property
    def next_update(self) -> datetime | None:
        return self._next_update

    @property
    def crl_number(self) -> int | None:
        return self._number

    @property
    def issuing_distribution_point(self) -> x509.IssuingDistributionPoint | None:
        return self._idp

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, serial: object) -> bool:
        return serial in self._entries

    def entry(self, serial: int) -> tuple[datetime, RevocationReason | None] | None:
        """``(revocation time, reason or None)`` when ``serial`` is listed, else ``None``. O(1)."""
        packed = self._entries.get(serial)
        if packed is None:
            return None
        return datetime.fromtimestamp(packed >> 4, UTC), _REASON_BY_CODE.get(packed & 15)

    def lookup(self, serial: int) -> RevocationStatus:
        """The status of ``serial`` by this CRL: GOOD, REVOKED (time, reason) or ON_HOLD. O(1)."""
        packed = self._entries.get(serial)
        if packed is None:
            return RevocationStatus(
                status=CertStatus.GOOD,
                source=RevocationSource.CRL,
                serial_number=serial,
                this_update=self._this_update,
                next_update=self._next_update,
                crl_number=self._number,
            )
        code = packed & 15
        return RevocationStatus(
            status=CertStatus.ON_HOLD if code == _HOLD else CertStatus.REVOKED,
            source=RevocationSource.CRL,
            serial_number=serial,
            reason=_REASON_BY_CODE.get(code),
            revocation_time=datetime.fromtimestamp(packed >> 4, UTC),
            this_update=self._this_update,
            next_update=self._next_update,
            crl_number=self._number,
        )

    def check_scope(self, certificate: x509.Certificate) -> None:
        """Check that this CRL's issuingDistributionPoint covers ``certificate`` (RFC 5280 §6.3.3 (b)(2)).

        Raises:
            CRLInvalidError: SCOPE_MISMATCH (onlyContainsUserCerts/CACerts, or a distribution point name
                that matches none of the certificate's cRLDistributionPoints), MALFORMED.
        """
        idp = self._idp
        if idp is None:
            return
        try:
            is_ca = _is_ca(certificate)
            if idp.only_contains_user_certs and is_ca:
                raise _fail(CRLFailure.SCOPE_MISMATCH, "CRL covers only end-entity certificates")
            if idp.only_contains_ca_certs and not is_ca:
                raise _fail(CRLFailure.SCOPE_MISMATCH, "CRL covers only CA certificates")
            if idp.full_name is None and idp.relative_name is None:
                return
            try:
                points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
            except x509.ExtensionNotFound:
                raise _fail(
                    CRLFailure.SCOPE_MISMATCH,
                    "the CRL is partitioned by distribution point but the certificate names none",
                ) from None
            wanted = set(idp.full_name or ())
            for point in points:
                names = set(point.full_name or ()) if point.full_name else set(point.crl_issuer or ())
                if wanted & names:
                    return
                if idp.relative_name is not None and point.relative_name == idp.relative_name:
                    return
        except DEPENDENCY_ERRORS as exc:
            raise _fail(CRLFailure.MALFORMED, f"unreadable distribution point ({describe(exc)})") from exc
        raise _fail(
            CRLFailure.SCOPE_MISMATCH, "the CRL's distribution point matches none of the certificate's"
        )


def _check_key_usage(signer: x509.Certificate, *, required: bool, label: str) -> None:
    try:
        usage = signer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        if required:
            raise _fail(
                CRLFailure.KEY_USAGE, "the separate CRL signer has no keyUsage (cRLSign required)", label
            ) from None
        return
    if not usage.crl_sign:
        raise _fail(
            CRLFailure.KEY_USAGE, "the CRL signer's keyUsage lacks cRLSign (RFC 5280 §4.2.1.3)", label
        )


def _check_aki(crl: x509.CertificateRevocationList, signer: x509.Certificate, label: str) -> None:
    try:
        aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        return
    if aki.key_identifier is not None:
        try:
            ski = signer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        except x509.ExtensionNotFound:
            ski = None
        if ski is not None and ski != aki.key_identifier:
            raise _fail(
                CRLFailure.AKI_MISMATCH,
                "authorityKeyIdentifier differs from the signer's subjectKeyIdentifier",
                label,
            )
    if (
        aki.authority_cert_serial_number is not None
        and aki.authority_cert_serial_number != signer.serial_number
    ):
        raise _fail(CRLFailure.AKI_MISMATCH, "authorityCertSerialNumber does not name the signer", label)


def _check_signature(crl: x509.CertificateRevocationList, signer: x509.Certificate, label: str) -> None:
    try:
        algorithm: hashes.HashAlgorithm | None = crl.signature_hash_algorithm
    except UnsupportedAlgorithm as exc:
        raise _fail(CRLFailure.UNSUPPORTED_ALGORITHM, "unknown CRL signature algorithm", label) from exc
    if algorithm is not None and hash_name(algorithm) is None:
        raise _fail(CRLFailure.UNSUPPORTED_ALGORITHM, f"CRL signed with {algorithm.name}: refused", label)
    try:
        valid = crl.is_signature_valid(signer.public_key())  # type: ignore[arg-type]
    except (TypeError, ValueError, UnsupportedAlgorithm) as exc:
        raise _fail(
            CRLFailure.SIGNATURE, f"cannot verify the CRL signature ({describe(exc)})", label
        ) from exc
    if not valid:
        raise _fail(CRLFailure.SIGNATURE, "the CRL signature does not verify (RFC 5280 §6.3.3 (g))", label)


def _check_crl_extensions(crl: x509.CertificateRevocationList, label: str) -> None:
    for ext in crl.extensions:
        if ext.oid == ExtensionOID.DELTA_CRL_INDICATOR:
            raise _fail(CRLFailure.UNSUPPORTED_CRL, "delta CRLs are not supported (§5.2.4)", label)
        if ext.oid == ExtensionOID.ISSUING_DISTRIBUTION_POINT:
            idp: x509.IssuingDistributionPoint = ext.value
            if idp.indirect_crl:
                raise _fail(CRLFailure.UNSUPPORTED_CRL, "indirect CRLs are not supported (§5.2.5)", label)
            if idp.only_some_reasons is not None:
                raise _fail(CRLFailure.UNSUPPORTED_CRL, "reason-partitioned CRLs are not supported", label)
            if idp.only_contains_attribute_certs:
                raise _fail(CRLFailure.SCOPE_MISMATCH, "CRL covers only attribute certificates", label)
        elif ext.critical and ext.oid not in _KNOWN_CRL_EXTENSIONS:
            raise _fail(
                CRLFailure.UNKNOWN_CRITICAL_EXTENSION,
                f"critical CRL extension {ext.oid.dotted_string} cannot be processed (§5.2)",
                label,
            )


def validate_crl(
    crl: bytes | x509.CertificateRevocationList,
    issuer: x509.Certificate,
    *,
    at: datetime,
    policy: RevocationPolicy,
    previous_number: int | None = None,
    crl_signer: x509.Certificate | None = None,
    source_label: str = "",
) -> CRLIndex:
    """Validate a complete CRL of ``issuer`` at ``at`` and index it (see the module docstring for the rules).

    Args:
        crl: DER/PEM bytes or a parsed CRL.
        issuer: the CA whose certificates the CRL covers (already trusted by path validation).
        at: tz-aware validation time.
        policy: gives ``clock_skew`` and ``crl_max_age``.
        previous_number: the highest cRLNumber already accepted for this issuer; a lower one (or none at
            all) is a rollback (RFC 5280 §5.2.3).
        crl_signer: a separate CRL-signing certificate with the issuer's name (RFC 5280 §6.3.3 (f)). The
            caller must already have validated its path to the same trust anchor and its revocation status;
            this function checks its name, cRLSign and the signature. ``None``: the issuer's own key.
        source_label: where the CRL came from, copied into errors.

    Returns:
        the :class:`CRLIndex` (O(1) lookups).

    Raises:
        CRLInvalidError: with ``cause`` one of :class:`~myna_rp.errors.CRLFailure`.
    """
    require_aware(at)
    parsed = load_crl(crl)
    label = source_label
    try:
        if parsed.issuer != issuer.subject:
            raise _fail(
                CRLFailure.ISSUER_MISMATCH,
                "CRL issuer differs from the certificate issuer (§6.3.3 (b)(1))",
                label,
            )
        signer = issuer if crl_signer is None else crl_signer
        if crl_signer is not None and crl_signer.subject != parsed.issuer:
            raise _fail(
                CRLFailure.ISSUER_MISMATCH, "the CRL signer's name differs from the CRL issuer", label
            )
        _check_key_usage(signer, required=crl_signer is not None, label=label)
        _check_crl_extensions(parsed, label)
        _check_aki(parsed, signer, label)
        window = freshness(
            parsed.last_update_utc,
            parsed.next_update_utc,
            at=at,
            clock_skew=policy.clock_skew,
            max_age=policy.crl_max_age,
        )
        if window is Window.NOT_YET_VALID:
            raise _fail(CRLFailure.NOT_YET_VALID, "CRL thisUpdate is after the validation time", label)
        if window is Window.STALE:
            raise _fail(
                CRLFailure.STALE,
                "CRL is past nextUpdate, or older than crl_max_age without nextUpdate (§6.3.3 (a)(2))",
                label,
            )
        if previous_number is not None:
            try:
                number: int | None = parsed.extensions.get_extension_for_class(
                    x509.CRLNumber
                ).value.crl_number
            except x509.ExtensionNotFound:
                number = None
            if number is None or number < previous_number:
                raise _fail(
                    CRLFailure.ROLLBACK,
                    f"cRLNumber {number} is below {previous_number}, already seen for the issuer (§5.2.3)",
                    label,
                )
        _check_signature(parsed, signer, label)
    except DEPENDENCY_ERRORS as exc:
        raise _fail(CRLFailure.MALFORMED, f"unreadable CRL ({describe(exc)})", label) from exc
    return CRLIndex.build(parsed, source_label=label)


class CRLSource:
    """Where a relying party gets CRLs: static CRLs and/or HTTP URLs, through an injected httpx.Client.

    JPKI certificates name their distribution points as directoryNames, not URLs, so the RP maps each
    issuing CA (by subject :class:`~cryptography.x509.Name`) to URLs (``urls``); an http(s) URI in the
    certificate's cRLDistributionPoints is used after those when ``use_distribution_points``.

    Args:
        static: CRLs supplied up front (DER/PEM bytes or parsed), e.g. a daily J-LIS download.
        urls: CRL URLs per issuer subject name.
        http: the client for every download; required when ``urls`` is given.
        use_distribution_points: also fetch http(s) URIs from the certificate's cRLDistributionPoints.
        signer_certificates: candidate separate CRL-signer certificates (RFC 5280 §6.3.3 (f)) and the
            intermediates they chain through.
        timeout: per-request timeout in seconds (or an :class:`httpx.Timeout`).
        retries: extra attempts after a transport error (default 1), with exponential ``backoff``.
        max_crl_bytes: the largest CRL accepted (default 256 MiB).
        sleep: how to wait between retries.

    Raises:
        ConfigurationError: a static CRL does not parse, or ``urls`` without ``http``.
    """

    def __init__(
        self,
        *,
        static: Iterable[bytes | x509.CertificateRevocationList] = (),
        urls: Mapping[x509.Name, Sequence[str]] | None = None,
        http: httpx.Client | None = None,
        use_distribution_points: bool = True,
        signer_certificates: Iterable[x509.Certificate] = (),
        timeout: float | httpx.Timeout = 30.0,
        retries: int = 1,
        backoff: float = 0.5,
        max_crl_bytes: int = 256 << 20,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        parsed: list[tuple[x509.Name, x509.CertificateRevocationList]] = []
        for position, item in enumerate(static):
            try:
                crl = load_crl(item)
                parsed.append((crl_issuer(crl), crl))
            except CRLInvalidError as exc:
                raise ConfigurationError(f"static CRL #{position} does not parse: {exc.message}") from exc
        if urls and http is None:
            raise ConfigurationError("CRL URLs configured without an httpx.Client")
        self._static = tuple(parsed)
        self._urls: dict[x509.Name, tuple[str, ...]] = {k: tuple(v) for k, v in (urls or {}).items()}
        self._http = http
        self._use_dp = use_distribution_points
        self._signers = tuple(signer_certificates)
        self._settings = _transport.TransportSettings(
            timeout=timeout, retries=retries, backoff=backoff, max_bytes=max_crl_bytes, sleep=sleep
        )

    @property
    def signer_certificates(self) -> tuple[x509.Certificate, ...]:
        """Configured candidate CRL-signer certificates."""
        return self._signers

    def static_crls(self, issuer_name: x509.Name) -> tuple[tuple[str, x509.CertificateRevocationList], ...]:
        """``(label, CRL)`` for each static CRL whose issuer is ``issuer_name``."""
        return tuple(
            (f"static[{position}]", crl)
            for position, (name, crl) in enumerate(self._static)
            if name == issuer_name
        )

    def urls_for(self, certificate: x509.Certificate) -> tuple[str, ...]:
        """URLs to fetch for ``certificate``: those configured for its issuer, then cRLDistributionPoints."""
        if self._http is None:
            return ()
        urls = list(self._urls.get(certificate.issuer, ()))
        if self._use_dp:
            try:
                points: Iterable[x509.DistributionPoint] = certificate.extensions.get_extension_for_class(
                    x509.CRLDistributionPoints
                ).value
            except x509.ExtensionNotFound:
                points = ()
            except DEPENDENCY_ERRORS:
                points = ()
            for point in points:
                for name in point.full_name or ():
                    if (
                        isinstance(name, x509.UniformResourceIdentifier)
                        and name.value.lower().startswith(("http://", "https://"))
                        and name.value not in urls
                    ):
                        urls.append(name.value)
        return tuple(urls)

    def fetch(self, url: str) -> x509.CertificateRevocationList:
        """Download and parse the CRL at ``url``.

        Raises:
            RevocationFetchError: NO_SOURCE (no client), TIMEOUT, TRANSPORT, HTTP_STATUS, CONTENT_TYPE,
                TOO_LARGE.
            CRLInvalidError: MALFORMED body.
        """
        if self._http is None:
            raise RevocationFetchError(
                "no httpx.Client configured", cause=FetchFailure.NO_SOURCE, source_label=url
            )
        body = _transport.fetch(
            self._http, method="GET", url=url, accept=CRL_CONTENT_TYPES, settings=self._settings
        )
        try:
            return load_crl(body)
        except CRLInvalidError as exc:
            exc.source_label = url
            raise
