"""Tests of the library mirror, and Plex JSON builders the mirror's tests share.

The builders make ``Metadata`` dicts in the shape the emulator (and real Plex) sends
for ``/library/sections/{id}/all?type=N&includeGuids=1`` with ``Accept:
application/json``: ``ratingKey`` a string, ``Guid``/``Genre``/``Role`` lists of
dicts, ``Media`` > ``Part`` with ``file``. Only the fields a test names are set, so
a test reads as the library it describes.
"""

from __future__ import annotations

from typing import Any

SECTIONS = [
    {
        "key": "1",
        "title": "Movies",
        "type": "movie",
        "uuid": "u-1",
        "agent": "tv.plex.agents.movie",
    },
    {
        "key": "2",
        "title": "TV Shows",
        "type": "show",
        "uuid": "u-2",
        "agent": "tv.plex.agents.series",
    },
    {
        "key": "3",
        "title": "Music",
        "type": "artist",
        "uuid": "u-3",
        "agent": "tv.plex.agents.music",
    },
    {
        "key": "4",
        "title": "Photos",
        "type": "photo",
        "uuid": "u-4",
        "agent": "com.plexapp.agents.none",
    },
]


def tags(*names: str) -> list[dict[str, Any]]:
    """A tag list (``Genre``, ``Director``, ...)."""
    return [
        {"id": 100 + i, "filter": f"x={100 + i}", "tag": name}
        for i, name in enumerate(names)
    ]


def movie(rating_key: str, title: str, **fields: Any) -> dict[str, Any]:
    """A movie with a file under /data/movies."""
    return {
        "ratingKey": rating_key,
        "key": f"/library/metadata/{rating_key}",
        "guid": f"plex://movie/{int(rating_key):024x}",
        "type": "movie",
        "title": title,
        "librarySectionID": 1,
        "addedAt": 1_700_000_000,
        "updatedAt": 1_700_000_000,
        "Media": [
            {
                "id": int(rating_key),
                "Part": [{"id": int(rating_key), "file": f"/data/movies/{title}.mkv"}],
            }
        ],
        **fields,
    }


def show(rating_key: str, title: str, **fields: Any) -> dict[str, Any]:
    """A show (a Directory: its key lists its children)."""
    return {
        "ratingKey": rating_key,
        "key": f"/library/metadata/{rating_key}/children",
        "guid": f"plex://show/{int(rating_key):024x}",
        "type": "show",
        "title": title,
        "addedAt": 1_700_000_000,
        "updatedAt": 1_700_000_000,
        **fields,
    }


def season(
    rating_key: str, show_item: dict[str, Any], index: int, **fields: Any
) -> dict[str, Any]:
    """A season of ``show_item``."""
    return {
        "ratingKey": rating_key,
        "key": f"/library/metadata/{rating_key}/children",
        "parentRatingKey": show_item["ratingKey"],
        "type": "season",
        "title": f"Season {index}",
        "parentTitle": show_item["title"],
        "index": index,
        "parentIndex": 1,
        **fields,
    }


def episode(
    rating_key: str, season_item: dict[str, Any], index: int, title: str, **fields: Any
) -> dict[str, Any]:
    """An episode of ``season_item`` with a file under /data/tv."""
    return {
        "ratingKey": rating_key,
        "key": f"/library/metadata/{rating_key}",
        "parentRatingKey": season_item["ratingKey"],
        "grandparentRatingKey": season_item["parentRatingKey"],
        "type": "episode",
        "title": title,
        "parentTitle": season_item["title"],
        "grandparentTitle": season_item["parentTitle"],
        "index": index,
        "parentIndex": season_item["index"],
        "Media": [
            {"Part": [{"file": f"/data/tv/{season_item['parentTitle']}/{title}.mkv"}]}
        ],
        **fields,
    }


def artist(rating_key: str, title: str, **fields: Any) -> dict[str, Any]:
    """An artist."""
    return {
        "ratingKey": rating_key,
        "key": f"/library/metadata/{rating_key}/children",
        "type": "artist",
        "title": title,
        **fields,
    }


def album(
    rating_key: str, artist_item: dict[str, Any], title: str, **fields: Any
) -> dict[str, Any]:
    """An album of ``artist_item``."""
    return {
        "ratingKey": rating_key,
        "key": f"/library/metadata/{rating_key}/children",
        "parentRatingKey": artist_item["ratingKey"],
        "type": "album",
        "title": title,
        "parentTitle": artist_item["title"],
        **fields,
    }


def track(
    rating_key: str, album_item: dict[str, Any], index: int, title: str, **fields: Any
) -> dict[str, Any]:
    """A track of ``album_item``."""
    return {
        "ratingKey": rating_key,
        "key": f"/library/metadata/{rating_key}",
        "parentRatingKey": album_item["ratingKey"],
        "grandparentRatingKey": album_item["parentRatingKey"],
        "type": "track",
        "title": title,
        "parentTitle": album_item["title"],
        "grandparentTitle": album_item["parentTitle"],
        "index": index,
        "Media": [{"Part": [{"file": f"/data/music/{title}.flac"}]}],
        **fields,
    }


def photo_album(rating_key: str, title: str, **fields: Any) -> dict[str, Any]:
    """A photo album: Plex says ``type: "photo"`` and gives it a ``/children`` key."""
    return {
        "ratingKey": rating_key,
        "key": f"/library/metadata/{rating_key}/children",
        "guid": "com.plexapp.agents.none://c767e66f7d60e730ef9564de?lang=xn",
        "type": "photo",
        "title": title,
        **fields,
    }


def photo(
    rating_key: str, album_item: dict[str, Any] | None, title: str, **fields: Any
) -> dict[str, Any]:
    """A photo, in ``album_item`` or loose."""
    item: dict[str, Any] = {
        "ratingKey": rating_key,
        "key": f"/library/metadata/{rating_key}",
        "type": "photo",
        "title": title,
        "Media": [{"Part": [{"file": f"/data/photos/{title}.jpg"}]}],
        **fields,
    }
    if album_item is not None:
        item["parentRatingKey"] = album_item["ratingKey"]
        item["parentTitle"] = album_item["title"]
    return item
