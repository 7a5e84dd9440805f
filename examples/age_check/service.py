"""The age-restricted checkout, without HTTP: what the shop does at each step.

Flow (minimum age 20 by default):

1. :meth:`AgeCheckShop.open_checkout` — an order id (random, 128 bits; it is also the session the
   challenges are bound to).
2. One of:

   * **iPhone, web** — :meth:`~AgeCheckShop.dc_api_request`: a single-use challenge (purpose
     ``age.mdoc.dcapi``) becomes the ``nonce`` of the ISO/IEC 18013-7 Annex C ``EncryptionInfo``; the
     shop answers the minimal DeviceRequest (``age_over_20`` only, not retained), the EncryptionInfo
     (with its HPKE reader key) and its origin. The browser hands both to the wallet
     (``navigator.credentials.get``, protocol ``org-iso-mdoc``) and posts the encrypted answer back:
     :meth:`~AgeCheckShop.complete_dc_api`.
   * **iPhone, in-app** — :meth:`~AgeCheckShop.apple_request`: the challenge (purpose
     ``age.mdoc.apple``) is the nonce of Apple's "Verify with Wallet" request; the app posts the
     ``APPLE-HPKE-v1`` envelope: :meth:`~AgeCheckShop.complete_apple`.
   * **Android** — :meth:`~AgeCheckShop.android` raises the SDK's
     :class:`~myna_rp.errors.AttributeProofUnsupported` (fallback ``jpki_signing_certificate``). With the
     customer's explicit consent the shop issues a challenge (purpose ``age.jpki``,
     :meth:`~AgeCheckShop.jpki_challenge`), the phone signs it with the JPKI signing certificate
     (署名用電子証明書) and :meth:`~AgeCheckShop.complete_jpki` verifies it directly (``JPKIVerifier``,
     revocation REQUIRE) and answers from the certificate's date of birth (基本4情報), which is then
     dropped. Without consent nothing is verified and nothing is read.

3. Completion, for every channel, in this order: open and verify the evidence against the shop's own
   transcript / challenge (never one taken from the request) → **consume the challenge** (single use:
   CHALLENGE_REPLAYED, CHALLENGE_MISMATCH for another checkout's challenge, CHALLENGE_EXPIRED) →
   ``verify_age`` → record the answer once (:class:`~examples.age_check.orders.AgeCheckRecord`: yes/no,
   evidence type, time, order id). Under the minimum age the answer is recorded and
   :class:`~examples.age_check.errors.AgeRequirementNotMetError` is raised.
4. :meth:`AgeCheckShop.place` — only an approved order can be placed.

Reader keys (DC API): derived per challenge with HKDF-SHA256 from a shop secret, so no key is stored and
any worker of a fleet holding the secret can open any response. The Apple flow uses the merchant's
encryption key (static: registered with Apple).

Privacy: no element value, date of birth, certificate or DeviceResponse is stored or logged; the log
carries the order id, the channel, the answer and the evidence type (or the refusal reason).
"""

from __future__ import annotations

import base64
import binascii
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from myna_rp.age import AgeVerification, AndroidDevice, verify_age
from myna_rp.challenge import Challenge, ChallengeStore
from myna_rp.clock import Clock
from myna_rp.errors import ConfigurationError, MynaRPError
from myna_rp.jpki import CertificateKind
from myna_rp.kyc import require_fresh_revocation
from myna_rp.mdoc import (
    JP_MNC_DOCTYPE,
    Presentation,
    SessionTranscript,
    age_request,
    apple_transcript,
    dcapi_encryption_info,
    dcapi_transcript,
    open_apple_envelope,
    open_dcapi_response,
    public_key_sha256,
)

from .._shared.encoding import b64url as b64url  # re-exported: base64url without padding (RFC 4648 §5)
from .errors import (
    AgeRequirementNotMetError,
    CheckoutAlreadyDecidedError,
    FallbackDeclinedError,
    MalformedRequestError,
)
from .orders import AgeCheckRecord, Order, OrderStore
from .trust import ShopTrust

_LOG = logging.getLogger("examples.age_check")

PURPOSE_DCAPI = "age.mdoc.dcapi"
PURPOSE_APPLE = "age.mdoc.apple"
PURPOSE_JPKI = "age.jpki"

#: The order of the P-256 group (SEC 2 §2.4.2): derived reader-key scalars are taken in [1, n-1].
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_READER_KEY_SALT = b"examples.age_check dcapi reader key v1"

#: What the customer is told before consenting to the JPKI fallback (shown by the shop's page/app).
CONSENT_NOTICE = (
    "Your phone cannot prove your age by itself (Android has no attribute proof). If you agree, you sign "
    "a one-time challenge with your My Number Card signing certificate (署名用電子証明書). The shop then "
    "reads the date of birth in that certificate only to decide whether you are at least {minimum_age}, "
    "and discards it at once: it keeps only yes/no, the evidence type and the time. Your certificate also "
    "carries your name, address and gender; the shop does not keep or log them."
)


def decode_binary(text: str, what: str) -> bytes:
    """Decode base64 or base64url (padding optional) strictly.

    Raises:
        MalformedRequestError: not base64, or empty.
    """
    cleaned = text.strip().replace("-", "+").replace("_", "/")
    try:
        data = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedRequestError(f"{what} is not base64/base64url") from exc
    if not data:
        raise MalformedRequestError(f"{what} is empty")
    return data


def _evidence_type(answer: AgeVerification) -> str:
    if answer.evidence.source == "jpki":
        return "jpki_date_of_birth"
    return answer.evidence.element


@dataclass(frozen=True, slots=True)
class DCAPIRequest:
    """What the page passes to ``navigator.credentials.get`` (protocol ``org-iso-mdoc``).

    Attributes:
        challenge: the single-use challenge (its value is the EncryptionInfo nonce).
        device_request: base64url of the DeviceRequest CBOR (``age_over_NN`` only).
        encryption_info: base64url of ``["dcapi", {"nonce", "recipientPublicKey"}]`` (Annex C).
        origin: the origin the transcript will be built with (the page must be served from it).
    """

    challenge: Challenge
    device_request: str
    encryption_info: str
    origin: str


@dataclass(frozen=True, slots=True)
class AppleRequest:
    """What the iOS app passes to PassKit's identity request (Apple "Verify with Wallet").

    Attributes:
        challenge: the single-use challenge (its value is the request nonce).
        device_request: base64url of the DeviceRequest CBOR (``age_over_NN`` only).
        merchant_id, team_id: as in the transcript.
        encryption_public_key: base64url of the merchant encryption key (X9.62 uncompressed point).
    """

    challenge: Challenge
    device_request: str
    merchant_id: str
    team_id: str
    encryption_public_key: str


class AgeCheckShop:
    """The checkout's age gate. Thread-safe (its parts are); one per application.

    Args:
        trust: the mdoc and JPKI verifiers (:mod:`examples.age_check.trust`).
        challenges: the challenge store (memory, SQLite or Redis).
        orders: the order store.
        clock: "now" for orders and records.
        origin: the shop's web origin (DC API transcript).
        merchant_id, team_id: Apple identifiers (in-app transcript).
        reader_key_secret: ≥ 32 bytes; DC API reader keys are derived from it per challenge.
        apple_encryption_key: the merchant's P-256 encryption private key (Apple flow).
        minimum_age: 0..99 (default 20).
        challenge_ttl: lifetime of an issued challenge.

    Raises:
        ConfigurationError: a short secret, a non-P-256 Apple key, a bad minimum age.
    """

    def __init__(
        self,
        *,
        trust: ShopTrust,
        challenges: ChallengeStore,
        orders: OrderStore,
        clock: Clock,
        origin: str,
        merchant_id: str,
        team_id: str,
        reader_key_secret: bytes,
        apple_encryption_key: ec.EllipticCurvePrivateKey,
        minimum_age: int = 20,
        challenge_ttl: timedelta = timedelta(minutes=5),
    ) -> None:
        if len(reader_key_secret) < 32:
            raise ConfigurationError("reader_key_secret must hold at least 32 bytes")
        if not isinstance(apple_encryption_key, ec.EllipticCurvePrivateKey) or not isinstance(
            apple_encryption_key.curve, ec.SECP256R1
        ):
            raise ConfigurationError("the Apple encryption key must be an EC P-256 private key")
        if isinstance(minimum_age, bool) or not 0 <= minimum_age <= 99:
            raise ConfigurationError("minimum_age must be between 0 and 99")
        self.trust = trust
        self.challenges = challenges
        self.orders = orders
        self.clock = clock
        self.origin = origin
        self.merchant_id = merchant_id
        self.team_id = team_id
        self.minimum_age = minimum_age
        self.challenge_ttl = challenge_ttl
        self._reader_key_secret = reader_key_secret
        self._apple_key = apple_encryption_key
        self._device_request = age_request(minimum_age)

    # -- checkout ---------------------------------------------------------------------------------------

    def open_checkout(self) -> Order:
        """A new checkout whose age check is pending."""
        return self.orders.open(secrets.token_urlsafe(16))

    def order(self, order_id: str) -> Order:
        """Raises UnknownCheckoutError."""
        return self.orders.get(order_id)

    def place(self, order_id: str) -> Order:
        """Place the order. Raises UnknownCheckoutError, AgeCheckRequiredError (not approved)."""
        return self.orders.place(order_id, self.clock.now())

    def _undecided(self, order_id: str) -> Order:
        order = self.orders.get(order_id)
        if order.age_check is not None:
            raise CheckoutAlreadyDecidedError(
                "this checkout's age check is already decided", order_status=order.status.value
            )
        return order

    def _issue(self, order_id: str, purpose: str) -> Challenge:
        self._undecided(order_id)
        return self.challenges.issue(session_id=order_id, purpose=purpose, ttl=self.challenge_ttl)

    # -- iPhone: web (DC API, ISO/IEC 18013-7 Annex C) --------------------------------------------------

    def _reader_key(self, challenge_value: bytes) -> ec.EllipticCurvePrivateKey:
        """HKDF-SHA256(secret, salt, info=challenge) → P-256 scalar in [1, n-1] (48 bytes: bias < 2^-128)."""
        okm = HKDF(algorithm=hashes.SHA256(), length=48, salt=_READER_KEY_SALT, info=challenge_value).derive(
            self._reader_key_secret
        )
        return ec.derive_private_key(int.from_bytes(okm, "big") % (_P256_ORDER - 1) + 1, ec.SECP256R1())

    def _encryption_info(self, challenge_value: bytes) -> tuple[str, ec.EllipticCurvePrivateKey]:
        key = self._reader_key(challenge_value)
        return dcapi_encryption_info(nonce=challenge_value, recipient_public_key=key.public_key()), key

    def dc_api_request(self, order_id: str) -> DCAPIRequest:
        """Issue a challenge and the ``org-iso-mdoc`` request data.

        Raises:
            UnknownCheckoutError, CheckoutAlreadyDecidedError, ChallengeError (store unavailable).
        """
        challenge = self._issue(order_id, PURPOSE_DCAPI)
        info, _ = self._encryption_info(challenge.value)
        return DCAPIRequest(challenge, b64url(self._device_request), info, self.origin)

    def complete_dc_api(self, order_id: str, *, challenge_id: str, response: str) -> AgeCheckRecord:
        """Open the browser's answer (base64url of ``["dcapi", {enc, cipherText}]``), verify, decide.

        Raises:
            MalformedRequestError / MalformedInputError: undecodable input.
            MdocVerificationError: ENVELOPE_INVALID (e.g. sealed for another challenge), DEVICE_AUTH_INVALID,
                UNTRUSTED_ISSUER, MSO_NOT_VALID, … (see MdocVerifier).
            ChallengeError: CHALLENGE_REPLAYED / MISMATCH / EXPIRED / UNKNOWN.
            AgeNotDeterminedError: the customer withheld the age element.
            AgeRequirementNotMetError: under the minimum age (the answer is recorded).
            UnknownCheckoutError, CheckoutAlreadyDecidedError.
        """
        self.orders.get(order_id)
        value = Challenge.value_from_id(challenge_id)
        encrypted = decode_binary(response, "response")
        info, key = self._encryption_info(value)
        transcript = dcapi_transcript(encryption_info_b64url=info, origin=self.origin)
        device_response = open_dcapi_response(
            encrypted, recipient_private_key=key, session_transcript=transcript
        )
        return self._decide_mdoc(order_id, value, PURPOSE_DCAPI, device_response, transcript, "dc_api")

    # -- iPhone: in-app (Apple "Verify with Wallet") ---------------------------------------------------

    def _apple_transcript(self, nonce: bytes) -> SessionTranscript:
        return apple_transcript(
            nonce=nonce,
            merchant_id=self.merchant_id,
            team_id=self.team_id,
            encryption_key_hash=public_key_sha256(self._apple_key.public_key()),
        )

    @property
    def apple_encryption_public_key(self) -> ec.EllipticCurvePublicKey:
        return self._apple_key.public_key()

    def apple_request(self, order_id: str) -> AppleRequest:
        """Issue a challenge and the data of the in-app identity request.

        Raises:
            UnknownCheckoutError, CheckoutAlreadyDecidedError, ChallengeError (store unavailable).
        """
        challenge = self._issue(order_id, PURPOSE_APPLE)
        point = self._apple_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
        return AppleRequest(
            challenge, b64url(self._device_request), self.merchant_id, self.team_id, b64url(point)
        )

    def complete_apple(self, order_id: str, *, challenge_id: str, envelope: str) -> AgeCheckRecord:
        """Open the app's ``APPLE-HPKE-v1`` envelope (base64/base64url of its CBOR), verify, decide.

        Raises:
            as :meth:`complete_dc_api`.
        """
        self.orders.get(order_id)
        value = Challenge.value_from_id(challenge_id)
        sealed = decode_binary(envelope, "envelope")
        transcript = self._apple_transcript(value)
        device_response = open_apple_envelope(
            sealed, recipient_private_key=self._apple_key, session_transcript=transcript
        )
        return self._decide_mdoc(order_id, value, PURPOSE_APPLE, device_response, transcript, "apple")

    def _decide_mdoc(
        self,
        order_id: str,
        value: bytes,
        purpose: str,
        device_response: bytes,
        transcript: SessionTranscript,
        channel: str,
    ) -> AgeCheckRecord:
        try:
            presentation: Presentation = self.trust.mdoc.verify(
                device_response, session_transcript=transcript, doc_type=JP_MNC_DOCTYPE
            )
            self.challenges.consume(value, session_id=order_id, purpose=purpose)
            answer = verify_age(presentation, self.minimum_age)
        except MynaRPError as error:
            _LOG.info("age check refused: order=%s channel=%s reason=%s", order_id, channel, error.reason)
            raise
        return self._record(order_id, answer, channel)

    # -- Android: no attribute proof; the JPKI fallback with consent ------------------------------------

    def android(self, order_id: str) -> None:
        """Ask for an attribute proof on Android: always raises.

        Raises:
            AttributeProofUnsupported: reason ATTRIBUTE_PROOF_UNSUPPORTED, ``fallback ==
                "jpki_signing_certificate"`` (from ``verify_age(AndroidDevice())``).
            UnknownCheckoutError, CheckoutAlreadyDecidedError.
        """
        self._undecided(order_id)
        verify_age(AndroidDevice(), self.minimum_age)
        raise AssertionError("verify_age answered for an Android device")  # pragma: no cover

    def consent_notice(self) -> str:
        return CONSENT_NOTICE.format(minimum_age=self.minimum_age)

    def jpki_challenge(self, order_id: str) -> Challenge:
        """Issue the challenge the customer signs with the JPKI signing certificate (purpose ``age.jpki``).

        Raises:
            UnknownCheckoutError, CheckoutAlreadyDecidedError, ChallengeError (store unavailable).
        """
        return self._issue(order_id, PURPOSE_JPKI)

    def complete_jpki(
        self,
        order_id: str,
        *,
        consent: bool,
        challenge_id: str,
        signature: str,
        certificate: str,
    ) -> AgeCheckRecord:
        """The JPKI fallback: only with ``consent is True``.

        ``signature``: base64/base64url of the raw signature (PKCS#1 v1.5 or ECDSA over SHA-256 of the
        challenge value); ``certificate``: the signing certificate, PEM text or base64/base64url of DER.

        Raises:
            FallbackDeclinedError: no consent (403, reason CONSENT_REQUIRED); nothing was verified or read.
            VerificationError: WRONG_KEY_USAGE (not a signing certificate), SIGNATURE_INVALID,
                UNTRUSTED_ISSUER, CERTIFICATE_EXPIRED, …
            CertificateRevokedError: CERTIFICATE_REVOKED / CERTIFICATE_ON_HOLD.
            RevocationUnavailableError: no revocation answer (REQUIRE is hard-fail), or one older than the
                challenge (a reused OCSP answer: :func:`myna_rp.kyc.require_fresh_revocation`).
            ChallengeError, AgeNotDeterminedError (unknown/partial date of birth), AgeRequirementNotMetError,
            UnknownCheckoutError, CheckoutAlreadyDecidedError.
        """
        self.orders.get(order_id)
        if consent is not True:
            _LOG.info("age check refused: order=%s channel=jpki reason=JPKI_FALLBACK_DECLINED", order_id)
            raise FallbackDeclinedError(
                "the JPKI fallback reads your date of birth and needs your explicit consent; "
                "without it the age-restricted checkout cannot continue",
                consent_notice=self.consent_notice(),
            )
        value = Challenge.value_from_id(challenge_id)
        raw_signature = decode_binary(signature, "signature")
        leaf = self._certificate(certificate)
        try:
            verification = self.trust.jpki.verify_signature(
                data=value, signature=raw_signature, certificate=leaf, expected_kind=CertificateKind.SIGNING
            )
            challenge = self.challenges.consume(value, session_id=order_id, purpose=PURPOSE_JPKI)
            # The revocation answer must have been obtained for this challenge, not reused from an
            # earlier check (whatever cache the verifier was built with): fail closed.
            require_fresh_revocation(verification.revocation, challenge.issued_at)
            answer = verify_age(verification, self.minimum_age, allow_jpki_date_of_birth=True)
        except MynaRPError as error:
            _LOG.info("age check refused: order=%s channel=jpki reason=%s", order_id, error.reason)
            raise
        # The date of birth (and the rest of 基本4情報) lives only in `verification` and `leaf` (the
        # verifier keeps no path cache: trust.py): drop them now.
        del verification, leaf
        return self._record(order_id, answer, "jpki")

    @staticmethod
    def _certificate(text: str) -> x509.Certificate:
        try:
            if "-----BEGIN" in text:
                return x509.load_pem_x509_certificate(text.encode("ascii"))
            return x509.load_der_x509_certificate(decode_binary(text, "certificate"))
        except (ValueError, UnicodeEncodeError) as exc:
            raise MalformedRequestError("certificate is neither PEM nor base64 DER") from exc

    # -- the decision -----------------------------------------------------------------------------------

    def _record(self, order_id: str, answer: AgeVerification, channel: str) -> AgeCheckRecord:
        checked_at: datetime = answer.evidence.verified_at
        record = AgeCheckRecord(order_id, answer.over, _evidence_type(answer), checked_at)
        self.orders.record_age_check(record)
        _LOG.info(
            "age check decided: order=%s channel=%s over=%s evidence=%s",
            order_id,
            channel,
            record.over,
            record.evidence,
        )
        if not record.over:
            raise AgeRequirementNotMetError(
                f"the verified evidence says the customer is under {self.minimum_age}: checkout refused",
                order_id=order_id,
                minimum_age=self.minimum_age,
                evidence=record.evidence,
            )
        return record
