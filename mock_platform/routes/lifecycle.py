"""Municipal counter and hotline (admin, unauthenticated: the server binds to loopback).

* ``POST /admin/residents`` — enrol a synthetic resident;
* ``GET /admin/residents/{resident_id}`` — cards and the smartphone slot (no attributes);
* ``POST /admin/residents/{resident_id}/cards`` — issue the card: two certificates, three PINs;
* ``GET /admin/cards/{card_id}`` — the card's state and certificate serials;
* ``POST /admin/cards/{card_id}/pin-reset`` — counter PIN reset (clears the counter and the lock);
* ``POST /admin/residents/{resident_id}/attribute-change`` — move/marriage: signing certificates revoked;
* ``POST /admin/cards/{card_id}/renewal`` — card certificate renewal (the phone must register again);
* ``POST /admin/hotline/cards/{card_id}/suspend`` — lost card (auth on hold, signing revoked);
* ``POST /admin/cards/{card_id}/found`` — lost card found (hold released, new signing certificate);
* ``POST /admin/hotline/residents/{resident_id}/smartphone-suspension`` — lost phone (5-B).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ..ca.keys import load_public_key_pem
from ..issuance.pins import PinKind
from ..issuance.service import LifecycleService
from .lifecycle_models import (
    EXAMPLE_ATTRIBUTES,
    EXAMPLE_KEY,
    AttributesIn,
    CardOut,
    RegistrationOut,
    ResidentOut,
    pem_field,
    problem_responses,
    secret_field,
)


class EnrolResidentRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"attributes": EXAMPLE_ATTRIBUTES}]}
    )

    attributes: AttributesIn


class IssueCardRequest(BaseModel):
    """Keys are generated on the card (the client); PINs are chosen by the resident at the counter."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "signing_public_key_pem": EXAMPLE_KEY,
                    "user_authentication_public_key_pem": EXAMPLE_KEY,
                    "card_expiry": "2034-07-04",
                    "signing_password": "AB1234",
                    "user_authentication_pin": "1234",
                    "card_face_pin": "9120",
                }
            ]
        },
    )

    signing_public_key_pem: str = pem_field()
    user_authentication_public_key_pem: str = pem_field()
    card_expiry: date | None = Field(default=None, description="caps every certificate of the card")
    signing_password: str = secret_field()
    user_authentication_pin: str = secret_field()
    card_face_pin: str = secret_field()


class PinResetRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"pin": "card_signing", "new_value": "CD5678"}]}
    )

    pin: Literal["card_signing", "card_user_authentication", "card_face"]
    new_value: str = secret_field()


class AttributeChangeRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "attributes": {
                        **EXAMPLE_ATTRIBUTES,
                        "address": "大阪府大阪市試験区試験町二丁目1番1号",
                        "prefecture": "Osaka-fu",
                        "municipality": "Osaka-shi",
                    },
                    "new_card_signing_public_key_pem": EXAMPLE_KEY,
                }
            ]
        },
    )

    attributes: AttributesIn
    new_card_signing_public_key_pem: str = pem_field()


class RenewalRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "signing_public_key_pem": EXAMPLE_KEY,
                    "user_authentication_public_key_pem": EXAMPLE_KEY,
                    "card_expiry": "2036-07-04",
                }
            ]
        },
    )

    signing_public_key_pem: str = pem_field()
    user_authentication_public_key_pem: str = pem_field()
    card_expiry: date | None = None


class CardFoundRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"new_signing_public_key_pem": EXAMPLE_KEY}]}
    )

    new_signing_public_key_pem: str = pem_field()


class Done(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"ok": True}]})

    ok: bool = True


def build_router(service: LifecycleService) -> APIRouter:
    router = APIRouter(prefix="/admin", tags=["municipal counter and hotline"])

    @router.post(
        "/residents", status_code=201, summary="Enrol a synthetic resident", responses=problem_responses(422)
    )
    def enrol(request: EnrolResidentRequest) -> ResidentOut:
        attributes, locality = request.attributes.to_domain()
        return ResidentOut.of(service.enrol_resident(attributes, locality))

    @router.get(
        "/residents/{resident_id}",
        summary="A resident's cards and smartphone slot",
        responses=problem_responses(404),
    )
    def resident(resident_id: str) -> ResidentOut:
        return ResidentOut.of(service.resident(resident_id))

    @router.post(
        "/residents/{resident_id}/cards",
        status_code=201,
        summary="Issue the card with its two certificates and three PINs",
        responses=problem_responses(404, 409, 422),
    )
    def issue_card(resident_id: str, request: IssueCardRequest) -> CardOut:
        return CardOut.of(
            service.issue_card(
                resident_id,
                signing_public_key=load_public_key_pem(request.signing_public_key_pem),
                user_authentication_public_key=load_public_key_pem(
                    request.user_authentication_public_key_pem
                ),
                signing_password=request.signing_password,
                user_authentication_pin=request.user_authentication_pin,
                card_face_pin=request.card_face_pin,
                card_expiry=request.card_expiry,
            )
        )

    @router.get(
        "/cards/{card_id}", summary="A card's state and certificate serials", responses=problem_responses(404)
    )
    def card(card_id: str) -> CardOut:
        return CardOut.of(service.card(card_id))

    @router.post(
        "/cards/{card_id}/pin-reset",
        summary="Counter: reset a card PIN (clears counter and lock)",
        responses=problem_responses(404, 422),
    )
    def pin_reset(card_id: str, request: PinResetRequest) -> Done:
        service.reset_pin(card_id, PinKind(request.pin), request.new_value)
        return Done()

    @router.post(
        "/residents/{resident_id}/attribute-change",
        summary="Counter: change of the basic four attributes (signing certificates revoked)",
        responses=problem_responses(404, 409, 422),
    )
    def attribute_change(resident_id: str, request: AttributeChangeRequest) -> CardOut:
        attributes, locality = request.attributes.to_domain()
        return CardOut.of(
            service.change_attributes(
                resident_id,
                attributes,
                locality,
                new_card_signing_public_key=load_public_key_pem(request.new_card_signing_public_key_pem),
            )
        )

    @router.post(
        "/cards/{card_id}/renewal",
        summary="Counter: renew the card certificates (FAQ 4)",
        responses=problem_responses(404, 409, 422),
    )
    def renewal(card_id: str, request: RenewalRequest) -> CardOut:
        return CardOut.of(
            service.renew_card(
                card_id,
                signing_public_key=load_public_key_pem(request.signing_public_key_pem),
                user_authentication_public_key=load_public_key_pem(
                    request.user_authentication_public_key_pem
                ),
                card_expiry=request.card_expiry,
            )
        )

    @router.post(
        "/hotline/cards/{card_id}/suspend",
        summary="Hotline: lost card (5-B)",
        responses=problem_responses(404, 409),
    )
    def suspend_card(card_id: str) -> CardOut:
        return CardOut.of(service.suspend_card(card_id))

    @router.post(
        "/cards/{card_id}/found",
        summary="Counter: lost card found (5-B)",
        responses=problem_responses(404, 409, 422),
    )
    def card_found(card_id: str, request: CardFoundRequest) -> CardOut:
        return CardOut.of(
            service.card_found(
                card_id, new_signing_public_key=load_public_key_pem(request.new_signing_public_key_pem)
            )
        )

    @router.post(
        "/hotline/residents/{resident_id}/smartphone-suspension",
        summary="Hotline: lost or stolen phone (5-B; auth on hold, signing revoked)",
        responses=problem_responses(404, 409),
    )
    def suspend_phone(resident_id: str) -> RegistrationOut:
        return RegistrationOut.of(service.suspend_smartphone(resident_id))

    return router
