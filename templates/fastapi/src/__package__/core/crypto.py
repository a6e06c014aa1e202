"""Keyed hashes, for credentials that are stored but never replayed.

Refresh tokens, session ids and API key secrets are kept only as an HMAC under a subkey of the
application's key ring (core/keys.py), next to the id of the key that made it: a copy of the
database alone is not enough to recognise or forge any of them, and rotating the key leaves the
ones already issued working for as long as the old key stays in the ring.
"""

import hmac
import secrets

from .keys import Key, KeyRing


def new_secret() -> str:
    """A fresh URL-safe random value of 256 bits (tokens, session ids, key secrets)."""
    return secrets.token_urlsafe(32)


def keyed_hash(key: Key, value: str, *, purpose: str) -> str:
    """HMAC-SHA-256 of `value` under `key`'s subkey for `purpose`, as hex.

    `purpose` separates the uses, so a session id can never be replayed as a refresh token that
    happens to hash the same. `surrogatepass` keeps odd client input from raising here.
    """
    return key.mac(purpose, value.encode("utf-8", "surrogatepass"))


def keyed_hashes(ring: KeyRing, value: str, *, purpose: str) -> dict[str, str]:
    """`keyed_hash` of `value` under every key of `ring`, by key id, the active key first."""
    return {key.id: keyed_hash(key, value, purpose=purpose) for key in ring.keys}


def same_digest(left: str, right: str) -> bool:
    """Constant-time equality of two digests, so timing never tells how much of one matched."""
    return hmac.compare_digest(left.encode(), right.encode())
