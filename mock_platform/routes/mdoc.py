"""The attribute credential (mdoc) over HTTP: the IACA for RPs, the credential for the iPhone, status.

* ``GET /mdoc/iaca.cer`` — the IACA root, DER (``application/pkix-cert``); ``GET /mdoc/iaca.pem`` — PEM.
  An RP (or a test) configures it as the trust anchor of its mdoc verifier.
* ``POST /iphone/additions/{id}/credential`` — the iPhone binds its device key (EC P-256
  SubjectPublicKeyInfo PEM) and receives its credential (``issuer_signed``: base64 IssuerSigned CBOR);
* ``GET /iphone/additions/{id}/credential?device_id=…`` — the current credential (re-issued when due);
* ``GET /admin/mdoc/registrations/{id}/credential`` — status of a registration's credential;
  ``GET /admin/mdoc/credentials/{credential_id}`` — status of one issued credential;
  ``POST /admin/mdoc/registrations/{id}/invalidate`` — invalidate explicitly.

Problems (RFC 9457, stable ``code``): ``ATTRIBUTE_PROOF_UNSUPPORTED`` (409, Android; ``fallback`` member),
``NOT_READY`` (409, pending), ``CREDENTIAL_INVALIDATED`` (409, with ``reason``), ``NO_CREDENTIAL`` /
``UNKNOWN_CREDENTIAL`` / ``UNKNOWN_REGISTRATION`` (404), ``WRONG_DEVICE`` (403), ``INVALID_DEVICE_KEY`` /
``INVALID_PUBLIC_KEY`` (422). Status answers carry no personal data.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from ..ca.keys import load_public_key_pem
from ..mdoc.errors import InvalidDeviceKeyError
from ..mdoc.service import (
    CredentialStatus,
    CredentialStatusView,
    CredentialView,
    InvalidationReason,
    MdocService,
)
from .lifecycle_models import pem_field, problem_responses
from .problems import Problem

DEVICE_ID = Field(min_length=1, max_length=64, description="the handset's app-instance identifier")
_PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}


class CredentialRequest(BaseModel):
    """The iPhone binds its mdoc device key (EC P-256, generated in its secure element)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "device_id": "iphone-9a2e",
                    "device_public_key_pem": "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0D…"
                    "\n-----END PUBLIC KEY-----\n",
                }
            ]
        },
    )

    device_id: str = DEVICE_ID
    device_public_key_pem: str = pem_field()


class CredentialOut(BaseModel):
    """An issued credential: ``issuer_signed`` is the base64 (standard) IssuerSigned CBOR."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "credential_id": "mdc_0f1e2d3c4b5a69788796a5b4",
                    "registration_id": "reg_1c2d3e4f5a6b7c8d9e0f1a2b",
                    "doc_type": "org.iso.23220.1.jp.mnc",
                    "issuer_signed": "omp… (base64 CBOR)",
                    "signed": "2026-11-29T03:15:00Z",
                    "valid_from": "2026-11-29T03:15:00Z",
                    "valid_until": "2026-12-29T03:15:00Z",
                    "expected_update": "2026-12-22T03:15:00Z",
                }
            ]
        }
    )

    credential_id: str
    registration_id: str
    doc_type: str
    issuer_signed: str = Field(description="base64 of the IssuerSigned CBOR (nameSpaces + issuerAuth)")
    signed: datetime
    valid_from: datetime
    valid_until: datetime
    expected_update: datetime

    @classmethod
    def of(cls, view: CredentialView) -> CredentialOut:
        return cls(
            credential_id=view.credential_id,
            registration_id=view.registration_id,
            doc_type=view.doc_type,
            issuer_signed=base64.b64encode(view.issuer_signed).decode("ascii"),
            signed=view.signed,
            valid_from=view.valid_from,
            valid_until=view.valid_until,
            expected_update=view.expected_update,
        )


class CredentialStatusOut(BaseModel):
    """Status of a credential (no element values)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "registration_id": "reg_1c2d3e4f5a6b7c8d9e0f1a2b",
                    "status": "invalidated",
                    "reason": "deleted",
                    "invalidated_at": "2026-11-30T01:00:00Z",
                    "credential_id": "mdc_0f1e2d3c4b5a69788796a5b4",
                    "doc_type": "org.iso.23220.1.jp.mnc",
                    "signed": "2026-11-29T03:15:00Z",
                    "valid_from": "2026-11-29T03:15:00Z",
                    "valid_until": "2026-12-29T03:15:00Z",
                    "expected_update": "2026-12-22T03:15:00Z",
                }
            ]
        }
    )

    registration_id: str
    status: CredentialStatus
    reason: InvalidationReason | None
    invalidated_at: datetime | None
    credential_id: str | None
    doc_type: str | None
    signed: datetime | None
    valid_from: datetime | None
    valid_until: datetime | None
    expected_update: datetime | None

    @classmethod
    def of(cls, view: CredentialStatusView) -> CredentialStatusOut:
        return cls(**{name: getattr(view, name) for name in cls.model_fields})


def _device_key(pem: str) -> ec.EllipticCurvePublicKey:
    key = load_public_key_pem(pem)
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidDeviceKeyError("the device key must be an EC P-256 public key")
    return key


def build_router(service: MdocService) -> APIRouter:
    router = APIRouter(tags=["attribute credential (mdoc)"])

    @router.get(
        "/mdoc/iaca.cer",
        response_class=Response,
        summary="The IACA root certificate (DER): the RP's mdoc trust anchor",
        responses={200: {"content": {"application/pkix-cert": {}}}},
    )
    def iaca_der() -> Response:
        der = service.iaca_certificate().public_bytes(serialization.Encoding.DER)
        return Response(content=der, media_type="application/pkix-cert")

    @router.get(
        "/mdoc/iaca.pem",
        response_class=Response,
        summary="The IACA root certificate (PEM)",
        responses={200: {"content": {"application/x-pem-file": {}}}},
    )
    def iaca_pem() -> Response:
        pem = service.iaca_certificate().public_bytes(serialization.Encoding.PEM)
        return Response(content=pem, media_type="application/x-pem-file")

    @router.post(
        "/iphone/additions/{registration_id}/credential",
        summary="Bind the iPhone's mdoc device key and fetch the attribute credential",
        responses=problem_responses(403, 404, 409, 422),
    )
    def bind_credential(registration_id: str, request: CredentialRequest) -> CredentialOut:
        key = _device_key(request.device_public_key_pem)
        return CredentialOut.of(
            service.fetch(registration_id, device_id=request.device_id, device_public_key=key)
        )

    @router.get(
        "/iphone/additions/{registration_id}/credential",
        summary="The current attribute credential (re-issued before expiry)",
        responses=problem_responses(403, 404, 409, 422),
    )
    def get_credential(
        registration_id: str, device_id: Annotated[str, Query(min_length=1, max_length=64)]
    ) -> CredentialOut:
        return CredentialOut.of(service.fetch(registration_id, device_id=device_id))

    @router.get(
        "/admin/mdoc/registrations/{registration_id}/credential",
        summary="Status of a registration's attribute credential (no personal data)",
        responses={404: _PROBLEM, 409: _PROBLEM},
    )
    def registration_status(registration_id: str) -> CredentialStatusOut:
        return CredentialStatusOut.of(service.status(registration_id))

    @router.get(
        "/admin/mdoc/credentials/{credential_id}",
        summary="Status of one issued credential (valid, superseded, expired, invalidated)",
        responses={404: _PROBLEM},
    )
    def credential_status(credential_id: str) -> CredentialStatusOut:
        return CredentialStatusOut.of(service.credential_status(credential_id))

    @router.post(
        "/admin/mdoc/registrations/{registration_id}/invalidate",
        summary="Invalidate a registration's credential explicitly",
        responses={404: _PROBLEM, 409: _PROBLEM},
    )
    def invalidate(registration_id: str) -> CredentialStatusOut:
        return CredentialStatusOut.of(service.invalidate(registration_id))

    return router
