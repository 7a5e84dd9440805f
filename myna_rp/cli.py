"""The ``myna-rp`` command.

Conventions (every sub-command): one JSON object on stdout; a one-line human message on stderr;
exit 0 = valid, 1 = invalid (including malformed input), 2 = usage error; never a traceback.

Sub-commands: ``inspect``, ``verify-jpki``, ``verify-mdoc``, ``verify-age``; others (``demo``) are
plugged in through the ``myna_rp.commands`` entry-point group so that the SDK never imports the mock
platform.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import os
import re
import stat
import sys
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType
from typing import Any, NoReturn

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp

from .clock import FixedClock, SystemClock
from .encoding import load_certificates, to_der
from .errors import MalformedInputError, MynaRPError, Reason, VerificationError
from .jpki.attributes import BasicFourAttributes, parse_basic_four_attributes
from .jpki.profile import CertificateKind, FormFactor, PolicyRule, PolicyRules, claimed_profile, classify
from .jpki.truststore import TrustStore
from .jpki.verifier import JPKIVerification, JPKIVerifier, sha256_hex
from .mdoc.cbor import MAX_CBOR_BYTES
from .mdoc.profile import JP_MNC_DOCTYPE
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


def _read(path: str, what: str, limit: int = MAX_INPUT_BYTES) -> bytes:
    """Read a regular file, at most ``limit`` bytes (a device or FIFO is a usage error, not a hang)."""
    try:
        # stat before open: opening a FIFO for reading would block until a writer appears.
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise UsageError(f"{what} {path} is not a regular file")
        with open(path, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise UsageError(f"{what} {path} is not a regular file")
            data = handle.read(limit + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}") from exc
    if len(data) > limit:
        raise MalformedInputError(f"{what} {path} is larger than {limit} bytes")
    return data


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


def _parse_time(value: str | None) -> datetime | None:
    """RFC 3339 §5.6 date-time with a mandatory offset (``Z`` or ``±hh:mm``)."""
    if value is None:
        return None
    if not _RFC3339.fullmatch(value):
        raise UsageError(f"--at {value!r} is not an RFC 3339 date-time with an offset (2026-01-01T00:00:00Z)")
    try:
        return datetime.fromisoformat(value.upper())
    except ValueError as exc:
        raise UsageError(f"--at {value!r} is not a valid date-time") from exc


def _ocsp_ders(data: bytes, what: str) -> list[bytes]:
    """OCSP responses as DER, PEM (every block), or bare base64 text (the OpenSSL test-suite form),
    each parsed now so that a garbage file is MALFORMED_INPUT rather than silently ignored."""
    if data[:1] == b"\x30" or b"-----BEGIN" in data[:4096]:
        ders = to_der(data, labels=("OCSP RESPONSE",), what=what)
    else:
        try:
            ders = [base64.b64decode(b"".join(data.split()), validate=True)]
        except (binascii.Error, ValueError) as exc:
            raise MalformedInputError(f"{what} is neither DER, PEM nor base64") from exc
    for der in ders:
        try:
            ocsp.load_der_ocsp_response(der)
        except ValueError as exc:
            raise MalformedInputError(f"{what} is not a DER OCSPResponse") from exc
    return ders


def _crl_ders(data: bytes, what: str) -> list[bytes]:
    """CRLs as DER or PEM (every block), each parsed now (garbage is MALFORMED_INPUT, never dropped)."""
    ders = to_der(data, labels=("X509 CRL",), what=what)
    for der in ders:
        try:
            crl = x509.load_der_x509_crl(der)
            crl.issuer  # noqa: B018 - decoded lazily by cryptography: force it
        except ValueError as exc:
            raise MalformedInputError(f"{what} is not a DER CRL") from exc
    return ders


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


def _minimum_age(value: str) -> int:
    """``--min-age``: a whole number of years, 1 to 99 (age_over_NN has two digits, ISO 18013-5 §7.2.5)."""
    try:
        years = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= years <= 99:
        raise argparse.ArgumentTypeError(f"{years} is outside 1-99")
    return years


def _policy_rules(values: Sequence[str]) -> PolicyRules:
    rules = PolicyRules()
    for value in values:
        oid, sep, rest = value.partition("=")
        kind, sep2, form = rest.partition(":")
        try:
            rule = PolicyRule(CertificateKind(kind), FormFactor(form))
            x509.ObjectIdentifier(oid)  # a dotted OID, or ValueError
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
    # Strict JSON (RFC 8259): no NaN/Infinity literals; values that JSON cannot hold are mapped first.
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2, allow_nan=False) + "\n")
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
    # A trust anchor file that holds no certificate is bad configuration (exit 2), not a verdict.
    anchors = []
    for path, raw in anchors_raw:
        try:
            anchors.extend(load_certificates(raw, what=f"trust anchor {path}"))
        except MalformedInputError as exc:
            raise UsageError(f"bad trust configuration: {exc.message}") from exc
    try:
        trust = TrustStore.from_certificates(anchors)
        intermediates: list[x509.Certificate] = []
        if certificate_raw is not None:
            leaf, *intermediates = load_certificates(certificate_raw)
        evidence = RevocationEvidence(
            crls=tuple(der for p, raw in crls_raw for der in _crl_ders(raw, f"CRL {p}")),
            ocsp_responses=tuple(der for p, raw in ocsp_raw for der in _ocsp_ders(raw, f"OCSP response {p}")),
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


# -- verify-mdoc / verify-age ----------------------------------------------------------------------

# The documented vocabulary of verify-mdoc (issue 4, point 5); verify-age adds AGE_NOT_DISCLOSED,
# AGE_EVIDENCE_INCONSISTENT and ATTRIBUTE_PROOF_UNSUPPORTED; INDIVIDUAL_NUMBER_REFUSED is a policy refusal
# printed as such.
_MDOC_REASONS = frozenset(
    {
        Reason.MALFORMED_INPUT,
        Reason.UNTRUSTED_ISSUER,
        Reason.ISSUER_SIGNATURE_INVALID,
        Reason.DOCTYPE_MISMATCH,
        Reason.DIGEST_MISMATCH,
        Reason.DIGEST_MISSING,
        Reason.MSO_NOT_VALID,
        Reason.DEVICE_AUTH_INVALID,
        Reason.UNSUPPORTED_ALGORITHM,
        Reason.INDIVIDUAL_NUMBER_REFUSED,
        Reason.AGE_NOT_DISCLOSED,
        Reason.AGE_EVIDENCE_INCONSISTENT,
        Reason.ATTRIBUTE_PROOF_UNSUPPORTED,
    }
)
_MDOC_REASON_FOLD: Mapping[Reason, Reason] = MappingProxyType(
    {
        Reason.SIGNATURE_INVALID: Reason.ISSUER_SIGNATURE_INVALID,
        Reason.CERTIFICATE_EXPIRED: Reason.UNTRUSTED_ISSUER,
        Reason.CERTIFICATE_NOT_YET_VALID: Reason.UNTRUSTED_ISSUER,
        Reason.ENVELOPE_INVALID: Reason.DEVICE_AUTH_INVALID,
    }
)


def cbor_json(value: Any) -> Any:
    """An mdoc element value as strict JSON (RFC 8259; printed with ``allow_nan=False``).

    Mapping: null, bool, int (any size), text and finite floats as themselves; full-date / tdate as ISO
    strings; bytes as base64; a tag-24 item as ``{"tag": 24, "value": base64 of its content}``; any other
    tag as ``{"tag": n, "value": ...}``; NaN and ±infinity as ``{"cbor_float": "NaN" | "Infinity" |
    "-Infinity"}``; CBOR undefined as ``{"cbor_undefined": true}``; a simple value as ``{"cbor_simple":
    n}``; arrays as arrays; a map whose keys are all text strings as an object; any other map (an integer,
    byte-string, bool, null, array, map or tagged key) as ``{"cbor_map": [[key, value], ...]}`` with key
    and value mapped by the same rules, in the received order — so keys that would print alike as JSON
    object keys (``1`` and ``"1"``) are never merged and no entry is lost.
    """
    import math
    from datetime import date

    import cbor2

    from .mdoc import EncodedCBOR

    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return {"cbor_float": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, EncodedCBOR):
        return {"tag": 24, "value": base64.b64encode(value.content).decode("ascii")}
    if isinstance(value, cbor2.CBORTag):
        return {"tag": value.tag, "value": cbor_json(value.value)}
    if value is cbor2.undefined:
        return {"cbor_undefined": True}
    if isinstance(value, cbor2.CBORSimpleValue):
        return {"cbor_simple": int(value.value)}
    if isinstance(value, list | tuple):
        return [cbor_json(v) for v in value]
    if isinstance(value, Mapping):
        if all(type(k) is str for k in value):
            return {k: cbor_json(v) for k, v in value.items()}
        return {"cbor_map": [[cbor_json(k), cbor_json(v)] for k, v in value.items()]}
    return {"cbor_unsupported": type(value).__name__}


def _mdoc_inputs(args: argparse.Namespace) -> tuple[Any, ...]:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    at = _parse_time(args.at)
    anchors_raw = [(p, _read(p, "IACA certificate")) for p in args.iaca]
    response = _read(args.device_response, "device response", args.max_bytes)
    transcript = _read(args.session_transcript, "session transcript", args.max_bytes)
    reader_key = None
    if args.reader_private_key:
        try:
            reader_key = load_pem_private_key(
                _read(args.reader_private_key, "reader private key"), password=None
            )
        except (ValueError, TypeError) as exc:
            raise UsageError("--reader-private-key is not an unencrypted PEM private key") from exc
        if not isinstance(reader_key, ec.EllipticCurvePrivateKey):
            raise UsageError("--reader-private-key must be an EC private key")
    return at, anchors_raw, response, transcript, reader_key


def _mdoc_payload(extra: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "valid": False,
        "reason": None,
        "doc_type": None,
        "elements": None,
        "device_auth": None,
        "valid_until": None,
    }
    payload.update(extra)
    return payload


def _iaca_store(anchors_raw: Sequence[tuple[str, bytes]], *, require_ds_eku: bool) -> Any:
    """The trust configuration. A file that holds no certificate is a usage error (exit 2), not a verdict
    on the response."""
    from .errors import ConfigurationError
    from .mdoc import IACAStore

    anchors = []
    for path, raw in anchors_raw:
        try:
            anchors.extend(load_certificates(raw, what=f"--iaca {path}"))
        except MalformedInputError as exc:
            raise UsageError(f"bad trust configuration: {exc.message}") from exc
    try:
        return IACAStore(anchors, require_ds_eku=require_ds_eku)
    except ConfigurationError as exc:
        raise UsageError(f"bad trust configuration: {exc.message}") from exc


def _cmd_verify_mdoc(args: argparse.Namespace) -> int:
    from .errors import AgeNotDeterminedError, ConfigurationError
    from .mdoc import CBOROptions, MdocVerifier, Presentation

    at, anchors_raw, response, transcript, reader_key = _mdoc_inputs(args)
    age = getattr(args, "min_age", None)
    age_keys: dict[str, Any] = (
        {}
        if age is None
        else {"over": None, "minimum_age": age, "evidence": None, "evidence_namespace": None}
    )
    namespace = None
    if age is not None:
        from .age import AGE_NAMESPACES

        namespace = args.namespace or AGE_NAMESPACES.get(args.doc_type)
        if namespace is None:
            raise UsageError(f"--doc-type {args.doc_type}: give --namespace (where its age elements are)")
    store = _iaca_store(anchors_raw, require_ds_eku=not args.allow_ds_without_eku)
    try:
        verifier = MdocVerifier(
            store,
            clock=FixedClock(at) if at is not None else SystemClock(),
            cbor_options=CBOROptions(lenient_tdate=args.lenient_tdate, max_bytes=args.max_bytes),
            allow_individual_number=args.allow_individual_number,
        )
    except ConfigurationError as exc:
        raise UsageError(exc.message) from exc
    payload: dict[str, Any] | None = None
    try:
        presentation: Presentation
        if age is None:
            presentation = verifier.verify(
                response, session_transcript=transcript, reader_private_key=reader_key, doc_type=args.doc_type
            )
        else:
            # Every document is verified; the age answer comes only from the configured docType.
            documents = verifier.verify_all(
                response, session_transcript=transcript, reader_private_key=reader_key
            )
            chosen = [d for d in documents if d.doc_type == args.doc_type]
            if len(chosen) > 1:
                raise MalformedInputError("the response holds several documents of the configured docType")
            if not chosen:
                raise AgeNotDeterminedError(
                    "the response holds no document of the configured docType (--doc-type); no answer"
                )
            presentation = chosen[0]
        payload = _mdoc_payload(
            {
                "valid": True,
                "doc_type": presentation.doc_type,
                "elements": cbor_json(presentation.elements),
                "device_auth": presentation.device_auth.value,
                "valid_until": presentation.validity.valid_until.isoformat(),
                **age_keys,
            }
        )
        if age is None:
            return _emit(
                payload, f"valid {presentation.doc_type} ({presentation.device_auth.value})", EXIT_VALID
            )
        from .age import verify_age

        answer = verify_age(presentation, age, doc_type=args.doc_type, namespace=namespace)
        payload.update(
            over=answer.over, evidence=answer.evidence.element, evidence_namespace=answer.evidence.namespace
        )
        source = f"{answer.evidence.namespace}/{answer.evidence.element}"
        return _emit(payload, f"age check: over {age}: {answer.over} (from {source})", EXIT_VALID)
    except MynaRPError as exc:
        reason = _MDOC_REASON_FOLD.get(exc.reason, exc.reason)
        if reason not in _MDOC_REASONS:
            reason = Reason.MALFORMED_INPUT
        keep = {"valid": False, "reason": reason.value, **age_keys}
        if age is not None and payload is not None and exc.reason is not Reason.INDIVIDUAL_NUMBER_REFUSED:
            keep.update({k: payload[k] for k in ("doc_type", "elements", "device_auth", "valid_until")})
        return _emit(_mdoc_payload(keep), f"invalid: {reason.value}: {exc.message}", EXIT_INVALID)


def _max_bytes(value: str) -> int:
    """``--max-bytes``: 1 byte to MAX_INPUT_BYTES."""
    try:
        size = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= size <= MAX_INPUT_BYTES:
        raise argparse.ArgumentTypeError(f"{size} is outside 1-{MAX_INPUT_BYTES}")
    return size


def _add_mdoc_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--iaca", action="append", required=True, metavar="PATH", help="IACA root or a DS trusted directly"
    )
    parser.add_argument("--device-response", required=True, metavar="PATH", help="DeviceResponse CBOR")
    parser.add_argument(
        "--session-transcript", required=True, metavar="PATH", help="SessionTranscript CBOR (tag 24 or not)"
    )
    parser.add_argument("--reader-private-key", metavar="PATH", help="PEM EC key (deviceMac only)")
    parser.add_argument("--at", metavar="RFC3339", help="verification time (default: now)")
    parser.add_argument(
        "--lenient-tdate", action="store_true", help="accept tdate with fractional seconds or offsets"
    )
    parser.add_argument(
        "--allow-individual-number", action="store_true", help="accept individual_number_unicode (個人番号)"
    )
    parser.add_argument(
        "--allow-ds-without-eku",
        action="store_true",
        help="accept a document signer chained to an IACA that has no extendedKeyUsage extension "
        "(ISO 18013-5 Annex B makes the mdlDS EKU 1.0.18013.5.1.2 mandatory; an EKU list without it is "
        "always refused; a DS given directly as --iaca may omit the extension)",
    )
    parser.add_argument(
        "--max-bytes",
        type=_max_bytes,
        default=MAX_CBOR_BYTES,
        metavar="N",
        help=f"largest accepted DeviceResponse / transcript (default {MAX_CBOR_BYTES} bytes, "
        f"{MAX_CBOR_BYTES / 1048576:g} MiB)",
    )


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

    mdoc = sub.add_parser("verify-mdoc", help="verify an ISO 18013-5 DeviceResponse (attribute proof)")
    _add_mdoc_arguments(mdoc)
    mdoc.add_argument(
        "--doc-type", metavar="DOCTYPE", help="the document to report when the response holds several"
    )
    mdoc.set_defaults(func=_cmd_verify_mdoc, min_age=None)

    age = sub.add_parser("verify-age", help="verify a DeviceResponse and answer an age check")
    _add_mdoc_arguments(age)
    age.add_argument("--min-age", type=_minimum_age, default=20, metavar="N", help="minimum age (default 20)")
    age.add_argument(
        "--doc-type",
        default=JP_MNC_DOCTYPE,
        metavar="DOCTYPE",
        help=f"the only docType the answer may come from (default {JP_MNC_DOCTYPE})",
    )
    age.add_argument(
        "--namespace",
        metavar="NS",
        help="the only namespace whose age elements count (default: org.iso.23220.1 for the My Number "
        "Card, org.iso.18013.5.1 for an mDL; required for other docTypes)",
    )
    age.set_defaults(func=_cmd_verify_mdoc)

    # Plug-ins (e.g. ``demo`` from myna_demo) are loaded only when invoked: the SDK's own commands never
    # import the mock platform, its web framework or its database layer.
    for ep in entry_points(group="myna_rp.commands"):
        plugin = sub.add_parser(ep.name, help=f"plug-in command ({ep.value})")
        plugin.set_defaults(func=_plugin(ep))
    return parser


def _plugin(ep: EntryPoint) -> Command:
    def run(args: argparse.Namespace) -> int:
        try:
            command: Command = ep.load()
        except ImportError as exc:
            raise UsageError(
                f"'{ep.name}' needs an optional extra that is not installed ({exc.name})"
            ) from exc
        return command(args)

    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``myna-rp`` console script. Returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
        func: Command = args.func
        return func(args)
    except UsageError as exc:
        return _emit(
            {"valid": False, "reason": "USAGE_ERROR", "error": str(exc)}, f"usage error: {exc}", EXIT_USAGE
        )
    except MynaRPError as exc:
        reason = _CLI_REASON.get(exc.reason, exc.reason).value
        return _emit({"valid": False, "reason": reason}, f"invalid: {reason}: {exc.message}", EXIT_INVALID)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - last line of defence: never a traceback
        return _emit(
            {
                "valid": False,
                "reason": Reason.MALFORMED_INPUT.value,
                "error": f"internal error: {type(exc).__name__}",
            },
            f"internal error ({type(exc).__name__}); please report it",
            EXIT_INVALID,
        )


if __name__ == "__main__":
    raise SystemExit(main())
