"""The options flow, through Home Assistant's options flow manager, and each option's effect.

The form reads the emulated server's accounts and libraries; what is saved reloads
the entry, so the options apply without a restart.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
)

from custom_components.plex_bridge.const import (
    DOMAIN,
    EVENT_PLAYBACK,
    OPTION_IGNORE_PLEX_WEB,
    OPTION_MIRROR_INTERVAL,
    OPTION_MIRROR_LIBRARIES,
    OPTION_MONITORED_USERS,
    OPTION_PATH_MAPPINGS,
    OPTION_PLAYER_RETENTION,
    OPTION_UPDATE_INTERVAL,
)
from custom_components.plex_bridge.options_flow import (
    format_path_mappings,
    parse_path_mappings,
)
from tests.plex_server import PlexEmulator

from .conftest import (
    async_wait_for_notifications,
    async_wait_for_state,
    wait_for_coordinator,
)

SERVER = "plex_bridge_emulator"
ACTIVE_STREAMS = f"sensor.{SERVER}_active_streams"
LIVING_ROOM = "media_player.living_room_tv"
BEDROOM = "media_player.bedroom"
CHROME = "media_player.chrome"
CHROME_ID = "plexweb-chrome-0001"

FORM: dict[str, Any] = {
    OPTION_UPDATE_INTERVAL: 30,
    OPTION_MONITORED_USERS: ["Sam"],
    OPTION_IGNORE_PLEX_WEB: True,
    OPTION_PLAYER_RETENTION: 60,
    OPTION_MIRROR_LIBRARIES: ["1"],
    OPTION_MIRROR_INTERVAL: 30,
    OPTION_PATH_MAPPINGS: "/data/movies => /media/movies\n\n/data/tv => D:\\TV\n",
}


def select_options(result: dict[str, Any], key: str) -> list[Any]:
    """The choices a select field of the shown form offers."""
    for marker, selector in result["data_schema"].schema.items():
        if str(marker.schema) == key:
            return list(selector.config["options"])
    raise AssertionError(f"no field {key}")


def suggested(result: dict[str, Any], key: str) -> Any:
    """The value the shown form suggests for a field."""
    for marker in result["data_schema"].schema:
        if str(marker.schema) == key:
            return (marker.description or {}).get("suggested_value")
    raise AssertionError(f"no field {key}")


async def test_form_offers_the_servers_accounts_and_libraries(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)

    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    assert select_options(result, OPTION_MONITORED_USERS) == [
        "Alex",
        "plexbridge",
        "Sam",
    ]
    sections = {
        section.key: section.title
        for section in loaded_entry.runtime_data.library.data.sections
    }
    assert {
        option["value"]: option["label"]
        for option in select_options(result, OPTION_MIRROR_LIBRARIES)
    } == sections
    # Nothing stored yet: the defaults.
    assert suggested(result, OPTION_UPDATE_INTERVAL) == 10
    assert suggested(result, OPTION_PLAYER_RETENTION) == 7 * 24 * 60
    assert suggested(result, OPTION_PATH_MAPPINGS) == ""


async def test_saved_options_apply_without_restart(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Every option is stored in its documented form and the entry reloads with it."""
    before = loaded_entry.runtime_data.sessions
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    result = await hass.config_entries.options.async_configure(result["flow_id"], FORM)
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert loaded_entry.options == {
        OPTION_UPDATE_INTERVAL: 30,
        OPTION_MONITORED_USERS: ["Sam"],
        OPTION_IGNORE_PLEX_WEB: True,
        OPTION_PLAYER_RETENTION: 60,
        OPTION_MIRROR_LIBRARIES: ["1"],
        OPTION_MIRROR_INTERVAL: 30,
        OPTION_PATH_MAPPINGS: [
            {"plex": "/data/movies", "local": "/media/movies"},
            {"plex": "/data/tv", "local": "D:\\TV"},
        ],
    }
    assert loaded_entry.state is ConfigEntryState.LOADED
    sessions = loaded_entry.runtime_data.sessions
    assert sessions is not before
    assert sessions.poll_interval == timedelta(seconds=30)
    assert sessions.monitored_users == {"Sam"}
    assert sessions.ignore_plex_web
    assert sessions.presence is not None
    assert sessions.presence.retention == timedelta(minutes=60)

    # The form shows what is stored, mappings as lines again.
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    assert suggested(result, OPTION_MONITORED_USERS) == ["Sam"]
    assert suggested(result, OPTION_PATH_MAPPINGS) == (
        "/data/movies => /media/movies\n/data/tv => D:\\TV"
    )


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("/data/movies -> /media/movies", "path_mapping_format"),
        ("data/movies => /media/movies", "path_mapping_plex_relative"),
        ("/data/movies =>   ", "path_mapping_local_empty"),
        ("/data => /a\n/data/ => /b", "path_mapping_duplicate"),
    ],
)
async def test_bad_path_mappings_are_refused_per_field(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, text: str, error: str
) -> None:
    """The form comes back with the field's error and the bad line; nothing is saved."""
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**FORM, OPTION_PATH_MAPPINGS: text}
    )

    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {OPTION_PATH_MAPPINGS: error}
    assert result["description_placeholders"]["line"] in text
    # What the user typed is offered back.
    assert suggested(result, OPTION_PATH_MAPPINGS) == text
    assert loaded_entry.options == {}

    fixed = await hass.config_entries.options.async_configure(
        result["flow_id"], {**FORM, OPTION_PATH_MAPPINGS: ""}
    )
    assert fixed["type"] is FlowResultType.CREATE_ENTRY
    assert loaded_entry.options[OPTION_PATH_MAPPINGS] == []


def test_path_mappings_take_windows_and_unc_paths() -> None:
    text = "D:\\Media => \\\\nas\\media\n/volume1/tv => Z:\\TV\n\\\\pms\\share => /mnt/share"
    mappings = parse_path_mappings(text)
    assert mappings == [
        {"plex": "D:\\Media", "local": "\\\\nas\\media"},
        {"plex": "/volume1/tv", "local": "Z:\\TV"},
        {"plex": "\\\\pms\\share", "local": "/mnt/share"},
    ]
    assert parse_path_mappings(format_path_mappings(mappings)) == mappings


@pytest.mark.parametrize(
    ("path", "reason"), [("/accounts", "invalid_auth"), ("/library/sections", None)]
)
async def test_server_errors_abort_the_form(
    hass: HomeAssistant,
    plex_server: PlexEmulator,
    loaded_entry: MockConfigEntry,
    path: str,
    reason: str | None,
) -> None:
    """A server that fails (503) or refuses the token (401) aborts with a reason."""
    loaded_entry.runtime_data.client.invalidate_content(scan=True)
    plex_server.faults.add(path, status=401 if reason else 503)

    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == (reason or "cannot_connect")


async def test_unreachable_server_aborts(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    plex_server.faults.add("/accounts", reset=True)

    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "cannot_connect"


async def test_accounts_not_listed_offers_stored_users(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """A server that will not list accounts (a shared user's token) still gets the form.

    The users offered are the stored ones, so a choice is never lost.
    """
    hass.config_entries.async_update_entry(
        loaded_entry, options={OPTION_MONITORED_USERS: ["Gone"]}
    )
    plex_server.faults.add("/accounts", status=404)

    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)

    assert result["type"] is FlowResultType.FORM
    assert select_options(result, OPTION_MONITORED_USERS) == ["Gone"]
    assert suggested(result, OPTION_MONITORED_USERS) == ["Gone"]


async def test_entry_not_loaded_aborts(
    hass: HomeAssistant, mock_config_entry: MockConfigEntry
) -> None:
    mock_config_entry.add_to_hass(hass)

    result = await hass.config_entries.options.async_init(mock_config_entry.entry_id)

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "not_loaded"


@pytest.mark.parametrize("entry_options", [{OPTION_MONITORED_USERS: ["Sam"]}])
async def test_monitored_users_filter_sessions_players_and_events(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """The owner's session is not shown, counted or announced; Sam's is."""
    events = async_capture_events(hass, EVENT_PLAYBACK)
    sessions = loaded_entry.runtime_data.sessions
    owner = plex_server.sessions.start_session(player="Living Room TV", rating_key="1")
    await wait_for_coordinator(
        sessions, lambda: owner.session_key in sessions.data.ignored
    )
    plex_server.sessions.start_session(player="Bedroom", rating_key="1", user="Sam")

    await async_wait_for_state(hass, BEDROOM, "playing")
    assert hass.states.get(LIVING_ROOM).state == "idle"
    assert hass.states.get(ACTIVE_STREAMS).state == "1"
    assert [(event.data["type"], event.data["user"]) for event in events] == [
        ("started", "Sam")
    ]

    # The ignored session's progress costs no read of /status/sessions.
    reads = plex_server.faults.count("/status/sessions")
    received = loaded_entry.runtime_data.router.received
    plex_server.sessions.advance(30)
    plex_server.sessions.stop_session(owner)
    await async_wait_for_notifications(loaded_entry, received + 2)
    await hass.async_block_till_done()
    assert plex_server.faults.count("/status/sessions") == reads
    assert len(events) == 1
    assert hass.states.get(LIVING_ROOM).state == "idle"


@pytest.mark.parametrize("entry_options", [{OPTION_IGNORE_PLEX_WEB: True}])
async def test_ignored_plex_web_has_no_player(
    hass: HomeAssistant, plex_server: PlexEmulator, loaded_entry: MockConfigEntry
) -> None:
    """Plex Web gets no entity or device; its session still counts on the server."""
    plex_server.sessions.start_session(player="Chrome", rating_key="1")
    await async_wait_for_state(hass, ACTIVE_STREAMS, "1")

    assert hass.states.get(CHROME) is None
    assert hass.states.get(BEDROOM) is not None
    assert (
        dr.async_get(hass).async_get_device_by_identifier(
            (DOMAIN, CHROME_ID), loaded_entry.entry_id
        )
        is None
    )


async def test_turning_on_ignore_plex_web_removes_its_player(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    registry = dr.async_get(hass)
    assert registry.async_get_device_by_identifier(
        (DOMAIN, CHROME_ID), loaded_entry.entry_id
    )
    assert hass.states.get(CHROME) is not None
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    await hass.config_entries.options.async_configure(
        result["flow_id"],
        {OPTION_IGNORE_PLEX_WEB: True, OPTION_UPDATE_INTERVAL: 10},
    )
    await hass.async_block_till_done()

    assert (
        dr.async_get(hass).async_get_device_by_identifier(
            (DOMAIN, CHROME_ID), loaded_entry.entry_id
        )
        is None
    )
    assert er.async_get(hass).async_get(CHROME) is None
    assert hass.states.get(CHROME) is None
    assert hass.states.get(BEDROOM).state == "idle"
