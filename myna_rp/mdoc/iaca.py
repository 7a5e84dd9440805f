"""IACA trust anchors and document-signer path validation (ISO/IEC 18013-5 §9.3.3, Annex B).

An :class:`IACAStore` holds the relying party's configured anchors. Each is either an IACA root (the
usual case: the document-signer (DS) certificate in the ``x5chain`` must chain to it) or a DS certificate
trusted directly (test issuers, and the published vectors that ship a DS without its IACA). Paths are
validated with ``cryptography.x509.verification`` (through :class:`myna_rp.jpki.path.PathValidator`,
which memoises valid paths exactly) under an mdoc extension profile; the key carried in a message is
never trusted by itself.

The certificate that signs the MSO is an end entity, never a CA (Annex B, Table B.3: the document signer
certificate's keyUsage is digitalSignature, its extendedKeyUsage id-mdl-kp-mdlDS ``1.0.18013.5.1.2``):

- reached through an IACA: basicConstraints, if present, not cA; keyUsage present and exactly
  digitalSignature (no keyCertSign, cRLSign or any other bit: a key allowed to sign certificates is a CA
  key, whatever basicConstraints says); extendedKeyUsage with mdlDS unless the store is built with
  ``require_ds_eku=False`` (every public sample and issuer here that chains a DS to an IACA carries it) —
  that option only tolerates an *absent* EKU: an EKU list without mdlDS (e.g. serverAuth only) restricts
  the key to other purposes and is always refused;
- configured as an anchor itself (a DS trusted directly): not a CA (an IACA configured as a root does
  not become a document signer by appearing alone in ``x5chain``); keyUsage, if present, exactly
  digitalSignature; extendedKeyUsage, if present, with mdlDS. Neither extension is demanded, because the
  relying party vouched for that exact certificate and one public sample (``ubique``) has neither.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.x509.verification import Criticality, ExtensionPolicy, Policy

from ..encoding import load_certificates
from ..errors import ConfigurationError, Reason, VerificationError
from ..jpki.path import PathValidator
from ..jpki.truststore import TrustStore

# ISO/IEC 18013-5 Annex B: id-mdl-kp-mdlDS (extended key usage of a document signer).
OID_MDL_DS_EKU = x509.ObjectIdentifier("1.0.18013.5.1.2")
MAX_X5CHAIN = 4


def _require_ca(_policy: Policy, _cert: x509.Certificate, value: x509.BasicConstraints) -> None:
    if not value.ca:
        raise ValueError("issuer is not a CA (basicConstraints cA is false)")


def _require_cert_sign(_policy: Policy, _cert: x509.Certificate, value: x509.KeyUsage | None) -> None:
    if value is not None and not value.key_cert_sign:
        raise ValueError("issuer keyUsage lacks keyCertSign")


def _key_usage_problem(usage: x509.KeyUsage) -> str | None:
    """Why a document signer's keyUsage is not exactly digitalSignature (Annex B, Table B.3), or None."""
    if not usage.digital_signature:
        return "the document signer's keyUsage lacks digitalSignature"
    # encipher_only / decipher_only are defined only with keyAgreement, refused here anyway.
    if (
        usage.content_commitment
        or usage.key_encipherment
        or usage.data_encipherment
        or usage.key_agreement
        or usage.key_cert_sign
        or usage.crl_sign
    ):
        return "the document signer's keyUsage allows more than digitalSignature (e.g. keyCertSign)"
    return None


def _eku_problem(usage: x509.ExtendedKeyUsage) -> str | None:
    if OID_MDL_DS_EKU not in usage:
        return "the document signer's extendedKeyUsage lacks mdlDS (1.0.18013.5.1.2)"
    return None


def _ds_key_usage(_policy: Policy, _cert: x509.Certificate, value: x509.KeyUsage | None) -> None:
    if value is None:
        raise ValueError("document signer keyUsage lacks digitalSignature")
    problem = _key_usage_problem(value)
    if problem is not None:
        raise ValueError(problem)


def _not_a_ca(_policy: Policy, _cert: x509.Certificate, value: x509.BasicConstraints | None) -> None:
    if value is not None and value.ca:
        raise ValueError("document signer certificate is a CA")


def _ds_eku(_policy: Policy, _cert: x509.Certificate, value: x509.ExtendedKeyUsage | None) -> None:
    if value is None or OID_MDL_DS_EKU not in value:
        raise ValueError("document signer lacks the mdlDS extended key usage (1.0.18013.5.1.2)")


def _ds_eku_if_present(_policy: Policy, _cert: x509.Certificate, value: x509.ExtendedKeyUsage | None) -> None:
    if value is not None and OID_MDL_DS_EKU not in value:
        raise ValueError("document signer's extendedKeyUsage lacks mdlDS (1.0.18013.5.1.2)")


def mdoc_extension_policies(*, require_ds_eku: bool = True) -> tuple[ExtensionPolicy, ExtensionPolicy]:
    """(CA, document signer) extension policies for a DS reached through an IACA: CA with cA true and, if
    present, keyCertSign; DS not a CA, keyUsage present and exactly digitalSignature, and the mdlDS EKU of
    18013-5 Annex B — required when ``require_ds_eku`` (default), else required only if an EKU is present."""
    ca = (
        ExtensionPolicy.permit_all()
        .require_present(x509.BasicConstraints, Criticality.AGNOSTIC, _require_ca)
        .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _require_cert_sign)
    )
    ee = (
        ExtensionPolicy.permit_all()
        .may_be_present(x509.BasicConstraints, Criticality.AGNOSTIC, _not_a_ca)
        .require_present(x509.KeyUsage, Criticality.AGNOSTIC, _ds_key_usage)
    )
    if require_ds_eku:
        ee = ee.require_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _ds_eku)
    else:
        ee = ee.may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _ds_eku_if_present)
    return ca, ee


def _direct_signer_problem(certificate: x509.Certificate) -> str | None:
    """Why a configured anchor cannot sign an MSO itself (None when it can): a CA never can; keyUsage, if
    present, exactly digitalSignature; extendedKeyUsage, if present, with mdlDS."""
    try:
        extensions = certificate.extensions
    except Exception:  # noqa: BLE001 - undecodable extensions: not usable as a signer
        return "the certificate's extensions cannot be parsed"
    try:
        constraints: x509.BasicConstraints | None = extensions.get_extension_for_class(
            x509.BasicConstraints
        ).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is not None and constraints.ca:
        return "a CA certificate (basicConstraints cA) cannot sign an MSO; only a document signer can"
    try:
        usage = extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None:
        problem = _key_usage_problem(usage)
        if problem is not None:
            return problem
    try:
        purposes = extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return None
    return _eku_problem(purposes)


class IACAStore:
    """Immutable set of mdoc trust anchors: IACA roots, or DS certificates trusted directly.

    Build with :meth:`from_certificates` or :meth:`from_pem_files` (PEM or DER files).

    Args:
        certificates: the anchors.
        require_ds_eku: demand the mdlDS extended key usage of a DS reached through an IACA (default
            True; a DS configured as an anchor itself is exempt, see the module docstring).

    Raises:
        ConfigurationError: no anchors.
        MalformedInputError: a file that is not a certificate.
    """

    def __init__(self, certificates: Iterable[x509.Certificate], *, require_ds_eku: bool = True) -> None:
        anchors = tuple(dict.fromkeys(certificates))  # certificates compare by DER
        if not anchors:
            raise ConfigurationError("an IACA store needs at least one trust anchor")
        self._anchors = anchors
        self._require_ds_eku = require_ds_eku
        # Decided once per anchor: may it sign an MSO itself (a DS trusted directly)? A CA never may.
        self._direct: dict[x509.Certificate, str | None] = {a: _direct_signer_problem(a) for a in anchors}
        self._validator = PathValidator(
            TrustStore.from_certificates(anchors),
            policies=mdoc_extension_policies(require_ds_eku=require_ds_eku),
            max_chain_depth=MAX_X5CHAIN,
        )

    @classmethod
    def from_certificates(cls, certificates: Iterable[x509.Certificate], **kwargs: bool) -> IACAStore:
        return cls(certificates, **kwargs)

    @classmethod
    def from_pem_files(cls, paths: Iterable[str | Path], **kwargs: bool) -> IACAStore:
        """Load every certificate in the given files (PEM, several per file allowed, or DER)."""
        certificates: list[x509.Certificate] = []
        for path in paths:
            try:
                data = Path(path).read_bytes()
            except OSError as exc:
                raise ConfigurationError(f"cannot read IACA file {path}: {exc.strerror}") from exc
            certificates.extend(load_certificates(data, what=f"IACA {Path(path).name}"))
        return cls(certificates, **kwargs)

    @property
    def anchors(self) -> tuple[x509.Certificate, ...]:
        return self._anchors

    @property
    def require_ds_eku(self) -> bool:
        return self._require_ds_eku

    def validate(self, x5chain: Sequence[x509.Certificate], *, at: datetime) -> tuple[x509.Certificate, ...]:
        """Validate the issuerAuth ``x5chain`` (leaf = DS first) at ``at``; return the path, leaf first,
        anchor last (just the DS when it is itself an anchor).

        Raises:
            VerificationError: reason UNTRUSTED_ISSUER (no valid path; a leaf that is a CA, whose keyUsage
                is not exactly digitalSignature, whose EKU list lacks mdlDS, or — chained, by default —
                that has no EKU; a directly trusted DS outside its validity period); UNSUPPORTED_ALGORITHM
                when a certificate uses an algorithm or curve ``cryptography`` does not support.
        """
        if not x5chain:
            raise VerificationError("empty x5chain", reason=Reason.UNTRUSTED_ISSUER)
        leaf, *intermediates = x5chain
        if leaf in self._direct:
            problem = self._direct[leaf]
            if problem is not None:
                raise VerificationError(problem, reason=Reason.UNTRUSTED_ISSUER)
            if not leaf.not_valid_before_utc <= at <= leaf.not_valid_after_utc:
                raise VerificationError(
                    "the directly trusted document signer certificate is not valid at the verification time",
                    reason=Reason.UNTRUSTED_ISSUER,
                )
            return (leaf,)
        try:
            return self._validator.validate(leaf, at=at, intermediates=intermediates)
        except VerificationError:
            raise
        except UnsupportedAlgorithm as exc:
            raise VerificationError(
                "a certificate of the x5chain uses an unsupported algorithm",
                reason=Reason.UNSUPPORTED_ALGORITHM,
            ) from exc
        except Exception as exc:
            raise VerificationError(
                f"the x5chain cannot be validated ({type(exc).__name__})", reason=Reason.UNTRUSTED_ISSUER
            ) from exc
