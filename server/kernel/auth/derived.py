"""Secrets derived from the signing key (HKDF-SHA256), one per purpose.

A deployment then has one secret to guard, and a key rotation changes these too: one-time codes
in flight become invalid (they live five minutes) and health-code pseudonyms change (they are
meant to be unlinkable over time anyway). A file named in settings overrides the derivation.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def derive(key: ec.EllipticCurvePrivateKey, purpose: str) -> bytes:
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"onemap", info=purpose.encode())
    return hkdf.derive(scalar)


def secret(key: ec.EllipticCurvePrivateKey, purpose: str, override: Path | None = None) -> bytes:
    if override is not None:
        return hashlib.sha256(override.read_bytes().strip()).digest()
    return derive(key, purpose)


def keyed_hash(secret_: bytes, *parts: str) -> str:
    """HMAC-SHA256 of the parts (joined unambiguously), hex."""
    message = "\x1f".join(parts).encode()
    return hmac.new(secret_, message, hashlib.sha256).hexdigest()
