"""Config flow for Plex Bridge: every way in (and back in) to a Plex Media Server.

- ``user``: a menu, "Sign in with Plex" (``plex_sign_in``) or "Enter URL and
  token" (``manual``).
- Sign-in: a PIN from plex.tv for this installation's client identifier, plex.tv's
  auth page as an external step, and a background task that polls the PIN until it
  is claimed (then it moves the flow on, as Home Assistant's external steps want)
  or has expired (``pin_expired``). Then the account's servers: none aborts
  ``no_servers``, one is taken, several are offered (``select_server``); then the
  server's connections are tried at once (api/connections.py) and the best that
  answers is stored, with the others kept in ``CONF_CONNECTIONS``.
- ``integration_discovery``: a server found by GDM; ``discovery_confirm`` offers
  sign-in (for that very server) or a token for its address.
- ``reconfigure``: another URL, or one of the stored connections.
- ``reauth``: sign in again, or paste a token (``reauth_token``).

Every path that names a server checks its machine identifier: it is the unique id,
and a different server aborts ``wrong_server``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from contextlib import suppress
import copy
from datetime import datetime
import time
from typing import TYPE_CHECKING, Any, Final, override

from homeassistant.config_entries import (
    SOURCE_REAUTH,
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    FlowType,
    OptionsFlow,
)
from homeassistant.const import CONF_TOKEN, CONF_URL, CONF_VERIFY_SSL
from homeassistant.core import CALLBACK_TYPE, callback
from homeassistant.data_entry_flow import UnknownFlow
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.selector import (
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
from homeassistant.helpers.typing import DiscoveryInfoType
import probatio
from yarl import URL

from . import OPTION_DEFAULTS, async_client_identifier, create_client
from .api import PlexAuthError, PlexUnavailableError, ServerInfo
from .api.connections import (
    NoConnectionError,
    async_choose_connection,
    is_certificate_error,
)
from .api.gdm import is_plain_address_url
from .api.plextv import (
    PinExpiredError,
    PlexTVAuthError,
    PlexTVClient,
    PlexTVError,
    PlexTVUnavailableError,
    Resource,
)
from .const import CONF_CONNECTIONS, DEFAULT_PORT, DOMAIN, LOGGER, PLEX_TV_URL
from .discovery import async_request_scan

if TYPE_CHECKING:
    from .api.plextv import Pin

PIN_POLL_INTERVAL: Final = 2.0
"""Seconds between two looks at the PIN while the person signs in."""
PIN_POLL_FAILURES: Final = 5
"""plex.tv failures in a row after which the sign-in gives up."""
CONF_SERVER: Final = "server"
CONF_CONNECTION: Final = "connection"

MANUAL_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_URL): TextSelector(
            TextSelectorConfig(type=TextSelectorType.URL)
        ),
        probatio.Required(CONF_TOKEN): TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD)
        ),
        probatio.Optional(CONF_VERIFY_SSL, default=True): bool,
    }
)
TOKEN_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_TOKEN): TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD)
        )
    }
)
DISCOVERY_TOKEN_SCHEMA = TOKEN_SCHEMA.extend(
    {probatio.Optional(CONF_VERIFY_SSL, default=True): bool}
)


def select_server_schema(options: list[SelectOptionDict]) -> probatio.Schema:
    """The server choice: one option per server of the account."""
    return probatio.Schema(
        {
            probatio.Required(CONF_SERVER): SelectSelector(
                SelectSelectorConfig(options=options, mode=SelectSelectorMode.LIST)
            )
        }
    )


def reconfigure_schema(urls: list[str]) -> probatio.Schema:
    """A URL to type, or one of the stored connections to pick."""
    return probatio.Schema(
        {
            probatio.Required(CONF_URL): SelectSelector(
                SelectSelectorConfig(
                    options=urls, custom_value=True, mode=SelectSelectorMode.DROPDOWN
                )
            ),
            probatio.Optional(CONF_VERIFY_SSL, default=True): bool,
        }
    )


STEP_SCHEMAS = {
    "manual": MANUAL_SCHEMA,
    "reauth_token": TOKEN_SCHEMA,
    "discovery_token": DISCOVERY_TOKEN_SCHEMA,
    "select_server": select_server_schema([]),
    "reconfigure": reconfigure_schema([]),
}
"""Schemas by step id (the dynamic ones with empty options); tests/test_translations.py
checks each field's label."""


def normalize_url(raw: str) -> str | None:
    """``host``, ``host:port`` or a full URL -> ``scheme://host:port``; None if unusable."""
    text = raw.strip()
    if "://" not in text:
        text = f"http://{text}"
    try:
        url = URL(text)
    except ValueError:
        return None
    if url.scheme not in ("http", "https") or not url.host:
        return None
    # A bare http address means Plex's own port; https keeps its default (443).
    port = url.explicit_port or (DEFAULT_PORT if url.scheme == "http" else 443)
    try:
        # yarl checks the host only here: a host with spaces, quotes or braces.
        return str(
            URL.build(
                scheme=url.scheme, host=url.host, port=port, path=url.path.rstrip("/")
            )
        )
    except ValueError:
        return None


def server_label(resource: Resource, username: str | None) -> str:
    """``Name — owner — online``: what the server choice shows for one server."""
    owner = resource.source_title or username or "?"
    status = "online" if resource.presence else "offline"
    return f"{resource.name} — {owner} — {status}"


def merged_connections(url: str, known: list[str]) -> list[str]:
    """Every known URL except ``url``, best first, each once."""
    return [other for other in dict.fromkeys(known) if other != url]


class PlexBridgeConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up one config entry per Plex Media Server."""

    VERSION = 1
    MINOR_VERSION = 2
    """1.2: entries carry every option (``OPTION_DEFAULTS``); ``async_migrate_entry``
    brings 1.1 entries there."""

    def __init__(self) -> None:
        """Start with nothing known; each path fills in what it learns."""
        self._plextv: PlexTVClient | None = None
        self._pin: Pin | None = None
        self._auth_url = ""
        self._poll_task: asyncio.Task[None] | None = None
        """The look at the PIN under way, if one is."""
        self._cancel_poll_timer: CALLBACK_TYPE | None = None
        self._poll_deadline = 0.0
        self._poll_failures = 0
        self._account_token: str | None = None
        self._sign_in_error: str | None = None
        self._username: str | None = None
        self._servers: list[Resource] = []
        self._discovery: dict[str, str] = {}
        """``url``, ``machine_identifier`` and ``name`` of a server found by GDM."""
        self._finished = False

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """The options (options_flow.py)."""
        from .options_flow import PlexBridgeOptionsFlow

        return PlexBridgeOptionsFlow()

    # -- how every path ends ---------------------------------------------------------

    @override
    @callback
    def async_abort(
        self,
        *,
        reason: str,
        description_placeholders: Mapping[str, str] | None = None,
        translation_domain: str | None = None,
        next_flow: tuple[FlowType, str] | None = None,
    ) -> ConfigFlowResult:
        """End the flow (and remember that it ended, for ``async_remove``)."""
        self._finished = True
        return super().async_abort(
            reason=reason,
            description_placeholders=description_placeholders,
            translation_domain=translation_domain,
            next_flow=next_flow,
        )

    @override
    @callback
    def async_remove(self) -> None:
        """Stop polling plex.tv; a reauth closed unfinished becomes a repair issue."""
        if self._cancel_poll_timer is not None:
            self._cancel_poll_timer()
            self._cancel_poll_timer = None
        if self._poll_task is not None:
            self._poll_task.cancel()
        if self.source != SOURCE_REAUTH or self._finished:
            return
        # Home Assistant also ends reauth flows of an entry that is removed (no
        # repair then) and of one that reloads; that repair lasts only until the
        # entry loads, which clears it (repairs.py).
        entry = self.hass.config_entries.async_get_entry(self.context["entry_id"])
        if entry is not None:
            from .repairs import async_reauth_dismissed

            async_reauth_dismissed(self.hass, entry)

    async def _async_finish(
        self, server: ServerInfo, data: dict[str, Any]
    ) -> ConfigFlowResult:
        """A new entry for ``server``, unless it is configured (then its URL is updated)."""
        await self.async_set_unique_id(server.machine_identifier)
        entry = self.hass.config_entries.async_entry_for_domain_unique_id(
            DOMAIN, server.machine_identifier
        )
        if entry is not None:
            # The address just found becomes the entry's; every other address
            # known (plex.tv's fresh list first, then the entry's) stays.
            known = [
                *data.get(CONF_CONNECTIONS, []),
                entry.data.get(CONF_URL, ""),
                *entry.data.get(CONF_CONNECTIONS, []),
            ]
            self._abort_if_unique_id_configured(
                updates={
                    CONF_URL: data[CONF_URL],
                    CONF_CONNECTIONS: merged_connections(
                        data[CONF_URL], [url for url in known if url]
                    ),
                }
            )
        return self.async_create_entry(
            title=server.friendly_name,
            data=data,
            options=copy.deepcopy(OPTION_DEFAULTS),
        )

    async def _test_connection(
        self, data: Mapping[str, Any]
    ) -> tuple[ServerInfo | None, dict[str, str]]:
        """Ask the server who it is; returns its info or form errors."""
        try:
            return await create_client(self.hass, dict(data)).server_info(), {}
        except PlexAuthError:
            return None, {"base": "invalid_auth"}
        except PlexUnavailableError as err:
            if is_certificate_error(err):
                return None, {"base": "ssl_error"}
            return None, {"base": "cannot_connect"}
        except Exception:  # noqa: BLE001 - anything else is shown as "unknown", and logged
            LOGGER.exception("Unexpected error while connecting to the Plex server")
            return None, {"base": "unknown"}

    # -- user: the menu, and the manual path -------------------------------------------

    @override
    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Sign in with Plex, or type a URL and a token (and look for servers nearby)."""
        # Servers that answer GDM meanwhile show up as discovered flows beside this one.
        async_request_scan(self.hass)
        return self.async_show_menu(
            step_id="user", menu_options=["plex_sign_in", "manual"]
        )

    async def async_step_manual(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the server URL and a token."""
        errors: dict[str, str] = {}
        if user_input is not None:
            url = normalize_url(user_input[CONF_URL])
            if url is None:
                errors[CONF_URL] = "invalid_url"
            else:
                data = {**user_input, CONF_URL: url}
                server, errors = await self._test_connection(data)
                if server is not None:
                    return await self._async_finish(server, data)
        return self.async_show_form(
            step_id="manual",
            data_schema=self.add_suggested_values_to_schema(MANUAL_SCHEMA, user_input),
            errors=errors,
        )

    # -- sign in with Plex -------------------------------------------------------------

    async def async_step_plex_sign_in(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Get a PIN from plex.tv and send the person to plex.tv's sign-in page."""
        self._plextv = PlexTVClient(
            async_get_clientsession(self.hass),
            await async_client_identifier(self.hass),
            PLEX_TV_URL,
        )
        try:
            self._pin = await self._plextv.create_pin()
        except PlexTVError as err:
            LOGGER.debug("plex.tv gave no PIN: %s", err)
            return self.async_abort(reason="plex_tv_unavailable")
        self._account_token = None
        self._sign_in_error = None
        self._auth_url = self._plextv.auth_url(self._pin)
        self._poll_deadline = time.monotonic() + max(
            self._pin.expires_in, PIN_POLL_INTERVAL
        )
        self._poll_failures = 0
        self._async_look_at_pin()
        return self.async_external_step(step_id="obtain_token", url=self._auth_url)

    @callback
    def _async_look_at_pin(self, _now: datetime | None = None) -> None:
        """Start one look at the PIN (now, or when the pause between looks ends).

        The poll is a chain of short tasks with Home Assistant timers between them,
        so that nothing waits on a sleep: tests move the timers with time-changed
        events, and closing the flow cancels both (``async_remove``).
        """
        self._cancel_poll_timer = None
        self._poll_task = self.hass.async_create_task(
            self._async_look(), f"{DOMAIN} sign-in {self.flow_id}"
        )

    async def _async_look(self) -> None:
        """Ask plex.tv about the PIN; move the flow on once there is an answer."""
        if self._plextv is None or self._pin is None:
            return
        try:
            current = await self._plextv.check_pin(self._pin.id)
        except PinExpiredError:
            self._sign_in_error = "pin_expired"
        except PlexTVError as err:
            self._poll_failures += 1
            LOGGER.debug("plex.tv did not answer about the PIN: %s", err)
            if self._poll_failures >= PIN_POLL_FAILURES:
                self._sign_in_error = "plex_tv_unavailable"
        else:
            self._poll_failures = 0
            if current.auth_token:
                self._account_token = current.auth_token
        if (
            self._account_token is None
            and self._sign_in_error is None
            and time.monotonic() >= self._poll_deadline
        ):
            self._sign_in_error = "pin_expired"
        if self._account_token is None and self._sign_in_error is None:
            self._cancel_poll_timer = async_call_later(
                self.hass, PIN_POLL_INTERVAL, self._async_look_at_pin
            )
            return
        with suppress(UnknownFlow):
            await self.hass.config_entries.flow.async_configure(flow_id=self.flow_id)

    async def async_step_obtain_token(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The poll has an answer (or the page asks again while it has none)."""
        if self._account_token is None and self._sign_in_error is None:
            # The poll (which calls this step itself once it has an answer) is
            # still waiting for the person to sign in.
            return self.async_external_step(step_id="obtain_token", url=self._auth_url)
        if self._account_token is None:
            return self.async_external_step_done(next_step_id="sign_in_failed")
        return self.async_external_step_done(next_step_id="account")

    async def async_step_sign_in_failed(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """The PIN expired, or plex.tv stopped answering."""
        return self.async_abort(reason=self._sign_in_error or "pin_expired")

    async def async_step_account(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Read the account's servers and go on to the one the flow is about."""
        if self._plextv is None or self._account_token is None:
            return self.async_abort(reason="plex_tv_unavailable")
        try:
            resources = await self._plextv.resources(self._account_token)
            self._username = await self._plextv.username(self._account_token)
        except PlexTVAuthError:
            return self.async_abort(reason="invalid_auth")
        except PlexTVUnavailableError as err:
            LOGGER.debug("plex.tv did not list the servers: %s", err)
            return self.async_abort(reason="plex_tv_unavailable")
        self._servers = [
            resource
            for resource in resources
            if resource.is_server and resource.access_token
        ]
        wanted = self._wanted_server()
        if wanted is not None:
            # Reauth and discovery know their server: no choice to make.
            matching = [r for r in self._servers if r.client_identifier == wanted]
            if not matching:
                return self.async_abort(
                    reason="wrong_server"
                    if self.source == SOURCE_REAUTH
                    else "not_in_account"
                )
            return await self._async_use_server(matching[0])
        if not self._servers:
            return self.async_abort(reason="no_servers")
        if len(self._servers) == 1:
            return await self._async_use_server(self._servers[0])
        return await self.async_step_select_server()

    def _wanted_server(self) -> str | None:
        """The machine identifier this flow must end with, if it knows one already."""
        if self.source == SOURCE_REAUTH:
            return self._get_reauth_entry().unique_id
        if self._discovery:
            return self._discovery["machine_identifier"]
        return None

    async def async_step_select_server(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Several servers: the person picks one (name, owner, online or not)."""
        errors: dict[str, str] = {}
        if user_input is not None:
            chosen = next(
                r
                for r in self._servers
                if r.client_identifier == user_input[CONF_SERVER]
            )
            connected = await self._async_connect(chosen)
            if isinstance(connected, str):
                errors["base"] = connected
            else:
                return await self._async_finish_sign_in(*connected)
        servers = sorted(self._servers, key=lambda r: (not r.presence, r.name.lower()))
        options = [
            SelectOptionDict(
                value=r.client_identifier, label=server_label(r, self._username)
            )
            for r in servers
        ]
        return self.async_show_form(
            step_id="select_server",
            data_schema=self.add_suggested_values_to_schema(
                select_server_schema(options), user_input
            ),
            errors=errors,
        )

    async def _async_use_server(self, resource: Resource) -> ConfigFlowResult:
        """Connect to the only server, or the one the flow is about.

        There is no form to show an error on, so a failure ends the flow.
        """
        connected = await self._async_connect(resource)
        if isinstance(connected, str):
            return self.async_abort(reason=connected)
        return await self._async_finish_sign_in(*connected)

    async def _async_connect(
        self, resource: Resource
    ) -> tuple[ServerInfo, dict[str, Any]] | str:
        """The resource's best connection and the server's answer there; or an error key."""
        candidates = [c.uri for c in resource.connections_by_preference()]
        verify_ssl = True
        kept: list[str] = []
        if self.source == SOURCE_REAUTH:
            # The entry's own address (and its TLS setting) first: a new token
            # changes no address.
            entry = self._get_reauth_entry()
            candidates = [entry.data[CONF_URL], *candidates]
            verify_ssl = bool(entry.data.get(CONF_VERIFY_SSL, True))
            kept = list(entry.data.get(CONF_CONNECTIONS, []))
        elif self._discovery:
            candidates.append(self._discovery[CONF_URL])
        try:
            choice = await async_choose_connection(
                async_get_clientsession(self.hass, verify_ssl=verify_ssl),
                candidates,
                resource.client_identifier,
            )
        except NoConnectionError as err:
            return "ssl_error" if err.ssl_only else "cannot_connect"
        data: dict[str, Any] = {
            CONF_URL: choice.url,
            CONF_TOKEN: resource.access_token or "",
            CONF_VERIFY_SSL: verify_ssl,
            CONF_CONNECTIONS: merged_connections(choice.url, [*choice.others, *kept]),
        }
        server, errors = await self._test_connection(data)
        if server is None:
            return errors["base"]
        return server, data

    async def _async_finish_sign_in(
        self, server: ServerInfo, data: dict[str, Any]
    ) -> ConfigFlowResult:
        """A new entry, or (reauth) the entry's new token and addresses."""
        if self.source == SOURCE_REAUTH:
            entry = self._get_reauth_entry()
            return self.async_update_reload_and_abort(
                entry, data={**entry.data, **data}, reason="reauth_successful"
            )
        return await self._async_finish(server, data)

    # -- discovery (GDM) -----------------------------------------------------------------

    async def async_step_integration_discovery(
        self, discovery_info: DiscoveryInfoType
    ) -> ConfigFlowResult:
        """A server answered GDM: ``{"url", "machine_identifier", "name"}``."""
        url = normalize_url(str(discovery_info[CONF_URL]))
        machine_identifier = str(discovery_info["machine_identifier"])
        if url is None:
            return self.async_abort(reason="cannot_connect")
        await self.async_set_unique_id(machine_identifier)
        # A configured server that moved: take its new address, keep the old one
        # among the alternatives (it may come back). Only an entry on a plain
        # http://<address> is moved: https and host names were chosen on purpose.
        entry = self.hass.config_entries.async_entry_for_domain_unique_id(
            DOMAIN, machine_identifier
        )
        if (
            entry is not None
            and entry.data.get(CONF_URL) != url
            and is_plain_address_url(str(entry.data.get(CONF_URL)))
        ):
            known = [entry.data[CONF_URL], *entry.data.get(CONF_CONNECTIONS, [])]
            self._abort_if_unique_id_configured(
                updates={
                    CONF_URL: url,
                    CONF_CONNECTIONS: merged_connections(url, known),
                }
            )
        self._abort_if_unique_id_configured()
        name = str(discovery_info.get("name") or machine_identifier)
        self._discovery = {
            CONF_URL: url,
            "machine_identifier": machine_identifier,
            "name": name,
        }
        self.context["title_placeholders"] = {"name": name}
        return await self.async_step_discovery_confirm()

    async def async_step_discovery_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Offer sign-in (for this server) or a token for its address."""
        return self.async_show_menu(
            step_id="discovery_confirm",
            menu_options=["plex_sign_in", "discovery_token"],
            description_placeholders={
                "name": self._discovery["name"],
                "url": self._discovery[CONF_URL],
            },
        )

    async def async_step_discovery_token(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """A token for the discovered server's address."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**user_input, CONF_URL: self._discovery[CONF_URL]}
            server, errors = await self._test_connection(data)
            if server is not None:
                if server.machine_identifier != self._discovery["machine_identifier"]:
                    return self.async_abort(reason="wrong_server")
                return await self._async_finish(server, data)
        return self.async_show_form(
            step_id="discovery_token",
            data_schema=self.add_suggested_values_to_schema(
                DISCOVERY_TOKEN_SCHEMA, user_input
            ),
            errors=errors,
            description_placeholders={
                "name": self._discovery["name"],
                "url": self._discovery[CONF_URL],
            },
        )

    # -- reconfigure -------------------------------------------------------------------

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Another URL for the same server: typed, or one of the stored connections."""
        entry = self._get_reconfigure_entry()
        current = entry.data[CONF_URL]
        known = [current, *entry.data.get(CONF_CONNECTIONS, [])]
        errors: dict[str, str] = {}
        if user_input is not None:
            url = normalize_url(user_input[CONF_URL])
            if url is None:
                errors[CONF_URL] = "invalid_url"
            else:
                data = {
                    **entry.data,
                    CONF_URL: url,
                    CONF_VERIFY_SSL: user_input.get(CONF_VERIFY_SSL, True),
                }
                server, errors = await self._test_connection(data)
                if server is not None:
                    if server.machine_identifier != entry.unique_id:
                        return self.async_abort(reason="wrong_server")
                    data[CONF_CONNECTIONS] = merged_connections(url, known)
                    return self.async_update_reload_and_abort(
                        entry, data=data, reason="reconfigure_successful"
                    )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                reconfigure_schema(list(dict.fromkeys(known))),
                user_input
                or {
                    CONF_URL: current,
                    CONF_VERIFY_SSL: entry.data.get(CONF_VERIFY_SSL, True),
                },
            ),
            errors=errors,
            description_placeholders={"name": entry.title},
        )

    # -- reauth --------------------------------------------------------------------------

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """The server refused the stored token: sign in again or paste a new one."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Sign in with Plex again, or paste a token."""
        entry = self._get_reauth_entry()
        return self.async_show_menu(
            step_id="reauth_confirm",
            menu_options=["plex_sign_in", "reauth_token"],
            description_placeholders={"name": entry.title, "url": entry.data[CONF_URL]},
        )

    async def async_step_reauth_token(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Take a new token and check it against the same server."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, CONF_TOKEN: user_input[CONF_TOKEN]}
            server, errors = await self._test_connection(data)
            if server is not None:
                if server.machine_identifier != entry.unique_id:
                    return self.async_abort(reason="wrong_server")
                return self.async_update_reload_and_abort(
                    entry, data=data, reason="reauth_successful"
                )
        return self.async_show_form(
            step_id="reauth_token",
            data_schema=TOKEN_SCHEMA,
            errors=errors,
            description_placeholders={"url": entry.data[CONF_URL]},
        )
