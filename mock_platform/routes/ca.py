"""CA certificates and CRLs over HTTP.

* ``GET /ca`` — every CA generation: purpose, generation, subject, validity, SHA-256 fingerprint, SKI,
  PEM, and the URLs below.
* ``GET /ca/{purpose}/{generation}.cer`` — the root certificate, DER, ``application/pkix-cert`` (RFC 2585).
* ``GET /crl/{purpose}/{generation}.crl`` — the latest CRL, DER, ``application/pkix-crl`` (RFC 2585);
  a new one is issued first when the daily schedule says it is due.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict

from ..ca.profile import CertificateKind
from ..ca.service import CACertificateInfo, CAService
from .problems import Problem

PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}


class CACertificateOut(BaseModel):
    """One CA generation (public data only)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "purpose": "signing",
                    "generation": 2,
                    "subject": "OU=Japan Agency for Local Authority Information Systems,"
                    "OU=JPKI for digital signature,O=JPKI,C=JP",
                    "not_before": "2024-11-29T09:00:00Z",
                    "not_after": "2034-11-27T14:59:59Z",
                    "sha256_fingerprint": "3f…",
                    "subject_key_identifier": "a1…",
                    "certificate_pem": "-----BEGIN CERTIFICATE-----\n…",
                    "certificate_url": "/ca/signing/2.cer",
                    "crl_url": "/crl/signing/2.crl",
                }
            ]
        }
    )

    purpose: CertificateKind
    generation: int
    subject: str
    not_before: datetime
    not_after: datetime
    sha256_fingerprint: str
    subject_key_identifier: str
    certificate_pem: str
    certificate_url: str
    crl_url: str


def ca_out(info: CACertificateInfo) -> CACertificateOut:
    path = f"{info.purpose.value}/{info.generation}"
    return CACertificateOut(
        purpose=info.purpose,
        generation=info.generation,
        subject=info.certificate.subject.rfc4514_string(),
        not_before=info.not_before,
        not_after=info.not_after,
        sha256_fingerprint=info.sha256_fingerprint,
        subject_key_identifier=info.subject_key_identifier,
        certificate_pem=info.certificate_pem,
        certificate_url=f"/ca/{path}.cer",
        crl_url=f"/crl/{path}.crl",
    )


def build_router(service: CAService) -> APIRouter:
    """Routes ``/ca``, ``/ca/{purpose}/{generation}.cer`` and ``/crl/{purpose}/{generation}.crl``."""
    router = APIRouter(tags=["ca"])

    @router.get("/ca", summary="List CA generations")
    def list_cas() -> list[CACertificateOut]:
        return [ca_out(info) for info in service.ca_certificates()]

    @router.get(
        "/ca/{purpose}/{generation}.cer",
        response_class=Response,
        summary="Root certificate (DER)",
        responses={200: {"content": {"application/pkix-cert": {}}}, 404: PROBLEM},
    )
    def get_ca(purpose: CertificateKind, generation: int) -> Response:
        info = service.ca_certificate(purpose, generation)
        return Response(content=info.certificate_der, media_type="application/pkix-cert")

    @router.get(
        "/crl/{purpose}/{generation}.crl",
        response_class=Response,
        summary="Latest CRL (DER); issued first if the daily schedule says so",
        responses={200: {"content": {"application/pkix-crl": {}}}, 404: PROBLEM},
    )
    def get_crl(purpose: CertificateKind, generation: int) -> Response:
        crl = service.current_crl(purpose, generation)
        return Response(
            content=crl.der, media_type="application/pkix-crl", headers={"Cache-Control": "no-store"}
        )

    return router
