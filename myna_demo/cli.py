"""``myna-rp demo``: JPKI verification against the in-process mock platform.

Steps (issue "JPKI verification core", CLI ``demo``):

1. start the mock platform in-process (FastAPI app on a fresh SQLite file, test clock) and reach it over
   HTTP through an in-process transport;
2. enrol a synthetic resident: a card signing certificate, then an Android smartphone signing certificate
   (keys stay in the simulated tokens);
3. the relying party sends a challenge, the phone signs it, the SDK verifies it with **live OCSP** and
   prints the verified basic four attributes;
4. the certificate is revoked (the holder stops using the phone, cessationOfOperation) and the same
   verification now fails with ``CERTIFICATE_REVOKED``;
5. a login with the user authentication certificate: only an opaque subject identifier comes back.

Every person here is synthetic.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TextIO

from cryptography import x509

with warnings.catch_warnings():
    # Starlette announces a future switch of its test transport; irrelevant to the demo's output.
    warnings.simplefilter("ignore", DeprecationWarning)
    from fastapi.testclient import TestClient

from mock_platform.app import create_app
from mock_platform.ca.keys import KeyType
from mock_platform.ca.profile import FormFactor as MockFormFactor
from mock_platform.ca.token import TokenSimulator
from mock_platform.clock import MockClock
from mock_platform.settings import Settings
from myna_rp.clock import Clock
from myna_rp.errors import MynaRPError
from myna_rp.jpki import JPKIVerifier, TrustStore
from myna_rp.revocation import MemoryRevocationCache, OCSPClient, RevocationChecker, RevocationPolicy

RESIDENT: dict[str, Any] = {
    "date_of_birth": "419950707",  # Heisei, 1995-07-07
    "card_expiry": "2034-07-07",
    "prefecture": "Osaka-fu",
    "municipality": "Osaka-shi",
    "attributes": {
        "name": "見本　花子",
        "gender": "2",
        "address": "大阪府大阪市北区見本町二丁目1番1号",
    },
}


class _SharedClock:
    """The SDK reads the same instant as the mock platform's test clock."""

    def __init__(self, clock: MockClock) -> None:
        self._clock = clock

    def now(self) -> datetime:
        return self._clock.now()


class Demo:
    def __init__(self, http: TestClient, clock: Clock, out: TextIO) -> None:
        self.http = http
        self.clock = clock
        self.out = out

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def step(self, title: str) -> None:
        self.say()
        self.say(f"== {title}")

    # -- mock platform calls ------------------------------------------------------------------------

    def issue(self, token: TokenSimulator, kind: str, form_factor: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": kind,
            "form_factor": form_factor,
            "public_key_pem": token.public_key_pem(),
            "date_of_birth": RESIDENT["date_of_birth"],
            "card_expiry": RESIDENT["card_expiry"],
        }
        if kind == "signing":
            body |= {k: RESIDENT[k] for k in ("prefecture", "municipality", "attributes")}
        response = self.http.post("/admin/certificates", json=body)
        response.raise_for_status()
        issued: dict[str, Any] = response.json()
        return issued

    def trust_store(self) -> tuple[TrustStore, dict[x509.Name, str]]:
        response = self.http.get("/ca")
        response.raise_for_status()
        roots = [x509.load_pem_x509_certificate(ca["certificate_pem"].encode()) for ca in response.json()]
        # JPKI certificates carry no OCSP URL: the relying party configures its responder per issuer.
        responders = {root.subject: "/ocsp" for root in roots}
        return TrustStore.from_certificates(roots), responders

    # -- the story ----------------------------------------------------------------------------------

    def run(self) -> int:
        self.step("1. Mock platform started in-process (SQLite, test clock)")
        trust, responders = self.trust_store()
        for anchor in trust.anchors:
            self.say(f"   trust anchor {anchor.sha256[:16]}…  {anchor.purpose.value} root")

        checker = RevocationChecker(
            ocsp=OCSPClient(self.http, responders),
            cache=MemoryRevocationCache(clock=self.clock),
            clock=self.clock,
        )
        verifier = JPKIVerifier(
            trust, revocation=checker, policy=RevocationPolicy.PREFER_OCSP_THEN_CRL, clock=self.clock
        )

        self.step("2. Enrol a synthetic resident: card, then an Android phone")
        card = TokenSimulator.generate(KeyType.RSA_2048, form_factor=MockFormFactor.CARD)
        card_cert = self.issue(card, "signing", "card")
        self.say(f"   card signing certificate      serial {card_cert['serial']}")
        android = TokenSimulator.generate(KeyType.RSA_2048, form_factor=MockFormFactor.ANDROID)
        android_cert = self.issue(android, "signing", "android")
        self.say(f"   Android signing certificate   serial {android_cert['serial']}")
        self.say(f"   valid {android_cert['not_before'][:10]} → {android_cert['not_after'][:10]}")

        self.step("3. eKYC: the bank sends a challenge, the phone signs it, the SDK verifies (live OCSP)")
        challenge = secrets.token_bytes(32)
        signature = android.sign(challenge)
        result = verifier.verify_signature(
            data=challenge, signature=signature, certificate=android_cert["certificate_pem"].encode()
        )
        attributes = result.attributes
        assert attributes is not None
        dob = attributes.date_of_birth
        self.say(f"   verified: {result.certificate_kind.value} certificate on {result.form_factor.value}")
        self.say(f"   revocation: {result.revocation.status.value} (source {result.revocation.source})")
        self.say(f"   chain: {' → '.join(h[:12] + '…' for h in result.check.chain_sha256)}")
        self.say("   basic four attributes (基本4情報), synthetic person:")
        self.say(f"     name           {attributes.name}")
        shown = dob.value.isoformat() if dob.value else dob.raw
        self.say(f"     date of birth  {shown} (era digit {dob.era.value})")
        self.say(f"     gender         {attributes.gender.name.lower()}")
        self.say(f"     address        {attributes.address}")

        self.step("4. The holder stops using the phone: revoked (cessationOfOperation)")
        revoke = self.http.post(
            f"/admin/certificates/{android_cert['serial']}/revoke", json={"reason": "cessationOfOperation"}
        )
        revoke.raise_for_status()
        fresh = JPKIVerifier(
            trust,
            revocation=RevocationChecker(ocsp=OCSPClient(self.http, responders), clock=self.clock),
            policy=RevocationPolicy.PREFER_OCSP_THEN_CRL,
            clock=self.clock,
        )
        try:
            fresh.verify_signature(
                data=challenge, signature=signature, certificate=android_cert["certificate_pem"].encode()
            )
        except MynaRPError as exc:
            self.say(f"   verification refused: {exc.reason.value} — {exc.message}")
            if exc.reason.value != "CERTIFICATE_REVOKED":
                return 1
        else:
            self.say("   ERROR: a revoked certificate verified")
            return 1

        self.step("5. Login with the user authentication certificate (no personal data)")
        auth = TokenSimulator.generate(KeyType.RSA_2048, form_factor=MockFormFactor.CARD)
        auth_cert = self.issue(auth, "user_authentication", "card")
        nonce = secrets.token_bytes(32)
        login = fresh.verify_authentication(
            challenge=nonce, signature=auth.sign(nonce), certificate=auth_cert["certificate_pem"].encode()
        )
        self.say(f"   login ok: subject_id {login.subject_id}")
        self.say(f"   revocation: {login.revocation.status.value} via {login.revocation.source}")
        self.say()
        self.say("Demo finished: eKYC verified, revocation enforced, login verified.")
        return 0


@contextmanager
def mock_platform(folder: Path) -> Iterator[tuple[TestClient, MockClock]]:
    """The mock platform app on a fresh SQLite file, served in-process through an httpx client."""
    clock = MockClock(datetime.now(UTC))
    settings = Settings(database_url=f"sqlite:///{folder / 'mock_platform.sqlite3'}", test_mode=True)
    app = create_app(settings, clock=clock)
    with TestClient(app, base_url="http://mock-platform.invalid") as client:
        yield client, clock


def run_demo(args: argparse.Namespace) -> int:
    with (
        tempfile.TemporaryDirectory(prefix="myna-demo-") as folder,
        mock_platform(Path(folder)) as (http, clock),
    ):
        print(f"myna-rp demo — {date.today().isoformat()} — everything below runs on this machine")
        return Demo(http, _SharedClock(clock), sys.stdout).run()


def register(subparsers: Any) -> None:
    """Entry point (``myna_rp.commands``): add ``demo`` to the ``myna-rp`` parser."""
    parser = subparsers.add_parser("demo", help="end-to-end demo on the in-process mock platform")
    parser.set_defaults(func=run_demo)
