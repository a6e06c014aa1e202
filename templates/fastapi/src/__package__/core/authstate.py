"""Where per-request authentication state lives, and how every process learns of a change.

A request is first checked with what needs no I/O (the JWT signature and claims, the keyed hash
of a session id or an API key). What the database says about the credential (is the token
family live, is the user enabled and what is their role, what may the key's creator chain do)
is then taken from a cache in this process, read from the database only on a miss.

The cache is kept honest by *epochs*: one small random value per principal (a user, an API key)
in the shared store, replaced after every change that must end or narrow access: logout, a
password change, a role change, disabling, key revocation, a replayed refresh token. A cached
entry remembers the epochs it was read under; every request reads the current ones (one `MGET`
to Redis, or a dict lookup in a single process) and any change is a miss, so the very next
request on every worker and instance goes back to the database. Correctness needs no TTL;
`max_age_seconds` only bounds how long a change made behind the service's back (by hand, in the
database) can go unseen.

Order matters, and is kept here: a writer commits, then replaces the epoch; a reader pins the
epochs, then reads the database. So whoever sees a new epoch reads rows at least as new as it.
If the store loses its data (a Redis restart), every epoch is missing and every cache misses:
nothing stale survives. If the store cannot be reached, the request fails; it is never
authenticated from the cache alone.
"""

import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from .store import Store

# An epoch outlives any cache entry by far; when it expires, it is simply a miss.
EPOCH_TTL_SECONDS: Final = 24 * 3600
DEFAULT_MAX_ENTRIES: Final = 10_000
DEFAULT_MAX_AGE_SECONDS: Final = 60.0

T = TypeVar("T")

# What a loader returns: the value to cache and the principals whose epochs it depends on,
# or None when the credential is not (or no longer) valid.
Loaded = tuple[object, Sequence[str]] | None


def user_principal(user_id: int) -> str:
    return f"user:{user_id}"


def key_principal(key_id: str) -> str:
    return f"apikey:{key_id}"


def _new_epoch() -> str:
    return secrets.token_hex(8)


@dataclass(frozen=True, slots=True)
class _Entry:
    value: object
    principals: tuple[str, ...]
    epochs: tuple[str, ...]
    stored_at: float


class AuthState:
    """Epochs in the shared store, and this process's cache of what they vouch for."""

    def __init__(
        self,
        store: Store,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_age_seconds: float = DEFAULT_MAX_AGE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1 or max_age_seconds <= 0:
            raise ValueError("the cache needs room for one entry and a positive age")
        self._store = store
        self._max_entries = max_entries
        self.max_age_seconds = max_age_seconds
        # Replaceable, so tests can let the maximum age pass without sleeping.
        self.clock = clock
        self._entries: dict[str, _Entry] = {}

    async def epochs(self, principals: Sequence[str]) -> tuple[str, ...]:
        """The current epoch of each principal; a missing one is created (never left empty)."""
        keys = [f"epoch:{principal}" for principal in principals]
        values = await self._store.mget(keys)
        current: list[str] = []
        for key, value in zip(keys, values, strict=True):
            if value is None:
                current.append(await self._store.set_default(key, _new_epoch(), EPOCH_TTL_SECONDS))
            else:
                current.append(value)
        return tuple(current)

    async def changed(self, *principals: str) -> None:
        """Say that access of `principals` changed. Call it after the database commit."""
        if principals:
            epochs = {f"epoch:{principal}": _new_epoch() for principal in principals}
            await self._store.set_many(epochs, EPOCH_TTL_SECONDS)

    async def load(
        self,
        key: str,
        kind: type[T],
        loader: Callable[[], Awaitable[Loaded]],
    ) -> T | None:
        """The value cached under `key` if still vouched for, else what `loader` reads now.

        On a miss the loader runs twice: once to learn which principals the value depends on,
        and again after their epochs are pinned, so the cached value is never older than the
        epochs it is stored under.
        """
        entry = self._entries.get(key)
        if entry is not None and isinstance(entry.value, kind):
            fresh = self.clock() - entry.stored_at < self.max_age_seconds
            if fresh and await self.epochs(entry.principals) == entry.epochs:
                return entry.value
        self._entries.pop(key, None)
        first = await loader()
        if first is None:
            return None
        principals = tuple(first[1])
        epochs = await self.epochs(principals)
        second = await loader()
        if second is None or not isinstance(second[0], kind):
            return None
        if tuple(second[1]) == principals:
            self._store_entry(key, _Entry(second[0], principals, epochs, self.clock()))
        return second[0]

    def recall(self, key: str, kind: type[T]) -> T | None:
        """A value put with `keep` (it depends on no principal), if younger than the maximum age."""
        entry = self._entries.get(key)
        if entry is None or not isinstance(entry.value, kind):
            return None
        if self.clock() - entry.stored_at >= self.max_age_seconds:
            del self._entries[key]
            return None
        return entry.value

    def keep(self, key: str, value: object) -> None:
        """Cache a value that no change to a principal can make wrong (e.g. a verified JWT)."""
        self._store_entry(key, _Entry(value, (), (), self.clock()))

    def replace(self, key: str, value: object) -> None:
        """Update a cached value in place (e.g. a session's last activity), keeping its epochs."""
        entry = self._entries.get(key)
        if entry is not None:
            self._entries[key] = _Entry(value, entry.principals, entry.epochs, entry.stored_at)

    def forget(self, key: str) -> None:
        self._entries.pop(key, None)

    def _store_entry(self, key: str, entry: _Entry) -> None:
        if len(self._entries) >= self._max_entries:
            # The oldest entry goes first; a miss only costs one database read.
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = entry
