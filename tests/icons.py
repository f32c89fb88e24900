"""Draws the site's icons shipped in publisher/data/icons/: the SVG the pages use as their
favicon, and the PNG sizes feeds and browsers want (model.Icon says which). One drawing, a feed
symbol on a rounded blue square (the logo: the symbol and three headline bars, 2:1), written as
SVG and rasterised here with numpy (supersampled), so the PNGs are the SVG's shapes; no clock,
no metadata chunks: the same bytes every time.

    .venv/bin/python tests/icons.py --update     # after changing the drawing

test_icons.py checks that the shipped files are what this draws (their pixels) and the sizes
model.Icon declares.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ICONS = HERE.parent / "publisher" / "data" / "icons"

BLUE = (11, 87, 208)  # the pages' link colour (#0b57d0)
WHITE = (255, 255, 255)
RADIUS = 14  # of the square's corners, in the 64-unit drawing
CORNER = (12.5, 51.5)  # the feed symbol's centre of its arcs
DOT = (17.5, 46.5, 5.0)  # x, y, r
ARCS = ((17.0, 25.0), (31.0, 39.0))  # inner and outer radius of each quarter ring
BARS = ((70.0, 17.0, 46.0), (70.0, 29.0, 38.0), (70.0, 41.0, 28.0))  # the logo's: x, y, length
BAR_HEIGHT = 7.0


def _ring(r1: float, r2: float) -> str:
    cx, cy = CORNER
    return (f'<path d="M{cx:g} {cy - r2:g}A{r2:g} {r2:g} 0 0 1 {cx + r2:g} {cy:g}H{cx + r1:g}'
            f'A{r1:g} {r1:g} 0 0 0 {cx:g} {cy - r1:g}Z"/>')


def svg(width: int = 64) -> bytes:
    """The drawing as SVG: 64 x 64 units (the icon), or 128 x 64 (the logo)."""
    x, y, r = DOT
    shapes = [f'<circle cx="{x:g}" cy="{y:g}" r="{r:g}"/>', *(_ring(a, b) for a, b in ARCS)]
    if width > 64:
        h = BAR_HEIGHT
        shapes += [f'<rect x="{bx:g}" y="{by:g}" width="{length:g}" height="{h:g}" rx="{h / 2:g}"/>'
                   for bx, by, length in BARS]
    body = "".join(shapes)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} 64" width="{width}" height="64">'
            f'<rect width="{width}" height="64" rx="{RADIUS}" fill="#{"%02x%02x%02x" % BLUE}"/>'
            f'<g fill="#fff">{body}</g></svg>\n').encode()


def _coverage(width: int, height: int, units: int) -> tuple[np.ndarray, np.ndarray]:
    """(square, symbol): how much of each pixel each covers, 0..1, for a picture `width` x
    `height` pixels of a drawing `units` wide (64 for the icon, 128 for the logo)."""
    n = 8 if width <= 64 else 4  # samples a pixel, each way
    scale = units / width
    xs = (np.arange(width * n) + 0.5) / n * scale
    ys = (np.arange(height * n) + 0.5) / n * scale
    x, y = np.meshgrid(xs, ys)
    # the rounded square: inside the rectangle, and within RADIUS of the nearest corner centre
    cx = np.clip(x, RADIUS, units - RADIUS)
    cy = np.clip(y, RADIUS, 64 - RADIUS)
    square = (x - cx) ** 2 + (y - cy) ** 2 <= RADIUS ** 2
    dx, dy, r = DOT
    symbol = (x - dx) ** 2 + (y - dy) ** 2 <= r ** 2
    ox, oy = CORNER
    d2 = (x - ox) ** 2 + (y - oy) ** 2
    quarter = (x >= ox) & (y <= oy)
    for r1, r2 in ARCS:
        symbol |= quarter & (d2 >= r1 ** 2) & (d2 <= r2 ** 2)
    if units > 64:
        h = BAR_HEIGHT / 2
        for bx, by, length in BARS:  # a rounded bar: within h of its middle segment
            mx = np.clip(x, bx + h, bx + length - h)
            symbol |= (x - mx) ** 2 + (y - (by + h)) ** 2 <= h ** 2

    def per_pixel(mask: np.ndarray) -> np.ndarray:
        return mask.reshape(height, n, width, n).mean(axis=(1, 3))
    return per_pixel(square), per_pixel(symbol)


def pixels(width: int, height: int) -> np.ndarray:
    """The picture as RGBA bytes, height x width x 4."""
    square, symbol = _coverage(width, height, 128 if width > height else 64)
    rgb = np.array(BLUE) * (1 - symbol[..., None]) + np.array(WHITE) * symbol[..., None]
    alpha = square[..., None] * 255
    return np.concatenate([rgb, alpha], axis=2).round().astype(np.uint8)


def png(width: int, height: int) -> bytes:
    rgba = pixels(width, height)
    raw = b"".join(b"\0" + rgba[row].tobytes() for row in range(height))  # filter: none

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def ico(sizes: tuple[int, ...]) -> bytes:
    """A .ico holding a PNG of each size (every browser reads PNGs inside .ico)."""
    images = [png(s, s) for s in sizes]
    out = struct.pack("<HHH", 0, 1, len(images))
    offset = 6 + 16 * len(images)
    for size, data in zip(sizes, images):
        out += struct.pack("<BBBBHHII", size % 256, size % 256, 0, 0, 1, 32, len(data), offset)
        offset += len(data)
    return out + b"".join(images)


ICO_SIZES = (16, 32, 48)


def files() -> dict[str, bytes]:
    """Every shipped icon file, by the name model.Icon gives it."""
    from publisher.model import Icon

    out = {}
    for icon in Icon:
        width, height = icon.size
        if icon is Icon.SVG:
            out[icon.filename] = svg(64 * width // height)
        elif icon is Icon.ICO:
            out[icon.filename] = ico(ICO_SIZES)
        else:
            out[icon.filename] = png(width, height)
    return out


def main(argv: list[str]) -> int:
    if argv != ["--update"]:
        print("usage: tests/icons.py --update", file=sys.stderr)
        return 2
    ICONS.mkdir(parents=True, exist_ok=True)
    for name, data in files().items():
        (ICONS / name).write_bytes(data)
        print(f"{ICONS / name}: {len(data):,} bytes")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parent))
    sys.exit(main(sys.argv[1:]))
