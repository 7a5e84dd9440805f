"""Admin API of the mock J-LIS (JSON). Unauthenticated: the server binds to loopback by default.

* ``POST /admin/certificates`` — issue an end-entity certificate to a submitted public key.
* ``GET /admin/certificates/{serial}`` — revocation state (no personal data).
* ``POST /admin/certificates/{serial}/revoke`` — revoke with a reason; ``certificateHold`` holds.
* ``POST /admin/certificates/{serial}/release`` — release a hold (409 ``NOT_ON_HOLD`` otherwise).
* ``POST /admin/crl/issue`` — force a CRL issue (all generations, or one purpose).
* ``GET``/``POST /admin/clock`` — read / set / advance the mock clock; only in test mode (404 otherwise).

``{serial}`` is hexadecimal (case-insensitive, optional ``0x``), as returned by the issue call.
Responses never echo personal attributes except the issued certificate itself.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Literal

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from ..ca.attributes import AttributeEncoding, BasicFourAttributes, DateOfBirth, Gender
from ..ca.errors import InvalidAttributesError
from ..ca.keys import load_public_key_pem
from ..ca.profile import CertificateKind, FormFactor, Locality, RevocationReason
from ..ca.service import CAService, CertificateState, CRLInfo
from ..clock import Clock, MockClock
from .problems import Problem, ProblemError

PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}
_SERIAL = re.compile(r"(?:0x)?([0-9a-f]{1,40})", re.IGNORECASE)

_EXAMPLE_KEY = (
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA…\n-----END PUBLIC KEY-----\n"
)


class AttributesIn(BaseModel):
    """The basic four attributes except the date of birth (given once, at the top level)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="family name, U+3000, given name")
    name_substitute_positions: str | None = Field(
        default=None, pattern=r"^[01]+$", description="one 0/1 per name character; default all 0"
    )
    gender: Literal["1", "2", "3"] = Field(description="1 male, 2 female, 3 not stated")
    address: str = Field(min_length=1, max_length=200, description="from the prefecture, no postal code")
    address_substitute_positions: str | None = Field(default=None, pattern=r"^[01]+$")


class IssueCertificateRequest(BaseModel):
    """Issue one end-entity certificate now (mock clock) from the newest valid CA generation."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "signing",
                    "form_factor": "card",
                    "public_key_pem": _EXAMPLE_KEY,
                    "date_of_birth": "319800412",
                    "card_expiry": "2034-04-12",
                    "prefecture": "Tokyo-to",
                    "municipality": "Chiyoda-ku",
                    "attributes": {
                        "name": "試験　太郎",
                        "gender": "1",
                        "address": "東京都千代田区試験町一丁目99番99号",
                    },
                },
                {
                    "kind": "user_authentication",
                    "form_factor": "iphone",
                    "public_key_pem": _EXAMPLE_KEY,
                    "date_of_birth": "319800412",
                    "card_expiry": "2034-04-12",
                },
            ]
        },
    )

    kind: CertificateKind
    form_factor: FormFactor = FormFactor.CARD
    public_key_pem: str = Field(max_length=16384, description="SubjectPublicKeyInfo PEM (RSA or EC P-256)")
    date_of_birth: str = Field(
        pattern=r"^[0-5][0-9]{8}$", description="EYYYYMMDD: era digit (0 unknown … 5 Reiwa) + Gregorian date"
    )
    card_expiry: date | None = Field(default=None, description="caps notAfter at 23:59:59 JST that day")
    prefecture: str | None = Field(default=None, max_length=64, description="signing only: first L=")
    municipality: str | None = Field(default=None, max_length=64, description="signing only: second L=")
    attributes: AttributesIn | None = Field(default=None, description="signing only (required there)")
    attribute_encoding: AttributeEncoding = AttributeEncoding.UTF8_STRING


class IssuerOut(BaseModel):
    purpose: CertificateKind
    generation: int


class IssuedCertificateOut(BaseModel):
    """The issued certificate and how to refer to it."""

    serial: str = Field(description="lower-case hex, no leading zeros")
    subject_id: str = Field(description="the opaque subject CN")
    kind: CertificateKind
    form_factor: FormFactor
    issuer: IssuerOut
    not_before: datetime
    not_after: datetime
    certificate_pem: str


class RevokeRequest(BaseModel):
    """Revoke now; ``certificateHold`` puts the certificate on hold instead."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"reason": "keyCompromise"}, {"reason": "certificateHold"}]},
    )

    reason: RevocationReason
    invalidity_date: AwareDatetime | None = Field(default=None, description="RFC 5280 §5.3.2; not after now")


class CertificateStateOut(BaseModel):
    """Revocation state of one certificate (no personal data)."""

    serial: str
    kind: CertificateKind
    form_factor: FormFactor
    subject_id: str
    issuer: IssuerOut
    status: Literal["good", "revoked", "on_hold"]
    revocation_reason: RevocationReason | None
    revoked_at: datetime | None
    invalidity_date: datetime | None
    not_before: datetime
    not_after: datetime
    issued_at: datetime


class CRLIssueRequest(BaseModel):
    """Force a CRL issue now."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{}, {"purpose": "signing", "omit_next_update": False}]},
    )

    purpose: CertificateKind | None = None
    omit_next_update: bool = Field(
        default=False, description="issue CRLs without nextUpdate (negative tests)"
    )


class CRLOut(BaseModel):
    purpose: CertificateKind
    generation: int
    crl_number: int
    this_update: datetime
    next_update: datetime | None
    url: str


class ClockOut(BaseModel):
    now: datetime


class ClockUpdate(BaseModel):
    """Exactly one of ``now`` (jump to an aware instant) or ``advance_seconds`` (may be negative)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"now": "2026-12-01T00:00:00+09:00"}, {"advance_seconds": 86400}]},
    )

    now: AwareDatetime | None = None
    advance_seconds: float | None = Field(default=None, ge=-10 * 366 * 86400, le=10 * 366 * 86400)

    @model_validator(mode="after")
    def _exactly_one(self) -> ClockUpdate:
        if (self.now is None) == (self.advance_seconds is None):
            raise ValueError("give exactly one of 'now' or 'advance_seconds'")
        return self


def parse_serial(text: str) -> int:
    """Hex serial from the path; raises a 422 ``INVALID_SERIAL`` problem."""
    match = _SERIAL.fullmatch(text.strip())
    if match is None:
        raise ProblemError(422, "INVALID_SERIAL", "Invalid serial number", "serial must be 1–40 hex digits")
    return int(match.group(1), 16)


def _state_out(state: CertificateState) -> CertificateStateOut:
    return CertificateStateOut(
        serial=state.serial_hex,
        kind=state.kind,
        form_factor=state.form_factor,
        subject_id=state.subject_id,
        issuer=IssuerOut(purpose=state.issuer_purpose, generation=state.issuer_generation),
        status=state.status.value,
        revocation_reason=state.revocation_reason,
        revoked_at=state.revoked_at,
        invalidity_date=state.invalidity_date,
        not_before=state.not_before,
        not_after=state.not_after,
        issued_at=state.issued_at,
    )


def _crl_out(info: CRLInfo) -> CRLOut:
    return CRLOut(
        purpose=info.purpose,
        generation=info.generation,
        crl_number=info.crl_number,
        this_update=info.this_update,
        next_update=info.next_update,
        url=f"/crl/{info.purpose.value}/{info.generation}.crl",
    )


def _attributes(
    request: IssueCertificateRequest, date_of_birth: DateOfBirth
) -> tuple[BasicFourAttributes | None, Locality | None]:
    if request.kind is CertificateKind.USER_AUTHENTICATION:
        if (
            request.attributes is not None
            or request.prefecture is not None
            or request.municipality is not None
        ):
            raise InvalidAttributesError("user-authentication certificates carry no attributes or locality")
        return None, None
    if request.attributes is None or request.prefecture is None or request.municipality is None:
        raise InvalidAttributesError("signing certificates need attributes, prefecture and municipality")
    try:
        locality = Locality(request.prefecture, request.municipality)
    except ValueError as exc:
        raise InvalidAttributesError(str(exc)) from exc
    given = request.attributes
    attributes = BasicFourAttributes(
        name=given.name,
        gender=Gender(given.gender),
        date_of_birth=date_of_birth,
        address=given.address,
        name_substitute_positions=given.name_substitute_positions or "",
        address_substitute_positions=given.address_substitute_positions or "",
    )
    return attributes, locality


def build_router(service: CAService, *, clock: Clock, test_mode: bool) -> APIRouter:
    """The ``/admin`` routes over ``service``; clock routes only when ``test_mode``."""
    router = APIRouter(prefix="/admin", tags=["admin"])

    @router.post(
        "/certificates",
        status_code=201,
        summary="Issue an end-entity certificate",
        responses={409: PROBLEM, 422: PROBLEM},
    )
    def issue(request: IssueCertificateRequest) -> IssuedCertificateOut:
        public_key = load_public_key_pem(request.public_key_pem)
        date_of_birth = DateOfBirth.parse(request.date_of_birth)
        attributes, locality = _attributes(request, date_of_birth)
        issued = service.issue_certificate(
            public_key=public_key,
            kind=request.kind,
            form_factor=request.form_factor,
            date_of_birth=date_of_birth,
            attributes=attributes,
            locality=locality,
            card_expiry=request.card_expiry,
            attribute_encoding=request.attribute_encoding,
        )
        return IssuedCertificateOut(
            serial=issued.serial_hex,
            subject_id=issued.subject_id,
            kind=issued.kind,
            form_factor=issued.form_factor,
            issuer=IssuerOut(purpose=issued.issuer_purpose, generation=issued.issuer_generation),
            not_before=issued.certificate.not_valid_before_utc,
            not_after=issued.certificate.not_valid_after_utc,
            certificate_pem=issued.certificate_pem,
        )

    @router.get("/certificates/{serial}", summary="Certificate state", responses={404: PROBLEM, 422: PROBLEM})
    def state(serial: str) -> CertificateStateOut:
        return _state_out(service.certificate_state(parse_serial(serial)))

    @router.post(
        "/certificates/{serial}/revoke",
        summary="Revoke (certificateHold: hold)",
        responses={404: PROBLEM, 409: PROBLEM, 422: PROBLEM},
    )
    def revoke(serial: str, request: RevokeRequest) -> CertificateStateOut:
        number = parse_serial(serial)
        return _state_out(service.revoke(number, request.reason, invalidity_date=request.invalidity_date))

    @router.post(
        "/certificates/{serial}/release",
        summary="Release a hold",
        responses={404: PROBLEM, 409: PROBLEM, 422: PROBLEM},
    )
    def release(serial: str) -> CertificateStateOut:
        return _state_out(service.release(parse_serial(serial)))

    @router.post("/crl/issue", summary="Force a CRL issue", responses={422: PROBLEM})
    def issue_crl(request: CRLIssueRequest | None = None) -> list[CRLOut]:
        body = request if request is not None else CRLIssueRequest()
        return [
            _crl_out(info)
            for info in service.issue_crls(body.purpose, omit_next_update=body.omit_next_update)
        ]

    if test_mode:

        def settable() -> MockClock:
            if not isinstance(clock, MockClock):
                raise ProblemError(
                    409, "CLOCK_NOT_SETTABLE", "Clock not settable", "the injected clock cannot be set"
                )
            return clock

        @router.get("/clock", summary="Current mock time (test mode only)")
        def get_clock() -> ClockOut:
            return ClockOut(now=clock.now())

        @router.post(
            "/clock", summary="Set or advance the mock time (test mode only)", responses={409: PROBLEM}
        )
        def set_clock(update: ClockUpdate) -> ClockOut:
            target = settable()
            try:
                if update.now is not None:
                    return ClockOut(now=target.set(update.now))
                assert update.advance_seconds is not None
                return ClockOut(now=target.advance(timedelta(seconds=update.advance_seconds)))
            except (ValueError, OverflowError) as exc:
                raise ProblemError(422, "CLOCK_OUT_OF_RANGE", "Clock value out of range", str(exc)) from exc

    return router
