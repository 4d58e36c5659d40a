"""Services of Plex Bridge: library scans, watch state, sessions, history and streams.

Every service takes an optional ``config_entry_id`` naming the server; without it
the only loaded server is used (``search`` alone spans every server unless one is
named). Players (``player``) are named by the entity id of our media player, by
their name in Plex or by their machine identifier. Services that answer
(``history``, ``recently_added``, ``on_deck``, ``search``) return response data
only (``SupportsResponse.ONLY``); ``sync`` returns its result when asked
(``SupportsResponse.OPTIONAL``).

``search`` answers from the library mirrors (the local SQLite copies), never from
the servers: copies of the same title (in two libraries, or on two servers) share
an external id (imdb, tmdb, tvdb or Plex's own), and are one result that lists each
copy with its library and server.

Some actions are the server owner's: Plex refuses a shared account's token the
live sessions (so ``terminate_session`` and ``set_streams``, which act on what a
player plays), section scans (``refresh_library``) and the list of accounts
(``history``'s ``user``). For such an entry they refuse before asking the server,
with the translated ``owner_only`` error; ``history`` without ``user`` lists the
account's own plays, which is all Plex shows it.

Every bad value ends in a ``ServiceValidationError`` with a translation key: fields
whose values a schema would refuse with Home Assistant's generic message (``sync``'s
``mode``, ``search``'s types, years and limit) are checked by the handlers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
import re
from typing import TYPE_CHECKING, Any, Final

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv, entity_registry as er
from homeassistant.util import dt as dt_util
import probatio

from .api import Device, MediaItem, PlexError, Section
from .api.models import (
    STREAM_TYPE_AUDIO,
    STREAM_TYPE_SUBTITLE,
    HistoryEntry,
    MediaStream,
    SystemDevice,
    full_title,
)
from .const import DOMAIN, OPTION_MIRROR_LIBRARIES, URI_SCHEME
from .library_mirror import (
    PlexMirror,
    SyncKind,
    item_context,
    item_full_title,
    item_media_id,
    result_data,
)

if TYPE_CHECKING:
    from . import PlexBridgeConfigEntry
    from .coordinator import LiveSession
    from .mirror.search import SearchHit
    from .mirror.store import MirrorItem

SERVICE_REFRESH_LIBRARY: Final = "refresh_library"
SERVICE_MARK_WATCHED: Final = "mark_watched"
SERVICE_MARK_UNWATCHED: Final = "mark_unwatched"
SERVICE_TERMINATE_SESSION: Final = "terminate_session"
SERVICE_HISTORY: Final = "history"
SERVICE_SET_STREAMS: Final = "set_streams"
SERVICE_RECENTLY_ADDED: Final = "recently_added"
SERVICE_ON_DECK: Final = "on_deck"
SERVICE_SYNC: Final = "sync"
SERVICE_SEARCH: Final = "search"

ATTR_LIBRARY: Final = "library"
ATTR_RATING_KEY: Final = "rating_key"
ATTR_MEDIA_CONTENT_ID: Final = "media_content_id"
ATTR_SESSION_ID: Final = "session_id"
ATTR_SESSION_KEY: Final = "session_key"
ATTR_PLAYER: Final = "player"
ATTR_MESSAGE: Final = "message"
ATTR_USER: Final = "user"
ATTR_LIMIT: Final = "limit"
ATTR_AUDIO_LANGUAGE: Final = "audio_language"
ATTR_SUBTITLE_LANGUAGE: Final = "subtitle_language"
ATTR_AUDIO_STREAM_ID: Final = "audio_stream_id"
ATTR_SUBTITLE_STREAM_ID: Final = "subtitle_stream_id"
ATTR_MODE: Final = "mode"
ATTR_QUERY: Final = "query"
ATTR_TYPE: Final = "type"
ATTR_YEAR: Final = "year"
ATTR_GENRE: Final = "genre"
ATTR_WATCHED: Final = "watched"
ATTR_EXTERNAL_ID: Final = "external_id"

SYNC_KINDS: Final[dict[str, SyncKind]] = {"incremental": "incremental", "full": "full"}
SYNC_MODES: Final = tuple(SYNC_KINDS)
SEARCH_TYPES: Final = (
    "movie",
    "show",
    "season",
    "episode",
    "artist",
    "album",
    "track",
    "photoalbum",
    "photo",
)
# ``year``: 1999, "1999", or a range "1990-1999" (either end may be left out).
YEAR_RANGE: Final = re.compile(r"\s*(\d{4})?\s*(?:-|\.\.|\u2013)\s*(\d{4})?\s*")
MIN_YEAR: Final = 1800
MAX_YEAR: Final = 2200

DEFAULT_LIMIT: Final = 10
MAX_LIMIT: Final = 200
DEFAULT_TERMINATE_MESSAGE: Final = "Your playback was stopped from Home Assistant."
SUBTITLES_OFF: Final = frozenset({"off", "none"})
"""``subtitle_language`` values that turn subtitles off (stream id 0)."""

_ENTRY: Final = {probatio.Optional(ATTR_CONFIG_ENTRY_ID): cv.string}
_LIMIT: Final = {
    probatio.Optional(ATTR_LIMIT, default=DEFAULT_LIMIT): probatio.All(
        probatio.Coerce(int), probatio.Range(min=1, max=MAX_LIMIT)
    )
}

REFRESH_LIBRARY_SCHEMA: Final = probatio.Schema(
    {**_ENTRY, probatio.Required(ATTR_LIBRARY): cv.string}
)
WATCHED_SCHEMA: Final = probatio.All(
    probatio.Schema(
        {
            **_ENTRY,
            probatio.Exclusive(ATTR_RATING_KEY, "item"): cv.string,
            probatio.Exclusive(ATTR_MEDIA_CONTENT_ID, "item"): cv.string,
        }
    ),
    cv.has_at_least_one_key(ATTR_RATING_KEY, ATTR_MEDIA_CONTENT_ID),
)
TERMINATE_SESSION_SCHEMA: Final = probatio.All(
    probatio.Schema(
        {
            **_ENTRY,
            probatio.Exclusive(ATTR_SESSION_ID, "session"): cv.string,
            probatio.Exclusive(ATTR_SESSION_KEY, "session"): cv.string,
            probatio.Exclusive(ATTR_PLAYER, "session"): cv.string,
            probatio.Optional(
                ATTR_MESSAGE, default=DEFAULT_TERMINATE_MESSAGE
            ): cv.string,
        }
    ),
    cv.has_at_least_one_key(ATTR_SESSION_ID, ATTR_SESSION_KEY, ATTR_PLAYER),
)
HISTORY_SCHEMA: Final = probatio.Schema(
    {
        **_ENTRY,
        **_LIMIT,
        probatio.Optional(ATTR_USER): cv.string,
        probatio.Optional(ATTR_PLAYER): cv.string,
    }
)
SET_STREAMS_SCHEMA: Final = probatio.All(
    probatio.Schema(
        {
            **_ENTRY,
            probatio.Required(ATTR_PLAYER): cv.string,
            probatio.Exclusive(ATTR_AUDIO_LANGUAGE, "audio"): cv.string,
            probatio.Exclusive(ATTR_AUDIO_STREAM_ID, "audio"): cv.positive_int,
            probatio.Exclusive(ATTR_SUBTITLE_LANGUAGE, "subtitle"): cv.string,
            probatio.Exclusive(ATTR_SUBTITLE_STREAM_ID, "subtitle"): cv.positive_int,
        }
    ),
    cv.has_at_least_one_key(
        ATTR_AUDIO_LANGUAGE,
        ATTR_AUDIO_STREAM_ID,
        ATTR_SUBTITLE_LANGUAGE,
        ATTR_SUBTITLE_STREAM_ID,
    ),
)
LIBRARY_LIST_SCHEMA: Final = probatio.Schema(
    {**_ENTRY, **_LIMIT, probatio.Optional(ATTR_LIBRARY): cv.string}
)
# ``mode`` is checked by the handler (``_sync_mode``), for a translated message.
SYNC_SCHEMA: Final = probatio.Schema(
    {
        **_ENTRY,
        probatio.Optional(ATTR_MODE, default="incremental"): object,
        probatio.Optional(ATTR_LIBRARY): cv.string,
    }
)
# Types, years, limits and external ids are checked by the handler, so that bad
# values get their own translated message rather than a schema error.
SEARCH_SCHEMA: Final = probatio.Schema(
    {
        **_ENTRY,
        probatio.Optional(ATTR_QUERY): probatio.Any(None, cv.string),
        probatio.Optional(ATTR_TYPE): probatio.All(cv.ensure_list, [cv.string]),
        probatio.Optional(ATTR_LIBRARY): cv.string,
        probatio.Optional(ATTR_YEAR): probatio.Any(int, cv.string),
        probatio.Optional(ATTR_GENRE): cv.string,
        probatio.Optional(ATTR_WATCHED): cv.boolean,
        probatio.Optional(ATTR_EXTERNAL_ID): cv.string,
        probatio.Optional(ATTR_LIMIT, default=DEFAULT_LIMIT): probatio.Any(
            int, float, cv.string
        ),
    }
)


# -- resolving what a call names ----------------------------------------------------------


def _invalid(key: str, **placeholders: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key=key,
        translation_placeholders=placeholders or None,
    )


def _server_error(err: PlexError) -> HomeAssistantError:
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="server_error",
        translation_placeholders={"error": str(err)},
    )


async def _call_server[T](request: Callable[[], Awaitable[T]]) -> T:
    """Run one request to the server; its failure becomes a ``HomeAssistantError``."""
    try:
        return await request()
    except PlexError as err:
        raise _server_error(err) from err


def _entry(call: ServiceCall) -> PlexBridgeConfigEntry:
    """The loaded entry a call names, or the only loaded one when it names none."""
    hass = call.hass
    entry_id: str | None = call.data.get(ATTR_CONFIG_ENTRY_ID)
    if entry_id is None:
        entries = hass.config_entries.async_loaded_entries(DOMAIN)
        if len(entries) != 1:
            raise _invalid("server_required")
        return entries[0]
    entry = hass.config_entries.async_get_entry(entry_id)
    if entry is None or entry.domain != DOMAIN:
        raise _invalid("unknown_server", config_entry_id=entry_id)
    if entry.state is not ConfigEntryState.LOADED:
        raise _invalid("server_not_loaded", server=entry.title)
    return entry


def _owner_entry(call: ServiceCall) -> PlexBridgeConfigEntry:
    """The entry a call names, for an action Plex allows the server's owner only."""
    entry = _entry(call)
    if not entry.runtime_data.owner:
        raise _invalid("owner_only", server=entry.title)
    return entry


async def _section(entry: PlexBridgeConfigEntry, library: str) -> Section:
    """A library section by its id or its title (any case)."""
    sections = await _call_server(entry.runtime_data.client.sections)
    wanted = library.strip().casefold()
    for section in sections:
        if section.key == library.strip() or section.title.casefold() == wanted:
            return section
    raise _invalid(
        "unknown_library",
        library=library,
        libraries=", ".join(section.title for section in sections),
    )


def _rating_key(entry: PlexBridgeConfigEntry, data: dict[str, Any]) -> str:
    """The rating key a call names, directly or as ``plex_bridge://<server>/<key>``."""
    if ATTR_RATING_KEY in data:
        key = str(data[ATTR_RATING_KEY]).strip()
        # Plex's rating keys are ASCII digits; anything else (a lone surrogate
        # cannot even be put in a URL) names no item, said before asking.
        if not (key.isascii() and key.isdigit()):
            raise _invalid("unknown_item", rating_key=key)
        return key
    content_id = str(data[ATTR_MEDIA_CONTENT_ID])
    # ``plex_bridge`` is no RFC 3986 scheme (an underscore), so URL parsers refuse it.
    scheme, _, rest = content_id.partition("://")
    server, _, path = rest.partition("/")
    # The key is the last segment: ``.../<key>`` or ``.../library/metadata/<key>``.
    key = path.rstrip("/").rsplit("/", 1)[-1]
    machine_identifier = entry.runtime_data.server.machine_identifier
    if (
        scheme != URI_SCHEME
        or server.casefold() != machine_identifier.casefold()
        or not key
    ):
        raise _invalid("invalid_media_content_id", media_content_id=content_id)
    return key


def _player(hass: HomeAssistant, entry: PlexBridgeConfigEntry, name: str) -> Device:
    """A player by our media player's entity id, its machine identifier or its name."""
    players = entry.runtime_data.sessions.data.players
    text = name.strip()
    if text.startswith("media_player."):
        registered = er.async_get(hass).async_get(text)
        prefix = f"{entry.runtime_data.server.machine_identifier}-"
        if (
            registered is not None
            and registered.config_entry_id == entry.entry_id
            and registered.unique_id.startswith(prefix)
        ):
            text = registered.unique_id.removeprefix(prefix)
    if text in players:
        return players[text]
    wanted = text.casefold()
    for device in players.values():
        if device.name.casefold() == wanted:
            return device
    raise _invalid(
        "unknown_player",
        player=name,
        players=", ".join(sorted(device.name for device in players.values())),
    )


def _iso(timestamp: int | None) -> str | None:
    if timestamp is None:
        return None
    return dt_util.utc_from_timestamp(timestamp).isoformat()


# -- the services ---------------------------------------------------------------------


async def _async_refresh_library(call: ServiceCall) -> None:
    entry = _owner_entry(call)
    section = await _section(entry, call.data[ATTR_LIBRARY])
    client = entry.runtime_data.client
    await _call_server(lambda: client.refresh_section(section.key))


async def _async_set_watched(call: ServiceCall, *, watched: bool) -> None:
    entry = _entry(call)
    client = entry.runtime_data.client
    rating_key = _rating_key(entry, call.data)
    if await _call_server(lambda: client.item_or_none(rating_key)) is None:
        raise _invalid("unknown_item", rating_key=rating_key)
    mark = client.mark_watched if watched else client.mark_unwatched
    await _call_server(lambda: mark(rating_key))
    entry.runtime_data.library.async_handle_library_change(scan=False)
    # Unwatched clears lastViewedAt, so no incremental sync would see it: the
    # mirror reads the item (and its parents) again now.
    if (mirror := entry.runtime_data.mirror) is not None:
        mirror.async_handle_timeline([rating_key], [])


async def _async_mark_watched(call: ServiceCall) -> None:
    await _async_set_watched(call, watched=True)


async def _async_mark_unwatched(call: ServiceCall) -> None:
    await _async_set_watched(call, watched=False)


def _live_session(call: ServiceCall, entry: PlexBridgeConfigEntry) -> LiveSession:
    """The live session a call names by session id, session key or player."""
    data = entry.runtime_data.sessions.data
    live: LiveSession | None
    if ATTR_SESSION_KEY in call.data:
        wanted = call.data[ATTR_SESSION_KEY]
        live = data.sessions.get(wanted)
    elif ATTR_SESSION_ID in call.data:
        wanted = call.data[ATTR_SESSION_ID]
        live = next(
            (s for s in data.sessions.values() if s.session.session_id == wanted), None
        )
    else:
        device = _player(call.hass, entry, call.data[ATTR_PLAYER])
        wanted = device.name
        live = data.for_player(device.machine_identifier)
    if live is None:
        raise _invalid("unknown_session", session=wanted)
    return live


async def _async_terminate_session(call: ServiceCall) -> None:
    entry = _owner_entry(call)
    live = _live_session(call, entry)
    session_id = live.session.session_id
    if session_id is None:
        raise _invalid("unknown_session", session=live.session.session_key)
    client = entry.runtime_data.client
    await _call_server(
        lambda: client.terminate_session(session_id, call.data[ATTR_MESSAGE])
    )


async def _async_history(call: ServiceCall) -> ServiceResponse:
    user: str | None = call.data.get(ATTR_USER)
    entry = _entry(call) if user is None else _owner_entry(call)
    client = entry.runtime_data.client
    # A shared account may not list the accounts; the server shows it its own plays.
    accounts = (
        {account.id: account.name for account in await _call_server(client.accounts)}
        if entry.runtime_data.owner
        else {}
    )
    account_id: str | None = None
    if user is not None:
        account_id = _account_id(accounts, user)
    devices = {device.id: device for device in await _call_server(client.devices)}
    device_id: str | None = None
    if (player := call.data.get(ATTR_PLAYER)) is not None:
        device_id = _device_id(call.hass, entry, devices, player)
    limit: int = call.data[ATTR_LIMIT]
    entries = await _call_server(
        lambda: client.history(account_id=account_id, device_id=device_id, limit=limit)
    )
    # The server filters by account; not every server filters by device.
    if device_id is not None:
        entries = [entry for entry in entries if entry.device_id == device_id]

    def play(entry: HistoryEntry) -> dict[str, Any]:
        device = devices.get(entry.device_id or "")
        return {
            "title": entry.title,
            "full_title": full_title(entry.type, entry.title, entry.grandparent_title),
            "type": entry.type,
            "viewed_at": _iso(entry.viewed_at),
            "user": accounts.get(entry.account_id or ""),
            "player": device.name if device else None,
            "rating_key": entry.rating_key,
        }

    return {"plays": [play(entry) for entry in entries[:limit]]}


def _account_id(accounts: dict[str, str], user: str) -> str:
    """An account id by id or name (any case)."""
    if user in accounts:
        return user
    wanted = user.strip().casefold()
    for account_id, name in accounts.items():
        if name.casefold() == wanted:
            return account_id
    raise _invalid(
        "unknown_user", user=user, users=", ".join(sorted(accounts.values()))
    )


def _device_id(
    hass: HomeAssistant,
    entry: PlexBridgeConfigEntry,
    devices: dict[str, SystemDevice],
    player: str,
) -> str:
    """The server's device id of a player (history names players by it).

    A player Home Assistant knows is matched by machine identifier; one it does
    not (any longer) by the server's name for the device.
    """
    try:
        wanted = _player(hass, entry, player).machine_identifier
    except ServiceValidationError:
        wanted = player.strip()
    for device_id, system in devices.items():
        if (
            system.client_identifier == wanted
            or system.name.casefold() == wanted.casefold()
        ):
            return device_id
    raise _invalid(
        "unknown_player",
        player=player,
        players=", ".join(sorted(system.name for system in devices.values())),
    )


def _stream_id(streams: list[MediaStream], kind: int, language: str) -> int:
    """The id of the first stream of ``kind`` in ``language`` (0: subtitles off)."""
    if kind == STREAM_TYPE_SUBTITLE and language.strip().casefold() in SUBTITLES_OFF:
        return 0
    for stream in streams:
        if stream.stream_type == kind and stream.speaks(language):
            return stream.id
    offered = sorted(
        {
            stream.language or stream.language_code or "?"
            for stream in streams
            if stream.stream_type == kind
        }
    )
    raise _invalid(
        "no_stream_in_language",
        kind="audio" if kind == STREAM_TYPE_AUDIO else "subtitle",
        language=language,
        languages=", ".join(offered) or "-",
    )


async def _async_set_streams(call: ServiceCall) -> None:
    entry = _owner_entry(call)
    device = _player(call.hass, entry, call.data[ATTR_PLAYER])
    if not device.controllable:
        raise _invalid("player_not_controllable", player=device.name)
    live = entry.runtime_data.sessions.data.for_player(device.machine_identifier)
    if live is None:
        raise _invalid("nothing_playing", player=device.name)
    client = entry.runtime_data.client
    params: dict[str, str | int] = {
        "type": "music" if live.item.type == "track" else "video"
    }
    if ATTR_AUDIO_STREAM_ID in call.data:
        params["audioStreamID"] = call.data[ATTR_AUDIO_STREAM_ID]
    if ATTR_SUBTITLE_STREAM_ID in call.data:
        params["subtitleStreamID"] = call.data[ATTR_SUBTITLE_STREAM_ID]
    audio: str | None = call.data.get(ATTR_AUDIO_LANGUAGE)
    subtitles: str | None = call.data.get(ATTR_SUBTITLE_LANGUAGE)
    if audio is not None or subtitles is not None:
        rating_key = live.item.rating_key
        streams = await _call_server(lambda: client.item_streams(rating_key))
        if audio is not None:
            params["audioStreamID"] = _stream_id(streams, STREAM_TYPE_AUDIO, audio)
        if subtitles is not None:
            params["subtitleStreamID"] = _stream_id(
                streams, STREAM_TYPE_SUBTITLE, subtitles
            )
    await _call_server(
        lambda: client.command(device.machine_identifier, "setStreams", params)
    )


def _item_data(item: MediaItem) -> dict[str, Any]:
    return {
        "title": item.title,
        "full_title": item.full_title,
        "type": item.type,
        "rating_key": item.rating_key,
        "year": item.year,
        "library": item.library_section_title,
        "added_at": _iso(item.added_at),
        "viewed": bool(item.view_count),
    }


async def _async_library_list(
    call: ServiceCall,
    fetch: Callable[
        [PlexBridgeConfigEntry, str | None, int], Awaitable[list[MediaItem]]
    ],
) -> ServiceResponse:
    entry = _entry(call)
    section_key: str | None = None
    if (library := call.data.get(ATTR_LIBRARY)) is not None:
        section_key = (await _section(entry, library)).key
    limit: int = call.data[ATTR_LIMIT]
    items = await _call_server(lambda: fetch(entry, section_key, limit))
    return {"items": [_item_data(item) for item in items[:limit]]}


async def _async_recently_added(call: ServiceCall) -> ServiceResponse:
    return await _async_library_list(
        call,
        lambda entry, key, limit: entry.runtime_data.client.recently_added(key, limit),
    )


async def _async_on_deck(call: ServiceCall) -> ServiceResponse:
    return await _async_library_list(
        call, lambda entry, key, limit: entry.runtime_data.client.on_deck(key, limit)
    )


# -- the library mirror -----------------------------------------------------------------


def _mirror(entry: PlexBridgeConfigEntry) -> PlexMirror:
    """The entry's mirror (an entry whose file could not be opened has none)."""
    mirror = entry.runtime_data.mirror
    if mirror is None:
        raise _invalid("mirror_unavailable", server=entry.title)
    return mirror


def _sync_mode(value: Any) -> SyncKind:
    """``incremental`` or ``full`` (any case, spaces around allowed)."""
    mode = value.strip().lower() if isinstance(value, str) else ""
    if (kind := SYNC_KINDS.get(mode)) is not None:
        return kind
    raise _invalid(
        "invalid_sync_mode", mode=str(value)[:100], modes=", ".join(SYNC_MODES)
    )


async def _async_sync(call: ServiceCall) -> ServiceResponse:
    mode = _sync_mode(call.data[ATTR_MODE])
    entry = _entry(call)
    mirror = _mirror(entry)
    keys: list[str] | None = None
    if (library := call.data.get(ATTR_LIBRARY)) is not None:
        section = await _section(entry, library)
        mirrored = [
            str(key) for key in entry.options.get(OPTION_MIRROR_LIBRARIES) or []
        ]
        if mirrored and section.key not in mirrored:
            raise _invalid("library_not_mirrored", library=section.title)
        keys = [section.key]
    result = await mirror.async_sync(mode, keys)
    return {"server": entry.runtime_data.server.friendly_name, **result_data(result)}


def _search_limit(value: Any) -> int:
    try:
        limit = int(value)
    except TypeError, ValueError:
        limit = 0
    if isinstance(value, bool) or (limit != value and str(limit) != str(value).strip()):
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise _invalid("invalid_limit", limit=str(value), max=str(MAX_LIMIT))
    return limit


def _search_types(values: Sequence[str] | None) -> list[str] | None:
    if not values:
        return None
    types = [value.strip().lower() for value in values]
    if bad := [value for value in types if value not in SEARCH_TYPES]:
        raise _invalid(
            "invalid_search_type", type=", ".join(bad), types=", ".join(SEARCH_TYPES)
        )
    return types


def _search_years(value: int | str | None) -> dict[str, Any]:
    """``year`` or ``year_range`` for the store, from 1999, "1999" or "1990-1999"."""
    if value is None:
        return {}
    text = str(value).strip()
    if text.isdigit() and MIN_YEAR <= int(text) <= MAX_YEAR:
        return {"year": int(text)}
    if (match := YEAR_RANGE.fullmatch(text)) is not None and any(match.groups()):
        start = int(match.group(1) or MIN_YEAR)
        end = int(match.group(2) or MAX_YEAR)
        if MIN_YEAR <= start <= end <= MAX_YEAR:
            return {"year_range": (start, end)}
    raise _invalid("invalid_year", year=text)


def _search_external_id(value: str | None) -> tuple[str, str] | None:
    if value is None:
        return None
    from .mirror.guids import parse_external_id

    try:
        return parse_external_id(value)
    except ValueError:
        raise _invalid("invalid_external_id", external_id=value) from None


def _search_entries(call: ServiceCall) -> list[PlexBridgeConfigEntry]:
    """The servers a search spans: the one named, else every loaded one."""
    if ATTR_CONFIG_ENTRY_ID in call.data:
        return [_entry(call)]
    entries = call.hass.config_entries.async_loaded_entries(DOMAIN)
    if not entries:
        raise _invalid("server_required")
    return entries


async def _async_search(call: ServiceCall) -> ServiceResponse:
    data = call.data
    query = (data.get(ATTR_QUERY) or "").strip() or None
    filters: dict[str, Any] = {
        "types": _search_types(data.get(ATTR_TYPE)),
        **_search_years(data.get(ATTR_YEAR)),
        "genre": (data.get(ATTR_GENRE) or "").strip() or None,
        "watched": data.get(ATTR_WATCHED),
        "external_id": _search_external_id(data.get(ATTR_EXTERNAL_ID)),
    }
    limit = _search_limit(data[ATTR_LIMIT])
    library: str | None = data.get(ATTR_LIBRARY)
    if (
        query is None
        and library is None
        and not any(value is not None for value in filters.values())
    ):
        raise _invalid("empty_query")
    mirrors = [
        (entry, mirror)
        for entry in _search_entries(call)
        if (mirror := entry.runtime_data.mirror) is not None and mirror.synced
    ]
    if not mirrors:
        raise _invalid("mirror_not_synced")
    searches: list[tuple[PlexBridgeConfigEntry, dict[str, str], list[SearchHit]]] = []
    known_libraries: list[str] = []
    for entry, mirror in mirrors:
        libraries = {lib.key: lib.title for lib in await mirror.async_libraries()}
        known_libraries.extend(libraries.values())
        keys: list[str] | None = None
        if library is not None:
            keys = _library_keys(libraries, library)
            if not keys:
                continue
        # More hits than results: copies of one title become one result.
        hits = await mirror.async_search(
            query, library_keys=keys, limit=min(MAX_LIMIT, 2 * limit), **filters
        )
        searches.append((entry, libraries, hits))
    if library is not None and not searches:
        raise _invalid(
            "unknown_library",
            library=library,
            libraries=", ".join(sorted(set(known_libraries))),
        )
    results = group_results(searches)[:limit]
    response: dict[str, Any] = {"results": results, "count": len(results)}
    return response


def _library_keys(libraries: dict[str, str], library: str) -> list[str]:
    """The keys of a library named by key or title (any case)."""
    wanted = library.strip()
    if wanted in libraries:
        return [wanted]
    return [
        key for key, title in libraries.items() if title.casefold() == wanted.casefold()
    ]


def _copy(
    entry: PlexBridgeConfigEntry, libraries: dict[str, str], item: MirrorItem
) -> dict[str, Any]:
    """Where one copy of a result is: server, library, id, files."""
    server = entry.runtime_data.server
    local = [local for _, local in item.parts if local]
    return {
        "server": server.friendly_name,
        "server_id": server.machine_identifier,
        "config_entry_id": entry.entry_id,
        "library": libraries.get(item.library_key),
        "library_id": item.library_key,
        "rating_key": item.rating_key,
        "media_content_id": item_media_id(server.machine_identifier, item.rating_key),
        "file": item.parts[0][0] if item.parts else None,
        "local_path": local[0] if local else None,
    }


def _result(
    item: MirrorItem, hit: SearchHit, copies: list[dict[str, Any]]
) -> dict[str, Any]:
    """One search result: the best copy's facts, and every copy."""
    best = copies[0]
    return {
        "title": item.title,
        "full_title": item_full_title(item),
        "year": item.year,
        "type": item.type,
        **item_context(item),
        "summary": item.summary,
        "genres": list(item.genres),
        "external_ids": dict(item.guids),
        "match": hit.match,
        "library": best["library"],
        "server": best["server"],
        "media_content_id": best["media_content_id"],
        "rating_key": best["rating_key"],
        "local_path": best["local_path"],
        "copies": copies,
    }


def group_results(
    searches: Iterable[
        tuple[PlexBridgeConfigEntry, dict[str, str], Sequence[SearchHit]]
    ],
) -> list[dict[str, Any]]:
    """Every server's hits as results, best first, copies of a title grouped.

    Two hits are copies of one title when they are of the same type and share an
    external id (imdb, tmdb, tvdb or plex). Servers rank their own hits; the lists
    are merged by score (the store's, comparable across stores), a tie by the
    rank within its server.
    """
    ranked: list[
        tuple[float, int, int, PlexBridgeConfigEntry, dict[str, str], SearchHit]
    ] = []
    for server_index, (entry, libraries, hits) in enumerate(searches):
        for rank, hit in enumerate(hits):
            ranked.append((hit.score, rank, server_index, entry, libraries, hit))
    ranked.sort(key=lambda row: (-row[0], row[1], row[2]))
    groups: list[tuple[MirrorItem, SearchHit, list[dict[str, Any]]]] = []
    by_id: dict[tuple[str, str, str], int] = {}
    for *_, entry, libraries, hit in ranked:
        item = hit.item
        ids = [
            (item.type, source, value) for source, value in item.guids.items() if value
        ]
        index = next((by_id[key] for key in ids if key in by_id), None)
        if index is None:
            index = len(groups)
            groups.append((item, hit, []))
        groups[index][2].append(_copy(entry, libraries, item))
        for key in ids:
            by_id.setdefault(key, index)
    return [_result(item, hit, copies) for item, hit, copies in groups]


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the services of Plex Bridge (once, for every server)."""
    register = hass.services.async_register
    register(
        DOMAIN, SERVICE_REFRESH_LIBRARY, _async_refresh_library, REFRESH_LIBRARY_SCHEMA
    )
    register(DOMAIN, SERVICE_MARK_WATCHED, _async_mark_watched, WATCHED_SCHEMA)
    register(DOMAIN, SERVICE_MARK_UNWATCHED, _async_mark_unwatched, WATCHED_SCHEMA)
    register(
        DOMAIN,
        SERVICE_TERMINATE_SESSION,
        _async_terminate_session,
        TERMINATE_SESSION_SCHEMA,
    )
    register(DOMAIN, SERVICE_SET_STREAMS, _async_set_streams, SET_STREAMS_SCHEMA)
    for name, handler, schema in (
        (SERVICE_HISTORY, _async_history, HISTORY_SCHEMA),
        (SERVICE_RECENTLY_ADDED, _async_recently_added, LIBRARY_LIST_SCHEMA),
        (SERVICE_ON_DECK, _async_on_deck, LIBRARY_LIST_SCHEMA),
    ):
        register(DOMAIN, name, handler, schema, supports_response=SupportsResponse.ONLY)
    register(
        DOMAIN,
        SERVICE_SEARCH,
        _async_search,
        SEARCH_SCHEMA,
        supports_response=SupportsResponse.ONLY,
    )
    register(
        DOMAIN,
        SERVICE_SYNC,
        _async_sync,
        SYNC_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )


__all__ = ["async_setup_services"]
