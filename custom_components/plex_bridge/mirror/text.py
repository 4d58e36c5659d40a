"""Text normalisation shared by the mirror's index and its queries.

Search must treat "Amélie" and "amelie", "Spider-Man" and "spider man", "Fast & Furious"
and "fast and furious" as the same words, so the same function normalises what goes into
the FTS5 index and what the user types. The rules:

- Unicode NFKD, combining marks dropped (accents go: "é" -> "e"), then case folded
  ("ß" -> "ss"); full-width and ligature forms fold to their plain letters.
- ``&`` (and `` + `` between spaces, "Romeo + Juliet") is the word "and".
- Apostrophes join ("don't" -> "dont", "Ocean's" -> "oceans"): nobody types them.
- Every other character that is not a letter or a digit (punctuation, symbols, emoji,
  control characters, NUL) separates words. So "Spider-Man" is the two words "spider
  man"; "spiderman" still finds it because the index also holds the joined form of
  words that punctuation split (``joined_forms``) and titles are compared in their
  ``compact`` form (no spaces at all) for exact and prefix matches.

The result contains only letters, digits and single spaces, which is also what FTS5's
``unicode61`` tokenizer splits on: a normalised token is always exactly one FTS5 token,
and, quoted, never FTS5 query syntax.
"""

from __future__ import annotations

from collections.abc import Iterable
import functools
import re
import unicodedata

_APOSTROPHES = re.compile(r"['\u2019\u2018\u02bc`\u00b4]")
_AMPERSAND = re.compile(r"\s*&\s*")
_SEPARATOR = re.compile(r"[^\w]|_", re.UNICODE)
# Words punctuation split but that people also write as one ("Spider-Man", "X-Men",
# "AC/DC", "WALL·E"): two or more word runs joined by one non-space separator.
_JOINED = re.compile(r"\w+(?:[-/.\u00b7\u2010\u2011\u2012\u2013]\w+)+", re.UNICODE)
_JOIN_CHARS = re.compile(r"\w[-/.\u00b7\u2010\u2011\u2012\u2013]\w")
_ARTICLES = ("the ", "a ", "an ")


def _fold(text: str) -> str:
    """NFKD, combining marks dropped, case folded (no punctuation handling)."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()


# The ASCII fast path (most titles, names and summaries): one translate() does what the
# regular expressions do for other text. Apostrophes vanish, "&" is " and ", every other
# punctuation or control character is a space.
_ASCII_TABLE = str.maketrans(
    {
        **{chr(code): " " for code in range(128) if not chr(code).isalnum()},
        "'": "",
        "`": "",
        "&": " and ",
    }
)
_SHORT = 96


def normalize(text: str | None) -> str:
    """The searchable form of ``text``: lower-case words and single spaces."""
    if not text:
        return ""
    if len(text) <= _SHORT:
        return _normalize_short(text)
    return _normalize(text)


@functools.lru_cache(maxsize=32768)
def _normalize_short(text: str) -> str:
    """``_normalize`` of a short string (titles and names repeat across a library)."""
    return _normalize(text)


def _normalize(text: str) -> str:
    """``normalize`` without the cache."""
    if " + " in text:
        text = text.replace(" + ", " & ")
    if text.isascii():
        return " ".join(text.lower().translate(_ASCII_TABLE).split())
    folded = _fold(text)
    folded = _APOSTROPHES.sub("", folded)
    folded = _AMPERSAND.sub(" and ", folded)
    folded = _SEPARATOR.sub(" ", folded)
    return " ".join(folded.split())


def tokens(text: str | None) -> list[str]:
    """The words of ``normalize(text)``."""
    normal = normalize(text)
    return normal.split(" ") if normal else []


def compact(text: str | None) -> str:
    """``normalize(text)`` without spaces: "Spider-Man" and "Spiderman" are equal."""
    return normalize(text).replace(" ", "")


def bare(normal: str) -> str:
    """A normalised title without its leading article ("the matrix" -> "matrix")."""
    for article in _ARTICLES:
        if normal.startswith(article) and len(normal) > len(article):
            return normal[len(article) :]
    return normal


def joined_forms(text: str | None) -> list[str]:
    """The one-word forms of words that punctuation split ("Spider-Man" -> "spiderman")."""
    if not text or not _JOIN_CHARS.search(text):
        return []
    folded = _APOSTROPHES.sub("", _fold(text))
    forms = []
    for run in _JOINED.findall(folded):
        joined = normalize(run).replace(" ", "")
        if joined:
            forms.append(joined)
    return forms


def index_text(*parts: str | None) -> str:
    """Several strings normalised and joined into one indexed column value."""
    return " ".join(normal for part in parts if (normal := normalize(part)))


def index_title(title: str | None) -> str:
    """A title as the FTS5 ``title`` column holds it: its words, then the joined forms."""
    words = normalize(title)
    extra = [form for form in joined_forms(title) if form not in words.split(" ")]
    return " ".join([words, *extra]) if extra else words


def unique(words: Iterable[str]) -> list[str]:
    """Words in their first order without repeats."""
    return list(dict.fromkeys(words))
