"""MdocVerifier: ISO/IEC 18013-5 DeviceResponse verification (§9.3.1 "mdoc authentication", §9.1.2-9.1.3).

One immutable verifier is built from an :class:`~myna_rp.mdoc.iaca.IACAStore` and a clock and is safe to
share between threads. It refuses a DeviceResponse whose ``status`` is not 0 (§8.3.2.1.2.3: the device
reports an error), then, for every document (§8.3.2.1.2.2):

1. reads ``issuerAuth`` (COSE_Sign1, tag 18) and its ``x5chain`` (unprotected label 33, one certificate or
   an array, leaf first) and validates the path to an anchor at the verification time; the MSO signer must
   be a document signer, never a CA (UNTRUSTED_ISSUER; see :mod:`myna_rp.mdoc.iaca`);
2. verifies the issuer signature with the DS key (ISSUER_SIGNATURE_INVALID; UNSUPPORTED_ALGORITHM);
3. decodes the MSO (``#6.24`` inside the payload) and checks: digestAlgorithm SHA-256/384/512
   (UNSUPPORTED_ALGORITHM), docType equal to the document's (DOCTYPE_MISMATCH), ``signed <= validFrom <
   validUntil`` (§9.1.2.4: validFrom "shall be equal or later than" signed, validUntil "later than"
   validFrom), ``validFrom <= now <= validUntil``, ``signed <= now`` (no skew) and ``signed`` inside the DS
   certificate's validity (MSO_NOT_VALID);
4. for every disclosed IssuerSignedItemBytes, hashes the exact received tag-24 bytes with the MSO's
   algorithm and compares with ``valueDigests[namespace][digestID]`` (DIGEST_MISMATCH; DIGEST_MISSING when
   the namespace or digestID is absent). The bytes are hashed *before* they are decoded: an item whose
   digest is not in the MSO is refused after decoding only that one item; then the element's CBOR type
   is checked for the known elements of :mod:`myna_rp.mdoc.profile` (MALFORMED_INPUT);
5. authenticates the device (§9.1.3): ``deviceSignature`` (COSE_Sign1, detached payload
   DeviceAuthenticationBytes, the MSO's device key) or ``deviceMac`` (COSE_Mac0, key = HKDF-SHA256(ECDH(
   reader private key, device key), salt = SHA-256(SessionTranscriptBytes), info "EMacKey")), both over
   ``#6.24(bstr .cbor ["DeviceAuthentication", SessionTranscript, docType, DeviceNameSpacesBytes])``
   built from the exact transcript and DeviceNameSpacesBytes received (DEVICE_AUTH_INVALID, also when a
   deviceMac arrives and no reader key was given: the sender chose MAC, the response cannot be
   authenticated);
6. refuses ``individual_number_unicode`` unless the verifier was built with
   ``allow_individual_number=True`` (INDIVIDUAL_NUMBER_REFUSED).

Success returns a frozen :class:`Presentation`; failure raises a :class:`~myna_rp.errors.MynaRPError` whose
``reason`` says why — no ``cbor2`` or ``cryptography`` exception escapes. Personal attributes are never
logged and never appear in ``repr`` or messages (names of elements appear only when they are plain
ASCII identifiers; decoded values never).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import cbor2
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ..clock import Clock, SystemClock, require_aware
from ..errors import (
    ConfigurationError,
    IndividualNumberRefusedError,
    MalformedInputError,
    MdocVerificationError,
    MynaRPError,
    Reason,
    VerificationError,
)
from .cbor import (
    STRICT,
    CBOROptions,
    EncodedCBOR,
    expect_bytes,
    expect_encoded,
    expect_list,
    expect_map,
    expect_str,
    loads,
    loads_many,
)
from .cose import (
    HEADER_X5CHAIN,
    TAG_COSE_MAC0,
    TAG_COSE_SIGN1,
    CoseMessage,
    cose_key_to_public_key,
    parse_cose,
    verify_mac0,
    verify_sign1,
)
from .iaca import MAX_X5CHAIN, IACAStore
from .profile import ELEMENT_RULES, INDIVIDUAL_NUMBER_ELEMENT, check_element
from .transcript import Channel, SessionTranscript

_DIGESTS = MappingProxyType({"SHA-256": hashlib.sha256, "SHA-384": hashlib.sha384, "SHA-512": hashlib.sha512})
_MAX_MEMOISED_SIGNERS = 256
_MAX_MEMOISED_MSOS = 256
_NO_DIGESTS: frozenset[bytes] = frozenset()
_DEVICE_AUTHENTICATION_HEAD = b"\x84\x74DeviceAuthentication"  # array(4), tstr(20) "DeviceAuthentication"
_PRINTABLE_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,80}\Z")
# Library exceptions that malformed input can raise deep inside cbor2 / cryptography; mapped at the
# public boundary (every specific site maps its own first).
_INPUT_FAILURES = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    RecursionError,
    x509.InvalidVersion,
)


def _printable(name: object) -> str:
    """A namespace/element name for a message: shown only when it is a plain ASCII identifier."""
    return name if isinstance(name, str) and _PRINTABLE_NAME.match(name) else "<name>"


class DeviceAuthKind(StrEnum):
    """How the holder's device authenticated the response (§9.1.3)."""

    SIGNATURE = "signature"
    MAC = "mac"
    NONE = "none"  # IssuerSigned verified alone (no device binding): see verify_issuer_signed


@dataclass(frozen=True, slots=True)
class ValidityInfo:
    """The MSO's validityInfo (§9.1.2.4), aware UTC datetimes."""

    signed: datetime
    valid_from: datetime
    valid_until: datetime
    expected_update: datetime | None


class _Mint:
    """Single-use proof that :class:`MdocVerifier` built a :class:`Presentation` (module-private)."""

    __slots__ = ("used",)

    def __init__(self) -> None:
        self.used = False


class UnverifiedPresentationError(TypeError):
    """Evidence was built, copied with changes, or smuggled in outside its verifier: a
    :class:`Presentation` not minted by :class:`MdocVerifier`, or (for ``verify_age``) a
    ``JPKIVerification`` not built by ``JPKIVerifier``."""


@dataclass(frozen=True, slots=True, repr=False)
class Presentation:
    """One verified mdoc document. Built only by :class:`MdocVerifier`: constructing one directly (or with
    ``dataclasses.replace``) raises :class:`UnverifiedPresentationError`.

    Attributes:
        doc_type: e.g. ``org.iso.23220.1.jp.mnc``.
        elements: issuer-signed, digest-checked elements ``{namespace: {identifier: value}}``, read-only all
            the way down: a map inside a value is a ``MappingProxyType``, an array a ``tuple``; full-date
            as :class:`datetime.date`, tdate as aware :class:`datetime.datetime`, bstr as bytes.
        issuer_chain: the validated path, DS first, anchor last.
        validity: the MSO validity.
        channel: from the SessionTranscript's Handover.
        device_auth: signature, MAC, or none (IssuerSigned only).
        digest_algorithm: ``SHA-256`` / ``SHA-384`` / ``SHA-512``.
        device_key: the holder's device key from the MSO.
        verified_at: the verification time.
    """

    doc_type: str
    elements: Mapping[str, Mapping[str, Any]]
    issuer_chain: tuple[x509.Certificate, ...]
    validity: ValidityInfo
    channel: Channel
    device_auth: DeviceAuthKind
    digest_algorithm: str
    device_key: ec.EllipticCurvePublicKey
    verified_at: datetime
    _mint: _Mint | None = field(default=None, kw_only=True, compare=False, hash=False)

    def __post_init__(self) -> None:
        mint = self._mint
        if type(mint) is not _Mint or mint.used:
            raise UnverifiedPresentationError(
                "a Presentation is built only by MdocVerifier; it cannot be constructed or replaced"
            )
        mint.used = True

    def element(self, namespace: str, identifier: str) -> Any:
        """The value of a disclosed element, or ``None`` when it was not disclosed."""
        return self.elements.get(namespace, {}).get(identifier)

    def __repr__(self) -> str:  # never print personal attributes
        names = sorted(f"{ns}/{k}" for ns, items in self.elements.items() for k in items)
        return (
            f"Presentation(doc_type={self.doc_type!r}, elements={names}, "
            f"device_auth={self.device_auth.value}, channel={self.channel.value}, "
            f"valid_until={self.validity.valid_until.isoformat()})"
        )


@dataclass(frozen=True, slots=True)
class _Signer:
    """A parsed x5chain (not a trust decision: the path is validated on every call)."""

    certificates: tuple[x509.Certificate, ...]
    key: ec.EllipticCurvePublicKey
    not_before: datetime  # the leaf's (DS) validity, aware UTC
    not_after: datetime


@dataclass(frozen=True, slots=True)
class _MSO:
    digest_algorithm: str
    doc_type: str
    value_digests: Mapping[str, Mapping[int, bytes]]
    digest_sets: Mapping[str, frozenset[bytes]]  # every digest of a namespace: checked before decoding
    device_key: ec.EllipticCurvePublicKey
    validity: ValidityInfo


class MdocVerifier:
    """Verifies ISO/IEC 18013-5 DeviceResponses against configured IACA anchors.

    Args:
        iaca: the trust anchors (required: a verifier never builds without one).
        clock: where "now" comes from (default :class:`~myna_rp.clock.SystemClock`), read per call.
        cbor_options: limits and leniency of the CBOR decoder (strict by default).
        allow_individual_number: accept ``individual_number_unicode`` in results (default refuse).
        mso_cache_size: parsed MSOs kept, keyed by their exact signed bytes (default 256; 0 disables).
            Only parsing is saved: every check still runs on every call.
    """

    def __init__(
        self,
        iaca: IACAStore,
        *,
        clock: Clock | None = None,
        cbor_options: CBOROptions = STRICT,
        allow_individual_number: bool = False,
        mso_cache_size: int = _MAX_MEMOISED_MSOS,
    ) -> None:
        if not isinstance(iaca, IACAStore):
            raise ConfigurationError("MdocVerifier needs an IACAStore")
        self._iaca = iaca
        self._clock: Clock = clock or SystemClock()
        self._options = cbor_options
        self._allow_individual_number = allow_individual_number
        # x5chain DER -> parsed certificates and the DS key (bounded; parsing is not a trust decision:
        # the path is validated on every call).
        self._signers: dict[tuple[bytes, ...], _Signer] = {}
        # MobileSecurityObjectBytes payload -> parsed MSO (bounded). Parsing is a pure function of the bytes
        # and the options; only successful parses are kept, and every check that depends on the call (issuer
        # signature over these bytes, docType, validity at the verification time, DS validity, digests,
        # device authentication) still runs on every call.
        self._msos: dict[bytes, _MSO] = {}
        if mso_cache_size < 0:
            raise ConfigurationError("mso_cache_size must be >= 0")
        self._mso_cache_size = mso_cache_size

    # -- public ------------------------------------------------------------------------------------

    def verify(
        self,
        device_response: bytes,
        *,
        session_transcript: SessionTranscript | bytes,
        reader_private_key: ec.EllipticCurvePrivateKey | None = None,
        doc_type: str | None = None,
        at: datetime | None = None,
    ) -> Presentation:
        """Verify a DeviceResponse and return its one document (or the one whose docType is ``doc_type``).

        Args:
            device_response: the DeviceResponse CBOR bytes (§8.3.2.1.2.2).
            session_transcript: the transcript the RP built for this session (or its CBOR bytes, tag-24
                wrapped or not).
            reader_private_key: the reader's (ephemeral) EC private key; needed only for ``deviceMac``.
            doc_type: which document to return when the response holds several.
            at: verification time (aware); default: the clock.

        Raises:
            MalformedInputError: not a DeviceResponse, a ``status`` other than 0, no (or several
                ambiguous) documents, a known element of the wrong CBOR type, CBOR limits exceeded.
            VerificationError / MdocVerificationError: reason UNTRUSTED_ISSUER, ISSUER_SIGNATURE_INVALID,
                DOCTYPE_MISMATCH, DIGEST_MISMATCH, DIGEST_MISSING, MSO_NOT_VALID, DEVICE_AUTH_INVALID
                (including a ``deviceMac`` when no ``reader_private_key`` was given), UNSUPPORTED_ALGORITHM.
            IndividualNumberRefusedError: ``individual_number_unicode`` disclosed without opt-in.
        """
        documents = self.verify_all(
            device_response,
            session_transcript=session_transcript,
            reader_private_key=reader_private_key,
            at=at,
        )
        if doc_type is not None:
            documents = tuple(d for d in documents if d.doc_type == doc_type)
        if len(documents) != 1:
            raise MalformedInputError(
                f"expected one document{' of the requested docType' if doc_type else ''}, "
                f"found {len(documents)}"
            )
        return documents[0]

    def verify_all(
        self,
        device_response: bytes,
        *,
        session_transcript: SessionTranscript | bytes,
        reader_private_key: ec.EllipticCurvePrivateKey | None = None,
        at: datetime | None = None,
    ) -> tuple[Presentation, ...]:
        """Verify every document of a DeviceResponse (same checks and errors as :meth:`verify`)."""
        now = self._now(at)
        try:
            transcript = (
                session_transcript
                if isinstance(session_transcript, SessionTranscript)
                else SessionTranscript.from_bytes(session_transcript, self._options)
            )
            response = expect_map(loads(device_response, self._options), "DeviceResponse")
            if not isinstance(response.get("version"), str):
                raise MalformedInputError("DeviceResponse lacks its version")
            status = response.get("status")
            if type(status) is not int:
                raise MalformedInputError(
                    "DeviceResponse lacks its status (an unsigned integer, §8.3.2.1.2.2)"
                )
            if status != 0:
                raise MalformedInputError(
                    f"DeviceResponse status is {min(status, 2**32)}, not 0 (OK): the device reports an error "
                    "(ISO/IEC 18013-5 §8.3.2.1.2.3); its documents are not used"
                )
            documents = expect_list(response.get("documents", []), "DeviceResponse documents")
            if not documents:
                raise MalformedInputError("DeviceResponse holds no document")
            return tuple(
                self._verify_document(
                    expect_map(doc, "Document"),
                    transcript=transcript,
                    reader_private_key=reader_private_key,
                    at=now,
                )
                for doc in documents
            )
        except MynaRPError:
            raise
        except UnsupportedAlgorithm as exc:
            raise MdocVerificationError(
                "the response uses an unsupported algorithm", reason=Reason.UNSUPPORTED_ALGORITHM
            ) from exc
        except _INPUT_FAILURES as exc:
            raise MalformedInputError(f"the response cannot be processed ({type(exc).__name__})") from None

    def verify_issuer_signed(
        self, issuer_signed: bytes, *, doc_type: str, at: datetime | None = None
    ) -> Presentation:
        """Verify an IssuerSigned structure alone (issuer signature, MSO, digests; no device binding).

        Only for data at rest (e.g. a credential a wallet stores): it proves issuance, not that the holder
        presented it now. ``device_auth`` is :attr:`DeviceAuthKind.NONE`.
        """
        now = self._now(at)
        try:
            signed = expect_map(loads(issuer_signed, self._options), "IssuerSigned")
            elements, chain, mso = self._verify_issuer_signed(signed, doc_type=doc_type, at=now)
            return self._result(doc_type, elements, chain, mso, Channel.UNKNOWN, DeviceAuthKind.NONE, now)
        except MynaRPError:
            raise
        except UnsupportedAlgorithm as exc:
            raise MdocVerificationError(
                "the structure uses an unsupported algorithm", reason=Reason.UNSUPPORTED_ALGORITHM
            ) from exc
        except _INPUT_FAILURES as exc:
            raise MalformedInputError(f"the structure cannot be processed ({type(exc).__name__})") from None

    # -- steps -------------------------------------------------------------------------------------

    def _now(self, at: datetime | None) -> datetime:
        return require_aware(at) if at is not None else require_aware(self._clock.now())

    def _result(
        self,
        doc_type: str,
        elements: dict[str, dict[str, Any]],
        chain: tuple[x509.Certificate, ...],
        mso: _MSO,
        channel: Channel,
        kind: DeviceAuthKind,
        at: datetime,
    ) -> Presentation:
        if not self._allow_individual_number and any(
            INDIVIDUAL_NUMBER_ELEMENT in v for v in elements.values()
        ):
            raise IndividualNumberRefusedError(
                "the response discloses individual_number_unicode; the verifier was not built to accept it"
            )
        frozen = MappingProxyType({ns: MappingProxyType(items) for ns, items in elements.items()})
        return Presentation(
            doc_type=doc_type,
            elements=frozen,
            issuer_chain=chain,
            validity=mso.validity,
            channel=channel,
            device_auth=kind,
            digest_algorithm=mso.digest_algorithm,
            device_key=mso.device_key,
            verified_at=at,
            _mint=_Mint(),
        )

    def _verify_document(
        self,
        document: Mapping[Any, Any],
        *,
        transcript: SessionTranscript,
        reader_private_key: ec.EllipticCurvePrivateKey | None,
        at: datetime,
    ) -> Presentation:
        doc_type = expect_str(document.get("docType"), "docType")
        issuer_signed = expect_map(document.get("issuerSigned"), "issuerSigned")
        elements, chain, mso = self._verify_issuer_signed(issuer_signed, doc_type=doc_type, at=at)
        device_signed = expect_map(document.get("deviceSigned"), "deviceSigned")
        kind = self._verify_device(
            device_signed,
            doc_type=doc_type,
            mso=mso,
            transcript=transcript,
            reader_private_key=reader_private_key,
        )
        return self._result(doc_type, elements, chain, mso, transcript.channel, kind, at)

    def _verify_issuer_signed(
        self, issuer_signed: Mapping[Any, Any], *, doc_type: str, at: datetime
    ) -> tuple[dict[str, dict[str, Any]], tuple[x509.Certificate, ...], _MSO]:
        issuer_auth = parse_cose(
            issuer_signed.get("issuerAuth"), tag=TAG_COSE_SIGN1, what="issuerAuth", options=self._options
        )
        signer = self._signer(_x5chain_der(issuer_auth))
        chain = self._iaca.validate(signer.certificates, at=at)
        if issuer_auth.payload is None:
            raise MalformedInputError("issuerAuth has no payload (the MSO)")
        verify_sign1(issuer_auth, signer.key, failure=Reason.ISSUER_SIGNATURE_INVALID)
        mso = self._mso(issuer_auth.payload)
        if mso.doc_type != doc_type:
            raise MdocVerificationError(
                "the MSO's docType differs from the document's", reason=Reason.DOCTYPE_MISMATCH
            )
        validity = mso.validity
        if not validity.signed <= validity.valid_from < validity.valid_until:
            # §9.1.2.4: validFrom "shall be equal or later than" signed; validUntil "later than" validFrom.
            raise MdocVerificationError(
                "the MSO's validityInfo is inconsistent (signed <= validFrom < validUntil, §9.1.2.4)",
                reason=Reason.MSO_NOT_VALID,
            )
        if not validity.valid_from <= at <= validity.valid_until:
            raise MdocVerificationError(
                "the MSO is not valid at the verification time (validityInfo)", reason=Reason.MSO_NOT_VALID
            )
        if validity.signed > at:  # implied by the two checks above; kept explicit (no clock skew allowed)
            raise MdocVerificationError(
                "the MSO was signed after the verification time", reason=Reason.MSO_NOT_VALID
            )
        if not signer.not_before <= validity.signed <= signer.not_after:  # the DS (chain[0]) validity
            raise MdocVerificationError(
                "the MSO was signed outside the document signer certificate's validity",
                reason=Reason.MSO_NOT_VALID,
            )
        elements = self._check_items(issuer_signed.get("nameSpaces", {}), mso)
        return elements, chain, mso

    def _signer(self, ders: tuple[bytes, ...]) -> _Signer:
        cached = self._signers.get(ders)
        if cached is not None:
            return cached
        certificates = []
        for der in ders:
            try:
                certificates.append(x509.load_der_x509_certificate(der))
            except (ValueError, x509.InvalidVersion) as exc:  # InvalidVersion: not a ValueError
                raise MalformedInputError(
                    "x5chain holds a certificate that is not a DER X.509 v1-v3"
                ) from exc
        try:
            key = certificates[0].public_key()
        except UnsupportedAlgorithm as exc:  # e.g. a curve OID cryptography does not know
            raise MdocVerificationError(
                "document signer key uses an unsupported algorithm or curve",
                reason=Reason.UNSUPPORTED_ALGORITHM,
            ) from exc
        except (ValueError, TypeError) as exc:  # invalid SubjectPublicKeyInfo
            raise MalformedInputError("document signer key cannot be decoded") from exc
        if not isinstance(key, ec.EllipticCurvePublicKey):
            raise MdocVerificationError(
                "document signer key is not an EC key", reason=Reason.UNSUPPORTED_ALGORITHM
            )
        leaf = certificates[0]
        signer = _Signer(tuple(certificates), key, leaf.not_valid_before_utc, leaf.not_valid_after_utc)
        if len(self._signers) >= _MAX_MEMOISED_SIGNERS:
            self._signers.clear()
        self._signers[ders] = signer
        return signer

    def _mso(self, payload: bytes) -> _MSO:
        mso = self._msos.get(payload)
        if mso is None:
            mso = _parse_mso(payload, self._options)
            if self._mso_cache_size:
                if len(self._msos) >= self._mso_cache_size:
                    self._msos.clear()
                self._msos[payload] = mso
        return mso

    def _check_items(self, name_spaces: object, mso: _MSO) -> dict[str, dict[str, Any]]:
        digest = _DIGESTS[mso.digest_algorithm]
        options = self._options
        # Pass 1: hash every item's received bytes; bytes that no digest of their namespace covers are
        # not authenticated: decode only that one item to tell a missing digest from a mismatch, refuse.
        received: list[tuple[str, Mapping[int, bytes], bytes]] = []
        contents: list[bytes] = []
        result: dict[str, dict[str, Any]] = {}
        for namespace, items in expect_map(name_spaces, "IssuerNameSpaces").items():
            namespace = expect_str(namespace, "namespace")
            digests = mso.value_digests.get(namespace, {})
            known = mso.digest_sets.get(namespace, _NO_DIGESTS)
            result[namespace] = {}
            for item_bytes in items if type(items) is list else expect_list(items, "IssuerSignedItems"):
                encoded = (
                    item_bytes
                    if type(item_bytes) is EncodedCBOR
                    else expect_encoded(item_bytes, "IssuerSignedItemBytes")
                )
                actual = digest(encoded.raw).digest()
                if actual not in known:
                    raise _unauthenticated_item(encoded, namespace, digests, options)
                received.append((namespace, digests, actual))
                contents.append(encoded.content)
        # Pass 2: every item is covered by a signed digest: decode them all (back to back, see loads_many)
        # and check each against the digest of its own digestID.
        seen_ids: set[tuple[str, int]] = set()
        for item, (namespace, digests, actual) in zip(loads_many(contents, options), received, strict=True):
            if type(item) is not dict:
                item = expect_map(item, "IssuerSignedItem")
            digest_id = item.get("digestID")
            identifier = item.get("elementIdentifier")
            if (
                type(identifier) is not str
                or type(digest_id) is not int
                or digest_id < 0
                or type(item.get("random")) is not bytes
                or "elementValue" not in item
            ):
                digest_id, identifier = _item_fields(item)  # raises the precise MalformedInputError
            values = result[namespace]
            if (namespace, digest_id) in seen_ids or identifier in values:
                raise MalformedInputError("an element or digestID is disclosed twice in one namespace")
            seen_ids.add((namespace, digest_id))
            expected = digests.get(digest_id)
            if expected is None:
                raise MdocVerificationError(
                    f"element {_printable(namespace)}/{_printable(identifier)} has no digest in the MSO",
                    reason=Reason.DIGEST_MISSING,
                )
            if not hmac.compare_digest(actual, expected):  # signed under another digestID
                raise MdocVerificationError(
                    f"digest of element {_printable(namespace)}/{_printable(identifier)} does not match "
                    "the MSO",
                    reason=Reason.DIGEST_MISMATCH,
                )
            value = item["elementValue"]
            if namespace in ELEMENT_RULES:
                check_element(namespace, identifier, value)
            values[identifier] = _freeze(value) if type(value) in _MUTABLE else value
        return result

    def _verify_device(
        self,
        device_signed: Mapping[Any, Any],
        *,
        doc_type: str,
        mso: _MSO,
        transcript: SessionTranscript,
        reader_private_key: ec.EllipticCurvePrivateKey | None,
    ) -> DeviceAuthKind:
        namespaces_bytes = expect_encoded(device_signed.get("nameSpaces"), "DeviceNameSpacesBytes")
        if namespaces_bytes.content != b"\xa0":  # the usual empty map needs no decoder
            expect_map(namespaces_bytes.decode(self._options), "DeviceNameSpaces")
        device_auth = expect_map(device_signed.get("deviceAuth"), "DeviceAuth")
        if len(device_auth) != 1:
            raise MalformedInputError("DeviceAuth must hold exactly one of deviceSignature or deviceMac")
        payload = device_authentication_bytes(transcript, doc_type, namespaces_bytes)
        if "deviceSignature" in device_auth:
            message = parse_cose(
                device_auth["deviceSignature"],
                tag=TAG_COSE_SIGN1,
                what="deviceSignature",
                options=self._options,
            )
            _detached(message, "deviceSignature")
            verify_sign1(
                message, mso.device_key, detached_payload=payload, failure=Reason.DEVICE_AUTH_INVALID
            )
            return DeviceAuthKind.SIGNATURE
        if "deviceMac" in device_auth:
            message = parse_cose(
                device_auth["deviceMac"], tag=TAG_COSE_MAC0, what="deviceMac", options=self._options
            )
            _detached(message, "deviceMac")
            if reader_private_key is None:
                # The sender chose MAC authentication: without the reader key the response cannot be
                # authenticated, which is a verdict on the response, not a configuration error.
                raise MdocVerificationError(
                    "the response is authenticated by deviceMac (§9.1.3.5): verifying it needs the reader's "
                    "private key (reader_private_key / --reader-private-key); none was given",
                    reason=Reason.DEVICE_AUTH_INVALID,
                )
            key = emac_key(reader_private_key, mso.device_key, transcript)
            verify_mac0(message, key, detached_payload=payload, failure=Reason.DEVICE_AUTH_INVALID)
            return DeviceAuthKind.MAC
        raise MalformedInputError("DeviceAuth holds neither deviceSignature nor deviceMac")


# Decoded CBOR types that can be changed in place (tag-24 items, bytes, dates and scalars cannot).
_MUTABLE = frozenset({dict, list, cbor2.CBORTag})


def _freeze(value: Any) -> Any:
    """``value`` made read-only all the way down: maps → MappingProxyType, arrays → tuples, a tag with a
    mutable content → a new tag holding the frozen content. Depth is bounded by CBOROptions.max_depth."""
    kind = type(value)
    if kind is dict:
        return MappingProxyType({key: _freeze(item) for key, item in value.items()})
    if kind is list:
        return tuple(_freeze(item) for item in value)
    if kind is cbor2.CBORTag:
        inner = value.value
        return cbor2.CBORTag(value.tag, _freeze(inner)) if type(inner) in _MUTABLE else value
    return value


def is_verified_presentation(value: object) -> bool:
    """True only for a :class:`Presentation` that :class:`MdocVerifier` built."""
    if not isinstance(value, Presentation):
        return False
    mint = getattr(value, "_mint", None)
    return type(mint) is _Mint and mint.used


def _item_fields(item: Mapping[Any, Any]) -> tuple[int, str]:
    """(digestID, elementIdentifier) of an IssuerSignedItem after its structural checks (§8.3.2.1.2.2)."""
    digest_id = item.get("digestID")
    identifier = expect_str(item.get("elementIdentifier"), "elementIdentifier")
    if type(digest_id) is not int or digest_id < 0:
        raise MalformedInputError("digestID must be an unsigned integer")
    expect_bytes(item.get("random"), "random")
    if "elementValue" not in item:
        raise MalformedInputError("IssuerSignedItem lacks elementValue")
    return digest_id, identifier


def _unauthenticated_item(
    encoded: EncodedCBOR,
    namespace: str,
    digests: Mapping[int, bytes] | None,
    options: CBOROptions,
) -> MynaRPError:
    """The error for an item whose bytes match no digest of its namespace (DIGEST_MISSING when its
    digestID has no digest, else DIGEST_MISMATCH; MALFORMED_INPUT when it is not an IssuerSignedItem)."""
    digest_id, identifier = _item_fields(expect_map(encoded.decode(options), "IssuerSignedItem"))
    label = f"{_printable(namespace)}/{_printable(identifier)}"
    if digests is None or digest_id not in digests:
        return MdocVerificationError(
            f"element {label} has no digest in the MSO", reason=Reason.DIGEST_MISSING
        )
    return MdocVerificationError(
        f"digest of element {label} does not match the MSO", reason=Reason.DIGEST_MISMATCH
    )


def _detached(message: CoseMessage, what: str) -> None:
    if message.payload is not None:
        raise MalformedInputError(f"{what} must have a detached (nil) payload")


def device_authentication_bytes(
    transcript: SessionTranscript, doc_type: str, namespaces: EncodedCBOR
) -> bytes:
    """``DeviceAuthenticationBytes`` (§9.1.3.4) from the exact transcript and DeviceNameSpacesBytes."""
    from .cbor import dumps

    inner = b"".join((_DEVICE_AUTHENTICATION_HEAD, transcript.raw, dumps(doc_type), namespaces.raw))
    return EncodedCBOR.wrap(inner).raw


def emac_key(
    reader_private_key: ec.EllipticCurvePrivateKey,
    device_key: ec.EllipticCurvePublicKey,
    transcript: SessionTranscript,
) -> bytes:
    """EMacKey (§9.1.3.5): HKDF-SHA256(ECDH(reader, device), salt=SHA-256(SessionTranscriptBytes),
    info="EMacKey", 32 bytes).

    Raises:
        MdocVerificationError: DEVICE_AUTH_INVALID when the keys are on different curves.
    """
    if reader_private_key.curve.name != device_key.curve.name:
        raise MdocVerificationError(
            "reader key and device key are on different curves", reason=Reason.DEVICE_AUTH_INVALID
        )
    shared = reader_private_key.exchange(ec.ECDH(), device_key)
    salt = hashlib.sha256(transcript.tagged).digest()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=b"EMacKey").derive(shared)


def _x5chain_der(message: CoseMessage) -> tuple[bytes, ...]:
    value = message.unprotected.get(HEADER_X5CHAIN, message.protected.get(HEADER_X5CHAIN))
    if value is None:
        raise VerificationError("issuerAuth carries no x5chain (label 33)", reason=Reason.UNTRUSTED_ISSUER)
    ders = [value] if isinstance(value, bytes) else expect_list(value, "x5chain")
    if not ders or len(ders) > MAX_X5CHAIN:
        raise MalformedInputError(f"x5chain must hold 1 to {MAX_X5CHAIN} certificates")
    return tuple(expect_bytes(der, "x5chain certificate") for der in ders)


def _tdate(value: object, what: str) -> datetime:
    if not isinstance(value, datetime):
        raise MalformedInputError(f"validityInfo.{what} must be a tdate (tag 0)")
    return value


def _parse_mso(payload: bytes, options: CBOROptions) -> _MSO:
    wrapped = loads(payload, options)
    mso = expect_map(
        expect_encoded(wrapped, "MobileSecurityObjectBytes").decode(options), "MobileSecurityObject"
    )
    expect_str(mso.get("version"), "MSO version")
    algorithm = expect_str(mso.get("digestAlgorithm"), "digestAlgorithm")
    if algorithm not in _DIGESTS:
        raise MdocVerificationError(
            f"MSO digest algorithm {_printable(algorithm)} is not SHA-256/384/512",
            reason=Reason.UNSUPPORTED_ALGORITHM,
        )
    size = _DIGESTS[algorithm]().digest_size
    value_digests: dict[str, dict[int, bytes]] = {}
    digest_sets: dict[str, frozenset[bytes]] = {}
    for namespace, digests in expect_map(mso.get("valueDigests"), "valueDigests").items():
        table: dict[int, bytes] = {}
        for digest_id, digest in expect_map(digests, "DigestIDs").items():
            if type(digest_id) is not int:
                raise MalformedInputError("valueDigests keys must be integers")
            if type(digest) is not bytes or len(digest) != size:
                raise MalformedInputError("an MSO digest must be a byte string of its algorithm's length")
            table[digest_id] = digest
        name = expect_str(namespace, "valueDigests namespace")
        value_digests[name] = table
        digest_sets[name] = frozenset(table.values())
    key_info = expect_map(mso.get("deviceKeyInfo"), "deviceKeyInfo")
    device_key = cose_key_to_public_key(key_info.get("deviceKey"))
    info = expect_map(mso.get("validityInfo"), "validityInfo")
    expected_update = info.get("expectedUpdate")
    validity = ValidityInfo(
        signed=_tdate(info.get("signed"), "signed"),
        valid_from=_tdate(info.get("validFrom"), "validFrom"),
        valid_until=_tdate(info.get("validUntil"), "validUntil"),
        expected_update=_tdate(expected_update, "expectedUpdate") if expected_update is not None else None,
    )
    return _MSO(
        digest_algorithm=algorithm,
        doc_type=expect_str(mso.get("docType"), "MSO docType"),
        value_digests=value_digests,
        digest_sets=digest_sets,
        device_key=device_key,
        validity=validity,
    )
