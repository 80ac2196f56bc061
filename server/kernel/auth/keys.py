"""ES256 signing keys: loaded from files named in settings, or generated once into the data dir.

The ``kid`` of a key is its RFC 7638 JWK thumbprint, so it is stable and derivable. The JWKS
lists the current key and any retired public keys (until their last tokens have expired).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from server.kernel.once_files import read_or_create
from server.kernel.settings import AuthSettings

DEV_KEY_NAME = "jwt-es256.pem"


@dataclass(frozen=True)
class KeySet:
    kid: str
    private_key: ec.EllipticCurvePrivateKey
    public_keys: dict[str, ec.EllipticCurvePublicKey]  # kid → key: the current and retired ones

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(key) for key in self.public_keys.values()]}

    def private_material(self) -> bytes:
        """The signing key's secret scalar: what every process of a deployment shares and
        nobody outside has, for keys derived from it (the camera relays' internal hop)."""
        return self.private_key.private_numbers().private_value.to_bytes(32, "big")


def public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(key, as_dict=True)
    jwk.update({"kid": thumbprint(key), "use": "sig", "alg": "ES256"})
    return jwk


def thumbprint(key: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638: SHA-256 of the required members in lexicographic order, base64url."""
    jwk: dict[str, Any] = ECAlgorithm.to_jwk(key, as_dict=True)
    canonical = json.dumps(
        {k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True
    )
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _load_private(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError(f"{path} is not an EC P-256 private key (ES256 needs one)")
    return key


def _load_public(path: Path) -> ec.EllipticCurvePublicKey:
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError(f"{path} is not an EC public key")
    return key


def _dev_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The development key kept in the data dir, made by whichever process comes first."""
    read_or_create(path, _new_key_pem)
    return _load_private(path)


def _new_key_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def load_keys(settings: AuthSettings, data_dir: Path) -> KeySet:
    if settings.private_key_file is not None:
        private = _load_private(settings.private_key_file)
    else:
        private = _dev_key(data_dir / "keys" / DEV_KEY_NAME)
    current = private.public_key()
    public = {thumbprint(current): current}
    for retired_path in settings.retired_public_key_files:
        retired = _load_public(retired_path)
        public.setdefault(thumbprint(retired), retired)
    return KeySet(thumbprint(current), private, public)
