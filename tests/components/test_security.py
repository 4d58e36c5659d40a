"""Security: the token never leaks, and the image proxy fetches only server pictures.

The leak test exercises every feature of an entry through Home Assistant, collects
everything a user, a log reader or another integration could see (states and their
attributes, ``entity_picture`` URLs, service responses, browse thumbnails,
diagnostics, exception messages, repairs issues and flows, logs at DEBUG level)
and greps all of it for the token, raw and percent-encoded.
"""

from __future__ import annotations

from http import HTTPStatus
import logging
from typing import Any
from urllib.parse import quote

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import issue_registry as ir
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    WebSocketGenerator,
)
from yarl import URL

from custom_components.plex_bridge.const import DOMAIN
from tests.plex_server import PlexEmulator

from .conftest import (
    async_wait_for_notifications,
    config_entry_for,
    wait_for_coordinator,
    wait_for_first_sync,
)

PLAYER = "Living Room TV"
PLAYER_ENTITY = "media_player.living_room_tv"


class Collected:
    """Everything the test saw, to grep for the token at the end."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def add(self, what: str, value: Any) -> None:
        """Keep one thing seen (its ``repr``, which includes nested values)."""
        self.texts.append(f"{what}: {value!r}")

    def leaks(self, token: str) -> list[str]:
        """The things seen that contain the token (raw or percent-encoded)."""
        needles = {token, quote(token, safe=""), quote(token)}
        return [text for text in self.texts if any(n in text for n in needles)]


async def _call(
    hass: HomeAssistant,
    seen: Collected,
    service: str,
    data: dict[str, Any],
    *,
    response: bool = False,
) -> None:
    """Call a service; keep its response, or its error's message and placeholders."""
    try:
        result = await hass.services.async_call(
            DOMAIN, service, data, blocking=True, return_response=response
        )
    except HomeAssistantError as err:
        seen.add(f"{service} error", (str(err), err.translation_placeholders))
    else:
        seen.add(f"{service} response", result)


async def _browse(
    client: Any,
    content_type: str | None = None,
    content_id: str | None = None,
) -> dict[str, Any]:
    """One ``media_player/browse_media`` call; the node it answers."""
    message: dict[str, Any] = {
        "type": "media_player/browse_media",
        "entity_id": PLAYER_ENTITY,
    }
    if content_id is not None:
        message["media_content_type"] = content_type or ""
        message["media_content_id"] = content_id
    await client.send_json_auto_id(message)
    answer = await client.receive_json()
    assert answer["success"], answer
    result: dict[str, Any] = answer["result"]
    return result


def _states(hass: HomeAssistant, seen: Collected) -> list[str]:
    """Keep every state of ours; the ``entity_picture`` URLs found."""
    pictures = []
    for state in hass.states.async_all():
        if not state.entity_id.startswith(("media_player.", "sensor.", "button.")):
            continue
        seen.add(f"state {state.entity_id}", (state.state, dict(state.attributes)))
        if picture := state.attributes.get("entity_picture"):
            pictures.append(picture)
    return pictures


async def test_the_token_never_leaks(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    mock_config_entry: MockConfigEntry,
    *,
    hass_ws_client: WebSocketGenerator,
    hass_client: ClientSessionGenerator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Every feature, then a grep of all that was seen for the token."""
    token = plex_server.token
    caplog.set_level(logging.DEBUG, logger="custom_components.plex_bridge")
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    caplog.set_level(logging.DEBUG, logger="homeassistant.config_entries")
    seen = Collected()

    mock_config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    sessions = mock_config_entry.runtime_data.sessions
    await wait_for_coordinator(sessions, lambda: sessions.push_connected)
    await wait_for_first_sync(mock_config_entry)
    # The websocket before the HTTP client: starting the server freezes the router.
    assert await async_setup_component(hass, "diagnostics", {})
    ws = await hass_ws_client(hass)

    # A playing session: players, their pictures, the sessions sensors.
    session = plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    await wait_for_coordinator(
        sessions, lambda: session.session_key in sessions.data.sessions
    )
    await hass.async_block_till_done()
    pictures = _states(hass, seen)
    assert pictures, "a playing player shows a picture"
    client = await hass_client()
    for picture in pictures:
        response = await client.get(picture)
        seen.add("picture", (picture, response.status, dict(response.headers)))

    # Every service, the ones that answer included.
    await _call(hass, seen, "refresh_library", {"library": "Movies"})
    await _call(hass, seen, "mark_watched", {"rating_key": "1"})
    await _call(hass, seen, "mark_unwatched", {"rating_key": "1"})
    await _call(hass, seen, "set_streams", {"player": PLAYER, "audio_language": "en"})
    for service, data in (
        ("history", {}),
        ("recently_added", {}),
        ("on_deck", {}),
        ("search", {"query": "matrix"}),
        ("search", {"query": "the", "type": ["movie", "episode"]}),
        ("sync", {"mode": "incremental"}),
    ):
        await _call(hass, seen, service, data, response=True)
    await _call(hass, seen, "terminate_session", {"player": PLAYER})

    # The media browser, two levels down, and the thumbnails it gives.
    root = await _browse(ws)
    seen.add("browse root", root)
    thumbnails = [
        child["thumbnail"] for child in root["children"] if child.get("thumbnail")
    ]
    for node in root["children"][:3]:
        if not node.get("can_expand"):
            continue
        below = await _browse(ws, node["media_content_type"], node["media_content_id"])
        seen.add("browse", below)
        thumbnails += [c["thumbnail"] for c in below["children"] if c.get("thumbnail")]
    assert thumbnails, "the browser shows pictures"
    for thumbnail in thumbnails[:5]:
        response = await client.get(thumbnail)
        seen.add("thumbnail", (thumbnail, response.status))

    # Diagnostics.
    seen.add(
        "diagnostics",
        await get_diagnostics_for_config_entry(hass, hass_client, mock_config_entry),
    )

    # A failing service call: the server answers 500.
    plex_server.faults.add("*", status=500)
    await _call(hass, seen, "refresh_library", {"library": "Movies"})
    await _call(hass, seen, "history", {}, response=True)
    plex_server.faults.clear()

    # The token is revoked: reauth, and once dismissed, a repairs issue.
    plex_server.token = "revoked-and-replaced"
    await sessions.async_refresh()
    await hass.async_block_till_done()
    flows = [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == SOURCE_REAUTH
    ]
    assert flows, "a 401 starts reauth"
    seen.add("reauth flows", flows)
    hass.config_entries.flow.async_abort(flows[0]["flow_id"])
    await hass.async_block_till_done()
    issues = [
        issue
        for (domain, _), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN
    ]
    assert issues, "a dismissed reauth raises a repairs issue"
    seen.add(
        "issues", [(i.translation_key, i.translation_placeholders) for i in issues]
    )
    _states(hass, seen)

    # The logs, records' arguments and exceptions included.
    for record in caplog.records:
        seen.add("log", (record.getMessage(), record.exc_text))
    assert any(r.levelno == logging.DEBUG for r in caplog.records)

    assert seen.leaks(token) == []


# -- the image proxy ----------------------------------------------------------------


ALLOWED = ("library/metadata/1/thumb/1760000000", "library/metadata/1/art")

REFUSALS = frozenset({HTTPStatus.NOT_FOUND, HTTPStatus.BAD_REQUEST})
REFUSED = (
    # Absolute URLs, scheme-relative URLs and other hosts.
    "http://127.0.0.2/library/metadata/1/thumb/1",
    "https:/evil.example/library/metadata/1/thumb/1",
    "/evil.example/library/metadata/1/thumb/1",
    "%2F%2Fevil.example%2Flibrary%2Fmetadata%2F1%2Fthumb%2F1",
    "library/metadata/1/thumb/1@evil.example",
    # Dot segments, plain and percent-encoded, and backslashes.
    "library/metadata/1/thumb/../../../status/sessions",
    "library/metadata/1/%2E%2E/%2E%2E/%2E%2E/status/sessions",
    "library/metadata/1/thumb/%2e%2e%2f%2e%2e%2fstatus",
    ":/resources/..",
    ":/resources/..%2F..%2Fstatus%2Fsessions",
    ":/resources/.hidden",
    "library/metadata/1/thumb\\..\\..\\status",
    "library%5Cmetadata%5C1%5Cthumb",
    # Not picture paths, and lookalikes.
    "status/sessions",
    "library/sections",
    "accounts",
    "library/metadata/1",
    "library/metadata/1/children",
    "library/metadata/%D9%A1/thumb",
    "library/metadata/1/thumb/1%00.jpg",
    "library/metadata/1/thumb/1%0D%0AX-Injected:%201",
    "library/metadata/1/thumb/1%3FX-Plex-Token=x",
    "library/metadata/1/thumb/1%23fragment",
)


async def test_image_proxy_fetches_only_server_pictures(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_client_no_auth: ClientSessionGenerator,
) -> None:
    """Every trick is refused, and nothing but picture paths reaches the server."""
    client = await hass_client()
    base = f"/api/plex_bridge/image/{loaded_entry.unique_id}/"
    for path in ALLOWED:
        response = await client.get(base + path)
        assert response.status == HTTPStatus.OK, path

    plex_server.faults.reset_counts()
    for path in REFUSED:
        # encoded=True: sent as written, without the client resolving dot segments.
        response = await client.get(URL(base + path, encoded=True))
        # 404 from the view, or 400 from Home Assistant's security filter.
        assert response.status in REFUSALS, (path, response.status)
    # Query tricks: the query is never passed on.
    for query in ("?url=http://evil.example/", "?X-Plex-Token=x", "?path=/status"):
        response = await client.get(base + ALLOWED[0] + query)
        assert response.status == HTTPStatus.OK, query
    # A bad signature, or none, is refused by Home Assistant before the view.
    anonymous = await hass_client_no_auth()
    for url in (base + ALLOWED[0], base + ALLOWED[0] + "?authSig=forged"):
        response = await anonymous.get(url)
        assert response.status == HTTPStatus.UNAUTHORIZED, url

    asked = dict(plex_server.faults.path_counts)
    assert set(asked) <= {"/" + ALLOWED[0]}, asked
    assert asked.get("/" + ALLOWED[0], 0) <= 3, asked


# -- a shared user's token ------------------------------------------------------------

OWNER_ONLY_CALLS: list[tuple[str, dict[str, Any]]] = [
    ("refresh_library", {"library": "Music"}),
    ("terminate_session", {"player": PLAYER}),
    ("set_streams", {"player": PLAYER, "audio_language": "English"}),
    ("history", {"user": "Alex"}),
]
MAX_LOOP_TURNS = 2000


async def test_shared_user_sees_only_their_libraries(
    hass: HomeAssistant, plex_server: PlexEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    """A shared user's entry loads and shows only their libraries.

    Alex was shared Music only. Plex refuses Alex the live sessions (401) and the
    owner's endpoints (403): the entry must not take that for a revoked token (no
    reauth), must not read the sessions at all, must not offer what needs them
    (stream sensors) or the owner (the update entity), and the owner-only services
    refuse with the translated ``owner_only`` error before asking the server.
    """
    caplog.set_level(logging.INFO, logger="custom_components.plex_bridge")
    alex = next(u for u in plex_server.library.shared_users if u.name == "Alex")
    plex_server.sessions.start_session(player=PLAYER, rating_key="1")
    entry = config_entry_for(plex_server, token=alex.token)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert entry.runtime_data.owner is False
    sessions = entry.runtime_data.sessions
    await wait_for_coordinator(sessions, lambda: sessions.push_connected)
    await wait_for_first_sync(entry)
    await hass.async_block_till_done()
    shared_logs = [r for r in caplog.records if "is shared with" in r.getMessage()]
    assert [r.levelno for r in shared_logs] == [logging.INFO]

    # Only Music, in the mirror, the search, the library lists and the states.
    # The mirror's counts: library key -> item type -> count.
    counts = await entry.runtime_data.mirror.async_counts()
    assert set(counts) == {"3"}, counts
    result = await hass.services.async_call(
        DOMAIN, "search", {"query": "the"}, blocking=True, return_response=True
    )
    assert isinstance(result, dict)
    for item in result["results"]:
        assert item["library"] == "Music", item
    listed = await hass.services.async_call(
        DOMAIN, "recently_added", {}, blocking=True, return_response=True
    )
    assert isinstance(listed, dict)
    assert {item["library"] for item in listed["items"]} <= {"Music"}, listed
    ours = [s for s in hass.states.async_all() if "plex" in s.entity_id]
    states = " ".join(str(s.attributes) for s in ours)
    for hidden in ("Movies", "TV Shows"):
        assert f"'{hidden}'" not in states

    # Nothing that needs the sessions or the owner; players come from /clients.
    entity_ids = {s.entity_id for s in hass.states.async_all()}
    assert not [e for e in entity_ids if e.endswith(("_active_streams", "_bandwidth"))]
    assert not [e for e in entity_ids if e.startswith("update.")]
    assert PLAYER_ENTITY in entity_ids
    assert hass.states.get(PLAYER_ENTITY).state != "playing"  # type: ignore[union-attr]

    # A new session's notification costs no read of the sessions (a 401 there
    # would start reauth); neither do a poll and the scan button.
    received = entry.runtime_data.router.received
    plex_server.sessions.start_session(player="Chrome", rating_key="1")
    await async_wait_for_notifications(entry, received + 1, turns=MAX_LOOP_TURNS)
    await sessions.async_refresh()
    await hass.services.async_call(
        "button",
        "press",
        {"entity_id": "button.plex_bridge_emulator_scan_clients"},
        blocking=True,
    )
    await hass.async_block_till_done()
    assert plex_server.faults.count("/status/sessions") == 0
    assert sessions.last_update_success

    # Owner-only actions refuse, translated, without asking the server.
    asked = dict(plex_server.faults.counts)
    for service, data in OWNER_ONLY_CALLS:
        with pytest.raises(ServiceValidationError) as caught:
            await hass.services.async_call(
                DOMAIN,
                service,
                data,
                blocking=True,
                return_response=service == "history",
            )
        assert caught.value.translation_domain == DOMAIN
        assert caught.value.translation_key == "owner_only", (service, caught.value)
        assert caught.value.translation_placeholders == {"server": entry.title}
    assert dict(plex_server.faults.counts) == asked
    # History without a user: the account's own plays, which the server allows.
    plays = await hass.services.async_call(
        DOMAIN, "history", {}, blocking=True, return_response=True
    )
    assert isinstance(plays, dict)
    assert isinstance(plays["plays"], list)

    # Still loaded, and nobody was asked to sign in again.
    assert entry.state is ConfigEntryState.LOADED
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert not [f for f in flows if f["context"].get("source") == SOURCE_REAUTH]
    assert not [i for i in ir.async_get(hass).issues.values() if i.domain == DOMAIN]
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_owner_token_is_the_owner(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """The owner's entry reads the sessions and offers everything (the control)."""
    assert loaded_entry.runtime_data.owner is True
    entity_ids = {s.entity_id for s in hass.states.async_all()}
    assert [e for e in entity_ids if e.endswith("_active_streams")]
    assert [e for e in entity_ids if e.startswith("update.")]


@pytest.mark.parametrize(
    ("status", "state", "owner"),
    [
        # A 401 there is a non-owner too (HA's own Plex expects it); the emulator's
        # own 403 for a shared account is the test above.
        (401, ConfigEntryState.LOADED, False),
        # No such endpoint: nothing tells, so it is the owner's entry, as before.
        (404, ConfigEntryState.LOADED, True),
        # The server is in trouble: setup retries, and asks nobody to sign in.
        (503, ConfigEntryState.SETUP_RETRY, None),
    ],
)
async def test_owner_check_at_setup(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    mock_config_entry: MockConfigEntry,
    *,
    status: int,
    state: ConfigEntryState,
    owner: bool | None,
) -> None:
    """What each answer of ``/accounts`` makes of the owner's token at setup."""
    plex_server.faults.add("/accounts", status=status)
    mock_config_entry.add_to_hass(hass)
    await hass.config_entries.async_setup(mock_config_entry.entry_id)
    await hass.async_block_till_done()
    assert mock_config_entry.state is state
    if owner is not None:
        assert mock_config_entry.runtime_data.owner is owner
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert not [f for f in flows if f["context"].get("source") == SOURCE_REAUTH]
    if state is ConfigEntryState.LOADED:
        assert await hass.config_entries.async_unload(mock_config_entry.entry_id)
        await hass.async_block_till_done()
