"""Hostile input: every service, ``play_media``, search text, options and config flow.

Each input ends in a translated error (``HomeAssistantError`` with a translation key,
a schema error, a form error) or a correct result, never an unhandled exception, and
the library mirror's counts are the same afterwards.

Hypothesis generates part of the inputs. Its ``@given`` does not mix with Home
Assistant's function-scoped async ``hass`` fixture, so a synchronous ``@given``
function only records what it is given (``examples``), and each async test feeds the
recorded inputs, with the hand-written ones, to one ``hass`` in a loop.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import HomeAssistantError
from hypothesis import HealthCheck, given, settings, strategies as st
import probatio
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from custom_components.plex_bridge.const import DOMAIN
from tests.plex_server import PlexEmulator

PLAYER_ENTITY = "media_player.living_room_tv"

# Text that has broken parsers before: FTS5 syntax, quotes, NUL, control
# characters, huge strings, emoji and other scripts, SQL and path tricks.
NASTY: tuple[str, ...] = (
    "",
    " ",
    '"',
    "'",
    '"unterminated',
    "a OR b",
    "a AND NOT b",
    "NEAR(a b, 2)",
    "title:matrix",
    "{title summary}:x",
    "^start",
    "matrix*",
    "*",
    "-",
    "(",
    ")",
    "a NOT",
    "AND",
    "\x00",
    "a\x00b",
    "\r\n\t",
    "x" * 10_000,
    "é" * 5_000,
    "🎬🍿" * 100,
    "👩‍👩‍👧‍👦",
    "\u202emirror",
    "\ufeff",
    "\udcff",
    "Robert'); DROP TABLE items;--",
    "../../etc/passwd",
    "%00",
    "plex_bridge://",
    "plex_bridge://server/item/",
    "plex_bridge://../item/1",
    "plex_bridge://x/item/" + "9" * 400,
    '{"library_name": "Movies", "title": "\\u0000"}',
    '{"library_name": 1, "title": []}',
    '{"title": {"$ne": null}}',
    "[]",
    "null",
    "{",
    "-1",
    "1e309",
    "NaN",
    "0x10",
)


# The cases that broke something once, in every field of every service.
SHARP: tuple[Any, ...] = ("\udcff", "a\x00b", "x" * 10_000, '"', None, [], {}, -1)


def examples(strategy: st.SearchStrategy[Any], count: int = 30) -> list[Any]:
    """``count`` inputs Hypothesis generates from ``strategy`` (recorded, not run)."""
    found: list[Any] = []

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def record(value: Any) -> None:
        found.append(value)

    record()
    return found


TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=300
)
SCALAR = st.one_of(
    TEXT,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
VALUE = st.one_of(
    SCALAR, st.lists(SCALAR, max_size=3), st.dictionaries(TEXT, SCALAR, max_size=2)
)


def is_translated(err: BaseException) -> bool:
    """A refusal the user reads in their language, or the schema's own error."""
    if isinstance(err, (vol.Invalid, probatio.Invalid)):
        return True
    return isinstance(err, HomeAssistantError) and err.translation_key is not None


async def mirror_counts(entry: MockConfigEntry) -> Any:
    """What the mirror holds, per library and type."""
    mirror = entry.runtime_data.mirror
    assert mirror is not None
    return await mirror.async_counts()


async def expect_handled(
    hass: HomeAssistant, call: Callable[[], Any], what: Any, failures: list[str]
) -> None:
    """Run one hostile call; note it if it raised anything untranslated."""
    try:
        await call()
    except Exception as err:  # noqa: BLE001 - the point is to see any exception
        if not is_translated(err):
            failures.append(f"{what!r:.200}: {type(err).__name__}: {err!s:.200}")
    await hass.async_block_till_done()


# Each service's fields; bad values are put in one field at a time.
SERVICE_FIELDS: dict[str, tuple[str, ...]] = {
    "refresh_library": ("library",),
    "mark_watched": ("rating_key", "media_content_id"),
    "mark_unwatched": ("rating_key", "media_content_id"),
    "terminate_session": ("session_id", "session_key", "player", "message"),
    "history": ("user", "player", "limit"),
    "set_streams": (
        "player",
        "audio_language",
        "audio_stream_id",
        "subtitle_language",
        "subtitle_stream_id",
    ),
    "recently_added": ("library", "limit"),
    "on_deck": ("library", "limit"),
    "sync": ("mode", "library"),
    "search": (
        "query",
        "type",
        "library",
        "year",
        "genre",
        "watched",
        "external_id",
        "limit",
    ),
}
RESPONDS = frozenset({"history", "recently_added", "on_deck", "search", "sync"})
# Values that name a real target, so that "a correct result" is also reached.
BASE: dict[str, dict[str, Any]] = {
    "set_streams": {"player": "Living Room TV"},
    "terminate_session": {},
}


async def test_every_service_field(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Hand-written and generated values in each field of each service."""
    before = await mirror_counts(loaded_entry)
    generated = examples(VALUE, 6)
    failures: list[str] = []
    for service, fields in SERVICE_FIELDS.items():
        for field in fields:
            for value in (*NASTY[::5], *SHARP, *generated):
                data = {**BASE.get(service, {}), field: value}
                await expect_handled(
                    hass,
                    lambda s=service, d=data: hass.services.async_call(
                        DOMAIN,
                        s,
                        d,
                        blocking=True,
                        return_response=s in RESPONDS,
                    ),
                    (service, data),
                    failures,
                )
    assert failures == [], "\n".join(failures)
    assert await mirror_counts(loaded_entry) == before


async def test_search_text(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    """Every nasty text and generated ones as the search query: results, or refusals."""
    before = await mirror_counts(loaded_entry)
    failures: list[str] = []
    for query in (*NASTY, *examples(TEXT, 25)):
        await expect_handled(
            hass,
            lambda q=query: hass.services.async_call(
                DOMAIN, "search", {"query": q}, blocking=True, return_response=True
            ),
            query,
            failures,
        )
    assert failures == [], "\n".join(failures)
    # An ordinary query still finds what it should after all that.
    result = await hass.services.async_call(
        DOMAIN, "search", {"query": "Matrix"}, blocking=True, return_response=True
    )
    assert "Matrix" in str(result)
    assert await mirror_counts(loaded_entry) == before


JSON_PAYLOAD = st.dictionaries(
    st.sampled_from(
        [
            "library_name",
            "title",
            "show_name",
            "season_number",
            "episode_number",
            "artist_name",
            "album_name",
            "track_name",
            "playlist_name",
            "shuffle",
            "offset",
            "plex_server",
            "year",
            "id",
        ]
    ),
    SCALAR,
    max_size=4,
)


async def test_play_media_payloads(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """JSON payloads, plex_bridge:// ids and plain titles, of each content type."""
    import json

    before = await mirror_counts(loaded_entry)
    ids: list[str] = [*NASTY]
    ids += [json.dumps(payload) for payload in examples(JSON_PAYLOAD, 20)]
    ids += [f"plex_bridge://{text}" for text in examples(TEXT, 8)]
    failures: list[str] = []
    for content_type in ("movie", "video", "music", "playlist", "EPISODE", "💥"):
        for content_id in ids[:: 1 if content_type == "movie" else 9]:
            await expect_handled(
                hass,
                lambda t=content_type, i=content_id: hass.services.async_call(
                    "media_player",
                    "play_media",
                    {
                        "entity_id": PLAYER_ENTITY,
                        "media_content_type": t,
                        "media_content_id": i,
                    },
                    blocking=True,
                ),
                (content_type, content_id),
                failures,
            )
    assert failures == [], "\n".join(failures)
    assert await mirror_counts(loaded_entry) == before


OPTION_FIELDS = (
    "update_interval",
    "monitored_users",
    "ignore_plex_web",
    "player_retention",
    "mirror_libraries",
    "mirror_interval",
    "path_mappings",
)


async def test_option_values(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Bad option values end in the form's errors or a schema error, options kept."""
    options = dict(loaded_entry.options)
    generated = examples(VALUE, 6)
    failures: list[str] = []
    for field in OPTION_FIELDS:
        for value in (*NASTY[::5], *generated):
            result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
            assert result["type"] is FlowResultType.FORM
            flow_id = result["flow_id"]
            outcome: list[Any] = []

            async def configure(
                f: str = field,
                v: Any = value,
                o: list[Any] = outcome,
                fid: str = flow_id,
            ) -> None:
                o.append(await hass.config_entries.options.async_configure(fid, {f: v}))

            await expect_handled(hass, configure, (field, value), failures)
            if outcome and outcome[0]["type"] is FlowResultType.FORM:
                assert outcome[0]["errors"], (field, value)
            if outcome and outcome[0]["type"] is FlowResultType.CREATE_ENTRY:
                options = dict(loaded_entry.options)
            if not outcome or outcome[0]["type"] is FlowResultType.FORM:
                hass.config_entries.options.async_abort(flow_id)
    assert failures == [], "\n".join(failures)
    assert dict(loaded_entry.options) == options


async def test_manual_config_flow_fields(
    hass: HomeAssistant, plex_server: PlexEmulator
) -> None:
    """Bad URLs and tokens in the manual step end in form errors, never a crash."""
    urls = [
        *NASTY[::4],
        "http://",
        "http://127.0.0.1:0",
        "http://127.0.0.1:99999",
        "http://[::1",
        "ftp://127.0.0.1/",
        "javascript:alert(1)",
        f"{plex_server.url}/../..",
        f"{plex_server.url}?X-Plex-Token=x",
        f"{plex_server.url}#frag",
        f"http://user:pass@127.0.0.1:{plex_server.port}",
        *examples(TEXT, 6),
    ]
    tokens = [*NASTY[::4], plex_server.token + "\x00", *examples(TEXT, 6)]
    failures: list[str] = []
    cases = [(url, plex_server.token) for url in urls]
    cases += [(plex_server.url, token) for token in tokens]
    for url, token in cases:
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USER}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": "manual"}
        )
        flow_id = result["flow_id"]
        outcome: list[Any] = []

        async def configure(
            u: str = url, t: str = token, o: list[Any] = outcome, fid: str = flow_id
        ) -> None:
            o.append(
                await hass.config_entries.flow.async_configure(
                    fid, {"url": u, "token": t}
                )
            )

        await expect_handled(hass, configure, (url, token), failures)
        if outcome and outcome[0]["type"] is FlowResultType.FORM:
            assert outcome[0]["errors"], (url, token)
        if not outcome or outcome[0]["type"] is FlowResultType.FORM:
            hass.config_entries.flow.async_abort(flow_id)
        if outcome and outcome[0]["type"] is FlowResultType.CREATE_ENTRY:
            # A URL the server does answer on: a correct result; start again.
            entry = outcome[0]["result"]
            assert await hass.config_entries.async_remove(entry.entry_id)
            await hass.async_block_till_done()
    assert failures == [], "\n".join(failures)
