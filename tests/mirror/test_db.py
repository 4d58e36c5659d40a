"""MirrorDB: the store on one thread of its own, and nothing left behind."""

from __future__ import annotations

import asyncio
from pathlib import Path
import threading

import pytest

from custom_components.plex_bridge.mirror.db import (
    THREAD_NAME,
    MirrorDB,
    MirrorDBClosedError,
)
from custom_components.plex_bridge.mirror.store import MirrorStore

SECTION = {"key": "1", "title": "Movies", "type": "movie", "uuid": "u-1"}


def mirror_threads() -> list[threading.Thread]:
    """The threads MirrorDB starts."""
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_NAME)]


async def test_calls_run_on_one_thread_off_the_loop(tmp_path: Path) -> None:
    """Every call runs on the same dedicated thread, never the loop's."""
    db, recovered = await MirrorDB.open(tmp_path / "m.db")
    assert not recovered
    try:
        names = {
            await db.call(lambda _store: threading.current_thread().name)
            for _ in range(5)
        }
        assert len(names) == 1
        (name,) = names
        assert name.startswith(THREAD_NAME)
        assert name != threading.current_thread().name
        # Arguments and keyword arguments are passed through.
        assert await db.call(MirrorStore.set_libraries, [SECTION]) == []
        libraries = await db.call(lambda store: store.libraries())
        assert [library.key for library in libraries] == ["1"]
    finally:
        await db.close()
    assert mirror_threads() == []
    assert db.closed


async def test_close_is_idempotent_and_refuses_later_calls(tmp_path: Path) -> None:
    """After close nothing more runs (and a second close is harmless)."""
    db, _ = await MirrorDB.open(tmp_path / "m.db")
    await db.close()
    await db.close()
    with pytest.raises(MirrorDBClosedError):
        await db.call(lambda store: store.libraries())


async def test_a_cancelled_caller_does_not_cut_a_write_short(tmp_path: Path) -> None:
    """The call in progress finishes (one whole transaction) after its caller left."""
    db, _ = await MirrorDB.open(tmp_path / "m.db")
    started = threading.Event()
    release = threading.Event()

    def slow_write(store: MirrorStore) -> None:
        started.set()
        release.wait(10)
        store.set_libraries([SECTION])

    try:
        task = asyncio.ensure_future(db.call(slow_write))
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        release.set()
        libraries = await db.call(lambda store: store.libraries())
        assert [library.key for library in libraries] == ["1"]
    finally:
        release.set()
        await db.close()


async def test_reopen_keeps_data_and_corrupt_file_is_rebuilt(tmp_path: Path) -> None:
    """A file survives close/open; a file that is not a database comes back empty."""
    path = tmp_path / "m.db"
    db, _ = await MirrorDB.open(path)
    await db.call(MirrorStore.set_libraries, [SECTION])
    await db.close()
    db, recovered = await MirrorDB.open(path)
    try:
        assert not recovered
        assert len(await db.call(lambda store: store.libraries())) == 1
    finally:
        await db.close()

    broken = tmp_path / "broken.db"
    broken.write_bytes(b"this is not an SQLite database" * 100)
    db, recovered = await MirrorDB.open(broken)
    try:
        assert recovered
        assert await db.call(lambda store: store.libraries()) == []
    finally:
        await db.close()
    moved = await asyncio.to_thread(lambda: list(tmp_path.glob("broken.db.corrupt-*")))
    assert moved


async def test_open_failure_leaves_no_thread(tmp_path: Path) -> None:
    """A store that cannot open does not leak its thread."""

    class Unopenable(MirrorStore):
        @classmethod
        def open(cls, path: Path) -> tuple[MirrorStore, bool]:
            raise PermissionError(str(path))

    with pytest.raises(PermissionError):
        await MirrorDB.open(tmp_path / "m.db", store_class=Unopenable)
    assert mirror_threads() == []
