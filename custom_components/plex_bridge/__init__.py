"""Plex Bridge: a Plex Media Server as part of the home.

The owner's token, or a shared account's. A token of an account the server is only
shared with (a friend's access) reads ``/`` and that account's libraries, but Plex
keeps some endpoints for the owner: live sessions (``/status/sessions``, 401 to
anyone else), terminating them, section scans, ``/accounts`` and ``/updater/*``
(403). Setup tells the two apart with one read of ``/accounts``: the owner gets the
list; any other account is refused. That refusal is a 403 in the emulator and in
reports against Home Assistant's own Plex integration (python-plexapi raises it as
``BadRequest``), and that integration takes a 401 there for "limited permissions"
too, so both mean "not the owner". ``/`` has just accepted the token, so neither
means "revoked": a revoked token is refused by ``/`` first and starts
reauthentication, as before.

A shared account's entry (``PlexBridgeData.owner`` false) loads without what it
may not read: no reads of ``/status/sessions`` (so no stream sensors, and players
from ``/clients`` only), no update entity, and the owner-only services refuse with
a translated ``owner_only`` error. This is logged once, at info, at setup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
import sqlite3
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_TOKEN, CONF_URL, CONF_VERIFY_SSL, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers import (
    config_validation as cv,
    device_registry as dr,
    instance_id,
)
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .api import (
    PlexAuthError,
    PlexClient,
    PlexCommandError,
    PlexConnectionError,
    PlexNotFoundError,
    PlexUnavailableError,
    ServerInfo,
)
from .api.connections import NoConnectionError, async_choose_connection
from .api.notifications import NotificationListener
from .const import (
    CONF_CONNECTIONS,
    DEFAULT_IGNORE_PLEX_WEB,
    DEFAULT_MIRROR_INTERVAL,
    DEFAULT_PLAYER_RETENTION,
    DEFAULT_UPDATE_INTERVAL,
    DOMAIN,
    LOGGER,
    OPTION_IGNORE_PLEX_WEB,
    OPTION_MIRROR_INTERVAL,
    OPTION_MIRROR_LIBRARIES,
    OPTION_MONITORED_USERS,
    OPTION_PATH_MAPPINGS,
    OPTION_PLAYER_RETENTION,
    OPTION_UPDATE_INTERVAL,
)
from .coordinator import (
    NotificationRouter,
    PlexLibraryCoordinator,
    PlexSessionsCoordinator,
)
from .entity import server_device_info
from .presence import PlayerPresence, async_remove_store, player_identifier
from .repairs import (
    async_clear_issues,
    async_clear_mirror_issues,
    async_mirror_available,
    async_mirror_unavailable,
    async_server_unreachable,
)

if TYPE_CHECKING:
    from .library_mirror import PlexMirror

PLATFORMS: list[Platform] = [
    Platform.BUTTON,
    Platform.MEDIA_PLAYER,
    Platform.SENSOR,
    Platform.UPDATE,
]

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


@dataclass(slots=True)
class PlexBridgeData:
    """What a loaded config entry keeps at run time."""

    client: PlexClient
    server: ServerInfo
    sessions: PlexSessionsCoordinator
    library: PlexLibraryCoordinator
    listener: NotificationListener
    router: NotificationRouter
    server_device_id: str
    """The device registry's id of the server's device (players link to it)."""
    mirror: PlexMirror | None = None
    """The library mirror; ``None`` when its file could not be opened."""
    owner: bool = True
    """Whether the token is the server owner's (else a shared account's)."""


type PlexBridgeConfigEntry = ConfigEntry[PlexBridgeData]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's services and start local discovery (once)."""
    from .discovery import async_setup_discovery
    from .services import async_setup_services

    async_setup_services(hass)
    async_setup_discovery(hass)
    return True


async def async_client_identifier(hass: HomeAssistant) -> str:
    """Our ``X-Plex-Client-Identifier``: stable for this Home Assistant installation."""
    return f"plex-bridge-{await instance_id.async_get(hass)}"


def create_client(
    hass: HomeAssistant, data: dict[str, object], client_identifier: str = "plex-bridge"
) -> PlexClient:
    """A client for the server an entry (or a flow's input) names, on HA's shared session."""
    session = async_get_clientsession(
        hass, verify_ssl=bool(data.get(CONF_VERIFY_SSL, True))
    )
    return PlexClient(
        session,
        str(data[CONF_URL]),
        str(data[CONF_TOKEN]),
        client_identifier=client_identifier,
    )


async def _async_connect_elsewhere(
    hass: HomeAssistant, entry: PlexBridgeConfigEntry, failed: PlexClient
) -> tuple[PlexClient, ServerInfo]:
    """The stored URL does not answer: try the other addresses plex.tv listed.

    plex.direct addresses and certificates churn; the best alternative that answers
    as this server (api/connections.py) becomes the entry's URL, and the old one
    joins the alternatives. Without one that answers, the first error stands.
    """
    alternatives = list(entry.data.get(CONF_CONNECTIONS) or [])
    if not alternatives or entry.unique_id is None:
        raise PlexConnectionError(f"{failed.url} does not answer")
    session = async_get_clientsession(
        hass, verify_ssl=bool(entry.data.get(CONF_VERIFY_SSL, True))
    )
    try:
        choice = await async_choose_connection(session, alternatives, entry.unique_id)
    except NoConnectionError as err:
        raise PlexConnectionError("no stored address answers") from err
    client = create_client(
        hass, {**entry.data, CONF_URL: choice.url}, failed.client_identifier
    )
    server = await client.server_info(cached=True)
    known = [str(entry.data[CONF_URL]), *alternatives]
    LOGGER.info(
        "%s did not answer; %s does, and is now the server's URL",
        failed.url,
        client.url,
    )
    hass.config_entries.async_update_entry(
        entry,
        data={
            **entry.data,
            CONF_URL: choice.url,
            CONF_CONNECTIONS: [
                url for url in dict.fromkeys(known) if url != choice.url
            ],
        },
    )
    return client, server


async def async_setup_entry(hass: HomeAssistant, entry: PlexBridgeConfigEntry) -> bool:
    """Connect to the server, read it once, start push, and set up the platforms."""
    client = create_client(hass, dict(entry.data), await async_client_identifier(hass))
    try:
        try:
            server = await client.server_info(cached=True)
        except PlexConnectionError:
            client, server = await _async_connect_elsewhere(hass, entry, client)
        owner = await _async_is_owner(client)
    except PlexAuthError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="invalid_auth"
        ) from err
    except PlexUnavailableError as err:
        async_server_unreachable(hass, entry)
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"url": client.url},
        ) from err

    if not owner:
        LOGGER.info(
            "%s is shared with the account of this token, not owned by it: live"
            " sessions, the update entity and owner-only services are left out",
            server.friendly_name,
        )
    sessions = PlexSessionsCoordinator(hass, entry, client, owner=owner)
    library = PlexLibraryCoordinator(hass, entry, client, owner=owner)
    await sessions.async_config_entry_first_refresh()
    await library.async_config_entry_first_refresh()

    router = NotificationRouter(hass, sessions, library)
    listener = NotificationListener(
        async_get_clientsession(
            hass, verify_ssl=bool(entry.data.get(CONF_VERIFY_SSL, True))
        ),
        client.url,
        client.token,
        router.async_handle,
        sessions.async_set_push_connected,
        create_task=lambda coro, name: entry.async_create_background_task(
            hass, coro, name
        ),
    )
    server_device = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, **server_device_info(server)
    )
    entry.runtime_data = PlexBridgeData(
        client=client,
        server=server,
        sessions=sessions,
        library=library,
        listener=listener,
        router=router,
        server_device_id=server_device.id,
        owner=owner,
    )
    entry.runtime_data.mirror = await _async_open_mirror(hass, entry)
    presence = PlayerPresence(
        hass,
        entry,
        server_identifier=server.machine_identifier,
        retention=timedelta(
            minutes=entry.options.get(OPTION_PLAYER_RETENTION, DEFAULT_PLAYER_RETENTION)
        ),
        ignore_plex_web=sessions.ignore_plex_web,
        forget=sessions.async_forget_player,
    )
    await presence.async_load()
    listener.start()
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    sessions.async_start_presence(presence)
    # Loaded: the token works and the server answers, so no repair is due.
    async_clear_issues(hass, entry)
    if entry.runtime_data.mirror is not None:
        # In the background: setup never waits for a sync.
        entry.runtime_data.mirror.async_start()
    return True


async def _async_is_owner(client: PlexClient) -> bool:
    """Whether the token is the owner's: only the owner may list ``/accounts``.

    Called after ``/`` accepted the token, so a refusal here (403, or the 401 some
    servers send) is a shared account's, not a revoked token (module docstring).
    """
    try:
        await client.accounts()
    except (PlexCommandError, PlexAuthError) as err:
        LOGGER.debug("The server refuses this token its accounts: %s", err)
        return False
    except PlexNotFoundError:
        # A server without the endpoint cannot tell; it is treated as before.
        return True
    return True


async def _async_open_mirror(
    hass: HomeAssistant, entry: PlexBridgeConfigEntry
) -> PlexMirror | None:
    """The entry's library mirror; without one (a disk error) the rest still works.

    A file that cannot be opened raises the fixable ``mirror_unavailable`` issue
    (repairs.py): nothing else would try again before the next start.
    """
    from .library_mirror import PlexMirror, mirror_path

    try:
        mirror = await PlexMirror.async_open(hass, entry)
    except (OSError, sqlite3.Error) as err:
        LOGGER.error(
            "The library mirror of %s cannot be opened (see Repairs): %s",
            entry.title,
            err,
        )
        path = mirror_path(hass, entry.runtime_data.server.machine_identifier)
        async_mirror_unavailable(hass, entry, str(path), str(err))
        return None
    async_mirror_available(hass, entry)
    return mirror


async def async_unload_entry(hass: HomeAssistant, entry: PlexBridgeConfigEntry) -> bool:
    """Stop push and unload the platforms of an entry."""
    await entry.runtime_data.listener.stop()
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        if (presence := entry.runtime_data.sessions.presence) is not None:
            await presence.async_save()
        if entry.disabled_by is not None:
            # A disabled entry reads nothing, so nothing of it needs repair.
            async_clear_issues(hass, entry)
            async_clear_mirror_issues(hass, entry)
        if (mirror := entry.runtime_data.mirror) is not None:
            # Cancels a running sync (the file keeps its last commit), closes the file.
            await mirror.async_close()
        await entry.runtime_data.sessions.async_shutdown()
        await entry.runtime_data.library.async_shutdown()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: PlexBridgeConfigEntry) -> None:
    """The entry is deleted: its repairs and its players' presence go with it."""
    async_clear_issues(hass, entry)
    async_clear_mirror_issues(hass, entry)
    await async_remove_store(hass, entry.entry_id)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: PlexBridgeConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let the user delete a player that is gone; never the server or a present one.

    The server's device holds the server's entities (delete the entry instead); a
    player the server lists now would only come back at the next read.
    """
    identifier = player_identifier(device)
    if identifier is None or device.id == entry.runtime_data.server_device_id:
        return False
    sessions = entry.runtime_data.sessions
    if identifier in sessions.data.seen():
        return False
    if sessions.presence is not None:
        sessions.presence.async_device_removed(identifier)
    return True


OPTION_DEFAULTS: dict[str, object] = {
    OPTION_UPDATE_INTERVAL: DEFAULT_UPDATE_INTERVAL,
    OPTION_MONITORED_USERS: [],
    OPTION_IGNORE_PLEX_WEB: DEFAULT_IGNORE_PLEX_WEB,
    OPTION_PLAYER_RETENTION: DEFAULT_PLAYER_RETENTION,
    OPTION_MIRROR_LIBRARIES: [],
    OPTION_MIRROR_INTERVAL: DEFAULT_MIRROR_INTERVAL,
    OPTION_PATH_MAPPINGS: [],
}
"""What version 1.2 stores for every option an entry of 1.1 did not have."""


async def async_migrate_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Bring an entry to the version this code writes (1.2).

    1.1 -> 1.2: every option is stored with its default, so the options form, the
    diagnostics and the mirror read one complete set (an option the user set is
    kept). An entry of a major version above 1 was written by a newer Plex Bridge;
    Home Assistant refuses it before calling this (``MIGRATION_ERROR``).
    """
    if entry.version == 1 and entry.minor_version < 2:
        hass.config_entries.async_update_entry(
            entry, options={**OPTION_DEFAULTS, **entry.options}, minor_version=2
        )
        LOGGER.debug("Migrated %s to entry version 1.2", entry.title)
    return True
