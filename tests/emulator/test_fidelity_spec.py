"""The emulator's JSON answers against the community OpenAPI description of Plex.

Each case sends one request with ``Accept: application/json`` and validates the
answer against the JSON Schema of the ``200`` response of the matching operation of
``shared/plex-reference/plex-api-spec.yaml`` (``fidelity.spec_errors``: JSON Schema
2020-12, every ``$ref`` resolved through a registry that holds the whole spec).

The spec is used as published, with two narrow corrections where it contradicts the
real captures (``fidelity.SPEC_PATCHES``: ``key`` is not required on ``Stream`` and
``Part``); a test checks that nothing else differs. Undocumented properties are
allowed exactly where the spec allows them: its response schemas never close an
object (no ``additionalProperties: false``), so extra properties pass, while every
``type``, ``enum`` and ``required`` it states is enforced.

``NOT_IN_SPEC`` lists the endpoints of issue 3 that the spec does not describe (or
describes without a JSON schema); a test keeps that list true.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
import contextlib
from dataclasses import dataclass, field
import json
import string
from typing import Any, Literal

import aiohttp
import pytest
from referencing.exceptions import Unresolvable

from tests.plex_server import PlexEmulator, shaping
from tests.plex_server.plextv import PlexTV

from .fidelity import (
    CLIENT_HEADERS,
    SPEC_PATCHES,
    SPEC_URI,
    TRACK_QUEUE_PARAMS,
    EmulatorHTTP,
    WorldProbe,
    differing_pointers,
    iter_refs,
    load_spec,
    patched_spec,
    resolve_pointer,
    response_schema_pointer,
    spec_errors,
    spec_registry,
)

# Every test here reads the reference material (see ``plex_reference``).
pytestmark = pytest.mark.usefixtures("plex_reference")

NOT_IN_SPEC: dict[str, str] = {
    "/library": "no such path in the spec",
    "/library/recentlyAdded": "no such path in the spec (its hubs: /hubs, /hubs/sections/{sectionId})",
    "/library/sections/{sectionId}/recentlyAdded": "no such path in the spec",
    "/library/onDeck": "no such path in the spec (its hub: /hubs/continueWatching)",
    "/library/metadata/{ids}/children": "no such path in the spec",
    "/library/collections/{collectionId}/children": (
        "no such path in the spec, which describes /library/collections/{collectionId}/items"
    ),
    "/transcode/sessions": "no such path in the spec",
    "/myplex/account": "no such path in the spec",
    "/clients": "no such path in the spec",
    "/accounts": "no such path in the spec",
    "/player/playback/playMedia": "no /player/... path in the spec",
    "/pins": "plex.tv's PIN sign-in (/api/v2/pins) is not in the spec",
    "/status/sessions/terminate": "its 200 answer is text/html in the spec: no JSON schema",
    "/library/sections/{sectionId}/refresh": "its 200 answer is text/html in the spec: no JSON schema",
    "/:/scrobble": "its 200 answer is text/html in the spec: no JSON schema",
    "/:/unscrobble": "its 200 answer is text/html in the spec: no JSON schema",
    "/:/websocket/notifications": (
        "(the issue's /:/websockets/notifications) the spec describes the stream as application/octet-stream with no schema "
        "for NotificationContainer or any notification type (nor for "
        "/:/eventsource/notifications), so the notification payloads cannot be "
        "validated against it"
    ),
}


@dataclass
class World:
    """A running emulator, an emulated plex.tv listing it, clients of both."""

    emu: PlexEmulator
    plextv: PlexTV
    server: EmulatorHTTP
    plex_tv: EmulatorHTTP
    probe: WorldProbe


Setup = Callable[[World], Awaitable[None]]


@dataclass(frozen=True)
class SpecCase:
    """One request and the spec operation whose ``200`` schema its answer must meet."""

    request: str
    spec_path: str
    params: Mapping[str, str] = field(default_factory=dict)
    method: Literal["GET", "POST"] = "GET"
    target: Literal["server", "plextv"] = "server"
    setup: Setup | None = None


# -- the world's objects, by kind ---------------------------------------------------------------------


SECTION_NAMES = {
    "movies": "movie",
    "shows": "show",
    "music": "artist",
    "photos": "photo",
}
ITEM_KINDS = frozenset(
    {"movie", "show", "season", "episode", "artist", "album", "track", "photo"}
)


async def resolve(world: World, name: str) -> str:
    """An object of the emulated world that a request template names."""
    if name in SECTION_NAMES:
        return await world.probe.section_key(SECTION_NAMES[name])
    if name in ITEM_KINDS:
        return await world.probe.rating_key(name)
    if name == "video_playlist":
        return await world.probe.playlist_key("video")
    if name == "audio_playlist":
        return await world.probe.playlist_key("audio")
    if name == "collection":
        return await world.probe.collection_key("movie")
    if name == "machine":
        return world.emu.machine_identifier
    if name == "playqueue":
        params = {
            key: await fill(world, value) for key, value in TRACK_QUEUE_PARAMS.items()
        }
        created = await world.server.xml("/playQueues", method="POST", params=params)
        return created.get("playQueueID", "")
    if name == "movie_duration":
        return (await world.probe.pick("movie")).get("duration", "")
    if name == "search_word":
        return (await world.probe.pick("movie")).get("title", "").split()[-1]
    raise KeyError(name)


async def fill(world: World, template: str) -> str:
    """A request template with its ``{names}`` filled from the world."""
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    return template.format(**{name: await resolve(world, name) for name in names})


# -- putting the world in a state -------------------------------------------------------------------------


async def two_sessions(world: World) -> None:
    """A direct-played movie and a transcoded episode (the issue: both kinds)."""
    sessions = world.emu.sessions
    sessions.start_session(
        player="Living Room TV", rating_key=await resolve(world, "movie")
    )
    sessions.start_session(
        player="Bedroom",
        rating_key=await resolve(world, "episode"),
        transcode=True,
        location="wan",
    )


async def a_finished_play(world: World) -> None:
    """A movie played to the end, so that the history has a fresh entry."""
    sessions = world.emu.sessions
    session = sessions.start_session(
        player="Living Room TV", rating_key=await resolve(world, "movie")
    )
    sessions.seek(session, max(0, session.duration - 1000))
    sessions.stop_session(session)


def section_all(section: str, type_code: int, **params: str) -> SpecCase:
    """``/library/sections/{id}/all?type=...`` of one section."""
    return SpecCase(
        f"/library/sections/{{{section}}}/all",
        "/library/sections/{sectionId}/all",
        {"type": str(type_code), **params},
    )


SPEC_CASES: dict[str, SpecCase] = {
    "root": SpecCase("/", "/"),
    "identity": SpecCase("/identity", "/identity"),
    "sections": SpecCase("/library/sections", "/library/sections/all"),
    "section-movie": SpecCase(
        "/library/sections/{movies}", "/library/sections/{sectionId}"
    ),
    "section-show": SpecCase(
        "/library/sections/{shows}", "/library/sections/{sectionId}"
    ),
    "section-artist": SpecCase(
        "/library/sections/{music}", "/library/sections/{sectionId}"
    ),
    "section-photo": SpecCase(
        "/library/sections/{photos}", "/library/sections/{sectionId}"
    ),
    "all-movie": section_all("movies", 1),
    "all-show": section_all("shows", 2),
    "all-season": section_all("shows", 3),
    "all-episode": section_all("shows", 4),
    "all-artist": section_all("music", 8),
    "all-album": section_all("music", 9),
    "all-track": section_all("music", 10),
    "all-photo": section_all("photos", 13),
    "all-paged-guids-meta": section_all(
        "movies",
        1,
        includeGuids="1",
        includeMeta="1",
        **{"X-Plex-Container-Start": "2", "X-Plex-Container-Size": "3"},
    ),
    # What python-plexapi's library.search(title=..., libtype="movie") sends.
    "library-all": SpecCase(
        "/library/all",
        "/library/all",
        {"includeGuids": "1", "title": "{search_word}", "type": "1"},
    ),
    "sorts": SpecCase(
        "/library/sections/{movies}/sorts", "/library/sections/{sectionId}/sorts"
    ),
    "section-allLeaves": SpecCase(
        "/library/sections/{shows}/allLeaves", "/library/sections/{sectionId}/allLeaves"
    ),
    "metadata-ids": SpecCase(
        "/library/metadata/{movie},{show},{season},{episode},{album},{track}",
        "/library/metadata/{ids}",
    ),
    "metadata-allLeaves": SpecCase(
        "/library/metadata/{show}/allLeaves", "/library/metadata/{ids}/allLeaves"
    ),
    "hubs": SpecCase("/hubs", "/hubs"),
    "hubs-section": SpecCase("/hubs/sections/{movies}", "/hubs/sections/{sectionId}"),
    "hubs-continueWatching": SpecCase(
        "/hubs/continueWatching", "/hubs/continueWatching"
    ),
    "hubs-search": SpecCase("/hubs/search", "/hubs/search", {"query": "{search_word}"}),
    "collections": SpecCase(
        "/library/sections/{movies}/collections",
        "/library/sections/{sectionId}/collections",
    ),
    "collection-items": SpecCase(
        "/library/collections/{collection}/items",
        "/library/collections/{collectionId}/items",
    ),
    "playlists": SpecCase("/playlists", "/playlists"),
    "playlist-items-video": SpecCase(
        "/playlists/{video_playlist}/items", "/playlists/{playlistId}/items"
    ),
    "playlist-items-audio": SpecCase(
        "/playlists/{audio_playlist}/items", "/playlists/{playlistId}/items"
    ),
    "sessions": SpecCase("/status/sessions", "/status/sessions", setup=two_sessions),
    "history": SpecCase(
        "/status/sessions/history/all",
        "/status/sessions/history/all",
        setup=a_finished_play,
    ),
    "playqueue-create": SpecCase(
        "/playQueues", "/playQueues", TRACK_QUEUE_PARAMS, method="POST"
    ),
    "playqueue-get": SpecCase("/playQueues/{playqueue}", "/playQueues/{playQueueId}"),
    "updater-status": SpecCase("/updater/status", "/updater/status"),
    # A player reporting its playback, as python-plexapi's PlexClient and real players do.
    "timeline": SpecCase(
        "/:/timeline",
        "/:/timeline",
        {
            "ratingKey": "{movie}",
            "key": "/library/metadata/{movie}",
            "state": "playing",
            "time": "60000",
            "duration": "{movie_duration}",
        },
        method="POST",
    ),
    "security-token": SpecCase(
        "/security/token",
        "/security/token",
        {"type": "delegation", "scope": "all"},
        method="POST",
    ),
    "plextv-user": SpecCase("/api/v2/user", "/user", target="plextv"),
    "plextv-resources": SpecCase(
        "/api/v2/resources",
        "/resources",
        {"includeHttps": "1", "includeRelay": "1"},
        target="plextv",
    ),
}


@contextlib.asynccontextmanager
async def running_world(emu: PlexEmulator) -> AsyncIterator[World]:
    """Clients of the emulator and of an emulated plex.tv that lists it."""
    async with aiohttp.ClientSession() as session:
        plextv = PlexTV(token=emu.token, clock=emu.clock)
        plextv.register(emu)
        await plextv.start()
        try:
            server = EmulatorHTTP(
                session, emu.url, {**CLIENT_HEADERS, "X-Plex-Token": emu.token}
            )
            plex_tv = EmulatorHTTP(
                session,
                plextv.url,
                {**CLIENT_HEADERS, "X-Plex-Token": plextv.owner.token},
            )
            yield World(emu, plextv, server, plex_tv, WorldProbe(server))
        finally:
            await plextv.stop()


async def json_answer(world: World, case: SpecCase) -> Any:
    """The emulator's JSON answer to a case's request (which must succeed)."""
    if case.setup:
        await case.setup(world)
    path = await fill(world, case.request)
    params = {key: await fill(world, value) for key, value in case.params.items()}
    client = world.plex_tv if case.target == "plextv" else world.server
    status, text = await client.request(case.method, path, params=params, as_json=True)
    assert status == 200, (
        f"{case.method} {path} {params} answered {status}: {text[:300]}"
    )
    return json.loads(text)


@pytest.mark.parametrize("case_id", SPEC_CASES)
async def test_json_answer_meets_spec(plex_server: PlexEmulator, case_id: str) -> None:
    """The JSON answer validates against the spec's schema of that operation's 200."""
    case = SPEC_CASES[case_id]
    async with running_world(plex_server) as world:
        payload = await json_answer(world, case)
    assert payload, f"{case.request} answered an empty document"
    errors = spec_errors(case.spec_path, case.method, payload)
    assert not errors, (
        f"{case.method} {case.request} vs spec {case.spec_path}:\n  "
        + "\n  ".join(errors[:40])
    )


async def test_sessions_answer_holds_both_kinds(plex_server: PlexEmulator) -> None:
    """The sessions case validates a direct-played and a transcoded session."""
    async with running_world(plex_server) as world:
        payload = await json_answer(world, SPEC_CASES["sessions"])
    items = payload["MediaContainer"]["Metadata"]
    decisions = {item["Media"][0]["Part"][0].get("decision") for item in items}
    assert decisions == {"directplay", "transcode"}
    assert any("TranscodeSession" in item for item in items)


# -- the spec itself ------------------------------------------------------------------------------------------


def test_every_ref_in_the_spec_resolves() -> None:
    """No ``$ref`` of the spec is broken (else its schema could not be validated)."""
    resolver = spec_registry().resolver(base_uri=SPEC_URI)
    broken = []
    for ref in sorted(set(iter_refs(load_spec()))):
        try:
            resolver.lookup(f"{SPEC_URI}{ref}")
        except Unresolvable:
            broken.append(ref)
    assert broken == []


def test_only_the_documented_patches_change_the_spec() -> None:
    """The validated spec is the published one except at ``SPEC_PATCHES``."""
    assert differing_pointers(load_spec(), patched_spec()) == {
        patch.pointer for patch in SPEC_PATCHES
    }


def test_patches_only_relax_what_captures_contradict() -> None:
    """Each patch drops exactly ``key`` from a ``required`` list, nothing more."""
    for patch in SPEC_PATCHES:
        published = resolve_pointer(load_spec(), patch.pointer)
        assert set(published) - set(patch.value) == {"key"}
        assert set(patch.value) <= set(published)


def test_listed_gaps_are_not_in_the_spec() -> None:
    """Every endpoint in ``NOT_IN_SPEC`` is absent from the spec or has no JSON 200."""
    paths = patched_spec()["paths"]
    described = [
        f"{method.upper()} {path}"
        for path in NOT_IN_SPEC
        for method in paths.get(path, {})
        if response_schema_pointer(path, method) is not None
    ]
    assert described == []


def test_cases_name_operations_with_a_json_schema() -> None:
    """Each case's spec operation exists and describes a JSON 200 answer."""
    missing = [
        f"{case.method} {case.spec_path}"
        for case in SPEC_CASES.values()
        if response_schema_pointer(case.spec_path, case.method) is None
    ]
    assert missing == []


def test_undocumented_properties_pass_where_the_spec_allows_them() -> None:
    """The validator adds no strictness: an extra property is fine in an open object."""
    payload = {
        "MediaContainer": {
            "machineIdentifier": "abc",
            "version": "1.2",
            "notInTheSpec": True,
        }
    }
    assert spec_errors("/identity", "GET", payload) == []


def test_the_spec_strictness_is_enforced() -> None:
    """The validator drops no strictness: wrong types and missing required fail."""
    wrong_type = {
        "MediaContainer": {
            "size": 1,
            "Metadata": [
                {
                    "ratingKey": 1,
                    "key": "/library/metadata/1",
                    "title": "A",
                    "type": "movie",
                    "addedAt": 1,
                }
            ],
        }
    }
    assert any(
        "ratingKey" in error
        for error in spec_errors("/library/metadata/{ids}", "GET", wrong_type)
    )
    missing_required = {
        "MediaContainer": {"size": 1, "Directory": [{"key": "1", "type": "movie"}]}
    }
    errors = spec_errors("/library/sections/all", "GET", missing_required)
    assert any("'uuid' is a required property" in error for error in errors)
    bad_enum = {
        "MediaContainer": {
            "Metadata": [
                {
                    "Session": {"location": "moon"},
                    "key": "k",
                    "title": "t",
                    "type": "movie",
                    "addedAt": 1,
                }
            ]
        }
    }
    assert any(
        "'moon' is not one of" in error
        for error in spec_errors("/status/sessions", "GET", bad_enum)
    )


def test_response_customization_parameters_are_plexs() -> None:
    """The four arguments ``shaping`` honours are those the spec names.

    The spec mentions them once, for the history listing ("supports
    ``includeFields``, ``excludeFields``, ``includeElements``, and
    ``excludeElements``"); their meaning is from Plex's own API reference (see
    ``tests/plex_server/shaping.py``).
    """
    history = load_spec()["paths"]["/status/sessions/history/all"]["get"]
    named = {
        word.strip("`,.")
        for word in history["description"].split()
        if word.startswith("`")
    }
    assert set(shaping.PARAMS) <= named
