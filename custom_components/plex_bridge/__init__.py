"""Plex Bridge: a Plex Media Server as part of the home."""

from __future__ import annotations

from dataclasses import dataclass

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

from .api import PlexAuthError, PlexClient, PlexUnavailableError, ServerInfo
from .api.notifications import NotificationListener
from .const import DOMAIN
from .coordinator import (
    NotificationRouter,
    PlexLibraryCoordinator,
    PlexSessionsCoordinator,
)
from .entity import server_device_info

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


type PlexBridgeConfigEntry = ConfigEntry[PlexBridgeData]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's services (once, for every entry)."""
    from .services import async_setup_services

    async_setup_services(hass)
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


async def async_setup_entry(hass: HomeAssistant, entry: PlexBridgeConfigEntry) -> bool:
    """Connect to the server, read it once, start push, and set up the platforms."""
    client = create_client(hass, dict(entry.data), await async_client_identifier(hass))
    try:
        server = await client.server_info(cached=True)
    except PlexAuthError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="invalid_auth"
        ) from err
    except PlexUnavailableError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"url": client.url},
        ) from err

    sessions = PlexSessionsCoordinator(hass, entry, client)
    library = PlexLibraryCoordinator(hass, entry, client)
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
    )
    listener.start()
    entry.async_on_unload(entry.add_update_listener(_async_options_updated))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def _async_options_updated(
    hass: HomeAssistant, entry: PlexBridgeConfigEntry
) -> None:
    """Options changed: reload the entry so that they apply."""
    await hass.config_entries.async_reload(entry.entry_id)


async def async_unload_entry(hass: HomeAssistant, entry: PlexBridgeConfigEntry) -> bool:
    """Stop push and unload the platforms of an entry."""
    await entry.runtime_data.listener.stop()
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.sessions.async_shutdown()
        await entry.runtime_data.library.async_shutdown()
    return unloaded
