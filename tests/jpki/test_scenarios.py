"""Every generated scenario (tests/fixtures/jpki_scenarios.py) through ``myna-rp verify-jpki``.

The fixtures are made by the mock J-LIS (an independent encoding of the JPKI profile); the SDK must reach
the verdict, reason, kind, form factor, attributes and revocation status the generator expects.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from myna_rp.cli import main
from tests.fixtures.jpki_scenarios import build_scenarios

NOW = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("jpki-scenarios")
    manifest = build_scenarios(out, NOW)
    return out, manifest


def _cases(manifest: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, scenario in manifest["scenarios"].items():
        for case in scenario["cases"]:
            yield f"{name}/{case['id']}", case


def _run(out: Path, argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    cwd = Path.cwd()
    os.chdir(out)
    try:
        code = main(argv)
    finally:
        os.chdir(cwd)
    stdout, stderr = capsys.readouterr()
    assert "Traceback" not in stdout + stderr
    return code, json.loads(stdout)


def _compare(got: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("valid", "reason"):
        if got[key] != expected[key]:
            problems.append(f"{key}: got {got[key]!r}, expected {expected[key]!r}")
    for key in ("certificate_kind", "form_factor"):
        if expected[key] is not None and got[key] != expected[key]:
            problems.append(f"{key}: got {got[key]!r}, expected {expected[key]!r}")
    want_attrs = expected["attributes"]
    if want_attrs is None:
        if got["attributes"] is not None and not got["valid"]:
            problems.append("attributes printed for an invalid verification")
    else:
        have = got["attributes"] or {}
        mapped = dict(have, date_of_birth=have.get("date_of_birth_raw"))
        for key, value in want_attrs.items():
            if mapped.get(key) != value:
                problems.append(f"attributes.{key}: got {mapped.get(key)!r}, expected {value!r}")
    want_rev = expected["revocation"]
    if want_rev is not None:
        for key in ("status", "source", "reason"):
            if got["revocation"][key] != want_rev[key]:
                problems.append(
                    f"revocation.{key}: got {got['revocation'][key]!r}, expected {want_rev[key]!r}"
                )
    return problems


def test_every_scenario_gives_its_expected_verdict(
    scenarios: tuple[Path, dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    out, manifest = scenarios
    failures, count = [], 0
    for case_id, case in _cases(manifest):
        count += 1
        code, got = _run(out, case["argv"], capsys)
        problems = _compare(got, case["expected"])
        if code != (0 if case["expected"]["valid"] else 1):
            problems.append(f"exit code {code}")
        if problems:
            failures.append(f"{case_id}: " + "; ".join(problems))
    assert count >= 40
    assert not failures, "\n".join(failures)


REQUIRED_SCENARIOS = {
    "expired",
    "not_yet_valid",
    "wrong_key_usage",
    "wrong_policy",
    "other_purpose_root",
    "rogue_root_same_dn",
    "generation_rollover",
    "tampered_signature",
    "tampered_data",
    "hold_then_release",
    "ocsp_unauthorised_signer",
    "stale_ocsp",
    "crl_without_next_update",
}


def test_the_issue_scenarios_exist(scenarios: tuple[Path, dict[str, Any]]) -> None:
    names = set(scenarios[1]["scenarios"])
    assert names >= REQUIRED_SCENARIOS, REQUIRED_SCENARIOS - names
    revoked = {n for n in names if n.startswith("revoked_")}
    for reason in (
        "unspecified",
        "keyCompromise",
        "cACompromise",
        "affiliationChanged",
        "superseded",
        "cessationOfOperation",
        "certificateHold",
    ):
        assert any(reason.lower() in n.lower().replace("_", "") for n in revoked), reason
