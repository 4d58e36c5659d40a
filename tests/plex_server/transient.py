"""What plays without being an item of a library: live TV, prerolls, trailers, strays.

Real Plex Media Server lists these in ``/status/sessions`` next to library items,
each with a ``librarySectionID`` that names no section:

=========================  ======================  ========================================
kind                       ``librarySectionID``    evidence
=========================  ======================  ========================================
live TV (a DVR tuner)      ``-4``                  ``captures/livetv_sessions.xml`` (the item:
                                                   ``live="1"``, ``key="/livetv/sessions/…"``,
                                                   ``Media origin="livetv"``); HA core maps
                                                   -4 to "Live TV"
preroll (cinema extras)    ``-2``                  HA core's ``session_transient.xml``: a
                                                   ``clip`` with an ``analyzed.prerolls://``
                                                   guid and no ``librarySectionTitle``
an item of no known        ``-3`` (or any id the   HA core's ``session_unknown.xml``: a
library                    user cannot see)        ``clip`` with guid ``no_idea``
trailer before a feature   the trailer's movie's   ``Renderer.extra_node``: ``type="clip"``,
                                                   ``subtype="trailer"``, ``extraType="1"``
=========================  ======================  ========================================

A ``TransientItem`` carries what ``sessions`` needs of a library ``Item``
(``rating_key``, ``kind``, ``title``, ``duration``, ``key``) and its own element.
None of them is in ``emu.library``: they are never scrobbled, never in history, and
``/library/metadata/{ratingKey}`` does not know them (as real Plex forgets a live
program or a preroll once it has played).

Live TV is a small fixed lineup (``LINEUP``): two channels whose programs repeat
all day. ``Channel.airing(now)`` says what is on at a clock time; a live session
shows the program on air, its ``viewOffset`` is how far into the program the
broadcast is, and when the program ends the session carries on with the next one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .items import (
    TRAILER_PROFILE,
    VIDEO_PROFILES,
    Renderer,
    sort_title,
    stable_hex,
    stable_uuid,
)
from .node import Node

if TYPE_CHECKING:
    from .items import Item

TRANSIENT_SECTION_ID = -2
"""``librarySectionID`` of a preroll (HA core's ``session_transient.xml``)."""
UNKNOWN_SECTION_ID = -3
"""``librarySectionID`` of an item of no known library (HA core's ``session_unknown.xml``)."""
LIVE_TV_SECTION_ID = -4
"""``librarySectionID`` of a live TV program (HA core: ``LIVE_TV_SECTION = -4``)."""

PREROLL_KEY_BASE = 2_000_000_000
UNKNOWN_KEY_BASE = 2_500_000_000
LIVE_KEY_BASE = 3_000_000_000
PREROLL_DURATION = 6_016
"""A preroll is a few seconds long (``session_transient.xml``: 6016 ms)."""
UNKNOWN_DURATION = 99_999
SD_PROFILE = 4
LIVE_BITRATE = 8_000
"""kbps of an ATSC MPEG-2 1080i broadcast with AC3 audio (bandwidth of a live session)."""
CLIP_KINDS = ("preroll", "trailer")


@dataclass(eq=False)
class TransientItem:
    """Media that a session plays but no library holds (see the module docstring)."""

    rating_key: int
    kind: str
    """``type``: ``clip`` for prerolls, trailers and strays; ``episode`` / ``movie`` live."""
    title: str
    duration: int
    """Milliseconds; for live TV the program's length, which Plex does not write."""
    attrs: dict[str, Any]
    media: Node
    """The source ``Media`` > ``Part`` > ``Stream`` s."""
    live: bool = False
    channel: Channel | None = None
    program_start: float = 0.0
    """Live TV: the clock time the program began."""
    tag: str = "Video"
    children: None = None
    bitrate: int = field(default=0)

    @property
    def key(self) -> str:
        """The element's ``key`` (``/livetv/sessions/<uuid>`` for live TV)."""
        return str(self.attrs["key"])

    def node(self) -> Node:
        """The item's element with its source media (a fresh node, the caller's to change)."""
        return Node(self.tag, dict(self.attrs), [self.media], json_key="Metadata")


# -- live TV -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Program:
    """One program of a channel's day."""

    title: str
    kind: str
    """``episode`` or ``movie``."""
    minutes: int
    year: int
    show: str | None = None
    """The series (``grandparentTitle``) of an episode."""
    season: int | None = None
    episode: int | None = None
    summary: str = ""


@dataclass(frozen=True, slots=True)
class Channel:
    """A broadcast channel of the emulated DVR; its programs repeat all day."""

    number: str
    call_sign: str
    programs: tuple[Program, ...]

    @property
    def cycle(self) -> int:
        """Seconds until the schedule repeats."""
        return sum(program.minutes for program in self.programs) * 60

    def airing(self, now: float) -> tuple[int, float]:
        """The index of the program on air at ``now`` and the clock time it began."""
        cycle_start = now - now % self.cycle
        start = cycle_start
        for index, program in enumerate(self.programs):
            end = start + program.minutes * 60
            if now < end:
                return index, start
            start = end
        return 0, cycle_start + self.cycle  # pragma: no cover - float edge

    def matches(self, key: str) -> bool:
        """Whether ``key`` names this channel (number or call sign)."""
        return key in (self.number, self.call_sign) or key.casefold() == (
            self.call_sign.casefold()
        )


LINEUP: tuple[Channel, ...] = (
    Channel(
        "2.1",
        "WEMU",
        (
            Program(
                "The Price Is Right",
                "episode",
                60,
                2021,
                show="The Price Is Right",
                season=49,
                episode=105,
                summary="Contestants bid on prizes.",
            ),
            Program(
                "Evening News",
                "episode",
                30,
                2021,
                show="WEMU Evening News",
                season=2021,
                episode=117,
            ),
            Program(
                "Wildlife Hour",
                "episode",
                30,
                2020,
                show="Wildlife Hour",
                season=3,
                episode=8,
                summary="Otters of the northern coast.",
            ),
        ),
    ),
    Channel(
        "4.1",
        "KFLM",
        (
            Program(
                "Casablanca",
                "movie",
                120,
                1942,
                summary="A cafe owner in wartime Morocco.",
            ),
            Program(
                "The Late Show",
                "episode",
                60,
                2021,
                show="The Late Show",
                season=7,
                episode=41,
            ),
        ),
    ),
)


def find_channel(key: str | None) -> Channel:
    """A channel of ``LINEUP`` by number or call sign (``None``: the first)."""
    if key is None:
        return LINEUP[0]
    for channel in LINEUP:
        if channel.matches(str(key)):
            return channel
    raise KeyError(f"unknown channel: {key!r}")


def live_item(channel: Channel, now: float, session_uuid: str) -> TransientItem:
    """The program on air on ``channel`` at ``now``, as a live session plays it.

    The element follows ``livetv_sessions.xml``: a ``Video`` of ``type`` episode or
    movie with ``live="1"``, ``key="/livetv/sessions/<uuid>"``, a plex.tv guid and
    no ``duration``; the ``Media`` is the tuner's MPEG-TS (``origin="livetv"``,
    ``protocol="hls"``, the session's ``uuid``) with MPEG-2 video, two AC3 audio
    streams and closed captions. Plus ``librarySectionID="-4"``.
    """
    index, start = channel.airing(now)
    program = channel.programs[index]
    channel_index = LINEUP.index(channel)
    rating_key = LIVE_KEY_BASE + channel_index * 100 + index
    attrs: dict[str, Any] = {
        "ratingKey": str(rating_key),
        "guid": f"plex://{program.kind}/{stable_hex('live', channel.call_sign, index)}",
        "type": program.kind,
        "title": program.title,
        "titleSort": sort_title(program.title),
        "summary": program.summary,
        "index": program.episode,
        "year": program.year,
        "addedAt": int(start),
        "genuineMediaAnalysis": True,
        "grandparentThumb": (
            f"https://metadata-static.plex.tv/{stable_hex('show', program.show)}.jpg"
            if program.show
            else None
        ),
        "grandparentTitle": program.show,
        "key": f"/livetv/sessions/{session_uuid}",
        "librarySectionID": LIVE_TV_SECTION_ID,
        "live": True,
        "parentIndex": program.season,
    }
    media_id = rating_key % 1_000_000
    streams = [
        Node(
            "Stream",
            {
                "id": media_id * 10,
                "streamType": 1,
                "codec": "mpeg2video",
                "index": 0,
                "closedCaptions": True,
                "frameRate": 29.97,
                "height": 1080,
                "level": 4,
                "pixelAspectRatio": "1:1",
                "profile": "main",
                "scanType": "interlaced",
                "width": 1920,
                "displayTitle": "1080i (MPEG2VIDEO)",
                "extendedDisplayTitle": "1080i (MPEG2VIDEO)",
            },
        ),
        Node(
            "Stream",
            {
                "id": media_id * 10 + 1,
                "streamType": 2,
                "selected": True,
                "codec": "ac3",
                "index": 1,
                "channels": 6,
                "bitrate": 384,
                "audioChannelLayout": "5.1(side)",
                "requiredBandwidths": ",".join(["384"] * 8),
                "samplingRate": 48000,
                "displayTitle": "Unknown (AC3 5.1)",
                "extendedDisplayTitle": "Unknown (AC3 5.1)",
            },
        ),
        Node(
            "Stream",
            {
                "id": media_id * 10 + 2,
                "streamType": 2,
                "codec": "ac3",
                "index": 2,
                "channels": 2,
                "bitrate": 192,
                "audioChannelLayout": "stereo",
                "requiredBandwidths": ",".join(["192"] * 8),
                "samplingRate": 48000,
                "displayTitle": "Unknown (AC3 Stereo)",
                "extendedDisplayTitle": "Unknown (AC3 Stereo)",
            },
        ),
        Node(
            "Stream",
            {
                "id": media_id * 10 + 3,
                "streamType": 3,
                "codec": "eia_608",
                "index": 3,
                "embeddedInVideo": "1",  # the spec types it a string
                "displayTitle": "Unknown (Closed Captions)",
                "extendedDisplayTitle": "Unknown (Closed Captions)",
            },
        ),
    ]
    part = Node(
        "Part",
        {
            "id": media_id,
            "container": "mpegts",
            "deepAnalysisVersion": 4,
            "protocol": "hls",
        },
        streams,
    )
    media = Node(
        "Media",
        {
            "id": media_id,
            "width": 1920,
            "height": 1080,
            "aspectRatio": 1.78,
            "audioChannels": 6,
            "audioCodec": "ac3",
            "videoCodec": "mpeg2video",
            "videoResolution": "1080",
            "container": "mpegts",
            "origin": "livetv",
            "protocol": "hls",
            "uuid": session_uuid,
        },
        [part],
    )
    return TransientItem(
        rating_key=rating_key,
        kind=program.kind,
        title=program.title,
        duration=program.minutes * 60_000,
        attrs=attrs,
        media=media,
        live=True,
        channel=channel,
        program_start=start,
        bitrate=LIVE_BITRATE,
    )


def new_session_uuid(*parts: object) -> str:
    """The ``uuid`` a live session's media and ``key`` carry."""
    return stable_uuid("livetv", *parts)


# -- clips ---------------------------------------------------------------------------------


def _clip_media(
    rating_key: int, *, profile_index: int, duration: int, stamp: int, file: str
) -> Node:
    """A clip's file: ``Media`` > ``Part`` > video and audio ``Stream``."""
    profile = VIDEO_PROFILES[profile_index]
    media = Renderer._video_media(  # the library's own media shape
        rating_key,
        profile=profile,
        duration=duration,
        size=profile.bitrate * duration // 8,
        stamp=stamp,
        file=file,
        streams=Renderer.video_streams(rating_key, 0, profile_index),
    )
    media.attrs["origin"] = "local"
    return media


def preroll_item(number: int, now: float) -> TransientItem:
    """A preroll (``session_transient.xml``): a ``clip`` in section -2, no section title."""
    rating_key = PREROLL_KEY_BASE + number
    stamp = int(now)
    title = f"preroll_{number}"
    attrs: dict[str, Any] = {
        "ratingKey": str(rating_key),
        "key": f"/library/metadata/{rating_key}",
        "guid": f"analyzed.prerolls://{stable_hex('preroll', number, length=40)}",
        "type": "clip",
        "title": title,
        "summary": "",
        "index": 1,
        "thumb": f"/library/metadata/{rating_key}/thumb/{stamp}",
        "duration": PREROLL_DURATION,
        "addedAt": stamp,
        "updatedAt": stamp,
        "genuineMediaAnalysis": True,
        "librarySectionID": TRANSIENT_SECTION_ID,
    }
    media = _clip_media(
        rating_key,
        profile_index=SD_PROFILE,
        duration=PREROLL_DURATION,
        stamp=stamp,
        file=f"/data/prerolls/{title}.mp4",
    )
    return TransientItem(
        rating_key=rating_key,
        kind="clip",
        title=title,
        duration=PREROLL_DURATION,
        attrs=attrs,
        media=media,
        bitrate=int(media.attrs["bitrate"]),
    )


def trailer_item(renderer: Renderer, owner: Item) -> TransientItem:
    """The trailer of a movie or show (its ``primaryExtraKey``), as a session plays it."""
    node = renderer.extra_node(owner)
    rating_key = int(node.attrs["ratingKey"])
    source = node.find("Media")
    part = source.find("Part") if source is not None else None
    file = str(part.attrs.get("file", "")) if part is not None else ""
    media = _clip_media(
        rating_key,
        profile_index=TRAILER_PROFILE,
        duration=int(node.attrs["duration"]),
        stamp=owner.added_at,
        file=file,
    )
    return TransientItem(
        rating_key=rating_key,
        kind="clip",
        title=str(node.attrs["title"]),
        duration=int(node.attrs["duration"]),
        attrs=dict(node.attrs),
        media=media,
        bitrate=int(media.attrs["bitrate"]),
    )


def unknown_item(
    number: int, now: float, *, section_id: int | None = UNKNOWN_SECTION_ID
) -> TransientItem:
    """An item of no library the server will name (``session_unknown.xml``).

    ``section_id``: its ``librarySectionID`` (``-3`` as in the capture, or an id of
    a section the user cannot see); ``None`` leaves the attribute out. There is never
    a ``librarySectionTitle`` or ``librarySectionKey``.
    """
    rating_key = UNKNOWN_KEY_BASE + number
    stamp = int(now)
    attrs: dict[str, Any] = {
        "ratingKey": str(rating_key),
        "key": f"/library/metadata/{rating_key}",
        "guid": "no_idea",
        "type": "clip",
        "title": f"some_unknown_item_{number}",
        "summary": "",
        "index": 1,
        "thumb": f"/library/metadata/{rating_key}/thumb/{stamp}",
        "duration": UNKNOWN_DURATION,
        "addedAt": stamp,
        "updatedAt": stamp,
        "genuineMediaAnalysis": True,
        "librarySectionID": section_id,
    }
    media = _clip_media(
        rating_key,
        profile_index=SD_PROFILE,
        duration=UNKNOWN_DURATION,
        stamp=stamp,
        file=f"/data/unknown/{rating_key}.mp4",
    )
    return TransientItem(
        rating_key=rating_key,
        kind="clip",
        title=str(attrs["title"]),
        duration=UNKNOWN_DURATION,
        attrs=attrs,
        media=media,
        bitrate=int(media.attrs["bitrate"]),
    )
