"""The app's view (マイナポータルアプリ): card reads, Android (§2, 4-B), iPhone (§3), notices, uses.

Every call that acts on an application or registration names the handset (``device_id``) it is made
from; a step from another handset answers ``WRONG_DEVICE``. Steps out of order answer
``STEP_OUT_OF_ORDER`` (409) with the current ``state``.

* ``POST /cards/{card_id}/challenges`` — a one-time nonce for the NFC card read;
* ``POST /cards/{card_id}/verify-pin`` — a card PIN entered in the app (counter, lock);
* Android: ``POST /android/applications`` (2-C ③–⑥ / 4-B), ``…/{id}/card-read`` (2-C ⑦),
  ``…/{id}/passwords`` (2-D), ``…/{id}/register`` (2-E);
* iPhone: ``POST /iphone/additions`` (3-C ②–④), ``…/{id}/card-face-pin`` (⑤), ``…/{id}/signing-password``
  (⑥), ``…/{id}/card-read`` (⑦), ``…/{id}/credentials`` (3-D ①–④), ``…/{id}/wallet`` (3-D ⑤⑥),
  ``…/{id}/provision`` (usable);
* ``POST /registrations/{id}/stop`` — 2-F / 3-E (phone password, or the card);
  ``POST /smartphones/delete-other`` — 3-F; ``POST /registrations/{id}/resume`` — 5-B;
  ``POST /registrations/{id}/cancel``; ``GET /registrations/{id}``;
* ``GET /devices/{device_id}/notices`` — push notices delivered so far;
* ``GET /smartphone/uses`` — health insurance (from 2025-09-01) and driver's licence (never) by date.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..issuance.errors import DuplicateCertificateKindError, InvalidRequestError
from ..issuance.pins import PinKind
from ..issuance.rules import drivers_licence_available, health_insurance_available
from ..issuance.service import LifecycleService, RegistrationView
from .lifecycle_models import (
    EXAMPLE_CARD_READ,
    EXAMPLE_KEY,
    CardReadIn,
    ChallengeOut,
    NoticeOut,
    RegistrationOut,
    pem_field,
    problem_responses,
    secret_field,
)

DEVICE_ID = Field(min_length=1, max_length=64, description="the handset's app-instance identifier")


class DeviceStep(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"device_id": "android-3b1f"}]})

    device_id: str = DEVICE_ID


class AndroidApplyRequest(BaseModel):
    """2-C ③–⑥ (``device_change: true``: 4-B ③–⑥ on the new handset)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "device_id": "android-3b1f",
                    "card_id": "card_0a1b2c3d4e5f60718293a4b5",
                    "card_signing_password": "AB1234",
                    "certificates": ["signing", "user_authentication"],
                    "notes_accepted": True,
                    "signing_public_key_pem": EXAMPLE_KEY,
                    "user_authentication_public_key_pem": EXAMPLE_KEY,
                },
                {
                    "device_id": "android-new-77c0",
                    "card_id": "card_0a1b2c3d4e5f60718293a4b5",
                    "card_signing_password": "AB1234",
                    "certificates": ["user_authentication"],
                    "notes_accepted": True,
                    "user_authentication_public_key_pem": EXAMPLE_KEY,
                    "device_change": True,
                },
            ]
        },
    )

    device_id: str = DEVICE_ID
    card_id: str = Field(min_length=1, max_length=40)
    card_signing_password: str = secret_field()
    certificates: list[Literal["signing", "user_authentication"]] = Field(max_length=2)
    notes_accepted: bool
    signing_public_key_pem: str | None = pem_field(optional=True)
    user_authentication_public_key_pem: str | None = pem_field(optional=True)
    device_change: bool = False


class CardReadStep(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"device_id": "android-3b1f", "card_read": EXAMPLE_CARD_READ}]},
    )

    device_id: str = DEVICE_ID
    card_read: CardReadIn


class PasswordsRequest(BaseModel):
    """2-D / 3-D ①–④: each new secret typed twice. Omit those of a certificate not applied for."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "device_id": "android-3b1f",
                    "signing_password": "PHONE1",
                    "signing_password_confirmation": "PHONE1",
                    "user_authentication_pin": "4321",
                    "user_authentication_pin_confirmation": "4321",
                }
            ]
        },
    )

    device_id: str = DEVICE_ID
    signing_password: str | None = Field(default=None, max_length=64)
    signing_password_confirmation: str | None = Field(default=None, max_length=64)
    user_authentication_pin: str | None = Field(default=None, max_length=64)
    user_authentication_pin_confirmation: str | None = Field(default=None, max_length=64)


class IPhoneStartRequest(BaseModel):
    """3-C ②–④: 追加をはじめる, terms, the face-movement liveness capture (simulated result)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "device_id": "iphone-9a2e",
                    "card_id": "card_0a1b2c3d4e5f60718293a4b5",
                    "terms_accepted": True,
                    "liveness": "pass",
                    "signing_public_key_pem": EXAMPLE_KEY,
                    "user_authentication_public_key_pem": EXAMPLE_KEY,
                }
            ]
        },
    )

    device_id: str = DEVICE_ID
    card_id: str = Field(min_length=1, max_length=40)
    terms_accepted: bool
    liveness: Literal["pass", "fail"]
    signing_public_key_pem: str = pem_field()
    user_authentication_public_key_pem: str = pem_field()


class PinStep(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"device_id": "iphone-9a2e", "pin": "9120"}]}
    )

    device_id: str = DEVICE_ID
    pin: str = secret_field()


class PasswordStep(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"device_id": "iphone-9a2e", "password": "AB1234"}]}
    )

    device_id: str = DEVICE_ID
    password: str = secret_field()


class StopRequest(BaseModel):
    """2-F / 3-E: ``phone_password`` (the handset's signing password) or ``card`` (password + read)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"device_id": "android-3b1f", "method": "phone_password", "phone_signing_password": "PHONE1"},
                {
                    "device_id": "iphone-9a2e",
                    "method": "card",
                    "card_signing_password": "AB1234",
                    "card_read": EXAMPLE_CARD_READ,
                },
            ]
        },
    )

    device_id: str = DEVICE_ID
    method: Literal["phone_password", "card"]
    phone_signing_password: str | None = Field(default=None, max_length=64)
    card_signing_password: str | None = Field(default=None, max_length=64)
    card_read: CardReadIn | None = None

    @model_validator(mode="after")
    def _method_fields(self) -> StopRequest:
        if self.method == "phone_password" and (
            self.phone_signing_password is None or self.card_signing_password or self.card_read
        ):
            raise ValueError("method phone_password takes phone_signing_password only")
        if self.method == "card" and (
            self.card_signing_password is None or self.card_read is None or self.phone_signing_password
        ):
            raise ValueError("method card takes card_signing_password and card_read")
        return self


class DeleteOtherRequest(BaseModel):
    """3-F: from a handset with no card added; the physical card's signing password and a card read."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "device_id": "iphone-spare-11aa",
                    "card_id": "card_0a1b2c3d4e5f60718293a4b5",
                    "card_signing_password": "AB1234",
                    "card_read": EXAMPLE_CARD_READ,
                }
            ]
        },
    )

    device_id: str = DEVICE_ID
    card_id: str = Field(min_length=1, max_length=40)
    card_signing_password: str = secret_field()
    card_read: CardReadIn


class ResumeRequest(BaseModel):
    """5-B: the found handset resumes; a new signing key when the signing certificate was applied for."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "device_id": "android-3b1f",
                    "card_signing_password": "AB1234",
                    "card_read": EXAMPLE_CARD_READ,
                    "signing_public_key_pem": EXAMPLE_KEY,
                }
            ]
        },
    )

    device_id: str = DEVICE_ID
    card_signing_password: str = secret_field()
    card_read: CardReadIn
    signing_public_key_pem: str | None = pem_field(optional=True)


class CardPinRequest(BaseModel):
    """A PIN entered for the card (the card's own VERIFY, as in a login with the card)."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"pin": "card_user_authentication", "value": "1234"}]}
    )

    pin: Literal["card_signing", "card_user_authentication", "card_face"]
    value: str = secret_field()


class PinVerified(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"verified": True}]})

    verified: bool = True


class UsesOut(BaseModel):
    """FAQ 5 / FAQ 6 for one date and platform."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "on": "2025-09-01",
                    "platform": "android",
                    "health_insurance": True,
                    "drivers_licence": False,
                }
            ]
        }
    )

    on: date
    platform: Literal["card", "android", "iphone"]
    health_insurance: bool
    drivers_licence: bool


def build_router(service: LifecycleService) -> APIRouter:
    router = APIRouter(tags=["smartphone (app view)"])
    out = RegistrationOut.of

    @router.post(
        "/cards/{card_id}/challenges",
        status_code=201,
        summary="A one-time nonce for a card read",
        responses=problem_responses(404),
    )
    def challenge(card_id: str) -> ChallengeOut:
        return ChallengeOut.of(service.card_challenge(card_id))

    @router.post(
        "/cards/{card_id}/verify-pin",
        summary="Enter a card PIN (counts down; locks at the limit)",
        responses=problem_responses(403, 404, 422, 423),
    )
    def verify_card_pin(card_id: str, request: CardPinRequest) -> PinVerified:
        service.verify_card_pin(card_id, PinKind(request.pin), request.value)
        return PinVerified()

    # -- Android -------------------------------------------------------------------------------------

    @router.post(
        "/android/applications",
        status_code=201,
        summary="2-C ③–⑥ / 4-B: apply (card signing password, chosen certificates)",
        responses=problem_responses(403, 404, 409, 422, 423),
    )
    def android_apply(request: AndroidApplyRequest) -> RegistrationOut:
        chosen = set(request.certificates)
        if len(chosen) != len(request.certificates):  # a real app sends each chosen kind once
            raise DuplicateCertificateKindError("each certificate kind may be chosen only once")
        return out(
            service.android_apply(
                device_id=request.device_id,
                card_id=request.card_id,
                card_signing_password=request.card_signing_password,
                want_signing="signing" in chosen,
                want_user_authentication="user_authentication" in chosen,
                notes_accepted=request.notes_accepted,
                signing_public_key_pem=request.signing_public_key_pem,
                user_authentication_public_key_pem=request.user_authentication_public_key_pem,
                device_change=request.device_change,
            )
        )

    @router.post(
        "/android/applications/{registration_id}/card-read",
        summary="2-C ⑦⑧: read the card",
        responses=problem_responses(403, 404, 409, 422),
    )
    def android_card_read(registration_id: str, request: CardReadStep) -> RegistrationOut:
        return out(
            service.card_read(
                registration_id, device_id=request.device_id, read=request.card_read.to_domain()
            )
        )

    @router.post(
        "/android/applications/{registration_id}/passwords",
        summary="2-D: set the phone passwords",
        responses=problem_responses(403, 404, 409, 422),
    )
    def android_passwords(registration_id: str, request: PasswordsRequest) -> RegistrationOut:
        return out(_passwords(service, registration_id, request))

    @router.post(
        "/android/applications/{registration_id}/register",
        summary="2-E: register after the notice (before it: 409 NOT_READY)",
        responses=problem_responses(403, 404, 409),
    )
    def android_register(registration_id: str, request: DeviceStep) -> RegistrationOut:
        return out(service.register(registration_id, device_id=request.device_id))

    # -- iPhone --------------------------------------------------------------------------------------

    @router.post(
        "/iphone/additions",
        status_code=201,
        summary="3-C ②–④: start adding (terms, liveness)",
        responses=problem_responses(404, 409, 422),
    )
    def iphone_start(request: IPhoneStartRequest) -> RegistrationOut:
        return out(
            service.iphone_start(
                device_id=request.device_id,
                card_id=request.card_id,
                terms_accepted=request.terms_accepted,
                liveness_passed=request.liveness == "pass",
                signing_public_key_pem=request.signing_public_key_pem,
                user_authentication_public_key_pem=request.user_authentication_public_key_pem,
            )
        )

    @router.post(
        "/iphone/additions/{registration_id}/card-face-pin",
        summary="3-C ⑤: card-face input PIN",
        responses=problem_responses(403, 404, 409, 423),
    )
    def iphone_face_pin(registration_id: str, request: PinStep) -> RegistrationOut:
        return out(
            service.iphone_card_face_pin(registration_id, device_id=request.device_id, pin=request.pin)
        )

    @router.post(
        "/iphone/additions/{registration_id}/signing-password",
        summary="3-C ⑥: the card's signing password",
        responses=problem_responses(403, 404, 409, 423),
    )
    def iphone_signing_password(registration_id: str, request: PasswordStep) -> RegistrationOut:
        return out(
            service.iphone_signing_password(
                registration_id, device_id=request.device_id, password=request.password
            )
        )

    @router.post(
        "/iphone/additions/{registration_id}/card-read",
        summary="3-C ⑦⑧: read the card",
        responses=problem_responses(403, 404, 409, 422),
    )
    def iphone_card_read(registration_id: str, request: CardReadStep) -> RegistrationOut:
        return out(
            service.card_read(
                registration_id, device_id=request.device_id, read=request.card_read.to_domain()
            )
        )

    @router.post(
        "/iphone/additions/{registration_id}/credentials",
        summary="3-D ①–④: iPhone PIN and signing password",
        responses=problem_responses(403, 404, 409, 422),
    )
    def iphone_credentials(registration_id: str, request: PasswordsRequest) -> RegistrationOut:
        return out(_passwords(service, registration_id, request))

    @router.post(
        "/iphone/additions/{registration_id}/wallet",
        summary="3-D ⑤⑥: add to Apple Wallet (pending until the usable time)",
        responses=problem_responses(403, 404, 409),
    )
    def iphone_wallet(registration_id: str, request: DeviceStep) -> RegistrationOut:
        return out(service.add_to_wallet(registration_id, device_id=request.device_id))

    @router.post(
        "/iphone/additions/{registration_id}/provision",
        summary="Usable: the certificates reach the iPhone (before the usable time: 409 NOT_READY)",
        responses=problem_responses(403, 404, 409),
    )
    def iphone_provision(registration_id: str, request: DeviceStep) -> RegistrationOut:
        return out(service.provision(registration_id, device_id=request.device_id))

    # -- both ----------------------------------------------------------------------------------------

    @router.get(
        "/registrations/{registration_id}",
        summary="An application/registration and its state",
        responses=problem_responses(404),
    )
    def registration(registration_id: str) -> RegistrationOut:
        return out(service.registration(registration_id))

    @router.post(
        "/registrations/{registration_id}/stop",
        summary="2-F / 3-E: stop using (phone password or card); certificates revoked",
        responses=problem_responses(403, 404, 409, 422, 423),
    )
    def stop(registration_id: str, request: StopRequest) -> RegistrationOut:
        if request.method == "phone_password":
            assert request.phone_signing_password is not None
            return out(
                service.stop_with_phone_password(
                    registration_id, device_id=request.device_id, password=request.phone_signing_password
                )
            )
        if request.card_signing_password is None or request.card_read is None:  # pragma: no cover - validated
            raise InvalidRequestError("card_signing_password and card_read are required")
        return out(
            service.stop_with_card(
                registration_id,
                device_id=request.device_id,
                card_signing_password=request.card_signing_password,
                read=request.card_read.to_domain(),
            )
        )

    @router.post(
        "/smartphones/delete-other",
        summary="3-F: delete the card from another handset",
        responses=problem_responses(403, 404, 409, 422, 423),
    )
    def delete_other(request: DeleteOtherRequest) -> RegistrationOut:
        return out(
            service.delete_from_other_phone(
                device_id=request.device_id,
                card_id=request.card_id,
                card_signing_password=request.card_signing_password,
                read=request.card_read.to_domain(),
            )
        )

    @router.post(
        "/registrations/{registration_id}/resume",
        summary="5-B: resume a suspended (found) handset",
        responses=problem_responses(403, 404, 409, 422, 423),
    )
    def resume(registration_id: str, request: ResumeRequest) -> RegistrationOut:
        return out(
            service.resume(
                registration_id,
                device_id=request.device_id,
                card_signing_password=request.card_signing_password,
                read=request.card_read.to_domain(),
                signing_public_key_pem=request.signing_public_key_pem,
            )
        )

    @router.post(
        "/registrations/{registration_id}/cancel",
        summary="Abandon an unfinished application",
        responses=problem_responses(403, 404, 409),
    )
    def cancel(registration_id: str, request: DeviceStep) -> RegistrationOut:
        return out(service.cancel(registration_id, device_id=request.device_id))

    @router.get(
        "/devices/{device_id}/notices",
        summary="Push notices delivered to a handset so far",
        responses=problem_responses(404),
    )
    def notices(device_id: str, after: Annotated[int, Query(ge=0, le=2**62)] = 0) -> list[NoticeOut]:
        return [NoticeOut.of(n) for n in service.notices(device_id, after=after)]

    @router.get("/smartphone/uses", summary="FAQ 5/6: health insurance and driver's licence by date")
    def uses(on: date, platform: Literal["card", "android", "iphone"] = "android") -> UsesOut:
        return UsesOut(
            on=on,
            platform=platform,
            health_insurance=health_insurance_available(on, platform=platform),
            drivers_licence=drivers_licence_available(platform=platform),
        )

    return router


def _passwords(
    service: LifecycleService, registration_id: str, request: PasswordsRequest
) -> RegistrationView:
    return service.set_passwords(
        registration_id,
        device_id=request.device_id,
        signing_password=request.signing_password,
        signing_password_confirmation=request.signing_password_confirmation,
        user_authentication_pin=request.user_authentication_pin,
        user_authentication_pin_confirmation=request.user_authentication_pin_confirmation,
    )
