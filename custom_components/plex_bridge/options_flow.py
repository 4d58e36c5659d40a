"""The options of a Plex Bridge entry, changed without restarting Home Assistant.

One form (step ``init``): the poll interval used while push is down, the accounts
whose sessions are shown, whether Plex Web players get entities, how long an unseen
player keeps its device, and what the library mirror copies (libraries, interval,
path mappings). The choices of accounts and libraries are read from the server when
the form opens, so the flow needs a loaded entry and a server that answers; else it
aborts with ``not_loaded`` or ``cannot_connect``.

Numbers and choices are bounded by their selectors (the frontend keeps to them and
the flow manager refuses anything else); what a selector cannot check (the path
mappings) is checked here, with one translated error for the field. The entry
reloads when the options change (``OptionsFlowWithReload``), so they apply at once.

Stored formats (const.py): seconds, minutes, a list of account names, a list of
section keys, and path mappings as ``[{"plex": "/data", "local": "/mnt/media"}]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
import re
from typing import Any, Final

from homeassistant.config_entries import (
    ConfigEntryState,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.helpers.selector import (
    BooleanSelector,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
)
import probatio

from .api import (
    PlexAuthError,
    PlexCommandError,
    PlexNotFoundError,
    PlexUnavailableError,
    Section,
)
from .api.models import Account
from .const import (
    DEFAULT_IGNORE_PLEX_WEB,
    DEFAULT_MIRROR_INTERVAL,
    DEFAULT_PLAYER_RETENTION,
    DEFAULT_UPDATE_INTERVAL,
    LOGGER,
    OPTION_IGNORE_PLEX_WEB,
    OPTION_MIRROR_INTERVAL,
    OPTION_MIRROR_LIBRARIES,
    OPTION_MONITORED_USERS,
    OPTION_PATH_MAPPINGS,
    OPTION_PLAYER_RETENTION,
    OPTION_UPDATE_INTERVAL,
)

UPDATE_INTERVAL_RANGE: Final = (5, 3600)
"""Seconds: faster than 5 s loads the server for little; an hour is the slowest."""
PLAYER_RETENTION_RANGE: Final = (5, 365 * 24 * 60)
"""Minutes: from five minutes to a year."""
MIRROR_INTERVAL_RANGE: Final = (1, 24 * 60)
"""Minutes between incremental mirror syncs: once a minute to once a day."""
MAPPING_ARROW: Final = "=>"
# A Windows drive path (D:\Media, D:/Media) or a UNC share (\\server\share).
_WINDOWS_ABSOLUTE = re.compile(r"^([A-Za-z]:[\\/]|\\\\[^\\]+\\[^\\]+)")


def _number(key_range: tuple[int, int], unit: str) -> NumberSelector:
    low, high = key_range
    return NumberSelector(
        NumberSelectorConfig(
            min=low,
            max=high,
            step=1,
            mode=NumberSelectorMode.BOX,
            unit_of_measurement=unit,
        )
    )


def options_schema(
    users: Iterable[str], sections: Iterable[SelectOptionDict]
) -> probatio.Schema:
    """The form, offering these account names and these libraries."""
    return probatio.Schema(
        {
            probatio.Required(
                OPTION_UPDATE_INTERVAL, default=DEFAULT_UPDATE_INTERVAL
            ): _number(UPDATE_INTERVAL_RANGE, "s"),
            probatio.Optional(OPTION_MONITORED_USERS, default=[]): SelectSelector(
                SelectSelectorConfig(
                    options=sorted(users, key=str.casefold),
                    multiple=True,
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
            probatio.Required(
                OPTION_IGNORE_PLEX_WEB, default=DEFAULT_IGNORE_PLEX_WEB
            ): BooleanSelector(),
            probatio.Required(
                OPTION_PLAYER_RETENTION, default=DEFAULT_PLAYER_RETENTION
            ): _number(PLAYER_RETENTION_RANGE, "min"),
            probatio.Optional(OPTION_MIRROR_LIBRARIES, default=[]): SelectSelector(
                SelectSelectorConfig(
                    options=list(sections),
                    multiple=True,
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
            probatio.Required(
                OPTION_MIRROR_INTERVAL, default=DEFAULT_MIRROR_INTERVAL
            ): _number(MIRROR_INTERVAL_RANGE, "min"),
            probatio.Optional(OPTION_PATH_MAPPINGS, default=""): TextSelector(
                TextSelectorConfig(multiline=True)
            ),
        }
    )


STEP_SCHEMAS: Final = {"init": options_schema([], [])}
"""The form's fields (without the server's choices) for tests/test_translations.py."""


class PathMappingError(ValueError):
    """A path mapping line that cannot be used; ``key`` is the form error."""

    def __init__(self, key: str, line: str) -> None:
        super().__init__(line)
        self.key = key
        self.line = line


@dataclass(frozen=True, slots=True)
class PathMapping:
    """Where a Plex path prefix is found on this machine."""

    plex: str
    local: str


def is_absolute_local(path: str) -> bool:
    """A POSIX path, a Windows drive path or a UNC share."""
    return path.startswith("/") or bool(_WINDOWS_ABSOLUTE.match(path))


def parse_path_mappings(text: str) -> list[dict[str, str]]:
    r"""``plex prefix => local prefix`` lines -> the stored list of dicts.

    Blank lines are skipped. The Plex prefix must be absolute (the server's own
    paths: POSIX, or a Windows server's ``D:\\Media``); the local prefix must be
    there; each Plex prefix may appear once (trailing separators do not count).
    Raises ``PathMappingError`` with the form error of the first bad line.
    """
    mappings: list[dict[str, str]] = []
    seen: set[str] = set()
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        plex, arrow, local = line.partition(MAPPING_ARROW)
        plex, local = plex.strip(), local.strip()
        if not arrow:
            raise PathMappingError("path_mapping_format", line)
        if not is_absolute_local(plex):
            raise PathMappingError("path_mapping_plex_relative", line)
        if not local:
            raise PathMappingError("path_mapping_local_empty", line)
        normal = _strip_separator(plex)
        if normal in seen:
            raise PathMappingError("path_mapping_duplicate", line)
        seen.add(normal)
        mappings.append({"plex": plex, "local": local})
    return mappings


def format_path_mappings(mappings: Iterable[Mapping[str, str]]) -> str:
    """The stored list shown back as lines of the form."""
    return "\n".join(
        f"{mapping['plex']} {MAPPING_ARROW} {mapping['local']}" for mapping in mappings
    )


def _strip_separator(path: str) -> str:
    stripped = path.rstrip("/\\")
    return stripped or path


class PlexBridgeOptionsFlow(OptionsFlowWithReload):
    """Change what an entry shows and mirrors; the entry reloads with the new options."""

    def __init__(self) -> None:
        self._users: list[str] = []
        self._sections: list[SelectOptionDict] = []

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Read the server's accounts and libraries, then show (and check) the form."""
        entry = self.config_entry
        if user_input is None:
            if entry.state is not ConfigEntryState.LOADED:
                return self.async_abort(reason="not_loaded")
            try:
                accounts, sections = await self._async_read_choices()
            except PlexAuthError:
                return self.async_abort(reason="invalid_auth")
            except PlexUnavailableError:
                return self.async_abort(reason="cannot_connect")
            self._users = _user_choices(accounts, entry.options)
            self._sections = _section_choices(sections, entry.options)
        schema = options_schema(self._users, self._sections)
        errors: dict[str, str] = {}
        placeholders = {"line": ""}
        if user_input is not None:
            try:
                mappings = parse_path_mappings(user_input.get(OPTION_PATH_MAPPINGS, ""))
            except PathMappingError as err:
                errors[OPTION_PATH_MAPPINGS] = err.key
                placeholders["line"] = err.line
            else:
                return self.async_create_entry(
                    data={
                        **entry.options,
                        OPTION_UPDATE_INTERVAL: int(user_input[OPTION_UPDATE_INTERVAL]),
                        OPTION_MONITORED_USERS: list(
                            user_input.get(OPTION_MONITORED_USERS, [])
                        ),
                        OPTION_IGNORE_PLEX_WEB: bool(
                            user_input[OPTION_IGNORE_PLEX_WEB]
                        ),
                        OPTION_PLAYER_RETENTION: int(
                            user_input[OPTION_PLAYER_RETENTION]
                        ),
                        OPTION_MIRROR_LIBRARIES: list(
                            user_input.get(OPTION_MIRROR_LIBRARIES, [])
                        ),
                        OPTION_MIRROR_INTERVAL: int(user_input[OPTION_MIRROR_INTERVAL]),
                        OPTION_PATH_MAPPINGS: mappings,
                    }
                )
        suggested = user_input or _current(entry.options)
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, suggested),
            errors=errors,
            description_placeholders=placeholders,
        )

    async def _async_read_choices(self) -> tuple[list[Account], list[Section]]:
        """The server's accounts (owner tokens only) and libraries."""
        client = self.config_entry.runtime_data.client
        sections = await client.sections()
        try:
            accounts = await client.accounts()
        except (PlexCommandError, PlexNotFoundError) as err:
            # A shared user's token may not list accounts (403): offer what is stored.
            LOGGER.debug("The server's accounts cannot be listed: %s", err)
            accounts = []
        return accounts, sections


def _current(options: Mapping[str, Any]) -> dict[str, Any]:
    """The stored options as the form shows them."""
    return {
        OPTION_UPDATE_INTERVAL: options.get(
            OPTION_UPDATE_INTERVAL, DEFAULT_UPDATE_INTERVAL
        ),
        OPTION_MONITORED_USERS: list(options.get(OPTION_MONITORED_USERS, [])),
        OPTION_IGNORE_PLEX_WEB: options.get(
            OPTION_IGNORE_PLEX_WEB, DEFAULT_IGNORE_PLEX_WEB
        ),
        OPTION_PLAYER_RETENTION: options.get(
            OPTION_PLAYER_RETENTION, DEFAULT_PLAYER_RETENTION
        ),
        OPTION_MIRROR_LIBRARIES: list(options.get(OPTION_MIRROR_LIBRARIES, [])),
        OPTION_MIRROR_INTERVAL: options.get(
            OPTION_MIRROR_INTERVAL, DEFAULT_MIRROR_INTERVAL
        ),
        OPTION_PATH_MAPPINGS: format_path_mappings(
            options.get(OPTION_PATH_MAPPINGS, [])
        ),
    }


def _user_choices(accounts: Iterable[Account], options: Mapping[str, Any]) -> list[str]:
    """Account names to offer: the server's, and any stored one it no longer lists."""
    names = {account.name for account in accounts}
    names.update(options.get(OPTION_MONITORED_USERS, []))
    return sorted(names, key=str.casefold)


def _section_choices(
    sections: Iterable[Section], options: Mapping[str, Any]
) -> list[SelectOptionDict]:
    """Libraries to offer by key, labelled by title; a stored key now gone is kept."""
    choices = [
        SelectOptionDict(value=section.key, label=section.title) for section in sections
    ]
    known = {choice["value"] for choice in choices}
    choices.extend(
        SelectOptionDict(value=key, label=key)
        for key in options.get(OPTION_MIRROR_LIBRARIES, [])
        if key not in known
    )
    return choices
