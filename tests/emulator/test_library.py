"""The emulated library over real HTTP.

Sections, paging, queries, metadata, search, collections, playlists, hubs, watch
state, changes and their notifications, images, and the generator behind it.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
import json
import struct
from typing import Any
from xml.etree.ElementTree import Element

import aiohttp
from defusedxml.ElementTree import fromstring
import pytest

from tests.plex_server import Clock, PlexEmulator, node
from tests.plex_server.generator import PRESETS, generate
from tests.plex_server.items import QUICK_FIELDS, Item
from tests.plex_server.library import build

THE_MATRIX = 1  # the small preset starts with The Matrix trilogy
NOTIFICATION_TIMEOUT = 5  # a safety net; notifications are published synchronously
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def get_xml(
    owner_http: aiohttp.ClientSession, path: str, **kwargs: Any
) -> tuple[Element, dict[str, str]]:
    """GET a path; the parsed XML root and the response headers (asserts 200)."""
    async with owner_http.get(path, **kwargs) as response:
        body = await response.text()
        assert response.status == 200, body
        assert response.content_type == "text/xml"
        return fromstring(body), dict(response.headers)


async def get_json(
    owner_http: aiohttp.ClientSession, path: str, **kwargs: Any
) -> dict[str, Any]:
    """GET a path as JSON; its ``MediaContainer`` (asserts 200)."""
    headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
    async with owner_http.get(path, headers=headers, **kwargs) as response:
        assert response.status == 200, await response.text()
        assert response.content_type == "application/json"
        data: dict[str, Any] = (await response.json())["MediaContainer"]
        return data


async def status_of(
    owner_http: aiohttp.ClientSession, method: str, path: str, **kwargs: Any
) -> int:
    """The status of one request."""
    async with owner_http.request(method, path, **kwargs) as response:
        await response.read()
        return response.status


def keys(root: Element) -> list[str]:
    """The ratingKeys of a container's items, in order."""
    return [child.attrib["ratingKey"] for child in root if "ratingKey" in child.attrib]


def movies(emu: PlexEmulator) -> list[Item]:
    """The movies of the emulated library."""
    return emu.library.sections[1].by_kind["movie"]


# -- sections -----------------------------------------------------------------------


async def test_sections_in_xml_and_json(owner_http: aiohttp.ClientSession) -> None:
    """``/library/sections`` lists the four sections, with their Location, in both forms."""
    root, _ = await get_xml(owner_http, "/library/sections")
    assert root.attrib["size"] == "4"
    assert root.attrib["identifier"] == "com.plexapp.plugins.library"
    sections = [(d.attrib["key"], d.attrib["type"], d.attrib["title"]) for d in root]
    assert sections == [
        ("1", "movie", "Movies"),
        ("2", "show", "TV Shows"),
        ("3", "artist", "Music"),
        ("4", "photo", "Photos"),
    ]
    assert root[0].find("Location").attrib["path"] == "/data/movies"
    assert root[0].attrib["agent"] == "tv.plex.agents.movie"

    data = await get_json(owner_http, "/library/sections")
    assert data["size"] == 4
    assert data["Directory"][1]["type"] == "show"
    assert data["Directory"][1]["Location"] == [{"id": 2, "path": "/data/tv"}]
    assert data["Directory"][0]["refreshing"] is False


async def test_section_all_lists_movies_with_media(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """``/all`` lists every movie by title, each with Media > Part and tags."""
    root, _ = await get_xml(owner_http, "/library/sections/1/all")
    assert root.attrib["size"] == str(len(movies(plex_server)))
    assert "totalSize" not in root.attrib  # only paged answers carry it
    assert root.attrib["librarySectionID"] == "1"
    assert root.attrib["viewGroup"] == "movie"
    titles = [video.attrib.get("titleSort", video.attrib["title"]) for video in root]
    assert titles == sorted(titles, key=str.casefold)
    matrix = next(v for v in root if v.attrib["ratingKey"] == str(THE_MATRIX))
    assert matrix.attrib["title"] == "The Matrix"
    assert matrix.attrib["guid"].startswith("plex://movie/")
    part = matrix.find("Media/Part")
    assert part is not None
    assert part.attrib["file"].startswith(
        "/data/movies/The Matrix (1999)/The Matrix (1999)."
    )
    assert matrix.find("Genre") is not None
    assert matrix.find("Guid") is None  # without includeGuids=1


@pytest.mark.parametrize("where", ["header", "query"])
async def test_paging(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator, where: str
) -> None:
    """Container start/size page the list, as header or query, with totalSize/offset."""
    everything, _ = await get_xml(owner_http, "/library/sections/1/all")
    total = len(movies(plex_server))
    seen: list[str] = []
    for start in range(0, total, 5):
        paging = {"X-Plex-Container-Start": str(start), "X-Plex-Container-Size": "5"}
        extra = {"headers": paging} if where == "header" else {"params": paging}
        root, headers = await get_xml(owner_http, "/library/sections/1/all", **extra)
        assert root.attrib["totalSize"] == str(total)
        assert root.attrib["offset"] == str(start)
        assert root.attrib["size"] == str(min(5, total - start))
        assert headers["X-Plex-Container-Start"] == str(start)
        assert headers["X-Plex-Container-Total-Size"] == str(total)
        seen += keys(root)
    assert seen == keys(everything)


async def test_size_zero_counts_only(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """Size 0 answers the total alone (``library_tvshows_size_episodes.xml``)."""
    params = {"type": "4", "X-Plex-Container-Start": "0", "X-Plex-Container-Size": "0"}
    root, _ = await get_xml(owner_http, "/library/sections/2/all", params=params)
    assert root.attrib["size"] == "0"
    assert root.attrib["totalSize"] == str(plex_server.library.count("episode"))
    assert len(root) == 0


async def test_paging_errors(owner_http: aiohttp.ClientSession) -> None:
    """Paging values that are not numbers are a bad request."""
    assert (
        await status_of(
            owner_http,
            "GET",
            "/library/sections/1/all",
            params={"X-Plex-Container-Start": "x"},
        )
        == 400
    )
    assert await status_of(owner_http, "GET", "/library/sections/9/all") == 404


TYPES = {
    # type code: (section, kind, XML element)
    2: (2, "show", "Directory"),
    3: (2, "season", "Directory"),
    4: (2, "episode", "Video"),
    8: (3, "artist", "Directory"),
    9: (3, "album", "Directory"),
    10: (3, "track", "Track"),
    13: (4, "photo", "Photo"),
    14: (4, "photoalbum", "Directory"),
}


@pytest.mark.parametrize("code", sorted(TYPES))
async def test_type(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator, code: int
) -> None:
    """``type=`` lists one kind of a section."""
    section, kind, tag = TYPES[code]
    root, _ = await get_xml(
        owner_http, f"/library/sections/{section}/all", params={"type": str(code)}
    )
    assert int(root.attrib["size"]) == plex_server.library.count(kind) > 0
    assert {child.tag for child in root} == {tag}
    assert {child.attrib["type"] for child in root} == {
        "photo" if kind == "photoalbum" else kind
    }


async def test_type_of_another_section_is_empty(
    owner_http: aiohttp.ClientSession,
) -> None:
    """Asking a show section for movies finds nothing."""
    root, _ = await get_xml(owner_http, "/library/sections/2/all", params={"type": "1"})
    assert root.attrib["size"] == "0"


async def test_sort(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """``sort=`` orders by a field, ``:desc`` reverses, kinds may prefix fields."""
    root, _ = await get_xml(
        owner_http, "/library/sections/1/all", params={"sort": "addedAt:desc"}
    )
    added = [int(video.attrib["addedAt"]) for video in root]
    assert added == sorted(added, reverse=True)
    root, _ = await get_xml(
        owner_http, "/library/sections/1/all", params={"sort": "movie.year"}
    )
    years = [int(video.attrib["year"]) for video in root]
    assert years == sorted(years)
    params = {"type": "4", "sort": "episode.addedAt:desc"}
    root, _ = await get_xml(owner_http, "/library/sections/2/all", params=params)
    assert keys(root)[0] == str(
        max(
            plex_server.library.sections[2].by_kind["episode"], key=lambda e: e.added_at
        ).rating_key
    )


async def test_title_filters(owner_http: aiohttp.ClientSession) -> None:
    """``title=`` contains, ``title==`` is, ``title<=`` begins with (case-insensitive)."""
    root, _ = await get_xml(owner_http, "/library/sections/1/all?title=matrix")
    assert [v.attrib["title"] for v in root] == [
        "The Matrix",
        "The Matrix Reloaded",
        "The Matrix Revolutions",
    ]
    root, _ = await get_xml(owner_http, "/library/sections/1/all?title==the%20matrix")
    assert [v.attrib["title"] for v in root] == ["The Matrix"]
    root, _ = await get_xml(owner_http, "/library/sections/1/all?title%3C=back%20to")
    assert {v.attrib["title"] for v in root} == {
        "Back to the Future",
        "Back to the Future Part II",
        "Back to the Future Part III",
    }
    root, _ = await get_xml(
        owner_http, "/library/sections/2/all?type=4&show.title==Breaking%20Bad"
    )
    assert {v.attrib["grandparentTitle"] for v in root} == {"Breaking Bad"}


async def test_date_filters(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator, emulator_clock: Clock
) -> None:
    """``updatedAt>>=`` finds what changed after a moment; ``addedAt>>=`` what is newer."""
    since = emulator_clock.timestamp()
    root, _ = await get_xml(owner_http, f"/library/sections/1/all?updatedAt>>={since}")
    assert root.attrib["size"] == "0"
    emulator_clock.advance(60)
    plex_server.library.update_item(THE_MATRIX, summary="Red pill or blue pill.")
    root, _ = await get_xml(owner_http, f"/library/sections/1/all?updatedAt>>={since}")
    assert keys(root) == [str(THE_MATRIX)]
    assert root[0].attrib["summary"] == "Red pill or blue pill."
    assert root[0].attrib["updatedAt"] == str(since + 60)

    median = sorted(movie.added_at for movie in movies(plex_server))[6]
    root, _ = await get_xml(owner_http, f"/library/sections/1/all?addedAt>>={median}")
    expected = {str(m.rating_key) for m in movies(plex_server) if m.added_at > median}
    assert set(keys(root)) == expected
    root, _ = await get_xml(owner_http, "/library/sections/1/all?addedAt>>=-1d")
    assert root.attrib["size"] == "0"  # the generated world was added before yesterday


async def test_tag_and_boolean_filters(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """Tag filters take names or ids; ``unwatched=1`` finds the unplayed."""
    root, _ = await get_xml(
        owner_http, "/library/sections/1/all?genre=Science%20Fiction"
    )
    assert str(THE_MATRIX) in keys(root)
    genre_id = next(
        g.attrib["id"]
        for g in root[0].iter("Genre")
        if g.attrib["tag"] == "Science Fiction"
    )
    by_id, _ = await get_xml(owner_http, f"/library/sections/1/all?genre={genre_id}")
    assert keys(by_id) == keys(root)
    root, _ = await get_xml(owner_http, "/library/sections/1/all?unwatched=1")
    assert set(keys(root)) == {
        str(m.rating_key) for m in movies(plex_server) if not m.view_count
    }
    assert (
        await status_of(owner_http, "GET", "/library/sections/1/all?year>=2000") == 400
    )


async def test_include_guids(owner_http: aiohttp.ClientSession) -> None:
    """``includeGuids=1`` adds imdb/tmdb/tvdb ``Guid`` children, in XML and JSON."""
    root, _ = await get_xml(
        owner_http, "/library/sections/1/all", params={"includeGuids": "1"}
    )
    guids = [guid.attrib["id"] for guid in root[0].findall("Guid")]
    assert [guid.split("://")[0] for guid in guids] == ["imdb", "tmdb", "tvdb"]
    assert guids[0].startswith("imdb://tt")
    data = await get_json(
        owner_http, "/library/sections/1/all", params={"includeGuids": "1"}
    )
    assert [guid["id"] for guid in data["Metadata"][0]["Guid"]] == guids
    data = await get_json(owner_http, "/library/sections/1/all")
    assert "Guid" not in data["Metadata"][0]


async def test_include_fields_trims_item_attributes(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """``includeFields`` keeps only the named attributes of each item, in XML and JSON.

    The container's own attributes (paging) stay, and so do the child elements:
    fields and elements are asked for separately (see ``shaping``).
    """
    params = {
        "includeFields": "ratingKey,title",
        "X-Plex-Container-Start": "1",
        "X-Plex-Container-Size": "2",
    }
    data = await get_json(owner_http, "/library/sections/1/all", params=params)
    assert (data["size"], data["offset"]) == (2, 1)
    assert data["totalSize"] == len(movies(plex_server))
    whole = await get_json(
        owner_http,
        "/library/sections/1/all",
        params={"X-Plex-Container-Start": "1", "X-Plex-Container-Size": "2"},
    )
    for trimmed, item in zip(data["Metadata"], whole["Metadata"], strict=True):
        attributes = {
            key for key, value in trimmed.items() if not isinstance(value, list)
        }
        assert attributes == {"ratingKey", "title"}
        assert (trimmed["ratingKey"], trimmed["title"]) == (
            item["ratingKey"],
            item["title"],
        )
        assert trimmed["Media"] == item["Media"]
        assert trimmed["Genre"] == item["Genre"]
    root, _ = await get_xml(
        owner_http, "/library/sections/1/all", params={"includeFields": "ratingKey"}
    )
    assert {tuple(video.attrib) for video in root} == {("ratingKey",)}
    assert root.attrib["size"] == str(len(movies(plex_server)))


async def test_exclude_fields_and_elements(owner_http: aiohttp.ClientSession) -> None:
    """``excludeFields`` / ``excludeElements`` leave the named ones off each item."""
    whole = await get_json(owner_http, "/library/sections/1/all")
    data = await get_json(
        owner_http,
        "/library/sections/1/all",
        params={"excludeFields": "summary,tagline", "excludeElements": "Media,Role"},
    )
    for trimmed, item in zip(data["Metadata"], whole["Metadata"], strict=True):
        assert "summary" in item
        assert "Media" in item
        assert "Role" in item
        expected = {
            key: value
            for key, value in item.items()
            if key not in {"summary", "tagline", "Media", "Role"}
        }
        assert trimmed == expected


async def test_include_elements(owner_http: aiohttp.ClientSession) -> None:
    """``includeElements`` keeps only the named child elements; keys-only listings."""
    data = await get_json(
        owner_http,
        "/library/sections/1/all",
        params={"includeGuids": "1", "includeElements": "Guid"},
    )
    assert all(
        [key for key, value in item.items() if isinstance(value, list)] == ["Guid"]
        for item in data["Metadata"]
    )
    # What an orphan check reads: keys and nothing else, episodes included.
    data = await get_json(
        owner_http,
        "/library/sections/2/all",
        params={
            "type": "4",
            "includeFields": "ratingKey",
            "excludeElements": "Media,Genre,Director,Writer,Role,Country,Guid",
        },
    )
    assert data["Metadata"]
    assert all(list(item) == ["ratingKey"] for item in data["Metadata"])


async def test_metadata_honours_response_customization(
    owner_http: aiohttp.ClientSession,
) -> None:
    """``/library/metadata/{ids}`` trims its details the same way."""
    data = await get_json(
        owner_http,
        f"/library/metadata/{THE_MATRIX},{THE_MATRIX + 1}",
        params={"includeFields": "ratingKey,updatedAt", "includeElements": "Media"},
    )
    assert [sorted(item) for item in data["Metadata"]] == [
        ["Media", "ratingKey", "updatedAt"]
    ] * 2
    assert data["Metadata"][0]["Media"][0]["Part"][0]["file"]


def test_quick_fields_are_the_attributes_themselves() -> None:
    """``named_attrs`` gives what ``attrs`` gives for those names, item by item.

    Over every item of the demo world (every kind, played and unplayed,
    parents with counts), each quick field alone and all of them at once.
    """
    library = build("demo", clock=Clock())
    renderer = library.renderer
    names = [frozenset({name}) for name in QUICK_FIELDS]
    names.append(frozenset(QUICK_FIELDS))
    kinds = set()
    for item in library.items.values():
        kinds.add(item.kind)
        attrs = renderer.attrs(item)
        for wanted in names:
            quick = renderer.named_attrs(item, wanted)
            assert quick is not None
            # (None is no attribute: ``Node`` drops it.)
            expected = {k: v for k, v in attrs.items() if k in wanted and v is not None}
            assert quick == expected, item
    assert kinds >= {"movie", "show", "season", "episode", "artist", "album", "track"}
    # Any other name: the whole attributes are built instead.
    some_item = next(iter(library.items.values()))
    assert renderer.named_attrs(some_item, frozenset({"ratingKey", "title"})) is None


async def test_empty_customization_is_ignored(
    owner_http: aiohttp.ClientSession,
) -> None:
    """An empty list asks for nothing in particular: the whole items."""
    whole = await get_json(owner_http, "/library/sections/1/all")
    data = await get_json(
        owner_http,
        "/library/sections/1/all",
        params={"includeFields": "", "includeElements": ""},
    )
    assert data == whole


async def test_json_types(owner_http: aiohttp.ClientSession) -> None:
    """JSON values are typed as in the spec: ratingKey a string, ids and dates numbers."""
    data = await get_json(
        owner_http,
        "/library/sections/2/all",
        params={"type": "4", "X-Plex-Container-Size": "1"},
    )
    assert (
        data["totalSize"] > 1 and data["offset"] == 0 and data["librarySectionID"] == 2
    )
    episode = data["Metadata"][0]
    assert isinstance(episode["ratingKey"], str)
    assert isinstance(episode["grandparentRatingKey"], str)
    assert isinstance(episode["librarySectionID"], int)
    assert isinstance(episode["addedAt"], int) and isinstance(episode["index"], int)
    assert isinstance(episode["Media"][0]["Part"][0]["size"], int)
    assert episode["Media"][0]["optimizedForStreaming"] in (True, False)


async def test_include_meta(owner_http: aiohttp.ClientSession) -> None:
    """``includeMeta=1`` describes filters, sorts and fields; JSON has one Meta object."""
    params = {
        "includeMeta": "1",
        "X-Plex-Container-Start": "0",
        "X-Plex-Container-Size": "0",
    }
    root, _ = await get_xml(owner_http, "/library/sections/2/all", params=params)
    meta = root.find("Meta")
    assert meta is not None
    assert [t.attrib["type"] for t in meta.findall("Type")] == [
        "show",
        "season",
        "episode",
    ]
    episode_fields = [
        f.attrib["key"] for f in meta.findall("Type[@type='episode']/Field")
    ]
    assert "episode.addedAt" in episode_fields
    assert {ft.attrib["type"] for ft in meta.findall("FieldType")} >= {
        "tag",
        "integer",
        "string",
        "boolean",
        "date",
    }
    data = await get_json(owner_http, "/library/sections/1/all", params=params)
    assert isinstance(data["Meta"], dict)
    assert data["Meta"]["Type"][0]["Sort"][0]["key"] == "titleSort"


async def test_sorts_and_filter_values(owner_http: aiohttp.ClientSession) -> None:
    """``/sorts`` lists sort directories; ``/genre`` the genres with their filter keys."""
    root, _ = await get_xml(owner_http, "/library/sections/1/sorts")
    assert root[0].attrib == {
        "default": "asc",
        "defaultDirection": "asc",
        "descKey": "titleSort:desc",
        "firstCharacterKey": "/library/sections/1/firstCharacter",
        "key": "titleSort",
        "title": "Title",
    }
    root, _ = await get_xml(owner_http, "/library/sections/1/genre")
    action = next(d for d in root if d.attrib["title"] == "Action")
    assert (
        action.attrib["fastKey"]
        == f"/library/sections/1/all?genre={action.attrib['key']}"
    )
    assert await status_of(owner_http, "GET", "/library/sections/1/nonsense") == 404


async def test_library_all_queries_every_section(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """``/library/all``: the section query (type, filters, sort, paging) across sections."""
    # What python-plexapi's library.search(title=..., libtype="movie") sends.
    params = {"includeGuids": "1", "title": "matrix", "type": "1"}
    root, _ = await get_xml(owner_http, "/library/all", params=params)
    assert [v.attrib["title"] for v in root] == [
        "The Matrix",
        "The Matrix Reloaded",
        "The Matrix Revolutions",
    ]
    assert {v.attrib["librarySectionID"] for v in root} == {"1"}
    assert root[0].find("Guid") is not None

    paged = {
        "type": "4",
        "sort": "addedAt:desc",
        "X-Plex-Container-Start": "2",
        "X-Plex-Container-Size": "3",
    }
    across, headers = await get_xml(owner_http, "/library/all", params=paged)
    in_section, _ = await get_xml(owner_http, "/library/sections/2/all", params=paged)
    assert len(keys(across)) == 3
    assert keys(across) == keys(in_section)
    assert across.attrib["totalSize"] == str(plex_server.library.count("episode"))
    assert headers["X-Plex-Container-Total-Size"] == across.attrib["totalSize"]

    everything, _ = await get_xml(owner_http, "/library/all")
    sections = plex_server.library.sections.values()
    assert int(everything.attrib["size"]) == sum(len(s.top_level()) for s in sections)
    assert {v.attrib["librarySectionID"] for v in everything} == {"1", "2", "3", "4"}
    # One list sorted by title, not one section after another.
    titles = [v.attrib.get("titleSort", v.attrib["title"]) for v in everything]
    assert titles == sorted(titles, key=str.casefold)
    section_ids = [v.attrib["librarySectionID"] for v in everything]
    assert section_ids != sorted(section_ids)
    assert await status_of(owner_http, "GET", "/library/all?year>=2000") == 400


async def test_library_all_of_a_shared_user(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """A shared user's ``/library/all`` holds only the sections shared with them."""
    sam = next(u for u in plex_server.library.shared_users if u.name == "Sam")
    as_sam = {"X-Plex-Token": sam.token}
    root, _ = await get_xml(owner_http, "/library/all", headers=as_sam)
    assert {v.attrib["librarySectionID"] for v in root} == {"1", "2"}
    tracks, _ = await get_xml(
        owner_http, "/library/all", params={"type": "10"}, headers=as_sam
    )
    assert tracks.attrib["size"] == "0"
    owner_tracks, _ = await get_xml(owner_http, "/library/all", params={"type": "10"})
    assert owner_tracks.attrib["size"] == str(plex_server.library.count("track"))


# -- metadata ----------------------------------------------------------------------


async def test_metadata_of_several_items(owner_http: aiohttp.ClientSession) -> None:
    """``/library/metadata/1,2,3`` details each item: streams, every tag (Guids on request)."""
    root, _ = await get_xml(owner_http, "/library/metadata/1,2,3")
    assert root.attrib["size"] == "3"
    assert keys(root) == ["1", "2", "3"]
    streams = root[0].findall("Media/Part/Stream")
    assert [s.attrib["streamType"] for s in streams[:2]] == ["1", "2"]
    assert len(root[0].findall("Role")) > 3  # every role, where lists show three
    assert root[0].find("Guid") is None
    with_guids, _ = await get_xml(
        owner_http, "/library/metadata/1", params={"includeGuids": "1"}
    )
    assert with_guids[0].find("Guid") is not None
    assert await status_of(owner_http, "GET", "/library/metadata/999999") == 404
    root, _ = await get_xml(owner_http, "/library/metadata/1,999999")
    assert keys(root) == ["1"]


async def test_show_children_and_leaves(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """A show's children are seasons, a season's are episodes; allLeaves are all episodes."""
    show = plex_server.library.sections[2].by_kind["show"][0]
    root, _ = await get_xml(owner_http, f"/library/metadata/{show.rating_key}/children")
    assert root.attrib["key"] == str(show.rating_key)
    assert root.attrib["title2"] == show.title
    assert root.attrib["viewGroup"] == "season"
    assert [s.attrib["index"] for s in root] == [
        str(i) for i in range(1, len(root) + 1)
    ]
    season = root[0]
    assert season.attrib["parentTitle"] == show.title
    episodes, _ = await get_xml(owner_http, season.attrib["key"])
    assert episodes.attrib["viewGroup"] == "episode"
    assert episodes.attrib["grandparentTitle"] == show.title
    assert all(
        e.attrib["parentRatingKey"] == season.attrib["ratingKey"] for e in episodes
    )
    assert season.attrib["leafCount"] == str(len(episodes))
    leaves, _ = await get_xml(
        owner_http, f"/library/metadata/{show.rating_key}/allLeaves"
    )
    assert int(leaves.attrib["size"]) == len(show.leaves())
    assert keys(leaves)[: len(episodes)] == keys(episodes)


async def test_recently_added_and_on_deck(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """Recently added is newest first; On Deck holds the items in progress."""
    root, _ = await get_xml(
        owner_http, "/library/recentlyAdded", params={"X-Plex-Container-Size": "5"}
    )
    assert root.attrib["size"] == "5"
    section_root, _ = await get_xml(owner_http, "/library/sections/1/recentlyAdded")
    added = [int(v.attrib["addedAt"]) for v in section_root]
    assert added == sorted(added, reverse=True)
    plex_server.library.set_progress(THE_MATRIX, 600_000)
    root, _ = await get_xml(owner_http, "/library/onDeck")
    assert keys(root)[0] == str(THE_MATRIX)
    assert root[0].attrib["viewOffset"] == "600000"


async def test_children_show_streams_and_trailers(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """A season's episodes list their streams; primaryExtraKey names a trailer."""
    season = plex_server.library.sections[2].by_kind["season"][0]
    root, _ = await get_xml(
        owner_http, f"/library/metadata/{season.rating_key}/children"
    )
    streams = root[0].findall("Media/Part/Stream")
    assert [s.attrib["streamType"] for s in streams][:2] == ["1", "2"]
    # Embedded streams have no key (real Plex keys only sidecar files); parts do.
    assert all("key" not in stream.attrib for stream in streams)
    part = root[0].find("Media/Part")
    assert part is not None
    assert part.attrib["key"].startswith(f"/library/parts/{part.attrib['id']}/")
    movie, _ = await get_xml(owner_http, f"/library/metadata/{THE_MATRIX}")
    trailer_key = movie[0].attrib["primaryExtraKey"]
    trailer, _ = await get_xml(owner_http, trailer_key)
    assert trailer[0].attrib["type"] == "clip"
    assert trailer[0].attrib["subtype"] == "trailer"
    assert trailer[0].attrib["key"] == trailer_key
    extras, _ = await get_xml(owner_http, f"/library/metadata/{THE_MATRIX}/extras")
    assert [v.attrib["key"] for v in extras] == [trailer_key]


# -- search, collections, playlists ---------------------------------------------------------


async def test_hub_search(owner_http: aiohttp.ClientSession) -> None:
    """``/hubs/search`` answers hubs per type, ``limit`` items each (3 by default)."""
    root, _ = await get_xml(owner_http, "/hubs/search", params={"query": "matrix"})
    hubs = {hub.attrib["type"]: hub for hub in root}
    assert [v.attrib["title"] for v in hubs["movie"]] == [
        "The Matrix",
        "The Matrix Reloaded",
        "The Matrix Revolutions",
    ]
    assert [d.attrib["title"] for d in hubs["collection"]] == ["The Matrix Collection"]
    root, _ = await get_xml(
        owner_http, "/hubs/search", params={"query": "the", "limit": "1"}
    )
    movie_hub = next(hub for hub in root if hub.attrib["type"] == "movie")
    assert movie_hub.attrib["size"] == "1" and movie_hub.attrib["more"] == "1"
    data = await get_json(
        owner_http, "/hubs/search", params={"query": "matrix", "sectionId": "2"}
    )
    assert data["size"] == 0
    assert await status_of(owner_http, "GET", "/hubs/search") == 400


async def test_collections(owner_http: aiohttp.ClientSession) -> None:
    """Section collections and a collection's children."""
    root, _ = await get_xml(owner_http, "/library/sections/1/collections")
    matrix = next(d for d in root if d.attrib["title"] == "The Matrix Collection")
    assert matrix.attrib["type"] == "collection"
    assert matrix.attrib["subtype"] == "movie"
    assert matrix.attrib["childCount"] == "3"
    assert matrix.attrib["minYear"] == "1999" and matrix.attrib["maxYear"] == "2003"
    children, _ = await get_xml(owner_http, matrix.attrib["key"])
    assert [v.attrib["title"] for v in children] == [
        "The Matrix",
        "The Matrix Reloaded",
        "The Matrix Revolutions",
    ]
    by_type, _ = await get_xml(
        owner_http, "/library/sections/1/all", params={"type": "18"}
    )
    assert keys(by_type) == keys(root)


async def test_playlists(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """``/playlists`` lists video and audio playlists; items carry playlistItemID."""
    root, _ = await get_xml(owner_http, "/playlists")
    assert {p.attrib["playlistType"] for p in root} == {"video", "audio"}
    audio, _ = await get_xml(owner_http, "/playlists", params={"playlistType": "audio"})
    assert {p.attrib["playlistType"] for p in audio} == {"audio"}
    playlist = next(p for p in root if p.attrib["title"] == "Movie Night")
    items, _ = await get_xml(owner_http, playlist.attrib["key"])
    assert items.attrib["leafCount"] == playlist.attrib["leafCount"] == str(len(items))
    assert items.attrib["playlistType"] == "video"
    entry_ids = [v.attrib["playlistItemID"] for v in items]
    assert len(set(entry_ids)) == len(entry_ids)
    data = await get_json(
        owner_http, playlist.attrib["key"], params={"X-Plex-Container-Size": "2"}
    )
    assert data["size"] == 2 and data["totalSize"] == len(items)
    assert isinstance(data["Metadata"][0]["playlistItemID"], int)
    assert data["Metadata"][0]["ratingKey"] == items[0].attrib["ratingKey"]


async def test_home_and_section_hubs(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """``/hubs`` has continue watching, recently added per type, recent playlists."""
    root, _ = await get_xml(owner_http, "/hubs", params={"count": "2"})
    hubs = {hub.attrib["hubIdentifier"]: hub for hub in root}
    assert list(hubs) == [
        "home.continue",
        "home.movies.recent",
        "home.television.recent",
        "home.music.recent",
        "home.photos.recent",
        "home.playlists",
    ]
    movies_hub = hubs["home.movies.recent"]
    assert movies_hub.attrib["size"] == "2" and movies_hub.attrib["more"] == "1"
    everything, _ = await get_xml(owner_http, movies_hub.attrib["key"])
    assert keys(everything)[:2] == keys(movies_hub)
    continuing = hubs["home.continue"]
    assert str(THE_MATRIX) in keys(continuing)  # watched again, in progress
    music, _ = await get_xml(owner_http, "/hubs/sections/3")
    assert [hub.attrib["type"] for hub in music] == ["station", "album"]
    assert music[0][0].attrib["radio"] == "1"
    sam = next(u for u in plex_server.library.shared_users if u.name == "Sam")
    status = await status_of(
        owner_http, "GET", "/hubs/sections/3", headers={"X-Plex-Token": sam.token}
    )
    assert status == 404


# -- watch state ----------------------------------------------------------------------


async def test_scrobble_and_unscrobble(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """``/:/scrobble`` adds a play, ``/:/unscrobble`` clears them; a show marks all episodes."""
    params = {"key": str(THE_MATRIX), "identifier": "com.plexapp.plugins.library"}
    before = plex_server.library.get(THE_MATRIX).view_count
    assert await status_of(owner_http, "PUT", "/:/scrobble", params=params) == 200
    root, _ = await get_xml(owner_http, f"/library/metadata/{THE_MATRIX}")
    assert root[0].attrib["viewCount"] == str(before + 1)
    assert await status_of(owner_http, "GET", "/:/unscrobble", params=params) == 200
    root, _ = await get_xml(owner_http, f"/library/metadata/{THE_MATRIX}")
    assert "viewCount" not in root[0].attrib

    show = plex_server.library.sections[2].by_kind["show"][1]
    await status_of(
        owner_http, "PUT", "/:/scrobble", params={**params, "key": str(show.rating_key)}
    )
    root, _ = await get_xml(owner_http, f"/library/metadata/{show.rating_key}")
    assert root[0].attrib["viewedLeafCount"] == root[0].attrib["leafCount"]

    assert (
        await status_of(
            owner_http,
            "PUT",
            "/:/scrobble",
            params={"identifier": params["identifier"]},
        )
        == 400
    )
    assert (
        await status_of(
            owner_http,
            "PUT",
            "/:/scrobble",
            params={**params, "identifier": "tv.plex.other"},
        )
        == 404
    )
    assert (
        await status_of(
            owner_http, "PUT", "/:/scrobble", params={**params, "key": "999999"}
        )
        == 404
    )


async def test_timeline(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """``/:/timeline`` stores the resume point; past 90% it counts a play."""
    movie = plex_server.library.get(THE_MATRIX)
    duration = movie.duration or 0
    views = movie.view_count
    params = {
        "ratingKey": str(THE_MATRIX),
        "key": f"/library/metadata/{THE_MATRIX}",
        "state": "stopped",
    }
    assert (
        await status_of(
            owner_http, "POST", "/:/timeline", params={**params, "time": "600000"}
        )
        == 200
    )
    root, _ = await get_xml(owner_http, f"/library/metadata/{THE_MATRIX}")
    assert root[0].attrib["viewOffset"] == "600000"
    await status_of(
        owner_http, "POST", "/:/timeline", params={**params, "time": "30000"}
    )
    root, _ = await get_xml(owner_http, f"/library/metadata/{THE_MATRIX}")
    assert "viewOffset" not in root[0].attrib  # no resume point in the first minute
    await status_of(
        owner_http,
        "POST",
        "/:/timeline",
        params={**params, "state": "playing", "time": "600000"},
    )
    await status_of(
        owner_http,
        "POST",
        "/:/timeline",
        params={**params, "time": str(duration - 1000)},
    )
    assert (movie.view_count, movie.view_offset) == (views + 1, 0)
    progress = {"key": str(THE_MATRIX), "identifier": "com.plexapp.plugins.library"}
    assert (
        await status_of(
            owner_http, "PUT", "/:/progress", params={**progress, "time": "700000"}
        )
        == 200
    )
    assert movie.view_offset == 700_000
    assert (
        await status_of(
            owner_http,
            "POST",
            "/:/timeline",
            params={**params, "state": "flying", "time": "1"},
        )
        == 400
    )
    assert (
        await status_of(
            owner_http, "POST", "/:/timeline", params={"state": "stopped", "time": "1"}
        )
        == 400
    )


# -- changes and notifications -----------------------------------------------------------


async def next_notification(queue: asyncio.Queue[dict[str, Any]]) -> dict[str, Any]:
    """The next published notification's container."""
    message = await asyncio.wait_for(queue.get(), NOTIFICATION_TIMEOUT)
    container: dict[str, Any] = message["NotificationContainer"]
    return container


async def test_changes_publish_timeline(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator, emulator_clock: Clock
) -> None:
    """Adding, updating and deleting items bump updatedAt and publish TimelineEntry states."""
    library = plex_server.library
    queue = plex_server.notifications.subscribe("timeline")
    try:
        emulator_clock.advance(100)
        now = emulator_clock.timestamp()
        added = library.add_item(1, "Brand New Film", year=2025, genres=["Drama"])
        created = await next_notification(queue)
        assert created["type"] == "timeline" and created["size"] == 1
        assert created["TimelineEntry"] == [
            {
                "identifier": "com.plexapp.plugins.library",
                "sectionID": "1",
                "itemID": str(added.rating_key),
                "type": 1,
                "title": "Brand New Film",
                "state": 0,
                "updatedAt": now,
                "metadataState": "created",
            }
        ]
        processed = await next_notification(queue)
        assert processed["TimelineEntry"][0]["state"] == 5
        assert "metadataState" not in processed["TimelineEntry"][0]
        root, _ = await get_xml(
            owner_http, "/library/sections/1/all", params={"title": "brand new"}
        )
        assert keys(root) == [str(added.rating_key)]
        assert root[0].attrib["addedAt"] == str(now)

        emulator_clock.advance(5)
        library.update_item(THE_MATRIX, title="The Matrix (Remastered)")
        updated = await next_notification(queue)
        assert updated["TimelineEntry"][0]["state"] == 5
        assert updated["TimelineEntry"][0]["updatedAt"] == now + 5
        root, _ = await get_xml(
            owner_http, "/library/sections/1/all", params={"title": "remastered"}
        )
        assert root[0].attrib["updatedAt"] == str(now + 5)

        show = library.sections[2].by_kind["show"][0]
        gone = {item.rating_key for item in show.walk()}
        library.delete_item(show.rating_key)
        deleted = await next_notification(queue)
        assert {int(e["itemID"]) for e in deleted["TimelineEntry"]} == gone
        assert {(e["state"], e["metadataState"]) for e in deleted["TimelineEntry"]} == {
            (9, "deleted")
        }
        assert (
            await status_of(owner_http, "GET", f"/library/metadata/{show.rating_key}")
            == 404
        )
    finally:
        plex_server.notifications.unsubscribe(queue)


async def test_added_episode_updates_its_season(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """An episode added to a season shows in its children and counts."""
    season = plex_server.library.sections[2].by_kind["season"][0]
    before = len(season.children or [])
    episode = plex_server.library.add_item(
        2, "A Fresh Episode", parent=season.rating_key
    )
    assert episode.kind == "episode" and episode.index == before + 1
    root, _ = await get_xml(
        owner_http, f"/library/metadata/{season.rating_key}/children"
    )
    assert keys(root)[-1] == str(episode.rating_key)
    assert root[-1].attrib["parentRatingKey"] == str(season.rating_key)
    parent, _ = await get_xml(owner_http, f"/library/metadata/{season.rating_key}")
    assert parent[0].attrib["leafCount"] == str(before + 1)


async def test_refresh_publishes_activity(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator
) -> None:
    """A section refresh publishes activity started / updated / ended, then status."""
    queue = plex_server.notifications.subscribe("activity,status")
    try:
        assert await status_of(owner_http, "GET", "/library/sections/2/refresh") == 200
        events = [await next_notification(queue) for _ in range(4)]
    finally:
        plex_server.notifications.unsubscribe(queue)
    activities = [e["ActivityNotification"][0] for e in events[:3]]
    assert [a["event"] for a in activities] == ["started", "updated", "ended"]
    assert {a["Activity"]["type"] for a in activities} == {"library.update.section"}
    assert activities[0]["Activity"]["Context"]["librarySectionID"] == "2"
    assert [a["Activity"]["progress"] for a in activities] == [0, 50, 100]
    assert events[3]["type"] == "status"
    assert events[3]["StatusNotification"][0]["notificationName"] == "LIBRARY_UPDATE"


# -- images -----------------------------------------------------------------------------


def png_size(body: bytes) -> tuple[int, int]:
    """Width and height of a PNG (asserting it is one)."""
    assert body.startswith(PNG_SIGNATURE)
    assert body[12:16] == b"IHDR"
    width, height = struct.unpack(">II", body[16:24])
    return width, height


async def test_images_are_pngs(owner_http: aiohttp.ClientSession) -> None:
    """The paths in thumb / art / composite attributes serve small PNGs."""
    root, _ = await get_xml(
        owner_http, "/library/sections/1/all", params={"X-Plex-Container-Size": "1"}
    )
    collections, _ = await get_xml(owner_http, "/library/sections/1/collections")
    playlists, _ = await get_xml(owner_http, "/playlists")
    paths = [
        root[0].attrib["thumb"],
        root[0].attrib["art"],
        collections[0].attrib["thumb"],
        playlists[0].attrib["composite"],
        "/:/resources/movie.png",
        f"/photo/:/transcode?width=100&height=150&url={root[0].attrib['thumb']}",
    ]
    for path in paths:
        async with owner_http.get(path) as response:
            assert response.status == 200, path
            assert response.content_type == "image/png"
            width, height = png_size(await response.read())
            assert 0 < width <= 64 and 0 < height <= 64
    assert await status_of(owner_http, "GET", "/library/metadata/999999/thumb/1") == 404


# -- the generator ----------------------------------------------------------------------


def world_signature(preset: str, seed: int) -> list[tuple[Any, ...]]:
    """What identifies a generated world, item by item."""
    world = generate(preset, seed=seed, clock=Clock(start=1_760_000_000.0, frozen=True))
    return [
        (
            item.rating_key,
            item.kind,
            item.title,
            item.guid,
            item.added_at,
            item.view_count,
            item.duration,
        )
        for item in world.items.values()
    ]


def test_generator_is_deterministic() -> None:
    """The same preset and seed give the same world; another seed another one."""
    assert world_signature("small", 3) == world_signature("small", 3)
    assert world_signature("small", 3) != world_signature("small", 4)


def test_demo_preset() -> None:
    """``demo`` holds about 2,000 items with recognisable titles."""
    world = generate("demo", seed=0, clock=Clock(start=1_760_000_000.0, frozen=True))
    assert 1_500 <= len(world.items) <= 2_500
    titles = {item.title for item in world.items.values()}
    assert {"The Matrix", "Breaking Bad", "Radiohead"} <= titles
    kinds = {item.kind for item in world.items.values()}
    assert kinds == {
        "movie",
        "show",
        "season",
        "episode",
        "artist",
        "album",
        "track",
        "photoalbum",
        "photo",
    }
    assert PRESETS["large"].movies == 10_000
    assert PRESETS["large"].shows * (PRESETS["large"].episodes_per_show or 0) == 60_000


# -- a real client ---------------------------------------------------------------------


async def test_plexapi_browses_the_library(plex_server: PlexEmulator) -> None:
    """python-plexapi pages, walks shows, filters, sorts and searches without patching."""
    from plexapi.server import PlexServer

    def browse() -> dict[str, Any]:
        plex = PlexServer(plex_server.url, plex_server.token)
        movies_section = plex.library.section("Movies")
        page = movies_section.search(container_start=3, container_size=4, maxresults=4)
        show = plex.library.section("TV Shows").all()[0]
        return {
            "sections": [s.title for s in plex.library.sections()],
            "page": [m.title for m in page],
            "all": [m.title for m in movies_section.all()],
            "seasons": [(s.index, len(s.episodes())) for s in show.seasons()],
            "episodes": len(show.episodes()),
            "sorted": [m.year for m in movies_section.search(sort="year:desc")],
            "filtered": [
                m.title for m in movies_section.search(filters={"title": "matrix"})
            ],
            "search": [r.title for r in plex.search("matrix", mediatype="movie")],
            "collections": [c.title for c in movies_section.collections()],
            "playlists": sorted(p.title for p in plex.playlists()),
        }

    executor = ThreadPoolExecutor(
        max_workers=1
    )  # joined below: no thread outlives the test
    try:
        result = await asyncio.get_running_loop().run_in_executor(executor, browse)
    finally:
        executor.shutdown(wait=True)
    assert result["sections"] == ["Movies", "TV Shows", "Music", "Photos"]
    assert result["page"] == result["all"][3:7]
    show = plex_server.library.sections[2].by_kind["show"][0]
    assert result["seasons"] == [
        (s.index, len(s.children or [])) for s in show.children or []
    ]
    assert result["episodes"] == len(show.leaves())
    assert result["sorted"] == sorted(result["sorted"], reverse=True)
    assert result["filtered"] == [
        "The Matrix",
        "The Matrix Reloaded",
        "The Matrix Revolutions",
    ]
    assert result["search"] == result["filtered"]
    assert "The Matrix Collection" in result["collections"]
    assert result["playlists"] == ["Binge List", "Focus", "Movie Night", "Road Trip"]


def test_renaming_resorts(plex_server: PlexEmulator) -> None:
    """A new title brings a new sort title (its article dropped)."""
    library = plex_server.library
    library.update_item(THE_MATRIX, title="Zion")
    section = library.sections[1]
    assert library.get(THE_MATRIX).title_sort is None
    assert library.query(section)[-1].rating_key == THE_MATRIX
    library.update_item(THE_MATRIX, title="The Aardvark")
    assert library.get(THE_MATRIX).title_sort == "Aardvark"
    assert library.query(section)[0].rating_key == THE_MATRIX


@pytest.mark.parametrize("with_orjson", [True, False])
async def test_json_bodies_are_compact_utf8_either_way(
    plex_server: PlexEmulator,
    owner_http: aiohttp.ClientSession,
    monkeypatch: pytest.MonkeyPatch,
    with_orjson: bool,
) -> None:
    """A listing's body is ``json.dumps(..., ensure_ascii=False)`` without spaces.

    The emulator encodes with orjson when it is there (it is, beside Home
    Assistant) and with the standard library otherwise; clients see the same bytes.
    An accented title tells UTF-8 from escaped characters.
    """
    if not with_orjson:
        monkeypatch.setattr(node, "orjson", None)
    plex_server.library.update_item(movies(plex_server)[0].rating_key, title="Amélie")
    async with owner_http.get(
        "/library/sections/1/all",
        params={"includeGuids": "1"},
        headers={"Accept": "application/json"},
    ) as response:
        body = await response.read()
    parsed = json.loads(body)
    assert body.decode() == json.dumps(
        parsed, ensure_ascii=False, separators=(",", ":")
    )
    assert "Amélie" in body.decode()
