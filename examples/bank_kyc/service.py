"""The bank, without HTTP: account opening (eKYC), login, the platform's webhooks, attribute refresh.

Account opening (犯罪収益移転防止法施行規則 第6条第1項第1号ワ: the signing-certificate method)
----------------------------------------------------------------------------------------------------------

1. :meth:`BankService.start_opening` — an opening id (the session both challenges are bound to) and two
   single-use challenges: ``signing`` (purpose ``kyc.sign``, issued by :class:`~myna_rp.kyc.KycService`)
   and ``login`` (purpose ``account.bind_login``).
2. The holder's device signs ``signing`` with the **signing certificate** (署名用電子証明書: the signing
   password) and ``login`` with the **user authentication certificate** (利用者証明用電子証明書: the 4-digit
   PIN) — a card, an Android phone or an iPhone; both signatures come back in one request.
3. :meth:`BankService.complete_opening`, in this order:

   a. the login binding: consume ``login`` (single use) and verify it with
      :meth:`JPKIVerifier.verify_authentication` (path + revocation under ``REQUIRE``) → the certificate's
      opaque ``subject_id``; a certificate already bound to a customer → ``ACCOUNT_EXISTS``;
   b. the eKYC: :meth:`KycService.complete <myna_rp.kyc.KycService.complete>` consumes ``signing``, has the
      signature verified with revocation under ``REQUIRE`` (direct: the bank's ``JPKIVerifier``; platform:
      ``PlatformClient``), and appends the confirmation record (確認記録, 7-year bank retention);
   c. the customer row and its login credential, in one transaction.

   Any failure in (a) or (b) stores nothing. A failure in (c) after (b) — a signing certificate that
   already opened an account (``ACCOUNT_EXISTS``: checked only once its signature verified, so the answer
   tells nobody holding a copy of the certificate whether its owner banks here), a race between two
   openings, the database failing in between — leaves the confirmation record (it documents a
   confirmation that did take place, and records are append-only) and no customer; the log names the
   record id.

**How the login certificate is linked to the customer.** By the holder signing both challenges at opening,
in one request: the bank binds the subject id of the user-authentication certificate that signed the
``login`` challenge to the customer created from the signing certificate that signed ``signing``.

*Platform mode* proves the two certificates are one person's: the ``login`` challenge the holder signs is
the platform's login nonce (bound to the opening by the bank's own single-use challenge), the platform
verifies that signature too and names the holder's platform user ID (利用者ID), and
:meth:`KycService.complete <myna_rp.kyc.KycService.complete>` refuses the signing certificate unless the
platform names the same user ID for it (``HOLDER_MISMATCH``, 403, before any record is written).

*Direct mode cannot.* Nothing in the two certificates links them: they come from different CAs, their CNs
are opaque, the user authentication certificate carries no personal data, and their serials are unrelated
(domain-jpki.md) — so a bank that verifies itself cannot tell a holder's own two signatures from person
A's signing signature plus person B's login signature. The risk is a **relay**: B's phishing page shows A
the bank's ``signing`` challenge, A signs it believing she logs in somewhere else, B signs ``login`` with
his own card, and B now logs in to an account opened in A's name. A direct-mode bank should therefore (a)
run both signatures inside its own app on one device in one session (never accept a challenge signed
through a third-party page), (b) not activate the account — nor let the login move money — until a
confirmation sent to the address in the signing certificate has been answered (e.g. the cash card by
転送不要郵便, as banks do), and (c) prefer platform mode when it can. This example does (c) in platform
mode only and documents (a) and (b).

The platform's user ID, when known (platform mode; or from the first webhook), is stored: it is what the
platform's webhooks and its latest-attributes service speak.

Login
-----

:meth:`start_login` issues a challenge (purpose ``login.auth``); :meth:`complete_login` consumes it,
verifies the signature with :meth:`JPKIVerifier.verify_authentication` (no personal data: the certificate
carries none) and finds the customer by the certificate's subject id. An unbound certificate →
``LOGIN_NOT_RECOGNISED``. Success: an opaque bearer token (only its SHA-256 is stored).

Attribute changes (a customer who moved)
----------------------------------------

The municipal counter revokes every signing certificate of a person whose basic four attributes change
(異動等失効, reason ``affiliationChanged``); the platform then POSTs a signed ``certificate.revoked`` webhook
to each linked relying party. :meth:`handle_webhook` verifies it (:class:`myna_rp.platform.WebhookVerifier`:
HMAC, replay window), finds the customer by platform user ID or by the revoked serial, **flags** them for
re-verification and stores the user ID (one transaction with the event's id: a redelivery is recognised),
then fetches the **latest attributes with the holder's consent** (最新の利用者情報提供,
:meth:`PlatformClient.latest_attributes`) and appends an
:class:`~examples.bank_kyc.customers.AttributeUpdate`; that clears the flag. Without consent
(``CONSENT_REQUIRED``) or with the platform down the customer stays flagged; :meth:`refresh_attributes`
tries again later. ``smartphone.suspended`` marks the phone's login
credential suspended (the login itself already fails: the certificate is on hold).

**Webhooks and refresh need the platform user ID.** A platform-mode bank knows it from the opening. A
direct-mode bank learns it only from the first webhook about the customer, and the platform sends webhooks
only to relying parties the holder is linked to (consent) and only for changes made after that: a customer
who moved *before* consenting is never flagged, and ``refresh_attributes`` answers ``PLATFORM_USER_UNKNOWN``
(409) with what to do (consent, then the next change reaches the bank; meanwhile re-verify with the current
signing certificate; or run the bank in platform mode).

Closing an account
------------------

:meth:`close_account` appends the relationship end (:meth:`KycService.end_relationship
<myna_rp.kyc.KycService.end_relationship>`, today in Japan time) — from which the confirmation records are
kept 7 years (犯罪収益移転防止法 第6条第2項) — and the closure; the customer's sessions end and their
certificates no longer log in (``ACCOUNT_CLOSED``). In this example a closed account's certificates cannot
open a new account (they stay bound to the closed customer).

Privacy: logs carry customer ids, record ids, event ids, outcomes and reasons — never a name, address,
date of birth, certificate or signature.
"""

from __future__ import annotations

import binascii
import hashlib
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol
from uuid import uuid4

from cryptography import x509

from myna_rp.challenge import Challenge, ChallengeInputError, ChallengeStore
from myna_rp.clock import Clock, require_aware
from myna_rp.errors import MynaRPError, Reason, WebhookError
from myna_rp.identity import AuthenticationVerification
from myna_rp.jpki import BasicFourAttributes, JPKIVerifier
from myna_rp.kyc import ConfirmationRecord, KycService, RelationshipEnd
from myna_rp.kyc.record import JST
from myna_rp.platform import PlatformChallenge, WebhookEvent, WebhookEventType, WebhookVerifier
from myna_rp.revocation import RevocationReason

from .._shared.encoding import b64url, b64url_decode
from .customers import (
    AccountAttributes,
    AttributeUpdate,
    Customer,
    CustomerStore,
    LoginCredential,
    NewCustomer,
)
from .errors import (
    AccountClosedError,
    AccountExistsError,
    LoginNotRecognisedError,
    NoPlatformUserIdError,
    PlatformNotConfiguredError,
    UnauthenticatedError,
)

BIND_PURPOSE = "account.bind_login"
LOGIN_PURPOSE = "login.auth"

_LOG = logging.getLogger("examples.bank_kyc")


class LatestAttributesSource(Protocol):
    """What the bank needs of the platform client: the latest basic four attributes of a consenting
    holder (最新の利用者情報提供) — :meth:`myna_rp.platform.PlatformClient.latest_attributes`.

    Raises ``PlatformError`` (``CONSENT_REQUIRED``, ``PLATFORM_UNAVAILABLE``, …)."""

    def latest_attributes(self, user_id: str) -> BasicFourAttributes: ...


class PlatformLoginBinding(Protocol):
    """What platform mode needs to prove both certificates of an opening are one holder's: the platform's
    login nonce and its verification of a user-authentication signature, which answers the holder's
    platform user ID (利用者ID) — :class:`myna_rp.platform.PlatformClient` has both."""

    def authentication_challenge(self) -> PlatformChallenge: ...

    def verify_authentication(
        self, *, challenge: PlatformChallenge, signature: bytes, certificate: bytes | x509.Certificate
    ) -> AuthenticationVerification: ...


@dataclass(frozen=True, slots=True)
class OpeningStart:
    """The two challenges of an account opening, bound to ``opening_id``.

    Attributes:
        signing: the eKYC challenge (purpose ``kyc.sign``).
        login: the bank's binding challenge (purpose ``account.bind_login``…), single use.
        login_handle: what the client sends back as ``login.challenge_id``.
        login_to_sign: the exact bytes the user-authentication key signs: ``login.value`` in direct mode,
            the platform's login nonce in platform mode.
    """

    opening_id: str
    signing: Challenge
    login: Challenge
    login_handle: str
    login_to_sign: bytes


@dataclass(frozen=True, slots=True)
class SigningEvidence:
    """The signing certificate's answer: ``signature`` + ``certificate`` (raw), or ``cms`` (RFC 5652
    SignedData over the challenge, ``certificate`` optional)."""

    challenge_id: str
    signature: bytes | None = None
    certificate: bytes | None = None
    cms: bytes | None = None

    def __repr__(self) -> str:
        return "SigningEvidence(<signature>)"


@dataclass(frozen=True, slots=True)
class LoginEvidence:
    """The user-authentication certificate's signature over a challenge, and the certificate."""

    challenge_id: str
    signature: bytes
    certificate: bytes

    def __repr__(self) -> str:
        return "LoginEvidence(<signature>)"


@dataclass(frozen=True, slots=True)
class OpeningResult:
    customer: Customer
    record: ConfirmationRecord
    login: LoginCredential


@dataclass(frozen=True, slots=True)
class LoginResult:
    """A successful login: the customer, an opaque bearer token and its expiry."""

    customer: Customer
    access_token: str
    expires_at: datetime
    form_factor: str

    def __repr__(self) -> str:
        return f"LoginResult({self.customer.customer_id}, form_factor={self.form_factor})"


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    """What one webhook delivery did: ``outcome`` is one of ``updated`` (flagged, then fresh attributes
    fetched: flag cleared), ``flagged`` (flagged; the attributes could not be fetched: ``reason`` says
    why), ``login_suspended``, ``unknown_customer``, ``ignored``, ``duplicate``."""

    event_id: str
    event_type: str
    outcome: str
    customer_id: str | None = None
    reason: str | None = None


class _ProcessedEvents:
    """The :class:`~myna_rp.platform.SeenEventStore` of the webhook verifier: an id is "seen" once the
    bank has *processed* it (``bank_webhook_events``), so an event the bank failed to process is not
    refused on redelivery. The insert that marks it processed is in the transaction of its effect."""

    def __init__(self, customers: CustomerStore) -> None:
        self._customers = customers

    def add(self, event_id: str, *, expires_at: datetime) -> bool:
        return not self._customers.event_seen(event_id)


class BankService:
    """The example bank.

    Args:
        kyc: the eKYC flow (its verifier decides direct or platform mode; its repository keeps the
            confirmation records).
        challenges: the challenge store (the same one the ``kyc`` service uses).
        verifier: the bank's ``JPKIVerifier`` for logins and the login binding (revocation hard-fail).
        customers: the customer store.
        clock: "now".
        platform: the platform's latest-attributes service (e.g. :class:`myna_rp.platform.PlatformClient`);
            ``None``: attribute refresh answers ``PLATFORM_NOT_CONFIGURED``.
        webhook_secret: the platform's ``whsec_…`` secret; ``None``: every webhook is refused (503).
        webhook_tolerance: the replay window either side of now.
        organisation, operator_id: who records attribute updates.
        challenge_ttl: lifetime of login and binding challenges (the store's default when ``None``).
        session_ttl: lifetime of a login's bearer token.
        login_binding: platform mode: the platform client that issues the opening's login nonce and
            verifies the login signature, so the platform user IDs of both certificates can be compared
            (``HOLDER_MISMATCH`` otherwise). ``None`` (direct mode): no such link exists — see the module
            docstring.
    """

    def __init__(
        self,
        *,
        kyc: KycService,
        challenges: ChallengeStore,
        verifier: JPKIVerifier,
        customers: CustomerStore,
        clock: Clock,
        platform: LatestAttributesSource | None = None,
        webhook_secret: str | None = None,
        webhook_tolerance: timedelta = timedelta(minutes=5),
        organisation: str = "Example Bank K.K. (synthetic)",
        operator_id: str = "bank-kyc-service",
        challenge_ttl: timedelta | None = None,
        session_ttl: timedelta = timedelta(minutes=30),
        login_binding: PlatformLoginBinding | None = None,
    ) -> None:
        self._kyc = kyc
        self._login_binding = login_binding
        self._challenges = challenges
        self._verifier = verifier
        self._customers = customers
        self._clock = clock
        self._platform = platform
        self._webhooks = (
            WebhookVerifier(
                webhook_secret, clock=clock, tolerance=webhook_tolerance, seen=_ProcessedEvents(customers)
            )
            if webhook_secret is not None
            else None
        )
        self._organisation = organisation
        self._operator_id = operator_id
        self._ttl = challenge_ttl
        self._session_ttl = session_ttl

    @property
    def customers(self) -> CustomerStore:
        return self._customers

    @property
    def kyc(self) -> KycService:
        return self._kyc

    def _now(self) -> datetime:
        return require_aware(self._clock.now())

    # -- account opening ------------------------------------------------------------------------------

    def start_opening(self) -> OpeningStart:
        """Issue the opening's two challenges (see the module docstring).

        Raises:
            ChallengeStoreUnavailableError: the challenge store could not issue them (fail closed).
            PlatformError: platform mode, the platform's login nonce could not be had.
        """
        opening_id = "opn_" + secrets.token_urlsafe(16)
        signing = self._kyc.start(opening_id)
        if self._login_binding is None:
            login = self._challenges.issue(session_id=opening_id, purpose=BIND_PURPOSE, ttl=self._ttl)
            _LOG.info("account opening %s started", opening_id)
            return OpeningStart(opening_id, signing, login, login.id, login.value)
        # Platform mode: the holder signs the platform's nonce (so the platform can name the holder); the
        # bank's own single-use challenge binds that nonce to this opening (its purpose carries a digest
        # of the platform challenge id and nonce, so neither can be swapped).
        platform = self._login_binding.authentication_challenge()
        login = self._challenges.issue(
            session_id=opening_id, purpose=_platform_bind_purpose(platform), ttl=self._ttl
        )
        handle = ".".join((login.id, b64url(platform.challenge_id.encode("utf-8")), b64url(platform.nonce)))
        _LOG.info("account opening %s started (login bound through the platform)", opening_id)
        return OpeningStart(opening_id, signing, login, handle, platform.nonce)

    def complete_opening(
        self, opening_id: str, *, signing: SigningEvidence, login: LoginEvidence
    ) -> OpeningResult:
        """Verify both signatures, store the confirmation record, create the customer.

        Raises:
            ChallengeError: CHALLENGE_UNKNOWN / REPLAYED / EXPIRED / MISMATCH (either challenge);
                MALFORMED_INPUT for a malformed challenge id.
            VerificationError, CertificateRevokedError, RevocationUnavailableError: either certificate
                (WRONG_KEY_USAGE when the login certificate is not a user-authentication certificate,
                WRONG_CERTIFICATE_KIND when the signing one is not a signing certificate, …).
            PlatformError: platform mode.
            MalformedInputError: evidence missing or ambiguous.
            AccountExistsError: one of the certificates already belongs to a customer.
            RecordStoreError: the record or the customer could not be stored.
        """
        signing_value = Challenge.value_from_id(signing.challenge_id)
        signed, platform_challenge = self._consume_login_binding(opening_id, login.challenge_id)
        holder: str | None = None
        try:
            authentication = self._verifier.verify_authentication(
                challenge=signed, signature=login.signature, certificate=login.certificate
            )
            if platform_challenge is not None:
                assert self._login_binding is not None
                holder = self._login_binding.verify_authentication(
                    challenge=platform_challenge, signature=login.signature, certificate=login.certificate
                ).user_id
        except MynaRPError as exc:
            _LOG.info("account opening %s refused: login certificate %s", opening_id, exc.reason.value)
            raise
        if self._customers.by_login_subject(authentication.subject_id) is not None:
            _LOG.info("account opening %s refused: login certificate already bound", opening_id)
            raise AccountExistsError("this user authentication certificate already logs in to an account")
        # No such pre-check for the signing certificate: it would tell anyone holding a copy of somebody's
        # certificate whether that person banks here. It is checked (UNIQUE) once its signature verified.
        customer_id = "cus_" + secrets.token_urlsafe(16)
        try:
            record = self._kyc.complete(
                opening_id,
                signing_value,
                customer_reference=customer_id,
                signature=signing.signature,
                certificate=signing.certificate,
                cms=signing.cms,
                holder_user_id=holder,
            )
        except MynaRPError as exc:
            _LOG.info("account opening %s refused: signing certificate %s", opening_id, exc.reason.value)
            raise
        a = record.attributes
        credential = LoginCredential(
            subject_id=authentication.subject_id,
            customer_id=customer_id,
            certificate_serial_hex=format(authentication.check.serial_number, "x"),
            form_factor=authentication.form_factor.value,
            bound_at=self._now(),
        )
        try:
            customer = self._customers.create_customer(
                NewCustomer(
                    customer_id=customer_id,
                    opened_at=record.recorded_at,
                    attributes=AccountAttributes(
                        name=a.name,
                        address=a.address,
                        date_of_birth=a.date_of_birth.raw,
                        name_substitute_positions=a.name_substitute_positions,
                        address_substitute_positions=a.address_substitute_positions,
                    ),
                    attributes_as_of=record.verified_at,
                    opening_record_id=record.record_id,
                    signing_serial_hex=format(record.certificate.serial_number, "x"),
                    signing_fingerprint=record.certificate.fingerprint_sha256,
                    platform_user_id=record.user_id,
                    login=credential,
                )
            )
        except AccountExistsError:
            _LOG.info(
                "account opening %s refused after confirmation record %s: certificate already used",
                opening_id,
                record.record_id,
            )
            raise
        except Exception:
            _LOG.error(
                "confirmation record %s stored but customer %s was not created", record.record_id, customer_id
            )
            raise
        _LOG.info(
            "account opened: customer %s, record %s, signing on %s, login on %s (mode %s)",
            customer_id,
            record.record_id,
            record.certificate.form_factor.value,
            credential.form_factor,
            record.mode.value,
        )
        return OpeningResult(customer, record, credential)

    def _consume_login_binding(self, opening_id: str, handle: str) -> tuple[bytes, PlatformChallenge | None]:
        """Consume the opening's login challenge; return what was signed and, in platform mode, the
        platform challenge to have the signature verified against.

        Raises:
            ChallengeError: as :meth:`ChallengeStore.consume`; MALFORMED_INPUT for a malformed handle (or
                a platform-mode handle sent to a direct-mode bank, and the reverse).
        """
        if self._login_binding is None:
            value = Challenge.value_from_id(handle)
            self._challenges.consume(value, session_id=opening_id, purpose=BIND_PURPOSE)
            return value, None
        parts = handle.split(".")
        if len(parts) != 3:
            raise ChallengeInputError("login.challenge_id is not this bank's platform-mode login handle")
        value = Challenge.value_from_id(parts[0])
        try:
            platform_id = _b64url_decode(parts[1]).decode("utf-8")
            nonce = _b64url_decode(parts[2])
        except (binascii.Error, ValueError) as exc:
            raise ChallengeInputError(
                "login.challenge_id is not this bank's platform-mode login handle"
            ) from exc
        # A swapped platform id or nonce gives another purpose: CHALLENGE_MISMATCH (and the challenge burns).
        purpose = _platform_bind_purpose(PlatformChallenge(platform_id, nonce, self._now()))
        taken = self._challenges.consume(value, session_id=opening_id, purpose=purpose)
        return nonce, PlatformChallenge(platform_id, nonce, taken.expires_at)

    # -- closing --------------------------------------------------------------------------------------

    def close_account(self, customer_id: str) -> RelationshipEnd:
        """Close the customer's account today (Japan time): the relationship ends, which starts the
        confirmation records' retention period (7 years, 犯罪収益移転防止法 第6条第2項); the customer's
        login sessions end and their certificates no longer log in.

        Two appends in this order: the relationship end (:meth:`KycService.end_relationship`), then the
        closure. A failure between them leaves the end event (a later close appends a correction; the
        last end event decides the deadline) and the account open.

        Raises:
            AccountClosedError: already closed.
            MalformedInputError: no confirmation record for this customer.
            RecordStoreError: the database failed.
        """
        if self._customers.closed_on(customer_id) is not None:
            raise AccountClosedError("this account is already closed")
        today: date = self._now().astimezone(JST).date()
        ended = self._kyc.end_relationship(customer_id, today)
        self._customers.close(customer_id, closed_on=today, recorded_at=self._now())
        _LOG.info("customer %s: account closed (relationship end %s)", customer_id, ended.event_id)
        return ended

    # -- login ----------------------------------------------------------------------------------------

    def start_login(self) -> Challenge:
        """A login challenge (purpose ``login.auth``) bound to a fresh login session id."""
        return self._challenges.issue(
            session_id="lgn_" + secrets.token_urlsafe(16), purpose=LOGIN_PURPOSE, ttl=self._ttl
        )

    def complete_login(self, session_id: str, evidence: LoginEvidence) -> LoginResult:
        """Consume the challenge, verify the user-authentication signature, find the customer.

        Raises:
            ChallengeError, VerificationError, CertificateRevokedError (e.g. CERTIFICATE_ON_HOLD: a
            suspended phone), RevocationUnavailableError; LoginNotRecognisedError: a valid certificate
            bound to no customer.
        """
        value = Challenge.value_from_id(evidence.challenge_id)
        self._challenges.consume(value, session_id=session_id, purpose=LOGIN_PURPOSE)
        try:
            authentication = self._verifier.verify_authentication(
                challenge=value, signature=evidence.signature, certificate=evidence.certificate
            )
        except MynaRPError as exc:
            _LOG.info("login refused: %s", exc.reason.value)
            raise
        customer = self._customers.by_login_subject(authentication.subject_id)
        if customer is None:
            _LOG.info("login refused: certificate not bound to a customer")
            raise LoginNotRecognisedError("this certificate is not linked to an account of this bank")
        if self._customers.closed_on(customer.customer_id) is not None:
            _LOG.info("login refused: customer %s closed the account", customer.customer_id)
            raise AccountClosedError("this account is closed")
        token = secrets.token_urlsafe(32)
        now = self._now()
        expires_at = now + self._session_ttl
        self._customers.create_session(
            token_sha256=_sha256(token),
            customer_id=customer.customer_id,
            created_at=now,
            expires_at=expires_at,
        )
        _LOG.info("login: customer %s (%s)", customer.customer_id, authentication.form_factor.value)
        return LoginResult(customer, token, expires_at, authentication.form_factor.value)

    def customer_for_token(self, token: str | None) -> Customer:
        """The customer of a live bearer token. Raises UnauthenticatedError."""
        if not token:
            raise UnauthenticatedError("send the bearer token of a login")
        customer = self._customers.session_customer(_sha256(token), self._now())
        if customer is None:
            raise UnauthenticatedError("the bearer token is unknown or expired: log in again")
        return customer

    # -- the platform: webhooks and latest attributes -------------------------------------------------

    def handle_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookOutcome:
        """Verify and process one webhook delivery from the platform.

        Raises:
            PlatformNotConfiguredError: no webhook secret configured (fail closed; the platform retries).
            WebhookError: WEBHOOK_SIGNATURE_INVALID (forged, or the wrong secret), WEBHOOK_REPLAYED
                (timestamp outside the window), MALFORMED_INPUT (an authentic body of unknown shape).
            RecordStoreError: the event could not be recorded (nothing recorded; the platform retries).
        """
        if self._webhooks is None:
            raise PlatformNotConfiguredError("no webhook secret is configured: webhooks are refused")
        try:
            event = self._webhooks.verify(headers, body)
        except WebhookError as exc:
            event_id = next((v for k, v in headers.items() if k.lower() == "webhook-id"), "")
            processed = (
                self._customers.event(event_id)
                if exc.reason is Reason.WEBHOOK_REPLAYED and event_id
                else None
            )
            if processed is not None:
                # WEBHOOK_REPLAYED comes after the signature check: an authentic redelivery of an event
                # already processed. Acknowledge it (2xx) so the platform stops retrying; nothing is
                # done twice.
                _LOG.info("webhook %s: duplicate delivery acknowledged", event_id)
                return WebhookOutcome(event_id, processed.event_type, "duplicate", processed.customer_id)
            _LOG.warning("webhook refused: %s", exc.reason.value)
            raise
        if event.type is WebhookEventType.CERTIFICATE_REVOKED:
            return self._on_certificate_revoked(event)
        return self._on_smartphone_suspended(event)

    def _on_certificate_revoked(self, event: WebhookEvent) -> WebhookOutcome:
        now = self._now()
        serial_hex = format(event.serial_numbers[0], "x")
        if event.reason is not RevocationReason.AFFILIATION_CHANGED:
            return self._record_only(event, "ignored", now)
        customer = self._customers.by_platform_user(event.user_id) or self._customers.by_signing_serial(
            serial_hex
        )
        if customer is None:
            return self._record_only(event, "unknown_customer", now)
        first = self._customers.record_event(
            event_id=event.id,
            event_type=event.type.value,
            received_at=now,
            customer_id=customer.customer_id,
            outcome="flagged_for_reverification",
            flag_reason="attributes_changed",
            platform_user_id=event.user_id,
        )
        if not first:
            return WebhookOutcome(event.id, event.type.value, "duplicate", customer.customer_id)
        _LOG.info("webhook %s: customer %s flagged for re-verification", event.id, customer.customer_id)
        try:
            self.refresh_attributes(customer.customer_id, trigger="webhook", event_id=event.id)
        except (MynaRPError, PlatformNotConfiguredError, NoPlatformUserIdError) as exc:
            reason = exc.reason.value if isinstance(exc, MynaRPError) else exc.code
            _LOG.info("webhook %s: customer %s stays flagged (%s)", event.id, customer.customer_id, reason)
            return WebhookOutcome(event.id, event.type.value, "flagged", customer.customer_id, reason)
        return WebhookOutcome(event.id, event.type.value, "updated", customer.customer_id)

    def _on_smartphone_suspended(self, event: WebhookEvent) -> WebhookOutcome:
        now = self._now()
        serials = [format(s, "x") for s in event.serial_numbers]
        customer = self._customers.by_platform_user(event.user_id)
        if customer is None:
            customer = next(
                (c for c in (self._customers.by_login_serial(s) for s in serials) if c is not None), None
            )
        if customer is None:
            return self._record_only(event, "unknown_customer", now)
        first = self._customers.record_event(
            event_id=event.id,
            event_type=event.type.value,
            received_at=now,
            customer_id=customer.customer_id,
            outcome="login_suspended",
            platform_user_id=event.user_id,
            suspend_serials=serials,
        )
        outcome = "login_suspended" if first else "duplicate"
        _LOG.info("webhook %s: customer %s %s", event.id, customer.customer_id, outcome)
        return WebhookOutcome(event.id, event.type.value, outcome, customer.customer_id)

    def _record_only(self, event: WebhookEvent, outcome: str, now: datetime) -> WebhookOutcome:
        first = self._customers.record_event(
            event_id=event.id, event_type=event.type.value, received_at=now, customer_id=None, outcome=outcome
        )
        _LOG.info("webhook %s (%s): %s", event.id, event.type.value, outcome if first else "duplicate")
        return WebhookOutcome(event.id, event.type.value, outcome if first else "duplicate")

    def refresh_attributes(
        self, customer_id: str, *, trigger: str = "customer_request", event_id: str | None = None
    ) -> Customer:
        """Fetch the customer's latest attributes from the platform (holder's consent required), append
        an :class:`AttributeUpdate` and make them current; the re-verification flag is cleared.

        Raises:
            PlatformNotConfiguredError: no platform client.
            NoPlatformUserIdError: the customer's platform user ID is not known yet.
            PlatformError: CONSENT_REQUIRED (no consent, or withdrawn), PLATFORM_UNAVAILABLE, …
            RecordStoreError: the update could not be stored.
        """
        if self._platform is None:
            raise PlatformNotConfiguredError("the platform API is not configured (BANK_KYC_PLATFORM_API_KEY)")
        customer = self._customers.get(customer_id)
        if customer is None:
            raise UnauthenticatedError("no such customer")
        if customer.platform_user_id is None:
            raise NoPlatformUserIdError(
                "the bank does not know this customer's platform user ID (利用者ID), so it cannot ask the "
                "platform for the latest attributes. A platform-mode bank learns it at account opening. A "
                "direct-mode bank learns it only from a platform webhook, and the platform sends those "
                "only for changes made after the customer consented: consent in the platform's app, then "
                "the next change reaches the bank. Until then, re-verify with the current signing "
                "certificate (a new account opening), or run the bank in platform mode "
                "(BANK_KYC_MODE=platform)."
            )
        latest = self._platform.latest_attributes(customer.platform_user_id)
        attributes = _account_attributes(latest)
        change = AttributeUpdate(
            update_id=uuid4(),
            customer_id=customer_id,
            recorded_at=self._now(),
            as_of=self._now(),
            source="platform_latest_attributes",
            platform_user_id=customer.platform_user_id,
            trigger=trigger,
            trigger_event_id=event_id,
            previous=customer.attributes,
            attributes=attributes,
            changed=tuple(customer.attributes.changed_fields(attributes)),
            organisation=self._organisation,
            operator_id=self._operator_id,
        )
        updated = self._customers.apply_attribute_update(change)
        _LOG.info(
            "customer %s: latest attributes recorded (update %s, changed %s)",
            customer_id,
            change.update_id,
            ",".join(change.changed) or "nothing",
        )
        return updated


def _account_attributes(attributes: BasicFourAttributes) -> AccountAttributes:
    return AccountAttributes(
        name=attributes.name,
        address=attributes.address,
        date_of_birth=attributes.date_of_birth.raw,
        name_substitute_positions=attributes.name_substitute_positions,
        address_substitute_positions=attributes.address_substitute_positions,
    )


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def _b64url_decode(text: str) -> bytes:
    if not text or "=" in text or any(c in text for c in "+/ \t\r\n"):
        raise ValueError("not unpadded base64url")
    return b64url_decode(text)


def _platform_bind_purpose(challenge: PlatformChallenge) -> str:
    """The binding challenge's purpose in platform mode: ties it to the platform challenge id and nonce."""
    digest = hashlib.sha256(challenge.challenge_id.encode("utf-8") + b"\x00" + challenge.nonce).hexdigest()
    return f"{BIND_PURPOSE}.platform:{digest}"
