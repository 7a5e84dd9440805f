"""Token simulator: a JPKI card applet or smartphone secure element holding one private key.

Signing behaves like the card (domain-jpki.md, "How the signature is made"):

* RSA keys: PKCS#1 v1.5 over the DigestInfo of SHA-256(data) (RFC 8017 §8.2 / §9.2, EMSA-PKCS1-v1_5);
* EC P-256 keys: ECDSA with SHA-256, DER ``Ecdsa-Sig-Value`` (RFC 5480 / X9.62).

It also produces CMS SignedData (RFC 5652) over data, attached or detached, with the signer named by
issuerAndSerialNumber or subjectKeyIdentifier (:mod:`mock_platform.ca.cms`).

The private key is never exported, except through :meth:`TokenSimulator.export_private_key_for_tests`,
whose name says what it is for. PIN handling belongs to the device simulator of a later issue.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from .cms import SignerIdentifierType, build_signed_data
from .keys import KeyType, PrivateKey, PublicKey, generate_private_key, public_key_pem
from .profile import FormFactor

#: First bytes of the platform's holder-consent structures
#: (:func:`mock_platform.platform_api.service.consent_message`). :meth:`TokenSimulator.sign` — what a login
#: or an RP's signature request reaches — refuses data starting with them; only the platform's own app
#: signs a consent, through :meth:`TokenSimulator.sign_consent` (domain separation).
CONSENT_STRUCTURE_PREFIX = b"myna-platform-consent/"


class ConsentSigningRefusedError(ValueError):
    """:meth:`TokenSimulator.sign` was handed a platform consent structure (an RP's disguised request)."""


class TokenSimulator:
    """One key pair on one token, optionally with the certificate issued to it.

    Args:
        private_key: RSA or EC P-256 private key.
        form_factor: card, Android or iPhone (only names the token application here).
        certificate: the certificate for this key, if already issued.

    Raises:
        ValueError: ``certificate`` does not certify ``private_key``'s public key.
    """

    def __init__(
        self,
        private_key: PrivateKey,
        *,
        form_factor: FormFactor = FormFactor.CARD,
        certificate: x509.Certificate | None = None,
    ) -> None:
        self._key = private_key
        self._form_factor = form_factor
        if certificate is not None and certificate.public_key() != private_key.public_key():
            raise ValueError("the certificate does not match the token's key")
        self._certificate = certificate

    @classmethod
    def generate(
        cls, key_type: KeyType = KeyType.RSA_2048, *, form_factor: FormFactor = FormFactor.CARD
    ) -> TokenSimulator:
        """A token with a freshly generated key (on-card key generation)."""
        return cls(generate_private_key(key_type), form_factor=form_factor)

    def __repr__(self) -> str:
        return f"TokenSimulator({self.application_name}, {self.key_type.value})"

    @property
    def form_factor(self) -> FormFactor:
        return self._form_factor

    @property
    def application_name(self) -> str:
        """``JPKIAPICCTOKEN2`` (card), ``JPKIAPGPSETOKEN`` (Android) or ``JPKIAPIOSTOKEN`` (iPhone)."""
        return self._form_factor.application_name

    @property
    def key_type(self) -> KeyType:
        return KeyType.EC_P256 if isinstance(self._key, ec.EllipticCurvePrivateKey) else KeyType.RSA_2048

    def public_key(self) -> PublicKey:
        return self._key.public_key()

    def public_key_pem(self) -> str:
        """SubjectPublicKeyInfo PEM (what an issuance request submits)."""
        return public_key_pem(self.public_key())

    @property
    def certificate(self) -> x509.Certificate:
        """The certificate for this key. Raises :class:`LookupError` if none was attached."""
        if self._certificate is None:
            raise LookupError("no certificate attached to this token")
        return self._certificate

    def with_certificate(self, certificate: x509.Certificate) -> TokenSimulator:
        """A new simulator for the same key with ``certificate`` attached (checks they match)."""
        return TokenSimulator(self._key, form_factor=self._form_factor, certificate=certificate)

    def sign(self, data: bytes) -> bytes:
        """Sign SHA-256(``data``): RSA PKCS#1 v1.5 (signature length = modulus length) or ECDSA (DER).

        Raises:
            ConsentSigningRefusedError: ``data`` is a platform consent structure
                (:data:`CONSENT_STRUCTURE_PREFIX`): a login or signature request never yields a consent.
        """
        if bytes(data[: len(CONSENT_STRUCTURE_PREFIX)]) == CONSENT_STRUCTURE_PREFIX:
            raise ConsentSigningRefusedError("refusing to sign a platform consent structure here")
        return self._sign(data)

    def sign_consent(self, message: bytes) -> bytes:
        """Sign a platform consent structure (only the platform's own app does, after the holder chose
        to consent there: :mod:`mock_platform.device.platform_holder`).

        Raises:
            ValueError: ``message`` is not a consent structure.
        """
        if not message.startswith(CONSENT_STRUCTURE_PREFIX):
            raise ValueError("not a platform consent structure")
        return self._sign(message)

    def _sign(self, data: bytes) -> bytes:
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))

    def sign_digest(self, digest: bytes) -> bytes:
        """Sign a precomputed SHA-256 digest (32 bytes), as when the host hashes a document itself.

        Raises:
            ValueError: ``digest`` is not 32 bytes.
        """
        if len(digest) != hashes.SHA256.digest_size:
            raise ValueError("a SHA-256 digest is 32 bytes")
        algorithm = Prehashed(hashes.SHA256())
        if isinstance(self._key, rsa.RSAPrivateKey):
            return self._key.sign(digest, padding.PKCS1v15(), algorithm)
        return self._key.sign(digest, ec.ECDSA(algorithm))

    def sign_cms(
        self,
        content: bytes,
        *,
        signing_time: datetime,
        detached: bool = False,
        signer_identifier: SignerIdentifierType = SignerIdentifierType.ISSUER_AND_SERIAL_NUMBER,
        include_certificate: bool = True,
    ) -> bytes:
        """DER CMS ContentInfo/SignedData over ``content`` (:func:`mock_platform.ca.cms.build_signed_data`).

        Raises:
            LookupError: no certificate attached.
            ValueError: naive ``signing_time``; SKI requested but the certificate has none.
        """
        return build_signed_data(
            content,
            certificate=self.certificate,
            sign=self.sign,
            signing_time=signing_time,
            detached=detached,
            signer_identifier=signer_identifier,
            include_certificate=include_certificate,
        )

    def export_private_key_for_tests(self) -> PrivateKey:
        """The private key itself. **Test-only**: a real token never releases it."""
        return self._key
