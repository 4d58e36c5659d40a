"""A Plex Media Server emulator (and plex.tv): ground truth for tests and the demo.

See ``server.PlexEmulator`` and ``README.md`` beside this file.
"""

from .clock import Clock
from .server import PlexEmulator

__all__ = ["Clock", "PlexEmulator"]
