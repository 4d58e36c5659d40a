"""Plex Bridge: a Plex Media Server as part of the home."""

from __future__ import annotations

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_TOKEN, CONF_URL, CONF_VERIFY_SSL, Platform
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryNotReady
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .api import PlexAuthError, PlexClient, PlexConnectionError, ServerInfo
from .const import DOMAIN

# Entity platforms arrive with the core issue; setup and unload already go through them.
PLATFORMS: list[Platform] = []


@dataclass(slots=True)
class PlexBridgeData:
    """What a loaded config entry keeps at run time."""

    client: PlexClient
    server: ServerInfo


type PlexBridgeConfigEntry = ConfigEntry[PlexBridgeData]


def create_client(hass: HomeAssistant, data: dict[str, object]) -> PlexClient:
    """A client for the server an entry (or a flow's input) names, on HA's shared session."""
    session = async_get_clientsession(
        hass, verify_ssl=bool(data.get(CONF_VERIFY_SSL, True))
    )
    return PlexClient(session, str(data[CONF_URL]), str(data[CONF_TOKEN]))


async def async_setup_entry(hass: HomeAssistant, entry: PlexBridgeConfigEntry) -> bool:
    """Connect to the server and set up its platforms."""
    client = create_client(hass, dict(entry.data))
    try:
        server = await client.server_info()
    except PlexAuthError as err:
        raise ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="invalid_auth"
        ) from err
    except PlexConnectionError as err:
        raise ConfigEntryNotReady(
            translation_domain=DOMAIN,
            translation_key="cannot_connect",
            translation_placeholders={"url": client.url},
        ) from err
    entry.runtime_data = PlexBridgeData(client=client, server=server)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: PlexBridgeConfigEntry) -> bool:
    """Unload the platforms of an entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
