"""External ids (imdb, tmdb, tvdb, plex) from the ways Plex writes them.

An item carries a ``guid`` attribute and, with ``includeGuids=1``, ``Guid`` elements.
The attribute is the agent's own id: ``plex://movie/5d776b85594b2b001e6dc641`` for the
modern agents, or a legacy ``com.plexapp.agents.<agent>://<id>?lang=xx`` form. The
elements are the external ids the modern agents matched (``imdb://tt0133093``,
``tmdb://603``, ``tvdb://81189``). Automations look up "imdb:tt0133093", so every form
is reduced to one ``{scheme: id}`` dict with the schemes ``imdb``, ``tmdb``, ``tvdb``
and ``plex``.

Decisions:

- ``Guid`` elements win over the legacy attribute when both name a scheme: they are
  the item's own ids, the legacy attribute may be its show's (below).
- ``com.plexapp.agents.thetvdb://123/1/2?lang=en`` is episode 2 of season 1 of the
  show whose tvdb id is 123. The episode's own tvdb id is *not* in it, so such a guid
  gives the episode no ``tvdb`` id (searching ``tvdb:123`` must find the show, not
  each of its episodes). Only the bare ``thetvdb://123`` form (a show) gives ``tvdb``.
  The same holds for ``themoviedb://<show>/<season>/<episode>`` of TV shows.
- ``plex://<kind>/<id>`` gives ``plex: <id>`` (the hex id, without the kind).
- ``local://``, ``com.plexapp.agents.none://``, ``collection://``, ``tv.plex://`` and
  the music agents (``lastfm``, ``plexmusic``) carry no external id: nothing.
- Unknown schemes are ignored rather than failing a sync.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import re
from typing import Any

SCHEMES = ("imdb", "tmdb", "tvdb", "plex")

_IMDB_ID = re.compile(r"^tt\d{5,10}$")
_NUMERIC_ID = re.compile(r"^\d{1,12}$")
_PLEX_ID = re.compile(r"^[0-9a-z]{1,64}$")

# The legacy agents' names for our schemes.
_LEGACY = {
    "com.plexapp.agents.imdb": "imdb",
    "com.plexapp.agents.themoviedb": "tmdb",
    "com.plexapp.agents.thetvdb": "tvdb",
    "com.plexapp.agents.tvdb": "tvdb",
}
_MODERN = {"imdb": "imdb", "tmdb": "tmdb", "tvdb": "tvdb", "plex": "plex"}


def _valid(scheme: str, value: str) -> bool:
    """Whether ``value`` is a well-formed id of ``scheme``."""
    if scheme == "imdb":
        return bool(_IMDB_ID.match(value))
    if scheme == "plex":
        return bool(_PLEX_ID.match(value))
    return bool(_NUMERIC_ID.match(value))


def parse_guid(guid: str | None) -> tuple[str, str] | None:
    """One guid string as ``(scheme, id)``, or ``None`` when it names no external id."""
    if not guid or "://" not in guid:
        return None
    agent, _, rest = guid.strip().partition("://")
    agent = agent.lower()
    rest = rest.split("?", 1)[0].split("#", 1)[0]
    if agent == "plex":
        # plex://movie/5d776b85594b2b001e6dc641
        kind, _, value = rest.partition("/")
        value = value.strip("/").lower()
        if not kind or not value or "/" in value:
            return None
        return ("plex", value) if _valid("plex", value) else None
    if agent in _MODERN:
        value = rest.strip("/")
        scheme = _MODERN[agent]
    elif agent in _LEGACY:
        scheme = _LEGACY[agent]
        value = rest.strip("/")
        if scheme in ("tvdb", "tmdb") and "/" in value:
            # <show>/<season>[/<episode>]: the show's id, not this item's (see above).
            return None
    else:
        return None
    if scheme == "imdb":
        value = value.lower()
    return (scheme, value) if _valid(scheme, value) else None


def normalize_guids(
    guid: str | None, guid_elements: Sequence[Mapping[str, Any]] | None
) -> dict[str, str]:
    """``{scheme: id}`` from an item's ``guid`` attribute and its ``Guid`` elements."""
    ids: dict[str, str] = {}
    if parsed := parse_guid(guid):
        ids[parsed[0]] = parsed[1]
    for element in guid_elements or ():
        value = element.get("id") if isinstance(element, dict) else None
        if isinstance(value, str) and (parsed := parse_guid(value)):
            ids[parsed[0]] = parsed[1]
    return ids


def parse_external_id(text: str) -> tuple[str, str]:
    """``"imdb:tt0133093"`` -> ``("imdb", "tt0133093")``; ``ValueError`` if malformed.

    Also accepts the guid forms (``imdb://tt0133093``, ``tmdb://603``). The message of
    the ``ValueError`` is a short reason: ``format``, ``scheme`` or ``id``.
    """
    text = text.strip()
    if "://" in text:
        scheme, _, value = text.partition("://")
    else:
        scheme, sep, value = text.partition(":")
        if not sep:
            raise ValueError("format")
    scheme = scheme.strip().lower()
    value = value.strip()
    if scheme not in SCHEMES:
        raise ValueError("scheme")
    if scheme == "imdb":
        value = value.lower()
    if scheme == "plex":
        value = value.lower().rsplit("/", 1)[-1]
    if not value or not _valid(scheme, value):
        raise ValueError("id")
    return scheme, value
