"""Typed models of what a Plex Media Server answers, from its JSON or its XML.

Plex answers JSON when asked (``Accept: application/json``), but a proxy in front of
it, or an old server, may still answer XML. ``xml_to_container`` turns an XML answer
into the same dictionary shape that the JSON form has (library items of every tag
under ``"Metadata"``, other children as lists under their tag, attribute values as
strings), and the ``parse_*`` functions read both: every value goes through the
small coercion helpers below, which accept a JSON number or an XML string alike.

Parsing never trusts the server: a missing attribute is ``None`` (or a neutral
default), an unexpected type is ignored, and unknown item types are kept with their
``type`` so that callers can show them as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
import math
from typing import Any
from xml.etree import ElementTree as ET

Container = dict[str, Any]

# XML tags of library items: in JSON they are all under "Metadata". A "Directory" is an
# item only when it has a ratingKey (sections and filter values have none).
ITEM_TAGS = frozenset({"Video", "Track", "Photo", "Directory", "Playlist"})

# Children that are one object in the JSON form (a list of one in XML).
SINGLE_CHILDREN = frozenset({"Player", "User", "Session", "TranscodeSession"})


# -- coercion --------------------------------------------------------------------------


def as_str(value: Any) -> str | None:
    """A non-empty string, or ``None``."""
    if value is None or isinstance(value, (dict, list)):
        return None
    text = str(value)
    return text or None


def as_int(value: Any) -> int | None:
    """An integer from a JSON number or an XML string, or ``None``."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            return int(float(value)) if value.strip() else None
        except ValueError, OverflowError:  # not a number, or "inf"
            return None
    return None


def as_float(value: Any) -> float | None:
    """A float from a JSON number or an XML string, or ``None``."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value) if value.strip() else None
        except ValueError:
            return None
    return None


def as_bool(value: Any) -> bool:
    """``True`` for ``true``/``1`` in either form."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true"}
    return False


def children(container: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    """The child objects under ``key``: a list in either form (one object becomes a list)."""
    value = container.get(key)
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [entry for entry in value if isinstance(entry, dict)]
    return []


def child(container: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    """The first child object under ``key``, or ``None``."""
    found = children(container, key)
    return found[0] if found else None


def tags(container: Mapping[str, Any], key: str) -> tuple[str, ...]:
    """The ``tag`` values of tag children (``Genre``, ``Director`` ...)."""
    return tuple(
        tag for entry in children(container, key) if (tag := as_str(entry.get("tag")))
    )


# -- XML -------------------------------------------------------------------------------


def xml_to_container(text: str | bytes) -> Container:
    """The ``MediaContainer`` of an XML answer, in the JSON form's shape.

    A player's answer to a command proxied by the server
    (``<Response code="200" status="OK"/>``) becomes its attributes. Raises
    ``ValueError`` when the text is not XML or has no ``MediaContainer``.
    """
    try:
        root = ET.fromstring(text)  # noqa: S314 - a server's answer, no entities expanded by expat
    except ET.ParseError as err:
        raise ValueError(f"not XML: {err}") from err
    if root.tag == "Response":
        return dict(root.attrib)
    if root.tag != "MediaContainer":
        raise ValueError(f"the XML root is {root.tag}, not MediaContainer")
    return _element_to_dict(root)


def _element_to_dict(element: ET.Element) -> dict[str, Any]:
    result: dict[str, Any] = dict(element.attrib)
    for node in element:
        key = node.tag
        if key in ITEM_TAGS and (key != "Directory" or "ratingKey" in node.attrib):
            key = "Metadata"
        value = _element_to_dict(node)
        if node.tag != key:
            value.setdefault("_tag", node.tag)
        result.setdefault(key, []).append(value)
    for key in SINGLE_CHILDREN & result.keys():
        if isinstance(result[key], list) and len(result[key]) == 1:
            result[key] = result[key][0]
    return result


# -- models ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """Who a Plex Media Server says it is (its root endpoint, ``/``)."""

    machine_identifier: str
    friendly_name: str
    version: str
    platform: str | None = None
    platform_version: str | None = None
    transcoder_active_video_sessions: int | None = None
    my_plex_username: str | None = None


def parse_server_info(container: Mapping[str, Any]) -> ServerInfo:
    """The server's identity from ``/`` (``ValueError`` without a machineIdentifier)."""
    machine_identifier = as_str(container.get("machineIdentifier"))
    if not machine_identifier:
        raise ValueError("the server did not say its machineIdentifier")
    return ServerInfo(
        machine_identifier=machine_identifier,
        friendly_name=as_str(container.get("friendlyName")) or machine_identifier,
        version=as_str(container.get("version")) or "",
        platform=as_str(container.get("platform")),
        platform_version=as_str(container.get("platformVersion")),
        transcoder_active_video_sessions=as_int(
            container.get("transcoderActiveVideoSessions")
        ),
        my_plex_username=as_str(container.get("myPlexUsername")),
    )


@dataclass(frozen=True, slots=True)
class Section:
    """A library section of ``/library/sections``."""

    key: str
    title: str
    type: str
    uuid: str | None = None
    updated_at: int | None = None
    scanned_at: int | None = None
    refreshing: bool = False
    thumb: str | None = None


def parse_sections(container: Mapping[str, Any]) -> list[Section]:
    """Every section of ``/library/sections``."""
    sections = []
    for entry in children(container, "Directory"):
        key = as_str(entry.get("key"))
        if key is None:
            continue
        sections.append(
            Section(
                key=key,
                title=as_str(entry.get("title")) or key,
                type=as_str(entry.get("type")) or "unknown",
                uuid=as_str(entry.get("uuid")),
                updated_at=as_int(entry.get("updatedAt")),
                scanned_at=as_int(entry.get("scannedAt")),
                refreshing=as_bool(entry.get("refreshing")),
                thumb=as_str(entry.get("thumb")),
            )
        )
    return sections


def full_title(
    kind: str,
    title: str,
    grandparent: str | None,
    season: int | None = None,
    index: int | None = None,
) -> str:
    """``Show - S01E02 - Title`` for an episode, ``Artist - Title`` for a track.

    Other kinds keep their own title. History entries, which know no numbers, give
    ``Show - Title``.
    """
    if kind == "episode" and grandparent:
        if season is not None and index is not None:
            return f"{grandparent} - S{season:02d}E{index:02d} - {title}"
        return f"{grandparent} - {title}"
    if kind == "track" and grandparent:
        return f"{grandparent} - {title}"
    return title


@dataclass(frozen=True, slots=True)
class MediaItem:
    """One library item as Plex describes it in any list.

    Movies, shows, seasons, episodes, artists, albums, tracks, photos, clips,
    playlists and collections alike; ``type`` says which.
    """

    rating_key: str
    type: str
    title: str
    key: str | None = None
    guid: str | None = None
    subtype: str | None = None
    parent_title: str | None = None
    grandparent_title: str | None = None
    parent_rating_key: str | None = None
    grandparent_rating_key: str | None = None
    index: int | None = None
    parent_index: int | None = None
    year: int | None = None
    duration: int | None = None
    view_offset: int | None = None
    view_count: int | None = None
    leaf_count: int | None = None
    viewed_leaf_count: int | None = None
    child_count: int | None = None
    summary: str | None = None
    studio: str | None = None
    content_rating: str | None = None
    rating: float | None = None
    originally_available_at: str | None = None
    added_at: int | None = None
    updated_at: int | None = None
    last_viewed_at: int | None = None
    thumb: str | None = None
    art: str | None = None
    parent_thumb: str | None = None
    grandparent_thumb: str | None = None
    composite: str | None = None
    library_section_id: int | None = None
    library_section_title: str | None = None
    playlist_type: str | None = None
    smart: bool = False
    live: bool = False
    genres: tuple[str, ...] = ()
    guids: tuple[str, ...] = ()

    @property
    def full_title(self) -> str:
        """A title that says what it is: ``Show - S01E02 - Title``, ``Artist - Title``."""
        return full_title(
            self.type, self.title, self.grandparent_title, self.parent_index, self.index
        )

    @property
    def image(self) -> str | None:
        """The best picture for the item: its own, else its parent's or show's."""
        return (
            self.thumb
            or self.composite
            or self.parent_thumb
            or self.grandparent_thumb
            or self.art
        )


def parse_item(entry: Mapping[str, Any]) -> MediaItem | None:
    """A ``MediaItem`` from one ``Metadata`` entry (``None`` without a ratingKey)."""
    rating_key = as_str(entry.get("ratingKey"))
    if rating_key is None:
        return None
    item_type = as_str(entry.get("type")) or as_str(entry.get("_tag")) or "unknown"
    return MediaItem(
        rating_key=rating_key,
        type=item_type.lower(),
        title=as_str(entry.get("title")) or "",
        key=as_str(entry.get("key")),
        guid=as_str(entry.get("guid")),
        subtype=as_str(entry.get("subtype")),
        parent_title=as_str(entry.get("parentTitle")),
        grandparent_title=as_str(entry.get("grandparentTitle")),
        parent_rating_key=as_str(entry.get("parentRatingKey")),
        grandparent_rating_key=as_str(entry.get("grandparentRatingKey")),
        index=as_int(entry.get("index")),
        parent_index=as_int(entry.get("parentIndex")),
        year=as_int(entry.get("year")),
        duration=as_int(entry.get("duration")),
        view_offset=as_int(entry.get("viewOffset")),
        view_count=as_int(entry.get("viewCount")),
        leaf_count=as_int(entry.get("leafCount")),
        viewed_leaf_count=as_int(entry.get("viewedLeafCount")),
        child_count=as_int(entry.get("childCount")),
        summary=as_str(entry.get("summary")),
        studio=as_str(entry.get("studio")),
        content_rating=as_str(entry.get("contentRating")),
        rating=as_float(entry.get("rating")),
        originally_available_at=as_str(entry.get("originallyAvailableAt")),
        added_at=as_int(entry.get("addedAt")),
        updated_at=as_int(entry.get("updatedAt")),
        last_viewed_at=as_int(entry.get("lastViewedAt")),
        thumb=as_str(entry.get("thumb")),
        art=as_str(entry.get("art")),
        parent_thumb=as_str(entry.get("parentThumb")),
        grandparent_thumb=as_str(entry.get("grandparentThumb")),
        composite=as_str(entry.get("composite")),
        library_section_id=as_int(entry.get("librarySectionID")),
        library_section_title=as_str(entry.get("librarySectionTitle")),
        playlist_type=as_str(entry.get("playlistType")),
        smart=as_bool(entry.get("smart")),
        live=as_bool(entry.get("live")),
        genres=tags(entry, "Genre"),
        guids=tuple(
            guid
            for guid_entry in children(entry, "Guid")
            if (guid := as_str(guid_entry.get("id")))
        ),
    )


def parse_items(entries: Iterable[Mapping[str, Any]]) -> list[MediaItem]:
    """Every item of a list, skipping entries that are not items."""
    return [item for entry in entries if (item := parse_item(entry)) is not None]


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a paged list, with the total the server reports."""

    items: list[MediaItem]
    offset: int
    total_size: int


def parse_page(container: Mapping[str, Any]) -> Page:
    """A page of items (``totalSize`` and ``offset`` from the container)."""
    items = parse_items(children(container, "Metadata"))
    total = as_int(container.get("totalSize"))
    return Page(
        items=items,
        offset=as_int(container.get("offset")) or 0,
        total_size=total if total is not None else len(items),
    )


@dataclass(frozen=True, slots=True)
class Device:
    """A player the server knows (``/clients``, or the ``Player`` of a session)."""

    machine_identifier: str
    name: str
    product: str | None = None
    platform: str | None = None
    device: str | None = None
    device_class: str | None = None
    model: str | None = None
    vendor: str | None = None
    version: str | None = None
    address: str | None = None
    protocol_capabilities: tuple[str, ...] = ()

    @property
    def controllable(self) -> bool:
        """Whether the server can remote-control it.

        Plex Web lists ``playback`` among its capabilities but refuses commands that
        come through the server (406), so it is never offered controls.
        """
        return "playback" in self.protocol_capabilities and self.product != "Plex Web"


def _capabilities(value: Any) -> tuple[str, ...]:
    text = as_str(value) or ""
    return tuple(cap for cap in text.split(",") if cap)


def parse_clients(container: Mapping[str, Any]) -> list[Device]:
    """The players of ``/clients`` (``Server`` elements)."""
    devices = []
    for entry in children(container, "Server"):
        identifier = as_str(entry.get("machineIdentifier"))
        if identifier is None:
            continue
        devices.append(
            Device(
                machine_identifier=identifier,
                name=as_str(entry.get("name")) or identifier,
                product=as_str(entry.get("product")),
                platform=as_str(entry.get("platform")),
                device_class=as_str(entry.get("deviceClass")),
                version=as_str(entry.get("version")),
                address=as_str(entry.get("address")),
                protocol_capabilities=_capabilities(entry.get("protocolCapabilities")),
            )
        )
    return devices


@dataclass(frozen=True, slots=True)
class User:
    """The account of a session or a history entry."""

    id: str | None
    title: str
    thumb: str | None = None


@dataclass(frozen=True, slots=True)
class StreamQuality:
    """How a session is delivered: resolution, bitrate, direct play or transcode."""

    video_resolution: str | None = None
    bitrate: int | None = None
    container: str | None = None
    video_decision: str | None = None
    audio_decision: str | None = None
    subtitle_decision: str | None = None
    transcode_hw: bool = False
    throttled: bool = False
    transcode_reasons: tuple[str, ...] = ()

    @property
    def decision(self) -> str:
        """``transcode``, ``copy`` (direct stream) or ``direct play``."""
        decisions = {self.video_decision, self.audio_decision, self.subtitle_decision}
        if "transcode" in decisions:
            return "transcode"
        if "copy" in decisions:
            return "copy"
        return "direct play"


@dataclass(frozen=True, slots=True)
class PlexSession:
    """One live session of ``/status/sessions``."""

    session_key: str
    item: MediaItem
    player: Device
    state: str
    user: User | None = None
    session_id: str | None = None
    bandwidth: int | None = None
    location: str | None = None
    quality: StreamQuality = field(default_factory=StreamQuality)

    @property
    def transcoding(self) -> bool:
        """Whether the server transcodes any stream of this session."""
        return self.quality.decision == "transcode"


def _player(entry: Mapping[str, Any]) -> Device | None:
    player = child(entry, "Player")
    if player is None:
        return None
    identifier = as_str(player.get("machineIdentifier"))
    if identifier is None:
        return None
    return Device(
        machine_identifier=identifier,
        name=as_str(player.get("title")) or as_str(player.get("product")) or identifier,
        product=as_str(player.get("product")),
        platform=as_str(player.get("platform")),
        device=as_str(player.get("device")),
        device_class=as_str(player.get("deviceClass")),
        model=as_str(player.get("model")),
        vendor=as_str(player.get("vendor")),
        version=as_str(player.get("version")),
        address=as_str(player.get("address")),
        protocol_capabilities=_capabilities(player.get("protocolCapabilities")),
    )


def _user(entry: Mapping[str, Any]) -> User | None:
    user = child(entry, "User")
    if user is None:
        return None
    title = as_str(user.get("title"))
    if title is None:
        return None
    return User(id=as_str(user.get("id")), title=title, thumb=as_str(user.get("thumb")))


def _quality(entry: Mapping[str, Any]) -> StreamQuality:
    media = next(
        (m for m in children(entry, "Media") if as_bool(m.get("selected"))),
        child(entry, "Media"),
    )
    part = child(media, "Part") if media else None
    transcode = child(entry, "TranscodeSession")
    video = audio = subtitle = None
    for stream in children(part, "Stream") if part else []:
        kind = as_int(stream.get("streamType"))
        decision = as_str(stream.get("decision"))
        if kind == 1:
            video = decision or video
        elif kind == 2 and (as_bool(stream.get("selected")) or audio is None):
            audio = decision or audio
        elif kind == 3 and as_bool(stream.get("selected")):
            subtitle = decision or subtitle
    if transcode:
        video = as_str(transcode.get("videoDecision")) or video
        audio = as_str(transcode.get("audioDecision")) or audio
        subtitle = as_str(transcode.get("subtitleDecision")) or subtitle
    reasons = as_str(transcode.get("transcodeReason")) if transcode else None
    return StreamQuality(
        video_resolution=as_str(media.get("videoResolution")) if media else None,
        bitrate=as_int(media.get("bitrate")) if media else None,
        container=as_str(media.get("container")) if media else None,
        video_decision=video,
        audio_decision=audio,
        subtitle_decision=subtitle,
        transcode_hw=as_bool(transcode.get("transcodeHwRequested"))
        if transcode
        else False,
        throttled=as_bool(transcode.get("throttled")) if transcode else False,
        transcode_reasons=tuple(r for r in (reasons or "").split(",") if r),
    )


def parse_sessions(container: Mapping[str, Any]) -> list[PlexSession]:
    """Every session of ``/status/sessions`` that names its player."""
    sessions = []
    for entry in children(container, "Metadata"):
        player = _player(entry)
        session_key = as_str(entry.get("sessionKey"))
        if player is None or session_key is None:
            continue
        item = parse_item(entry) or _unkeyed_item(entry)
        session = child(entry, "Session")
        player_entry = child(entry, "Player") or {}
        sessions.append(
            PlexSession(
                session_key=session_key,
                item=item,
                player=player,
                state=as_str(player_entry.get("state")) or "playing",
                user=_user(entry),
                session_id=as_str(session.get("id")) if session else None,
                bandwidth=as_int(session.get("bandwidth")) if session else None,
                location=as_str(session.get("location")) if session else None,
                quality=_quality(entry),
            )
        )
    return sessions


def _unkeyed_item(entry: Mapping[str, Any]) -> MediaItem:
    """An item without a ratingKey (some live TV and transient sessions)."""
    keyed = dict(entry)
    keyed["ratingKey"] = (
        as_str(entry.get("key")) or as_str(entry.get("sessionKey")) or ""
    )
    item = parse_item(keyed)
    if item is None:  # pragma: no cover - the ratingKey was just set
        raise ValueError("an item without a key")
    return item


@dataclass(frozen=True, slots=True)
class Account:
    """A server account (``/accounts``)."""

    id: str
    name: str


def parse_accounts(container: Mapping[str, Any]) -> list[Account]:
    """Every named account of ``/accounts`` (the nameless system account is left out)."""
    return [
        Account(id=account_id, name=name)
        for entry in children(container, "Account")
        if (account_id := as_str(entry.get("id"))) is not None
        and (name := as_str(entry.get("name")))
    ]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One play of ``/status/sessions/history/all``."""

    rating_key: str | None
    title: str
    type: str
    viewed_at: int | None
    account_id: str | None
    device_id: str | None
    grandparent_title: str | None = None
    parent_title: str | None = None
    library_section_id: int | None = None


def parse_history(container: Mapping[str, Any]) -> list[HistoryEntry]:
    """The plays of a history page, newest first as the server orders them."""
    return [
        HistoryEntry(
            rating_key=as_str(entry.get("ratingKey")),
            title=as_str(entry.get("title")) or "",
            type=as_str(entry.get("type")) or "unknown",
            viewed_at=as_int(entry.get("viewedAt")),
            account_id=as_str(entry.get("accountID")),
            device_id=as_str(entry.get("deviceID")),
            grandparent_title=as_str(entry.get("grandparentTitle")),
            parent_title=as_str(entry.get("parentTitle")),
            library_section_id=as_int(entry.get("librarySectionID")),
        )
        for entry in children(container, "Metadata")
    ]


@dataclass(frozen=True, slots=True)
class Hub:
    """A hub of ``/hubs`` or ``/hubs/search``: a titled row of items."""

    title: str
    type: str
    hub_identifier: str | None
    items: list[MediaItem]
    more: bool = False


def parse_hubs(container: Mapping[str, Any]) -> list[Hub]:
    """Every hub of an answer, with its items."""
    return [
        Hub(
            title=as_str(entry.get("title")) or "",
            type=as_str(entry.get("type")) or "unknown",
            hub_identifier=as_str(entry.get("hubIdentifier")),
            items=parse_items(children(entry, "Metadata")),
            more=as_bool(entry.get("more")),
        )
        for entry in children(container, "Hub")
    ]


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """A non-item ``Directory``: a first character, a genre, a decade ..."""

    key: str
    title: str
    size: int | None = None


def parse_directories(container: Mapping[str, Any]) -> list[DirectoryEntry]:
    """The ``Directory`` entries of a filter list (``firstCharacter``, ``genre`` ...)."""
    return [
        DirectoryEntry(
            key=key,
            title=as_str(entry.get("title")) or key,
            size=as_int(entry.get("size")),
        )
        for entry in children(container, "Directory")
        if (key := as_str(entry.get("key"))) is not None
    ]


@dataclass(frozen=True, slots=True)
class Release:
    """A Plex Media Server release offered by ``/updater/status``."""

    version: str
    added: str | None = None
    fixed: str | None = None
    state: str | None = None


@dataclass(frozen=True, slots=True)
class UpdateStatus:
    """``/updater/status``: whether a newer release exists and can be installed.

    The download URL Plex puts in it carries the token, so it is never kept.
    """

    can_install: bool
    checked_at: int | None
    release: Release | None


def parse_update_status(container: Mapping[str, Any]) -> UpdateStatus:
    """The updater's status; the newest release, if the server offers one."""
    releases = [
        Release(
            version=version,
            added=as_str(entry.get("added")),
            fixed=as_str(entry.get("fixed")),
            state=as_str(entry.get("state")),
        )
        for entry in children(container, "Release")
        if (version := as_str(entry.get("version")))
    ]
    return UpdateStatus(
        can_install=as_bool(container.get("canInstall")),
        checked_at=as_int(container.get("checkedAt")),
        release=releases[0] if releases else None,
    )


@dataclass(frozen=True, slots=True)
class PlayQueue:
    """A play queue made by ``POST /playQueues``."""

    id: str
    selected_item_id: str | None
    selected_rating_key: str | None
    total_count: int


def parse_play_queue(container: Mapping[str, Any]) -> PlayQueue:
    """The queue's id and selection (``ValueError`` without an id)."""
    queue_id = as_str(container.get("playQueueID"))
    if queue_id is None:
        raise ValueError("the server made no play queue")
    return PlayQueue(
        id=queue_id,
        selected_item_id=as_str(container.get("playQueueSelectedItemID")),
        selected_rating_key=as_str(container.get("playQueueSelectedMetadataItemID")),
        total_count=as_int(container.get("playQueueTotalCount")) or 0,
    )


# Plex's ``streamType`` codes.
STREAM_TYPE_VIDEO = 1
STREAM_TYPE_AUDIO = 2
STREAM_TYPE_SUBTITLE = 3


@dataclass(frozen=True, slots=True)
class MediaStream:
    """One video, audio or subtitle ``Stream`` of an item's (first) ``Part``."""

    id: int
    stream_type: int
    language: str | None = None
    language_code: str | None = None
    language_tag: str | None = None
    display_title: str | None = None
    selected: bool = False

    def speaks(self, language: str) -> bool:
        """Whether the stream is in ``language`` (a name, ISO 639-2 or BCP 47 tag)."""
        wanted = language.strip().casefold()
        return wanted in {
            (value or "").casefold()
            for value in (self.language, self.language_code, self.language_tag)
        }


def parse_item_streams(container: Mapping[str, Any]) -> list[MediaStream]:
    """The streams of the first ``Part`` of the first item of ``/library/metadata/<key>``."""
    entry = child(container, "Metadata")
    media = child(entry, "Media") if entry else None
    part = child(media, "Part") if media else None
    return [
        MediaStream(
            id=stream_id,
            stream_type=kind,
            language=as_str(stream.get("language")),
            language_code=as_str(stream.get("languageCode")),
            language_tag=as_str(stream.get("languageTag")),
            display_title=as_str(stream.get("displayTitle")),
            selected=as_bool(stream.get("selected")),
        )
        for stream in (children(part, "Stream") if part else [])
        if (stream_id := as_int(stream.get("id"))) is not None
        and (kind := as_int(stream.get("streamType"))) is not None
    ]


@dataclass(frozen=True, slots=True)
class SystemDevice:
    """A device the server has seen (``/devices``); history names it by ``id``."""

    id: str
    name: str
    client_identifier: str | None = None


def parse_devices(container: Mapping[str, Any]) -> list[SystemDevice]:
    """Every device of ``/devices``."""
    return [
        SystemDevice(
            id=device_id,
            name=as_str(entry.get("name")) or device_id,
            client_identifier=as_str(entry.get("clientIdentifier")),
        )
        for entry in children(container, "Device")
        if (device_id := as_str(entry.get("id"))) is not None
    ]
