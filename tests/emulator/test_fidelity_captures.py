"""Every real capture against the emulator's answer to the same request.

For each file of ``shared/plex-reference/captures`` the emulator is sent the request
that the capture answers (the file name says which; HA core's tests, where the
captures come from, show the exact URLs), against an object of the same kind in
the emulated world (ids differ), in the same state where the capture shows one
(a session playing, a play queue made, nothing on deck ...). The emulated XML must
have the same element names, and for every kind of object (tag, plus ``type`` for
``Directory`` / ``Video``) a superset of the capture's attribute names
(``fidelity.compare_with_capture``).

``CASES`` maps each capture to its request; ``NOT_COMPARABLE`` lists, with the
reason, the captures that no request to the emulator can reproduce. A test fails
if a capture is in neither, so nothing is left out silently.

The emulator is compared with the captures' shapes as distilled into
``capture_shapes.json`` (``capture_shapes``), which is all the comparison looks at,
so it is checked in every clone. Where the reference material is present, the file is
checked against the captures themselves (``test_shapes_file_matches_captures``); the
tests that read the captures skip without it (fail with
``PLEX_BRIDGE_REQUIRE_REFERENCE=1``, as on CI).

Extra elements are allowed only where a case names them with the evidence that
real Plex sends them for that request (``extra_tags``): some captures were trimmed
by hand in HA core (for example the ``Media`` of ``library_movies_all.xml``), and
a trimmed capture proves what real Plex sends, not what it leaves out. Missing
elements and attributes are never allowed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
import contextlib
from dataclasses import dataclass, field
from pathlib import Path
import string
from typing import Literal
from xml.etree import ElementTree as ET

import aiohttp
import pytest

from tests.plex_server import PlexEmulator
from tests.plex_server.plextv import PlexTV

from . import fidelity
from .capture_shapes import (
    REGENERATE,
    SHAPES_PATH,
    committed_shapes,
    differing_captures,
    distil,
    render,
)
from .fidelity import (
    CLIENT_HEADERS,
    TRACK_QUEUE_PARAMS,
    EmulatorHTTP,
    WorldProbe,
    attributes_by_kind,
    capture_names,
    compare_shapes,
    compare_with_capture,
    load_capture,
)

# The tests that read the captures themselves (see ``plex_reference``).
needs_reference = pytest.mark.usefixtures("plex_reference")

# What python-plexapi's LibrarySection._loadFilters sends (HA core's conftest mocks
# exactly these URLs for the *_metadata / *_collections captures).
META_PARAMS = {
    "includeMeta": "1",
    "includeAdvanced": "1",
    "X-Plex-Container-Start": "0",
    "X-Plex-Container-Size": "0",
}
# What python-plexapi's LibrarySection.totalViewSize(includeCollections=False) sends
# (HA core's sensor tests mock these URLs for the *_size captures).
SIZE_PARAMS = {
    "includeCollections": "0",
    "X-Plex-Container-Start": "0",
    "X-Plex-Container-Size": "0",
}
EVIDENCE_LIST_MEDIA = (
    "real Plex lists a leaf's Media and Part in section listings: the spec's example "
    "answer of /library/sections/{sectionId}/allLeaves has them, and so do the "
    "listings children_20.xml and children_200.xml"
)
EVIDENCE_ALBUM_GENRE = (
    "real Plex lists an album's genres: the spec's example answer of "
    "/library/sections/{sectionId}/albums gives an album a Genre (the captured albums "
    "simply have none), and a detail answer carries at least the list's elements"
)
EVIDENCE_EPISODE_CREDITS = (
    "real Plex lists an episode's directors and writers: the spec's example answer of "
    "/library/sections/{sectionId}/allLeaves gives an episode Director and Writer"
)
EVIDENCE_HUB_DIRECTORY = (
    'real Plex hubs hold Directory items: hubs.xml itself has a type="album" hub '
    "(Recently Added Music), whose items are album Directories (empty in the capture)"
)
EVIDENCE_DETAIL_TAGS = (
    "a detail answer (/library/metadata/{id}) carries all of an item's tags, Guid and "
    "Country included: python-plexapi's PlexPartialObject._EXCLUDES names Guid and "
    "Country among the elements a detail answer has, session_base.xml gives its movie "
    "a Guid and media_1.xml a Country; the captured item (an old-agent "
    "com.plexapp.agents guid) simply had none"
)
EVIDENCE_HUB_ITEM_GENRE = (
    "hub items are rendered like list items (hubs.xml's movies carry Genre), and real "
    "Plex lists an album's genres (the spec's /library/sections/{sectionId}/albums example)"
)
EVIDENCE_TRANSCODE_SESSION = (
    "real Plex adds a TranscodeSession to a transcoded session (livetv_sessions.xml "
    "has one; the spec's TranscodeSession schema; python-plexapi reads "
    "PlexSession.transcodeSession); session_base.xml is transcoded "
    '(Part decision="transcode") and was trimmed in HA core'
)


@dataclass
class Context:
    """What a case's setup and path need: the emulator, plex.tv and a probe."""

    emu: PlexEmulator
    plextv: PlexTV
    server: EmulatorHTTP
    probe: WorldProbe
    stack: contextlib.AsyncExitStack


Setup = Callable[[Context], Awaitable[dict[str, str]]]
Resolver = Callable[[Context], Awaitable[str]]


@dataclass(frozen=True)
class Case:
    """The request a capture answers.

    ``path`` and ``params`` may name objects of the emulated world as ``{field}`` s:
    ``RESOLVERS`` find them, ``setup`` may provide more (and change the world
    first). ``extra_tags`` maps an element real Plex sends here, though the capture
    lacks it, to the evidence.
    """

    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    method: Literal["GET", "POST"] = "GET"
    target: Literal["server", "plextv"] = "server"
    setup: Setup | None = None
    extra_tags: Mapping[str, str] = field(default_factory=dict)
    unsupported: str | None = None
    """Set when the emulator is not meant to serve this: the case must fail (xfail)."""


# -- finding objects of the same kind ------------------------------------------------------------


async def movie_in_progress(ctx: Context) -> str:
    """A movie watched before and in progress again, its audio with a profile.

    media_1.xml's movie: viewCount, viewOffset, lastViewedAt; audioProfile="dts".
    """
    return await ctx.probe.rating_key(
        "movie",
        prefer=("viewOffset", "viewCount", "lastViewedAt", "Media/audioProfile"),
    )


async def watched_season(ctx: Context) -> str:
    """A season with watched episodes (children_20.xml: viewCount, lastViewedAt)."""
    return await ctx.probe.rating_key("season", prefer=("lastViewedAt",))


async def watched_album(ctx: Context) -> str:
    """An album played before (album.xml, children_200.xml: viewCount, lastViewedAt)."""
    return await ctx.probe.rating_key("album", prefer=("viewCount", "lastViewedAt"))


async def played_artist(ctx: Context) -> str:
    """An artist played before (children_300.xml: its albums have viewCount)."""
    return await ctx.probe.rating_key("artist", prefer=("viewCount", "lastViewedAt"))


async def played_track(ctx: Context) -> str:
    """A track played before (playqueue_created.xml: viewCount, lastViewedAt)."""
    return await ctx.probe.rating_key("track", prefer=("viewCount", "lastViewedAt"))


async def any_show(ctx: Context) -> str:
    """A show (media_30.xml, children_30.xml)."""
    return await ctx.probe.rating_key("show")


async def movie_playlist(ctx: Context) -> str:
    """A video playlist that holds movies (playlist_500.xml lists a movie)."""
    for playlist in await ctx.server.xml("/playlists"):
        if playlist.get("playlistType") != "video":
            continue
        items = await ctx.server.xml(f"/playlists/{playlist.get('ratingKey')}/items")
        if any(item.get("type") == "movie" for item in items):
            return playlist.get("ratingKey", "")
    raise LookupError("the emulated server has no playlist of movies")


async def movies_section(ctx: Context) -> str:
    """The movie section's key."""
    return await ctx.probe.section_key("movie")


async def shows_section(ctx: Context) -> str:
    """The TV section's key."""
    return await ctx.probe.section_key("show")


async def music_section(ctx: Context) -> str:
    """The music section's key."""
    return await ctx.probe.section_key("artist")


async def machine_identifier(ctx: Context) -> str:
    """The server's machine identifier, as ``/identity`` gives it."""
    return (await ctx.server.xml("/identity")).get("machineIdentifier", "")


RESOLVERS: dict[str, Resolver] = {
    "movies": movies_section,
    "shows": shows_section,
    "music": music_section,
    "movie": movie_in_progress,
    "show": any_show,
    "season": watched_season,
    "album": watched_album,
    "artist": played_artist,
    "track": played_track,
    "movie_playlist": movie_playlist,
    "machine": machine_identifier,
}


# -- putting the world in the capture's state ------------------------------------------------------


async def transcoded_movie_session(ctx: Context) -> dict[str, str]:
    """A movie transcoded on a player (session_base.xml: Part decision="transcode")."""
    ctx.emu.sessions.start_session(
        player="Living Room TV", rating_key=await movie_in_progress(ctx), transcode=True
    )
    return {}


async def live_tv_session(ctx: Context) -> dict[str, str]:
    """A player tuned to a channel: the emulator's live TV lineup (livetv_sessions.xml)."""
    ctx.emu.sessions.start_live_tv(player="Living Room TV")
    return {}


async def nothing_on_deck(ctx: Context) -> dict[str, str]:
    """Mark everything on deck unwatched, through ``/:/unscrobble`` (empty_library.xml).

    On Deck holds items in progress and the next episode of shows being watched;
    unscrobbling the movie, or the whole show of an episode, takes each away.
    """
    for _ in range(50):
        on_deck = list(await ctx.server.xml("/library/onDeck"))
        if not on_deck:
            return {}
        for item in on_deck:
            key = item.get("grandparentRatingKey") or item.get("ratingKey") or ""
            params = {"key": key, "identifier": "com.plexapp.plugins.library"}
            status, text = await ctx.server.request(
                "GET", "/:/unscrobble", params=params
            )
            assert status == 200, (
                f"/:/unscrobble?key={key} answered {status}: {text[:200]}"
            )
    raise AssertionError(
        "/library/onDeck did not empty after unscrobbling what it listed"
    )


async def track_play_queue(ctx: Context) -> dict[str, str]:
    """A play queue of one track, made as python-plexapi makes it (playqueue_1234.xml)."""
    known: dict[str, str] = {}
    params = {
        key: await fill(value, ctx, known) for key, value in TRACK_QUEUE_PARAMS.items()
    }
    created = await ctx.server.xml("/playQueues", method="POST", params=params)
    return {"playqueue": created.get("playQueueID", "")}


async def second_server(ctx: Context) -> dict[str, str]:
    """Register a second emulated server on plex.tv (plextv_resources_base.xml lists two)."""
    other = PlexEmulator(
        library="small",
        seed=1,
        clock=ctx.emu.clock,
        name="Second Server",
        token=ctx.emu.token,
    )
    await other.start()
    ctx.stack.push_async_callback(other.stop)
    ctx.plextv.register(other)
    return {}


# -- the table ----------------------------------------------------------------------------------------

CASES: dict[str, Case] = {
    "album.xml": Case(
        "/library/metadata/{album}", extra_tags={"Genre": EVIDENCE_ALBUM_GENRE}
    ),
    "artist_albums.xml": Case(
        "/library/metadata/{artist}/children",
        extra_tags={"Genre": EVIDENCE_ALBUM_GENRE},
    ),
    "children_20.xml": Case(
        "/library/metadata/{season}/children",
        extra_tags={
            "Director": EVIDENCE_EPISODE_CREDITS,
            "Writer": EVIDENCE_EPISODE_CREDITS,
        },
    ),
    "children_200.xml": Case("/library/metadata/{album}/children"),
    "children_30.xml": Case("/library/metadata/{show}/children"),
    "children_300.xml": Case(
        "/library/metadata/{artist}/children",
        extra_tags={"Genre": EVIDENCE_ALBUM_GENRE},
    ),
    # HA core mocks /library/onDeck with it: the answer when nothing is on deck.
    "empty_library.xml": Case("/library/onDeck", setup=nothing_on_deck),
    # HA core: requests_mock.get(f"{url}/hubs", text=hubs).
    "hubs.xml": Case("/hubs", extra_tags={"Directory": EVIDENCE_HUB_DIRECTORY}),
    # HA core: /hubs/sections/3?includeStations=1, section 3 being Music.
    "hubs_library_section.xml": Case(
        "/hubs/sections/{music}",
        {"includeStations": "1"},
        extra_tags={
            "Directory": EVIDENCE_HUB_DIRECTORY,
            "Genre": EVIDENCE_HUB_ITEM_GENRE,
        },
    ),
    "library.xml": Case("/library"),
    "library_movies_all.xml": Case(
        "/library/sections/{movies}/all",
        extra_tags={"Media": EVIDENCE_LIST_MEDIA, "Part": EVIDENCE_LIST_MEDIA},
    ),
    # Unlike its music and TV siblings this capture lists a collection (size="1"), so
    # its request cannot have had X-Plex-Container-Size=0: the rest of META_PARAMS.
    "library_movies_collections.xml": Case(
        "/library/sections/{movies}/collections",
        {"includeMeta": "1", "includeAdvanced": "1"},
    ),
    "library_movies_filtertypes.xml": Case(
        "/library/sections/{movies}/all", META_PARAMS
    ),
    "library_movies_metadata.xml": Case("/library/sections/{movies}/all", META_PARAMS),
    "library_movies_size.xml": Case("/library/sections/{movies}/all", SIZE_PARAMS),
    "library_movies_sort.xml": Case("/library/sections/{movies}/sorts"),
    "library_music_all.xml": Case("/library/sections/{music}/all"),
    "library_music_collections.xml": Case(
        "/library/sections/{music}/collections", META_PARAMS
    ),
    "library_music_size.xml": Case("/library/sections/{music}/all", SIZE_PARAMS),
    "library_music_sort.xml": Case("/library/sections/{music}/sorts"),
    "library_sections.xml": Case("/library/sections"),
    "library_tvshows_all.xml": Case("/library/sections/{shows}/all"),
    "library_tvshows_collections.xml": Case(
        "/library/sections/{shows}/collections", META_PARAMS
    ),
    "library_tvshows_size.xml": Case(
        "/library/sections/{shows}/all", {**SIZE_PARAMS, "type": "2"}
    ),
    "library_tvshows_size_episodes.xml": Case(
        "/library/sections/{shows}/all", {**SIZE_PARAMS, "type": "4"}
    ),
    "library_tvshows_size_seasons.xml": Case(
        "/library/sections/{shows}/all", {**SIZE_PARAMS, "type": "3"}
    ),
    "library_tvshows_sort.xml": Case("/library/sections/{shows}/sorts"),
    "livetv_sessions.xml": Case("/livetv/sessions", setup=live_tv_session),
    "media_1.xml": Case(
        "/library/metadata/{movie}", extra_tags={"Guid": EVIDENCE_DETAIL_TAGS}
    ),
    "media_200.xml": Case(
        "/library/metadata/{album}", extra_tags={"Genre": EVIDENCE_ALBUM_GENRE}
    ),
    "media_30.xml": Case(
        "/library/metadata/{show}",
        extra_tags={"Guid": EVIDENCE_DETAIL_TAGS, "Country": EVIDENCE_DETAIL_TAGS},
    ),
    "playlist_500.xml": Case("/playlists/{movie_playlist}/items"),
    "playlists.xml": Case("/playlists"),
    "playqueue_1234.xml": Case("/playQueues/{playqueue}", setup=track_play_queue),
    "playqueue_created.xml": Case("/playQueues", TRACK_QUEUE_PARAMS, method="POST"),
    "plex_server_accounts.xml": Case("/accounts"),
    "plex_server_base.xml": Case("/"),
    "plex_server_clients.xml": Case("/clients"),
    # plex.tv; HA core mocks https://plex.tv/api/v2/user with it.
    "plextv_account.xml": Case("/api/v2/user", target="plextv"),
    # The MediaContainer/Device/Connection form is plex.tv's /api/resources (the v2
    # path answers <resources><resource>, which python-plexapi reads).
    "plextv_resources_base.xml": Case(
        "/api/resources",
        {"includeHttps": "1", "includeRelay": "1"},
        target="plextv",
        setup=second_server,
    ),
    "plextv_resources_one_server.xml": Case(
        "/api/resources", {"includeHttps": "1", "includeRelay": "1"}, target="plextv"
    ),
    # HA core mocks https://plex.tv/api/users/ with it (python-plexapi MyPlexAccount.users()).
    "plextv_shared_users.xml": Case("/api/users/", target="plextv"),
    "release_new.xml": Case("/updater/status"),
    "release_new_not_updatable.xml": Case("/updater/status"),
    "release_nochange.xml": Case("/updater/status"),
    # python-plexapi's PlexServer.createToken() (used by PlexClient.playMedia).
    "security_token.xml": Case(
        "/security/token", {"type": "delegation", "scope": "all"}
    ),
    "session_base.xml": Case(
        "/status/sessions",
        setup=transcoded_movie_session,
        extra_tags={"TranscodeSession": EVIDENCE_TRANSCODE_SESSION},
    ),
    "show_seasons.xml": Case("/library/metadata/{show}/children"),
}

NOT_COMPARABLE: dict[str, str] = {
    "empty_payload.xml": (
        'a bare <MediaContainer size="0"/> that HA core\'s tests use as a stand-in for '
        "any empty answer (no clients, no invites, no sessions); it answers no single "
        "request, and the empty answers it stands for are covered by empty_library.xml "
        "and the *_size.xml captures"
    ),
    "library_tvshows_most_recent.xml": (
        "put together by hand in HA core: a show Directory wrapping one of its episodes "
        "as a child Video, which no Plex listing does (section listings give flat "
        "items, children_*.xml); the kinds it shows (show, episode, Media, Part) are "
        "compared through library_tvshows_all.xml, media_30.xml and children_20.xml"
    ),
    "player_plexhtpc_resources.xml": (
        "answered by the player itself (http://<player>:32433/resources); the emulator's "
        "players are not HTTP servers, they are reached through the server's "
        "/player/... proxy (tests/plex_server/players.py), as python-plexapi does after "
        "proxyThroughServer()"
    ),
    "player_plexweb_resources.xml": (
        "answered by the player itself (Plex Web's /resources); the emulator's players "
        "are not HTTP servers (see player_plexhtpc_resources.xml)"
    ),
    "sonos_resources.xml": (
        "answered by sonos.plex.tv/resources, Sonos's own Plex service, which neither "
        "the emulated server nor the emulated plex.tv stands in for"
    ),
}


def case_params() -> list[object]:
    """One test per case; the unsupported ones are strict expected failures."""
    return [
        pytest.param(
            name,
            marks=[pytest.mark.xfail(strict=True, reason=case.unsupported)]
            if case.unsupported
            else [],
            id=name.removesuffix(".xml"),
        )
        for name, case in sorted(CASES.items())
    ]


def template_fields(text: str) -> list[str]:
    """The ``{field}`` names in a template."""
    return [name for _, name, _, _ in string.Formatter().parse(text) if name]


async def fill(template: str, ctx: Context, known: dict[str, str]) -> str:
    """A template with its fields filled from ``known`` or ``RESOLVERS``."""
    for name in template_fields(template):
        if name not in known:
            known[name] = await RESOLVERS[name](ctx)
    return template.format(**known)


@contextlib.asynccontextmanager
async def fidelity_context(emu: PlexEmulator) -> AsyncIterator[Context]:
    """An HTTP client of the emulator, an emulated plex.tv that lists it, a probe."""
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())
        plextv = PlexTV(token=emu.token, clock=emu.clock)
        plextv.register(emu)
        await plextv.start()
        stack.push_async_callback(plextv.stop)
        server = EmulatorHTTP(
            session, emu.url, {**CLIENT_HEADERS, "X-Plex-Token": emu.token}
        )
        yield Context(emu, plextv, server, WorldProbe(server), stack)


async def emulated_answer(ctx: Context, case: Case) -> ET.Element:
    """The emulator's XML answer to a case's request."""
    known = await case.setup(ctx) if case.setup else {}
    path = await fill(case.path, ctx, known)
    params = {key: await fill(value, ctx, known) for key, value in case.params.items()}
    client = ctx.server
    if case.target == "plextv":
        client = EmulatorHTTP(
            ctx.server.session,
            ctx.plextv.url,
            {**CLIENT_HEADERS, "X-Plex-Token": ctx.plextv.owner.token},
        )
    status, text = await client.request(case.method, path, params=params)
    assert status == 200, (
        f"{case.method} {path} {params} answered {status}: {text[:300]}"
    )
    return ET.fromstring(text)


@needs_reference
def test_every_capture_is_accounted_for() -> None:
    """Each capture has a request or a stated reason; no entry names a missing file."""
    names = set(capture_names())
    assert names, "no captures found beside the repository"
    assert not set(CASES) & set(NOT_COMPARABLE)
    assert set(CASES) | set(NOT_COMPARABLE) == names


@needs_reference
def test_shapes_file_matches_captures() -> None:
    """capture_shapes.json holds exactly what the captures of ``CASES`` establish."""
    stale = differing_captures(distil(CASES), committed_shapes())
    assert not stale, (
        f"{SHAPES_PATH.name} is out of date for: {', '.join(stale)}; "
        f"regenerate with: {REGENERATE}"
    )


def test_shapes_file_covers_every_case() -> None:
    """The committed shapes name every case and nothing else, in the generator's form."""
    assert set(committed_shapes()) == set(CASES), (
        f"{SHAPES_PATH.name} does not list exactly the captures of CASES; "
        f"regenerate with: {REGENERATE}"
    )
    assert render(committed_shapes()) == SHAPES_PATH.read_text(encoding="utf-8"), (
        f"{SHAPES_PATH.name} was edited by hand; regenerate with: {REGENERATE}"
    )


@pytest.mark.parametrize("name", case_params())
async def test_capture_matches_emulator(plex_server: PlexEmulator, name: str) -> None:
    """The emulator answers the capture's request with the capture's elements and attributes."""
    case = CASES[name]
    async with fidelity_context(plex_server) as ctx:
        emulated = await emulated_answer(ctx, case)
    problems = compare_shapes(
        committed_shapes()[name], attributes_by_kind(emulated), case.extra_tags
    )
    assert not problems, f"{name} vs {case.method} {case.path}:\n  " + "\n  ".join(
        problems
    )


@needs_reference
@pytest.mark.parametrize("name", sorted(CASES.keys() | NOT_COMPARABLE.keys()))
def test_capture_parses_once_filled(name: str) -> None:
    """Every capture is well-formed XML once its placeholders are filled."""
    assert load_capture(name).tag in {"MediaContainer", "user"}


def test_comparison_reports_what_differs() -> None:
    """The comparison passes a shape against itself and names each difference."""
    episodes = committed_shapes()["children_20.xml"]
    tracks = committed_shapes()["children_200.xml"]
    assert compare_shapes(episodes, episodes) == []
    assert compare_shapes(episodes, tracks) == [
        "missing elements: Stream, Video",
        "elements real Plex does not send here: Track",
        (
            "Media lacks attributes: aspectRatio, audioProfile, height, videoCodec, "
            "videoFrameRate, videoProfile, videoResolution, width"
        ),
        "Part lacks attributes: audioProfile, videoProfile",
    ]
    assert "elements real Plex does not send here: Track" not in compare_shapes(
        episodes, tracks, extra_tags={"Track"}
    )


def test_comparison_tells_kinds_apart_by_type() -> None:
    """A show Directory does not stand in for a season Directory."""
    seasons = ET.fromstring(
        '<MediaContainer size="1"><Directory type="season" index="1"/></MediaContainer>'
    )
    shows = ET.fromstring(
        '<MediaContainer size="1"><Directory type="show" index="1"/></MediaContainer>'
    )
    assert compare_with_capture(seasons, seasons) == []
    assert compare_with_capture(seasons, shows) == [
        "no Directory/season element in the answer"
    ]


def test_missing_reference_names_the_paths(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Where the material is missing the message names each path; CI's switch holds."""
    monkeypatch.setattr(fidelity, "CAPTURES_DIR", tmp_path / "captures")
    monkeypatch.setattr(fidelity, "SPEC_PATH", tmp_path / "plex-api-spec.yaml")
    problem = fidelity.reference_problem() or ""
    assert f"{tmp_path}/captures/" in problem
    assert f"{tmp_path}/plex-api-spec.yaml" in problem
    (tmp_path / "captures").mkdir()
    assert f"{tmp_path}/captures/" not in (fidelity.reference_problem() or "")
    (tmp_path / "plex-api-spec.yaml").write_text("{}", encoding="utf-8")
    assert fidelity.reference_problem() is None
    for value, required in (("1", True), ("0", False), ("", False)):
        monkeypatch.setenv(fidelity.REQUIRE_REFERENCE_ENV, value)
        assert fidelity.reference_required() is required
