"""Key rings: the key in use, and the previous keys still accepted while what they protect ages out.

`APP_SECRET_KEY` is the active key: it signs new tokens and keys every new stored hash.
`APP_PREVIOUS_SECRET_KEYS` lists the keys it replaced; they still verify what was made under
them (access tokens, refresh tokens, sessions, API keys), and nothing new is made with them.
Removing a previous key ends whatever it still protected.

No key is used directly. Each purpose (JWT signing, refresh token hashes, session ids, API key
secrets, the audit chain) gets its own subkey derived with HKDF-SHA-256 (RFC 5869), so a value
made for one purpose can never be replayed as another, and a subkey that leaked reveals neither
the key nor its siblings. Every key has a public id (`kid`): a fingerprint derived the same
way, stored beside each hash and put in each JWT header, so verification picks the one key that
made it and `keys` can tell which keys are still in use.

The audit chain has a ring of its own (`APP_AUDIT_KEY`, `APP_PREVIOUS_AUDIT_KEYS`): the people
who may rotate or read the application key need not be able to rewrite the audit trail. Without
`APP_AUDIT_KEY` the audit key is derived from the application keys (and `selfcheck` says so).
"""

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

from .config import Settings

# The HKDF `info` of every derivation starts with this label and a format version.
_LABEL: Final = b"service-key/v1/"
KEY_ID_LENGTH: Final = 12  # hex characters: 48 bits, to tell a handful of keys apart


@lru_cache(maxsize=256)
def _derive(material: bytes, purpose: str) -> bytes:
    # Derived once per process and purpose: the request path only runs HMAC.
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_LABEL + purpose.encode())
    return hkdf.derive(material)


@dataclass(frozen=True, slots=True)
class Key:
    id: str
    material: bytes = field(repr=False)

    @classmethod
    def from_secret(cls, material: bytes) -> "Key":
        return cls(_derive(material, "key-id").hex()[:KEY_ID_LENGTH], material)

    def subkey(self, purpose: str) -> bytes:
        return _derive(self.material, purpose)

    def mac(self, purpose: str, message: bytes) -> str:
        """HMAC-SHA-256 of `message` under this key's subkey for `purpose`, as hex."""
        return hmac.digest(self.subkey(purpose), message, hashlib.sha256).hex()


@dataclass(frozen=True, slots=True)
class KeyRing:
    active: Key
    previous: tuple[Key, ...] = ()

    @property
    def keys(self) -> tuple[Key, ...]:
        """Every accepted key, the active one first."""
        return (self.active, *self.previous)

    def find(self, key_id: object) -> Key | None:
        """The accepted key with this id; None for any other value, whatever its type."""
        return next((key for key in self.keys if key.id == key_id), None)


@lru_cache(maxsize=16)
def _ring(secrets: tuple[bytes, ...]) -> KeyRing:
    keys: list[Key] = []
    for secret in secrets:
        key = Key.from_secret(secret)
        if all(known.id != key.id for known in keys):  # a key listed twice counts once
            keys.append(key)
    return KeyRing(keys[0], tuple(keys[1:]))


def _materials(secrets: Iterable[SecretStr]) -> tuple[bytes, ...]:
    return tuple(secret.get_secret_value().encode() for secret in secrets)


def secret_ring(settings: Settings) -> KeyRing:
    """`APP_SECRET_KEY` and `APP_PREVIOUS_SECRET_KEYS`."""
    return _ring(_materials((settings.secret_key, *settings.previous_secret_keys)))


def audit_ring(settings: Settings) -> KeyRing:
    """`APP_AUDIT_KEY` and `APP_PREVIOUS_AUDIT_KEYS`, else keys derived from the secret ring."""
    if settings.audit_key is not None:
        return _ring(_materials((settings.audit_key, *settings.previous_audit_keys)))
    derived = tuple(key.subkey("audit-key") for key in secret_ring(settings).keys)
    return _ring(derived + _materials(settings.previous_audit_keys))


def uses_derived_audit_key(settings: Settings) -> bool:
    return settings.audit_key is None
