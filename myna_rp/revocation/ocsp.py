"""OCSP (RFC 6960) requests, response validation and an HTTP client.

Parsing is cryptography's (:mod:`cryptography.x509.ocsp`); asn1crypto is used only for what cryptography
does not expose (the raw subjectPublicKey bits for CertID/ResponderID hashes, RSASSA-PSS parameters, and
the criticality of a single response's extensions when the response holds several).

A response is accepted (:func:`validate_ocsp_response`) only when every check of RFC 6960 §3.2 passes:

1. responseStatus is ``successful`` (§4.2.1);
2. the responder is named by its ResponderID (byName: subject; byKey: SHA-1 of the subjectPublicKey BIT
   STRING value, *not* the subjectKeyIdentifier extension) and is either the issuing CA itself or a
   delegated responder certificate found in the response, directly issued (signature verified) by that CA,
   carrying id-kp-OCSPSigning and valid at the validation time (§4.2.2.2);
3. the signature over tbsResponseData verifies with the responder's key;
4. exactly one single response matches the certificate's CertID (hash algorithm, issuerNameHash and
   issuerKeyHash recomputed from the issuer with the response's own hash algorithm, serial); a second
   matching single response, identical or contradictory, rejects the whole response;
5. freshness: ``thisUpdate <= at + skew`` and ``at <= nextUpdate + skew``, or without nextUpdate
   ``at - thisUpdate <= policy.ocsp_max_age`` (§4.2.2.1);
6. the RFC 8954 nonce equals the request's when one was sent; a missing echo fails only when
   ``policy.require_ocsp_nonce``;
7. no critical extension we cannot process.

Every failure raises :class:`~myna_rp.errors.OCSPResponseInvalidError` with a specific
:class:`~myna_rp.errors.OCSPFailure`; the checker treats it as "no valid answer".
"""

from __future__ import annotations

import base64
import hmac
import secrets
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import httpx
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, OCSPExtensionOID

from ..clock import require_aware
from ..errors import (
    FetchFailure,
    MalformedInputError,
    OCSPFailure,
    OCSPResponseInvalidError,
    RevocationFetchError,
    RevocationSourceError,
)
from . import _transport
from ._common import (
    DEPENDENCY_ERRORS,
    IssuerIdentity,
    IssuerIdentityMemo,
    SignatureCheck,
    Window,
    describe,
    freshness,
    hash_name,
    issued_by,
    reason_from_flag,
    valid_at,
    verify_signature,
)
from .policy import RevocationPolicy
from .status import CertStatus, RevocationReason, RevocationSource, RevocationStatus

__all__ = [
    "CertIDHash",
    "OCSPClient",
    "OCSPFetchResult",
    "OCSPRequestData",
    "OCSPResponderAuthorisation",
    "build_ocsp_request",
    "validate_ocsp_response",
    "verify_ocsp_signer",
]

OCSP_REQUEST_CONTENT_TYPE = "application/ocsp-request"
OCSP_RESPONSE_CONTENT_TYPE = "application/ocsp-response"
NONCE_LENGTH = 32  # RFC 8954 §2.1: 1..32 octets; 32 recommended.
_EXTENSION_ERRORS: tuple[type[BaseException], ...] = (x509.ExtensionNotFound, *DEPENDENCY_ERRORS)
_GET_MAX_URL = 255  # RFC 5019 §5: use GET only when the encoded request keeps the URL this short


class CertIDHash(StrEnum):
    """Hash algorithm for the CertID of a request (RFC 6960 §4.1.1). SHA-1 is what responders expect."""

    SHA1 = "sha1"
    SHA256 = "sha256"

    def algorithm(self) -> hashes.HashAlgorithm:
        """The cryptography hash object."""
        return hashes.SHA1() if self is CertIDHash.SHA1 else hashes.SHA256()  # noqa: S303 - RFC 6960 CertID


@dataclass(frozen=True, slots=True)
class OCSPRequestData:
    """A DER OCSPRequest and the nonce it carries.

    Attributes:
        der: the DER OCSPRequest (RFC 6960 §4.1.1).
        nonce: the 32 random octets of the RFC 8954 nonce extension, or ``None`` when none was sent.
        hash_algorithm: the CertID hash.
    """

    der: bytes
    nonce: bytes | None
    hash_algorithm: CertIDHash


def build_ocsp_request(
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    *,
    hash_algorithm: CertIDHash = CertIDHash.SHA1,
    include_nonce: bool = True,
) -> OCSPRequestData:
    """Build a one-certificate OCSPRequest with cryptography's ``OCSPRequestBuilder``.

    Args:
        certificate: the certificate asked about.
        issuer: its issuing CA certificate (CertID issuerNameHash/issuerKeyHash come from it).
        hash_algorithm: CertID hash, SHA-1 by default (RFC 6960 §4.1.1; RFC 5019 §2.1.1).
        include_nonce: add a non-critical RFC 8954 nonce of 32 random octets.

    Returns:
        :class:`OCSPRequestData` (DER bytes, nonce bytes or ``None``).

    Raises:
        MalformedInputError: cryptography refused the certificates.
    """
    nonce = secrets.token_bytes(NONCE_LENGTH) if include_nonce else None
    try:
        builder = ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hash_algorithm.algorithm())
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        der = builder.build().public_bytes(serialization.Encoding.DER)
    except DEPENDENCY_ERRORS as exc:
        raise MalformedInputError(f"cannot build an OCSP request ({describe(exc)})") from exc
    return OCSPRequestData(der=der, nonce=nonce, hash_algorithm=hash_algorithm)


@dataclass(frozen=True, slots=True)
class OCSPResponderAuthorisation:
    """Who signed an OCSP response and why they may (RFC 6960 §4.2.2.2).

    Attributes:
        issuer: the CA whose certificates the response speaks about (matched by CertID hashes).
        responder: the certificate whose key verified the signature (``issuer`` itself when not delegated).
        delegated: ``True`` for a delegated responder certificate (issued by ``issuer``, id-kp-OCSPSigning).
    """

    issuer: x509.Certificate
    responder: x509.Certificate
    delegated: bool


def _fail(cause: OCSPFailure, message: str) -> OCSPResponseInvalidError:
    return OCSPResponseInvalidError(message, cause=cause)


def _load(response: bytes | ocsp.OCSPResponse) -> tuple[ocsp.OCSPResponse, bytes]:
    try:
        if isinstance(response, ocsp.OCSPResponse):
            parsed, der = response, response.public_bytes(serialization.Encoding.DER)
        else:
            der = bytes(response)
            parsed = ocsp.load_der_ocsp_response(der)
        status = parsed.response_status
    except DEPENDENCY_ERRORS as exc:
        raise _fail(OCSPFailure.MALFORMED, f"not a DER OCSPResponse ({describe(exc)})") from exc
    if status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
        raise _fail(OCSPFailure.RESPONDER_ERROR, f"responder answered {status.name} (RFC 6960 §4.2.1)")
    return parsed, der


IdentityOf = Callable[[x509.Certificate], IssuerIdentity]


def _responder_matches(
    response: ocsp.OCSPResponse, candidate: x509.Certificate, identity_of: IdentityOf
) -> bool:
    name = response.responder_name
    if name is not None:
        return candidate.subject == name
    key_hash = response.responder_key_hash
    if key_hash is None:
        return False
    return hmac.compare_digest(identity_of(candidate).sha1_key_hash, key_hash)


def _delegation_problem(responder: x509.Certificate, issuer: x509.Certificate, at: datetime) -> str | None:
    if not issued_by(responder, issuer):
        return "the responder certificate is not issued (signature-verified) by the certificate's CA"
    try:
        eku = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return "the delegated responder certificate has no extendedKeyUsage (id-kp-OCSPSigning required)"
    if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
        return "the delegated responder certificate lacks id-kp-OCSPSigning"
    if not valid_at(responder, at):
        return "the delegated responder certificate is not valid at the validation time"
    return None


def _pss_parameters(der: bytes, response: ocsp.OCSPResponse) -> bytes | None:
    if response.signature_algorithm_oid != x509.oid.SignatureAlgorithmOID.RSASSA_PSS:
        return None
    basic = asn1_ocsp.OCSPResponse.load(der)["response_bytes"]["response"].parsed
    params = basic["signature_algorithm"]["parameters"]
    return None if params.native is None else bytes(params.dump())


def _signature_hash(response: ocsp.OCSPResponse) -> hashes.HashAlgorithm | None:
    try:
        return response.signature_hash_algorithm
    except UnsupportedAlgorithm:
        return None


def _authorise(
    response: ocsp.OCSPResponse,
    der: bytes,
    issuer: x509.Certificate,
    *,
    at: datetime,
    other_certificates: Iterable[x509.Certificate] = (),
    identity_of: IdentityOf = IssuerIdentity.of,
) -> OCSPResponderAuthorisation:
    candidates: list[tuple[x509.Certificate, bool]] = []
    if _responder_matches(response, issuer, identity_of):
        candidates.append((issuer, False))
    seen = {issuer}  # certificates hash and compare by their DER
    for cert in (*response.certificates, *other_certificates):
        if cert in seen:
            continue
        seen.add(cert)
        if _responder_matches(response, cert, identity_of):
            candidates.append((cert, True))
    if not candidates:
        raise _fail(
            OCSPFailure.UNAUTHORISED_SIGNER,
            "no certificate matches the responderID (neither the CA nor a certificate in the response)",
        )
    hash_algorithm = _signature_hash(response)
    pss = _pss_parameters(der, response)
    failure: OCSPResponseInvalidError | None = None
    for candidate, delegated in candidates:
        if delegated:
            problem = _delegation_problem(candidate, issuer, at)
            if problem is not None:
                failure = _fail(OCSPFailure.UNAUTHORISED_SIGNER, problem + " (RFC 6960 §4.2.2.2)")
                continue
        outcome = verify_signature(
            candidate.public_key(),
            signature=response.signature,
            data=response.tbs_response_bytes,
            algorithm_oid=response.signature_algorithm_oid,
            hash_algorithm=hash_algorithm,
            pss_parameters_der=pss,
        )
        if outcome is SignatureCheck.VALID:
            return OCSPResponderAuthorisation(issuer=issuer, responder=candidate, delegated=delegated)
        if outcome is SignatureCheck.UNSUPPORTED:
            failure = _fail(
                OCSPFailure.UNSUPPORTED_ALGORITHM,
                f"signature algorithm {response.signature_algorithm_oid.dotted_string} not accepted "
                "for the responder's key",
            )
        else:
            failure = _fail(
                OCSPFailure.SIGNATURE, "the response signature does not verify (RFC 6960 §3.2 (2))"
            )
    assert failure is not None
    raise failure


def _single_matches(single: ocsp.OCSPSingleResponse, issuer: IssuerIdentity, serial: int | None) -> bool:
    try:
        algorithm = hash_name(single.hash_algorithm)
    except UnsupportedAlgorithm:
        return False
    if algorithm is None:
        return False
    return (
        (serial is None or single.serial_number == serial)
        and hmac.compare_digest(single.issuer_name_hash, issuer.name_hash(algorithm))
        and hmac.compare_digest(single.issuer_key_hash, issuer.key_hash(algorithm))
    )


def verify_ocsp_signer(
    response: bytes | ocsp.OCSPResponse,
    issuers: Sequence[x509.Certificate],
    *,
    at: datetime,
    other_certificates: Sequence[x509.Certificate] = (),
    identity_of: IdentityOf = IssuerIdentity.of,
) -> OCSPResponderAuthorisation:
    """Check who signed an OCSP response, without a target certificate (``openssl ocsp -verify`` style).

    The CA the response speaks about is found among ``issuers`` (each one a trust anchor) by matching
    every single response's CertID hash algorithm, issuerNameHash and issuerKeyHash (RFC 6960 §4.1.1);
    all single responses must name the same CA. The signer must then be that CA or a delegated responder
    it issued (§4.2.2.2), found in the response's certificates or in ``other_certificates`` (untrusted).
    Freshness, nonce and certificate status are *not* checked here.

    Args:
        response: DER OCSPResponse bytes or a parsed cryptography ``OCSPResponse``.
        issuers: candidate CA certificates, trusted as anchors.
        at: tz-aware validation time (delegated responder validity).
        other_certificates: extra untrusted certificates that may hold the delegated responder.

    Returns:
        :class:`OCSPResponderAuthorisation`.

    Raises:
        OCSPResponseInvalidError: MALFORMED, RESPONDER_ERROR, CERTID_MISMATCH, UNAUTHORISED_SIGNER,
            SIGNATURE or UNSUPPORTED_ALGORITHM.
    """
    require_aware(at)
    parsed, der = _load(response)
    try:
        singles = list(parsed.responses)
        if not singles:
            raise _fail(OCSPFailure.MALFORMED, "the response holds no single response")
        issuer: x509.Certificate | None = None
        for candidate in issuers:
            identity = identity_of(candidate)
            if all(_single_matches(single, identity, None) for single in singles):
                issuer = candidate
                break
        if issuer is None:
            raise _fail(
                OCSPFailure.CERTID_MISMATCH,
                "no candidate CA matches the CertID issuerNameHash/issuerKeyHash (RFC 6960 §4.1.1)",
            )
        return _authorise(
            parsed, der, issuer, at=at, other_certificates=other_certificates, identity_of=identity_of
        )
    except DEPENDENCY_ERRORS as exc:
        raise _fail(OCSPFailure.MALFORMED, f"unreadable OCSP response ({describe(exc)})") from exc


def _single_extension_criticals(
    parsed: ocsp.OCSPResponse, der: bytes, index: int, count: int
) -> list[tuple[str, bool]]:
    if count == 1:
        return [(ext.oid.dotted_string, ext.critical) for ext in parsed.single_extensions]
    basic = asn1_ocsp.OCSPResponse.load(der)["response_bytes"]["response"].parsed
    single = basic["tbs_response_data"]["responses"][index]
    extensions = single["single_extensions"]
    if extensions.native is None:
        return []
    return [(ext["extn_id"].dotted, bool(ext["critical"].native)) for ext in extensions]


def _check_extensions(parsed: ocsp.OCSPResponse, der: bytes, index: int, count: int) -> None:
    for ext in parsed.extensions:
        if ext.critical and ext.oid != OCSPExtensionOID.NONCE:
            raise _fail(
                OCSPFailure.UNKNOWN_CRITICAL_EXTENSION,
                f"critical response extension {ext.oid.dotted_string} cannot be processed",
            )
    for oid, critical in _single_extension_criticals(parsed, der, index, count):
        if critical:
            raise _fail(
                OCSPFailure.UNKNOWN_CRITICAL_EXTENSION, f"critical singleExtension {oid} cannot be processed"
            )


def _check_nonce(parsed: ocsp.OCSPResponse, expected: bytes, policy: RevocationPolicy) -> None:
    try:
        echoed: bytes | None = parsed.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        echoed = None
    if echoed is None:
        if policy.require_ocsp_nonce:
            raise _fail(OCSPFailure.NONCE_MISSING, "the response does not echo the request nonce (RFC 8954)")
        return
    if not hmac.compare_digest(echoed, expected):
        raise _fail(OCSPFailure.NONCE_MISMATCH, "the response nonce differs from the request's (RFC 8954)")


def _status_of(single: ocsp.OCSPSingleResponse, parsed: ocsp.OCSPResponse) -> RevocationStatus:
    status = single.certificate_status
    reason: RevocationReason | None = None
    revocation_time: datetime | None = None
    if status is ocsp.OCSPCertStatus.GOOD:
        outcome = CertStatus.GOOD
    elif status is ocsp.OCSPCertStatus.UNKNOWN:
        outcome = CertStatus.UNKNOWN
    else:
        reason = reason_from_flag(single.revocation_reason)
        revocation_time = single.revocation_time_utc
        outcome = CertStatus.ON_HOLD if reason is RevocationReason.CERTIFICATE_HOLD else CertStatus.REVOKED
    return RevocationStatus(
        status=outcome,
        source=RevocationSource.OCSP,
        serial_number=single.serial_number,
        reason=reason,
        revocation_time=revocation_time,
        this_update=single.this_update_utc,
        next_update=single.next_update_utc,
        produced_at=parsed.produced_at_utc,
    )


def validate_ocsp_response(
    response: bytes | ocsp.OCSPResponse,
    certificate: x509.Certificate,
    issuer: x509.Certificate,
    *,
    at: datetime,
    policy: RevocationPolicy,
    expected_nonce: bytes | None = None,
    identity_of: IdentityOf = IssuerIdentity.of,
) -> RevocationStatus:
    """Validate an OCSP response about ``certificate`` (issued by ``issuer``) and return its answer.

    Applies checks 1-7 of the module docstring (RFC 6960 §3.2, §4.2.2.1, §4.2.2.2; RFC 8954).

    Args:
        response: DER OCSPResponse bytes, or a parsed cryptography ``OCSPResponse``.
        certificate: the certificate asked about.
        issuer: its issuing CA, already trusted by path validation.
        at: tz-aware validation time.
        policy: gives ``clock_skew``, ``ocsp_max_age`` and ``require_ocsp_nonce``.
        expected_nonce: the nonce sent in the request; ``None`` skips the nonce check (offline responses).
        identity_of: how to read a CA's CertID material; a caller that validates many responses passes a
            memoising one (as :class:`~myna_rp.revocation.RevocationChecker` does).

    Returns:
        :class:`RevocationStatus` with ``source=OCSP``: GOOD, REVOKED (reason, time), ON_HOLD (revoked with
        reason certificateHold) or UNKNOWN, with thisUpdate/nextUpdate/producedAt (aware UTC).

    Raises:
        OCSPResponseInvalidError: with ``cause`` one of :class:`~myna_rp.errors.OCSPFailure`.
    """
    require_aware(at)
    parsed, der = _load(response)
    try:
        _authorise(parsed, der, issuer, at=at, identity_of=identity_of)
        identity = identity_of(issuer)
        singles = list(parsed.responses)
        matches = [
            (index, single)
            for index, single in enumerate(singles)
            if _single_matches(single, identity, certificate.serial_number)
        ]
        if not matches:
            raise _fail(
                OCSPFailure.CERTID_MISMATCH,
                "no single response matches the certificate's CertID "
                "(hash algorithm, issuerNameHash, issuerKeyHash, serial; RFC 6960 §3.2 (1))",
            )
        if len(matches) > 1:
            answers = {(s.certificate_status, s.revocation_reason) for _, s in matches}
            if len(answers) > 1:
                raise _fail(
                    OCSPFailure.CONTRADICTORY_RESPONSE,
                    f"{len(matches)} single responses for the same certificate disagree",
                )
            raise _fail(
                OCSPFailure.DUPLICATE_RESPONSE, f"{len(matches)} single responses for the same certificate"
            )
        index, single = matches[0]
        _check_extensions(parsed, der, index, len(singles))
        window = freshness(
            single.this_update_utc,
            single.next_update_utc,
            at=at,
            clock_skew=policy.clock_skew,
            max_age=policy.ocsp_max_age,
        )
        if window is Window.NOT_YET_VALID:
            raise _fail(
                OCSPFailure.NOT_YET_VALID, "thisUpdate is after the validation time (RFC 6960 §3.2 (4))"
            )
        if window is Window.STALE:
            raise _fail(
                OCSPFailure.STALE,
                "the response is past nextUpdate, or older than ocsp_max_age without nextUpdate "
                "(RFC 6960 §3.2 (5), §4.2.2.1)",
            )
        if expected_nonce is not None:
            _check_nonce(parsed, expected_nonce, policy)
        return _status_of(single, parsed)
    except DEPENDENCY_ERRORS as exc:
        raise _fail(OCSPFailure.MALFORMED, f"unreadable OCSP response ({describe(exc)})") from exc


@dataclass(frozen=True, slots=True)
class OCSPFetchResult:
    """A raw answer from a responder.

    Attributes:
        der: the response body (not yet validated).
        request: the request that was sent (its nonce is needed for validation).
        url: the responder URL that answered.
    """

    der: bytes
    request: OCSPRequestData
    url: str


class OCSPClient:
    """Queries OCSP responders through an injected :class:`httpx.Client` (RFC 6960 Appendix A).

    JPKI certificates carry no authorityInfoAccess, so the relying party configures the responder URL per
    issuing CA (``responders``, keyed by the CA's subject :class:`~cryptography.x509.Name`); an AIA OCSP
    URL in the certificate is used after those when ``use_aia``.

    Requests are POSTed as ``application/ocsp-request`` (or sent by GET, RFC 6960 §A.1, when ``use_get`` and
    the URL stays within 255 characters). Only transport errors and timeouts are retried (at most
    ``retries`` times, exponential backoff from ``backoff`` seconds): an OCSP POST is idempotent.

    Args:
        http: the client every request goes through. Its own timeout is overridden by ``timeout``.
        responders: responder URL per issuer subject name.
        use_aia: also use authorityInfoAccess id-ad-ocsp URLs (http/https) from the certificate.
        hash_algorithm: CertID hash of requests.
        include_nonce: send an RFC 8954 nonce (always sent when the policy requires one).
        use_get: use GET for short requests.
        timeout: per-request timeout in seconds (or an :class:`httpx.Timeout`); never unlimited.
        retries: extra attempts after a transport error; default 1.
        backoff: seconds before the first retry.
        max_response_bytes: the largest response body accepted (default 1 MiB).
        sleep: how to wait between retries (tests inject a no-op).

    Raises:
        ValueError: negative ``retries``/``backoff`` or a non-positive ``max_response_bytes``.
    """

    def __init__(
        self,
        http: httpx.Client,
        responders: Mapping[x509.Name, str] | None = None,
        *,
        use_aia: bool = True,
        hash_algorithm: CertIDHash = CertIDHash.SHA1,
        include_nonce: bool = True,
        use_get: bool = False,
        timeout: float | httpx.Timeout = 10.0,
        retries: int = 1,
        backoff: float = 0.2,
        max_response_bytes: int = 1 << 20,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = http
        self._responders: dict[x509.Name, str] = dict(responders or {})
        self._use_aia = use_aia
        self._hash_algorithm = hash_algorithm
        self._include_nonce = include_nonce
        self._identity = IssuerIdentityMemo()
        self._use_get = use_get
        self._settings = _transport.TransportSettings(
            timeout=timeout, retries=retries, backoff=backoff, max_bytes=max_response_bytes, sleep=sleep
        )

    def responder_urls(self, certificate: x509.Certificate, issuer: x509.Certificate) -> tuple[str, ...]:
        """The responder URLs to try, in order: the configured one for ``issuer``, then AIA OCSP URLs."""
        urls: list[str] = []
        configured = self._responders.get(issuer.subject)
        if configured is not None:
            urls.append(configured)
        if self._use_aia:
            try:
                aia = certificate.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
            except _EXTENSION_ERRORS:
                aia = None
            for description in aia or ():
                location = description.access_location
                if (
                    description.access_method == AuthorityInformationAccessOID.OCSP
                    and isinstance(location, x509.UniformResourceIdentifier)
                    and location.value.lower().startswith(("http://", "https://"))
                    and location.value not in urls
                ):
                    urls.append(location.value)
        return tuple(urls)

    def _send(self, url: str, request: OCSPRequestData) -> bytes:
        accept = frozenset({OCSP_RESPONSE_CONTENT_TYPE})
        if self._use_get:
            encoded = urllib.parse.quote(base64.b64encode(request.der).decode("ascii"), safe="")
            get_url = url.rstrip("/") + "/" + encoded
            if len(get_url) <= _GET_MAX_URL:
                return _transport.fetch(
                    self._http, method="GET", url=get_url, accept=accept, settings=self._settings
                )
        return _transport.fetch(
            self._http,
            method="POST",
            url=url,
            content=request.der,
            headers={"Content-Type": OCSP_REQUEST_CONTENT_TYPE, "Accept": OCSP_RESPONSE_CONTENT_TYPE},
            accept=accept,
            settings=self._settings,
        )

    def fetch(
        self, certificate: x509.Certificate, issuer: x509.Certificate, *, require_nonce: bool = False
    ) -> OCSPFetchResult:
        """Send a fresh request to the first responder that answers 200 ``application/ocsp-response``.

        Returns:
            :class:`OCSPFetchResult` (unvalidated body, the request, the URL).

        Raises:
            RevocationFetchError: NO_SOURCE when no URL is known, else the last URL's failure.
            MalformedInputError: the request could not be built.
        """
        urls = self.responder_urls(certificate, issuer)
        if not urls:
            raise RevocationFetchError(
                "no OCSP responder configured for this issuer and no AIA OCSP URL in the certificate",
                cause=FetchFailure.NO_SOURCE,
            )
        request = build_ocsp_request(
            certificate,
            issuer,
            hash_algorithm=self._hash_algorithm,
            include_nonce=self._include_nonce or require_nonce,
        )
        failure: RevocationFetchError | None = None
        for url in urls:
            try:
                return OCSPFetchResult(der=self._send(url, request), request=request, url=url)
            except RevocationFetchError as exc:
                failure = exc
        assert failure is not None
        raise failure

    def check(
        self,
        certificate: x509.Certificate,
        issuer: x509.Certificate,
        *,
        at: datetime,
        policy: RevocationPolicy,
    ) -> RevocationStatus:
        """Fetch and validate (:func:`validate_ocsp_response`, nonce checked) an answer for ``certificate``.

        Each configured URL is tried in order until one gives a valid answer.

        Returns:
            the validated :class:`RevocationStatus` (source OCSP).

        Raises:
            RevocationFetchError: no URL, or every URL failed in transport.
            OCSPResponseInvalidError: the last answering URL gave an invalid response.
        """
        urls = self.responder_urls(certificate, issuer)
        if not urls:
            raise RevocationFetchError(
                "no OCSP responder configured for this issuer and no AIA OCSP URL in the certificate",
                cause=FetchFailure.NO_SOURCE,
            )
        failures: list[RevocationSourceError] = []
        for url in urls:
            request = build_ocsp_request(
                certificate,
                issuer,
                hash_algorithm=self._hash_algorithm,
                include_nonce=self._include_nonce or policy.require_ocsp_nonce,
            )
            try:
                body = self._send(url, request)
                return validate_ocsp_response(
                    body,
                    certificate,
                    issuer,
                    at=at,
                    policy=policy,
                    expected_nonce=request.nonce,
                    identity_of=self._identity,
                )
            except RevocationSourceError as exc:
                exc.source_label = url
                failures.append(exc)
        last = failures[-1]
        if len(failures) > 1:
            last.message = "; ".join(f"{f.source_label}: {f.cause.value}" for f in failures)
        raise last
