"""Draw Plex Bridge's brand icons (brand/icon.png 256x256, brand/icon@2x.png 512x512).

Our own drawing: a dark rounded tile, an amber play chevron, and a bridge arch under
it. Run with `source scripts/lib.sh && in_env python scripts/draw_brand.py`.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

BRAND = (
    Path(__file__).resolve().parent.parent
    / "custom_components"
    / "plex_bridge"
    / "brand"
)
TILE = (31, 35, 41, 255)
AMBER = (229, 160, 13, 255)
LIGHT = (235, 238, 242, 255)
SUPERSAMPLE = 4


def draw(size: int) -> Image.Image:
    """The icon at ``size`` pixels, drawn large and scaled down for smooth edges."""
    big = size * SUPERSAMPLE
    image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)
    unit = big / 16
    pen.rounded_rectangle((0, 0, big - 1, big - 1), radius=3 * unit, fill=TILE)
    # The chevron: a play arrow made of a thick open angle.
    pen.polygon(
        [
            (5 * unit, 2.5 * unit),
            (8.5 * unit, 2.5 * unit),
            (12 * unit, 6.5 * unit),
            (8.5 * unit, 10.5 * unit),
            (5 * unit, 10.5 * unit),
            (8.5 * unit, 6.5 * unit),
        ],
        fill=AMBER,
    )
    # The bridge: a deck and an arch with three hangers.
    pen.rectangle((2.5 * unit, 12.5 * unit, 13.5 * unit, 13.3 * unit), fill=LIGHT)
    pen.arc(
        (2.5 * unit, 10.2 * unit, 13.5 * unit, 16.2 * unit),
        start=180,
        end=360,
        fill=LIGHT,
        width=int(0.7 * unit),
    )
    for x in (5.2, 8.0, 10.8):
        pen.rectangle(
            ((x - 0.2) * unit, 10.6 * unit, (x + 0.2) * unit, 12.6 * unit), fill=LIGHT
        )
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main() -> None:
    """Write both icon sizes into the brand folder."""
    BRAND.mkdir(parents=True, exist_ok=True)
    draw(256).save(BRAND / "icon.png", optimize=True)
    draw(512).save(BRAND / "icon@2x.png", optimize=True)


if __name__ == "__main__":
    main()
