"""A big full sync without its secondary indexes: interrupted, searched, resumed.

The store drops ``DEFERRABLE_INDEXES`` when many items are coming (``DEFER_MIN``,
lowered here so that the small world counts as big) and builds them again at the end
of the run. These tests go through the real sync against the emulator: a sync cut
short leaves them dropped and the mirror searchable as committed; the resumed sync
ends with every index and a complete full-text index.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

import pytest

from custom_components.plex_bridge.api.client import PlexClient
from custom_components.plex_bridge.mirror import (
    store as store_module,
    sync as sync_module,
)
from custom_components.plex_bridge.mirror.db import MirrorDB
from custom_components.plex_bridge.mirror.store import DEFERRABLE_INDEXES, MirrorStore
from custom_components.plex_bridge.mirror.sync import (
    MirrorSync,
    SyncProgress,
    SyncResult,
)
from tests.plex_server import PlexEmulator

from .test_sync import counts, emulator_counts


@pytest.fixture(autouse=True)
def big_sync(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 4 items, and every full sync counts as big."""
    monkeypatch.setattr(sync_module, "PAGE_SIZE", 4)
    monkeypatch.setattr(sync_module, "KEYS_PAGE_SIZE", 4)
    monkeypatch.setattr(store_module, "DEFER_MIN", 1)


def _indexes(store: MirrorStore) -> set[str]:
    return {
        name
        for (name,) in store.connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index'"
        )
    }


def _full_text_complete(store: MirrorStore) -> bool:
    """Every item has its title row, and FTS5 finds its own index consistent."""
    db = store.connection
    db.execute("INSERT INTO search_titles(search_titles) VALUES('integrity-check')")
    db.execute("INSERT INTO search_text(search_text) VALUES('integrity-check')")
    missing = db.execute(
        "SELECT count(*) FROM items WHERE id NOT IN (SELECT rowid FROM search_titles)"
    ).fetchone()[0]
    extra = db.execute(
        "SELECT count(*) FROM search_titles WHERE rowid NOT IN (SELECT id FROM items)"
    ).fetchone()[0]
    return bool(missing == 0 and extra == 0)


def _answers(store: MirrorStore, titles: list[str]) -> list[Any]:
    """Search each title, and the stored rows' parent links."""
    return [
        sorted(
            (hit.item.rating_key, hit.match) for hit in store.search(title, limit=50)
        )
        for title in titles
    ] + [
        store.connection.execute(
            "SELECT rating_key, parent_key FROM items ORDER BY rating_key"
        ).fetchall()
    ]


class RecordingStore(MirrorStore):
    """A store that notes what each ``defer_indexes`` call decided."""

    decisions: ClassVar[list[bool]] = []

    def defer_indexes(self, incoming: int) -> bool:
        """Decide as the store does, and note it."""
        decided = super().defer_indexes(incoming)
        type(self).decisions.append(decided)
        return decided


async def test_a_full_sync_builds_the_indexes_it_dropped(
    plex_server: PlexEmulator, client: PlexClient, tmp_path: Path
) -> None:
    """At the end of the run every index is back and the mirror equals the server."""
    RecordingStore.decisions = []
    db, _ = await MirrorDB.open(tmp_path / "mirror.db", store_class=RecordingStore)
    try:
        await MirrorSync(client, db).full()
        # Dropped for the first library, kept dropped for the others.
        assert RecordingStore.decisions
        assert all(RecordingStore.decisions)
        assert await counts(db) == emulator_counts(plex_server)
        assert set(DEFERRABLE_INDEXES) <= await db.call(_indexes)
        assert await db.call(_full_text_complete)
        # An incremental sync never drops them.
        RecordingStore.decisions = []
        await MirrorSync(client, db).incremental()
        assert RecordingStore.decisions == []
        assert set(DEFERRABLE_INDEXES) <= await db.call(_indexes)
    finally:
        await db.close()


async def test_a_cut_short_sync_is_searched_as_committed_and_resumes(
    plex_server: PlexEmulator, client: PlexClient, db: MirrorDB
) -> None:
    """Cancelled without its indexes: reads answer as with them; the resume ends whole."""
    task: asyncio.Task[SyncResult] | None = None
    pages = 0

    def cancel_mid_tv(progress: SyncProgress) -> None:
        nonlocal pages
        if progress.library_key == "2" and progress.done > 0:
            pages += 1
            if pages == 3 and task is not None:
                task.cancel()

    task = asyncio.ensure_future(
        MirrorSync(client, db, on_progress=cancel_mid_tv).full()
    )
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not set(DEFERRABLE_INDEXES) & await db.call(_indexes)
    titles = await db.call(
        lambda store: [
            title
            for (title,) in store.connection.execute(
                "SELECT title FROM items ORDER BY rating_key LIMIT 12"
            )
        ]
    )
    assert titles
    without = await db.call(_answers, titles)
    assert all(without[:-1])  # every committed title is found
    assert await db.call(_full_text_complete)

    # The same data with the indexes built gives the same answers.
    await db.call(lambda store: store.restore_indexes())
    assert await db.call(_answers, titles) == without

    await MirrorSync(client, db).full()
    assert await counts(db) == emulator_counts(plex_server)
    assert set(DEFERRABLE_INDEXES) <= await db.call(_indexes)
    assert await db.call(_full_text_complete)
    state = await db.call(lambda store: store.sync_state("2"))
    assert state.progress == {}
