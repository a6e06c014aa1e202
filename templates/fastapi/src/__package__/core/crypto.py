"""Secrets derived from the application key, for credentials that are stored but never replayed.

Refresh tokens, session ids and API key secrets are kept only as an HMAC keyed by
`APP_SECRET_KEY`: a copy of the database alone is not enough to recognise or forge any of them.
"""

import hashlib
import hmac
import secrets

from pydantic import SecretStr


def new_secret() -> str:
    """A fresh URL-safe random value of 256 bits (tokens, session ids, key secrets)."""
    return secrets.token_urlsafe(32)


def keyed_hash(secret_key: SecretStr, value: str, *, purpose: str) -> str:
    """HMAC-SHA-256 of `value` under the application key, as hex.

    `purpose` separates the uses, so a session id can never be replayed as a refresh token that
    happens to hash the same. `surrogatepass` keeps odd client input from raising here.
    """
    message = purpose.encode() + b"\x00" + value.encode("utf-8", "surrogatepass")
    return hmac.new(secret_key.get_secret_value().encode(), message, hashlib.sha256).hexdigest()


def same_digest(left: str, right: str) -> bool:
    """Constant-time equality of two digests, so timing never tells how much of one matched."""
    return hmac.compare_digest(left.encode(), right.encode())
