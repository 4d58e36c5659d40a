"""The emulator's query language: quick date filters give the item-by-item answer.

``Matcher.select`` answers ``>>=`` and ``<<=`` on ``addedAt`` / ``updatedAt`` /
``lastViewedAt`` by comparing the stamp directly, or over a whole list by bisecting
its ``StampIndex`` (Plex answers them from indexed columns). These tests hold it to the generic per-item test (``Matcher.__call__``,
which follows the filter types of ``library_movies_filtertypes.xml``: a date
``>>=`` "is after" and ``<<=`` "is before", strictly) over every section and kind
of a world with changes, plays and deletions, and check the answers over HTTP.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import aiohttp
import pytest

from tests.plex_server import Clock, PlexEmulator
from tests.plex_server.items import Item
from tests.plex_server.library import Library, build
from tests.plex_server.library_query import (
    Matcher,
    QueryError,
    StampIndex,
    parse_conditions,
)

START = 1_760_000_000


@pytest.fixture(scope="module")
def library() -> Library:
    """The small world after changes: updates, additions, plays, progress, deletions."""
    clock = Clock(start=float(START), frozen=True)
    library = build("small", clock=clock)
    items = sorted(library.items.values(), key=lambda item: item.rating_key)
    for step, item in enumerate(items[::7][:40]):
        clock.advance(30 + step)
        library.update_item(item.rating_key, summary=f"changed {step}")
    leaves = [item for item in items if item.children is None]
    for step, leaf in enumerate(leaves[3::11][:30]):
        clock.advance(5 + step)
        if step % 3:
            library.mark_watched(leaf.rating_key)
        else:
            library.set_progress(leaf.rating_key, 120_000)
    show = next(item for item in items if item.kind == "show")
    clock.advance(60)
    library.add_item(show.section.id, "Season 99", parent=show.rating_key)
    gone = [leaf for leaf in leaves[5::13][:10] if leaf.rating_key in library.items]
    for leaf in gone:
        library.delete_item(leaf.rating_key)
    return library


def stamps(library: Library) -> list[int]:
    """Thresholds around every stamp in the world (and none at all)."""
    found = {0, START}
    for item in library.items.values():
        for value in (item.added_at, item.updated_at, item.last_viewed_at):
            if value is not None:
                found |= {value - 1, value, value + 1}
    return sorted(found)


def filtered(library: Library, query: list[tuple[str, str]]) -> list[tuple[Any, ...]]:
    """(section, kind, the quick answer, the item-by-item answer) per case.

    The quick answer is checked to be the same with a ``StampIndex`` of the list.
    """
    conditions = parse_conditions(query)
    now = library.clock.timestamp()
    matcher = Matcher(conditions, now, library.tag_title)
    cases = []
    for section in library.sections.values():
        for kind in (None, *section.kinds):
            items: list[Item] = (
                section.top_level() if kind is None else section.by_kind.get(kind, [])
            )
            indexed = Matcher(
                conditions,
                now,
                library.tag_title,
                stamps=lambda attr, items=items: StampIndex(items, attr),  # type: ignore[misc]
            )
            quick = matcher.select(items)
            assert indexed.select(items) == quick
            cases.append(
                (section.id, kind, quick, [item for item in items if matcher(item)])
            )
    return cases


@pytest.mark.parametrize("operator", [">>", "<<"])
@pytest.mark.parametrize("field", ["addedAt", "updatedAt", "lastViewedAt"])
def test_quick_filter_is_the_scan(library: Library, field: str, operator: str) -> None:
    """Every threshold, every section and kind: the same items in the same order."""
    values = stamps(library)
    nonempty = 0
    for threshold in values[:: max(1, len(values) // 60)] + values[-3:]:
        query = [(f"{field}{operator}", str(threshold))]
        for _, _, quick, scan in filtered(library, query):
            assert quick == scan
            nonempty += bool(scan)
    assert nonempty  # the thresholds do select something


@pytest.mark.parametrize(
    "query",
    [
        # several values: any of them (the smallest decides)
        [("updatedAt>>", f"{START + 400},{START + 100}")],
        # a relative date and a calendar date
        [("addedAt>>", "-3650d")],
        [("addedAt>>", "2020-01-01")],
        # another kind's stamp: the relative's (a season's show, a show's episodes)
        [("show.updatedAt>>", str(START))],
        [("episode.lastViewedAt>>", str(START))],
        [("season.addedAt>>", str(START + 1))],
        # a parent's lastViewedAt is its newest leaf's
        [("lastViewedAt>>", str(START + 100))],
        # with other conditions, before and after
        [("title", "a"), ("updatedAt>>", str(START))],
        [("updatedAt>>", str(START)), ("title", "e"), ("lastViewedAt>>", str(START))],
        # "is before", alone, with alternatives, and as a range with "is after"
        [("updatedAt<<", str(START + 200))],
        [("lastViewedAt<<", f"{START + 50},{START + 300}")],
        [("addedAt>>", "2015-01-01"), ("addedAt<<", "2022-01-01")],
        [("season.addedAt<<", "2020-01-01"), ("addedAt>>", str(START - 1))],
        # rating keys: the items', their parents' (a season's episodes), their
        # children's (the shows with one of these episodes)
        [("id", "1,2,3,40,41")],
        [("season.id", ",".join(str(key) for key in range(1, 200)))],
        [("album.id", ",".join(str(key) for key in range(1, 200, 3)))],
        [("episode.id", ",".join(str(key) for key in range(1, 200, 2)))],
        [("show.id", "17"), ("updatedAt>>", str(START))],
        [("id!", "1,2,3")],
    ],
)
def test_quick_filter_with_kinds_values_and_other_conditions(
    library: Library, query: list[tuple[str, str]]
) -> None:
    """Relatives, aggregated plays, alternatives and mixed conditions agree."""
    for _, _, quick, scan in filtered(library, query):
        assert quick == scan


def test_bad_value_fails_exactly_when_the_scan_does(library: Library) -> None:
    """A bad date fails once an item reaches it, and only then, as item by item."""
    conditions = parse_conditions([("title", "no such title"), ("updatedAt>>", "x")])
    matcher = Matcher(conditions, library.clock.timestamp(), library.tag_title)
    movies = next(iter(library.sections.values())).top_level()
    assert matcher.select(movies) == []  # nothing reaches the bad value
    assert [item for item in movies if matcher(item)] == []
    matcher = Matcher(
        parse_conditions([("updatedAt>>", "x")]), START, library.tag_title
    )
    with pytest.raises(QueryError):
        matcher.select(movies)
    with pytest.raises(QueryError):
        [item for item in movies if matcher(item)]
    assert matcher.select([]) == []


async def get_keys(http: aiohttp.ClientSession, path: str) -> tuple[list[str], int]:
    """The rating keys of a JSON answer and its ``totalSize``."""
    async with http.get(path, headers={"Accept": "application/json"}) as response:
        assert response.status == 200, await response.text()
        container = (await response.json())["MediaContainer"]
    keys = [item["ratingKey"] for item in container.get("Metadata", [])]
    return keys, int(container.get("totalSize", len(keys)))


async def test_date_filters_over_http_follow_changes(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator, emulator_clock: Clock
) -> None:
    """Episodes changed, played and removed after a moment, as the sync asks for them."""
    library = plex_server.library
    since = emulator_clock.timestamp()
    section = next(s for s in library.sections.values() if s.type == "show")
    base = f"/library/sections/{section.id}/all?type=4"
    assert await get_keys(owner_http, f"{base}&updatedAt>>={since}") == ([], 0)

    episodes = sorted(section.by_kind["episode"], key=lambda item: item.rating_key)
    changed, played, doomed = episodes[0], episodes[1], episodes[2]
    emulator_clock.advance(10)
    library.update_item(changed.rating_key, title="Changed")
    emulator_clock.advance(10)
    library.mark_watched(played.rating_key)
    path = f"{base}&updatedAt>>={since}&sort=updatedAt"
    assert await get_keys(owner_http, path) == ([str(changed.rating_key)], 1)
    path = f"{base}&lastViewedAt>>={since + 10}&sort=lastViewedAt:desc"
    assert await get_keys(owner_http, f"{path}&X-Plex-Container-Size=1") == (
        [str(played.rating_key)],
        1,
    )
    # "is after" is strict: the play's own second does not select it.
    assert await get_keys(owner_http, f"{base}&lastViewedAt>>={since + 20}") == (
        [],
        0,
    )
    # The show's lastViewedAt is its newest episode's play.
    show_path = f"/library/sections/{section.id}/all?type=2&lastViewedAt>>={since}"
    show = played.ancestor("show")
    assert show is not None
    assert await get_keys(owner_http, show_path) == ([str(show.rating_key)], 1)

    emulator_clock.advance(10)
    library.update_item(doomed.rating_key, title="Doomed")
    library.delete_item(doomed.rating_key)
    assert await get_keys(owner_http, f"{base}&updatedAt>>={since}&sort=updatedAt") == (
        [str(changed.rating_key)],
        1,
    )


async def test_counting_answer_is_the_listing_total(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator, emulator_clock: Clock
) -> None:
    """``X-Plex-Container-Size=0`` (counted without sorting) gives the listing's total."""
    library = plex_server.library
    since = emulator_clock.timestamp()
    emulator_clock.advance(10)
    for item in sorted(library.items.values(), key=lambda item: item.rating_key)[::9]:
        library.update_item(item.rating_key, title=f"Renamed {item.rating_key}")
    queries = [
        "",
        f"&updatedAt>>={since}&sort=updatedAt",
        "&sort=titleSort:desc",
        "&title=renamed&sort=addedAt",
    ]
    for section in library.sections.values():
        for code in (None, 1, 2, 3, 4, 8, 9, 10, 13, 14):
            for query in queries:
                path = f"/library/sections/{section.id}/all?includeGuids=0{query}"
                if code is not None:
                    path += f"&type={code}"
                listed, total = await get_keys(owner_http, path)
                assert total == len(listed)
                counted, count_total = await get_keys(
                    owner_http, f"{path}&X-Plex-Container-Size=0"
                )
                assert (counted, count_total) == ([], total), path


async def test_repeated_range_counts_follow_changes(
    owner_http: aiohttp.ClientSession, plex_server: PlexEmulator, emulator_clock: Clock
) -> None:
    """Range after range over one kind (indexed from the second) match the items."""
    library = plex_server.library
    section = library.sections[1]

    def expected(low: int, high: int) -> set[str]:
        return {
            str(movie.rating_key)
            for movie in section.by_kind["movie"]
            if low < movie.added_at < high
        }

    async def check() -> None:
        stamps = sorted(movie.added_at for movie in section.by_kind["movie"])
        edges = [stamps[0] - 1, *stamps[2::3], stamps[-1] + 1]
        for low, high in pairwise(edges):
            path = f"/library/sections/1/all?type=1&addedAt>>={low}&addedAt<<={high}"
            keys, total = await get_keys(owner_http, path)
            assert set(keys) == expected(low, high), path
            counted = await get_keys(owner_http, f"{path}&X-Plex-Container-Size=0")
            assert counted == ([], total)

    await check()
    movie = section.by_kind["movie"][0]
    emulator_clock.advance(5)
    library.update_item(movie.rating_key, addedAt=emulator_clock.timestamp())
    library.delete_item(section.by_kind["movie"][3].rating_key)
    await check()
