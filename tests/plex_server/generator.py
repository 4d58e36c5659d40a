"""A deterministic, seeded library generator.

``generate(preset, seed=..., clock=...)`` returns a ``World``: four sections
(Movies, TV Shows, Music, Photos) full of items, movie and show collections, video
and audio playlists, the people that tags refer to and two shared users. The same
preset, seed and clock start give the same world, item for item.

Presets:

- ``small`` (tests): a dozen movies (The Matrix trilogy first), three shows with a
  few seasons and episodes, two artists with albums and tracks, a photo album;
- ``demo``: about 2,000 items with recognisable titles (well-known films, series
  and artists, then invented ones);
- ``large``: 10,000 movies, 1,000 shows with 60,000 episodes, 1,000 artists with
  30,000 tracks, 500 photos (about 110,000 items).

Timestamps (``addedAt``, ``updatedAt``, ``lastViewedAt``) lie in the six years
before the clock's current time; the clock moves dates only, the rest of the world
depends on the preset and seed alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import hashlib
import itertools
import random
from typing import Protocol

from .items import (
    AUDIO_PROFILES,
    COUNTRIES,
    COUNTRY_TAG_BASE,
    GENRE_TAG_BASE,
    GENRES,
    MUSIC_GENRE_TAG_BASE,
    MUSIC_GENRES,
    PERSON_TAG_BASE,
    VIDEO_PROFILES,
    Collection,
    Item,
    Location,
    Playlist,
    Section,
    sort_title,
    stable_uuid,
)

DAY = 86_400
YEAR = 365 * DAY
REFERENCE_NOW = 1_750_000_000
DTS_PROFILE = 2  # 1080p HEVC with DTS 5.1 (see items.VIDEO_PROFILES)


class ClockLike(Protocol):
    """What the generator needs of ``clock.Clock``."""

    def timestamp(self) -> int:
        """Whole seconds since the epoch."""


# -- names ---------------------------------------------------------------------------

# fmt: off
# One letter per genre, to keep the tables of well-known titles below short.
GENRE_LETTERS = {
    "A": "Action", "V": "Adventure", "N": "Animation", "C": "Comedy", "R": "Crime", "B": "Documentary",
    "D": "Drama", "F": "Family", "Y": "Fantasy", "X": "History", "H": "Horror", "L": "Music",
    "M": "Mystery", "O": "Romance", "S": "Science Fiction", "Q": "Thriller", "W": "War",
}
MUSIC_GENRE_LETTERS = dict(zip("RPEJHCFSMIBA", MUSIC_GENRES, strict=True))

FAMOUS_MOVIES: tuple[tuple[str, int, str], ...] = (
    ("The Matrix", 1999, "SA"), ("The Matrix Reloaded", 2003, "SA"), ("The Matrix Revolutions", 2003, "SA"),
    ("Inception", 2010, "SQ"), ("Interstellar", 2014, "SD"), ("The Dark Knight", 2008, "AR"),
    ("Pulp Fiction", 1994, "RD"), ("The Godfather", 1972, "RD"), ("Spirited Away", 2001, "NY"),
    ("Back to the Future", 1985, "SC"), ("Back to the Future Part II", 1989, "SC"),
    ("Back to the Future Part III", 1990, "SC"), ("Alien", 1979, "HS"), ("Aliens", 1986, "SA"),
    ("Blade Runner", 1982, "SD"), ("Blade Runner 2049", 2017, "SD"), ("The Shawshank Redemption", 1994, "D"),
    ("Forrest Gump", 1994, "DO"), ("Jurassic Park", 1993, "VS"), ("Toy Story", 1995, "NF"),
    ("Toy Story 2", 1999, "NF"), ("Toy Story 3", 2010, "NF"),
    ("The Lord of the Rings: The Fellowship of the Ring", 2001, "YV"),
    ("The Lord of the Rings: The Two Towers", 2002, "YV"),
    ("The Lord of the Rings: The Return of the King", 2003, "YV"), ("Star Wars", 1977, "SV"),
    ("The Empire Strikes Back", 1980, "SV"), ("Return of the Jedi", 1983, "SV"),
    ("Raiders of the Lost Ark", 1981, "VA"), ("Jaws", 1975, "HQ"), ("E.T. the Extra-Terrestrial", 1982, "SF"),
    ("Gladiator", 2000, "AD"), ("Titanic", 1997, "DO"), ("The Silence of the Lambs", 1991, "RQ"),
    ("Se7en", 1995, "RM"), ("Fight Club", 1999, "D"), ("Goodfellas", 1990, "RD"), ("Heat", 1995, "RA"),
    ("The Prestige", 2006, "MD"), ("Memento", 2000, "MQ"), ("Arrival", 2016, "SD"), ("Dune", 2021, "SV"),
    ("Mad Max: Fury Road", 2015, "AS"), ("Parasite", 2019, "QD"), ("Whiplash", 2014, "DL"),
    ("La La Land", 2016, "OL"), ("Amélie", 2001, "CO"), ("Casablanca", 1942, "DO"), ("Psycho", 1960, "HM"),
    ("Vertigo", 1958, "MQ"), ("2001: A Space Odyssey", 1968, "SV"), ("The Shining", 1980, "H"),
    ("Apocalypse Now", 1979, "WD"), ("Up", 2009, "NF"), ("WALL·E", 2008, "NS"), ("Inside Out", 2015, "NF"),
    ("Coco", 2017, "NF"), ("Finding Nemo", 2003, "NF"), ("The Incredibles", 2004, "NA"),
    ("Ratatouille", 2007, "NC"), ("My Neighbor Totoro", 1988, "NF"), ("Princess Mononoke", 1997, "NY"),
    ("Howl's Moving Castle", 2004, "NY"), ("The Grand Budapest Hotel", 2014, "CR"),
    ("No Country for Old Men", 2007, "RQ"), ("Fargo", 1996, "RC"), ("The Big Lebowski", 1998, "CR"),
    ("Groundhog Day", 1993, "CY"), ("Ghostbusters", 1984, "CY"), ("The Terminator", 1984, "SA"),
    ("Terminator 2: Judgment Day", 1991, "SA"), ("Die Hard", 1988, "AQ"), ("The Social Network", 2010, "D"),
    ("Gravity", 2013, "SQ"), ("Her", 2013, "OS"), ("Drive", 2011, "RD"), ("Get Out", 2017, "HM"),
    ("Knives Out", 2019, "MC"), ("Everything Everywhere All at Once", 2022, "SC"), ("Oppenheimer", 2023, "DX"),
    ("Top Gun: Maverick", 2022, "AD"), ("The Lion King", 1994, "NF"), ("Beauty and the Beast", 1991, "NO"),
    ("Avatar", 2009, "SV"), ("The Avengers", 2012, "AS"), ("Black Panther", 2018, "AV"),
    ("Spider-Man: Into the Spider-Verse", 2018, "NA"), ("Logan", 2017, "AD"), ("The Departed", 2006, "RQ"),
    ("Zodiac", 2007, "RM"), ("Gone Girl", 2014, "MQ"), ("The Truman Show", 1998, "CD"),
    ("Eternal Sunshine of the Spotless Mind", 2004, "OS"), ("Moon", 2009, "SD"), ("Ex Machina", 2014, "SQ"),
    ("Edge of Tomorrow", 2014, "SA"), ("Children of Men", 2006, "SD"), ("Amadeus", 1984, "DL"),
    ("Rocky", 1976, "D"), ("Good Will Hunting", 1997, "D"), ("Little Women", 2019, "DO"),
    ("Pride & Prejudice", 2005, "OD"), ("Casino Royale", 2006, "AQ"), ("Skyfall", 2012, "AQ"),
)
# Movie collections of well-known films: (name, title prefix shared by its members).
FAMOUS_COLLECTIONS = (
    ("The Matrix Collection", "The Matrix"),
    ("Back to the Future Collection", "Back to the Future"),
    ("Toy Story Collection", "Toy Story"),
    ("The Lord of the Rings Collection", "The Lord of the Rings"),
    ("Blade Runner Collection", "Blade Runner"),
)
FAMOUS_SHOWS: tuple[tuple[str, int, str, str], ...] = (
    ("Breaking Bad", 2008, "AMC", "RDQ"), ("The Wire", 2002, "HBO", "RD"), ("The Office", 2005, "NBC", "C"),
    ("Friends", 1994, "NBC", "CO"), ("Game of Thrones", 2011, "HBO", "YDV"), ("Stranger Things", 2016, "Netflix", "SHD"),
    ("The Sopranos", 1999, "HBO", "RD"), ("Seinfeld", 1989, "NBC", "C"), ("Fleabag", 2016, "BBC Three", "CD"),
    ("The Crown", 2016, "Netflix", "DX"), ("Better Call Saul", 2015, "AMC", "RD"), ("Mad Men", 2007, "AMC", "D"),
    ("Sherlock", 2010, "BBC One", "RMD"), ("Doctor Who", 2005, "BBC One", "SVD"), ("Succession", 2018, "HBO", "DC"),
    ("Severance", 2022, "Apple TV+", "SMD"), ("The Mandalorian", 2019, "Disney+", "SVA"),
    ("Arcane", 2021, "Netflix", "NYA"), ("Chernobyl", 2019, "HBO", "DX"), ("Ted Lasso", 2020, "Apple TV+", "CD"),
    ("Parks and Recreation", 2009, "NBC", "C"), ("Brooklyn Nine-Nine", 2013, "FOX", "CR"),
    ("The Bear", 2022, "FX", "CD"), ("True Detective", 2014, "HBO", "RMD"), ("Twin Peaks", 1990, "ABC", "MD"),
    ("Lost", 2004, "ABC", "MSV"), ("Battlestar Galactica", 2004, "Sci Fi", "SDA"),
    ("Avatar: The Last Airbender", 2005, "Nickelodeon", "NVY"), ("Planet Earth", 2006, "BBC One", "B"),
    ("Black Mirror", 2011, "Channel 4", "SQD"),
)
FAMOUS_ARTISTS: tuple[tuple[str, str, str], ...] = (
    ("Radiohead", "United Kingdom", "RI"), ("Daft Punk", "France", "E"), ("Miles Davis", "United States of America", "J"),
    ("Fleetwood Mac", "United Kingdom", "RP"), ("Nina Simone", "United States of America", "JS"),
    ("Kendrick Lamar", "United States of America", "H"), ("Björk", "Iceland", "EI"), ("Aphex Twin", "United Kingdom", "EA"),
    ("The Beatles", "United Kingdom", "RP"), ("David Bowie", "United Kingdom", "RP"), ("Massive Attack", "United Kingdom", "E"),
    ("Portishead", "United Kingdom", "EI"), ("Johann Sebastian Bach", "Germany", "C"), ("Joni Mitchell", "Canada", "F"),
    ("Bob Dylan", "United States of America", "FR"), ("Arcade Fire", "Canada", "I"), ("LCD Soundsystem", "United States of America", "EI"),
    ("Beach House", "United States of America", "I"), ("Bon Iver", "United States of America", "FI"),
    ("Aretha Franklin", "United States of America", "S"), ("Boards of Canada", "United Kingdom", "EA"),
    ("Brian Eno", "United Kingdom", "A"), ("Kraftwerk", "Germany", "E"), ("Pink Floyd", "United Kingdom", "R"),
    ("Led Zeppelin", "United Kingdom", "RB"), ("Nirvana", "United States of America", "R"), ("Queen", "United Kingdom", "R"),
    ("Amy Winehouse", "United Kingdom", "SJ"), ("Herbie Hancock", "United States of America", "J"),
    ("John Coltrane", "United States of America", "J"),
)
ADJECTIVES = (
    "Silent", "Crimson", "Hidden", "Broken", "Golden", "Last", "Lost", "Distant", "Electric", "Frozen",
    "Burning", "Hollow", "Iron", "Midnight", "Northern", "Paper", "Quiet", "Restless", "Secret", "Shattered",
    "Silver", "Southern", "Strange", "Velvet", "Wild", "Winter", "Endless", "Bright", "Dark", "Fallen",
    "Forgotten", "Glass", "Little", "Lonely", "Neon", "Perfect", "Savage", "Second", "Sleeping", "Stolen",
    "Sudden", "Twisted", "Wandering", "Western", "Eastern", "Final", "First", "Holy", "Invisible", "Long",
)
NOUNS = (
    "Harbor", "River", "Kingdom", "Signal", "Horizon", "Garden", "Empire", "Voyage", "Frontier", "Mirror",
    "Storm", "City", "Island", "Shadow", "Machine", "Winter", "Summer", "Heart", "Road", "Valley",
    "Ocean", "Station", "Tower", "Circle", "Promise", "Witness", "Crossing", "Orchard", "Lantern", "Engine",
    "Canyon", "Comet", "Desert", "Echo", "Forest", "Galaxy", "Hunter", "Journey", "Legacy", "Meadow",
    "Monument", "Night", "Paradise", "Pilgrim", "Planet", "Reckoning", "Republic", "Sanctuary", "Sky", "Stranger",
    "Tide", "Union", "Verdict", "Village", "Wolf", "Year", "Code", "Bridge", "Letter", "Dream",
)
PLACES = (
    "Brooklyn", "Tokyo", "Berlin", "Havana", "Lisbon", "Cairo", "Oslo", "Memphis", "Marseille", "Kyoto",
    "Dublin", "Chicago", "Bombay", "Santiago", "Vienna", "Nairobi", "Reykjavik", "Seoul", "Prague", "Montreal",
)
FIRST_NAMES = (
    "Ava", "Liam", "Noah", "Emma", "Olivia", "Lucas", "Mia", "Ethan", "Zoe", "Leo", "Nora", "Omar", "Ines",
    "Hugo", "Maya", "Ravi", "Sofia", "Jonas", "Priya", "Mateo", "Chloe", "Felix", "Aiko", "Daniel", "Grace",
    "Kenji", "Lena", "Marcus", "Nadia", "Oscar", "Paula", "Quinn", "Rosa", "Samuel", "Tara", "Victor",
    "Wen", "Yusuf", "Amara", "Bruno", "Clara", "Diego", "Elena", "Farah", "Gabriel", "Hana", "Isaac",
    "Julia", "Kofi", "Lucia",
)
LAST_NAMES = (
    "Reyes", "Okafor", "Lindqvist", "Moreau", "Tanaka", "Fischer", "Novak", "Haddad", "Costa", "Kowalski",
    "Byrne", "Singh", "Alvarez", "Petrov", "Nakamura", "Silva", "Dubois", "Kim", "Mensah", "Rossi",
    "Schmidt", "Ivanova", "Walsh", "Park", "Hughes", "Bianchi", "Cohen", "Dahl", "Eriksen", "Ferreira",
    "Grant", "Hoffman", "Ito", "Jansen", "Kaur", "Laurent", "Murphy", "Nguyen", "Olsen", "Patel",
    "Quintero", "Romano", "Sato", "Torres", "Ueda", "Varga", "Weber", "Xu", "Yilmaz", "Zhang",
)
MOVIE_STUDIOS = (
    "Warner Bros.", "Universal Pictures", "A24", "Paramount Pictures", "Studio Ghibli", "Pixar",
    "Lionsgate", "Focus Features", "Legendary Pictures", "New Line Cinema", "Columbia Pictures",
    "20th Century Studios", "Searchlight Pictures", "Neon", "StudioCanal",
)
NETWORKS = ("HBO", "AMC", "NBC", "BBC One", "Netflix", "FX", "Apple TV+", "Channel 4", "ABC", "Hulu")
LABELS = ("Parlophone", "XL Recordings", "Warp", "Sub Pop", "Domino", "4AD", "Blue Note", "Columbia", "Island", "Ninja Tune")
MOVIE_RATINGS = ("G", "PG", "PG-13", "PG-13", "R", "R")
SHOW_RATINGS = ("TV-Y7", "TV-PG", "TV-14", "TV-14", "TV-MA")
PHOTO_ALBUMS = (
    "Summer in Lisbon", "Birthday Party", "Mountain Hike", "Family Reunion", "Winter Holidays", "Road Trip",
    "Garden", "Wedding", "City Walks", "Beach Day", "Concert Night", "First Snow",
)
TAGLINES = (
    "Some doors should stay closed.", "Every legend has a beginning.", "The truth is out there somewhere.",
    "One last job.", "Nothing is what it seems.", "Home is where the story starts.",
)
# fmt: on


@dataclass(frozen=True, slots=True)
class Preset:
    """How big each part of a generated world is (ranges are inclusive)."""

    name: str
    movies: int
    famous_movies: int
    shows: int
    famous_shows: int
    seasons: tuple[int, int]
    episodes: tuple[int, int]
    episodes_per_show: int | None
    artists: int
    famous_artists: int
    albums: tuple[int, int]
    tracks: tuple[int, int]
    photo_albums: int
    photos_per_album: int
    loose_photos: int
    people: int
    genre_collections: int
    show_collections: int
    playlist_size: int


# fmt: off
PRESETS: dict[str, Preset] = {
    "small": Preset(
        name="small", movies=12, famous_movies=12, shows=3, famous_shows=3, seasons=(1, 3), episodes=(2, 4),
        episodes_per_show=None, artists=2, famous_artists=2, albums=(1, 2), tracks=(3, 5), photo_albums=1,
        photos_per_album=4, loose_photos=2, people=60, genre_collections=1, show_collections=1, playlist_size=5,
    ),
    "demo": Preset(
        name="demo", movies=250, famous_movies=len(FAMOUS_MOVIES), shows=30, famous_shows=len(FAMOUS_SHOWS),
        seasons=(1, 4), episodes=(6, 10), episodes_per_show=None, artists=30, famous_artists=len(FAMOUS_ARTISTS),
        albums=(2, 3), tracks=(8, 12), photo_albums=5, photos_per_album=10, loose_photos=10, people=400,
        genre_collections=4, show_collections=2, playlist_size=25,
    ),
    "large": Preset(
        name="large", movies=10_000, famous_movies=len(FAMOUS_MOVIES), shows=1_000, famous_shows=len(FAMOUS_SHOWS),
        seasons=(3, 6), episodes=(0, 0), episodes_per_show=60, artists=1_000, famous_artists=len(FAMOUS_ARTISTS),
        albums=(3, 3), tracks=(10, 10), photo_albums=20, photos_per_album=25, loose_photos=0, people=3_000,
        genre_collections=60, show_collections=10, playlist_size=200,
    ),
}
# fmt: on


@dataclass(frozen=True, slots=True)
class SharedUser:
    """A friend the owner shared some sections with (their own token)."""

    id: int
    name: str
    token: str
    section_ids: frozenset[int]


@dataclass(slots=True)
class World:
    """Everything a generated library holds."""

    sections: list[Section]
    items: dict[int, Item]
    collections: dict[int, Collection]
    playlists: dict[int, Playlist]
    people: list[str]
    shared_users: list[SharedUser]
    next_rating_key: int
    tag_counts: dict[int, int] = field(default_factory=dict)


class _Builder:
    """Builds one world; every random choice comes from one seeded stream."""

    def __init__(self, preset: Preset, seed: int, now: int) -> None:
        self.preset = preset
        self.seed = seed
        self.rng = random.Random(f"{preset.name}:{seed}")
        self.now = now
        self.next_key = 1
        self.items: dict[int, Item] = {}
        self.collections: dict[int, Collection] = {}
        self.playlists: dict[int, Playlist] = {}
        self.people = self._people(preset.people)
        self.sections = self._sections()

    # -- helpers -----------------------------------------------------------------------

    def _key(self) -> int:
        key = self.next_key
        self.next_key += 1
        return key

    def _hex(self) -> str:
        return f"{self.rng.getrandbits(96):024x}"

    def _people(self, count: int) -> list[str]:
        names = [f"{first} {last}" for first in FIRST_NAMES for last in LAST_NAMES]
        self.rng.shuffle(names)
        return names[:count]

    def _sections(self) -> list[Section]:
        created = self.now - 6 * YEAR - 30 * DAY
        specs = (
            (
                1,
                "movie",
                "Movies",
                "tv.plex.agents.movie",
                "Plex Movie",
                "/data/movies",
            ),
            (
                2,
                "show",
                "TV Shows",
                "tv.plex.agents.series",
                "Plex TV Series",
                "/data/tv",
            ),
            (3, "artist", "Music", "tv.plex.agents.music", "Plex Music", "/data/music"),
            (
                4,
                "photo",
                "Photos",
                "com.plexapp.agents.none",
                "Plex Photo Scanner",
                "/data/photos",
            ),
        )
        return [
            Section(
                section_id=section_id,
                section_type=section_type,
                title=title,
                agent=agent,
                scanner=scanner,
                location=Location(section_id, path),
                uuid=stable_uuid("section", self.seed, section_id),
                created_at=created,
                updated_at=self.now - DAY,
            )
            for section_id, section_type, title, agent, scanner, path in specs
        ]

    def _title(self) -> str:
        rng = self.rng
        adjective, noun = rng.choice(ADJECTIVES), rng.choice(NOUNS)
        pattern = rng.randrange(6)
        if pattern == 0:
            return f"The {adjective} {noun}"
        if pattern == 1:
            return f"{adjective} {noun}"
        if pattern == 2:
            return f"{noun} of the {rng.choice(NOUNS)}"
        if pattern == 3:
            return f"{rng.choice(PLACES)} {noun}"
        if pattern == 4:
            return f"The {noun}"
        return f"{adjective} {noun} {rng.choice(('II', 'Returns', 'Rising', '2'))}"

    def _summary(self, kind: str) -> str:
        rng = self.rng
        who = rng.choice(self.people)
        return (
            f"In this {rng.choice(ADJECTIVES).lower()} {kind}, {who} "
            f"{rng.choice(('must', 'sets out to', 'tries to', 'refuses to'))} "
            f"{rng.choice(('find', 'protect', 'escape', 'uncover', 'rebuild'))} the "
            f"{rng.choice(NOUNS).lower()} before the {rng.choice(NOUNS).lower()} is lost."
        )

    def _added(self, earliest: int) -> int:
        return self.rng.randint(max(earliest, self.now - 6 * YEAR), self.now - DAY)

    def _date(self, year: int) -> str:
        return f"{year:04d}-{self.rng.randint(1, 12):02d}-{self.rng.randint(1, 28):02d}"

    def _item(
        self,
        kind: str,
        section: Section,
        title: str,
        added_at: int,
        parent: Item | None = None,
    ) -> Item:
        item = Item(
            self._key(),
            kind,
            section,
            title,
            parent=parent,
            added_at=added_at,
            guid_hex=self._hex(),
        )
        title_sort = sort_title(title)
        if title_sort != title:
            item.title_sort = title_sort
        item.updated_at = min(self.now, added_at + self.rng.randint(0, 3 * DAY))
        self.items[item.rating_key] = item
        section.by_kind[kind].append(item)
        if parent is not None:
            assert parent.children is not None
            parent.children.append(item)
        return item

    def _watch(self, item: Item, *, watched: float, in_progress: float) -> None:
        """Played (some of them being watched again), in progress, or never played."""
        roll = self.rng.random()
        duration = item.duration or 0
        played = roll < watched
        rewatching = roll < watched / 5
        if played:
            item.view_count = self.rng.randint(1, 3)
            item.last_viewed_at = self.rng.randint(item.added_at, self.now)
        if rewatching or watched <= roll < watched + in_progress:
            item.view_offset = (
                self.rng.randint(duration // 10, duration * 8 // 10) // 1000 * 1000
            )
            item.last_viewed_at = self.rng.randint(
                item.last_viewed_at or item.added_at, self.now
            )

    def _genres(
        self, letters: str, table: dict[str, str], names: tuple[str, ...]
    ) -> tuple[int, ...]:
        return tuple(
            names.index(table[letter]) for letter in letters if table[letter] in names
        )

    # -- movies ------------------------------------------------------------------------

    def movies(self) -> None:
        section = self.sections[0]
        preset = self.preset
        famous = FAMOUS_MOVIES[: min(preset.famous_movies, preset.movies)]
        for position in range(preset.movies):
            if position < len(famous):
                title, year, letters = famous[position]
                genres = self._genres(letters, GENRE_LETTERS, GENRES)
            else:
                title, year = self._title(), self.rng.randint(1950, 2025)
                genres = tuple(
                    sorted(self.rng.sample(range(len(GENRES)), self.rng.randint(1, 3)))
                )
            self._movie(section, title, year, genres)

    def _movie(
        self, section: Section, title: str, year: int, genres: tuple[int, ...]
    ) -> Item:
        rng = self.rng
        item = self._item("movie", section, title, self._added(0))
        item.year = year
        item.originally_available_at = self._date(year)
        item.genres = genres
        item.countries = (rng.choice((0, 0, 0, 1, 2, 3, 4)),)
        item.studio = rng.choice(MOVIE_STUDIOS)
        item.content_rating = rng.choice(MOVIE_RATINGS)
        item.summary = self._summary("film")
        item.tagline = rng.choice(TAGLINES)
        item.rating = round(rng.uniform(4.5, 9.8), 1)
        item.audience_rating = round(rng.uniform(4.0, 9.9), 1)
        item.duration = rng.randint(85, 170) * 60_000 + rng.randint(0, 59) * 1000
        item.directors = (rng.randrange(len(self.people)),)
        item.writers = tuple(rng.sample(range(len(self.people)), rng.randint(1, 2)))
        # Derived, not drawn: adding producers left every other draw as it was.
        people = len(self.people)
        item.producers = tuple(
            (item.rating_key * step + 5) % people
            for step in (31, 17)[: 1 + item.rating_key % 2]
        )
        item.roles = tuple(
            rng.sample(
                range(len(self.people)), min(len(self.people), rng.randint(5, 9))
            )
        )
        item.external_ids = (
            rng.randint(10_000, 9_999_999),
            rng.randint(100, 999_999),
            rng.randint(1_000, 399_999),
        )
        self._video_file(item, rng.choice((0, 1, 1, 1, 2, 3, 4)))
        self._watch(item, watched=0.35, in_progress=0.1)
        if item.rating_key == 1:
            # The first movie is a DTS file watched again (``media_1.xml``).
            item.media_profile = DTS_PROFILE
            item.media_size = (
                VIDEO_PROFILES[DTS_PROFILE].bitrate * (item.duration or 0) // 8
            )
            self._rewatching(item, days_ago=2)
        return item

    def _rewatching(self, item: Item, *, days_ago: int) -> None:
        """Played before and in progress again; draws nothing."""
        item.view_count = max(1, item.view_count)
        item.view_offset = (item.duration or 0) // 3 // 1000 * 1000
        item.last_viewed_at = max(item.last_viewed_at or 0, self.now - days_ago * DAY)

    def _video_file(self, item: Item, profile: int) -> None:
        item.media_profile = profile
        item.media_size = VIDEO_PROFILES[profile].bitrate * (item.duration or 0) // 8
        item.subtitles = self.rng.choice((0, 1, 1, 2, 3))

    # -- shows -------------------------------------------------------------------------

    def shows(self) -> None:
        section = self.sections[1]
        preset = self.preset
        famous = FAMOUS_SHOWS[: min(preset.famous_shows, preset.shows)]
        for position in range(preset.shows):
            if position < len(famous):
                title, year, network, letters = famous[position]
                genres = self._genres(letters, GENRE_LETTERS, GENRES)
            else:
                title, year = self._title(), self.rng.randint(1985, 2024)
                network = self.rng.choice(NETWORKS)
                genres = tuple(
                    sorted(self.rng.sample(range(len(GENRES)), self.rng.randint(1, 3)))
                )
            self._show(section, title, year, network, genres)

    def _season_sizes(self) -> list[int]:
        rng, preset = self.rng, self.preset
        seasons = rng.randint(*preset.seasons)
        if preset.episodes_per_show is None:
            return [rng.randint(*preset.episodes) for _ in range(seasons)]
        # Split an exact number of episodes over the seasons (each at least one).
        cuts = sorted(rng.sample(range(1, preset.episodes_per_show), seasons - 1))
        bounds = [0, *cuts, preset.episodes_per_show]
        return [high - low for low, high in itertools.pairwise(bounds)]

    def _show(
        self,
        section: Section,
        title: str,
        year: int,
        network: str,
        genres: tuple[int, ...],
    ) -> Item:
        rng = self.rng
        show = self._item("show", section, title, self._added(0))
        show.year = year
        show.originally_available_at = self._date(year)
        show.genres = genres
        show.countries = (rng.choice((0, 0, 1, 2, 5)),)
        show.studio = network
        show.content_rating = rng.choice(SHOW_RATINGS)
        show.summary = self._summary("series")
        show.rating = round(rng.uniform(5.5, 9.6), 1)
        show.audience_rating = round(rng.uniform(5.0, 9.8), 1)
        show.duration = rng.choice((22, 30, 45, 55, 60)) * 60_000
        show.roles = tuple(
            rng.sample(
                range(len(self.people)), min(len(self.people), rng.randint(4, 6))
            )
        )
        show.index = 1
        show.external_ids = (
            rng.randint(10_000, 9_999_999),
            rng.randint(1_000, 299_999),
            rng.randint(70_000, 450_000),
        )
        profile = rng.choice((1, 1, 3, 3, 4, 0))
        if not section.by_kind["show"][:-1]:
            profile = (
                DTS_PROFILE  # the first show is 1080p DTS, like ``children_20.xml``
            )
        watched_until = rng.choice((0, 0, 0.3, 0.7, 1.0))
        sizes = self._season_sizes()
        total = sum(sizes)
        number = 0
        added = show.added_at
        for season_index, size in enumerate(sizes, start=1):
            season = self._item(
                "season", section, f"Season {season_index}", added, parent=show
            )
            season.index = season_index
            season.year = year + season_index - 1
            season.summary = ""
            season.external_ids = (
                0,
                rng.randint(1_000, 299_999),
                rng.randint(70_000, 950_000),
            )
            for episode_index in range(1, size + 1):
                number += 1
                added = min(self.now - DAY, added + rng.randint(0, 7 * DAY))
                episode_title = "Pilot" if number == 1 else self._title()
                episode = self._item(
                    "episode", section, episode_title, added, parent=season
                )
                episode.title_sort = None
                self._episode(episode, show, season, episode_index, profile)
                if number <= total * watched_until:
                    episode.view_count = 1
                    episode.last_viewed_at = rng.randint(episode.added_at, self.now)
                elif (
                    number == int(total * watched_until) + 1
                    and watched_until
                    and rng.random() < 0.5
                ):
                    episode.view_offset = (episode.duration or 0) // 3 // 1000 * 1000
                    episode.last_viewed_at = rng.randint(episode.added_at, self.now)
        if not section.by_kind["show"][:-1]:
            # The first show is being watched again from its pilot (``hubs.xml``).
            pilot = self.sections[1].by_kind["episode"][-number]
            self._rewatching(pilot, days_ago=1)
        return show

    def _episode(
        self, episode: Item, show: Item, season: Item, index: int, profile: int
    ) -> None:
        rng = self.rng
        episode.index = index
        season_year = season.year or show.year or 2000
        episode.year = season_year
        episode.originally_available_at = self._date(season_year)
        episode.content_rating = show.content_rating
        episode.summary = self._summary("episode")
        episode.audience_rating = round(rng.uniform(6.0, 9.9), 1)
        episode.duration = (show.duration or 0) + rng.randint(-180, 180) * 1000
        episode.directors = (rng.randrange(len(self.people)),)
        episode.writers = (rng.randrange(len(self.people)),)
        episode.external_ids = (
            rng.randint(10_000, 9_999_999),
            rng.randint(100_000, 4_999_999),
            rng.randint(100_000, 9_999_999),
        )
        self._video_file(episode, profile)

    # -- music -------------------------------------------------------------------------

    def music(self) -> None:
        section = self.sections[2]
        preset = self.preset
        famous = FAMOUS_ARTISTS[: min(preset.famous_artists, preset.artists)]
        for position in range(preset.artists):
            if position < len(famous):
                name, country, letters = famous[position]
                genres = self._genres(letters, MUSIC_GENRE_LETTERS, MUSIC_GENRES)
            else:
                name, country = (
                    self._artist_name(),
                    self.rng.choice(
                        ("United States of America", "United Kingdom", "Canada")
                    ),
                )
                genres = tuple(
                    sorted(
                        self.rng.sample(
                            range(len(MUSIC_GENRES)), self.rng.randint(1, 2)
                        )
                    )
                )
            self._artist(section, name, country, genres)

    def _artist_name(self) -> str:
        rng = self.rng
        pattern = rng.randrange(4)
        if pattern == 0:
            return f"The {rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}s"
        if pattern == 1:
            return rng.choice(self.people)
        if pattern == 2:
            return f"{rng.choice(NOUNS)} {rng.choice(NOUNS)}"
        return f"{rng.choice(PLACES)} {rng.choice(('Collective', 'Orchestra', 'Trio', 'Sound System'))}"

    def _artist(
        self, section: Section, name: str, country: str, genres: tuple[int, ...]
    ) -> Item:
        rng = self.rng
        artist = self._item("artist", section, name, self._added(0))
        artist.genres = genres
        artist.countries = (COUNTRIES.index(country),) if country in COUNTRIES else ()
        artist.summary = (
            f"{name} is an artist known for {rng.choice(ADJECTIVES).lower()} records."
        )
        artist.index = 1
        profile = rng.randrange(len(AUDIO_PROFILES))
        added = artist.added_at
        for album_index in range(1, rng.randint(*self.preset.albums) + 1):
            year = rng.randint(1965, 2024)
            album = self._item(
                "album", section, self._album_title(), added, parent=artist
            )
            album.index = album_index
            album.year = year
            album.originally_available_at = self._date(year)
            album.studio = rng.choice(LABELS)
            album.genres = genres[:1]
            album.summary = ""
            for track_index in range(1, rng.randint(*self.preset.tracks) + 1):
                track = self._item("track", section, self._title(), added, parent=album)
                track.title_sort = None
                track.index = track_index
                track.duration = rng.randint(120, 420) * 1000 + rng.randint(0, 999)
                track.summary = ""
                track.media_profile = profile
                track.media_size = AUDIO_PROFILES[profile].bitrate * track.duration // 8
                self._watch(track, watched=0.2, in_progress=0.0)
                if track_index == 1 and not section.by_kind["artist"][:-1]:
                    # Someone listens to the first artist (``children_200.xml``).
                    track.view_count = max(1, track.view_count)
                    track.last_viewed_at = track.last_viewed_at or self.now - DAY
            added = min(self.now - DAY, added + rng.randint(DAY, 90 * DAY))
        return artist

    def _album_title(self) -> str:
        rng = self.rng
        pattern = rng.randrange(3)
        if pattern == 0:
            return f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)}"
        if pattern == 1:
            return rng.choice(NOUNS)
        return f"Songs from the {rng.choice(NOUNS)}"

    # -- photos ------------------------------------------------------------------------

    def photos(self) -> None:
        section = self.sections[3]
        preset = self.preset
        number = 0
        for album_index in range(preset.photo_albums):
            name = PHOTO_ALBUMS[album_index % len(PHOTO_ALBUMS)]
            year = self.rng.randint(2015, 2025)
            if album_index >= len(PHOTO_ALBUMS):
                name = f"{name} {year}"
            album = self._item("photoalbum", section, name, self._added(0))
            album.year = year
            album.index = 1
            for _ in range(preset.photos_per_album):
                number += 1
                self._photo(section, number, album.added_at, album)
        for _ in range(preset.loose_photos):
            number += 1
            self._photo(section, number, self._added(0), None)

    def _photo(
        self, section: Section, number: int, added: int, album: Item | None
    ) -> Item:
        photo = self._item("photo", section, f"IMG_{number:04d}", added, parent=album)
        year = (
            album.year
            if album is not None and album.year
            else self.rng.randint(2015, 2025)
        )
        photo.year = year
        photo.originally_available_at = self._date(year)
        photo.index = 1
        photo.media_size = self.rng.randint(1_500_000, 6_000_000)
        return photo

    # -- collections, playlists, users ---------------------------------------------------------

    def collections_(self) -> None:
        movies, shows = self.sections[0], self.sections[1]
        by_title = movies.by_kind["movie"]
        for name, prefix in FAMOUS_COLLECTIONS:
            members = [movie for movie in by_title if movie.title.startswith(prefix)]
            if len(members) > 1:
                self._collection(movies, name, members)
        for _ in range(self.preset.genre_collections):
            genre = self.rng.randrange(len(GENRES))
            members = [movie for movie in by_title if genre in movie.genres]
            if members:
                picked = self.rng.sample(
                    members, min(len(members), self.rng.randint(4, 20))
                )
                self._collection(
                    movies,
                    f"Best of {GENRES[genre]}",
                    sorted(picked, key=lambda m: m.rating_key),
                )
        show_list = shows.by_kind["show"]
        for number in range(self.preset.show_collections):
            picked = self.rng.sample(
                show_list, min(len(show_list), self.rng.randint(2, 6))
            )
            title = ("Prestige Drama", "Comfort Comedies", "Weekend Binge")[number % 3]
            self._collection(
                shows,
                title if number < 3 else f"{title} {number}",
                sorted(picked, key=lambda s: s.rating_key),
            )

    def _collection(
        self, section: Section, title: str, members: list[Item]
    ) -> Collection:
        collection = Collection(
            self._key(),
            section,
            title,
            added_at=self._added(0),
            guid=f"collection://{stable_uuid('collection', self.seed, title)}",
        )
        collection.items = members
        collection.content_rating = members[0].content_rating
        collection.summary = f"{len(members)} titles."
        self.collections[collection.rating_key] = collection
        section.collections.append(collection)
        for member in members:
            member.collections = (*member.collections, collection.rating_key)
        return collection

    def playlists_(self) -> None:
        size = self.preset.playlist_size
        movies = self.sections[0].by_kind["movie"]
        episodes = self.sections[1].by_kind["episode"]
        tracks = self.sections[2].by_kind["track"]
        specs = (
            ("Movie Night", "video", self.rng.sample(movies, min(len(movies), size))),
            ("Binge List", "video", episodes[: min(len(episodes), size)]),
            ("Road Trip", "audio", self.rng.sample(tracks, min(len(tracks), size * 2))),
            ("Focus", "audio", self.rng.sample(tracks, min(len(tracks), size))),
        )
        playlist_item_id = 1
        for title, playlist_type, members in specs:
            playlist = Playlist(
                self._key(),
                title,
                playlist_type,
                added_at=self._added(0),
                guid=f"com.plexapp.agents.none://{stable_uuid('playlist', self.seed, title)}",
            )
            for member in members:
                playlist.entries.append((playlist_item_id, member))
                playlist_item_id += 1
            if self.rng.random() < 0.7:
                playlist.view_count = self.rng.randint(1, 9)
                playlist.last_viewed_at = self.rng.randint(playlist.added_at, self.now)
            self.playlists[playlist.rating_key] = playlist

    def shared_users(self) -> list[SharedUser]:
        def token(user_id: int) -> str:
            return hashlib.blake2b(
                f"shared:{self.seed}:{user_id}".encode(), digest_size=10
            ).hexdigest()

        return [
            SharedUser(1000, "Sam", token(1000), frozenset({1, 2})),
            SharedUser(1001, "Alex", token(1001), frozenset({3})),
        ]

    def tag_counts(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for item in self.items.values():
            base = (
                MUSIC_GENRE_TAG_BASE
                if item.section.type == "artist"
                else GENRE_TAG_BASE
            )
            for genre in item.genres:
                counts[base + genre] = counts.get(base + genre, 0) + 1
            for country in item.countries:
                counts[COUNTRY_TAG_BASE + country] = (
                    counts.get(COUNTRY_TAG_BASE + country, 0) + 1
                )
            for person in (
                *item.directors,
                *item.writers,
                *item.producers,
                *item.roles,
            ):
                counts[PERSON_TAG_BASE + person] = (
                    counts.get(PERSON_TAG_BASE + person, 0) + 1
                )
        return counts

    def shift_times(self, delta: int) -> None:
        """Move every timestamp by ``delta`` seconds."""
        for section in self.sections:
            section.created_at += delta
            section.updated_at += delta
            section.scanned_at += delta
            section.content_changed_at += delta
        for item in self.items.values():
            item.added_at += delta
            item.updated_at += delta
            if item.last_viewed_at is not None:
                item.last_viewed_at += delta
        for collection in self.collections.values():
            collection.added_at += delta
            collection.updated_at += delta
        for playlist in self.playlists.values():
            playlist.added_at += delta
            playlist.updated_at += delta
            if playlist.last_viewed_at is not None:
                playlist.last_viewed_at += delta

    def build(self, now: int) -> World:
        """Generate everything, with times relative to ``now``."""
        self.movies()
        self.shows()
        self.music()
        self.photos()
        self.collections_()
        self.playlists_()
        self.shift_times(now - self.now)
        return World(
            sections=self.sections,
            items=self.items,
            collections=self.collections,
            playlists=self.playlists,
            people=self.people,
            shared_users=self.shared_users(),
            next_rating_key=self.next_key,
            tag_counts=self.tag_counts(),
        )


def generate(preset: str | Preset, *, seed: int = 0, clock: ClockLike) -> World:
    """Generate the world of a preset (``small``, ``demo``, ``large``)."""
    spec = preset if isinstance(preset, Preset) else PRESETS[preset]
    # Draw everything against a fixed "now", then move the times to the clock's, so
    # that the clock changes the dates only, never the random draws.
    return _Builder(spec, seed, REFERENCE_NOW).build(clock.timestamp())
