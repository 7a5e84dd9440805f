"""JPKI (公的個人認証): certificate profile, basic four attributes, trust store, path validation, verifier."""

from .attributes import BasicFourAttributes, DateOfBirth, Era, Gender, parse_basic_four_attributes
from .path import PathValidator, jpki_extension_policies
from .profile import CertificateKind, CertificateProfile, FormFactor, PolicyRule, PolicyRules, classify
from .truststore import AnchorPurpose, JLISRootPin, TrustAnchor, TrustStore
from .verifier import CertificateCheck, JPKIAuthentication, JPKIVerification, JPKIVerifier

__all__ = [
    "AnchorPurpose",
    "BasicFourAttributes",
    "CertificateCheck",
    "CertificateKind",
    "CertificateProfile",
    "DateOfBirth",
    "Era",
    "FormFactor",
    "Gender",
    "JLISRootPin",
    "JPKIAuthentication",
    "JPKIVerification",
    "JPKIVerifier",
    "PathValidator",
    "PolicyRule",
    "PolicyRules",
    "TrustAnchor",
    "TrustStore",
    "classify",
    "jpki_extension_policies",
    "parse_basic_four_attributes",
]
