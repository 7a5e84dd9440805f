"""Regressions from the issue-4 review: unknown critical COSE headers, --min-age range."""

from __future__ import annotations

import cbor2
import pytest

from myna_rp.cli import main
from myna_rp.errors import MdocVerificationError, Reason
from myna_rp.mdoc.cose import TAG_COSE_SIGN1, parse_cose


def _sign1(protected: dict[int, object]) -> list[object]:
    return [cbor2.dumps(protected), {}, b"payload", b"\x00" * 64]


def test_unknown_critical_header_is_rejected() -> None:
    with pytest.raises(MdocVerificationError) as caught:
        parse_cose(_sign1({1: -7, 2: [99], 99: 1}), tag=TAG_COSE_SIGN1, what="issuerAuth")
    assert caught.value.reason is Reason.UNSUPPORTED_ALGORITHM


def test_understood_critical_header_is_accepted() -> None:
    message = parse_cose(_sign1({1: -7, 2: [1]}), tag=TAG_COSE_SIGN1, what="issuerAuth")
    assert message.protected[2] == [1]


@pytest.mark.parametrize("value", ["0", "100", "-1", "twenty"])
def test_min_age_out_of_range_is_a_usage_error(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "verify-age",
            "--min-age",
            value,
            "--iaca",
            "x",
            "--device-response",
            "x",
            "--session-transcript",
            "x",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 2
    assert "--min-age" in err
    assert "Traceback" not in out + err
