"""J-LIS-like certification authorities: roots, end-entity profile, CRLs, OCSP, CMS and a token simulator.

Import from the submodules (``mock_platform.ca.builder``, ``.service``, ``.token`` …); this package
re-exports the names most callers need.
"""

from .attributes import AttributeEncoding, BasicFourAttributes, DateOfBirth, Era, Gender
from .authority import (
    CAGeneration,
    GenerationPlan,
    GenerationSpec,
    create_generation,
    select_issuing_generation,
)
from .builder import PROFILE, build_end_entity_certificate, compute_validity
from .cms import SignerIdentifierType
from .crl import CRLSchedule, RevokedEntry, build_crl
from .keys import KeyType, generate_private_key
from .ocsp import CertID, OCSPSigner, ResponderIdType, SingleStatus, build_ocsp_response
from .profile import (
    DEFAULT_POLICY_TABLE,
    CertificateKind,
    FormFactor,
    Locality,
    PolicyTable,
    RevocationReason,
)
from .service import CAConfig, CAService
from .token import TokenSimulator

__all__ = [
    "DEFAULT_POLICY_TABLE",
    "PROFILE",
    "AttributeEncoding",
    "BasicFourAttributes",
    "CAConfig",
    "CAGeneration",
    "CAService",
    "CRLSchedule",
    "CertID",
    "CertificateKind",
    "DateOfBirth",
    "Era",
    "FormFactor",
    "Gender",
    "GenerationPlan",
    "GenerationSpec",
    "KeyType",
    "Locality",
    "OCSPSigner",
    "PolicyTable",
    "ResponderIdType",
    "RevocationReason",
    "RevokedEntry",
    "SignerIdentifierType",
    "SingleStatus",
    "TokenSimulator",
    "build_crl",
    "build_end_entity_certificate",
    "build_ocsp_response",
    "compute_validity",
    "create_generation",
    "generate_private_key",
    "select_issuing_generation",
]
