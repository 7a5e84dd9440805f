"""Device simulator: the phone, the card and the user, driving the mock platform over HTTP.

Works with any :class:`httpx.Client` pointed at the platform — Starlette's ``TestClient(app)`` in-process,
or ``httpx.Client(base_url="http://127.0.0.1:8700")`` against ``myna-mock serve``.

* :class:`MunicipalCounter` — the counter and the hotline (admin calls): enrol a resident, issue a card
  (keys generated *here*, on the card; the server sees public keys only), PIN reset, attribute change,
  renewal, lost card/found card, lost phone.
* :class:`Card` — the physical card: two :class:`~mock_platform.ca.token.TokenSimulator` keys with their
  certificates; :meth:`Card.read` answers a one-time challenge (the NFC read).
* :class:`Smartphone` — an Android handset or an iPhone: every step of §2, §3, §4 and §5-B as a method
  (step by step, plus ``*_all`` conveniences that run a whole screen sequence), notices, and the RP side:
  :meth:`Smartphone.sign` / :meth:`Smartphone.sign_cms` (signing certificate) and
  :meth:`Smartphone.authenticate` (user-authentication certificate); on an iPhone, the attribute
  credential (mdoc): :meth:`Smartphone.fetch_credential` (done by :meth:`Smartphone.provision`),
  :meth:`Smartphone.sync_credential`, and presentations — :meth:`Smartphone.present` (raw DeviceResponse
  for a given SessionTranscript), :meth:`Smartphone.present_apple` (iOS app, ``APPLE-HPKE-v1``),
  :meth:`Smartphone.present_dc_api` (``org-iso-mdoc``, 18013-7 Annex C) and
  :meth:`Smartphone.present_openid4vp` (OpenID4VP over the DC API). On Android each raises
  :class:`AttributeProofUnsupportedProblemError` (``ATTRIBUTE_PROOF_UNSUPPORTED``).

Errors from the platform raise :class:`PlatformProblemError` carrying the problem document (``code``,
``status``, extra members such as ``remaining_tries``). The simulator does not model the handset's local
PIN prompt before a signature: the platform's PIN counters cover the server-checked steps only.
Nothing here logs; PINs only travel in request bodies.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import cbor2
import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from ..ca.keys import KeyType, public_key_pem
from ..ca.profile import CertificateKind, FormFactor
from ..ca.token import TokenSimulator
from ..issuance.service import card_read_message
from ..mdoc.cose import public_key_from_cose
from ..mdoc.transcript import (
    DCAPI,
    apple_envelope,
    apple_session_transcript,
    b64url,
    b64url_decode,
    dcapi_encrypted_response,
    dcapi_session_transcript,
    openid4vp_dcapi_session_transcript,
)
from .wallet import DeviceRequestError, RequestedDocument, build_device_response, parse_device_request

#: Makes a fresh token (a key pair generated on the card or in the phone's secure element).
KeyFactory = Callable[[FormFactor], TokenSimulator]

_JSON = dict[str, Any]


def generate_rsa_token(form_factor: FormFactor) -> TokenSimulator:
    """The default :data:`KeyFactory`: a new RSA-2048 key, as on the card and the phones."""
    return TokenSimulator.generate(KeyType.RSA_2048, form_factor=form_factor)


class PlatformProblemError(Exception):
    """A problem+json answer (4xx/5xx) from the platform.

    Attributes:
        status: HTTP status; code: the stable problem code; body: the whole problem document.
    """

    def __init__(self, status: int, body: _JSON) -> None:
        self.status = status
        self.body = body
        self.code: str = str(body.get("code", f"HTTP_{status}"))
        super().__init__(f"{status} {self.code}: {body.get('detail', '')}")

    def __getitem__(self, key: str) -> Any:
        return self.body[key]


class AttributeProofUnsupportedProblemError(PlatformProblemError):
    """An Android handset asked for an attribute proof: the platform's typed "not supported".

    ``code`` is ``ATTRIBUTE_PROOF_UNSUPPORTED`` (the same problem the platform's credential routes answer
    for an Android registration); ``body["fallback"]`` names the alternative
    (``jpki_signing_certificate``).
    """

    def __init__(self) -> None:
        super().__init__(
            409,
            {
                "type": "https://myna-rp.example/problems/attribute-proof-unsupported",
                "title": "Attribute proofs are not supported on Android",
                "status": 409,
                "detail": "Android carries no attribute proof (Android端末では未対応)",
                "code": "ATTRIBUTE_PROOF_UNSUPPORTED",
                "fallback": "jpki_signing_certificate",
            },
        )


@dataclass(frozen=True, slots=True)
class HeldCredential:
    """The attribute credential held in the iPhone's Wallet (``issuer_signed``: IssuerSigned CBOR)."""

    credential_id: str
    doc_type: str
    issuer_signed: bytes
    signed: datetime
    valid_from: datetime
    valid_until: datetime
    expected_update: datetime

    @classmethod
    def from_json(cls, body: _JSON) -> HeldCredential:
        return cls(
            credential_id=body["credential_id"],
            doc_type=body["doc_type"],
            issuer_signed=base64.b64decode(body["issuer_signed"]),
            signed=datetime.fromisoformat(body["signed"]),
            valid_from=datetime.fromisoformat(body["valid_from"]),
            valid_until=datetime.fromisoformat(body["valid_until"]),
            expected_update=datetime.fromisoformat(body["expected_update"]),
        )


class _Api:
    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def call(self, method: str, path: str, json: _JSON | None = None, params: _JSON | None = None) -> Any:
        response = self.http.request(method, path, json=json, params=params)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {"code": f"HTTP_{response.status_code}", "detail": response.text[:200]}
            raise PlatformProblemError(response.status_code, body if isinstance(body, dict) else {})
        return response.json()


def _certificate(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode("ascii"))


@dataclass
class Card:
    """A physical My Number Card: ids, its two tokens (keys + certificates) and its expiry."""

    card_id: str
    resident_id: str
    signing: TokenSimulator
    user_authentication: TokenSimulator
    card_expiry: date | None = None

    def read(self, api: _Api) -> _JSON:
        """The NFC read of one step: fetch a challenge, sign it with the card's signing key."""
        challenge = api.call("POST", f"/cards/{self.card_id}/challenges")
        nonce = base64.b64decode(challenge["nonce"])
        signature = self.signing.sign(card_read_message(challenge["challenge_id"], nonce))
        return {"challenge_id": challenge["challenge_id"], "signature": base64.b64encode(signature).decode()}

    def verify_pin(self, api_client: httpx.Client, pin: str, value: str) -> None:
        """Enter a card PIN (``card_signing``, ``card_user_authentication`` or ``card_face``)."""
        _Api(api_client).call("POST", f"/cards/{self.card_id}/verify-pin", {"pin": pin, "value": value})

    def attach(self, certificates: Iterable[_JSON]) -> None:
        """Attach the certificates of a counter answer to the matching tokens."""
        for item in certificates:
            if item.get("certificate_pem") is None:
                continue
            certificate = _certificate(item["certificate_pem"])
            if item["kind"] == CertificateKind.SIGNING.value:
                self.signing = self.signing.with_certificate(certificate)
            else:
                self.user_authentication = self.user_authentication.with_certificate(certificate)


class MunicipalCounter:
    """The municipal counter and the hotline (the platform's admin calls)."""

    def __init__(self, http: httpx.Client, *, keys: KeyFactory = generate_rsa_token) -> None:
        self._api = _Api(http)
        self._keys = keys

    def enrol(self, attributes: _JSON) -> str:
        """Enrol a synthetic resident; ``attributes`` as ``AttributesIn``. Returns the resident id."""
        body = self._api.call("POST", "/admin/residents", {"attributes": attributes})
        return str(body["resident_id"])

    def resident(self, resident_id: str) -> _JSON:
        result: _JSON = self._api.call("GET", f"/admin/residents/{resident_id}")
        return result

    def issue_card(
        self,
        resident_id: str,
        *,
        signing_password: str,
        user_authentication_pin: str,
        card_face_pin: str,
        card_expiry: date | None = None,
    ) -> Card:
        """Issue the card: keys generated on the card, certificates attached to its tokens."""
        signing = self._keys(FormFactor.CARD)
        authentication = self._keys(FormFactor.CARD)
        body = self._api.call(
            "POST",
            f"/admin/residents/{resident_id}/cards",
            {
                "signing_public_key_pem": signing.public_key_pem(),
                "user_authentication_public_key_pem": authentication.public_key_pem(),
                "card_expiry": card_expiry.isoformat() if card_expiry else None,
                "signing_password": signing_password,
                "user_authentication_pin": user_authentication_pin,
                "card_face_pin": card_face_pin,
            },
        )
        card = Card(body["card_id"], resident_id, signing, authentication, card_expiry)
        card.attach(body["certificates"])
        return card

    def card_state(self, card: Card) -> _JSON:
        result: _JSON = self._api.call("GET", f"/admin/cards/{card.card_id}")
        return result

    def reset_pin(self, card: Card, pin: str, new_value: str) -> None:
        self._api.call("POST", f"/admin/cards/{card.card_id}/pin-reset", {"pin": pin, "new_value": new_value})

    def change_attributes(self, card: Card, attributes: _JSON) -> _JSON:
        """Move/marriage: the card generates a new signing key; the new certificate is attached."""
        new_signing = self._keys(FormFactor.CARD)
        body: _JSON = self._api.call(
            "POST",
            f"/admin/residents/{card.resident_id}/attribute-change",
            {"attributes": attributes, "new_card_signing_public_key_pem": new_signing.public_key_pem()},
        )
        card.signing = new_signing
        card.attach(body["certificates"])
        return body

    def renew_card(self, card: Card, *, card_expiry: date | None = None) -> _JSON:
        signing, authentication = self._keys(FormFactor.CARD), self._keys(FormFactor.CARD)
        body: _JSON = self._api.call(
            "POST",
            f"/admin/cards/{card.card_id}/renewal",
            {
                "signing_public_key_pem": signing.public_key_pem(),
                "user_authentication_public_key_pem": authentication.public_key_pem(),
                "card_expiry": card_expiry.isoformat() if card_expiry else None,
            },
        )
        card.signing, card.user_authentication = signing, authentication
        card.attach(body["certificates"])
        return body

    def suspend_card(self, card: Card) -> _JSON:
        """Hotline: the card is lost."""
        result: _JSON = self._api.call("POST", f"/admin/hotline/cards/{card.card_id}/suspend")
        return result

    def card_found(self, card: Card) -> _JSON:
        """Counter: the lost card was found; a new signing key and certificate on the card."""
        new_signing = self._keys(FormFactor.CARD)
        body: _JSON = self._api.call(
            "POST",
            f"/admin/cards/{card.card_id}/found",
            {"new_signing_public_key_pem": new_signing.public_key_pem()},
        )
        card.signing = new_signing
        card.attach(body["certificates"])
        return body

    def suspend_phone(self, resident_id: str) -> _JSON:
        """Hotline: the phone is lost or stolen (24 hours a day)."""
        result: _JSON = self._api.call(
            "POST", f"/admin/hotline/residents/{resident_id}/smartphone-suspension"
        )
        return result


@dataclass
class Smartphone:
    """An Android handset or an iPhone running the Mynaportal app.

    Args:
        http: the client to the platform.
        platform: ``"android"`` or ``"iphone"``.
        device_id: the app-instance id (random by default).
        keys: how the secure element makes keys.

    Attributes:
        registration_id: the current application/addition, once started.
        signing, user_authentication: the handset's tokens (with certificates once registered).
    """

    http: httpx.Client
    platform: str
    device_id: str = field(default_factory=lambda: f"dev-{secrets.token_hex(8)}")
    keys: KeyFactory = generate_rsa_token
    registration_id: str | None = None
    signing: TokenSimulator | None = None
    user_authentication: TokenSimulator | None = None
    mdoc_device_key: ec.EllipticCurvePrivateKey | None = None
    mdoc_credential: HeldCredential | None = None

    def __post_init__(self) -> None:
        if self.platform not in ("android", "iphone"):
            raise ValueError("platform is 'android' or 'iphone'")
        self._api = _Api(self.http)

    @property
    def form_factor(self) -> FormFactor:
        return FormFactor(self.platform)

    def _reg(self) -> str:
        if self.registration_id is None:
            raise RuntimeError("no application or addition started on this handset")
        return self.registration_id

    def _post(self, path: str, body: _JSON | None = None) -> _JSON:
        result: _JSON = self._api.call("POST", path, {"device_id": self.device_id, **(body or {})})
        return result

    def _remember(self, body: _JSON) -> _JSON:
        self.registration_id = body["registration_id"]
        for item in body.get("certificates", []):
            if item.get("certificate_pem") is None:
                continue
            certificate = _certificate(item["certificate_pem"])
            if item["kind"] == CertificateKind.SIGNING.value and self.signing is not None:
                self.signing = self.signing.with_certificate(certificate)
            elif item["kind"] == CertificateKind.USER_AUTHENTICATION.value and self.user_authentication:
                self.user_authentication = self.user_authentication.with_certificate(certificate)
        return body

    # -- Android (§2, 4-B) ---------------------------------------------------------------------------

    def android_apply(
        self,
        card: Card,
        card_signing_password: str,
        *,
        certificates: Iterable[str] = ("signing", "user_authentication"),
        notes_accepted: bool = True,
        device_change: bool = False,
    ) -> _JSON:
        """2-C ③–⑥ (4-B ③–⑥ with ``device_change``): keys are generated in the handset here."""
        chosen = list(certificates)
        self.signing = self.keys(self.form_factor) if "signing" in chosen else None
        self.user_authentication = self.keys(self.form_factor) if "user_authentication" in chosen else None
        body = self._post(
            "/android/applications",
            {
                "card_id": card.card_id,
                "card_signing_password": card_signing_password,
                "certificates": chosen,
                "notes_accepted": notes_accepted,
                "signing_public_key_pem": self.signing.public_key_pem() if self.signing else None,
                "user_authentication_public_key_pem": self.user_authentication.public_key_pem()
                if self.user_authentication
                else None,
                "device_change": device_change,
            },
        )
        return self._remember(body)

    def read_card(self, card: Card) -> _JSON:
        """2-C ⑦⑧ / 3-C ⑦⑧: hold the card to the handset."""
        path = "android/applications" if self.platform == "android" else "iphone/additions"
        return self._remember(
            self._post(f"/{path}/{self._reg()}/card-read", {"card_read": card.read(self._api)})
        )

    def set_passwords(
        self,
        *,
        signing_password: str | None = None,
        user_authentication_pin: str | None = None,
        signing_password_confirmation: str | None = None,
        user_authentication_pin_confirmation: str | None = None,
    ) -> _JSON:
        """2-D / 3-D ①–④: each typed twice (the confirmation defaults to the same value)."""
        path = (
            f"/android/applications/{self._reg()}/passwords"
            if self.platform == "android"
            else f"/iphone/additions/{self._reg()}/credentials"
        )
        body: _JSON = {}
        if signing_password is not None:
            body["signing_password"] = signing_password
            body["signing_password_confirmation"] = (
                signing_password if signing_password_confirmation is None else signing_password_confirmation
            )
        if user_authentication_pin is not None:
            body["user_authentication_pin"] = user_authentication_pin
            body["user_authentication_pin_confirmation"] = (
                user_authentication_pin
                if user_authentication_pin_confirmation is None
                else user_authentication_pin_confirmation
            )
        return self._remember(self._post(path, body))

    def register(self) -> _JSON:
        """2-E: 「登録する」 after the notice; the certificates are attached to the handset's keys."""
        return self._remember(self._post(f"/android/applications/{self._reg()}/register"))

    def android_apply_all(
        self,
        card: Card,
        card_signing_password: str,
        *,
        phone_signing_password: str | None = None,
        phone_user_authentication_pin: str | None = None,
        certificates: Iterable[str] = ("signing", "user_authentication"),
        device_change: bool = False,
    ) -> _JSON:
        """2-C and 2-D in one go (until 申請完了); then wait for the notice and :meth:`register`."""
        self.android_apply(
            card, card_signing_password, certificates=certificates, device_change=device_change
        )
        self.read_card(card)
        return self.set_passwords(
            signing_password=phone_signing_password, user_authentication_pin=phone_user_authentication_pin
        )

    # -- iPhone (§3) ---------------------------------------------------------------------------------

    def iphone_start(self, card: Card, *, liveness_passed: bool = True, terms_accepted: bool = True) -> _JSON:
        """3-C ②–④: keys are generated in the iPhone here."""
        signing, authentication = self.keys(self.form_factor), self.keys(self.form_factor)
        body = self._post(
            "/iphone/additions",
            {
                "card_id": card.card_id,
                "terms_accepted": terms_accepted,
                "liveness": "pass" if liveness_passed else "fail",
                "signing_public_key_pem": signing.public_key_pem(),
                "user_authentication_public_key_pem": authentication.public_key_pem(),
            },
        )
        self.signing, self.user_authentication = signing, authentication
        return self._remember(body)

    def enter_card_face_pin(self, pin: str) -> _JSON:
        return self._remember(self._post(f"/iphone/additions/{self._reg()}/card-face-pin", {"pin": pin}))

    def enter_card_signing_password(self, password: str) -> _JSON:
        return self._remember(
            self._post(f"/iphone/additions/{self._reg()}/signing-password", {"password": password})
        )

    def add_to_wallet(self) -> _JSON:
        return self._remember(self._post(f"/iphone/additions/{self._reg()}/wallet"))

    def provision(self) -> _JSON:
        """Fetch the certificates once usable (``NOT_READY`` while pending), then the attribute
        credential bound to a fresh device key (:meth:`fetch_credential`): Wallet provisioning."""
        body = self._remember(self._post(f"/iphone/additions/{self._reg()}/provision"))
        self.fetch_credential(new_key=True)
        return body

    def iphone_add_all(
        self,
        card: Card,
        *,
        card_face_pin: str,
        card_signing_password: str,
        iphone_pin: str,
        iphone_signing_password: str,
        liveness_passed: bool = True,
    ) -> _JSON:
        """3-C and 3-D up to 「続ける」: the addition is then pending until its usable time."""
        self.iphone_start(card, liveness_passed=liveness_passed)
        self.enter_card_face_pin(card_face_pin)
        self.enter_card_signing_password(card_signing_password)
        self.read_card(card)
        self.set_passwords(signing_password=iphone_signing_password, user_authentication_pin=iphone_pin)
        return self.add_to_wallet()

    # -- stop, delete, resume, cancel ----------------------------------------------------------------

    def stop_with_password(self, phone_signing_password: str) -> _JSON:
        """2-F / 3-E with the handset's own signing password."""
        return self._remember(
            self._post(
                f"/registrations/{self._reg()}/stop",
                {"method": "phone_password", "phone_signing_password": phone_signing_password},
            )
        )

    def stop_with_card(self, card: Card, card_signing_password: str) -> _JSON:
        """2-F 「お手元のカードを利用する」 / 3-E with the physical card."""
        return self._remember(
            self._post(
                f"/registrations/{self._reg()}/stop",
                {
                    "method": "card",
                    "card_signing_password": card_signing_password,
                    "card_read": card.read(self._api),
                },
            )
        )

    def delete_other(self, card: Card, card_signing_password: str) -> _JSON:
        """3-F: from this handset (no card added), delete the card from the other handset."""
        result: _JSON = self._post(
            "/smartphones/delete-other",
            {
                "card_id": card.card_id,
                "card_signing_password": card_signing_password,
                "card_read": card.read(self._api),
            },
        )
        return result

    def resume(self, card: Card, card_signing_password: str) -> _JSON:
        """5-B: the found handset resumes (new signing key if it had the signing certificate)."""
        status = self.status()
        new_signing = self.keys(self.form_factor) if status["wants_signing"] else None
        body = self._post(
            f"/registrations/{self._reg()}/resume",
            {
                "card_signing_password": card_signing_password,
                "card_read": card.read(self._api),
                "signing_public_key_pem": new_signing.public_key_pem() if new_signing else None,
            },
        )
        if new_signing is not None:
            self.signing = new_signing
        return self._remember(body)

    def cancel(self) -> _JSON:
        return self._remember(self._post(f"/registrations/{self._reg()}/cancel"))

    # -- status and notices --------------------------------------------------------------------------

    def status(self) -> _JSON:
        result: _JSON = self._api.call("GET", f"/registrations/{self._reg()}")
        return result

    def notices(self, after: int = 0) -> list[_JSON]:
        """Push notices delivered to this handset so far (``GET /devices/{id}/notices``)."""
        result: list[_JSON] = self._api.call(
            "GET", f"/devices/{self.device_id}/notices", params={"after": after}
        )
        return result

    # -- attribute credential (mdoc, iPhone only) ----------------------------------------------------

    def _require_iphone(self) -> None:
        if self.platform != "iphone":
            raise AttributeProofUnsupportedProblemError()

    def fetch_credential(self, *, new_key: bool = False) -> HeldCredential:
        """Bind the device key (a P-256 key of the secure element, generated here if missing or when
        ``new_key``) and fetch the current credential: ``POST /iphone/additions/{id}/credential``."""
        self._require_iphone()
        if self.mdoc_device_key is None or new_key:
            self.mdoc_device_key = ec.generate_private_key(ec.SECP256R1())
        body = self._post(
            f"/iphone/additions/{self._reg()}/credential",
            {"device_public_key_pem": public_key_pem(self.mdoc_device_key.public_key())},
        )
        self.mdoc_credential = HeldCredential.from_json(body)
        return self.mdoc_credential

    def sync_credential(self) -> HeldCredential:
        """What Wallet does before presenting: ``GET`` the current credential (re-issued by the platform
        when due). An invalidated credential is removed from the device and the problem re-raised
        (``CREDENTIAL_INVALIDATED`` with its ``reason``)."""
        self._require_iphone()
        if self.mdoc_credential is None or self.mdoc_device_key is None:
            return self.fetch_credential()
        try:
            body = self._api.call(
                "GET", f"/iphone/additions/{self._reg()}/credential", params={"device_id": self.device_id}
            )
        except PlatformProblemError:
            self.mdoc_credential = None
            raise
        self.mdoc_credential = HeldCredential.from_json(body)
        return self.mdoc_credential

    def _held(self, sync: bool) -> tuple[HeldCredential, ec.EllipticCurvePrivateKey]:
        self._require_iphone()
        credential = self.sync_credential() if sync else self.mdoc_credential
        if credential is None or self.mdoc_device_key is None:
            raise LookupError("this iPhone holds no attribute credential")
        return credential, self.mdoc_device_key

    def present(
        self,
        device_request: bytes | Iterable[RequestedDocument],
        session_transcript: bytes,
        *,
        withhold: Iterable[tuple[str, str]] = (),
        sync: bool = True,
    ) -> bytes:
        """The DeviceResponse (CBOR) for ``device_request`` bound to ``session_transcript`` (exact bytes).

        Selective disclosure (only requested elements; ``withhold`` lets the user decline some) and a
        detached device signature. ``sync=False`` presents what the device holds without asking the
        platform (an offline or tampered device: the credential may have been invalidated meanwhile).

        Raises:
            AttributeProofUnsupportedProblemError: on Android.
            PlatformProblemError: the platform's answer to the sync (``CREDENTIAL_INVALIDATED``…).
            DeviceRequestError: the request is malformed.
        """
        credential, key = self._held(sync)
        requests = (
            parse_device_request(device_request)
            if isinstance(device_request, bytes)
            else list(device_request)
        )
        return build_device_response(
            issuer_signed=credential.issuer_signed,
            doc_type=credential.doc_type,
            device_key=key,
            requests=requests,
            session_transcript=session_transcript,
            withhold=withhold,
        )

    def present_apple(
        self,
        device_request: bytes,
        *,
        nonce: bytes,
        merchant_id: str,
        team_id: str,
        recipient_public_key: ec.EllipticCurvePublicKey,
        withhold: Iterable[tuple[str, str]] = (),
        sync: bool = True,
    ) -> bytes:
        """In an iOS app (Apple "Verify with Wallet"): the CBOR ``APPLE-HPKE-v1`` envelope sealing
        ``{"identity": DeviceResponse}`` to ``recipient_public_key`` (the RP's encryption key)."""
        self._require_iphone()
        transcript = apple_session_transcript(
            nonce=nonce, merchant_id=merchant_id, team_id=team_id, recipient_public_key=recipient_public_key
        )
        response = self.present(device_request, transcript, withhold=withhold, sync=sync)
        return apple_envelope(
            response, recipient_public_key=recipient_public_key, session_transcript=transcript
        )

    def present_dc_api(
        self,
        request: Mapping[str, str],
        *,
        origin: str,
        withhold: Iterable[tuple[str, str]] = (),
        sync: bool = True,
    ) -> dict[str, str]:
        """W3C Digital Credentials API, protocol ``org-iso-mdoc`` (ISO/IEC 18013-7 Annex C).

        Args:
            request: ``{"deviceRequest": b64url, "encryptionInfo": b64url}`` as the page passed it.
            origin: the web origin the browser reports (e.g. ``https://shop.example``).

        Returns:
            ``{"response": b64url(CBOR(["dcapi", {"enc", "cipherText"}]))}``.
        """
        self._require_iphone()
        encryption_info = str(request.get("encryptionInfo", ""))
        recipient = _dcapi_recipient(encryption_info)
        transcript = dcapi_session_transcript(encryption_info, origin)
        device_request = b64url_decode(str(request.get("deviceRequest", "")))
        response = self.present(device_request, transcript, withhold=withhold, sync=sync)
        encrypted = dcapi_encrypted_response(
            response, recipient_public_key=recipient, session_transcript=transcript
        )
        return {"response": b64url(encrypted)}

    def present_openid4vp(
        self,
        request: Mapping[str, Any],
        *,
        origin: str,
        withhold: Iterable[tuple[str, str]] = (),
        sync: bool = True,
    ) -> dict[str, Any]:
        """OpenID4VP over the DC API (``response_mode: dc_api``, unencrypted, so no JWK thumbprint):
        ``{"vp_token": {<DCQL credential id>: [b64url(DeviceResponse)]}}``. Encrypted responses
        (``dc_api.jwt``) are not simulated (:class:`DeviceRequestError`)."""
        self._require_iphone()
        if request.get("response_mode", "dc_api") != "dc_api":
            raise DeviceRequestError("only response_mode dc_api (unencrypted) is simulated")
        nonce = request.get("nonce")
        if not isinstance(nonce, str) or not nonce:
            raise DeviceRequestError("the OpenID4VP request needs a nonce")
        transcript = openid4vp_dcapi_session_transcript(origin, nonce, None)
        tokens: dict[str, Any] = {}
        for query_id, wanted in _dcql_documents(request.get("dcql_query")):
            response = self.present([wanted], transcript, withhold=withhold, sync=sync)
            tokens[query_id] = [b64url(response)]
            sync = False  # one platform round trip per request
        return {"vp_token": tokens}

    # -- the RP side ---------------------------------------------------------------------------------

    def _token(self, token: TokenSimulator | None, what: str) -> TokenSimulator:
        if token is None:
            raise LookupError(f"this handset has no {what} key")
        try:
            token.certificate  # noqa: B018 - raises LookupError when nothing is registered yet
        except LookupError as exc:
            raise LookupError(f"this handset's {what} certificate is not registered yet") from exc
        return token

    @property
    def signing_certificate(self) -> x509.Certificate:
        return self._token(self.signing, "signing").certificate

    @property
    def user_authentication_certificate(self) -> x509.Certificate:
        return self._token(self.user_authentication, "user-authentication").certificate

    def sign(self, data: bytes) -> bytes:
        """Raw signature (PKCS#1 v1.5 / ECDSA over SHA-256) with the smartphone signing key."""
        return self._token(self.signing, "signing").sign(data)

    def sign_cms(self, content: bytes, *, signing_time: datetime, detached: bool = False) -> bytes:
        """CMS SignedData (DER) over ``content`` with the smartphone signing certificate."""
        return self._token(self.signing, "signing").sign_cms(
            content, signing_time=signing_time, detached=detached
        )

    def authenticate(self, challenge: bytes) -> bytes:
        """Sign an RP login challenge with the smartphone user-authentication key."""
        return self._token(self.user_authentication, "user-authentication").sign(challenge)


def _dcapi_recipient(encryption_info: str) -> ec.EllipticCurvePublicKey:
    """The RP's HPKE key from an 18013-7 ``EncryptionInfo`` (base64url CBOR)."""
    try:
        value = cbor2.loads(b64url_decode(encryption_info), max_depth=8, allow_duplicate_keys=False)
        if not (
            isinstance(value, list) and len(value) == 2 and value[0] == DCAPI and isinstance(value[1], dict)
        ):
            raise DeviceRequestError('EncryptionInfo must be ["dcapi", {nonce, recipientPublicKey}]')
        if not isinstance(value[1].get("nonce"), bytes):
            raise DeviceRequestError("EncryptionInfo needs a nonce (bstr)")
        return public_key_from_cose(value[1]["recipientPublicKey"])
    except DeviceRequestError:
        raise
    except (cbor2.CBORDecodeError, ValueError, TypeError, KeyError, AttributeError) as exc:
        raise DeviceRequestError("malformed EncryptionInfo") from exc


def _dcql_documents(query: Any) -> list[tuple[str, RequestedDocument]]:
    """``(credential query id, requested document)`` of each ``mso_mdoc`` credential query."""
    if not isinstance(query, Mapping) or not isinstance(query.get("credentials"), list):
        raise DeviceRequestError("dcql_query needs credentials")
    documents = []
    for credential in query["credentials"]:
        if not isinstance(credential, Mapping) or credential.get("format") != "mso_mdoc":
            continue
        meta = credential.get("meta")
        doc_type = meta.get("doctype_value") if isinstance(meta, Mapping) else None
        claims = credential.get("claims")
        if (
            not isinstance(credential.get("id"), str)
            or not isinstance(doc_type, str)
            or not isinstance(claims, list)
        ):
            raise DeviceRequestError("an mso_mdoc credential query needs id, meta.doctype_value and claims")
        elements: dict[str, dict[str, bool]] = {}
        for claim in claims:
            path = claim.get("path") if isinstance(claim, Mapping) else None
            if not (isinstance(path, list) and len(path) == 2 and all(isinstance(p, str) for p in path)):
                raise DeviceRequestError("an mdoc claim path is [namespace, element]")
            elements.setdefault(path[0], {})[path[1]] = bool(claim.get("intent_to_retain", False))
        if elements:
            documents.append((credential["id"], RequestedDocument(doc_type, elements)))
    if not documents:
        raise DeviceRequestError("no mso_mdoc credential query")
    return documents


__all__ = [
    "AttributeProofUnsupportedProblemError",
    "Card",
    "HeldCredential",
    "KeyFactory",
    "MunicipalCounter",
    "PlatformProblemError",
    "Smartphone",
    "generate_rsa_token",
]
