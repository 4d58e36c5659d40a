"""The library's objects and how Plex renders each of them.

``Section``, ``Item`` (movie, show, season, episode, artist, album, track, photo
album, photo), ``Collection`` and ``Playlist`` keep only what cannot be derived:
titles, indexes, dates, watch state, tag ids and a compact media profile. The XML /
JSON element of an item is built from those fields (``Renderer``) when it is first
asked for, then kept as text on the item (``Renderer.list_xml`` /
``Renderer.list_json``) until a change calls ``Item.invalidate()``. A page of a
100k-item library is then a join of cached strings.

Shapes follow real Plex Media Server: element and attribute names as in
``shared/plex-reference/captures`` (``library_movies_all.xml``, ``children_20.xml``,
``children_200.xml``, ``media_30.xml``, ``playlists.xml`` ...), ``Media`` > ``Part``
> ``Stream`` nesting and value types as in the ``Metadata`` / ``Media`` / ``Part`` /
``Stream`` / ``Tag`` schemas of ``plex-api-spec.yaml``. A ``Part`` has its
``key`` (``/library/parts/<id>/<stamp>/file.<ext>``); a ``Stream`` has none: every
stream here is embedded in its file, and real Plex gives ``key``
(``/library/streams/<id>``) only to sidecar subtitle files (no capture has one).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
import functools
import hashlib
import json
from typing import TYPE_CHECKING, Any, NamedTuple

from .node import SINGLE_JSON_CHILDREN, XML_ESCAPES, Node, group_by_json_key, xml_value

if TYPE_CHECKING:
    from .shaping import ResponseShape

IDENTIFIER = "com.plexapp.plugins.library"
MEDIA_TAG_PREFIX = "/system/bundle/media/flags/"
MEDIA_TAG_VERSION = 1729522163


def library_container_attrs(*, allow_sync: bool, **attrs: Any) -> dict[str, Any]:
    """A library container's attributes, in the alphabetical order Plex writes them.

    ``allowSync``, Plex's library ``identifier`` and media-tag pair, and ``attrs``.
    ``size`` (which Plex writes first) is the caller's to put in front.
    """
    merged = {
        "allowSync": allow_sync,
        "identifier": IDENTIFIER,
        "mediaTagPrefix": MEDIA_TAG_PREFIX,
        "mediaTagVersion": MEDIA_TAG_VERSION,
        **attrs,
    }
    return dict(sorted(merged.items()))


# Plex's metadata type numbers (``type=`` of ``/library/sections/{id}/all``).
TYPE_CODES: dict[str, int] = {
    "movie": 1,
    "show": 2,
    "season": 3,
    "episode": 4,
    "artist": 8,
    "album": 9,
    "track": 10,
    "photo": 13,
    "photoalbum": 14,
    "playlist": 15,
    "collection": 18,
}
KINDS_BY_CODE = {code: kind for kind, code in TYPE_CODES.items()}

# Section type -> the kinds it holds, top level first.
SECTION_KINDS: dict[str, tuple[str, ...]] = {
    "movie": ("movie",),
    "show": ("show", "season", "episode"),
    "artist": ("artist", "album", "track"),
    "photo": ("photoalbum", "photo"),
}
# The kinds whose items have children (their ``key`` ends in ``/children``).
CONTAINER_KINDS = frozenset({"show", "season", "artist", "album", "photoalbum"})
CHILD_KIND = {
    "show": "season",
    "season": "episode",
    "artist": "album",
    "album": "track",
    "photoalbum": "photo",
}

# XML element per kind; every item goes under "Metadata" in JSON.
TAGS = {
    "movie": "Video",
    "episode": "Video",
    "track": "Track",
    "photo": "Photo",
}
# The ``type`` attribute Plex writes (photo albums are ``photo`` Directories).
TYPE_ATTR = {"photoalbum": "photo"}

# fmt: off
GENRES = (
    "Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama",
    "Family", "Fantasy", "History", "Horror", "Music", "Mystery", "Romance",
    "Science Fiction", "Thriller", "War", "Western",
)
MUSIC_GENRES = (
    "Rock", "Pop", "Electronic", "Jazz", "Hip-Hop", "Classical", "Folk", "Soul",
    "Metal", "Indie", "Blues", "Ambient",
)
COUNTRIES = (
    "United States of America", "United Kingdom", "France", "Germany", "Japan",
    "Canada", "South Korea", "Spain", "Italy", "Australia", "Iceland",
)
GENRE_TAG_BASE = 100
MUSIC_GENRE_TAG_BASE = 300
COUNTRY_TAG_BASE = 500
PERSON_TAG_BASE = 10_000
ROLES_IN_LISTS = 3
CHARACTER_VARIANTS = 4
TAG_FILTERS = {"Genre": "genre", "Country": "country", "Director": "director", "Writer": "writer", "Producer": "producer", "Role": "actor"}
TAG_ELEMENTS = tuple(TAG_FILTERS)
"""The tag elements an item may carry (``Renderer.tags``)."""
ROLE_THUMB = "https://metadata-static.plex.tv/people/{}.jpg"


class VideoProfile(NamedTuple):
    """How one kind of video file looks (``Media`` and its ``Stream``s)."""

    resolution: str
    width: int
    height: int
    aspect_ratio: float
    video_codec: str
    video_profile: str
    frame_rate: str
    audio_codec: str
    audio_channels: int
    audio_bitrate: int
    container: str
    bitrate: int


class AudioProfile(NamedTuple):
    """How one kind of audio file looks."""

    codec: str
    container: str
    bitrate: int
    sampling_rate: int
    bit_depth: int | None


HDR_PROFILE = 0  # the 4K HEVC Main 10 profile below
# Trailers are not items of a section: their ratingKeys are this plus their movie's
# or show's (Plex's ``primaryExtraKey`` names them).
EXTRA_KEY_BASE = 1_000_000_000
VIDEO_PROFILES = (
    VideoProfile("4k", 3840, 2160, 1.78, "hevc", "main 10", "24p", "eac3", 6, 640, "mkv", 26000),
    VideoProfile("1080", 1920, 1080, 1.78, "h264", "high", "24p", "ac3", 6, 448, "mkv", 10500),
    VideoProfile("1080", 1920, 800, 2.40, "hevc", "main", "24p", "dca", 6, 1536, "mkv", 8500),
    VideoProfile("720", 1280, 720, 1.78, "h264", "high", "24p", "aac", 2, 192, "mp4", 4200),
    VideoProfile("sd", 720, 404, 1.78, "h264", "main", "PAL", "aac", 2, 160, "mp4", 1900),
)
TRAILER_PROFILE = 3
AUDIO_PROFILES = (
    AudioProfile("flac", "flac", 980, 44100, 16),
    AudioProfile("mp3", "mp3", 320, 44100, None),
    AudioProfile("aac", "m4a", 256, 44100, None),
)
AUDIO_CODEC_NAMES = {"eac3": "EAC3", "ac3": "AC3", "dca": "DTS", "aac": "AAC", "flac": "FLAC", "mp3": "MP3"}
CHANNEL_LAYOUTS = {2: ("Stereo", "stereo"), 6: ("5.1", "5.1(side)")}
AUDIO_PROFILE_NAMES = {"aac": "lc", "dca": "dts"}
SUBTITLE_LANGUAGES = (("English", "eng", "en"), ("Spanish", "spa", "es"), ("French", "fra", "fr"))
# fmt: on
PHOTO_SIZE = (4032, 3024)
TRAILER_DURATION = 150_000


def stable_hex(*parts: object, length: int = 24) -> str:
    """A deterministic hex string (for guids, uuids, ids) from some values."""
    text = ":".join(str(part) for part in parts)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()[:length]


def stable_uuid(*parts: object) -> str:
    """A deterministic UUID-formatted string."""
    value = stable_hex(*parts, length=32)
    return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"


def sort_title(title: str) -> str:
    """The title Plex sorts by: leading articles dropped."""
    for article in ("The ", "A ", "An "):
        if title.startswith(article) and len(title) > len(article):
            return title[len(article) :]
    return title


def path_safe(text: str) -> str:
    """A title as it would appear in a file name."""
    return text.replace("/", "-").replace(":", " -").replace("?", "")


class SharedNode(Node):
    """A node that many items contain (a tag), rendered once for all of them."""

    __slots__ = ("_obj",)

    def __init__(self, node: Node) -> None:
        super().__init__(node.tag, node.attrs, node.children, json_key=node.json_key)
        self._obj: dict[str, Any] | None = None

    def json_obj(self) -> dict[str, Any]:
        """The JSON-ready dict, computed once."""
        if self._obj is None:
            self._obj = super().json_obj()
        return self._obj


def render_xml(node: Node) -> str:
    """A node as XML text, like ``Node.xml()`` but without caching per node.

    The list rendering of every item goes through here once, so it takes the short
    way for the common value types.
    """
    if isinstance(node, SharedNode):
        return node.xml()
    parts = [f"<{node.tag}"]
    for key, value in node.attrs.items():
        kind = type(value)
        if kind is str:
            parts.append(f' {key}="{value.translate(XML_ESCAPES)}"')
        elif kind is int:
            parts.append(f' {key}="{value}"')
        elif kind is bool:
            parts.append(f' {key}="1"' if value else f' {key}="0"')
        else:
            parts.append(f' {key}="{xml_value(value)}"')
    if not node.children:
        parts.append(" />")
        return "".join(parts)
    parts.append(">")
    parts.extend(render_xml(child) for child in node.children)
    parts.append(f"</{node.tag}>")
    return "".join(parts)


def json_obj(node: Node) -> dict[str, Any]:
    """A node as a JSON-ready dict (shared nodes reuse theirs)."""
    if isinstance(node, SharedNode):
        return node.json_obj()
    obj: dict[str, Any] = dict(node.attrs)
    for key, group in group_by_json_key(node.children).items():
        if key in SINGLE_JSON_CHILDREN and len(group) == 1:
            obj[key] = json_obj(group[0])
        else:
            obj[key] = [json_obj(child) for child in group]
    return obj


def render_json(node: Node) -> str:
    """A node as JSON text, like ``Node.json()`` but without caching per node."""
    return json.dumps(json_obj(node), ensure_ascii=False, separators=(",", ":"))


@dataclass(slots=True)
class Location:
    """A folder on disk that a section scans."""

    id: int
    path: str


class Section:
    """A library section (``/library/sections/{id}``)."""

    __slots__ = (
        "agent",
        "by_kind",
        "collections",
        "content_changed_at",
        "created_at",
        "id",
        "language",
        "location",
        "refreshing",
        "scanned_at",
        "scanner",
        "title",
        "type",
        "updated_at",
        "uuid",
    )

    def __init__(
        self,
        *,
        section_id: int,
        section_type: str,
        title: str,
        agent: str,
        scanner: str,
        location: Location,
        uuid: str,
        created_at: int,
        updated_at: int,
        language: str = "en-US",
    ) -> None:
        self.id = section_id
        self.type = section_type
        self.title = title
        self.agent = agent
        self.scanner = scanner
        self.location = location
        self.uuid = uuid
        self.language = language
        self.created_at = created_at
        self.updated_at = updated_at
        self.scanned_at = updated_at
        self.content_changed_at = updated_at
        self.refreshing = False
        # Every item of the section, per kind, in the order they were added.
        self.by_kind: dict[str, list[Item]] = {
            kind: [] for kind in SECTION_KINDS[section_type]
        }
        self.collections: list[Collection] = []

    def __repr__(self) -> str:
        """A short description for debugging."""
        return f"Section({self.id}, {self.title!r}, {self.type!r})"

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds of item this section holds, top level first."""
        return SECTION_KINDS[self.type]

    @property
    def top_kind(self) -> str:
        """The kind listed by ``/all`` without ``type``."""
        return self.kinds[0]

    @property
    def key(self) -> str:
        """The section's path."""
        return f"/library/sections/{self.id}"

    def top_level(self) -> list[Item]:
        """The items ``/all`` lists by default (photos also show loose photos)."""
        if self.type == "photo":
            loose = [p for p in self.by_kind["photo"] if p.parent is None]
            return self.by_kind["photoalbum"] + loose
        return self.by_kind[self.top_kind]

    def leaves(self) -> list[Item]:
        """Every playable item of the section (``allLeaves``)."""
        return self.by_kind[self.kinds[-1]]

    def node(self) -> Node:
        """The section's ``Directory`` in ``/library/sections``."""
        return Node(
            "Directory",
            {
                "allowSync": self.type != "photo",
                "art": f"/:/resources/{self.type}-fanart.jpg",
                "composite": f"/library/sections/{self.id}/composite/{self.updated_at}",
                "filters": True,
                "refreshing": self.refreshing,
                "thumb": f"/:/resources/{self.type}.png",
                "key": str(self.id),
                "type": self.type,
                "title": self.title,
                "agent": self.agent,
                "scanner": self.scanner,
                "language": self.language,
                "uuid": self.uuid,
                "updatedAt": self.updated_at,
                "createdAt": self.created_at,
                "scannedAt": self.scanned_at,
                "content": True,
                "directory": True,
                "contentChangedAt": self.content_changed_at,
                "hidden": False,
            },
            [Node("Location", {"id": self.location.id, "path": self.location.path})],
        )


class Item:
    """One metadata item. See the module docstring for what is stored and derived."""

    __slots__ = (
        "_json",
        "_xml",
        "added_at",
        "audience_rating",
        "children",
        "collections",
        "content_rating",
        "countries",
        "directors",
        "duration",
        "external_ids",
        "extra",
        "genres",
        "guid_hex",
        "index",
        "kind",
        "last_viewed_at",
        "media_profile",
        "media_size",
        "originally_available_at",
        "parent",
        "producers",
        "rating",
        "rating_key",
        "roles",
        "section",
        "studio",
        "subtitles",
        "summary",
        "tagline",
        "title",
        "title_sort",
        "updated_at",
        "user_rating",
        "view_count",
        "view_offset",
        "writers",
        "year",
    )

    def __init__(
        self,
        rating_key: int,
        kind: str,
        section: Section,
        title: str,
        *,
        parent: Item | None = None,
        added_at: int,
        guid_hex: str,
    ) -> None:
        self.rating_key = rating_key
        self.kind = kind
        self.section = section
        self.title = title
        self.title_sort: str | None = None
        self.parent = parent
        self.children: list[Item] | None = [] if kind in CONTAINER_KINDS else None
        self.index: int | None = None
        self.year: int | None = None
        self.originally_available_at: str | None = None
        self.added_at = added_at
        self.updated_at = added_at
        self.view_count = 0
        self.view_offset = 0
        self.last_viewed_at: int | None = None
        self.duration: int | None = None
        self.summary = ""
        self.tagline: str | None = None
        self.studio: str | None = None
        self.content_rating: str | None = None
        self.rating: float | None = None
        self.audience_rating: float | None = None
        self.user_rating: float | None = None
        self.genres: tuple[int, ...] = ()
        self.countries: tuple[int, ...] = ()
        self.directors: tuple[int, ...] = ()
        self.writers: tuple[int, ...] = ()
        self.producers: tuple[int, ...] = ()
        self.roles: tuple[int, ...] = ()
        self.collections: tuple[int, ...] = ()
        self.guid_hex = guid_hex
        self.external_ids: tuple[int, int, int] | None = None
        self.media_profile = 0
        self.media_size = 0
        self.subtitles = 0
        self.extra: dict[str, Any] | None = None
        self._xml: str | None = None
        self._json: str | None = None

    def __repr__(self) -> str:
        """A short description for debugging."""
        return f"Item({self.rating_key}, {self.kind!r}, {self.title!r})"

    # -- identity ----------------------------------------------------------------------

    @property
    def type_code(self) -> int:
        """Plex's metadata type number."""
        return TYPE_CODES[self.kind]

    @property
    def tag(self) -> str:
        """The XML element name."""
        return TAGS.get(self.kind, "Directory")

    @property
    def key(self) -> str:
        """The item's ``key``: its children for containers, itself for leaves."""
        if self.kind in CONTAINER_KINDS:
            return f"/library/metadata/{self.rating_key}/children"
        return f"/library/metadata/{self.rating_key}"

    @property
    def guid(self) -> str:
        """``plex://<kind>/<24 hex>`` (photos use the local agent)."""
        if self.kind in ("photo", "photoalbum"):
            return f"com.plexapp.agents.none://{self.guid_hex}?lang=xn"
        return f"plex://{self.kind}/{self.guid_hex}"

    @property
    def sort_key(self) -> str:
        """What ``titleSort`` sorts by."""
        return (self.title_sort or sort_title(self.title)).casefold()

    @property
    def thumb(self) -> str:
        """The poster's path (tracks show their album's)."""
        if self.kind == "track" and self.parent is not None:
            return self.parent.thumb
        return f"/library/metadata/{self.rating_key}/thumb/{self.updated_at}"

    @property
    def art(self) -> str:
        """The background's path (children show their top ancestor's)."""
        top = self.top
        return f"/library/metadata/{top.rating_key}/art/{top.updated_at}"

    @property
    def top(self) -> Item:
        """The show / artist / album at the top of this item's tree (or itself)."""
        item = self
        while item.parent is not None:
            item = item.parent
        return item

    def ancestor(self, kind: str) -> Item | None:
        """The ancestor of that kind (or the item itself if it is of that kind)."""
        item: Item | None = self
        while item is not None and item.kind != kind:
            item = item.parent
        return item

    def walk(self) -> Iterator[Item]:
        """The item and every descendant, depth first."""
        yield self
        for child in self.children or ():
            yield from child.walk()

    def leaves(self) -> list[Item]:
        """The playable items under this one (itself for a leaf)."""
        if self.children is None:
            return [self]
        # Depth first, as ``walk`` goes, without a generator per item: a listing
        # of seasons or albums counts every one's leaves.
        found: list[Item] = []
        for child in self.children:
            if child.children is None:
                found.append(child)
            else:
                found.extend(child.leaves())
        return found

    # -- watch state -------------------------------------------------------------------

    @property
    def watched(self) -> bool:
        """A leaf with plays, or a container whose leaves all have plays."""
        if self.children is None:
            return self.view_count > 0
        leaves = self.leaves()
        return bool(leaves) and all(leaf.view_count > 0 for leaf in leaves)

    def leaf_counts(self) -> tuple[int, int]:
        """(leafCount, viewedLeafCount) of a container."""
        leaves = self.leaves()
        return len(leaves), sum(1 for leaf in leaves if leaf.view_count > 0)

    # -- cache -------------------------------------------------------------------------

    def invalidate(self) -> None:
        """Forget the cached renderings of this item and of its ancestors."""
        item: Item | None = self
        while item is not None:
            item._xml = None
            item._json = None
            item = item.parent


class Collection:
    """A collection in a section (``/library/collections/{id}``)."""

    __slots__ = (
        "added_at",
        "content_rating",
        "guid",
        "items",
        "rating_key",
        "section",
        "summary",
        "title",
        "updated_at",
    )

    def __init__(
        self, rating_key: int, section: Section, title: str, *, added_at: int, guid: str
    ) -> None:
        self.rating_key = rating_key
        self.section = section
        self.title = title
        self.guid = guid
        self.summary = ""
        self.content_rating: str | None = None
        self.items: list[Item] = []
        self.added_at = added_at
        self.updated_at = added_at

    def __repr__(self) -> str:
        """A short description for debugging."""
        return f"Collection({self.rating_key}, {self.title!r})"

    @property
    def key(self) -> str:
        """Where the collection's members are listed."""
        return f"/library/collections/{self.rating_key}/children"

    @property
    def thumb(self) -> str:
        """The collection's composite poster."""
        return f"/library/collections/{self.rating_key}/composite/{self.updated_at}"


class Playlist:
    """A playlist of the owner (``/playlists/{id}``)."""

    __slots__ = (
        "added_at",
        "entries",
        "guid",
        "last_viewed_at",
        "playlist_type",
        "rating_key",
        "summary",
        "title",
        "updated_at",
        "view_count",
    )

    def __init__(
        self,
        rating_key: int,
        title: str,
        playlist_type: str,
        *,
        added_at: int,
        guid: str,
    ) -> None:
        self.rating_key = rating_key
        self.title = title
        self.playlist_type = playlist_type
        self.guid = guid
        self.summary = ""
        # (playlistItemID, item) pairs, in order.
        self.entries: list[tuple[int, Item]] = []
        self.added_at = added_at
        self.updated_at = added_at
        self.view_count = 0
        self.last_viewed_at: int | None = None

    def __repr__(self) -> str:
        """A short description for debugging."""
        return f"Playlist({self.rating_key}, {self.title!r})"

    @property
    def key(self) -> str:
        """Where the playlist's items are listed."""
        return f"/playlists/{self.rating_key}/items"

    @property
    def composite(self) -> str:
        """The playlist's composite image."""
        return f"/playlists/{self.rating_key}/composite/{self.updated_at}"

    @property
    def duration(self) -> int:
        """The total duration of its items, in ms."""
        return sum(item.duration or 0 for _, item in self.entries)


class Renderer:
    """Builds the ``Node`` of any library object, the way Plex renders it.

    ``people`` names the persons (actors, directors, writers) that items refer to by
    index; ``tag_counts`` are the ``count`` attributes of genre / person tags.
    """

    def __init__(self, people: list[str], tag_counts: dict[int, int]) -> None:
        self.people = people
        self.tag_counts = tag_counts
        self._shared: dict[tuple[str, int, int], SharedNode] = {}

    # -- cached list renderings --------------------------------------------------------

    def list_xml(self, item: Item) -> str:
        """The item's element as it appears in lists (cached on the item)."""
        if item._xml is None:
            item._xml = render_xml(self.node(item, shared=True))
        return item._xml

    def list_json(self, item: Item) -> str:
        """The item's JSON object as it appears in lists (cached on the item)."""
        if item._json is None:
            item._json = render_json(self.node(item, shared=True))
        return item._json

    def prerender(self, item: Item) -> None:
        """Render and cache both list forms of an item from one node."""
        if item._xml is None or item._json is None:
            node = self.node(item, shared=True)
            item._xml = render_xml(node)
            item._json = render_json(node)

    # -- nodes -------------------------------------------------------------------------

    def node(
        self,
        item: Item,
        *,
        detail: bool = False,
        guids: bool = False,
        shared: bool = False,
        streams: bool = False,
        shape: ResponseShape | None = None,
    ) -> Node:
        """A ``Node`` for the item.

        ``detail`` adds what ``/library/metadata/{id}`` shows beyond lists (streams,
        every tag, ``Location`` of shows); ``streams`` adds only the streams of
        videos (lists of one parent, ``children_20.xml``); ``guids`` adds the ``Guid`` children that ``includeGuids=1`` asks for. With
        ``shared`` the tag children are nodes shared with other items (rendered once;
        never change them); without it every node is the caller's own. ``shape``
        trims it as the request asked (``shaping``).
        """
        attrs = None
        if shape is not None and shape.include_fields is not None:
            attrs = self.named_attrs(item, shape.include_fields)
        if attrs is None:
            attrs = self.attrs(item)
        keep = _keep_every if shape is None else shape.keeps_element
        video = item.kind in ("movie", "episode")
        # Elements a shape leaves off are not built at all: a trimmed answer
        # costs less, as Plex says it does.
        children = (
            self.media(item, detail=detail or (streams and video))
            if keep("Media")
            else []
        )
        if shape is None or shape.keeps_any_element(TAG_ELEMENTS):
            tags = self.tags(item, detail=detail, shared=shared)
            children += tags if shape is None else [n for n in tags if keep(n.tag)]
        if guids and keep("Guid"):
            children += self.guid_nodes(item)
        if detail and item.kind in ("show", "artist") and keep("Location"):
            children.append(Node("Location", {"path": self.folder(item)}))
        if shape is not None:
            attrs = shape.fields(attrs)
        return Node(item.tag, attrs, children, json_key="Metadata")

    def named_attrs(self, item: Item, names: frozenset[str]) -> dict[str, Any] | None:
        """The named attributes alone, as ``attrs`` has them, without the others.

        For the few fields that keys-and-stamps listings ask for (``QUICK_FIELDS``):
        building every attribute of an item (its relatives' titles, images...) to
        keep one would make a trimmed answer dearer than the whole one, where Plex
        says trimming is what makes it cheap. ``None`` when a name is not one of
        them, or the item has extra attributes: then ``attrs`` it is.
        """
        if item.extra:
            return None
        plan = _quick_plan(names)
        if plan is None:
            return None
        groups, order = plan
        found: dict[str, Any] = {}
        for group in groups:
            found.update(group(self, item))
        return {name: value for name in order if (value := found.get(name)) is not None}

    def attrs(self, item: Item) -> dict[str, Any]:
        """The attributes of an item, in Plex's order."""
        attrs: dict[str, Any] = {
            "ratingKey": str(item.rating_key),
            "key": item.key,
            **self.family_attrs(item, "rating_key"),
            "guid": item.guid,
            **self.family_attrs(item, "guid"),
            "studio": item.studio,
            "type": TYPE_ATTR.get(item.kind, item.kind),
            "title": item.title,
            "titleSort": item.title_sort,
            **self.family_attrs(item, "key"),
            "librarySectionTitle": item.section.title,
            "librarySectionID": item.section.id,
            "librarySectionKey": item.section.key,
            **self.family_attrs(item, "title"),
            "contentRating": item.content_rating,
            "summary": item.summary,
            "index": item.index,
            **self.family_attrs(item, "index"),
            "rating": item.rating,
            "audienceRating": item.audience_rating,
            "userRating": item.user_rating,
            **self.view_attrs(item),
            "year": item.year,
            "tagline": item.tagline,
            "thumb": item.thumb,
            "art": item.art,
            **self.family_attrs(item, "images"),
            "duration": item.duration,
            "originallyAvailableAt": item.originally_available_at,
            **self.count_attrs(item),
            "addedAt": item.added_at,
            "updatedAt": item.updated_at,
            **self.kind_attrs(item),
        }
        if item.extra:
            attrs.update(item.extra)
        return attrs

    @staticmethod
    def family_attrs(item: Item, what: str) -> dict[str, Any]:
        """parent* / grandparent* attributes of one group (``what``)."""
        parent = item.parent
        if parent is None:
            return {}
        grandparent = parent.parent
        attrs: dict[str, Any] = {}
        for prefix, relative in (("parent", parent), ("grandparent", grandparent)):
            if relative is None:
                continue
            if what == "rating_key":
                attrs[f"{prefix}RatingKey"] = str(relative.rating_key)
            elif what == "guid":
                attrs[f"{prefix}Guid"] = relative.guid
            elif what == "key":
                attrs[f"{prefix}Key"] = f"/library/metadata/{relative.rating_key}"
            elif what == "title":
                attrs[f"{prefix}Title"] = relative.title
            elif what == "index" and prefix == "parent" and relative.index is not None:
                attrs[f"{prefix}Index"] = relative.index
            elif what == "images":
                attrs[f"{prefix}Thumb"] = relative.thumb
                if prefix == "grandparent" or relative.parent is None:
                    attrs[f"{prefix}Art"] = relative.art
                if relative.kind == "show":
                    attrs[f"{prefix}Theme"] = (
                        f"/library/metadata/{relative.rating_key}/theme/{relative.updated_at}"
                    )
        if what == "images" and item.kind == "episode" and parent.year is not None:
            attrs["parentYear"] = parent.year
        return attrs

    @staticmethod
    def view_attrs(item: Item) -> dict[str, Any]:
        """ViewCount / viewOffset / lastViewedAt, present only once an item was played."""
        if item.children is not None:
            plays = sum(leaf.view_count for leaf in item.leaves())
            last = max((leaf.last_viewed_at or 0 for leaf in item.leaves()), default=0)
            return {"viewCount": plays or None, "lastViewedAt": last or None}
        return {
            "viewCount": item.view_count or None,
            "viewOffset": item.view_offset or None,
            "lastViewedAt": item.last_viewed_at,
        }

    @staticmethod
    def count_attrs(item: Item) -> dict[str, Any]:
        """ChildCount / leafCount / viewedLeafCount of containers."""
        if item.children is None or item.kind == "photoalbum":
            return {}
        leaf_count, viewed = item.leaf_counts()
        attrs: dict[str, Any] = {}
        if item.kind in ("show", "artist"):
            attrs["childCount"] = len(item.children)
        attrs["leafCount"] = leaf_count
        attrs["viewedLeafCount"] = viewed
        return attrs

    @staticmethod
    def kind_attrs(item: Item) -> dict[str, Any]:
        """Attributes only some kinds have."""
        rk, stamp = item.rating_key, item.updated_at
        match item.kind:
            case "movie":
                return {
                    "primaryExtraKey": f"/library/metadata/{EXTRA_KEY_BASE + rk}",
                    "audienceRatingImage": "rottentomatoes://image.rating.upright",
                    "chapterSource": "media",
                    "ratingImage": "rottentomatoes://image.rating.ripe",
                }
            case "show":
                return {
                    "primaryExtraKey": f"/library/metadata/{EXTRA_KEY_BASE + rk}",
                    "banner": f"/library/metadata/{rk}/banner/{stamp}",
                    "theme": f"/library/metadata/{rk}/theme/{stamp}",
                }
            case "episode":
                return {
                    "audienceRatingImage": "themoviedb://image.rating",
                    "chapterSource": "media",
                }
            case "album":
                return {"loudnessAnalysisVersion": 2}
            case "photo":
                return {"createdAtAccuracy": "local", "createdAtTZOffset": 0}
            case "photoalbum":
                return {"composite": f"/library/metadata/{rk}/composite/{stamp}"}
        return {}

    # -- children ----------------------------------------------------------------------

    def media(self, item: Item, *, detail: bool) -> list[Node]:
        """``Media`` > ``Part`` (> ``Stream`` in details) of a leaf."""
        if item.kind in ("movie", "episode"):
            return [self.video_media(item, detail=detail)]
        if item.kind == "track":
            return [self.audio_media(item, detail=detail)]
        if item.kind == "photo":
            return [self.photo_media(item)]
        return []

    def video_media(self, item: Item, *, detail: bool) -> Node:
        """A video's ``Media`` element."""
        streams = (
            self.video_streams(item.rating_key, item.subtitles, item.media_profile)
            if detail
            else []
        )
        return self._video_media(
            item.rating_key,
            profile=VIDEO_PROFILES[item.media_profile],
            duration=item.duration or 0,
            size=item.media_size,
            stamp=item.added_at,
            file=self.file(item),
            streams=streams,
        )

    @staticmethod
    def _video_media(
        media_id: int,
        *,
        profile: VideoProfile,
        duration: int,
        size: int,
        stamp: int,
        file: str,
        streams: list[Node],
    ) -> Node:
        audio_profile = AUDIO_PROFILE_NAMES.get(profile.audio_codec)
        part = Node(
            "Part",
            {
                "id": media_id,
                "key": f"/library/parts/{media_id}/{stamp}/file.{profile.container}",
                "duration": duration,
                "file": file,
                "size": size,
                "audioProfile": audio_profile,
                "container": profile.container,
                "has64bitOffsets": False,
                "optimizedForStreaming": profile.container == "mp4",
                "videoProfile": profile.video_profile,
            },
            streams,
        )
        return Node(
            "Media",
            {
                "id": media_id,
                "duration": duration,
                "bitrate": profile.bitrate,
                "width": profile.width,
                "height": profile.height,
                "aspectRatio": profile.aspect_ratio,
                "audioChannels": profile.audio_channels,
                "audioCodec": profile.audio_codec,
                "videoCodec": profile.video_codec,
                "videoResolution": profile.resolution,
                "container": profile.container,
                "videoFrameRate": profile.frame_rate,
                "audioProfile": audio_profile,
                "videoProfile": profile.video_profile,
                "has64bitOffsets": False,
                "optimizedForStreaming": profile.container == "mp4",
            },
            [part],
        )

    @staticmethod
    def video_streams(media_id: int, subtitles: int, profile_index: int) -> list[Node]:
        """The video, audio and subtitle ``Stream``s of a video."""
        profile = VIDEO_PROFILES[profile_index]
        base = media_id * 10
        video_bitrate = profile.bitrate - profile.audio_bitrate
        codec_name = {"h264": "H.264", "hevc": "HEVC"}[profile.video_codec]
        height_label = {"4k": "4K", "sd": "SD"}.get(
            profile.resolution, f"{profile.resolution}p"
        )
        layout_name, layout = CHANNEL_LAYOUTS[profile.audio_channels]
        audio_title = f"{AUDIO_CODEC_NAMES[profile.audio_codec]} {layout_name}"
        streams = [
            Node(
                "Stream",
                {
                    "id": base,
                    "streamType": 1,
                    "default": True,
                    "codec": profile.video_codec,
                    "index": 0,
                    "bitrate": video_bitrate,
                    "language": "English",
                    "languageCode": "eng",
                    "languageTag": "en",
                    "bitDepth": 10 if profile.video_profile == "main 10" else 8,
                    "chromaLocation": "left",
                    "chromaSubsampling": "4:2:0",
                    "codedHeight": profile.height,
                    "codedWidth": profile.width,
                    "frameRate": 25.0 if profile.frame_rate == "PAL" else 23.976,
                    "hasScalingMatrix": False,
                    "height": profile.height,
                    "level": 51 if profile.resolution == "4k" else 41,
                    "profile": profile.video_profile,
                    "refFrames": 4,
                    "scanType": "progressive",
                    "width": profile.width,
                    "displayTitle": f"{height_label} ({codec_name})",
                    "extendedDisplayTitle": f"{height_label} ({codec_name})",
                },
            ),
            Node(
                "Stream",
                {
                    "id": base + 1,
                    "streamType": 2,
                    "selected": True,
                    "default": True,
                    "codec": profile.audio_codec,
                    "index": 1,
                    "channels": profile.audio_channels,
                    "bitrate": profile.audio_bitrate,
                    "language": "English",
                    "languageCode": "eng",
                    "languageTag": "en",
                    "audioChannelLayout": layout,
                    "profile": AUDIO_PROFILE_NAMES.get(profile.audio_codec),
                    "samplingRate": 48000,
                    "title": "Surround" if profile.audio_channels > 2 else "Stereo",
                    "displayTitle": f"English ({audio_title})",
                    "extendedDisplayTitle": f"Surround (English {audio_title})"
                    if profile.audio_channels > 2
                    else f"Stereo (English {audio_title})",
                },
            ),
        ]
        for offset, (language, code, tag) in enumerate(SUBTITLE_LANGUAGES[:subtitles]):
            streams.append(
                Node(
                    "Stream",
                    {
                        "id": base + 2 + offset,
                        "streamType": 3,
                        "default": offset == 0 or None,
                        "codec": "srt",
                        "index": 2 + offset,
                        "language": language,
                        "languageCode": code,
                        "languageTag": tag,
                        "displayTitle": f"{language} (SRT)",
                        "extendedDisplayTitle": f"{language} (SRT)",
                    },
                )
            )
        return streams

    def audio_media(self, item: Item, *, detail: bool) -> Node:
        """A track's ``Media`` element."""
        profile = AUDIO_PROFILES[item.media_profile]
        rk, duration = item.rating_key, item.duration or 0
        streams = []
        if detail:
            streams.append(
                Node(
                    "Stream",
                    {
                        "id": rk * 10,
                        "streamType": 2,
                        "selected": True,
                        "codec": profile.codec,
                        "index": 0,
                        "channels": 2,
                        "bitrate": profile.bitrate,
                        "audioChannelLayout": "stereo",
                        "bitDepth": profile.bit_depth,
                        "samplingRate": profile.sampling_rate,
                        **self.loudness(item),
                        "displayTitle": f"{AUDIO_CODEC_NAMES[profile.codec]} (Stereo)",
                        "extendedDisplayTitle": f"{AUDIO_CODEC_NAMES[profile.codec]} (Stereo)",
                    },
                )
            )
        part = Node(
            "Part",
            {
                "id": rk,
                "key": f"/library/parts/{rk}/{item.added_at}/file.{profile.container}",
                "duration": duration,
                "file": self.file(item),
                "size": item.media_size,
                "container": profile.container,
                "hasThumbnail": True,
            },
            streams,
        )
        return Node(
            "Media",
            {
                "id": rk,
                "duration": duration,
                "bitrate": profile.bitrate,
                "audioChannels": 2,
                "audioCodec": profile.codec,
                "container": profile.container,
            },
            [part],
        )

    @staticmethod
    def loudness(track: Item) -> dict[str, Any]:
        """The loudness analysis of a track (its album has ``loudnessAnalysisVersion``)."""
        album = track.parent.rating_key if track.parent is not None else 0
        return {
            "albumGain": -round(6 + album % 40 / 10, 2),
            "albumPeak": round(0.9 + album % 10 / 100, 6),
            "albumRange": round(4 + album % 30 / 10, 6),
            "gain": -round(5 + track.rating_key % 50 / 10, 2),
            "loudness": -round(9 + track.rating_key % 50 / 10, 2),
            "lra": round(3 + track.rating_key % 40 / 10, 2),
            "peak": round(0.85 + track.rating_key % 15 / 100, 6),
        }

    def photo_media(self, item: Item) -> Node:
        """A photo's ``Media`` element."""
        rk = item.rating_key
        width, height = PHOTO_SIZE
        part = Node(
            "Part",
            {
                "id": rk,
                "key": f"/library/parts/{rk}/{item.added_at}/file.jpg",
                "file": self.file(item),
                "size": item.media_size,
                "container": "jpeg",
            },
        )
        return Node(
            "Media",
            {
                "id": rk,
                "width": width,
                "height": height,
                "aspectRatio": round(width / height, 2),
                "container": "jpeg",
            },
            [part],
        )

    def tags(self, item: Item, *, detail: bool, shared: bool = False) -> list[Node]:
        """Genre / Country / Director / Writer / Producer / Role tags (fewer in lists)."""
        make = self.shared_tag if shared else self.tag_node
        genre_base = (
            MUSIC_GENRE_TAG_BASE if item.section.type == "artist" else GENRE_TAG_BASE
        )
        genres = item.genres if detail else item.genres[:2]
        if item.kind == "album" and not detail:
            genres = ()  # album lists carry no tags (children_300.xml)
        refs = [("Genre", genre_base + genre, 0) for genre in genres]
        if item.kind != "show":  # shows carry none (media_30.xml)
            refs += [
                ("Country", COUNTRY_TAG_BASE + country, 0) for country in item.countries
            ]
        refs += [("Director", PERSON_TAG_BASE + person, 0) for person in item.directors]
        refs += [("Writer", PERSON_TAG_BASE + person, 0) for person in item.writers]
        refs += [("Producer", PERSON_TAG_BASE + person, 0) for person in item.producers]
        roles = item.roles if detail else item.roles[:ROLES_IN_LISTS]
        refs += [
            (
                "Role",
                PERSON_TAG_BASE + person,
                (item.rating_key + position) % CHARACTER_VARIANTS,
            )
            for position, person in enumerate(roles)
        ]
        return [make(tag, tag_id, variant) for tag, tag_id, variant in refs]

    def shared_tag(self, tag: str, tag_id: int, variant: int) -> Node:
        """The one shared node of a tag (see ``node(shared=True)``)."""
        key = (tag, tag_id, variant)
        node = self._shared.get(key)
        if node is None:
            node = self._shared[key] = SharedNode(self.tag_node(tag, tag_id, variant))
        return node

    def tag_node(self, tag: str, tag_id: int, variant: int) -> Node:
        """One tag element, with the ``filter`` that finds its other items."""
        filter_name, name = self.tag_name(tag, tag_id)
        attrs: dict[str, Any] = {
            "id": tag_id,
            "filter": f"{filter_name}={tag_id}",
            "tag": name,
            "count": self.tag_counts.get(tag_id),
        }
        if tag == "Role":
            person = tag_id - PERSON_TAG_BASE
            character = self.people[(person * 7 + variant * 13 + 1) % len(self.people)]
            attrs["role"] = character.split(" ")[0]
            attrs["thumb"] = ROLE_THUMB.format(stable_hex("person", person))
        return Node(tag, attrs)

    def tag_name(self, tag: str, tag_id: int) -> tuple[str, str]:
        """(filter field, display name) of a tag id."""
        if tag == "Genre":
            if tag_id >= MUSIC_GENRE_TAG_BASE:
                return "genre", MUSIC_GENRES[tag_id - MUSIC_GENRE_TAG_BASE]
            return "genre", GENRES[tag_id - GENRE_TAG_BASE]
        if tag == "Country":
            return "country", COUNTRIES[tag_id - COUNTRY_TAG_BASE]
        return TAG_FILTERS[tag], self.people[tag_id - PERSON_TAG_BASE]

    @staticmethod
    def guid_nodes(item: Item) -> list[Node]:
        """The ``Guid`` children (imdb / tmdb / tvdb) of ``includeGuids=1``."""
        if item.external_ids is None:
            return []
        imdb, tmdb, tvdb = item.external_ids
        ids = []
        if imdb:
            ids.append(f"imdb://tt{imdb:07d}")
        if tmdb:
            ids.append(f"tmdb://{tmdb}")
        if tvdb:
            ids.append(f"tvdb://{tvdb}")
        return [Node("Guid", {"id": value}) for value in ids]

    # -- trailers ----------------------------------------------------------------------

    def extra_node(self, owner: Item) -> Node:
        """The trailer (``primaryExtraKey``) of a movie or show: a ``clip`` Video."""
        rating_key = EXTRA_KEY_BASE + owner.rating_key
        file = f"{self.folder(owner)}/Trailer-trailer.mp4"
        if owner.kind == "movie":
            file = f"{self.file(owner).rsplit('/', 1)[0]}/Trailer-trailer.mp4"
        profile = VIDEO_PROFILES[TRAILER_PROFILE]
        media = self._video_media(
            rating_key,
            profile=profile,
            duration=TRAILER_DURATION,
            size=profile.bitrate * TRAILER_DURATION // 8,
            stamp=owner.added_at,
            file=file,
            streams=[],
        )
        return Node(
            "Video",
            {
                "ratingKey": str(rating_key),
                "key": f"/library/metadata/{rating_key}",
                "guid": f"plex://clip/{stable_hex('trailer', owner.guid_hex)}",
                "type": "clip",
                "title": "Official Trailer",
                "librarySectionTitle": owner.section.title,
                "librarySectionID": owner.section.id,
                "librarySectionKey": owner.section.key,
                "summary": "",
                "index": 1,
                "year": owner.year,
                "thumb": f"/library/metadata/{rating_key}/thumb/{owner.updated_at}",
                "subtype": "trailer",
                "duration": TRAILER_DURATION,
                "addedAt": owner.added_at,
                "updatedAt": owner.updated_at,
                "extraType": 1,
            },
            [media],
            json_key="Metadata",
        )

    # -- files -------------------------------------------------------------------------

    def folder(self, item: Item) -> str:
        """The folder of a show, artist, album or photo album."""
        root = item.section.location.path
        match item.kind:
            case "show":
                return f"{root}/{path_safe(item.title)} ({item.year})"
            case "artist":
                return f"{root}/{path_safe(item.title)}"
            case "album":
                assert item.parent is not None
                return (
                    f"{self.folder(item.parent)}/{path_safe(item.title)} ({item.year})"
                )
            case "season":
                assert item.parent is not None
                return f"{self.folder(item.parent)}/Season {item.index:02d}"
        return f"{root}/{path_safe(item.title)}"

    def file(self, item: Item) -> str:
        """The file of a leaf, laid out the way Plex's naming guides ask."""
        root = item.section.location.path
        match item.kind:
            case "movie":
                name = f"{path_safe(item.title)} ({item.year})"
                extension = VIDEO_PROFILES[item.media_profile].container
                return f"{root}/{name}/{name}.{extension}"
            case "episode":
                season = item.parent
                assert season is not None and season.parent is not None
                show = season.parent
                extension = VIDEO_PROFILES[item.media_profile].container
                return (
                    f"{self.folder(season)}/{path_safe(show.title)} ({show.year}) - "
                    f"s{season.index:02d}e{item.index:02d} - {path_safe(item.title)}.{extension}"
                )
            case "track":
                assert item.parent is not None
                extension = AUDIO_PROFILES[item.media_profile].container
                return f"{self.folder(item.parent)}/{item.index:02d} - {path_safe(item.title)}.{extension}"
        folder = self.folder(item.parent) if item.parent is not None else root
        return f"{folder}/{path_safe(item.title)}.jpg"

    # -- collections and playlists ---------------------------------------------------------

    @staticmethod
    def collection_node(collection: Collection) -> Node:
        """A collection's ``Directory``."""
        years = [item.year for item in collection.items if item.year]
        section = collection.section
        return Node(
            "Directory",
            {
                "ratingKey": str(collection.rating_key),
                "key": collection.key,
                "guid": collection.guid,
                "type": "collection",
                "title": collection.title,
                "librarySectionTitle": section.title,
                "librarySectionID": section.id,
                "librarySectionKey": section.key,
                "contentRating": collection.content_rating,
                "subtype": section.top_kind,
                "summary": collection.summary,
                "index": collection.rating_key,
                "ratingCount": len(collection.items),
                "thumb": collection.thumb,
                "addedAt": collection.added_at,
                "updatedAt": collection.updated_at,
                "childCount": len(collection.items),
                "maxYear": max(years, default=None),
                "minYear": min(years, default=None),
            },
            json_key="Metadata",
        )

    @staticmethod
    def playlist_node(playlist: Playlist) -> Node:
        """A playlist's ``Playlist`` element."""
        return Node(
            "Playlist",
            {
                "ratingKey": str(playlist.rating_key),
                "key": playlist.key,
                "guid": playlist.guid,
                "type": "playlist",
                "title": playlist.title,
                "summary": playlist.summary,
                "smart": False,
                "playlistType": playlist.playlist_type,
                "composite": playlist.composite,
                "viewCount": playlist.view_count or None,
                "lastViewedAt": playlist.last_viewed_at,
                "duration": playlist.duration,
                "leafCount": len(playlist.entries),
                "addedAt": playlist.added_at,
                "updatedAt": playlist.updated_at,
            },
        )


def _keep_every(_tag: str) -> bool:
    return True


def _own_attrs(_renderer: Renderer, item: Item) -> dict[str, Any]:
    return {
        "ratingKey": str(item.rating_key),
        "addedAt": item.added_at,
        "updatedAt": item.updated_at,
    }


def _family_keys(renderer: Renderer, item: Item) -> dict[str, Any]:
    return renderer.family_attrs(item, "rating_key")


def _views(renderer: Renderer, item: Item) -> dict[str, Any]:
    return renderer.view_attrs(item)


def _counts(renderer: Renderer, item: Item) -> dict[str, Any]:
    return renderer.count_attrs(item)


QUICK_FIELDS: dict[str, Callable[[Renderer, Item], dict[str, Any]]] = {
    "ratingKey": _own_attrs,
    "parentRatingKey": _family_keys,
    "grandparentRatingKey": _family_keys,
    "viewCount": _views,
    "viewOffset": _views,
    "lastViewedAt": _views,
    "childCount": _counts,
    "leafCount": _counts,
    "viewedLeafCount": _counts,
    "addedAt": _own_attrs,
    "updatedAt": _own_attrs,
}
"""The attributes ``Renderer.named_attrs`` builds alone, and the group that has each."""
QUICK_ORDER = tuple(QUICK_FIELDS)
"""Their order in ``Renderer.attrs``."""


@functools.cache
def _quick_plan(
    names: frozenset[str],
) -> (
    tuple[tuple[Callable[[Renderer, Item], dict[str, Any]], ...], tuple[str, ...]]
    | None
):
    """The groups to build for these names, and the names in order (``None``: not quick)."""
    if not names <= QUICK_FIELDS.keys():
        return None
    order = tuple(name for name in QUICK_ORDER if name in names)
    return tuple(dict.fromkeys(QUICK_FIELDS[name] for name in order)), order
