"""Browse, search and resolve Plex media for the media players.

Media ids
---------
Browse and search hand out ``plex_bridge://<server machine id>/<path>``, each part
of the path percent-quoted (``#`` is ``%23``):

==========================================  =========================================
path                                        what it is
==========================================  =========================================
(empty)                                     the server: On Deck, Recently Added,
                                            every library, Playlists
``on_deck``                                 On Deck (its items resume)
``recently_added``                          Recently Added
``playlists``                               every playlist
``playlist/<ratingKey>``                    a playlist (playable)
``section/<key>``                           a library: its items when it is small,
                                            else By genre, By decade, Collections
                                            and one folder per first character
``section/<key>/letter/<char>[/<page>]``    the titles that start with a character
``section/<key>/genre[/<id>[/<page>]]``     a library's genres; one genre's titles
``section/<key>/decade[/<year>[/<page>]]``  a library's decades; one decade's titles
``section/<key>/collections``               a library's collections
``collection/<ratingKey>``                  a collection's items
``item/<ratingKey>``                        an item (playable): movie, show, season,
                                            episode, artist, album, track, photo ...
``search[/<text>]``                         Search: the library mirror's answers to
                                            ``<text>`` (the node itself is searchable)
==========================================  =========================================

``item/`` and ``playlist/`` ids are playable and may carry ``?resume=1``,
``?shuffle=1`` or ``?offset=<seconds>``; the others are folders. No node lists more
than ``PAGE_SIZE`` children: a longer listing becomes numbered pages (``<page>``,
from 0).

Large libraries
---------------
A library of more than ``SMALL_LIBRARY`` titles opens as Plex's own apps show it:
``/library/sections/<key>/firstCharacter`` gives each first character with its count,
in the library's title order, so a letter is the slice of
``/library/sections/<key>/all?sort=titleSort`` that the counts before it skip (the
jump bar of Plex's apps works the same way). Genres and decades are Plex filters:
``/all?genre=<id>`` and ``/all?decade=<year>``. Opening a library of any size costs
a handful of small requests, never a list of every item.

The library mirror
------------------
Once the mirror has finished its first sync, ``search_media`` (what voice "play X
on Y" uses), the Search entry and the titles ``play_media`` looks up are answered
from the mirror, in milliseconds and with its ranking (exact, prefix, word, typo).
Until then, and for libraries the mirror leaves out, the server is asked.

What ``play_media`` accepts
---------------------------
- a rating key (``"1"``) or one of the ids above;
- a title (``"The Matrix"``): the best exact match the server's search finds;
- a JSON object (optionally after ``plex://`` or ``plex_bridge://``) with
  ``library``, ``title``, ``show``, ``season``, ``episode``, ``artist``, ``album``,
  ``track``, ``playlist``, ``key``, and ``shuffle``, ``resume`` (start at the
  item's saved position) and ``offset`` (seconds). Home Assistant's Plex names
  (``library_name``, ``show_name``, ``season_number``, ``episode_number``,
  ``episode_name``, ``artist_name``, ``album_name``, ``track_name``,
  ``track_number``, ``playlist_name``, ``video_name``, ``plex_key``) are accepted
  too. Titles match exactly, ignoring case and accents; ``season``, ``episode`` and
  ``track`` are numbers (the index) or titles.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
import re
from typing import TYPE_CHECKING, Any, Final
import unicodedata
from urllib.parse import parse_qsl, quote, unquote, urlencode

from homeassistant.components.media_player.browse_media import (
    BrowseMedia,
    SearchMedia,
    SearchMediaQuery,
)
from homeassistant.components.media_player.const import MediaClass
from homeassistant.components.media_player.errors import BrowseError
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.util.json import json_loads

from .api import MediaItem, PlexClient, PlexError, PlexNotFoundError, Section
from .api.models import Page
from .const import DOMAIN, URI_SCHEME
from .library_mirror import item_full_title

if TYPE_CHECKING:
    from . import PlexBridgeConfigEntry
    from .library_mirror import PlexMirror
    from .mirror.store import MirrorItem

type ImageUrl = Callable[[str, str, str | None], str]

PAGE_SIZE: Final = 200
"""The most children one node lists; longer listings are split into pages."""
SMALL_LIBRARY: Final = 200
"""A library with at most this many titles lists them at once."""
LIST_LIMIT: Final = 50
"""How many items On Deck and Recently Added show."""
SEARCH_LIMIT: Final = 10
"""Results per kind that ``search_media`` asks the server for."""
RESOLVE_LIMIT: Final = 30
"""Results per kind read when a title is looked up for ``play_media``."""
TITLE_SORT: Final = "titleSort"

PREFIX: Final = f"{URI_SCHEME}://"

# Browse node content types (items use their Plex type: movie, show, episode ...).
TYPE_SERVER: Final = "server"
TYPE_ON_DECK: Final = "on_deck"
TYPE_RECENTLY_ADDED: Final = "recently_added"
TYPE_PLAYLISTS: Final = "playlists"
TYPE_LIBRARY: Final = "library"
TYPE_LETTER: Final = "letter"
TYPE_GENRES: Final = "genres"
TYPE_GENRE: Final = "genre"
TYPE_DECADES: Final = "decades"
TYPE_DECADE: Final = "decade"
TYPE_COLLECTIONS: Final = "collections"
TYPE_PAGE: Final = "page"
TYPE_SEARCH: Final = "search"
MIRROR_SEARCH_LIMIT: Final = 25
"""Results the mirror gives ``search_media`` and the Search entry."""

ITEM_CLASSES: Final[Mapping[str, MediaClass]] = {
    "movie": MediaClass.MOVIE,
    "show": MediaClass.TV_SHOW,
    "season": MediaClass.SEASON,
    "episode": MediaClass.EPISODE,
    "artist": MediaClass.ARTIST,
    "album": MediaClass.ALBUM,
    "track": MediaClass.TRACK,
    "photoalbum": MediaClass.DIRECTORY,
    "photo": MediaClass.IMAGE,
    "clip": MediaClass.VIDEO,
    "playlist": MediaClass.PLAYLIST,
    "collection": MediaClass.DIRECTORY,
}
# What a library of each type lists at its top level.
SECTION_CLASSES: Final[Mapping[str, MediaClass]] = {
    "movie": MediaClass.MOVIE,
    "show": MediaClass.TV_SHOW,
    "artist": MediaClass.ARTIST,
    "photo": MediaClass.IMAGE,
}
# The kinds of item each type of library holds, top level first.
SECTION_KINDS: Final[Mapping[str, tuple[str, ...]]] = {
    "movie": ("movie",),
    "show": ("show", "season", "episode"),
    "artist": ("artist", "album", "track"),
    "photo": ("photoalbum", "photo"),
}
# The filters each type of library is browsed by besides first characters.
SECTION_FILTERS: Final[Mapping[str, tuple[str, ...]]] = {
    "movie": (TYPE_GENRE, TYPE_DECADE),
    "show": (TYPE_GENRE, TYPE_DECADE),
    "artist": (TYPE_GENRE,),
}
EXPANDABLE: Final = frozenset(
    {"show", "season", "artist", "album", "photoalbum", "playlist", "collection"}
)
NOT_PLAYABLE: Final = frozenset({"collection"})
# Results that search may offer (the first one is played by the voice intent).
SEARCHABLE: Final = (
    "movie",
    "show",
    "artist",
    "album",
    "track",
    "episode",
    "playlist",
    "season",
    "clip",
    "photoalbum",
    "photo",
)
# Home Assistant media types (and Home Assistant's Plex's upper-case ones, lowered)
# as the Plex kinds they name.
MEDIA_TYPE_KINDS: Final[Mapping[str, tuple[str, ...]]] = {
    "movie": ("movie",),
    "video": ("movie", "episode", "clip"),
    "episode": ("episode",),
    "tvshow": ("show",),
    "tv_show": ("show",),
    "show": ("show",),
    "season": ("season",),
    "music": ("artist", "album", "track"),
    "artist": ("artist",),
    "album": ("album",),
    "track": ("track",),
    "playlist": ("playlist",),
    "image": ("photo",),
    "photo": ("photo",),
}
# The kinds of item the library mirror holds.
MIRROR_KINDS: Final = frozenset(
    {
        "movie",
        "show",
        "season",
        "episode",
        "artist",
        "album",
        "track",
        "photoalbum",
        "photo",
    }
)
# What a bare title is looked up as, best first.
TITLE_KINDS: Final = ("movie", "show", "artist", "album", "track", "episode")

# Payload keys, and Home Assistant's Plex's names for them.
PAYLOAD_KEYS: Final = frozenset(
    {
        "key",
        "library",
        "title",
        "show",
        "season",
        "episode",
        "artist",
        "album",
        "track",
        "playlist",
        "shuffle",
        "resume",
        "offset",
    }
)
PAYLOAD_ALIASES: Final[Mapping[str, str]] = {
    "plex_key": "key",
    "library_name": "library",
    "video_name": "title",
    "show_name": "show",
    "season_number": "season",
    "episode_number": "episode",
    "episode_name": "episode",
    "artist_name": "artist",
    "album_name": "album",
    "track_name": "track",
    "track_number": "track",
    "playlist_name": "playlist",
}
# Keys of Home Assistant's Plex that mean nothing for one server's entry.
IGNORED_KEYS: Final = frozenset({"plex_server"})

# The server's own image paths (``thumb``, ``art``, ``composite`` ...): the only
# paths the image proxy fetches, so that it can never be used to read anything else.
# Only the picture kinds of an item (not ``children``, ``similar`` ..., which are
# metadata the proxy must not hand out), ASCII digits only (``\d`` would take other
# scripts' digits too), and resource names that are neither dot segments nor
# hidden files.
IMAGE_PATH: Final = re.compile(
    r"/(?:library/metadata/[0-9]+/(?:thumb|art|banner|clearLogo|composite)(?:/[0-9]+)?"
    r"|library/(?:collections|sections)/[0-9]+/composite/[0-9]+"
    r"|playlists/[0-9]+/composite/[0-9]+"
    r"|:/resources/[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)",
    re.ASCII,
)


@dataclass(frozen=True, slots=True)
class ResolvedMedia:
    """What ``play_media`` should play, and how."""

    item: MediaItem
    offset_ms: int = 0
    shuffle: bool = False


@dataclass(frozen=True, slots=True)
class MediaId:
    """A parsed ``plex_bridge://`` id."""

    server: str
    parts: tuple[str, ...]
    query: Mapping[str, str] = field(default_factory=dict)


def media_id(server: str, *parts: str, **query: str) -> str:
    """The id of a path on a server: ``plex_bridge://<server>/<part>/<part>``."""
    path = "/".join(quote(part, safe="") for part in parts)
    text = f"{PREFIX}{server}/{path}" if path else f"{PREFIX}{server}"
    return f"{text}?{urlencode(query)}" if query else text


def parse_media_id(text: str) -> MediaId | None:
    """The server, path parts and query of a ``plex_bridge://`` id (else ``None``)."""
    if not text.startswith(PREFIX):
        return None
    rest, _, query = text.removeprefix(PREFIX).partition("?")
    server, _, path = rest.partition("/")
    if not server:
        return None
    parts = tuple(unquote(part) for part in path.split("/") if part)
    return MediaId(server, parts, dict(parse_qsl(query)))


def strip_accents(text: str) -> str:
    """``text`` without its accents (``Amélie`` is ``Amelie``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def normalize_title(text: str) -> str:
    """A title as it is compared: case, accents and spacing ignored."""
    return " ".join(strip_accents(text.casefold()).split())


def display_title(item: MediaItem) -> str:
    """An item's title that says what it is, for lists that mix kinds.

    ``Show - Season 1`` and ``Artist - Album`` besides ``MediaItem.full_title``.
    """
    if item.type in ("season", "album") and item.parent_title:
        return f"{item.parent_title} - {item.title}"
    return item.full_title


def short_title(item: MediaItem) -> str:
    """An item's title under its parent: ``3. Title`` for episodes and tracks."""
    if item.type in ("episode", "track") and item.index is not None:
        return f"{item.index}. {item.title}"
    if item.type == "album" and item.year:
        return f"{item.title} ({item.year})"
    return item.title


# -- errors ------------------------------------------------------------------------


def _not_found(media: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="media_not_found",
        translation_placeholders={"media": media},
    )


def _invalid_payload(error: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="invalid_payload",
        translation_placeholders={"error": error},
    )


def _not_playable(media: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="not_playable",
        translation_placeholders={"media": media},
    )


def _server_error(err: PlexError) -> HomeAssistantError:
    return HomeAssistantError(
        translation_domain=DOMAIN,
        translation_key="server_error",
        translation_placeholders={"error": str(err)},
    )


def _mirror_not_synced() -> BrowseError:
    return BrowseError(translation_domain=DOMAIN, translation_key="mirror_not_synced")


def _browse_not_found(content_id: str) -> BrowseError:
    return BrowseError(
        translation_domain=DOMAIN,
        translation_key="browse_not_found",
        translation_placeholders={"media_content_id": content_id},
    )


def _browse_failed(err: PlexError) -> BrowseError:
    return BrowseError(
        translation_domain=DOMAIN,
        translation_key="server_error",
        translation_placeholders={"error": str(err)},
    )


# -- browsing ----------------------------------------------------------------------


class PlexBrowser:
    """Builds the browse tree and search results of one server."""

    def __init__(
        self,
        client: PlexClient,
        server_id: str,
        image_url: ImageUrl | None = None,
        mirror: PlexMirror | None = None,
    ) -> None:
        self.client = client
        self.server_id = server_id
        self.image_url = image_url
        self.mirror = mirror

    def id(self, *parts: str, **query: str) -> str:
        """The id of a path on this server."""
        return media_id(self.server_id, *parts, **query)

    def thumbnail(
        self, content_type: str, content_id: str, image: str | None
    ) -> str | None:
        """The proxied URL of one of the server's images (never the server's own)."""
        if self.image_url is None or image is None or not IMAGE_PATH.fullmatch(image):
            return None
        return self.image_url(content_type, content_id, image)

    # -- nodes ---------------------------------------------------------------------

    def item_node(
        self, item: MediaItem, *, title: str | None = None, resume: bool = False
    ) -> BrowseMedia:
        """The node of one item (a playlist and a collection are items too)."""
        if item.type == "playlist":
            content_id = self.id("playlist", item.rating_key)
        elif item.type == "collection":
            content_id = self.id("collection", item.rating_key)
        elif resume and item.view_offset:
            content_id = self.id("item", item.rating_key, resume="1")
        else:
            content_id = self.id("item", item.rating_key)
        return BrowseMedia(
            title=title or display_title(item),
            media_class=ITEM_CLASSES.get(item.type, MediaClass.VIDEO),
            media_content_id=content_id,
            media_content_type=item.type,
            can_play=item.type not in NOT_PLAYABLE,
            can_expand=item.type in EXPANDABLE,
            thumbnail=self.thumbnail(item.type, content_id, item.image),
        )

    def folder(
        self,
        title: str,
        content_type: str,
        *parts: str,
        children: Sequence[BrowseMedia] | None = None,
        children_class: MediaClass | None = None,
        thumbnail: str | None = None,
    ) -> BrowseMedia:
        """A node that is not playable, only browsed into."""
        return BrowseMedia(
            title=title,
            media_class=MediaClass.DIRECTORY,
            media_content_id=self.id(*parts),
            media_content_type=content_type,
            can_play=False,
            can_expand=True,
            children=children,
            children_media_class=children_class,
            thumbnail=thumbnail,
        )

    def section_node(
        self, section: Section, children: Sequence[BrowseMedia] | None = None
    ) -> BrowseMedia:
        """The node of a library."""
        content_id = self.id("section", section.key)
        node = self.folder(
            section.title,
            TYPE_LIBRARY,
            "section",
            section.key,
            children=children,
            children_class=SECTION_CLASSES.get(section.type, MediaClass.DIRECTORY),
            thumbnail=self.thumbnail(TYPE_LIBRARY, content_id, section.thumb),
        )
        node.can_search = True
        return node

    def page_folders(
        self, title: str, parts: Sequence[str], total: int, item_class: MediaClass
    ) -> list[BrowseMedia]:
        """The numbered pages of a listing too long for one node."""
        return [
            self.folder(
                f"{title} {start + 1}-{min(start + PAGE_SIZE, total)}",
                TYPE_PAGE,
                *parts,
                str(page),
                children_class=item_class,
            )
            for page, start in enumerate(range(0, total, PAGE_SIZE))
        ]

    # -- the tree ------------------------------------------------------------------

    async def browse(self, content_id: str | None) -> BrowseMedia:
        """The node an id names, with its children."""
        if not content_id:
            return await self.root()
        parsed = parse_media_id(content_id)
        if parsed is None or parsed.server != self.server_id:
            raise _browse_not_found(content_id)
        node = await self._browse_parts(parsed.parts)
        if node is None:
            raise _browse_not_found(content_id)
        return node

    async def _browse_parts(self, parts: tuple[str, ...]) -> BrowseMedia | None:
        match parts:
            case ():
                return await self.root()
            case ("on_deck",):
                return await self.on_deck()
            case ("recently_added",):
                return await self.recently_added()
            case ("playlists",):
                return await self.playlists()
            case ("playlist", rating_key):
                return await self.playlist(rating_key)
            case ("collection", rating_key):
                return await self.collection(rating_key)
            case ("item", rating_key):
                return await self.item(rating_key)
            case ("search",):
                return self.search_node(None, [])
            case ("search", text):
                return await self.search_folder(text)
            case ("section", key, *rest):
                section = await self._section(key)
                if section is None:
                    return None
                return await self._browse_section(section, tuple(rest))
        return None

    async def _browse_section(
        self, section: Section, rest: tuple[str, ...]
    ) -> BrowseMedia | None:
        match rest:
            case ():
                return await self.library(section)
            case ("collections",):
                return await self.collections(section)
            case ("letter", char):
                return await self.letter(section, char, None)
            case ("letter", char, page) if page.isdigit():
                return await self.letter(section, char, int(page))
            case (("genre" | "decade") as field_name,):
                return await self.filter_values(section, field_name)
            case (("genre" | "decade") as field_name, value):
                return await self.filtered(section, field_name, value, None)
            case (("genre" | "decade") as field_name, value, page) if page.isdigit():
                return await self.filtered(section, field_name, value, int(page))
        return None

    async def _section(self, key: str) -> Section | None:
        return next(
            (section for section in await self.client.sections() if section.key == key),
            None,
        )

    async def root(self) -> BrowseMedia:
        """The server: On Deck, Recently Added, the libraries, Playlists."""
        server = await self.client.server_info(cached=True)
        sections = await self.client.sections()
        children = [
            self.folder("On Deck", TYPE_ON_DECK, "on_deck"),
            self.folder("Recently Added", TYPE_RECENTLY_ADDED, "recently_added"),
            *(self.section_node(section) for section in sections),
            self.folder(
                "Playlists",
                TYPE_PLAYLISTS,
                "playlists",
                children_class=MediaClass.PLAYLIST,
            ),
            *([self.search_node(None, None)] if self.mirror is not None else []),
        ]
        node = self.folder(
            server.friendly_name,
            TYPE_SERVER,
            children=children,
            children_class=MediaClass.DIRECTORY,
        )
        node.can_search = True
        return node

    async def on_deck(self) -> BrowseMedia:
        """What to watch next; each item resumes where it was left."""
        items = await self.client.on_deck(limit=LIST_LIMIT)
        return self.folder(
            "On Deck",
            TYPE_ON_DECK,
            "on_deck",
            children=[self.item_node(item, resume=True) for item in items],
        )

    async def recently_added(self) -> BrowseMedia:
        """The newest items of every library."""
        items = await self.client.recently_added(limit=LIST_LIMIT)
        return self.folder(
            "Recently Added",
            TYPE_RECENTLY_ADDED,
            "recently_added",
            children=[self.item_node(item) for item in items],
        )

    async def playlists(self) -> BrowseMedia:
        """Every playlist."""
        playlists = await self.client.playlists()
        return self.folder(
            "Playlists",
            TYPE_PLAYLISTS,
            "playlists",
            children=[self.item_node(playlist) for playlist in playlists],
            children_class=MediaClass.PLAYLIST,
        )

    async def playlist(self, rating_key: str) -> BrowseMedia | None:
        """A playlist with its items."""
        playlists, items = await asyncio.gather(
            self.client.playlists(), self.client.playlist_items(rating_key)
        )
        playlist = next((p for p in playlists if p.rating_key == rating_key), None)
        if playlist is None:
            return None
        node = self.item_node(playlist)
        node.children = [self.item_node(item) for item in items]
        return node

    async def collection(self, rating_key: str) -> BrowseMedia | None:
        """A collection with its items."""
        collection, items = await asyncio.gather(
            self.client.item(rating_key), self.client.collection_items(rating_key)
        )
        node = self.item_node(collection)
        node.children = [self.item_node(item) for item in items]
        return node

    async def item(self, rating_key: str) -> BrowseMedia:
        """An item, with its children when it has any (seasons, episodes, albums ...)."""
        item = await self.client.item(rating_key)
        node = self.item_node(item)
        if item.type in EXPANDABLE:
            children = await self.client.children(rating_key)
            node.children = [
                self.item_node(child, title=short_title(child)) for child in children
            ]
        return node

    async def library(self, section: Section) -> BrowseMedia:
        """A library: its titles when there are few, else the ways to narrow it."""
        item_class = SECTION_CLASSES.get(section.type, MediaClass.DIRECTORY)
        count = await self.client.section_count(section.key)
        if count <= SMALL_LIBRARY:
            page, collections = await asyncio.gather(
                self.client.section_items(
                    section.key, size=SMALL_LIBRARY, sort=TITLE_SORT
                ),
                self.client.collections(section.key),
            )
            if page.total_size <= len(page.items):
                children = [
                    *self._collections_folder(section, collections),
                    *(self.item_node(item) for item in page.items),
                ]
                return self.section_node(section, children)
        letters, collections = await asyncio.gather(
            self.client.section_directories(section.key, "firstCharacter"),
            self.client.collections(section.key),
        )
        children = [
            *(
                self.folder(
                    "By genre" if name == TYPE_GENRE else "By decade",
                    TYPE_GENRES if name == TYPE_GENRE else TYPE_DECADES,
                    "section",
                    section.key,
                    name,
                )
                for name in SECTION_FILTERS.get(section.type, ())
            ),
            *self._collections_folder(section, collections),
            *(
                self.folder(
                    letter.title,
                    TYPE_LETTER,
                    "section",
                    section.key,
                    "letter",
                    letter.key,
                    children_class=item_class,
                )
                for letter in letters
            ),
        ]
        node = self.section_node(section, children)
        node.children_media_class = MediaClass.DIRECTORY
        return node

    def _collections_folder(
        self, section: Section, collections: Sequence[MediaItem]
    ) -> list[BrowseMedia]:
        if not collections:
            return []
        return [
            self.folder(
                "Collections",
                TYPE_COLLECTIONS,
                "section",
                section.key,
                "collections",
                children_class=MediaClass.DIRECTORY,
            )
        ]

    async def collections(self, section: Section) -> BrowseMedia:
        """A library's collections."""
        collections = await self.client.collections(section.key)
        return self.folder(
            f"{section.title}: Collections",
            TYPE_COLLECTIONS,
            "section",
            section.key,
            "collections",
            children=[self.item_node(item) for item in collections],
            children_class=MediaClass.DIRECTORY,
        )

    async def letter(
        self, section: Section, char: str, page: int | None
    ) -> BrowseMedia | None:
        """The titles that start with ``char``: a slice of the library in title order."""
        letters = await self.client.section_directories(section.key, "firstCharacter")
        start = 0
        for entry in letters:
            if entry.key == char:
                break
            start += entry.size or 0
        else:
            return None
        size = entry.size or 0
        parts = ("section", section.key, "letter", char)
        item_class = SECTION_CLASSES.get(section.type, MediaClass.DIRECTORY)
        title = f"{section.title}: {entry.title}"
        if page is None and size > PAGE_SIZE:
            return self.folder(
                title,
                TYPE_LETTER,
                *parts,
                children=self.page_folders(entry.title, parts, size, item_class),
                children_class=MediaClass.DIRECTORY,
            )
        offset = (page or 0) * PAGE_SIZE
        if offset and offset >= size:
            return None
        items = await self.client.section_items(
            section.key,
            start=start + offset,
            size=min(PAGE_SIZE, size - offset),
            sort=TITLE_SORT,
        )
        return self.folder(
            title,
            TYPE_PAGE if page is not None else TYPE_LETTER,
            *parts,
            *(() if page is None else (str(page),)),
            children=[self.item_node(item) for item in items.items],
            children_class=item_class,
        )

    async def filter_values(self, section: Section, name: str) -> BrowseMedia | None:
        """A library's genres or decades."""
        if name not in SECTION_FILTERS.get(section.type, ()):
            return None
        values = await self.client.section_directories(section.key, name)
        item_class = SECTION_CLASSES.get(section.type, MediaClass.DIRECTORY)
        genre = name == TYPE_GENRE
        return self.folder(
            f"{section.title}: {'By genre' if genre else 'By decade'}",
            TYPE_GENRES if genre else TYPE_DECADES,
            "section",
            section.key,
            name,
            children=[
                self.folder(
                    value.title,
                    name,
                    "section",
                    section.key,
                    name,
                    value.key,
                    children_class=item_class,
                )
                for value in values[:PAGE_SIZE]
            ],
            children_class=MediaClass.DIRECTORY,
        )

    async def filtered(
        self, section: Section, name: str, value: str, page: int | None
    ) -> BrowseMedia | None:
        """The titles of one genre or decade (``/all?genre=<id>``, ``?decade=<year>``)."""
        if name not in SECTION_FILTERS.get(section.type, ()):
            return None
        values, items = await asyncio.gather(
            self.client.section_directories(section.key, name),
            self.client.section_items(
                section.key,
                start=(page or 0) * PAGE_SIZE,
                size=PAGE_SIZE,
                filters={name: value},
                sort=TITLE_SORT,
            ),
        )
        entry = next((entry for entry in values if entry.key == value), None)
        if entry is None:
            return None
        parts = ("section", section.key, name, value)
        title = f"{section.title}: {entry.title}"
        item_class = SECTION_CLASSES.get(section.type, MediaClass.DIRECTORY)
        if page is None and items.total_size > PAGE_SIZE:
            return self.folder(
                title,
                name,
                *parts,
                children=self.page_folders(
                    entry.title, parts, items.total_size, item_class
                ),
                children_class=MediaClass.DIRECTORY,
            )
        if page is not None and not items.items:
            return None
        return self.folder(
            title,
            TYPE_PAGE if page is not None else name,
            *parts,
            *(() if page is None else (str(page),)),
            children=[self.item_node(item) for item in items.items],
            children_class=item_class,
        )

    # -- search --------------------------------------------------------------------

    def mirror_node(self, item: MirrorItem) -> BrowseMedia:
        """The node of an item of the library mirror (as ``item_node`` builds it)."""
        content_id = self.id("item", item.rating_key)
        return BrowseMedia(
            title=item_full_title(item),
            media_class=ITEM_CLASSES.get(item.type, MediaClass.VIDEO),
            media_content_id=content_id,
            media_content_type=item.type,
            can_play=True,
            can_expand=item.type in EXPANDABLE,
            thumbnail=self.thumbnail(item.type, content_id, item.thumb),
        )

    def search_node(
        self, text: str | None, children: Sequence[BrowseMedia] | None
    ) -> BrowseMedia:
        """The Search entry (searchable), or the mirror's answers to ``text``."""
        parts = ("search",) if text is None else ("search", text)
        node = self.folder(
            "Search" if text is None else f"Search: {text}",
            TYPE_SEARCH,
            *parts,
            children=children,
            children_class=MediaClass.DIRECTORY,
        )
        node.can_search = True
        return node

    async def search_folder(self, text: str) -> BrowseMedia | None:
        """``search/<text>``: what the library mirror finds, best first."""
        if self.mirror is None or not self.mirror.synced:
            raise _mirror_not_synced()
        hits = await self.mirror.async_search(text, limit=MIRROR_SEARCH_LIMIT)
        return self.search_node(text, [self.mirror_node(hit.item) for hit in hits])

    async def search(self, query: SearchMediaQuery) -> SearchMedia:
        """Playable results, best first: the mirror's once it has synced.

        Until then (and in a library the mirror leaves out) the server's search,
        exact titles first.
        """
        text = query.search_query.strip()
        if not text:
            return SearchMedia(result=[])
        parsed = parse_media_id(query.media_content_id or "")
        section_id = (
            parsed.parts[1]
            if parsed is not None
            and len(parsed.parts) > 1
            and parsed.parts[0] == "section"
            else None
        )
        kinds = set(SEARCHABLE)
        if query.media_content_type:
            kinds &= set(
                MEDIA_TYPE_KINDS.get(str(query.media_content_type).lower(), kinds)
            )
        classes = set(query.media_filter_classes or ())
        if classes:
            kinds = {kind for kind in kinds if ITEM_CLASSES.get(kind) in classes}
        mirror = self.mirror
        if (
            mirror is not None
            and mirror.synced
            and (section_id is None or mirror.mirrors_library(section_id))
        ):
            types = sorted(kinds & MIRROR_KINDS)
            if not types:
                return SearchMedia(result=[])
            hits = await mirror.async_search(
                text,
                types=types,
                library_keys=[section_id] if section_id else None,
                limit=MIRROR_SEARCH_LIMIT,
            )
            return SearchMedia(result=[self.mirror_node(hit.item) for hit in hits])
        hubs = await self.client.search(text, limit=SEARCH_LIMIT, section_id=section_id)
        found = [item for hub in hubs for item in hub.items if item.type in kinds]
        ranked = rank_results(text, found)
        return SearchMedia(result=[self.item_node(item) for item in ranked])


def rank_results(text: str, items: Iterable[MediaItem]) -> list[MediaItem]:
    """Items, best match first.

    An exact title first, then a prefix, then a word, then the rest; within each,
    movies and shows before artists, albums, tracks and episodes.
    """
    needle = normalize_title(text)

    def rank(pair: tuple[int, MediaItem]) -> tuple[int, int, int]:
        order, item = pair
        title = normalize_title(item.title)
        if title == needle:
            closeness = 0
        elif title.startswith(needle):
            closeness = 1
        elif f" {needle}" in f" {title}":
            closeness = 2
        else:
            closeness = 3
        kind = SEARCHABLE.index(item.type) if item.type in SEARCHABLE else 99
        return closeness, kind, order

    unique: dict[tuple[str, str], tuple[int, MediaItem]] = {}
    for order, item in enumerate(items):
        unique.setdefault((item.type, item.rating_key), (order, item))
    return [item for _, item in sorted(unique.values(), key=rank)]


# -- resolving -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlayOptions:
    """How to start what was asked for."""

    shuffle: bool = False
    resume: bool = False
    offset_s: float | None = None

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> PlayOptions:
        """Options from a payload, an id's query or ``extra`` (bad values raise)."""
        offset = values.get("offset")
        if offset is not None:
            try:
                offset = float(offset)
            except TypeError, ValueError:
                raise _invalid_payload(
                    f'"offset" must be seconds, not {offset!r}'
                ) from None
            if offset < 0:
                raise _invalid_payload('"offset" must not be negative')
        return cls(
            shuffle=_flag(values, "shuffle"),
            resume=_flag(values, "resume"),
            offset_s=offset,
        )

    def merged(self, other: PlayOptions) -> PlayOptions:
        """These options, with what ``other`` sets added."""
        return PlayOptions(
            shuffle=self.shuffle or other.shuffle,
            resume=self.resume or other.resume,
            offset_s=self.offset_s if self.offset_s is not None else other.offset_s,
        )

    def start(self, item: MediaItem) -> ResolvedMedia:
        """``item`` to play with these options."""
        if self.offset_s is not None:
            offset_ms = int(self.offset_s * 1000)
        elif self.resume:
            offset_ms = item.view_offset or 0
        else:
            offset_ms = 0
        return ResolvedMedia(item=item, offset_ms=offset_ms, shuffle=self.shuffle)


def _flag(values: Mapping[str, Any], name: str) -> bool:
    value = values.get(name, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("0", "1", "true", "false"):
        return value.lower() in ("1", "true")
    raise _invalid_payload(f'"{name}" must be true or false, not {value!r}')


def load_payload(text: str) -> dict[str, Any]:
    """A play_media JSON payload with its keys in our names (bad payloads raise)."""
    try:
        data = json_loads(text)
    except ValueError as err:
        raise _invalid_payload(f"not JSON: {err}") from err
    if not isinstance(data, dict):
        raise _invalid_payload("a JSON object is expected")
    unknown = sorted(
        key
        for key in data
        if key not in PAYLOAD_KEYS
        and key not in PAYLOAD_ALIASES
        and key not in IGNORED_KEYS
    )
    if unknown:
        raise _invalid_payload(f"unknown keys: {', '.join(unknown)}")
    payload = {key: value for key, value in data.items() if key in PAYLOAD_KEYS}
    for alias, key in PAYLOAD_ALIASES.items():
        if alias in data:
            payload.setdefault(key, data[alias])
    for key in ("key", "library", "title", "show", "artist", "album", "playlist"):
        value = payload.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and key == "key":
            payload[key] = str(value)
        # ``key in payload``, not ``value is not None``: an explicit null is refused
        # here rather than reaching the resolver as a title.
        elif key in payload and (not isinstance(value, str) or not value.strip()):
            raise _invalid_payload(f'"{key}" must be a non-empty text')
    for key in ("season", "episode", "track"):
        value = payload.get(key)
        if key in payload and (
            isinstance(value, bool)
            or not isinstance(value, (int, str))
            or (isinstance(value, str) and not value.strip())
        ):
            raise _invalid_payload(f'"{key}" must be a number or a title')
    return payload


def _index_or_title(value: int | str) -> tuple[int | None, str]:
    if isinstance(value, int):
        return value, str(value)
    text = value.strip()
    return (int(text) if text.isdigit() else None), text


def _match_child(children: Sequence[MediaItem], value: int | str) -> MediaItem | None:
    """The child named by an index (``2``) or a title."""
    index, title = _index_or_title(value)
    if index is not None:
        found = next((child for child in children if child.index == index), None)
        if found is not None:
            return found
    wanted = normalize_title(title)
    return next(
        (child for child in children if normalize_title(child.title) == wanted), None
    )


def _describe_child(kind: str, value: int | str) -> str:
    index, title = _index_or_title(value)
    return f"{kind} {index}" if index is not None else f'the {kind} "{title}"'


class PlexResolver:
    """Turns what ``play_media`` was given into one item of one server."""

    def __init__(
        self, client: PlexClient, server_id: str, mirror: PlexMirror | None = None
    ) -> None:
        self.client = client
        self.server_id = server_id
        self.mirror = mirror

    async def resolve(
        self, media_type: str, media: str, extra: Mapping[str, Any] | None = None
    ) -> ResolvedMedia:
        """The item ``media`` names (see the module docstring for the forms)."""
        extra_options = PlayOptions.from_values(extra or {})
        text = media.strip()
        for prefix in ("plex://", PREFIX):
            if text.startswith(f"{prefix}{{"):
                text = text.removeprefix(prefix)
        if text.startswith(("{", "[")):
            payload = load_payload(text)
            options = PlayOptions.from_values(payload).merged(extra_options)
            return options.start(await self._payload(media_type, payload))
        if (parsed := parse_media_id(text)) is not None:
            options = PlayOptions.from_values(parsed.query).merged(extra_options)
            return options.start(await self._media_id(parsed, text))
        if text.isdigit():
            return extra_options.start(await self._by_key(text))
        if not text:
            raise _invalid_payload("nothing to play")
        kinds = MEDIA_TYPE_KINDS.get(media_type.lower(), TITLE_KINDS)
        return extra_options.start(await self._titled(kinds, text, None))

    async def _media_id(self, parsed: MediaId, text: str) -> MediaItem:
        if parsed.server != self.server_id:
            raise _not_found(f'"{text}" (an item of another Plex Media Server)')
        match parsed.parts:
            case ("item", rating_key):
                return await self._by_key(rating_key)
            case ("playlist", rating_key):
                playlists = await self.client.playlists()
                playlist = next(
                    (p for p in playlists if p.rating_key == rating_key), None
                )
                if playlist is None:
                    raise _not_found(f'the playlist with rating key "{rating_key}"')
                return playlist
        raise _not_playable(text)

    async def _by_key(self, rating_key: str) -> MediaItem:
        item = await self.client.item_or_none(rating_key)
        if item is None:
            raise _not_found(f'the item with rating key "{rating_key}"')
        return item

    async def _payload(self, media_type: str, payload: Mapping[str, Any]) -> MediaItem:
        if "key" in payload:
            return await self._by_key(str(payload["key"]))
        if "playlist" in payload:
            return await self._playlist(payload["playlist"])
        library = (
            await self._library(payload["library"]) if "library" in payload else None
        )
        if any(key in payload for key in ("show", "season", "episode")):
            if "show" not in payload:
                raise _invalid_payload('"season" and "episode" need a "show"')
            return await self._episode(payload, library)
        if any(key in payload for key in ("artist", "album", "track")):
            return await self._music(payload, library)
        if "title" in payload:
            kinds = MEDIA_TYPE_KINDS.get(media_type.lower())
            if kinds == ("playlist",):
                return await self._playlist(payload["title"])
            if kinds is None and library is not None:
                kinds = SECTION_KINDS.get(library.type)
            return await self._titled(kinds or TITLE_KINDS, payload["title"], library)
        raise _invalid_payload(
            "say what to play: a title, show, artist, album, track or playlist"
        )

    async def _library(self, title: str) -> Section:
        wanted = normalize_title(title)
        for section in await self.client.sections():
            if normalize_title(section.title) == wanted:
                return section
        raise _not_found(f'the library "{title}"')

    async def _playlist(self, title: str) -> MediaItem:
        wanted = normalize_title(title)
        for playlist in await self.client.playlists():
            if normalize_title(playlist.title) == wanted:
                return playlist
        raise _not_found(f'the playlist "{title}"')

    async def _titled(
        self, kinds: Sequence[str], title: str, library: Section | None
    ) -> MediaItem:
        found = await self._find(kinds, title, library)
        if found is None:
            what = f'the {kinds[0]} "{title}"' if len(kinds) == 1 else f'"{title}"'
            raise _not_found(what + _in_library(library))
        return found

    async def _find(
        self,
        kinds: Sequence[str],
        title: str,
        library: Section | None,
        parent: Callable[[MediaItem], bool] | None = None,
    ) -> MediaItem | None:
        """The best item of ``kinds`` titled exactly ``title`` (case and accents aside).

        The server's search first; in a known library, a title filter of the
        library's items as well, as search may rank an exact title past its limit.
        """
        wanted = normalize_title(title)
        if parent is None:
            found, answered = await self._find_in_mirror(kinds, title, library)
            if answered:
                return found

        def fits(item: MediaItem) -> bool:
            return (
                item.type in kinds
                and normalize_title(item.title) == wanted
                and (
                    library is None
                    or item.library_section_id is None
                    or str(item.library_section_id) == library.key
                )
                and (parent is None or parent(item))
            )

        section_id = library.key if library else None
        # Accents are left out of the second query: a server may match them exactly.
        queries = dict.fromkeys((title.strip(), strip_accents(title.strip())))
        candidates: list[MediaItem] = []
        for query in queries:
            hubs = await self.client.search(
                query, limit=RESOLVE_LIMIT, section_id=section_id
            )
            candidates = [item for hub in hubs for item in hub.items if fits(item)]
            if candidates:
                break
        if not candidates and library is not None:
            pages: list[Page] = await asyncio.gather(
                *(
                    self.client.section_items(
                        library.key,
                        size=RESOLVE_LIMIT,
                        item_type=kind,
                        filters={"title": title},
                    )
                    for kind in kinds
                    if kind in SECTION_KINDS.get(library.type, ())
                )
            )
            candidates = [item for page in pages for item in page.items if fits(item)]
        if not candidates:
            return None
        return min(candidates, key=lambda item: kinds.index(item.type))

    async def _find_in_mirror(
        self, kinds: Sequence[str], title: str, library: Section | None
    ) -> tuple[MediaItem | None, bool]:
        """The best item titled ``title`` by the mirror, and whether it may answer.

        The mirror answers once it has synced, for a library it mirrors (or, with
        no library named, when it mirrors every library). A title it does not
        hold is then not found, with no request to the server; an item it holds
        that the server no longer has (a deletion not yet synced) is left to the
        server's search.
        """
        mirror = self.mirror
        if mirror is None or not mirror.synced:
            return None, False
        if library is not None and not mirror.mirrors_library(library.key):
            return None, False
        if library is None and not mirror.mirrors_every_library:
            return None, False
        types = [kind for kind in kinds if kind in MIRROR_KINDS]
        if not types:
            return None, False
        wanted = normalize_title(title)
        hits = await mirror.async_search(
            title,
            types=types,
            library_keys=[library.key] if library is not None else None,
            limit=RESOLVE_LIMIT,
        )
        exact = [hit.item for hit in hits if normalize_title(hit.item.title) == wanted]
        if not exact:
            return None, True
        best = min(exact, key=lambda item: types.index(item.type))
        item = await self.client.item_or_none(best.rating_key)
        return item, item is not None

    async def _episode(
        self, payload: Mapping[str, Any], library: Section | None
    ) -> MediaItem:
        show_title = payload["show"]
        show_text = f'the show "{show_title}"'
        show = await self._find(("show",), show_title, library)
        if show is None:
            raise _not_found(show_text + _in_library(library))
        season: MediaItem | None = None
        if "season" in payload:
            seasons = await self.client.children(show.rating_key)
            season = _match_child(seasons, payload["season"])
            if season is None:
                raise _not_found(
                    f"{_describe_child('season', payload['season'])} of {show_text}"
                )
        if "episode" not in payload:
            return season or show
        if season is not None:
            episodes = await self.client.children(season.rating_key)
            where = f"{_describe_child('season', payload['season'])} of {show_text}"
        else:
            seasons = await self.client.children(show.rating_key)
            per_season = await asyncio.gather(
                *(self.client.children(s.rating_key) for s in seasons)
            )
            episodes = [episode for group in per_season for episode in group]
            where = show_text
        episode = _match_child(episodes, payload["episode"])
        if episode is None:
            raise _not_found(
                f"{_describe_child('episode', payload['episode'])} of {where}"
            )
        return episode

    async def _music(
        self, payload: Mapping[str, Any], library: Section | None
    ) -> MediaItem:
        artist: MediaItem | None = None
        artist_text = ""
        if "artist" in payload:
            artist_text = f' by "{payload["artist"]}"'
            artist = await self._find(("artist",), payload["artist"], library)
            if artist is None:
                raise _not_found(
                    f'the artist "{payload["artist"]}"' + _in_library(library)
                )
        album: MediaItem | None = None
        if "album" in payload:
            album_text = f'the album "{payload["album"]}"{artist_text}'
            if artist is not None:
                album = _match_child(
                    await self.client.children(artist.rating_key), payload["album"]
                )
            else:
                album = await self._find(("album",), payload["album"], library)
            if album is None:
                raise _not_found(album_text + _in_library(library))
            if "track" not in payload:
                return album
            track = _match_child(
                await self.client.children(album.rating_key), payload["track"]
            )
            if track is None:
                raise _not_found(
                    f"{_describe_child('track', payload['track'])} of {album_text}"
                )
            return track
        if "track" not in payload and artist is not None:
            return artist
        track_text = _describe_child("track", payload["track"]) + artist_text
        if artist is not None:
            albums = await self.client.children(artist.rating_key)
            per_album = await asyncio.gather(
                *(self.client.children(a.rating_key) for a in albums)
            )
            track = _match_child(
                [track for group in per_album for track in group], payload["track"]
            )
        else:
            _, title = _index_or_title(payload["track"])
            track = await self._find(("track",), title, library)
        if track is None:
            raise _not_found(track_text + _in_library(library))
        return track


def _in_library(library: Section | None) -> str:
    return f' in library "{library.title}"' if library is not None else ""


# -- Home Assistant's entry points -------------------------------------------------


def _browser(
    entry: PlexBridgeConfigEntry, image_url: ImageUrl | None = None
) -> PlexBrowser:
    data = entry.runtime_data
    return PlexBrowser(
        data.client, data.server.machine_identifier, image_url, data.mirror
    )


async def async_browse(
    hass: HomeAssistant,
    entry: PlexBridgeConfigEntry,
    media_content_type: str | None,
    media_content_id: str | None,
    *,
    image_url: ImageUrl | None = None,
) -> BrowseMedia:
    """The node ``media_content_id`` names (the server when ``None``).

    ``image_url`` is the media player's ``get_browse_image_url``: thumbnails go
    through Home Assistant's proxy, so the browser never talks to the server.
    """
    try:
        return await _browser(entry, image_url).browse(media_content_id)
    except PlexNotFoundError as err:
        raise _browse_not_found(media_content_id or "") from err
    except PlexError as err:
        raise _browse_failed(err) from err


async def async_search(
    hass: HomeAssistant,
    entry: PlexBridgeConfigEntry,
    query: SearchMediaQuery,
    *,
    image_url: ImageUrl | None = None,
) -> SearchMedia:
    """Search the server; playable results, best first (what voice plays first)."""
    try:
        return await _browser(entry, image_url).search(query)
    except PlexError as err:
        raise _server_error(err) from err


async def async_resolve(
    hass: HomeAssistant,
    entry: PlexBridgeConfigEntry,
    media_type: str,
    media_id: str,
    **kwargs: Any,
) -> ResolvedMedia:
    """What ``play_media(media_type, media_id)`` should play.

    ``kwargs`` are ``play_media``'s own; a dict ``extra`` may carry ``shuffle``,
    ``resume`` and ``offset`` as a payload does.
    """
    data = entry.runtime_data
    resolver = PlexResolver(data.client, data.server.machine_identifier, data.mirror)
    extra = kwargs.get("extra")
    try:
        return await resolver.resolve(
            media_type, media_id, extra if isinstance(extra, Mapping) else None
        )
    except PlexError as err:
        raise _server_error(err) from err


async def async_browse_image(
    hass: HomeAssistant,
    entry: PlexBridgeConfigEntry,
    media_content_type: str,
    media_content_id: str,
    media_image_id: str | None,
) -> tuple[bytes | None, str | None]:
    """An image of the browse tree, read from the server with the token.

    Only the server's own image paths are fetched; without ``media_image_id`` the
    image of the item ``media_content_id`` names.
    """
    client = entry.runtime_data.client
    path = media_image_id
    try:
        if path is None:
            parsed = parse_media_id(media_content_id)
            if (
                parsed is None
                or parsed.parts[:1] != ("item",)
                or len(parsed.parts) != 2
            ):
                return None, None
            path = (await client.item(parsed.parts[1])).image
        if path is None or not IMAGE_PATH.fullmatch(path):
            return None, None
        body, content_type = await client.image(path)
    except PlexError:
        return None, None
    return body, content_type


__all__ = [
    "PlexBrowser",
    "PlexResolver",
    "ResolvedMedia",
    "async_browse",
    "async_browse_image",
    "async_resolve",
    "async_search",
    "media_id",
    "parse_media_id",
]
