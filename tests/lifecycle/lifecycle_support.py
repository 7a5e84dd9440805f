"""Harness of the lifecycle tests (a top-level module: this folder has no ``__init__.py``).

* the mock platform is the real app of :func:`mock_platform.app.create_app`, in-process behind Starlette's
  ``TestClient``, on a :class:`MockClock` and a SQLite file copied from a session template (CA keys
  generated once per session);
* PINs are hashed with argon2id at cheap test parameters (:meth:`PinHasher.fast_for_tests`);
* card and phone keys come from a per-session pool of RSA-2048 keys (key generation dominates the run
  time), handed out in order per test so that one test's tokens have distinct keys;
* :meth:`World.sdk_status` checks a certificate's revocation status *with the SDK's own verifier*
  (``JPKIVerifier`` + ``RevocationChecker`` + ``OCSPClient`` over the same TestClient), a fresh checker
  each time so no cached answer hides a state change.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from fastapi.testclient import TestClient

from mock_platform.ca.keys import PrivateKey
from mock_platform.ca.profile import FormFactor
from mock_platform.ca.token import TokenSimulator
from mock_platform.clock import JST, MockClock
from mock_platform.device import Card, MunicipalCounter, PlatformProblemError, Smartphone
from myna_rp.errors import CertificateRevokedError, VerificationError
from myna_rp.jpki import JPKIVerifier, TrustStore
from myna_rp.revocation import (
    OCSPClient,
    RevocationChecker,
    RevocationPolicy,
    RevocationSource,
)

#: 2026-11-29 12:00 JST (a Sunday: the notice rule is the same every day).
NOW = datetime(2026, 11, 29, 3, 0, 0, tzinfo=UTC)
OCSP_ONLY = replace(RevocationPolicy.REQUIRE, name="OCSP_ONLY", sources=(RevocationSource.OCSP,))

CARD_PASSWORD = "AB1234"
CARD_AUTH_PIN = "1234"
CARD_FACE_PIN = "9120"
PHONE_PASSWORD = "PHONE1"
PHONE_PIN = "4321"

HANAKO: dict[str, Any] = {
    "name": "試験　花子",
    "gender": "2",
    "date_of_birth": "319850704",
    "address": "東京都千代田区試験町一丁目99番99号",
    "prefecture": "Tokyo-to",
    "municipality": "Chiyoda-ku",
}
TARO: dict[str, Any] = {
    "name": "見本　太郎",
    "gender": "1",
    "date_of_birth": "419900120",
    "address": "東京都千代田区見本町二丁目1番1号",
    "prefecture": "Tokyo-to",
    "municipality": "Chiyoda-ku",
}
MOVED: dict[str, Any] = {
    **HANAKO,
    "address": "大阪府大阪市北区試験町三丁目3番3号",
    "prefecture": "Osaka-fu",
    "municipality": "Osaka-shi",
}
# The persons of the age checks (mdoc, the age-check shop), their ages at NOW. Synthetic.
AGE_25: dict[str, Any] = {
    "name": "試験　花子",
    "gender": "2",
    "date_of_birth": "420010601",  # Heisei 13-06-01 = 2001-06-01 → 25
    "address": "東京都千代田区試験町一丁目99番99号",
    "prefecture": "Tokyo-to",
    "municipality": "Chiyoda-ku",
}
AGE_19: dict[str, Any] = {
    "name": "見本　次郎",
    "gender": "1",
    "date_of_birth": "420070315",  # Heisei, 2007-03-15 → 19
    "address": "大阪府大阪市北区見本町三丁目3番3号",
    "prefecture": "Osaka-fu",
    "municipality": "Osaka-shi",
}
PARTIAL_DOB: dict[str, Any] = {**AGE_25, "name": "見本　不詳", "date_of_birth": "420010600"}  # day 不詳


class KeyPool:
    """Hands out pre-generated keys in order (wrapping around after the last)."""

    def __init__(self, keys: list[PrivateKey]) -> None:
        self._keys = keys
        self._next = 0

    def __call__(self, form_factor: FormFactor) -> TokenSimulator:
        key = self._keys[self._next % len(self._keys)]
        self._next += 1
        return TokenSimulator(key, form_factor=form_factor)


@dataclass
class Person:
    resident_id: str
    card: Card


@dataclass
class World:
    """One platform, its clock, the counter, and SDK-side checks."""

    client: TestClient
    clock: MockClock
    keys: KeyPool
    counter: MunicipalCounter = field(init=False)

    def __post_init__(self) -> None:
        self.counter = MunicipalCounter(self.client, keys=self.keys)
        listing = self.client.get("/ca").json()
        self.roots = [x509.load_pem_x509_certificate(i["certificate_pem"].encode()) for i in listing]
        self.trust = TrustStore.from_certificates(self.roots)

    # -- actors ------------------------------------------------------------------------------------

    def person(self, attributes: dict[str, Any] | None = None, **card: Any) -> Person:
        resident_id = self.counter.enrol(attributes or HANAKO)
        options = {
            "signing_password": CARD_PASSWORD,
            "user_authentication_pin": CARD_AUTH_PIN,
            "card_face_pin": CARD_FACE_PIN,
            **card,
        }
        return Person(resident_id, self.counter.issue_card(resident_id, **options))

    def phone(self, platform: str = "android", device_id: str | None = None) -> Smartphone:
        phone = Smartphone(self.client, platform, keys=self.keys)
        if device_id is not None:
            phone.device_id = device_id
        return phone

    def android_registered(
        self, person: Person, phone: Smartphone | None = None, **options: Any
    ) -> Smartphone:
        """2-C → 2-D → notice → 2-E."""
        phone = phone or self.phone("android")
        certificates = options.pop("certificates", ("signing", "user_authentication"))
        phone.android_apply_all(
            person.card,
            CARD_PASSWORD,
            phone_signing_password=PHONE_PASSWORD if "signing" in certificates else None,
            phone_user_authentication_pin=PHONE_PIN if "user_authentication" in certificates else None,
            certificates=certificates,
            **options,
        )
        self.advance(minutes=5)
        phone.register()
        return phone

    def iphone_usable(self, person: Person, phone: Smartphone | None = None) -> Smartphone:
        """3-C → 3-D → pending → usable (notice + 5 min) → provisioned."""
        phone = phone or self.phone("iphone")
        phone.iphone_add_all(
            person.card,
            card_face_pin=CARD_FACE_PIN,
            card_signing_password=CARD_PASSWORD,
            iphone_pin=PHONE_PIN,
            iphone_signing_password=PHONE_PASSWORD,
        )
        self.advance(minutes=10)
        phone.provision()
        return phone

    # -- time --------------------------------------------------------------------------------------

    def advance(self, **delta: float) -> datetime:
        return self.clock.advance(timedelta(**delta))

    def set_jst(self, hour: int, minute: int = 0, *, days: int = 0) -> datetime:
        day = self.clock.now().astimezone(JST).date() + timedelta(days=days)
        return self.clock.set(datetime(day.year, day.month, day.day, hour, minute, tzinfo=JST))

    # -- SDK side ----------------------------------------------------------------------------------

    def verifier(self) -> JPKIVerifier:
        checker = RevocationChecker(
            ocsp=OCSPClient(
                self.client, {root.subject: "/ocsp" for root in self.roots}, sleep=lambda _: None
            ),
            clock=self.clock,
        )
        return JPKIVerifier(self.trust, revocation=checker, policy=OCSP_ONLY, clock=self.clock)

    def sdk_status(self, token: TokenSimulator | None) -> str:
        """``good`` / ``revoked:<reason>`` / ``on_hold`` / ``invalid:<reason>``: a signature made with
        ``token`` verified by the SDK (signature, path, OCSP)."""
        assert token is not None, "no such token on this handset"
        data = b"relying-party challenge " + self.clock.now().isoformat().encode()
        try:
            self.verifier().verify_signature(
                data=data, signature=token.sign(data), certificate=token.certificate
            )
        except CertificateRevokedError as error:
            status = error.status
            reason = getattr(status, "reason", None)
            state = getattr(getattr(status, "status", None), "value", "revoked")
            if state == "on_hold":
                return "on_hold"
            return f"revoked:{reason.value if reason is not None else 'none'}"
        except VerificationError as error:
            return f"invalid:{error.reason.value}"
        return "good"


def problem(call: Any, *args: Any, **kwargs: Any) -> PlatformProblemError:
    """Run ``call`` expecting a platform problem; return it."""
    try:
        call(*args, **kwargs)
    except PlatformProblemError as error:
        return error
    raise AssertionError("expected a problem answer")
