"""Local discovery: offer the Plex servers that answer GDM on the network.

Started from ``async_setup``: one scan as soon as Home Assistant runs (at once if
it already does), then one every ``SCAN_INTERVAL``, both ended when Home Assistant
stops. ``async_request_scan`` scans on demand (e.g. when a user flow starts).

Each server that answers and is not configured yet gets a discovered config flow
(source ``integration_discovery``, data ``{"url", "machine_identifier", "name"}``);
Home Assistant keeps one flow per unique id, and the flow asks for sign-in or a
token. A configured server is offered again only when it answers at another plain
``http://<address>:<port>`` than its entry's, so that the flow can take its new
address (discovery-update-info); an entry on https or a host name is never moved to
the plain-http address GDM reports. Ignored servers stay ignored.

Where it searches is ``const.GDM_TARGETS``, read at each scan (tests point it at
loopback). ``SIGNAL_GDM_FOUND`` is sent, with the ``GDMServer``, after each answer
was handled: a way to wait for one without waiting out the scan.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Final

from homeassistant.config_entries import SOURCE_IGNORE, SOURCE_INTEGRATION_DISCOVERY
from homeassistant.const import (
    CONF_URL,
    EVENT_HOMEASSISTANT_STARTED,
    EVENT_HOMEASSISTANT_STOP,
)
from homeassistant.core import CALLBACK_TYPE, CoreState, Event, HomeAssistant, callback
from homeassistant.helpers import discovery_flow
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_track_time_interval
from homeassistant.util.hass_dict import HassKey

from . import const
from .api.gdm import GDMServer, is_plain_address_url, scan
from .const import DOMAIN, LOGGER

SCAN_INTERVAL: Final = timedelta(minutes=5)
SIGNAL_GDM_FOUND: Final = f"{DOMAIN}_gdm_found"
DATA_DISCOVERY: HassKey[GDMDiscovery] = HassKey(f"{DOMAIN}_gdm_discovery")


class GDMDiscovery:
    """Scans on start, periodically and on request; offers what it finds."""

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self.started = False
        self._task: asyncio.Task[None] | None = None
        self._unsub_started: CALLBACK_TYPE | None = None
        self._unsub_interval: CALLBACK_TYPE | None = None
        self._unsub_stop: CALLBACK_TYPE | None = None

    @callback
    def async_start(self) -> None:
        """Scan once Home Assistant runs, then every ``SCAN_INTERVAL`` until it stops."""
        hass = self.hass
        self.started = True
        if hass.state is CoreState.running:
            self.async_scan()
        else:
            self._unsub_started = hass.bus.async_listen_once(
                EVENT_HOMEASSISTANT_STARTED, self._async_started
            )
        self._unsub_interval = async_track_time_interval(
            hass,
            self._async_interval,
            SCAN_INTERVAL,
            name=f"{DOMAIN} GDM scan",
            cancel_on_shutdown=True,
        )
        self._unsub_stop = hass.bus.async_listen_once(
            EVENT_HOMEASSISTANT_STOP, self._async_stopping
        )

    @callback
    def async_stop(self) -> None:
        """Stop the periodic scan and end a scan under way."""
        for unsubscribe in (
            self._unsub_started,
            self._unsub_interval,
            self._unsub_stop,
        ):
            if unsubscribe is not None:
                unsubscribe()
        self._unsub_started = self._unsub_interval = self._unsub_stop = None
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    @callback
    def _async_started(self, _event: Event) -> None:
        self._unsub_started = None  # a listen_once listener is gone once it ran
        self.async_scan()

    @callback
    def _async_stopping(self, _event: Event) -> None:
        self._unsub_stop = None
        self.async_stop()

    @callback
    def _async_interval(self, _now: datetime) -> None:
        self.async_scan()

    @callback
    def async_scan(self) -> None:
        """Start a scan in the background, unless one is under way."""
        if self.hass.is_stopping or (self._task is not None and not self._task.done()):
            return
        self._task = self.hass.async_create_background_task(
            self._async_scan(), f"{DOMAIN} GDM scan"
        )

    async def _async_scan(self) -> None:
        servers = await scan(
            const.GDM_TARGETS, window=const.GDM_WINDOW, on_found=self._async_found
        )
        LOGGER.debug("GDM scan found %d server(s)", len(servers))

    @callback
    def _async_found(self, server: GDMServer) -> None:
        """Offer ``server`` unless it is configured where it answered (or ignored)."""
        if self._should_offer(server):
            discovery_flow.async_create_flow(
                self.hass,
                DOMAIN,
                context={"source": SOURCE_INTEGRATION_DISCOVERY},
                data={
                    CONF_URL: server.url,
                    "machine_identifier": server.machine_identifier,
                    "name": server.name,
                },
            )
        async_dispatcher_send(self.hass, SIGNAL_GDM_FOUND, server)

    def _should_offer(self, server: GDMServer) -> bool:
        entry = self.hass.config_entries.async_entry_for_domain_unique_id(
            DOMAIN, server.machine_identifier
        )
        if entry is None:
            return True
        if entry.source == SOURCE_IGNORE:
            return False
        url = entry.data.get(CONF_URL)
        moved = url != server.url and is_plain_address_url(url)
        if moved:
            LOGGER.debug("GDM: %s answered at %s, not %s", server.name, server.url, url)
        return moved


def _get(hass: HomeAssistant) -> GDMDiscovery:
    if (discovery := hass.data.get(DATA_DISCOVERY)) is None:
        discovery = hass.data[DATA_DISCOVERY] = GDMDiscovery(hass)
    return discovery


@callback
def async_setup_discovery(hass: HomeAssistant) -> None:
    """Start discovery for this Home Assistant (once; ``async_setup`` calls it)."""
    discovery = _get(hass)
    if not discovery.started:
        discovery.async_start()


@callback
def async_request_scan(hass: HomeAssistant) -> None:
    """Scan now (e.g. when a user flow starts), whether or not discovery runs yet."""
    _get(hass).async_scan()
