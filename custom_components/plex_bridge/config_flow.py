"""Config flow for Plex Bridge: server URL + token, and reauthentication.

The core issue adds "Sign in with Plex" (plex.tv PIN), GDM discovery, reconfigure
and options; this flow is the manual path that stays beside them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, override

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.const import CONF_TOKEN, CONF_URL, CONF_VERIFY_SSL
from homeassistant.helpers.selector import (
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio
from yarl import URL

from . import create_client
from .api import PlexAuthError, PlexUnavailableError, ServerInfo
from .const import DEFAULT_PORT, LOGGER

USER_SCHEMA = probatio.Schema(
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
REAUTH_SCHEMA = probatio.Schema(
    {
        probatio.Required(CONF_TOKEN): TextSelector(
            TextSelectorConfig(type=TextSelectorType.PASSWORD)
        )
    }
)
STEP_SCHEMAS = {"user": USER_SCHEMA, "reauth_confirm": REAUTH_SCHEMA}
"""Fixed schemas by step id; tests/test_translations.py checks each field's label."""


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
    return str(
        URL.build(
            scheme=url.scheme, host=url.host, port=port, path=url.path.rstrip("/")
        )
    )


class PlexBridgeConfigFlow(ConfigFlow, domain="plex_bridge"):
    """Set up one config entry per Plex Media Server."""

    VERSION = 1
    MINOR_VERSION = 1

    async def _test_connection(
        self, data: Mapping[str, Any]
    ) -> tuple[ServerInfo | None, dict[str, str]]:
        """Ask the server who it is; returns its info or form errors."""
        try:
            return await create_client(self.hass, dict(data)).server_info(), {}
        except PlexAuthError:
            return None, {"base": "invalid_auth"}
        except PlexUnavailableError:
            return None, {"base": "cannot_connect"}
        except Exception:  # noqa: BLE001 - anything else is shown as "unknown", and logged
            LOGGER.exception("Unexpected error while connecting to the Plex server")
            return None, {"base": "unknown"}

    @override
    async def async_step_user(
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
                    await self.async_set_unique_id(server.machine_identifier)
                    self._abort_if_unique_id_configured(updates={CONF_URL: url})
                    return self.async_create_entry(
                        title=server.friendly_name, data=data
                    )
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(USER_SCHEMA, user_input),
            errors=errors,
        )

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """The server refused the stored token: ask for a new one."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Take a new token and check it against the same server."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data = {**entry.data, CONF_TOKEN: user_input[CONF_TOKEN]}
            server, errors = await self._test_connection(data)
            if server is not None:
                await self.async_set_unique_id(server.machine_identifier)
                self._abort_if_unique_id_mismatch(reason="wrong_server")
                return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=REAUTH_SCHEMA,
            errors=errors,
            description_placeholders={"url": entry.data[CONF_URL]},
        )
