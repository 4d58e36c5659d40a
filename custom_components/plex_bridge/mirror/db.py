"""The mirror's SQLite store on a thread of its own.

SQLite calls block, so none may run on Home Assistant's event loop. ``MirrorDB``
owns a single-worker ``ThreadPoolExecutor``: every call into the ``MirrorStore``
runs there, one after another, which is also what makes one connection safe to
use (the store is single-threaded by contract). ``close`` closes the store on that
thread and joins it, so a test (or an unloaded entry) leaves no thread behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
import functools
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate

if TYPE_CHECKING:
    from .store import MirrorStore

THREAD_NAME = "plex_bridge_mirror"


class MirrorDBClosedError(RuntimeError):
    """The database was closed; no more calls are accepted."""


class MirrorDB:
    """A ``MirrorStore`` on its own thread; nothing touches SQLite on the loop."""

    def __init__(self, store: MirrorStore, executor: ThreadPoolExecutor) -> None:
        """Wrap an open store; use ``MirrorDB.open`` rather than this."""
        self._store = store
        self._executor = executor
        self._closed = False

    @classmethod
    async def open(
        cls, path: Path, *, store_class: type[MirrorStore] | None = None
    ) -> tuple[MirrorDB, bool]:
        """Open (or create) the store at ``path`` on a fresh thread.

        Returns the database and whether the file was corrupt and was rebuilt
        empty (the caller then runs a full sync and raises a repairs issue).
        ``store_class`` lets a test put a store subclass (a failing disk) behind it.
        """
        if store_class is None:
            from .store import MirrorStore

            store_class = MirrorStore
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)
        loop = asyncio.get_running_loop()
        try:
            store, recovered = await loop.run_in_executor(
                executor, store_class.open, path
            )
        except BaseException:
            executor.shutdown(wait=True)
            raise
        return cls(store, executor), recovered

    @property
    def closed(self) -> bool:
        """Whether ``close`` was called."""
        return self._closed

    async def call[**P, T](
        self,
        fn: Callable[Concatenate[MirrorStore, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """Run ``fn(store, *args, **kwargs)`` on the store's thread and return its value.

        A caller that is cancelled while waiting does not stop the call: it runs to
        its end (one transaction), so the store is never left half-written.
        """
        if self._closed:
            raise MirrorDBClosedError("the mirror database is closed")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, functools.partial(fn, self._store, *args, **kwargs)
        )

    async def close(self) -> None:
        """Close the store on its thread, then join the thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._store.close)
        finally:
            # The close ran last on the worker (every earlier call had finished
            # before it), so the worker is idle and the join returns at once.
            self._executor.shutdown(wait=True)
