"""Diagnostics of a Plex Bridge entry: what it knows, with nothing personal in it.

The token, the server's address and user names are redacted; so are players'
addresses. What remains says how the entry is doing: push or polling, the circuit
breaker, the cache, the requests made, and what the coordinators hold.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Final

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.const import CONF_TOKEN, CONF_URL
from homeassistant.core import HomeAssistant

from . import PlexBridgeConfigEntry
from .const import CONF_CONNECTIONS, OPTION_MONITORED_USERS, OPTION_PATH_MAPPINGS

TO_REDACT: Final = {
    CONF_TOKEN,
    CONF_URL,
    CONF_CONNECTIONS,  # the server's other addresses, plex.direct names included
    OPTION_MONITORED_USERS,  # account names
    OPTION_PATH_MAPPINGS,  # local paths name people's shares and folders
    "address",
    "host",
    "my_plex_username",
    "token",
    "url",
    "user",
    "username",
}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: PlexBridgeConfigEntry
) -> dict[str, Any]:
    """The entry's configuration, health and counts."""
    data = entry.runtime_data
    client = data.client
    sessions = data.sessions.data
    library = data.library.data
    update = library.update
    release = update.release if update else None
    mirror = data.mirror
    return async_redact_data(
        {
            "entry": {
                "data": dict(entry.data),
                "options": dict(entry.options),
            },
            "server": asdict(data.server),
            "push": {
                "connected": data.listener.connected,
                "listener": data.listener.as_dict(),
                "notifications": data.router.as_dict(),
                "polling": data.sessions.update_interval is not None,
            },
            "cache": client.cache.stats(),
            "breaker": client.breaker.as_dict(),
            "requests": dict(sorted(client.request_counts.items())),
            "sessions": {
                "count": len(sessions.sessions),
                "transcodes": sum(
                    live.session.transcoding for live in sessions.sessions.values()
                ),
                "states": sorted(live.state for live in sessions.sessions.values()),
                "last_update_success": data.sessions.last_update_success,
            },
            "players": {
                "count": len(sessions.players),
                "present": len(sessions.present),
                "products": sorted(
                    {
                        player.product or "unknown"
                        for player in sessions.players.values()
                    }
                ),
                "controllable": sum(
                    player.controllable for player in sessions.players.values()
                ),
            },
            "library": {
                "sections": [
                    {"key": section.key, "type": section.type}
                    for section in library.sections
                ],
                "counts": library.counts,
                "recently_added": len(library.recently_added),
                "on_deck": len(library.on_deck),
                "update": {
                    "can_install": update.can_install,
                    "release": release.version if release else None,
                }
                if update
                else None,
                "last_update_success": data.library.last_update_success,
            },
            # Counts per library and Plex type, no titles or paths.
            "mirror": {
                **mirror.as_dict(),
                "counts": {
                    library: {str(kind): n for kind, n in sorted(per_type.items())}
                    for library, per_type in sorted(
                        (await mirror.async_counts()).items()
                    )
                },
            }
            if mirror is not None
            else None,
        },
        TO_REDACT,
    )
