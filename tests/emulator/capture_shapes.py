"""The facts the real captures establish, kept in the repository: capture_shapes.json.

The captures (``shared/plex-reference/captures``) are not part of the repository, but
what the capture comparison checks of them is small: for each capture that answers a
request of ``test_fidelity_captures.CASES``, its kinds of elements (``fidelity.Kind``:
the tag, plus ``type`` for ``Directory`` / ``Video``) and, per kind, the union of
their attribute names (``fidelity.attributes_by_kind``). That shape is all that
``fidelity.compare_shapes`` needs, so the emulator is checked against this file in
every clone, and the file is checked against the captures wherever they are present
(``test_fidelity_captures.test_shapes_file_matches_captures``).

After a capture or a case changes, regenerate it (with the reference beside the clone):

    source scripts/lib.sh && in_env python -m tests.emulator.capture_shapes --write

Without ``--write`` it only says whether the file is up to date (exit status 1 if not).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping, Sequence
import functools
import json
from pathlib import Path
import sys

from .fidelity import (
    Kind,
    Shape,
    attributes_by_kind,
    format_kind,
    load_capture,
    reference_problem,
)

SHAPES_PATH = Path(__file__).with_name("capture_shapes.json")
REGENERATE = (
    "source scripts/lib.sh && in_env python -m tests.emulator.capture_shapes --write"
)
ABOUT = (
    "Distilled from shared/plex-reference/captures by tests/emulator/capture_shapes.py: "
    "for each capture of test_fidelity_captures.CASES, its element kinds (tag, or "
    "tag/type for Directory and Video) and their attribute names. Do not edit by hand; "
    f"regenerate with: {REGENERATE}"
)

Shapes = dict[str, Shape]
"""Capture file name -> the shape of that capture."""


def kind_key(kind: Kind) -> str:
    """A kind as the file spells it (``format_kind``); refuses one it could not read back."""
    key = format_kind(kind)
    if parse_kind_key(key) != kind:
        raise ValueError(
            f"the kind {kind!r} cannot be written unambiguously as {key!r}"
        )
    return key


def parse_kind_key(key: str) -> Kind:
    """The kind a key of the file names (``Video/episode`` or ``Media``)."""
    tag, _, type_ = key.partition("/")
    return (tag, type_ or None)


def distil(names: Iterable[str]) -> Shapes:
    """The shape of each named capture, read from the reference material."""
    return {name: attributes_by_kind(load_capture(name)) for name in sorted(names)}


def render(shapes: Mapping[str, Shape]) -> str:
    """The file's text: sorted, one kind per line, so that a change reads as a diff."""
    lines = ["{", f'  "about": {json.dumps(ABOUT)},', '  "captures": {']
    for n, name in enumerate(sorted(shapes)):
        lines.append(f"    {json.dumps(name)}: {{")
        kinds = sorted(
            (kind_key(kind), sorted(attrs)) for kind, attrs in shapes[name].items()
        )
        lines.extend(
            f"      {json.dumps(key)}: {json.dumps(attrs)}"
            + ("," if k < len(kinds) - 1 else "")
            for k, (key, attrs) in enumerate(kinds)
        )
        lines.append("    }" + ("," if n < len(shapes) - 1 else ""))
    lines += ["  }", "}", ""]
    return "\n".join(lines)


def parse(text: str) -> Shapes:
    """The shapes a file's text holds (``render``'s inverse)."""
    captures: dict[str, dict[str, list[str]]] = json.loads(text)["captures"]
    return {
        name: {parse_kind_key(key): set(attrs) for key, attrs in kinds.items()}
        for name, kinds in captures.items()
    }


@functools.cache
def committed_shapes() -> Shapes:
    """The shapes in the committed ``capture_shapes.json`` (read once)."""
    return parse(SHAPES_PATH.read_text(encoding="utf-8"))


def differing_captures(
    left: Mapping[str, Shape], right: Mapping[str, Shape]
) -> list[str]:
    """The names of the captures whose shapes differ (or that only one side has)."""
    return sorted(
        name for name in left.keys() | right.keys() if left.get(name) != right.get(name)
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Check (or with ``--write`` rewrite) the file against the captures."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.emulator.capture_shapes",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help=f"rewrite {SHAPES_PATH.name} from the captures",
    )
    args = parser.parse_args(argv)
    # Imported here: the test module imports this one (for committed_shapes).
    from .test_fidelity_captures import CASES

    if problem := reference_problem():
        sys.stderr.write(f"{problem}\n")
        return 2
    text = render(distil(CASES))
    if args.write:
        SHAPES_PATH.write_text(text, encoding="utf-8")
        sys.stdout.write(f"wrote {SHAPES_PATH} ({len(CASES)} captures)\n")
        return 0
    stale = differing_captures(
        parse(text), parse(SHAPES_PATH.read_text(encoding="utf-8"))
    )
    if stale:
        sys.stderr.write(
            f"{SHAPES_PATH.name} is out of date for: {', '.join(stale)}\n"
            f"regenerate with: {REGENERATE}\n"
        )
        return 1
    sys.stdout.write(f"{SHAPES_PATH.name} is up to date ({len(CASES)} captures)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
