"""The README's walk-through as a script: customers (played by the mock's device simulator) buy alcohol.

Run it against a served mock (test mode) and a served shop (see README.md)::

    .venv/bin/python -m examples.age_check.walkthrough \\
        --platform http://127.0.0.1:8700 --shop http://127.0.0.1:8701

It enrols synthetic residents at the mock's municipal counter, puts their cards on phones (moving the
mock's test clock past the waits with ``POST /admin/clock``), then checks out at the shop:

1. a 25-year-old iPhone holder on the web (Digital Credentials API, ``org-iso-mdoc``) → approved, placed;
2. the same holder in the shop's iOS app (Apple "Verify with Wallet") → approved;
3. a 19-year-old iPhone holder → refused (403 AGE_REQUIREMENT_NOT_MET);
4. the 25-year-old's web answer replayed → refused (409 CHALLENGE_REPLAYED);
5. a 25-year-old Android user: 409 ATTRIBUTE_PROOF_UNSUPPORTED, declines the fallback → refused (403);
6. the same Android user consenting → approved from the JPKI signing certificate's date of birth.

:func:`run` takes two :class:`httpx.Client` objects, so the test suite runs the very same script
in-process (``TestClient``s) — the README cannot drift from the code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from mock_platform.device import Smartphone
from mock_platform.device.simulator import Card

from .._shared.encoding import b64url, b64url_decode
from .._shared.walkthrough import CARD_PASSWORD, CARD_PIN, PHONE_PASSWORD, PHONE_PIN, SimulatedCustomers

__all__ = [
    "CARD_PASSWORD",
    "CARD_PIN",
    "MINIMUM_AGE",
    "PHONE_PASSWORD",
    "PHONE_PIN",
    "Walkthrough",
    "main",
    "resident",
]

MINIMUM_AGE = 20


def resident(name: str, born: date) -> dict[str, Any]:
    """Synthetic basic four attributes (基本4情報); ``born`` as the JPKI ``EYYYYMMDD`` (era digit + date)."""
    era = 3 if born < date(1989, 1, 8) else 4 if born < date(2019, 5, 1) else 5  # 昭和 / 平成 / 令和
    return {
        "name": name,
        "gender": "2",
        "date_of_birth": f"{era}{born:%Y%m%d}",
        "address": "東京都千代田区試験町一丁目99番99号",
        "prefecture": "Tokyo-to",
        "municipality": "Chiyoda-ku",
    }


def _born(today: date, years: int) -> date:
    """A birthday ``years`` and a half before ``today`` (never on the checkout day)."""
    month = (today.month + 5) % 12 + 1  # about six months away from today
    return date(today.year - years - (1 if month > today.month else 0), month, 1)


class Walkthrough(SimulatedCustomers):
    """The script's state: the two clients and where to print."""

    def __init__(
        self, platform: httpx.Client, shop: httpx.Client, say: Callable[[str], None] = print
    ) -> None:
        super().__init__(platform, say)
        self.shop = shop

    # -- the platform side (the municipal counter, the phones) ---------------------------------------

    def card(self, name: str, age: int) -> Card:
        return self.issue_card(resident(name, _born(self.platform_now().date(), age)))

    def iphone(self, card: Card) -> Smartphone:
        phone = Smartphone(self.platform, "iphone")
        added = phone.iphone_add_all(
            card,
            card_face_pin=CARD_PIN,
            card_signing_password=CARD_PASSWORD,
            iphone_pin=PHONE_PIN,
            iphone_signing_password=PHONE_PASSWORD,
        )
        self.wait_until(added.get("usable_at"))  # pending until the usable time (notice + lag)
        phone.provision()  # certificates, then the attribute credential (mdoc) in Wallet
        return phone

    # -- the shop side ---------------------------------------------------------------------------------

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.shop.post(path, json=body)

    def checkout(self) -> str:
        answer = self.post("/checkouts")
        answer.raise_for_status()
        return str(answer.json()["order_id"])

    def report(self, what: str, answer: httpx.Response) -> dict[str, Any]:
        body: dict[str, Any] = answer.json()
        if answer.status_code < 400:
            self.say(f"   {what}: {answer.status_code} over={body['over']} evidence={body['evidence']}")
        else:
            self.say(f"   {what}: {answer.status_code} {body['code']} — {body['detail']}")
        return {**body, "http_status": answer.status_code}

    def web(self, order_id: str, phone: Smartphone) -> tuple[httpx.Response, dict[str, Any]]:
        """The page: ask the shop, hand the request to the wallet, post the answer back."""
        request = self.post(f"/checkouts/{order_id}/age-check/dc-api").json()
        answer = phone.present_dc_api(request["request"], origin=request["origin"])
        body = {"challenge_id": request["challenge_id"], "response": answer["response"]}
        return self.post(f"/checkouts/{order_id}/age-check/dc-api/response", body), body

    def app(self, order_id: str, phone: Smartphone) -> httpx.Response:
        """The iOS app: the same, with Apple's identity request and its HPKE envelope."""
        request = self.post(f"/checkouts/{order_id}/age-check/apple").json()
        key = ec.EllipticCurvePublicKey.from_encoded_point(
            ec.SECP256R1(), b64url_decode(request["encryption_public_key"])
        )
        envelope = phone.present_apple(
            b64url_decode(request["device_request"]),
            nonce=b64url_decode(request["nonce"]),
            merchant_id=request["merchant_id"],
            team_id=request["team_id"],
            recipient_public_key=key,
        )
        body = {"challenge_id": request["challenge_id"], "envelope": b64url(envelope)}
        return self.post(f"/checkouts/{order_id}/age-check/apple/response", body)

    def jpki(self, order_id: str, phone: Smartphone, *, consent: bool) -> httpx.Response:
        """The Android app: fetch the challenge, sign it with the JPKI signing key, post with consent."""
        request = self.post(f"/checkouts/{order_id}/age-check/jpki/challenge").json()
        signature = phone.sign(b64url_decode(request["challenge"]))
        certificate = phone.signing_certificate.public_bytes(Encoding.DER)
        body = {
            "consent": consent,
            "challenge_id": request["challenge_id"],
            "signature": b64url(signature),
            "certificate": b64url(certificate),
        }
        return self.post(f"/checkouts/{order_id}/age-check/jpki", body)

    def run(self) -> dict[str, dict[str, Any]]:
        """Every step; returns each step's status and body (for the tests)."""
        results: dict[str, dict[str, Any]] = {}
        self.say(
            "== Customers: cards issued at the counter, added to phones (mock clock moved past the waits)"
        )
        hanako = self.iphone(self.card("試験　花子", 25))
        jiro = self.iphone(self.card("見本　次郎", 19))
        android = self.android(self.card("見本　三郎", 25))
        self.say(
            "   25-year-old with an iPhone, 19-year-old with an iPhone, 25-year-old with an Android phone"
        )

        self.say("== 1. iPhone, web (DC API): 25 years old")
        order_id = self.checkout()
        answer, captured = self.web(order_id, hanako)
        results["iphone_web_25"] = self.report("age check", answer)
        results["place"] = self.report_place(order_id)

        self.say("== 2. iPhone, in-app (Apple Verify with Wallet): 25 years old")
        results["iphone_app_25"] = self.report("age check", self.app(self.checkout(), hanako))

        self.say("== 3. iPhone, web: 19 years old")
        results["iphone_web_19"] = self.report("age check", self.web(self.checkout(), jiro)[0])

        self.say("== 4. The answer of step 1 replayed")
        results["replay"] = self.report(
            "replay", self.post(f"/checkouts/{order_id}/age-check/dc-api/response", captured)
        )

        self.say("== 5. Android: no attribute proof; the customer declines the JPKI fallback")
        order_id = self.checkout()
        offer = self.post(f"/checkouts/{order_id}/age-check/android")
        results["android_offer"] = self.report("attribute proof", offer)
        results["android_declined"] = self.report(
            "fallback declined", self.jpki(order_id, android, consent=False)
        )

        self.say(
            "== 6. Android: the customer consents (date of birth read from the certificate, then dropped)"
        )
        results["android_consented"] = self.report("fallback", self.jpki(order_id, android, consent=True))
        return results

    def report_place(self, order_id: str) -> dict[str, Any]:
        answer = self.post(f"/checkouts/{order_id}/place")
        body: dict[str, Any] = answer.json()
        self.say(f"   place order: {answer.status_code} {body.get('status', body.get('code'))}")
        return {**body, "http_status": answer.status_code}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Walk through the age-check shop with simulated phones")
    parser.add_argument("--platform", default="http://127.0.0.1:8700", help="the mock platform (test mode)")
    parser.add_argument("--shop", default="http://127.0.0.1:8701", help="the shop")
    args = parser.parse_args(argv)
    with (
        httpx.Client(base_url=args.platform, timeout=30.0) as platform,
        httpx.Client(base_url=args.shop, timeout=30.0) as shop,
    ):
        try:
            Walkthrough(platform, shop).run()
        except httpx.HTTPError as exc:
            print(f"walkthrough: {exc} (are the mock, in test mode, and the shop running?)", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
