r"""Plex file paths mapped to the paths Home Assistant (or another machine) sees.

Plex reports ``/data/movies/Heat (1995)/Heat.mkv``; the same file is
``/media/movies/Heat (1995)/Heat.mkv`` in Home Assistant, or ``\\nas\movies\Heat
(1995)\Heat.mkv`` on a Windows desktop. The options hold pairs of prefixes, one
``plex prefix => local prefix`` per line (options_flow.parse_path_mappings reads and
checks them; this module only applies them).

Rules:

- The longest matching Plex prefix wins (``/data`` and ``/data/tv`` can both be set).
- A prefix matches on path-segment boundaries only: ``/data/tv`` maps
  ``/data/tv/x.mkv`` but not ``/data/tvshows/x.mkv``. Plex paths are compared as
  written (case-sensitive), with either separator: a Windows Plex server's
  ``D:\Media`` matches ``D:\Media\x.mkv`` and ``D:/Media/x.mkv``.
- The target keeps the form it was written in: a Windows drive target (``D:\Media``
  or ``D:/Media``) or a UNC target (``\\server\share``) gets backslashes throughout,
  including in the rest of the path; a POSIX target gets forward slashes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import re

_DRIVE = re.compile(r"^[A-Za-z]:([\\/]|$)")


def _is_windows(path: str) -> bool:
    """Whether ``path`` is a drive path or a UNC path."""
    return bool(_DRIVE.match(path)) or path.startswith("\\\\")


def _segments(path: str) -> list[str]:
    """A path's segments with either separator, empty ones (doubled separators) dropped."""
    return [part for part in re.split(r"[\\/]", path) if part]


@dataclass(frozen=True, slots=True)
class _Rule:
    """One mapping: the Plex prefix as segments and the local prefix as written."""

    plex: tuple[str, ...]
    local: str
    windows: bool


class PathMapper:
    """Maps Plex paths by the longest matching prefix (see the module docstring)."""

    def __init__(self, pairs: Sequence[Mapping[str, str]]) -> None:
        """Take ``[{"plex": ..., "local": ...}, ...]`` (const.OPTION_PATH_MAPPINGS)."""
        rules = []
        for pair in pairs:
            plex = str(pair.get("plex", "")).strip()
            local = str(pair.get("local", "")).strip()
            if not plex or not local:
                continue
            rules.append(_Rule(tuple(_segments(plex)), local, _is_windows(local)))
        # Longest prefix first; a stable sort keeps the first of equal prefixes.
        self._rules = sorted(rules, key=lambda rule: len(rule.plex), reverse=True)

    def __bool__(self) -> bool:
        """Whether any mapping is set."""
        return bool(self._rules)

    def map(self, plex_path: str) -> str | None:
        """The local path of ``plex_path``, or ``None`` when no prefix matches."""
        if not plex_path:
            return None
        segments = _segments(plex_path)
        for rule in self._rules:
            count = len(rule.plex)
            if tuple(segments[:count]) != rule.plex:
                continue
            if count == 0 and not plex_path.startswith(("/", "\\")):
                continue
            rest = segments[count:]
            separator = "\\" if rule.windows else "/"
            local = rule.local
            if rule.windows:
                local = local.replace("/", "\\")
            if not rest:
                return local
            return local.rstrip("\\/") + separator + separator.join(rest)
        return None
