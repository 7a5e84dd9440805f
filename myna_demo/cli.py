"""``myna-rp demo``: the SDK against the in-process mock platform, following the official guide.

Steps:

1. start the mock platform in-process (FastAPI app on a fresh SQLite file, test clock) and reach it over
   HTTP through an in-process transport; the relying party trusts the platform's roots;
2. the municipal counter enrols a synthetic resident and issues the card (keys stay on the card);
3. Android (guide §2): apply, set the phone passwords, "not ready" before the notice, the test clock is
   advanced to the notice, register;
4. eKYC: the bank sends a challenge, the phone signs it, the SDK verifies it with **live OCSP** and
   prints the verified basic four attributes;
5. the holder stops using the phone (2-F): the same verification fails with ``CERTIFICATE_REVOKED``;
6. login with the card's user authentication certificate: only an opaque subject identifier comes back;
7. iPhone (guide §3): add to Wallet, pending until the usable time (clock advanced), then a signature
   verified as an iPhone certificate;
8. age check (属性証明), web Digital Credentials API (``org-iso-mdoc``): a shop selling alcohol (minimum
   age 20) asks the iPhone for ``age_over_20`` only (``age_request``); the SDK opens the HPKE response,
   verifies the mdoc against the platform's IACA (``MdocVerifier``) and answers with ``verify_age``;
9. the same check on a second synthetic resident's Android phone: the phone answers
   ATTRIBUTE_PROOF_UNSUPPORTED, ``verify_age`` on its JPKI signature raises ``AttributeProofUnsupported``
   naming the fallback, and with the customer's explicit consent the shop answers from the JPKI signing
   certificate's date of birth (``allow_jpki_date_of_birth=True``);
10. OpenID Connect login through the mock Digital Authentication App (デジタル認証アプリ): the RP
    (``MynaOIDCClient``: PKCE S256, private_key_jwt, ES256 ID token checked) asks for name and birthdate, the
    holder approves with the card and its PIN, the RP gets a pairwise ``sub`` and the two attributes;
11. the example bank (``examples/bank_kyc``): account opening with the JPKI signing certificate and a
    confirmation record (確認記録), login with the user authentication certificate, the customer moves and
    the platform's webhook brings the new address (its README's walk-through, in-process);
12. the example age-gated shop (``examples/age_check``): checkouts by iPhone (web and in-app), a
    19-year-old refused, a replay refused, an Android customer with and without the JPKI fallback.

Steps 11 and 12 run the examples from the repository checkout (``make demo`` sets ``PYTHONPATH``).
Every person here is synthetic.
"""

from __future__ import annotations

import argparse
import base64
import logging
import secrets
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from mock_platform.app import create_app
from mock_platform.clock import JST, MockClock
from mock_platform.device import (
    AttributeProofUnsupportedProblemError,
    MunicipalCounter,
    PlatformProblemError,
    Smartphone,
)
from mock_platform.device.auth_app import AuthApp
from mock_platform.device.simulator import Card
from mock_platform.settings import Settings
from myna_rp.age import verify_age
from myna_rp.clock import Clock
from myna_rp.errors import AttributeProofUnsupported, MynaRPError
from myna_rp.jpki import JPKIVerifier, TrustStore
from myna_rp.mdoc import (
    IACAStore,
    MdocVerifier,
    age_request,
    dcapi_encryption_info,
    dcapi_transcript,
    open_dcapi_response,
)
from myna_rp.platform import MynaOIDCClient
from myna_rp.revocation import MemoryRevocationCache, OCSPClient, RevocationChecker, RevocationPolicy

with warnings.catch_warnings():
    # Starlette announces a future switch of its test transport; irrelevant to the demo's output.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

RESIDENT: dict[str, Any] = {
    "name": "見本　花子",
    "gender": "2",
    "date_of_birth": "419950707",  # Heisei, 1995-07-07
    "address": "大阪府大阪市北区見本町二丁目1番1号",
    "prefecture": "Osaka-fu",
    "municipality": "Osaka-shi",
}
SECOND_RESIDENT: dict[str, Any] = {  # step 9: the Android customer of the age check
    "name": "見本　一郎",
    "gender": "1",
    "date_of_birth": "420000815",  # Heisei, 2000-08-15
    "address": "大阪府大阪市北区見本町三丁目3番3号",
    "prefecture": "Osaka-fu",
    "municipality": "Osaka-shi",
}
SHOP_ORIGIN = "https://shop.example"  # the age-gated web shop (DC API origin)
MINIMUM_AGE = 20  # alcohol and tobacco in Japan
CARD_SIGNING_PASSWORD = "CARD2024"  # noqa: S105 - synthetic, 6-16 of A-Z0-9
PHONE_SIGNING_PASSWORD = "PHONE2024"  # noqa: S105 - synthetic
PIN = "1234"
MOCK_BASE = "http://mock-platform.invalid"  # the in-process mock's base URL (no socket)
RP_REDIRECT = "https://bank.example/oidc/callback"


BANK_HOST = "bank.demo.invalid"
BANK_BASE = f"http://{BANK_HOST}"


class Demo:
    def __init__(
        self,
        http: TestClient,
        clock: MockClock,
        out: TextIO,
        webhook_targets: dict[str, TestClient] | None = None,
    ) -> None:
        self.http = http
        self.clock = clock
        self.out = out
        # host -> in-process app that receives the mock platform's webhooks (the bank of step 11)
        self.webhook_targets: dict[str, TestClient] = webhook_targets if webhook_targets is not None else {}

    def say(self, text: str = "") -> None:
        self.out.write(text + "\n")

    def step(self, title: str) -> None:
        self.say()
        self.say(f"== {title}")

    def now_jst(self) -> str:
        return self.clock.now().astimezone(JST).strftime("%Y-%m-%d %H:%M JST")

    def advance_to(self, when: str) -> None:
        """Advance the platform's test clock (POST /admin/clock) to an RFC 3339 instant."""
        response = self.http.post("/admin/clock", json={"now": when})
        response.raise_for_status()
        self.say(f"   … test clock advanced to {self.now_jst()}")

    def trust_store(self) -> tuple[TrustStore, dict[x509.Name, str]]:
        response = self.http.get("/ca")
        response.raise_for_status()
        roots = [x509.load_pem_x509_certificate(ca["certificate_pem"].encode()) for ca in response.json()]
        # JPKI certificates carry no OCSP URL: the relying party configures its responder per issuer.
        return TrustStore.from_certificates(roots), {root.subject: "/ocsp" for root in roots}

    def run(self) -> int:
        self.step(f"1. Mock platform started in-process (SQLite, test clock at {self.now_jst()})")
        trust, responders = self.trust_store()
        for anchor in trust.anchors:
            self.say(f"   trust anchor {anchor.sha256[:16]}…  {anchor.purpose.value} root")
        sdk_clock: Clock = self.clock  # the SDK reads the same instant as the platform
        checker = RevocationChecker(
            ocsp=OCSPClient(self.http, responders),
            cache=MemoryRevocationCache(clock=sdk_clock),
            clock=sdk_clock,
        )
        verifier = JPKIVerifier(
            trust, revocation=checker, policy=RevocationPolicy.PREFER_OCSP_THEN_CRL, clock=sdk_clock
        )

        def fresh_verifier() -> JPKIVerifier:  # no cached OCSP answer: see a revocation at once
            live = RevocationChecker(ocsp=OCSPClient(self.http, responders), clock=sdk_clock)
            return JPKIVerifier(
                trust, revocation=live, policy=RevocationPolicy.PREFER_OCSP_THEN_CRL, clock=sdk_clock
            )

        self.step("2. Municipal counter: enrol a synthetic resident, issue the card")
        counter = MunicipalCounter(self.http)
        resident_id = counter.enrol(RESIDENT)
        card = counter.issue_card(
            resident_id,
            signing_password=CARD_SIGNING_PASSWORD,
            user_authentication_pin=PIN,
            card_face_pin=PIN,
        )
        self.say(f"   resident {resident_id}, card {card.card_id} (signing + user-auth certificates)")

        self.step("3. Android (guide §2): apply, set phone passwords, wait for the notice, register")
        android = Smartphone(self.http, "android")
        applied = android.android_apply_all(
            card,
            CARD_SIGNING_PASSWORD,
            phone_signing_password=PHONE_SIGNING_PASSWORD,
            phone_user_authentication_pin=PIN,
        )
        self.say(f"   application {applied['state']}; notice expected at {applied['notice_at']}")
        if not self.expect_problem("   register before the notice", android.register, "NOT_READY"):
            return 1
        self.advance_to(applied["notice_at"])
        self.say(f"   notices: {[n['kind'] for n in android.notices()]}")
        android.register()
        self.say("   registered: Android smartphone certificates written to the secure element")

        self.step("4. eKYC: the bank sends a challenge, the phone signs it, the SDK verifies (live OCSP)")
        challenge = secrets.token_bytes(32)
        signature = android.sign(challenge)
        result = verifier.verify_signature(
            data=challenge, signature=signature, certificate=android.signing_certificate
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

        self.step("5. The holder stops using the phone (2-F, phone signing password): revoked")
        android.stop_with_password(PHONE_SIGNING_PASSWORD)
        try:
            fresh_verifier().verify_signature(
                data=challenge, signature=signature, certificate=android.signing_certificate
            )
        except MynaRPError as exc:
            self.say(f"   verification refused: {exc.reason.value} — {exc.message}")
            if exc.reason.value != "CERTIFICATE_REVOKED":
                return 1
        else:
            self.say("   ERROR: a revoked certificate verified")
            return 1

        self.step("6. Login with the card's user authentication certificate (no personal data)")
        nonce = secrets.token_bytes(32)
        login = fresh_verifier().verify_authentication(
            challenge=nonce,
            signature=card.user_authentication.sign(nonce),
            certificate=card.user_authentication.certificate,
        )
        self.say(f"   login ok: subject_id {login.subject_id}")
        self.say(f"   revocation: {login.revocation.status.value} via {login.revocation.source}")

        self.step("7. iPhone (guide §3): add to Wallet, pending until usable, then sign")
        iphone = Smartphone(self.http, "iphone")
        added = iphone.iphone_add_all(
            card,
            card_face_pin=PIN,
            card_signing_password=CARD_SIGNING_PASSWORD,
            iphone_pin=PIN,
            iphone_signing_password=PHONE_SIGNING_PASSWORD,
        )
        self.say(f"   addition {added['state']}; usable at {added['usable_at']}")
        if not self.expect_problem("   use before the usable time", iphone.provision, "NOT_READY"):
            return 1
        self.advance_to(added["usable_at"])
        iphone.provision()
        data = secrets.token_bytes(32)
        on_iphone = fresh_verifier().verify_signature(
            data=data, signature=iphone.sign(data), certificate=iphone.signing_certificate
        )
        self.say(
            f"   verified: {on_iphone.certificate_kind.value} certificate on {on_iphone.form_factor.value}, "
            f"revocation {on_iphone.revocation.status.value}"
        )

        self.step(f"8. Age check (minimum age {MINIMUM_AGE}): the shop asks the iPhone (web DC API)")
        if not self.age_check_iphone(iphone, sdk_clock):
            return 1

        self.step("9. Age check on Android: no attribute proof, JPKI fallback with the customer's consent")
        if not self.age_check_android(counter, fresh_verifier):
            return 1

        self.step("10. OpenID Connect login: the Digital Authentication App, approved with the card")
        if not self.oidc_login(card, sdk_clock):
            return 1

        self.step("11. The example bank (examples/bank_kyc): account opening, login, a customer who moves")
        if not self.bank_walkthrough():
            return 1

        self.step("12. The example shop (examples/age_check): age-restricted checkouts")
        if not self.shop_walkthrough():
            return 1
        self.say()
        self.say(
            "Demo finished: Android and iPhone flows, eKYC verified, revocation enforced, login verified, "
            "age checked (iPhone mdoc, Android JPKI fallback), OIDC login, bank account opened, shop "
            "checkout done."
        )
        return 0

    def oidc_login(self, card: Card, clock: Clock) -> bool:
        key = ECKey.generate_key("P-256", private=True, parameters={"kid": "demo-bank-1"})
        registered = self.http.post(
            "/admin/relying-parties",
            json={
                "name": "Demo Bank (synthetic)",
                "jwks": {"keys": [key.as_dict(private=False)]},
                "redirect_uris": [RP_REDIRECT],
            },
        )
        registered.raise_for_status()
        client_id = registered.json()["client_id"]
        oidc = MynaOIDCClient(
            self.http, issuer=f"{MOCK_BASE}/oidc", client_id=client_id, private_key=key, clock=clock
        )
        url, state = oidc.begin_login(["openid", "name", "birthdate"], redirect_uri=RP_REDIRECT)
        self.say(f"   RP {client_id}: authorization request (PKCE S256, state, nonce) for name + birthdate")
        app = AuthApp(self.http)
        request = app.open(url)
        # name/birthdate come from the signing certificate: the app asks for its password too
        callback = app.approve_with_card(request, card, pin=PIN, signing_password=CARD_SIGNING_PASSWORD)
        self.say("   the holder approves in the app with the card (PIN and signing password)")
        login = oidc.complete_login(callback, state)
        self.say(f"   ID token verified (ES256, iss, aud, exp, iat, nonce); acr {login.acr}")
        self.say(f"   pairwise sub {login.subject[:16]}… (another RP gets another value)")
        attributes = login.attributes
        name = attributes.name if attributes is not None else None
        born = attributes.date_of_birth if attributes is not None else None
        shown = born.value.isoformat() if born is not None and born.value is not None else "not given"
        self.say(f"   userinfo: name {name}, birthdate {shown} (only the scopes granted)")
        return bool(login.subject) and name == RESIDENT["name"]

    def bank_walkthrough(self) -> bool:
        try:
            from examples.bank_kyc import BankDependencies, BankSettings
            from examples.bank_kyc import create_app as create_bank
            from examples.bank_kyc.walkthrough import run as run_bank
        except ImportError as exc:
            self.say(
                f"   skipped: the examples are not importable here ({exc}); run `make demo` from the repo"
            )
            return False
        registered = self.http.post(
            "/admin/relying-parties",
            json={
                "name": "Example Bank (synthetic)",
                "generate_api_key": True,
                "webhook_url": f"{BANK_BASE}/webhooks/platform",
            },
        )
        registered.raise_for_status()
        rp = registered.json()
        with tempfile.TemporaryDirectory(prefix="myna-demo-bank-") as folder:
            settings = BankSettings(
                mode="direct",
                database_url=f"sqlite:///{Path(folder) / 'bank.sqlite3'}",
                platform_url=MOCK_BASE,
                platform_api_key=rp["api_key"],
                platform_client_id=rp["client_id"],
                webhook_secret=rp["webhook_secret"],
            )
            bank_app = create_bank(settings, dependencies=BankDependencies(clock=self.clock, http=self.http))
            with TestClient(bank_app, base_url=BANK_BASE) as bank:
                self.webhook_targets[BANK_HOST] = bank
                # The bank logs refusals (the forged webhook of the story) as warnings: the story says it.
                logging.getLogger("examples.bank_kyc").setLevel(logging.ERROR)
                try:
                    seen = run_bank(self.http, bank, say=lambda line: self.say("   " + line))
                finally:
                    del self.webhook_targets[BANK_HOST]
        opened = seen.get("opened", (0, {}))[0] == 201
        moved = seen.get("me_after", {}).get("reverification_required") is False
        return opened and moved

    def shop_walkthrough(self) -> bool:
        try:
            from examples.age_check import ShopDependencies, ShopSettings
            from examples.age_check import create_app as create_shop
            from examples.age_check.walkthrough import Walkthrough
        except ImportError as exc:
            self.say(
                f"   skipped: the examples are not importable here ({exc}); run `make demo` from the repo"
            )
            return False
        settings = ShopSettings(origin=SHOP_ORIGIN, clock="platform", platform_url=MOCK_BASE)
        shop_app = create_shop(settings, dependencies=ShopDependencies(http=self.http))
        with TestClient(shop_app, base_url=SHOP_ORIGIN) as shop:
            results = Walkthrough(self.http, shop, say=lambda line: self.say("   " + line)).run()
        approved: bool = results["iphone_web_25"]["http_status"] == 200
        refused: bool = results["iphone_web_19"]["http_status"] == 403
        return approved and refused

    def mdoc_verifier(self, clock: Clock) -> MdocVerifier:
        """The shop trusts the platform's IACA root (``GET /mdoc/iaca.cer``)."""
        response = self.http.get("/mdoc/iaca.cer")
        response.raise_for_status()
        iaca = x509.load_der_x509_certificate(response.content)
        self.say(f"   trust anchor {iaca.fingerprint(hashes.SHA256()).hex()[:16]}…  IACA root (mdoc)")
        return MdocVerifier(IACAStore.from_certificates([iaca]), clock=clock)

    def age_check_iphone(self, iphone: Smartphone, clock: Clock) -> bool:
        verifier = self.mdoc_verifier(clock)
        # The shop's request (ISO/IEC 18013-7 Annex C): the minimal DeviceRequest and its HPKE key.
        shop_key = ec.generate_private_key(ec.SECP256R1())
        encryption_info = dcapi_encryption_info(
            nonce=secrets.token_bytes(16), recipient_public_key=shop_key.public_key()
        )
        request = {"deviceRequest": _b64url(age_request(MINIMUM_AGE)), "encryptionInfo": encryption_info}
        self.say(
            f"   request: org.iso.23220.1/age_over_{MINIMUM_AGE} only, not retained "
            f"(org-iso-mdoc, origin {SHOP_ORIGIN})"
        )
        answer = iphone.present_dc_api(request, origin=SHOP_ORIGIN)  # the browser hands it to Wallet
        # The shop's side, SDK only: its own transcript, the envelope opened, the mdoc verified.
        transcript = dcapi_transcript(encryption_info_b64url=encryption_info, origin=SHOP_ORIGIN)
        response = open_dcapi_response(
            _b64url_decode(answer["response"]), recipient_private_key=shop_key, session_transcript=transcript
        )
        presentation = verifier.verify(response, session_transcript=transcript)
        disclosed = ", ".join(f"{ns}/{name}" for ns, items in presentation.elements.items() for name in items)
        self.say(
            f"   verified: {presentation.doc_type}, channel {presentation.channel.value}, "
            f"device {presentation.device_auth.value}, valid until "
            f"{presentation.validity.valid_until.astimezone(JST):%Y-%m-%d %H:%M} JST"
        )
        self.say(f"   disclosed: {disclosed} only")
        age = verify_age(presentation, MINIMUM_AGE)
        evidence = age.evidence
        self.say(
            f"   over {MINIMUM_AGE}: {age.over} (evidence {evidence.source} {evidence.namespace}/"
            f"{evidence.element})"
        )
        return age.over

    def age_check_android(self, counter: MunicipalCounter, verifier: Callable[[], JPKIVerifier]) -> bool:
        resident_id = counter.enrol(SECOND_RESIDENT)
        card = counter.issue_card(
            resident_id,
            signing_password=CARD_SIGNING_PASSWORD,
            user_authentication_pin=PIN,
            card_face_pin=PIN,
        )
        android = Smartphone(self.http, "android")
        applied = android.android_apply_all(
            card,
            CARD_SIGNING_PASSWORD,
            phone_signing_password=PHONE_SIGNING_PASSWORD,
            phone_user_authentication_pin=PIN,
        )
        self.say(
            f"   second synthetic resident {resident_id}: card issued, Android application {applied['state']}"
        )
        self.advance_to(applied["notice_at"])
        android.register()
        self.say("   registered: Android smartphone certificates written to the secure element")
        shop_key = ec.generate_private_key(ec.SECP256R1())
        request = {
            "deviceRequest": _b64url(age_request(MINIMUM_AGE)),
            "encryptionInfo": dcapi_encryption_info(
                nonce=secrets.token_bytes(16), recipient_public_key=shop_key.public_key()
            ),
        }
        try:
            android.present_dc_api(request, origin=SHOP_ORIGIN)
        except AttributeProofUnsupportedProblemError as exc:
            self.say(f"   the phone answers the mdoc request: {exc.code} (fallback {exc.body['fallback']})")
        else:
            self.say("   ERROR: an Android phone presented an attribute proof")
            return False
        # The shop asks for a JPKI signature instead and verifies it (path + live OCSP).
        challenge = secrets.token_bytes(32)
        signed = verifier().verify_signature(
            data=challenge, signature=android.sign(challenge), certificate=android.signing_certificate
        )
        self.say(
            f"   JPKI signature verified: {signed.certificate_kind.value} certificate on "
            f"{signed.form_factor.value}"
        )
        try:
            verify_age(signed, MINIMUM_AGE)
        except AttributeProofUnsupported as exc:
            self.say(
                f"   verify_age: AttributeProofUnsupported ({exc.reason.value}), fallback {exc.fallback}"
            )
        else:
            self.say("   ERROR: verify_age answered from Android evidence without the opt-in")
            return False
        self.say("   the customer consents to the fallback: the shop answers from the signing certificate's")
        self.say("   date of birth (the certificate also carries name, gender, address: not used, not kept)")
        age = verify_age(signed, MINIMUM_AGE, allow_jpki_date_of_birth=True)
        self.say(
            f"   over {MINIMUM_AGE}: {age.over} (evidence {age.evidence.source} {age.evidence.element}, "
            "allow_jpki_date_of_birth=True)"
        )
        return age.over

    def expect_problem(self, label: str, call: Callable[[], object], code: str) -> bool:
        try:
            call()
        except PlatformProblemError as exc:
            self.say(f"{label}: refused with {exc.code}")
            return exc.code == code
        self.say(f"{label}: ERROR, accepted")
        return False


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _webhook_transport(targets: dict[str, TestClient]) -> httpx.MockTransport:
    """Deliver the mock's webhooks to the in-process app registered for the request's host (else 503)."""

    def deliver(request: httpx.Request) -> httpx.Response:
        target = targets.get(request.url.host)
        if target is None:
            return httpx.Response(503)
        answer = target.request(
            request.method,
            request.url.raw_path.decode("ascii"),
            content=request.content,
            headers=dict(request.headers),
        )
        return httpx.Response(answer.status_code, content=answer.content, headers=answer.headers)

    return httpx.MockTransport(deliver)


@contextmanager
def mock_platform(
    folder: Path, webhook_targets: dict[str, TestClient]
) -> Iterator[tuple[TestClient, MockClock]]:
    """The mock platform app on a fresh SQLite file, served in-process through an httpx client."""
    clock = MockClock(datetime.now(UTC))
    settings = Settings(
        database_url=f"sqlite:///{folder / 'mock_platform.sqlite3'}",
        test_mode=True,
        oidc_issuer=f"{MOCK_BASE}/oidc",
    )
    webhooks = httpx.Client(transport=_webhook_transport(webhook_targets))
    app = create_app(settings, clock=clock, webhook_client=webhooks)
    with webhooks, TestClient(app, base_url=MOCK_BASE) as client:
        yield client, clock


def run_demo(args: argparse.Namespace) -> int:
    """Entry point (``myna_rp.commands``: ``myna-rp demo``). Returns the exit code."""
    targets: dict[str, TestClient] = {}
    with (
        tempfile.TemporaryDirectory(prefix="myna-demo-") as folder,
        mock_platform(Path(folder), targets) as (http, clock),
    ):
        print("myna-rp demo — everything below runs on this machine, with synthetic people")
        return Demo(http, clock, sys.stdout, targets).run()
