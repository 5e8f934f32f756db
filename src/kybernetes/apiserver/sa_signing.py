"""Signing and verifying service-account JWTs: the cryptography under TokenRequest.

    sa.key (EC P-256, PEM) ──► SigningKey(kid) ──► TokenSigner.sign(claims)  -> "header.payload.sig"
                                              └──► TokenVerifier.verify(token) -> claims | InvalidToken

The key is the one ``pki.ensure_service_account_key`` writes (kube-apiserver's
--service-account-signing-key-file); an EC key signs ES256, an RSA key RS256, both as Kubernetes
does. Each token carries a ``kid`` header: the unpadded base64url SHA-256 of the public key's DER,
the same key id Kubernetes publishes in its JWKS, so a verifier holding several keys (rotation)
tries only the right one.

Verification here is the issuer-independent part: signature, algorithm, expiry/not-before/
issued-at with Kubernetes' one-minute leeway. Audiences and the live objects a token is bound to
are checked by the authenticator (sa_authenticator.py), which knows the request.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

# Tokens a few seconds past exp (or before nbf) still pass: clocks of peers drift (go-jose's
# DefaultLeeway, which Kubernetes uses).
LEEWAY_SECONDS = 60

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class SigningKeyError(ValueError):
    """The service-account key file is missing, unreadable or not an EC/RSA private key."""


class InvalidToken(Exception):
    """The token is not valid; the message says why (TokenReview shows it as status.error)."""


def key_id(public_key: PublicKey) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def _algorithm(key: PrivateKey | PublicKey) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        curve = key.curve.name
        alg = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}.get(curve)
        if alg is None:
            raise SigningKeyError(f"EC curve {curve} cannot sign service-account tokens")
        return alg
    return "RS256"


@dataclass(frozen=True)
class SigningKey:
    private_key: PrivateKey

    @property
    def public_key(self) -> PublicKey:
        return self.private_key.public_key()

    @property
    def kid(self) -> str:
        return key_id(self.public_key)

    @property
    def algorithm(self) -> str:
        return _algorithm(self.private_key)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_pem(cls, data: bytes, source: str = "key") -> SigningKey:
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as e:
            raise SigningKeyError(f"{source}: not a PEM private key without a password: {e}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise SigningKeyError(f"{source}: service-account keys must be EC or RSA, not {type(key).__name__}")
        _algorithm(key)
        return cls(key)

    @classmethod
    def from_file(cls, path: Path) -> SigningKey:
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise SigningKeyError(f"cannot read service-account key {path}: {e.strerror}") from None
        return cls.from_pem(data, str(path))

    def private_pem(self) -> bytes:
        return self.private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())

    def public_pem(self) -> bytes:
        return self.public_key.public_bytes(serialization.Encoding.PEM,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)


class TokenSigner:
    def __init__(self, key: SigningKey):
        self.key = key
        # Worked out once: the kid derives the public key and hashes its DER, per token otherwise.
        self._algorithm = key.algorithm
        self._kid = key.kid

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key.private_key, algorithm=self._algorithm, headers={"kid": self._kid})


def unverified_claims(token: str) -> dict[str, Any] | None:
    """The payload of something shaped like a JWT, unverified; None when it is not one."""
    if token.count(".") != 2:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    return claims if isinstance(claims, dict) else None


class TokenVerifier:
    """Checks signature and times against the public keys it holds (one per kid)."""

    def __init__(self, public_keys: list[PublicKey]):
        self._keys = {key_id(k): k for k in public_keys}

    def verify(self, token: str, now: datetime) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as e:
            raise InvalidToken(f"malformed token: {e}") from None
        kid = header.get("kid")
        if kid:
            candidates = [self._keys[kid]] if kid in self._keys else []
        else:
            candidates = list(self._keys.values())
        claims = None
        for key in candidates:
            try:
                claims = jwt.decode(token, key, algorithms=[_algorithm(key)],
                                    options={"verify_aud": False, "verify_exp": False,
                                             "verify_nbf": False, "verify_iat": False,
                                             "verify_iss": False})
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as e:
                raise InvalidToken(f"malformed token: {e}") from None
        if claims is None:
            raise InvalidToken("invalid signature")
        check_times(claims, now)
        return claims


def check_times(claims: dict[str, Any], now: datetime) -> None:
    t = now.timestamp()
    exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
    for name, value in (("exp", exp), ("nbf", nbf), ("iat", iat)):
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise InvalidToken(f"malformed token: {name} is not a number")
    if exp is not None and t > exp + LEEWAY_SECONDS:
        raise InvalidToken("service account token has expired")
    if nbf is not None and t < nbf - LEEWAY_SECONDS:
        raise InvalidToken("service account token is not valid yet")
    if iat is not None and t < iat - LEEWAY_SECONDS:
        raise InvalidToken("service account token is issued in the future")
