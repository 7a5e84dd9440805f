"""Request/response models shared by the lifecycle routes, their converters, and the problem handler.

Secrets (PINs, passwords) are plain strings in requests, deliberately *without* a schema pattern: a bad
format must answer ``INVALID_PASSWORD_FORMAT`` (the app's "clear error"), not a generic validation
error. They are never echoed, logged or stored in clear.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from ..ca.attributes import BasicFourAttributes, DateOfBirth, Gender
from ..ca.errors import InvalidAttributesError
from ..ca.profile import CertificateKind, FormFactor, Locality
from ..issuance.errors import InvalidRequestError, LifecycleError
from ..issuance.service import CardRead, CardView, ChallengeView, NoticeView, RegistrationView, ResidentView
from ..issuance.states import CardState, Flow, NoticeKind, Platform, RegistrationState
from .problems import Problem, problem_response


def secret_field() -> Any:
    """A PIN or password: no pattern (format errors answer INVALID_PASSWORD_FORMAT), never echoed."""
    return Field(min_length=1, max_length=64)


def pem_field(*, optional: bool = False) -> Any:
    description = "SubjectPublicKeyInfo PEM (RSA 2048–4096 or EC P-256)"
    if optional:
        return Field(default=None, max_length=16384, description=description)
    return Field(max_length=16384, description=description)


_B64 = Field(min_length=1, max_length=2048, description="base64 (standard alphabet)")
EXAMPLE_KEY = (
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA…\n-----END PUBLIC KEY-----\n"
)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries: problem+json for each status."""
    return {
        status: {"model": Problem, "content": {"application/problem+json": {}}, "description": "problem"}
        for status in statuses
    }


def install_lifecycle_problem_handler(app: FastAPI) -> None:
    """Every :class:`LifecycleError` leaves the app as an RFC 9457 problem with its stable code."""

    async def on_lifecycle_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, LifecycleError)
        return problem_response(
            exc.status, exc.code, exc.title, exc.message, instance=request.url.path, **exc.extra
        )

    app.add_exception_handler(LifecycleError, on_lifecycle_error)


def decode_b64(value: str, label: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidRequestError(f"{label} is not valid base64") from exc


# ----------------------------------------------------------------------------------------- inputs


class AttributesIn(BaseModel):
    """The basic four attributes with the birthday, and the locality of the signing certificate."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="family name, U+3000, given name")
    name_substitute_positions: str | None = Field(default=None, pattern=r"^[01]+$", max_length=100)
    gender: Literal["1", "2", "3"] = Field(description="1 male, 2 female, 3 not stated")
    date_of_birth: str = Field(pattern=r"^[0-5][0-9]{8}$", description="EYYYYMMDD (era digit + date)")
    address: str = Field(min_length=1, max_length=200)
    address_substitute_positions: str | None = Field(default=None, pattern=r"^[01]+$", max_length=200)
    prefecture: str = Field(min_length=1, max_length=64, description="first L= of the signing certificate")
    municipality: str = Field(min_length=1, max_length=64, description="second L=")

    def to_domain(self) -> tuple[BasicFourAttributes, Locality]:
        try:
            locality = Locality(self.prefecture, self.municipality)
        except ValueError as exc:
            raise InvalidAttributesError(str(exc)) from exc
        attributes = BasicFourAttributes(
            name=self.name,
            gender=Gender(self.gender),
            date_of_birth=DateOfBirth.parse(self.date_of_birth),
            address=self.address,
            name_substitute_positions=self.name_substitute_positions or "",
            address_substitute_positions=self.address_substitute_positions or "",
        )
        return attributes, locality


EXAMPLE_ATTRIBUTES: dict[str, JsonValue] = {
    "name": "試験　花子",
    "gender": "2",
    "date_of_birth": "319850704",
    "address": "東京都千代田区試験町一丁目99番99号",
    "prefecture": "Tokyo-to",
    "municipality": "Chiyoda-ku",
}


class CardReadIn(BaseModel):
    """The NFC read: the card's signature (its signing key, SHA-256) over ``card_read_message``."""

    model_config = ConfigDict(extra="forbid")

    challenge_id: str = Field(
        min_length=1, max_length=40, description="from POST /cards/{card_id}/challenges"
    )
    signature: str = _B64

    def to_domain(self) -> CardRead:
        return CardRead(self.challenge_id, decode_b64(self.signature, "signature"))


EXAMPLE_CARD_READ: dict[str, JsonValue] = {
    "challenge_id": "chl_5f0c9e0d7c1a4b2e8f3a6d11",
    "signature": "kQ3v…base64…==",
}


# ----------------------------------------------------------------------------------------- outputs


class ResidentOut(BaseModel):
    """A resident (no personal attributes in responses)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "resident_id": "res_4f1e2d3c4b5a69788796a5b4",
                    "attributes_version": 1,
                    "card_ids": ["card_0a1b2c3d4e5f60718293a4b5"],
                    "registration_id": None,
                }
            ]
        }
    )

    resident_id: str
    attributes_version: int = Field(description="incremented by each change of the basic four attributes")
    card_ids: list[str]
    registration_id: str | None = Field(description="the registration occupying the smartphone slot")

    @classmethod
    def of(cls, view: ResidentView) -> ResidentOut:
        return cls(
            resident_id=view.resident_id,
            attributes_version=view.attributes_version,
            card_ids=list(view.card_ids),
            registration_id=view.registration_id,
        )


class CertificateOut(BaseModel):
    kind: CertificateKind
    form_factor: FormFactor
    serial: str = Field(description="lower-case hex")
    certificate_pem: str | None = Field(description="present when the certificate is handed over")


class CardOut(BaseModel):
    """A card; ``certificate_pem`` is filled in answers that hand certificates over (issue, renewal…)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "card_id": "card_0a1b2c3d4e5f60718293a4b5",
                    "resident_id": "res_4f1e2d3c4b5a69788796a5b4",
                    "state": "active",
                    "card_expiry": "2034-07-04",
                    "certificates": [
                        {
                            "kind": "signing",
                            "form_factor": "card",
                            "serial": "3f9a0c11d2",
                            "certificate_pem": None,
                        },
                        {
                            "kind": "user_authentication",
                            "form_factor": "card",
                            "serial": "51be77a0c4",
                            "certificate_pem": None,
                        },
                    ],
                }
            ]
        }
    )

    card_id: str
    resident_id: str
    state: CardState
    card_expiry: date | None
    certificates: list[CertificateOut]

    @classmethod
    def of(cls, view: CardView) -> CardOut:
        return cls(
            card_id=view.card_id,
            resident_id=view.resident_id,
            state=view.state,
            card_expiry=view.card_expiry,
            certificates=[CertificateOut(**_cert(c)) for c in view.certificates],
        )


class ChallengeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "challenge_id": "chl_5f0c9e0d7c1a4b2e8f3a6d11",
                    "nonce": "q83vEjRWeJASNFZ4kBI0VniQEjRWeJASNFZ4kBI0Vng=",
                    "expires_at": "2026-11-29T03:10:00Z",
                }
            ]
        }
    )

    challenge_id: str
    nonce: str = Field(description="base64; the card signs card_read_message(challenge_id, nonce)")
    expires_at: datetime

    @classmethod
    def of(cls, view: ChallengeView) -> ChallengeOut:
        return cls(
            challenge_id=view.challenge_id,
            nonce=base64.b64encode(view.nonce).decode("ascii"),
            expires_at=view.expires_at,
        )


class RegistrationOut(BaseModel):
    """An Android application or iPhone addition, through its whole life."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "registration_id": "reg_1c2d3e4f5a6b7c8d9e0f1a2b",
                    "platform": "android",
                    "flow": "apply",
                    "state": "applied",
                    "device_id": "android-3b1f",
                    "card_id": "card_0a1b2c3d4e5f60718293a4b5",
                    "wants_signing": True,
                    "wants_user_authentication": True,
                    "applied_at": "2026-11-29T03:00:00Z",
                    "notice_at": "2026-11-29T03:05:00Z",
                    "usable_at": None,
                    "registered_at": None,
                    "ended_at": None,
                    "end_reason": None,
                    "replaces_id": None,
                    "certificates": [],
                }
            ]
        }
    )

    registration_id: str
    platform: Platform
    flow: Flow
    state: RegistrationState
    device_id: str
    card_id: str
    wants_signing: bool
    wants_user_authentication: bool
    applied_at: datetime | None
    notice_at: datetime | None = Field(description="when the push notice arrives")
    usable_at: datetime | None = Field(description="iPhone: when the card becomes usable (notice + lag)")
    registered_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    replaces_id: str | None = Field(description="4-B: the registration this device change replaces")
    certificates: list[CertificateOut]

    @classmethod
    def of(cls, view: RegistrationView) -> RegistrationOut:
        values = {k: getattr(view, k) for k in cls.model_fields if k != "certificates"}
        return cls(**values, certificates=[CertificateOut(**_cert(c)) for c in view.certificates])


class NoticeOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "notice_id": 7,
                    "kind": "registration_ready",
                    "registration_id": "reg_1c2d3e4f5a6b7c8d9e0f1a2b",
                    "deliver_at": "2026-11-29T03:05:00Z",
                }
            ]
        }
    )

    notice_id: int
    kind: NoticeKind
    registration_id: str | None
    deliver_at: datetime

    @classmethod
    def of(cls, view: NoticeView) -> NoticeOut:
        return cls(
            notice_id=view.notice_id,
            kind=view.kind,
            registration_id=view.registration_id,
            deliver_at=view.deliver_at,
        )


def _cert(view: Any) -> dict[str, Any]:
    return {
        "kind": view.kind,
        "form_factor": view.form_factor,
        "serial": view.serial,
        "certificate_pem": view.certificate_pem,
    }
