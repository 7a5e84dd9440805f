"""The real J-LIS roots (../shared/vectors/jlis-roots) load, match their pins, tell their generation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from myna_rp.errors import ConfigurationError
from myna_rp.jpki.truststore import AnchorPurpose, JLISRootPin, TrustStore

ROOTS = {
    "signca01.cer": (AnchorPurpose.SIGNING, 1),
    "signca03.cer": (AnchorPurpose.SIGNING, 3),
    "authca01.cer": (AnchorPurpose.USER_AUTHENTICATION, 1),
    "authca03.cer": (AnchorPurpose.USER_AUTHENTICATION, 3),
}


def test_real_roots_load_with_pinned_fingerprints(vectors: Path) -> None:
    folder = vectors / "jlis-roots"
    store = TrustStore.jlis_production([folder / name for name in ROOTS])
    by_fp = {a.sha256: a for a in store.anchors}
    listed = json.loads((folder / "roots.json").read_text())
    assert len(store.anchors) == 4
    for name, (purpose, generation) in ROOTS.items():
        anchor = TrustStore.from_pem_files([folder / name]).anchors[0]
        assert by_fp[anchor.sha256].purpose is purpose
        assert by_fp[anchor.sha256].generation == generation
        assert anchor.sha256 in json.dumps(listed)


def test_official_signca03_fingerprint(vectors: Path) -> None:
    anchor = TrustStore.jlis_production([vectors / "jlis-roots" / "signca03.cer"]).anchors[0]
    assert anchor.sha256 == "d227f6cde11d35c5252178f106f843d24651944975413b539fa2fb68dbfa365f"


def test_generations_share_a_subject_dn(vectors: Path) -> None:
    store = TrustStore.jlis_production(
        [vectors / "jlis-roots" / "signca01.cer", vectors / "jlis-roots" / "signca03.cer"]
    )
    first, second = (a.certificate for a in store.anchors)
    assert first.subject == second.subject
    assert first.public_key().public_numbers() != second.public_key().public_numbers()


def test_unpinned_root_refused(vectors: Path) -> None:
    pkits_root = vectors / "pkits" / "certs" / "TrustAnchorRootCertificate.crt"
    with pytest.raises(ConfigurationError):
        TrustStore.jlis_production([pkits_root])


def test_extra_pin_admits_a_root(vectors: Path) -> None:
    pkits_root = vectors / "pkits" / "certs" / "TrustAnchorRootCertificate.crt"
    digest = TrustStore.from_pem_files([pkits_root]).anchors[0].sha256
    store = TrustStore.jlis_production(
        [pkits_root], extra_pins=[JLISRootPin(AnchorPurpose.SIGNING, 2, digest, "test")]
    )
    assert store.anchors[0].generation == 2
