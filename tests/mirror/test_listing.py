"""The mirror's JSON decoder keeps every field the mirror stores (``mirror/listing.py``).

Against the emulator's demo library over real HTTP, with our client: the same pages
decoded by ``decode_listing`` and by the client's generic decode are written into two
real stores, which must then hold the same rows in every table. A field the store
reads but the decoder's shape lacks would be empty in one of them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
import sqlite3

import aiohttp
import orjson
import pytest

from custom_components.plex_bridge.api.client import JsonDecoder, PlexClient
from custom_components.plex_bridge.mirror.listing import (
    ITEM_FIELDS,
    decode_keys,
    decode_listing,
)
from custom_components.plex_bridge.mirror.paths import PathMapper
from custom_components.plex_bridge.mirror.store import TAG_KINDS, MirrorStore
from custom_components.plex_bridge.mirror.sync import TYPES_BY_SECTION
from tests.plex_server import PlexEmulator
from tests.plex_server.clock import Clock

TABLES = {
    "libraries": "key",
    "items": "id",
    "tags": "id",
    "item_tags": "item_id, tag_id",
    "external_ids": "item_id, scheme",
    "parts": "item_id, position",
    "search_titles": "rowid",
    "search_text": "rowid",
}
PATHS = PathMapper([{"plex": "/data", "local": "D:\\Media"}])


@pytest.fixture
async def demo(
    socket_enabled: None, emulator_clock: Clock
) -> AsyncIterator[PlexClient]:
    """Our client on the demo library (every type, people and genres, external ids)."""
    emu = PlexEmulator(library="demo", clock=emulator_clock)
    await emu.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield PlexClient(session, emu.url, emu.token, jitter=lambda: 0.0)
    finally:
        await emu.stop()


async def mirror_with(
    client: PlexClient, path: Path, json_decoder: JsonDecoder | None
) -> sqlite3.Connection:
    """Every item of every section, read with ``json_decoder``, written into a store.

    Then a hundred of them again through ``/library/metadata/{ids}``, as an
    incremental sync refetches them. Returns a connection to the file.
    """
    sections = await client.raw_sections()
    store, _ = MirrorStore.open(path)
    try:
        store.set_libraries(sections)
        keys: list[str] = []
        for section in sections:
            for plex_type in TYPES_BY_SECTION[section["type"]]:
                items, total = await client.section_metadata(
                    section["key"], plex_type, size=5000, json_decoder=json_decoder
                )
                assert len(items) == total
                for item in items:
                    # As the sync marks photo albums (Plex types them photo).
                    if plex_type == 14:
                        item["type"] = "photoalbum"
                store.upsert_items(section["key"], items, paths=PATHS)
                keys.extend(str(item["ratingKey"]) for item in items[:10])
        batch = await client.metadata_batch(keys, json_decoder=json_decoder)
        assert len(batch) == len(keys)
        for section in sections:
            mine = [
                item
                for item in batch
                if str(item.get("librarySectionID")) == str(section["key"])
            ]
            store.upsert_items(section["key"], mine, paths=PATHS)
    finally:
        store.close()
    return sqlite3.connect(path)


async def test_the_mirrors_decode_stores_what_the_whole_decode_does(
    demo: PlexClient, tmp_path: Path
) -> None:
    """Two stores, one per decode, hold the same rows in every table."""
    whole = await mirror_with(demo, tmp_path / "whole.db", None)
    lean = await mirror_with(demo, tmp_path / "lean.db", decode_listing)
    try:
        for table, order in TABLES.items():
            query = f"SELECT * FROM {table} ORDER BY {order}"  # noqa: S608 - constants
            expected = whole.execute(query).fetchall()
            assert expected, f"{table} is empty: the test reads nothing"
            assert lean.execute(query).fetchall() == expected, table
        # Every kind of row the store writes is there to compare.
        kinds = {kind for (kind,) in whole.execute("SELECT DISTINCT kind FROM tags")}
        assert {"genre", "actor", "director", "writer"} <= kinds
        schemes = {
            s for (s,) in whole.execute("SELECT DISTINCT scheme FROM external_ids")
        }
        assert {"imdb", "tmdb", "tvdb", "plex"} <= schemes
        types = {t for (t,) in whole.execute("SELECT DISTINCT type FROM items")}
        assert types == {1, 2, 3, 4, 8, 9, 10, 13, 14}
        mapped = whole.execute(
            "SELECT count(*) FROM parts WHERE local_path LIKE 'D:\\Media\\%'"
        ).fetchone()[0]
        assert mapped > 0
    finally:
        whole.close()
        lean.close()


def test_the_decode_keeps_only_what_the_mirror_reads() -> None:
    """Fields the mirror never reads are not decoded; the ones it reads are."""
    body = orjson.dumps(
        {
            "MediaContainer": {
                "totalSize": 1,
                "art": "/art",
                "Metadata": [
                    {
                        "ratingKey": "7",
                        "title": "The Matrix",
                        "tagline": "Free your mind",
                        "Media": [{"bitrate": 8000, "Part": [{"file": "/m.mkv"}]}],
                        "Genre": [{"tag": "Action", "id": 5}],
                    }
                ],
            }
        }
    )

    assert decode_listing(body) == {
        "MediaContainer": {
            "totalSize": 1,
            "Metadata": [
                {
                    "ratingKey": "7",
                    "title": "The Matrix",
                    "Media": [{"Part": [{"file": "/m.mkv"}]}],
                    "Genre": [{"tag": "Action"}],
                }
            ],
        }
    }


def test_the_keys_decode_keeps_keys_and_counts() -> None:
    """``decode_keys``: whole items (a server that ignored ``includeFields``) or not."""
    item = {
        "ratingKey": "70",
        "title": "Season 1",
        "leafCount": 10,
        "childCount": 1,
        "Genre": [{"tag": "Drama"}],
    }
    body = orjson.dumps(
        {"MediaContainer": {"totalSize": 9, "offset": 2, "Metadata": [item]}}
    )

    assert decode_keys(body) == {
        "MediaContainer": {
            "totalSize": 9,
            "offset": 2,
            "Metadata": [{"ratingKey": "70", "leafCount": 10, "childCount": 1}],
        }
    }
    with pytest.raises(ValueError, match="not JSON"):
        decode_keys(b"<html>")


def test_every_tag_list_the_store_keeps_is_decoded() -> None:
    """The decoder names each of the store's tag lists (some no test library has)."""
    assert set(TAG_KINDS) <= ITEM_FIELDS


def test_another_shape_is_decoded_whole() -> None:
    """An object where Plex sends a list: every field, as the generic decode gives."""
    answer = {
        "MediaContainer": {
            "Metadata": [{"ratingKey": "7", "Media": {"Part": []}, "tagline": "x"}]
        }
    }

    assert decode_listing(orjson.dumps(answer)) == answer


@pytest.mark.parametrize("body", [b"<html>", b'{"MediaContainer": ', b"\xff"])
def test_a_body_that_is_not_json_raises_value_error(body: bytes) -> None:
    """As ``orjson.loads`` does: the client turns it into ``PlexMalformedError``."""
    with pytest.raises(ValueError, match="not JSON"):
        decode_listing(body)
