"""Attribute proofs: ISO/IEC 18013-5 mdoc verification (strict CBOR, COSE, MSO, device authentication,
SessionTranscript builders per channel, HPKE envelopes, the My Number Card document profile).

``myna_rp.mdoc`` is an independent encoding of the standard: it never imports ``mock_platform``.
"""

from .cbor import CBOROptions, EncodedCBOR
from .cose import CoseAlgorithm
from .hpke import open_apple_envelope, open_dcapi_response
from .iaca import IACAStore, mdoc_extension_policies
from .profile import (
    INDIVIDUAL_NUMBER_ELEMENT,
    JP_MNC_DOCTYPE,
    NS_23220,
    NS_JP,
    age_request,
    build_device_request,
)
from .transcript import (
    Channel,
    SessionTranscript,
    apple_transcript,
    dcapi_encryption_info,
    dcapi_transcript,
    jwk_thumbprint,
    openid4vp_dcapi_transcript,
    openid4vp_transcript,
    public_key_sha256,
)
from .verifier import DeviceAuthKind, MdocVerifier, Presentation, UnverifiedPresentationError, ValidityInfo

__all__ = [
    "INDIVIDUAL_NUMBER_ELEMENT",
    "JP_MNC_DOCTYPE",
    "NS_23220",
    "NS_JP",
    "CBOROptions",
    "Channel",
    "CoseAlgorithm",
    "DeviceAuthKind",
    "EncodedCBOR",
    "IACAStore",
    "MdocVerifier",
    "Presentation",
    "SessionTranscript",
    "UnverifiedPresentationError",
    "ValidityInfo",
    "age_request",
    "apple_transcript",
    "build_device_request",
    "dcapi_encryption_info",
    "dcapi_transcript",
    "jwk_thumbprint",
    "mdoc_extension_policies",
    "open_apple_envelope",
    "open_dcapi_response",
    "openid4vp_dcapi_transcript",
    "openid4vp_transcript",
    "public_key_sha256",
]
