"""Short-lived shared state: counters for rate limits and lockouts, and small values.

In one process a `MemoryStore` is enough. As soon as a second worker or instance starts, every
one of them must see the same counters, so `APP_REDIS_URL` switches to `RedisStore`; production
settings refuse several workers without it.

When Redis cannot be reached, every call raises `DependencyUnavailableError` (a 503, logged once
per outage: core/outage.py), and nothing that needs the store goes ahead without it.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final, Protocol

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .config import Settings
from .outage import Outage

# A request waits at most about this long for an answer before it gets 503: time for one
# reconnect (a connection Redis dropped on restart) but not for a long stall on every request.
REDIS_TIMEOUT_SECONDS: Final = 1.0
REDIS_RETRIES: Final = 2


class Store(Protocol):
    async def incr(self, key: str, ttl_seconds: int) -> int:
        """Add one to `key` and return the new count; a new key expires after `ttl_seconds`."""

    async def ttl(self, key: str) -> int:
        """Seconds until `key` expires, 0 if it does not exist."""

    async def get(self, key: str) -> str | None: ...

    async def mget(self, keys: list[str]) -> list[str | None]:
        """The values of `keys`, in order, in one round trip."""

    async def set(self, key: str, value: str, ttl_seconds: int) -> None: ...

    async def set_many(self, values: dict[str, str], ttl_seconds: int) -> None:
        """Set every key of `values`, in one round trip."""

    async def set_default(self, key: str, value: str, ttl_seconds: int) -> str:
        """Set `key` to `value` unless it exists; return the value it holds afterwards."""

    async def delete(self, *keys: str) -> None: ...

    async def close(self) -> None: ...


class MemoryStore:
    """A store for a single process (development, tests, one worker)."""

    # Expired entries are swept once per this many writes, so keys nobody reads again (counters
    # of a one-off address, epochs of a credential used once) do not pile up for good.
    SWEEP_EVERY = 1024

    def __init__(self) -> None:
        self._values: dict[str, tuple[str, float]] = {}
        self._writes = 0

    def __len__(self) -> int:
        return len(self._values)

    def _live(self, key: str) -> tuple[str, float] | None:
        entry = self._values.get(key)
        if entry is not None and entry[1] <= time.monotonic():
            del self._values[key]
            return None
        return entry

    def _put(self, key: str, value: str, expires: float) -> None:
        self._values[key] = (value, expires)
        self._writes += 1
        if self._writes % self.SWEEP_EVERY == 0:
            now = time.monotonic()
            for stale in [k for k, (_, until) in self._values.items() if until <= now]:
                del self._values[stale]

    async def incr(self, key: str, ttl_seconds: int) -> int:
        entry = self._live(key)
        if entry is None:
            self._put(key, "1", time.monotonic() + ttl_seconds)
            return 1
        count = int(entry[0]) + 1
        self._put(key, str(count), entry[1])
        return count

    async def ttl(self, key: str) -> int:
        entry = self._live(key)
        return 0 if entry is None else max(1, round(entry[1] - time.monotonic()))

    async def get(self, key: str) -> str | None:
        entry = self._live(key)
        return None if entry is None else entry[0]

    async def mget(self, keys: list[str]) -> list[str | None]:
        return [None if (entry := self._live(key)) is None else entry[0] for key in keys]

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        self._put(key, value, time.monotonic() + ttl_seconds)

    async def set_many(self, values: dict[str, str], ttl_seconds: int) -> None:
        expires = time.monotonic() + ttl_seconds
        for key, value in values.items():
            self._put(key, value, expires)

    async def set_default(self, key: str, value: str, ttl_seconds: int) -> str:
        entry = self._live(key)
        if entry is not None:
            return entry[0]
        self._put(key, value, time.monotonic() + ttl_seconds)
        return value

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._values.pop(key, None)

    async def close(self) -> None:
        self._values.clear()


class RedisStore:
    """A store shared by every worker and instance through Redis."""

    def __init__(self, client: "Redis") -> None:
        self._redis = client
        self.outage = Outage("redis")

    @property
    def client(self) -> "Redis":
        """The connection pool, for what shares it (the audit feed, audit/feed.py)."""
        return self._redis

    @contextmanager
    def _reaching(self) -> Iterator[None]:
        """Around every call: a lost connection becomes a 503, and its end is noticed."""
        try:
            yield
        except (RedisConnectionError, RedisTimeoutError) as exc:
            raise self.outage.failed(exc) from exc
        self.outage.succeeded()

    async def incr(self, key: str, ttl_seconds: int) -> int:
        with self._reaching():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(key)
                # NX: only a new key gets an expiry, so the window is not extended by each try.
                pipe.expire(key, ttl_seconds, nx=True)
                count, _ = await pipe.execute()
        return int(count)

    async def ttl(self, key: str) -> int:
        with self._reaching():
            remaining = int(await self._redis.ttl(key))
        return max(remaining, 0)

    async def get(self, key: str) -> str | None:
        with self._reaching():
            value = await self._redis.get(key)
        return None if value is None else str(value)

    async def mget(self, keys: list[str]) -> list[str | None]:
        if not keys:
            return []
        with self._reaching():
            values = await self._redis.mget(keys)
        return [None if value is None else str(value) for value in values]

    async def set(self, key: str, value: str, ttl_seconds: int) -> None:
        with self._reaching():
            await self._redis.set(key, value, ex=ttl_seconds)

    async def set_many(self, values: dict[str, str], ttl_seconds: int) -> None:
        with self._reaching():
            async with self._redis.pipeline(transaction=True) as pipe:
                for key, value in values.items():
                    pipe.set(key, value, ex=ttl_seconds)
                await pipe.execute()

    async def set_default(self, key: str, value: str, ttl_seconds: int) -> str:
        with self._reaching():
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(key, value, ex=ttl_seconds, nx=True)
                pipe.get(key)
                _, current = await pipe.execute()
        return value if current is None else str(current)

    async def delete(self, *keys: str) -> None:
        if keys:
            with self._reaching():
                await self._redis.delete(*keys)

    async def close(self) -> None:
        await self._redis.aclose()


def build_store(settings: Settings) -> Store:
    if settings.redis_url is None:
        return MemoryStore()
    client = Redis.from_url(
        settings.redis_url.get_secret_value(),
        decode_responses=True,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        # redis-py's default backs off for seconds between retries: every request would hang
        # that long while Redis is down. A quick retry reconnects after a restart.
        retry=Retry(ExponentialWithJitterBackoff(cap=0.1, base=0.02), REDIS_RETRIES),
    )
    return RedisStore(client)
