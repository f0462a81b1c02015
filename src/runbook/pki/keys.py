"""Private keys: the types offered, generating, loading (with passphrase errors that name the fix),
matching a certificate, describing a public key, and passphrases from the environment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from runbook.errors import RunbookError

KeyType = Literal["ecdsa-p256", "rsa-2048", "rsa-3072", "rsa-4096"]
KEY_TYPES: tuple[str, ...] = ("ecdsa-p256", "rsa-2048", "rsa-3072", "rsa-4096")
PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
CA_ENV = "RUNBOOK_CA_PASSPHRASE"
SERVER_KEY_ENV = "RUNBOOK_SERVER_KEY_PASSPHRASE"


def validate_key_type(key_type: str) -> KeyType:
    if key_type not in KEY_TYPES:
        raise RunbookError(f"unknown key type {key_type!r}: choose one of {', '.join(KEY_TYPES)}")
    return key_type  # type: ignore[return-value]


def generate_key(key_type: str) -> PrivateKey:
    kt = validate_key_type(key_type)
    if kt == "ecdsa-p256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=int(kt.split("-")[1]))


#: The fix for a key file that is not there: name the right path (never `pki create`, which would make a
#: new CA in place of an operator's). Callers that know the runbook's own empty PKI dir say so themselves.
_GIVE_KEY = (
    "give the path of the key the deployment uses (--ca-key for a CA's key, --key for a certificate's)"
)


def load_key(path: Path, passphrase: bytes | None = None, env_hint: str = "") -> PrivateKey:
    """Load a PEM private key, with a one-line error for a missing or wrong passphrase."""
    path = Path(path)
    if not path.is_file():
        raise RunbookError(f"key file {path} not found: {_GIVE_KEY}")
    hint = f"export {env_hint} with its passphrase" if env_hint else "supply its passphrase"
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=passphrase)
    except TypeError:
        if passphrase:
            raise RunbookError(f"{path.name} is not encrypted: do not pass a passphrase for it") from None
        raise RunbookError(f"{path.name} is encrypted: {hint}") from None
    except ValueError:
        if passphrase:
            raise RunbookError(f"wrong passphrase for {path.name}: {hint}") from None
        raise RunbookError(f"{path} is not a PEM private key: give the .key file") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise RunbookError(f"{path.name} holds an unsupported key type: use ECDSA P-256 or RSA")
    return key


def key_is_encrypted(path: Path) -> bool:
    return b"ENCRYPTED" in Path(path).read_bytes()[:200]


def key_matches(cert: x509.Certificate, key: PrivateKey) -> bool:
    """True when ``key`` is the private half of ``cert``'s public key."""
    fmt = serialization.PublicFormat.SubjectPublicKeyInfo
    return bool(
        cert.public_key().public_bytes(serialization.Encoding.DER, fmt)
        == key.public_key().public_bytes(serialization.Encoding.DER, fmt)
    )


def key_description(public_key: object) -> tuple[str, int]:
    """(key type, size) such as ("ecdsa-p256", 256) or ("rsa-4096", 4096)."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        curve = {"secp256r1": "p256", "secp384r1": "p384", "secp521r1": "p521"}.get(
            public_key.curve.name, public_key.curve.name
        )
        return f"ecdsa-{curve}", public_key.curve.key_size
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"rsa-{public_key.key_size}", public_key.key_size
    return type(public_key).__name__, 0


def passphrase_from_env(var: str | None) -> bytes | None:
    """Read a passphrase from the environment variable ``var`` (never echoed)."""
    if not var:
        return None
    value = os.environ.get(var)
    if not value:
        raise RunbookError(f"environment variable {var} is empty or unset: export it with the passphrase")
    return value.encode()
