"""The revocation checker: combines OCSP, CRLs, caller-supplied evidence and a cache under a policy.

Sources per :class:`~myna_rp.revocation.policy.RevocationPolicy` (``policy.sources`` order):

- **OCSP**: offline responses from :class:`RevocationEvidence` (no nonce check), then a cached answer, then
  the :class:`~myna_rp.revocation.ocsp.OCSPClient` (nonce checked);
- **CRL**: evidence CRLs, then a cached index, then :class:`~myna_rp.revocation.crl.CRLSource` static CRLs,
  then its URLs. Among several candidate CRLs of one issuer, the highest cRLNumber (then latest
  thisUpdate) that validates is used.

Each source yields one valid answer or none. Invalid answers (any
:class:`~myna_rp.errors.RevocationSourceError`) are recorded as attempts. ``FIRST_DEFINITIVE``: the first
GOOD/REVOKED/ON_HOLD decides. ``ALL_AVAILABLE``: every source is consulted; REVOKED beats ON_HOLD beats
GOOD. An OCSP ``unknown`` is not definitive unless ``policy.unknown_is_revoked`` (then it is reported as
REVOKED, reason ``None``). With no definitive answer a hard-fail policy raises
:class:`~myna_rp.errors.RevocationUnavailableError` listing the attempts; a soft-fail policy returns UNKNOWN.

CRLs signed by a separate key (RFC 5280 §6.3.3 (f), PKITS 4.4.19-21): when the issuer's key does not
verify the CRL, candidate signer certificates (evidence ``certificates`` and the CRL source's
``signer_certificates``) with the CRL issuer's name are path-validated to the *same* trust anchor with
:mod:`cryptography.x509.verification`, must assert cRLSign, and must themselves be positively not revoked
(checked recursively, hard-fail, at most two levels deep).

State: the checker remembers, per issuer (name + key), the highest cRLNumber it accepted, and rejects a
lower one as a rollback (RFC 5280 §5.2.3). This lives in the instance (guarded by a lock), never in the
module. ``check()`` returns REVOKED/ON_HOLD statuses; it does not raise for them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp as x509_ocsp
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from ..clock import Clock, require_aware
from ..errors import (
    CRLFailure,
    CRLInvalidError,
    MalformedInputError,
    RevocationSourceError,
    RevocationUnavailableError,
)
from ._common import DEPENDENCY_ERRORS, IssuerIdentityMemo, Window, describe, expiry, freshness
from .cache import MemoryRevocationCache, RevocationCache, crl_cache_key, ocsp_cache_key
from .crl import CRLIndex, CRLSource, crl_issuer, load_crl, validate_crl
from .ocsp import OCSPClient, validate_ocsp_response
from .policy import RevocationPolicy, SourceMode
from .status import CertStatus, RevocationSource, RevocationStatus

__all__ = ["RevocationChecker", "RevocationEvidence"]

_LOGGER_NAME = "myna_rp.revocation"
_MAX_SIGNER_DEPTH = 2
_EXTENSION_ERRORS: tuple[type[BaseException], ...] = (x509.ExtensionNotFound, *DEPENDENCY_ERRORS)
_PATH_ERRORS: tuple[type[BaseException], ...] = (VerificationError, *DEPENDENCY_ERRORS)
_DEFINITIVE = frozenset({CertStatus.GOOD, CertStatus.REVOKED, CertStatus.ON_HOLD})


@dataclass(frozen=True, slots=True)
class RevocationEvidence:
    """Revocation data supplied by the caller (files, a platform operator's bundle), consulted as sources.

    Attributes:
        crls: CRLs as DER/PEM bytes or parsed objects.
        ocsp_responses: OCSP responses as DER bytes or parsed objects. Never nonce-checked.
        certificates: extra certificates: separate CRL signers and the intermediates they chain through.
    """

    crls: tuple[bytes | x509.CertificateRevocationList, ...] = ()
    ocsp_responses: tuple[bytes | x509_ocsp.OCSPResponse, ...] = ()
    certificates: tuple[x509.Certificate, ...] = ()


_NO_EVIDENCE = RevocationEvidence()


@dataclass(frozen=True, slots=True)
class _Context:
    policy: RevocationPolicy
    at: datetime
    evidence: RevocationEvidence
    anchor: x509.Certificate | None
    depth: int


def _attempt(label: str, error: RevocationSourceError | MalformedInputError) -> str:
    cause = error.cause.value if isinstance(error, RevocationSourceError) else error.reason.value
    where = error.source_label if isinstance(error, RevocationSourceError) and error.source_label else label
    return f"{where}: {cause}: {error.message}"


def _most_severe_then_newest(answers: list[RevocationStatus]) -> RevocationStatus:
    """A revocation is final, so any REVOKED wins; a hold can be released, so between ON_HOLD and GOOD
    the answer with the latest thisUpdate wins; UNKNOWN only when nothing else was said."""

    def newest(candidates: list[RevocationStatus]) -> RevocationStatus:
        # Ties on thisUpdate are broken by content, never by argument order: the more severe status
        # (ON_HOLD before GOOD), then the earlier revocation time, then the reason's name.
        return min(
            candidates,
            key=lambda a: (
                -(a.this_update.timestamp() if a.this_update else 0.0),
                0 if a.status is CertStatus.ON_HOLD else 1,
                a.revocation_time.timestamp() if a.revocation_time else 0.0,
                a.reason.value if a.reason else "",
            ),
        )

    revoked = [a for a in answers if a.status is CertStatus.REVOKED]
    if revoked:
        return newest(revoked)
    known = [a for a in answers if a.status in (CertStatus.ON_HOLD, CertStatus.GOOD)]
    return newest(known or answers)


def _distribution_point_digest(certificate: x509.Certificate) -> bytes:
    """SHA-256 of the certificate's cRLDistributionPoints (empty when absent): certificates of one CRL
    partition (one municipality, for J-LIS) share it, so they share a cached partition CRL."""
    try:
        points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return b""
    return hashlib.sha256(points.public_bytes()).digest()


def _partition_key(issuer_key: bytes, idp: x509.IssuingDistributionPoint | None) -> bytes:
    """The key under which CRL numbers are compared: issuer plus the CRL's issuingDistributionPoint.

    RFC 5280 §5.2.3: cRLNumber increases per CRL *scope*; partitioned CRLs each have their own sequence.
    """
    if idp is None:
        return issuer_key + b"#full"
    return issuer_key + b"#idp:" + hashlib.sha256(idp.public_bytes()).digest()


def _self_issued(certificate: x509.Certificate) -> bool:
    return certificate.subject == certificate.issuer


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def _ca_key_usage(policy: object, certificate: x509.Certificate, usage: x509.KeyUsage | None) -> None:
    if usage is not None and not usage.key_cert_sign:
        raise ValueError("a CA certificate on the CRL signer's path lacks keyCertSign")


def _sort_key(item: tuple[str, x509.CertificateRevocationList]) -> tuple[int, float]:
    crl = item[1]
    try:
        number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except _EXTENSION_ERRORS:
        number = -1
    try:
        stamp = crl.last_update_utc.timestamp()
    except DEPENDENCY_ERRORS:
        stamp = float("-inf")
    return number, stamp


class RevocationChecker:
    """Checks certificates against OCSP responders, CRLs and supplied evidence (see the module docstring).

    Args:
        ocsp: the OCSP client; ``None`` disables online OCSP (offline evidence is still used).
        crls: where CRLs come from; ``None`` leaves only evidence CRLs.
        cache: validated-answer cache; an in-memory :class:`MemoryRevocationCache` on ``clock`` by default.
        clock: "now" when ``check`` gets no ``at``; tz-aware only.
    """

    def __init__(
        self,
        *,
        ocsp: OCSPClient | None = None,
        crls: CRLSource | None = None,
        cache: RevocationCache | None = None,
        clock: Clock,
    ) -> None:
        self._ocsp = ocsp
        self._crls = crls
        self._cache: RevocationCache = cache if cache is not None else MemoryRevocationCache(clock=clock)
        self._clock = clock
        self._lock = threading.Lock()
        # Per issuer: the highest cRLNumber accepted and that CRL's thisUpdate (see _rollback_floor).
        self._crl_numbers: dict[bytes, tuple[int, datetime]] = {}
        self._identity = IssuerIdentityMemo()
        self._log = logging.getLogger(_LOGGER_NAME)

    # -- public API ------------------------------------------------------------------------------------

    def check(
        self,
        certificate: x509.Certificate,
        issuer: x509.Certificate,
        *,
        policy: RevocationPolicy,
        at: datetime | None = None,
        evidence: RevocationEvidence | None = None,
        trust_anchor: x509.Certificate | None = None,
    ) -> RevocationStatus:
        """The revocation status of ``certificate`` (issued by ``issuer``) under ``policy``.

        Args:
            certificate: the certificate to check; path validation already done by the caller.
            issuer: its issuing CA certificate.
            policy: sources, combination mode, hard/soft fail, clock skew, max ages, nonce requirement.
            at: tz-aware validation time; ``clock.now()`` when ``None``.
            evidence: offline CRLs, OCSP responses and certificates supplied by the caller.
            trust_anchor: the anchor of the certificate's path; a separate CRL signer must chain to it.
                Defaults to ``issuer`` when the issuer is self-issued, else separate signers are refused.

        Returns:
            :class:`RevocationStatus`: GOOD, REVOKED (reason, time), ON_HOLD, UNKNOWN (soft-fail only), or
            NOT_CHECKED when ``policy.check`` is ``False`` (logged as a warning on the
            ``myna_rp.revocation`` logger every time).

        Raises:
            RevocationUnavailableError: hard-fail policy and no valid definitive answer; ``attempts`` lists
                every source tried and why it gave no answer.
            ValueError: ``at`` is naive.
        """
        if not policy.check:
            self._warn_skip(policy)
            return RevocationStatus(
                status=CertStatus.NOT_CHECKED, source=None, serial_number=certificate.serial_number
            )
        when = require_aware(at) if at is not None else require_aware(self._clock.now())
        anchor = trust_anchor if trust_anchor is not None else (issuer if _self_issued(issuer) else None)
        context = _Context(policy=policy, at=when, evidence=evidence or _NO_EVIDENCE, anchor=anchor, depth=0)
        return self._check(certificate, issuer, context)

    def check_chain(
        self,
        chain: Sequence[x509.Certificate],
        *,
        policy: RevocationPolicy,
        at: datetime | None = None,
        evidence: RevocationEvidence | None = None,
    ) -> list[RevocationStatus]:
        """Check every certificate of a validated path except its trust anchor.

        Args:
            chain: leaf first, trust anchor last; ``chain[i]`` is checked against issuer ``chain[i + 1]``
                with ``chain[-1]`` as the trust anchor for separate CRL signers.
            policy, at, evidence: as for :meth:`check`.

        Returns:
            one :class:`RevocationStatus` per certificate below the anchor, leaf first (empty for a chain of
            one). REVOKED/ON_HOLD are returned, not raised.

        Raises:
            RevocationUnavailableError: as for :meth:`check`, for the first certificate without an answer.
        """
        certificates = list(chain)
        if len(certificates) < 2:
            return []
        if not policy.check:
            self._warn_skip(policy)
            return [
                RevocationStatus(status=CertStatus.NOT_CHECKED, source=None, serial_number=c.serial_number)
                for c in certificates[:-1]
            ]
        when = require_aware(at) if at is not None else require_aware(self._clock.now())
        context = _Context(
            policy=policy, at=when, evidence=evidence or _NO_EVIDENCE, anchor=certificates[-1], depth=0
        )
        return [
            self._check(certificates[i], certificates[i + 1], context) for i in range(len(certificates) - 1)
        ]

    # -- combination -------------------------------------------------------------------------------------

    def _warn_skip(self, policy: RevocationPolicy) -> None:
        self._log.warning(
            "revocation checking skipped (policy %s): certificates are accepted without any revocation "
            "check; never use this for eKYC",
            policy.name,
        )

    def _check(
        self, certificate: x509.Certificate, issuer: x509.Certificate, context: _Context
    ) -> RevocationStatus:
        policy = context.policy
        attempts: list[str] = []
        definitive: list[RevocationStatus] = []
        unknown: RevocationStatus | None = None
        for source in policy.sources:
            if source is RevocationSource.OCSP:
                answer = self._ocsp_answer(certificate, issuer, context, attempts)
            else:
                answer = self._crl_answer(certificate, issuer, context, attempts)
            if answer is None:
                continue
            if answer.status is CertStatus.UNKNOWN:
                if not policy.unknown_is_revoked:
                    attempts.append(f"{source.value}: the source answered 'unknown' (not definitive)")
                    unknown = unknown or answer
                    continue
                answer = dataclasses.replace(answer, status=CertStatus.REVOKED, reason=None)
            if answer.status not in _DEFINITIVE:
                continue
            if policy.mode is SourceMode.FIRST_DEFINITIVE:
                return answer
            definitive.append(answer)
        for wanted in (CertStatus.REVOKED, CertStatus.ON_HOLD):
            for answer in definitive:
                if answer.status is wanted:
                    return answer
        if definitive and unknown is not None:
            # ALL_AVAILABLE consults every source; one that validly says it does not know the certificate
            # (e.g. an OCSP responder asked about a certificate its CA never issued) forbids concluding GOOD.
            attempts.append("GOOD from one source contradicted by 'unknown' from another: no conclusion")
        elif definitive:
            return definitive[0]
        if not policy.sources:
            attempts.append("the policy names no revocation source")
        self._log.info("no valid revocation answer (policy %s): %s", policy.name, "; ".join(attempts))
        if policy.hard_fail:
            raise RevocationUnavailableError(
                f"no valid revocation answer under policy {policy.name} ({len(attempts)} attempt(s) failed)",
                attempts=tuple(attempts),
            )
        if unknown is not None:
            return unknown
        return RevocationStatus(
            status=CertStatus.UNKNOWN, source=None, serial_number=certificate.serial_number
        )

    # -- OCSP ------------------------------------------------------------------------------------------

    def _ocsp_answer(
        self,
        certificate: x509.Certificate,
        issuer: x509.Certificate,
        context: _Context,
        attempts: list[str],
    ) -> RevocationStatus | None:
        policy, at = context.policy, context.at
        supplied: list[RevocationStatus] = []
        for position, response in enumerate(context.evidence.ocsp_responses):
            label = f"ocsp evidence[{position}]"
            try:
                supplied.append(
                    validate_ocsp_response(
                        response, certificate, issuer, at=at, policy=policy, identity_of=self._identity
                    )
                )
            except RevocationSourceError as exc:
                attempts.append(_attempt(label, exc))
        if supplied:
            # Several valid responses: the verdict must not depend on their order. A revocation (or hold)
            # wins; otherwise the most recent answer.
            return _most_severe_then_newest(supplied)
        try:
            key: bytes | None = ocsp_cache_key(certificate, self._identity(issuer))
        except DEPENDENCY_ERRORS:
            key = None
        if key is not None:
            cached = self._cache.get_ocsp(key)
            if cached is not None and cached.this_update is not None:
                window = freshness(
                    cached.this_update,
                    cached.next_update,
                    at=at,
                    clock_skew=policy.clock_skew,
                    max_age=policy.ocsp_max_age,
                )
                if window is Window.FRESH:
                    return cached
        if self._ocsp is None:
            attempts.append("ocsp: no OCSP client configured for an online query")
            return None
        try:
            status = self._ocsp.check(certificate, issuer, at=at, policy=policy)
        except (RevocationSourceError, MalformedInputError) as exc:
            attempts.append(_attempt("ocsp", exc))
            return None
        if key is not None and status.this_update is not None:
            self._cache.put_ocsp(
                key, status, expires_at=expiry(status.this_update, status.next_update, policy.ocsp_max_age)
            )
        return status

    # -- CRL -------------------------------------------------------------------------------------------

    def _crl_answer(
        self,
        certificate: x509.Certificate,
        issuer: x509.Certificate,
        context: _Context,
        attempts: list[str],
    ) -> RevocationStatus | None:
        try:
            issuer_key = crl_cache_key(self._identity(issuer))
            key = issuer_key + b"/dp:" + _distribution_point_digest(certificate)
        except DEPENDENCY_ERRORS as exc:
            attempts.append(f"crl: unreadable issuer or distribution point ({describe(exc)})")
            return None
        serial = certificate.serial_number

        evidence: list[tuple[str, x509.CertificateRevocationList]] = []
        for position, item in enumerate(context.evidence.crls):
            label = f"crl evidence[{position}]"
            try:
                crl = load_crl(item)
                name = crl_issuer(crl, source_label=label)
            except CRLInvalidError as exc:
                attempts.append(_attempt(label, exc))
                continue
            if name != certificate.issuer:
                continue  # another CA's CRL: not a candidate
            evidence.append((label, crl))
        index = self._first_valid(evidence, certificate, issuer, issuer_key, context, attempts)
        if index is not None:
            return index.lookup(serial)

        cached = self._cache.get_crl(key)
        if cached is not None and self._usable_cached(cached, certificate, issuer_key, context):
            return cached.lookup(serial)

        if self._crls is None:
            if not evidence:
                attempts.append("crl: no CRL for this issuer in the evidence and no CRL source configured")
            return None
        static = list(self._crls.static_crls(certificate.issuer))
        index = self._first_valid(static, certificate, issuer, issuer_key, context, attempts)
        if index is None:
            for url in self._crls.urls_for(certificate):
                try:
                    fetched = self._crls.fetch(url)
                except RevocationSourceError as exc:
                    attempts.append(_attempt(url, exc))
                    continue
                index = self._first_valid(
                    [(url, fetched)], certificate, issuer, issuer_key, context, attempts
                )
                if index is not None:
                    break
        if index is None:
            if not evidence and not static and not self._crls.urls_for(certificate):
                attempts.append("crl: no CRL configured or found for this issuer")
            return None
        self._cache.put_crl(
            key, index, expires_at=expiry(index.this_update, index.next_update, context.policy.crl_max_age)
        )
        return index.lookup(serial)

    def _usable_cached(
        self, index: CRLIndex, certificate: x509.Certificate, key: bytes, context: _Context
    ) -> bool:
        policy = context.policy
        window = freshness(
            index.this_update,
            index.next_update,
            at=context.at,
            clock_skew=policy.clock_skew,
            max_age=policy.crl_max_age,
        )
        if window is not Window.FRESH:
            return False
        highest = self._rollback_floor(_partition_key(key, index.issuing_distribution_point), context.at)
        if highest is not None and (index.crl_number is None or index.crl_number < highest):
            return False
        try:
            index.check_scope(certificate)
        except CRLInvalidError:
            return False
        return True

    def _first_valid(
        self,
        candidates: list[tuple[str, x509.CertificateRevocationList]],
        certificate: x509.Certificate,
        issuer: x509.Certificate,
        key: bytes,
        context: _Context,
        attempts: list[str],
    ) -> CRLIndex | None:
        for label, crl in sorted(candidates, key=_sort_key, reverse=True):
            try:
                index = self._validate_candidate(crl, label, certificate, issuer, key, context)
            except (RevocationSourceError, MalformedInputError) as exc:
                attempts.append(_attempt(label, exc))
                continue
            return index
        return None

    def _validate_candidate(
        self,
        crl: x509.CertificateRevocationList,
        label: str,
        certificate: x509.Certificate,
        issuer: x509.Certificate,
        key: bytes,
        context: _Context,
    ) -> CRLIndex:
        if crl_issuer(crl, source_label=label) != certificate.issuer:
            raise CRLInvalidError(
                "CRL issuer differs from the certificate's issuer (RFC 5280 §6.3.3 (b)(1))",
                cause=CRLFailure.ISSUER_MISMATCH,
                source_label=label,
            )
        try:
            idp_ext = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
        except x509.ExtensionNotFound:
            idp_ext = None
        except DEPENDENCY_ERRORS as exc:
            raise CRLInvalidError(
                f"unreadable CRL extensions ({describe(exc)})", cause=CRLFailure.MALFORMED, source_label=label
            ) from exc
        partition = _partition_key(key, idp_ext)
        previous = self._rollback_floor(partition, context.at)
        try:
            index = validate_crl(
                crl,
                issuer,
                at=context.at,
                policy=context.policy,
                previous_number=previous,
                source_label=label,
            )
        except CRLInvalidError as exc:
            if exc.cause not in (CRLFailure.SIGNATURE, CRLFailure.KEY_USAGE, CRLFailure.AKI_MISMATCH):
                raise
            index = self._validate_with_separate_signer(crl, label, issuer, previous, context, exc)
        index.check_scope(certificate)
        if index.crl_number is not None:
            with self._lock:
                current = self._crl_numbers.get(partition)
                if current is None or index.crl_number > current[0]:
                    self._crl_numbers[partition] = (index.crl_number, index.this_update)
        return index

    def _rollback_floor(self, key: bytes, at: datetime) -> int | None:
        """The cRLNumber a CRL for ``key`` must not go below when judging time ``at`` (RFC 5280 §5.2.3).

        A CRL older than one already accepted is a rollback only if the newer one was already issued at
        ``at``; re-verifying an earlier instant with the CRL that was current then (a kept confirmation
        record) is legitimate, and must not depend on what this checker has seen since.
        """
        with self._lock:
            highest = self._crl_numbers.get(key)
        if highest is None or at < highest[1]:
            return None
        return highest[0]

    def _signer_candidates(
        self, crl: x509.CertificateRevocationList, issuer: x509.Certificate, context: _Context
    ) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
        pool = [*context.evidence.certificates, *(self._crls.signer_certificates if self._crls else ())]
        seen = {_der(issuer)}
        candidates: list[x509.Certificate] = []
        for certificate in pool:
            der = _der(certificate)
            if der in seen:
                continue
            seen.add(der)
            if certificate.subject == crl.issuer:
                candidates.append(certificate)
        return candidates, [issuer, *pool]

    def _validate_with_separate_signer(
        self,
        crl: x509.CertificateRevocationList,
        label: str,
        issuer: x509.Certificate,
        previous: int | None,
        context: _Context,
        original: CRLInvalidError,
    ) -> CRLIndex:
        candidates, intermediates = self._signer_candidates(crl, issuer, context)
        if not candidates:
            raise original
        if context.anchor is None:
            raise CRLInvalidError(
                "a separate CRL signer needs the path's trust anchor, which was not given",
                cause=CRLFailure.SIGNER_UNTRUSTED,
                source_label=label,
            )
        if context.depth >= _MAX_SIGNER_DEPTH:
            raise CRLInvalidError(
                "CRL signer certificates nest too deeply",
                cause=CRLFailure.SIGNER_UNTRUSTED,
                source_label=label,
            )
        failure: CRLInvalidError = original
        for candidate in candidates:
            try:
                if not crl.is_signature_valid(candidate.public_key()):  # type: ignore[arg-type]
                    continue
            except DEPENDENCY_ERRORS:
                continue
            try:
                chain = self._validate_signer_path(candidate, context.anchor, intermediates, context.at)
            except CRLInvalidError as exc:
                exc.source_label = label
                failure = exc
                continue
            try:
                self._check_signer_status(chain, context)
            except CRLInvalidError as exc:
                exc.source_label = label
                failure = exc
                continue
            return validate_crl(
                crl,
                issuer,
                at=context.at,
                policy=context.policy,
                previous_number=previous,
                crl_signer=candidate,
                source_label=label,
            )
        raise failure

    @staticmethod
    def _validate_signer_path(
        signer: x509.Certificate,
        anchor: x509.Certificate,
        intermediates: list[x509.Certificate],
        at: datetime,
    ) -> list[x509.Certificate]:
        ca_policy = (
            ExtensionPolicy.permit_all()
            .require_present(x509.BasicConstraints, Criticality.AGNOSTIC, None)
            .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _ca_key_usage)
        )
        try:
            verifier = (
                PolicyBuilder()
                .store(Store([anchor]))
                .time(at)
                .extension_policies(ca_policy=ca_policy, ee_policy=ExtensionPolicy.permit_all())
                .build_client_verifier()
            )
            return list(verifier.verify(signer, intermediates).chain)
        except _PATH_ERRORS as exc:
            raise CRLInvalidError(
                f"the CRL signer's path does not validate to the trust anchor ({describe(exc)})",
                cause=CRLFailure.SIGNER_UNTRUSTED,
            ) from exc

    def _check_signer_status(self, chain: list[x509.Certificate], context: _Context) -> None:
        strict = dataclasses.replace(context.policy, hard_fail=True, unknown_is_revoked=True)
        inner = dataclasses.replace(context, policy=strict, depth=context.depth + 1)
        for position in range(len(chain) - 1):
            try:
                status = self._check(chain[position], chain[position + 1], inner)
            except RevocationUnavailableError as exc:
                raise CRLInvalidError(
                    "the CRL signer's revocation status cannot be established: " + "; ".join(exc.attempts),
                    cause=CRLFailure.SIGNER_REVOKED,
                ) from exc
            if status.status is not CertStatus.GOOD:
                raise CRLInvalidError(
                    f"a certificate on the CRL signer's path is {status.status.value}",
                    cause=CRLFailure.SIGNER_REVOKED,
                )
