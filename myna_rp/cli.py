"""The ``myna-rp`` command.

Conventions (every sub-command): one JSON object on stdout; a one-line human message on stderr;
exit 0 = valid, 1 = invalid (including malformed input), 2 = usage error; never a traceback.

Sub-commands: ``inspect``, ``verify-jpki``; others (``demo``) are plugged in through the
``myna_rp.commands`` entry-point group so that the SDK never imports the mock platform.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, NoReturn

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from .clock import FixedClock, SystemClock
from .encoding import load_certificates, to_der
from .errors import MalformedInputError, MynaRPError, Reason, VerificationError
from .jpki.attributes import BasicFourAttributes, parse_basic_four_attributes
from .jpki.profile import CertificateKind, FormFactor, PolicyRule, PolicyRules, claimed_profile, classify
from .jpki.truststore import TrustStore
from .jpki.verifier import JPKIVerification, JPKIVerifier, sha256_hex
from .revocation import RevocationPolicy, RevocationStatus
from .revocation.checker import RevocationChecker, RevocationEvidence

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
MAX_INPUT_BYTES = 64 * 1024 * 1024

# Reasons outside the documented CLI vocabulary are folded into the nearest documented one.
_CLI_REASON = {
    Reason.UNSUPPORTED_ALGORITHM: Reason.SIGNATURE_INVALID,
    Reason.WRONG_CERTIFICATE_KIND: Reason.WRONG_KEY_USAGE,
}


class UsageError(Exception):
    """Bad command line: exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _read(path: str, what: str) -> bytes:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_INPUT_BYTES:
            raise MalformedInputError(f"{what} {path} is larger than {MAX_INPUT_BYTES} bytes")
        return p.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from exc


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError as exc:
        raise UsageError(f"--at {value!r} is not an RFC 3339 date-time") from exc
    if parsed.tzinfo is None:
        raise UsageError("--at needs a time zone offset (e.g. 2026-01-01T00:00:00Z)")
    return parsed


def _ocsp_der(data: bytes, what: str) -> bytes:
    """An OCSP response as DER, PEM, or bare base64 text (the OpenSSL test-suite form)."""
    if data[:1] == b"\x30" or b"-----BEGIN" in data[:4096]:
        return to_der(data, labels=("OCSP RESPONSE",), what=what)[0]
    try:
        decoded = base64.b64decode(b"".join(data.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedInputError(f"{what} is neither DER, PEM nor base64") from exc
    if not decoded or decoded[0] != 0x30:
        raise MalformedInputError(f"{what} is not an OCSP response")
    return decoded


def attributes_json(attributes: BasicFourAttributes | None) -> dict[str, Any] | None:
    """The basic four attributes as the CLI prints them."""
    if attributes is None:
        return None
    dob = attributes.date_of_birth
    return {
        "name": attributes.name,
        "name_substitute_positions": attributes.name_substitute_positions,
        "gender": attributes.gender.value,
        "date_of_birth": dob.value.isoformat() if dob.value else None,
        "date_of_birth_raw": dob.raw,
        "address": attributes.address,
        "address_substitute_positions": attributes.address_substitute_positions,
    }


def revocation_json(status: RevocationStatus | None) -> dict[str, Any]:
    if status is None:
        return {"status": "not_checked", "reason": None, "source": None}
    return {
        "status": status.status.value,
        "reason": status.reason.value if status.reason else None,
        "source": status.source.value if status.source else None,
    }


def _policy_rules(values: Sequence[str]) -> PolicyRules:
    rules = PolicyRules()
    for value in values:
        oid, sep, rest = value.partition("=")
        kind, sep2, form = rest.partition(":")
        try:
            rule = PolicyRule(CertificateKind(kind), FormFactor(form))
        except ValueError as exc:
            raise UsageError(
                f"--policy-rule {value!r}: expected "
                "OID=signing|user_authentication:card|android|iphone|unknown"
            ) from exc
        if not sep or not sep2 or not oid:
            raise UsageError(f"--policy-rule {value!r} is not OID=KIND:FORM_FACTOR")
        rules = rules.with_rule(oid, rule)
    return rules


def _emit(payload: dict[str, Any], message: str, code: int) -> int:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    sys.stderr.write(message.rstrip() + "\n")
    return code


# -- inspect ----------------------------------------------------------------------------------------


def _cmd_inspect(args: argparse.Namespace) -> int:
    certificate = load_certificates(_read(args.certificate, "certificate"))[0]
    rules = _policy_rules(args.policy_rule)
    claimed = claimed_profile(certificate, rules)
    kind = claimed.kind.value if claimed else None
    form = claimed.form_factor.value if claimed else None
    profile_error = None
    try:
        classify(certificate, rules)
    except VerificationError as exc:
        profile_error = exc.message
    try:
        attributes = attributes_json(parse_basic_four_attributes(certificate))
    except MalformedInputError as exc:
        attributes, profile_error = None, exc.message
    payload = {
        "valid": True,
        "reason": None,
        "certificate_kind": kind,
        "form_factor": form,
        "profile_error": profile_error,
        "attributes": attributes,
        "serial_number": format(certificate.serial_number, "x"),
        "issuer": certificate.issuer.rfc4514_string(),
        "subject": certificate.subject.rfc4514_string(),
        "not_before": certificate.not_valid_before_utc.isoformat(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "fingerprints": {
            "sha256": sha256_hex(certificate),
            "sha1": certificate.fingerprint(hashes.SHA1()).hex(),  # noqa: S303 - display only
        },
    }
    return _emit(payload, f"certificate parsed: {kind or 'not a JPKI certificate'}", EXIT_VALID)


# -- verify-jpki ------------------------------------------------------------------------------------


def _verify_jpki_payload(
    *,
    result: JPKIVerification | None,
    error: MynaRPError | None,
    leaf: x509.Certificate | None,
    rules: PolicyRules,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "valid": result is not None,
        "reason": None,
        "certificate_kind": None,
        "form_factor": None,
        "attributes": None,
        "revocation": revocation_json(None),
        "chain": [],
    }
    if result is not None:
        check = result.check
        payload.update(
            certificate_kind=check.certificate_kind.value,
            form_factor=check.form_factor.value,
            attributes=attributes_json(result.attributes),
            revocation=revocation_json(check.revocation),
            chain=list(check.chain_sha256),
        )
        return payload
    assert error is not None
    payload["reason"] = _CLI_REASON.get(error.reason, error.reason).value
    if leaf is not None:
        payload["chain"] = [sha256_hex(leaf)]
        claimed = claimed_profile(leaf, rules)
        if claimed is not None:
            payload["certificate_kind"] = claimed.kind.value
            payload["form_factor"] = claimed.form_factor.value
    chain = getattr(error, "chain", ())
    if chain:
        payload["chain"] = [sha256_hex(c) for c in chain if isinstance(c, x509.Certificate)]
    status = getattr(error, "status", None)
    if isinstance(status, RevocationStatus):
        payload["revocation"] = revocation_json(status)
    elif error.reason is Reason.REVOCATION_UNAVAILABLE:
        payload["revocation"] = {"status": "unknown", "reason": None, "source": None}
    return payload


def _cmd_verify_jpki(args: argparse.Namespace) -> int:
    if (args.signature is None) == (args.cms is None):
        raise UsageError("give exactly one of --signature or --cms")
    if args.signature is not None and args.data is None:
        raise UsageError("--signature needs --data (the exact signed bytes)")
    at = _parse_time(args.at)
    rules = _policy_rules(args.policy_rule)
    # Read every file first so that a missing file is a usage error, not a verdict.
    anchors_raw = [(p, _read(p, "trust anchor")) for p in args.trust_anchor]
    certificate_raw = _read(args.certificate, "certificate") if args.certificate else None
    signature = _read(args.signature, "signature") if args.signature else None
    cms = _read(args.cms, "CMS") if args.cms else None
    data = _read(args.data, "data") if args.data is not None else None
    crls_raw = [(p, _read(p, "CRL")) for p in args.crl]
    ocsp_raw = [(p, _read(p, "OCSP response")) for p in args.ocsp_response]

    leaf: x509.Certificate | None = None
    try:
        anchors = []
        for path, raw in anchors_raw:
            anchors.extend(load_certificates(raw, what=f"trust anchor {path}"))
        trust = TrustStore.from_certificates(anchors)
        intermediates: list[x509.Certificate] = []
        if certificate_raw is not None:
            leaf, *intermediates = load_certificates(certificate_raw)
        evidence = RevocationEvidence(
            crls=tuple(to_der(raw, labels=("X509 CRL",), what=f"CRL {p}")[0] for p, raw in crls_raw),
            ocsp_responses=tuple(_ocsp_der(raw, f"OCSP response {p}") for p, raw in ocsp_raw),
        )
        clock = FixedClock(at) if at is not None else SystemClock()
        policy = RevocationPolicy.UNSAFE_SKIP if args.no_revocation else RevocationPolicy.REQUIRE
        verifier = JPKIVerifier(
            trust,
            revocation=None if args.no_revocation else RevocationChecker(clock=clock),
            policy=policy,
            clock=clock,
            policy_rules=rules,
        )
        if signature is not None:
            if leaf is None:
                raise UsageError("--signature needs --certificate")
            result = verifier.verify_signature(
                data=data or b"",
                signature=signature,
                certificate=leaf,
                intermediates=intermediates,
                evidence=evidence,
            )
        else:
            assert cms is not None
            result = verifier.verify_cms(cms, content=data, certificate=leaf, evidence=evidence)
            leaf = result.certificate
    except MynaRPError as exc:
        payload = _verify_jpki_payload(result=None, error=exc, leaf=leaf, rules=rules)
        return _emit(payload, f"invalid: {payload['reason']}: {exc.message}", EXIT_INVALID)
    payload = _verify_jpki_payload(result=result, error=None, leaf=leaf, rules=rules)
    return _emit(payload, f"valid {payload['certificate_kind']} signature", EXIT_VALID)


# -- wiring -----------------------------------------------------------------------------------------

Command = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="myna-rp", description="My Number Card relying-party tools (JPKI, attribute proofs)."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    inspect = sub.add_parser("inspect", help="show kind, form factor, attributes, fingerprints, validity")
    inspect.add_argument("certificate", metavar="CERT")
    inspect.add_argument("--policy-rule", action="append", default=[], metavar="OID=KIND:FORM")
    inspect.set_defaults(func=_cmd_inspect)

    verify = sub.add_parser("verify-jpki", help="verify a JPKI signature, its path and revocation")
    verify.add_argument("--trust-anchor", action="append", required=True, metavar="PATH")
    verify.add_argument(
        "--certificate", metavar="PATH", help="signer certificate (then intermediates), DER or PEM"
    )
    verify.add_argument("--signature", metavar="PATH", help="raw signature")
    verify.add_argument("--cms", metavar="PATH", help="CMS SignedData, DER or PEM")
    verify.add_argument("--data", metavar="PATH", help="the exact signed bytes (detached content for --cms)")
    verify.add_argument("--at", metavar="RFC3339", help="verification time (default: now)")
    verify.add_argument("--crl", action="append", default=[], metavar="PATH")
    verify.add_argument("--ocsp-response", action="append", default=[], metavar="PATH")
    verify.add_argument("--no-revocation", action="store_true", help="skip revocation (UNSAFE_SKIP)")
    verify.add_argument("--policy-rule", action="append", default=[], metavar="OID=KIND:FORM")
    verify.set_defaults(func=_cmd_verify_jpki)

    for ep in entry_points(group="myna_rp.commands"):
        try:
            register = ep.load()
        except ImportError:  # the plug-in's extra (e.g. [mock]) is not installed
            continue
        register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``myna-rp`` console script. Returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        func: Command = args.func
        return func(args)
    except UsageError as exc:
        return _emit({"valid": False, "reason": None, "error": str(exc)}, f"usage error: {exc}", EXIT_USAGE)
    except MynaRPError as exc:
        reason = _CLI_REASON.get(exc.reason, exc.reason).value
        return _emit({"valid": False, "reason": reason}, f"invalid: {reason}: {exc.message}", EXIT_INVALID)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - last line of defence: never a traceback
        return _emit(
            {"valid": False, "reason": Reason.MALFORMED_INPUT.value},
            f"internal error ({type(exc).__name__}); please report it",
            EXIT_INVALID,
        )


if __name__ == "__main__":
    raise SystemExit(main())
