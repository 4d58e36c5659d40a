"""The TTL cache: hits and misses, coalescing, errors, invalidation, eviction."""

from __future__ import annotations

import asyncio

import pytest

from custom_components.plex_bridge.api.cache import TTLCache

TIMEOUT = 5  # safety net only: every wait below is answered at once


class FakeClock:
    """A clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        """The current reading."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward."""
        self.now += seconds


class Fetcher:
    """A fetch callable that counts its calls and answers value-1, value-2, ..."""

    def __init__(self, prefix: str = "value") -> None:
        self.prefix = prefix
        self.calls = 0

    async def __call__(self) -> str:
        """The next value, counting the call."""
        self.calls += 1
        return f"{self.prefix}-{self.calls}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def cache(clock: FakeClock) -> TTLCache:
    return TTLCache(clock=clock)


async def test_fresh_value_is_a_hit_and_stale_a_miss(
    cache: TTLCache, clock: FakeClock
) -> None:
    fetch = Fetcher()

    assert await cache.get_or_fetch(("sections",), 10, fetch) == "value-1"
    clock.advance(9.9)
    assert await cache.get_or_fetch(("sections",), 10, fetch) == "value-1"
    clock.advance(0.1)
    assert await cache.get_or_fetch(("sections",), 10, fetch) == "value-2"

    assert fetch.calls == 2
    stats = cache.stats()
    assert stats["hits"] == 1
    assert stats["misses"] == 2
    assert stats["entries"] == 1
    assert stats["hit_ratio"] == pytest.approx(1 / 3)


async def test_keys_are_whole_tuples(cache: TTLCache) -> None:
    fetch = Fetcher()

    assert await cache.get_or_fetch(("library", "1"), 10, fetch) == "value-1"
    assert await cache.get_or_fetch(("library", "2"), 10, fetch) == "value-2"
    assert await cache.get_or_fetch(("library", "1"), 10, fetch) == "value-1"
    assert await cache.get_or_fetch(("library", 1), 10, fetch) == "value-3"


async def test_stats_before_any_lookup(cache: TTLCache) -> None:
    assert cache.stats() == {
        "hits": 0,
        "misses": 0,
        "entries": 0,
        "invalidations": 0,
        "hit_ratio": 0.0,
        "coalesced": 0,
        "evictions": 0,
    }


async def test_concurrent_misses_share_one_fetch(cache: TTLCache) -> None:
    release = asyncio.Event()
    calls = 0

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return "sections"

    async with asyncio.timeout(TIMEOUT):
        first = asyncio.create_task(cache.get_or_fetch(("sections",), 10, fetch))
        second = asyncio.create_task(cache.get_or_fetch(("sections",), 10, fetch))
        await asyncio.sleep(0)
        release.set()
        assert await asyncio.gather(first, second) == ["sections", "sections"]

    assert calls == 1
    assert cache.stats()["coalesced"] == 1
    assert cache.stats()["misses"] == 2


async def test_failed_fetch_reaches_every_waiter_and_is_not_cached(
    cache: TTLCache,
) -> None:
    release = asyncio.Event()
    calls = 0

    async def failing() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        raise ConnectionError("server down")

    async with asyncio.timeout(TIMEOUT):
        first = asyncio.create_task(cache.get_or_fetch(("sessions",), 10, failing))
        second = asyncio.create_task(cache.get_or_fetch(("sessions",), 10, failing))
        await asyncio.sleep(0)
        release.set()
        results = await asyncio.gather(first, second, return_exceptions=True)

    assert calls == 1
    assert all(isinstance(result, ConnectionError) for result in results)
    assert cache.stats()["entries"] == 0
    assert await cache.get_or_fetch(("sessions",), 10, Fetcher()) == "value-1"


async def test_failed_fetch_without_waiters(cache: TTLCache) -> None:
    async def failing() -> str:
        raise ValueError("bad answer")

    with pytest.raises(ValueError, match="bad answer"):
        await cache.get_or_fetch(("sections",), 10, failing)
    assert cache.stats()["entries"] == 0


async def test_waiter_fetches_again_when_the_fetching_caller_is_cancelled(
    cache: TTLCache,
) -> None:
    started = asyncio.Event()
    calls = 0

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            started.set()
            await asyncio.Event().wait()  # hangs until cancelled
        return f"value-{calls}"

    async with asyncio.timeout(TIMEOUT):
        leader = asyncio.create_task(cache.get_or_fetch(("sections",), 10, fetch))
        await started.wait()
        waiter = asyncio.create_task(cache.get_or_fetch(("sections",), 10, fetch))
        await asyncio.sleep(0)
        leader.cancel()
        assert await waiter == "value-2"
        with pytest.raises(asyncio.CancelledError):
            await leader

    assert calls == 2
    assert await cache.get_or_fetch(("sections",), 10, fetch) == "value-2"


async def test_cancelled_waiter_leaves_the_fetch_running(cache: TTLCache) -> None:
    release = asyncio.Event()

    async def fetch() -> str:
        await release.wait()
        return "sections"

    async with asyncio.timeout(TIMEOUT):
        leader = asyncio.create_task(cache.get_or_fetch(("sections",), 10, fetch))
        await asyncio.sleep(0)
        waiter = asyncio.create_task(cache.get_or_fetch(("sections",), 10, fetch))
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        release.set()
        assert await leader == "sections"

    assert cache.stats()["entries"] == 1


async def test_invalidate_by_namespace(cache: TTLCache) -> None:
    fetch = Fetcher()
    await cache.get_or_fetch(("sections",), 10, fetch)
    await cache.get_or_fetch(("library", "1"), 10, fetch)
    await cache.get_or_fetch(("library", "2"), 10, fetch)
    await cache.get_or_fetch(("hubs", "recent"), 10, fetch)

    assert cache.invalidate("library") == 2
    assert cache.invalidate("library", "nothing-here") == 0
    assert await cache.get_or_fetch(("sections",), 10, fetch) == "value-1"
    assert await cache.get_or_fetch(("library", "1"), 10, fetch) == "value-5"

    assert cache.invalidate("sections", "hubs") == 2
    assert cache.stats()["entries"] == 1
    assert cache.invalidate() == 1
    assert cache.stats()["entries"] == 0
    assert cache.stats()["invalidations"] == 5


async def test_invalidate_during_a_fetch_stores_nothing(cache: TTLCache) -> None:
    release = asyncio.Event()

    async def fetch() -> str:
        await release.wait()
        return "before the change"

    async with asyncio.timeout(TIMEOUT):
        task = asyncio.create_task(cache.get_or_fetch(("library", "1"), 10, fetch))
        await asyncio.sleep(0)
        assert cache.invalidate("library") == 0
        release.set()
        assert await task == "before the change"

    assert cache.stats()["entries"] == 0
    assert await cache.get_or_fetch(("library", "1"), 10, Fetcher()) == "value-1"


async def test_invalidate_leaves_other_fetches_alone(cache: TTLCache) -> None:
    release = asyncio.Event()

    async def fetch() -> str:
        await release.wait()
        return "sections"

    async with asyncio.timeout(TIMEOUT):
        task = asyncio.create_task(cache.get_or_fetch(("sections",), 10, fetch))
        await asyncio.sleep(0)
        cache.invalidate("library")
        release.set()
        await task

    assert cache.stats()["entries"] == 1


async def test_disabled_cache_always_fetches(cache: TTLCache) -> None:
    cache.enabled = False
    fetch = Fetcher()

    assert await cache.get_or_fetch(("sections",), 10, fetch) == "value-1"
    assert await cache.get_or_fetch(("sections",), 10, fetch) == "value-2"

    assert cache.stats()["misses"] == 2
    assert cache.stats()["hits"] == 0
    assert cache.stats()["entries"] == 0


async def test_zero_ttl_is_never_stored(cache: TTLCache) -> None:
    fetch = Fetcher()
    await cache.get_or_fetch(("sections",), 0, fetch)
    await cache.get_or_fetch(("sections",), 0, fetch)
    assert fetch.calls == 2
    assert cache.stats()["entries"] == 0


async def test_oldest_entries_are_evicted(clock: FakeClock) -> None:
    cache = TTLCache(clock=clock, max_entries=2)
    fetch = Fetcher()
    await cache.get_or_fetch(("a",), 10, fetch)
    await cache.get_or_fetch(("b",), 10, fetch)
    await cache.get_or_fetch(("c",), 10, fetch)

    assert cache.stats()["entries"] == 2
    assert cache.stats()["evictions"] == 1
    assert await cache.get_or_fetch(("b",), 10, fetch) == "value-2"
    assert await cache.get_or_fetch(("c",), 10, fetch) == "value-3"
    assert await cache.get_or_fetch(("a",), 10, fetch) == "value-4"


async def test_expired_entries_go_before_fresh_ones(clock: FakeClock) -> None:
    cache = TTLCache(clock=clock, max_entries=2)
    fetch = Fetcher()
    await cache.get_or_fetch(("fresh",), 100, fetch)
    await cache.get_or_fetch(("short",), 1, fetch)
    clock.advance(2)
    await cache.get_or_fetch(("new",), 100, fetch)

    assert cache.stats()["evictions"] == 0
    assert await cache.get_or_fetch(("fresh",), 100, fetch) == "value-1"
    assert await cache.get_or_fetch(("new",), 100, fetch) == "value-3"
