"""A small TTL cache for answers of the Plex server, with hit/miss statistics.

Keys are tuples whose first element names a namespace (``("sections",)``,
``("library", "1", "all", 0)``), so that a change Plex announces can drop every
entry of one kind at once (``invalidate("library")``). Concurrent lookups of the
same missing key share one fetch. Time comes from the ``clock`` given, read on
every call, so tests (and Home Assistant's frozen time) move it explicitly.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
import time
from typing import Any, cast

type CacheKey = tuple[Any, ...]


def _monotonic() -> float:
    """``time.monotonic()``, looked up at each call so that frozen test clocks apply."""
    return time.monotonic()


@dataclass(slots=True)
class _Entry:
    """A stored value and the clock reading after which it is stale."""

    expires_at: float
    value: Any


@dataclass(slots=True)
class _Pending:
    """A fetch in flight that other callers of the same key wait for."""

    future: asyncio.Future[Any]
    stale: bool = field(default=False)


class TTLCache:
    """TTL cache keyed by tuples whose first element is a namespace string."""

    def __init__(
        self, clock: Callable[[], float] = _monotonic, max_entries: int = 512
    ) -> None:
        self._clock = clock
        self.max_entries = max_entries
        self.enabled = True
        self._entries: OrderedDict[CacheKey, _Entry] = OrderedDict()
        self._pending: dict[CacheKey, _Pending] = {}
        self._hits = 0
        self._misses = 0
        self._coalesced = 0
        self._invalidations = 0
        self._evictions = 0

    async def get_or_fetch[T](
        self,
        key: tuple[str, ...] | tuple[Any, ...],
        ttl: float,
        fetch: Callable[[], Awaitable[T]],
    ) -> T:
        """Cached value if fresh (a hit), else await fetch() (a miss), store and return it.

        Concurrent calls for the same missing key share ONE fetch (coalesced). A
        fetch that raises stores nothing and the error propagates to every waiter.
        When the caller running the shared fetch is cancelled, a waiter that was not
        cancelled itself runs the fetch again. With ``enabled`` false every call is
        a miss that fetches on its own and stores nothing.
        """
        if not self.enabled:
            self._misses += 1
            return await fetch()
        entry = self._fresh_entry(key)
        if entry is not None:
            self._hits += 1
            return cast("T", entry.value)
        self._misses += 1
        while True:
            pending = self._pending.get(key)
            if pending is None:
                return await self._fetch_and_store(key, ttl, fetch)
            self._coalesced += 1
            if await self._wait_for(pending):
                return cast("T", pending.future.result())

    def invalidate(self, *namespaces: str) -> int:
        """Drop every entry whose key[0] is one of ``namespaces``; none given: all.

        Fetches in flight for those keys still answer their callers but store
        nothing, so a value read before the change is never cached after it.
        Returns how many stored entries were dropped.
        """
        wanted = set(namespaces)

        def hit(key: CacheKey) -> bool:
            return not wanted or (bool(key) and key[0] in wanted)

        dropped = [key for key in self._entries if hit(key)]
        for key in dropped:
            del self._entries[key]
        for key in [key for key in self._pending if hit(key)]:
            self._pending.pop(key).stale = True
        self._invalidations += len(dropped)
        return len(dropped)

    def stats(self) -> dict[str, int | float]:
        """Lookup statistics: hits, misses, entries, invalidations, hit_ratio, ...

        ``invalidations`` counts entries dropped by ``invalidate``; ``coalesced``
        the misses that waited for another caller's fetch; ``evictions`` entries
        dropped to stay within ``max_entries``.
        """
        lookups = self._hits + self._misses
        return {
            "hits": self._hits,
            "misses": self._misses,
            "entries": len(self._entries),
            "invalidations": self._invalidations,
            "hit_ratio": self._hits / lookups if lookups else 0.0,
            "coalesced": self._coalesced,
            "evictions": self._evictions,
        }

    def _fresh_entry(self, key: CacheKey) -> _Entry | None:
        """The stored entry for ``key`` if it has not expired (expired ones go)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires_at > self._clock():
            return entry
        del self._entries[key]
        return None

    async def _fetch_and_store[T](
        self, key: CacheKey, ttl: float, fetch: Callable[[], Awaitable[T]]
    ) -> T:
        """Run the fetch for every caller of ``key``; store its value if still wanted."""
        pending = _Pending(asyncio.get_running_loop().create_future())
        self._pending[key] = pending
        try:
            value = await fetch()
        except Exception as err:
            pending.future.set_exception(err)
            # Mark it retrieved: with no waiter, asyncio would log it as lost.
            pending.future.exception()
            raise
        else:
            pending.future.set_result(value)
            if not pending.stale and ttl > 0:
                self._store(key, ttl, value)
            return value
        finally:
            # Cancelled (or stopped by a BaseException): waiters fetch again.
            if not pending.future.done():
                pending.future.cancel()
            if self._pending.get(key) is pending:
                del self._pending[key]

    @staticmethod
    async def _wait_for(pending: _Pending) -> bool:
        """Wait for another caller's fetch; False when it was cancelled (retry)."""
        try:
            await asyncio.shield(pending.future)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if pending.future.cancelled() and (task is None or not task.cancelling()):
                return False
            raise
        return True

    def _store(self, key: CacheKey, ttl: float, value: Any) -> None:
        """Store a value, newest last, then keep within ``max_entries``."""
        self._entries.pop(key, None)
        self._entries[key] = _Entry(self._clock() + ttl, value)
        if len(self._entries) > self.max_entries:
            self._drop_expired()
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
            self._evictions += 1

    def _drop_expired(self) -> None:
        """Forget every entry that has expired (they would never be hits)."""
        now = self._clock()
        for key in [k for k, e in self._entries.items() if e.expires_at <= now]:
            del self._entries[key]
