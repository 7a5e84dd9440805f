"""A Presentation is built only by MdocVerifier; verify_age refuses hand-built evidence."""

from __future__ import annotations

import copy
import dataclasses
from types import MappingProxyType

import pytest
from mdoc_issuer import NOW, NS, IssuerPKI, issue

from myna_rp import verify_age
from myna_rp.mdoc import IACAStore, MdocVerifier, Presentation, UnverifiedPresentationError
from myna_rp.mdoc.verifier import DeviceAuthKind, _Mint, is_verified_presentation


@pytest.fixture(scope="module")
def verified() -> Presentation:
    pki = IssuerPKI()
    issued = issue(pki, elements={NS: {"age_over_20": False}})
    return MdocVerifier(IACAStore([pki.iaca])).verify(
        issued.device_response, session_transcript=issued.transcript, at=NOW
    )


def _fields(p: Presentation) -> dict[str, object]:
    return {f.name: getattr(p, f.name) for f in dataclasses.fields(p) if f.name != "_mint"}


def test_verified_presentation_is_accepted(verified: Presentation) -> None:
    assert is_verified_presentation(verified)
    assert verify_age(verified, 20).over is False


def test_direct_construction_is_refused(verified: Presentation) -> None:
    forged = _fields(verified) | {"elements": MappingProxyType({NS: MappingProxyType({"age_over_20": True})})}
    with pytest.raises(UnverifiedPresentationError):
        Presentation(**forged)  # type: ignore[arg-type]
    with pytest.raises(TypeError):  # it is a TypeError too
        Presentation(**forged, _mint=None)  # type: ignore[arg-type]
    with pytest.raises(UnverifiedPresentationError):
        Presentation(**forged, _mint=object())  # type: ignore[arg-type]


def test_replace_of_a_verified_presentation_is_refused(verified: Presentation) -> None:
    with pytest.raises(UnverifiedPresentationError):
        dataclasses.replace(
            verified, elements=MappingProxyType({NS: MappingProxyType({"age_over_20": True})})
        )
    with pytest.raises(UnverifiedPresentationError):  # the verifier's single-use mint cannot be reused
        Presentation(**_fields(verified), _mint=verified._mint)  # type: ignore[arg-type]


def test_verify_age_refuses_a_smuggled_presentation(verified: Presentation) -> None:
    forged = object.__new__(Presentation)
    for name, value in _fields(verified).items():
        object.__setattr__(forged, name, value)
    object.__setattr__(forged, "device_auth", DeviceAuthKind.SIGNATURE)
    assert not is_verified_presentation(forged)
    with pytest.raises(UnverifiedPresentationError):
        verify_age(forged, 20)
    object.__setattr__(forged, "_mint", _Mint())  # an unused mint is not the verifier's
    with pytest.raises(UnverifiedPresentationError):
        verify_age(forged, 20)


def test_copy_of_a_verified_presentation_stays_verified(verified: Presentation) -> None:
    assert verify_age(copy.copy(verified), 20).over is False
