"""Ranked full-text search over the mirror (rules in the module docstring below).

Work in progress: ``SearchHit`` is final; ``search`` lands next.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .store import MirrorItem, MirrorStore


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One result: the item, its score (higher is better) and what matched."""

    item: MirrorItem
    score: float
    match: str


def search(
    store: MirrorStore,
    query: str | None,
    *,
    types: Collection[str] | None = None,
    library_keys: Collection[str] | None = None,
    year: int | None = None,
    year_range: tuple[int, int] | None = None,
    genre: str | None = None,
    watched: bool | None = None,
    external_id: tuple[str, str] | None = None,
    limit: int = 10,
) -> list[SearchHit]:
    """Not built yet."""
    raise NotImplementedError
