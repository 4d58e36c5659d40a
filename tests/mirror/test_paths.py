"""Plex paths mapped to local ones: longest prefix, segment boundaries, Windows and UNC."""

from __future__ import annotations

import pytest

from custom_components.plex_bridge.mirror.paths import PathMapper


@pytest.mark.parametrize(
    ("pairs", "plex_path", "local"),
    [
        # POSIX to POSIX.
        (
            [("/data", "/media")],
            "/data/movies/Heat (1995)/Heat.mkv",
            "/media/movies/Heat (1995)/Heat.mkv",
        ),
        ([("/data/", "/media/")], "/data/movies/x.mkv", "/media/movies/x.mkv"),
        ([("/data", "/media")], "/data", "/media"),
        # The longest prefix wins, whatever the order of the options.
        (
            [("/data", "/media"), ("/data/tv", "/mnt/tv")],
            "/data/tv/Show/e1.mkv",
            "/mnt/tv/Show/e1.mkv",
        ),
        (
            [("/data/tv", "/mnt/tv"), ("/data", "/media")],
            "/data/tv/Show/e1.mkv",
            "/mnt/tv/Show/e1.mkv",
        ),
        (
            [("/data/tv", "/mnt/tv"), ("/data", "/media")],
            "/data/movies/x.mkv",
            "/media/movies/x.mkv",
        ),
        # Segment boundaries: /data/tv is not a prefix of /data/tvshows.
        ([("/data/tv", "/mnt/tv")], "/data/tvshows/x.mkv", None),
        (
            [("/data/tv", "/mnt/tv"), ("/data", "/media")],
            "/data/tvshows/x.mkv",
            "/media/tvshows/x.mkv",
        ),
        # Windows drive targets keep their form, separators converted.
        (
            [("/data/movies", r"D:\Media\Movies")],
            "/data/movies/Heat/Heat.mkv",
            r"D:\Media\Movies\Heat\Heat.mkv",
        ),
        (
            [("/data/movies", "D:/Media/Movies")],
            "/data/movies/Heat/Heat.mkv",
            r"D:\Media\Movies\Heat\Heat.mkv",
        ),
        ([("/data/movies", "d:\\")], "/data/movies/x.mkv", r"d:\x.mkv"),
        # UNC targets too.
        (
            [("/data/tv", r"\\server\share\tv")],
            "/data/tv/Show/S01/e1.mkv",
            r"\\server\share\tv\Show\S01\e1.mkv",
        ),
        ([("/data/tv", "\\\\nas\\tv\\")], "/data/tv/e1.mkv", r"\\nas\tv\e1.mkv"),
        # A Windows Plex server, mapped to POSIX: either separator in the Plex path.
        (
            [(r"D:\Media", "/mnt/media")],
            r"D:\Media\Movies\x.mkv",
            "/mnt/media/Movies/x.mkv",
        ),
        (
            [(r"D:\Media", "/mnt/media")],
            "D:/Media/Movies/x.mkv",
            "/mnt/media/Movies/x.mkv",
        ),
        (
            [(r"\\plexbox\media", "/mnt/media")],
            r"\\plexbox\media\tv\e1.mkv",
            "/mnt/media/tv/e1.mkv",
        ),
        # Case matters on the Plex side (Plex reports paths as they are).
        ([("/Data", "/media")], "/data/x.mkv", None),
        # A root mapping maps every absolute path.
        ([("/", "/remote")], "/data/x.mkv", "/remote/data/x.mkv"),
        # Names with spaces and unicode survive.
        (
            [("/data", "/media")],
            "/data/Amélie (2001)/Amélie.mkv",
            "/media/Amélie (2001)/Amélie.mkv",
        ),
        # Nothing matches: None.
        ([("/data", "/media")], "/other/x.mkv", None),
        ([], "/data/x.mkv", None),
        ([("/data", "/media")], "", None),
    ],
)
def test_map(pairs: list[tuple[str, str]], plex_path: str, local: str | None) -> None:
    """The local path of a Plex path, or None."""
    mapper = PathMapper([{"plex": plex, "local": target} for plex, target in pairs])
    assert mapper.map(plex_path) == local


def test_empty_pairs_are_ignored() -> None:
    """A pair without one side maps nothing; an empty mapper is falsy."""
    assert not PathMapper([])
    assert not PathMapper([{"plex": "", "local": "/x"}, {"plex": "/x", "local": " "}])
    assert PathMapper([{"plex": "/data", "local": "/media"}])
