"""The site's icons: shipped as drawn (tests/icons.py), of the sizes model.Icon declares (what
the feeds say of them), published beside the front page and named by every feed."""

from __future__ import annotations

import json
import struct
import zlib

import lxml.etree
import numpy as np
import pytest

import icons
from conftest import SEED
from publisher.model import Icon

SHIPPED = icons.ICONS
ATOM = "{http://www.w3.org/2005/Atom}"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def png_pixels(data: bytes) -> np.ndarray:
    """The RGBA pixels of a PNG as tests/icons.py writes them (8-bit RGBA, rows unfiltered)."""
    width, height = png_size(data)
    idat, pos = b"", 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(height, 1 + 4 * width)
    assert (rows[:, 0] == 0).all()  # filter "none" on every row
    return rows[:, 1:].reshape(height, width, 4)


def ico_images(data: bytes) -> list[tuple[int, bytes]]:
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind) == (0, 1)
    out = []
    for i in range(count):
        width, height, _, _, _, _, size, offset = struct.unpack("<BBBBHHII", data[6 + 16 * i:22 + 16 * i])
        assert width == height
        out.append((width or 256, data[offset:offset + size]))
    return out


def test_the_shipped_icons_are_what_tests_icons_draws():
    drawn = icons.files()
    assert sorted(p.name for p in SHIPPED.iterdir()) == sorted(drawn) == sorted(i.filename for i in Icon)
    for icon in Icon:
        shipped = (SHIPPED / icon.filename).read_bytes()
        if icon is Icon.SVG:
            assert shipped == drawn[icon.filename]
        elif icon is Icon.ICO:
            for (size, image), (_, ours) in zip(ico_images(shipped), ico_images(drawn[icon.filename]), strict=True):
                assert (png_pixels(image) == png_pixels(ours)).all(), size
        else:  # the same pixels (zlib's bytes may differ between builds of it)
            assert (png_pixels(shipped) == png_pixels(drawn[icon.filename])).all(), icon


def test_each_icon_has_the_size_model_icon_declares():
    for icon in Icon:
        data = (SHIPPED / icon.filename).read_bytes()
        if icon is Icon.SVG:
            svg = lxml.etree.fromstring(data)
            assert svg.get("viewBox") == "0 0 %d %d" % icon.size
            assert (svg.get("width"), svg.get("height")) == tuple(map(str, icon.size))
        elif icon is Icon.ICO:
            assert [size for size, _ in ico_images(data)] == [16, 32, 48]
            assert all(png_size(image) == (size, size) for size, image in ico_images(data))
        else:
            assert png_size(data) == icon.size, icon
    width, height = Icon.LOGO.size
    assert width == 2 * height  # Atom: a logo twice as wide as tall
    assert Icon.MEDIUM.size[0] <= 144 and Icon.MEDIUM.size[1] <= 400  # RSS 2.0's bounds of <image>
    assert Icon.LARGE.size == (512, 512) and Icon.SMALL.size == (64, 64)  # JSON Feed's icon, favicon
    large = png_pixels((SHIPPED / Icon.LARGE.filename).read_bytes())
    assert large[0, 0, 3] == 0 and large[256, 256, 3] == 255  # rounded corners, see-through; opaque inside


def test_the_icons_have_no_script_and_no_clock():
    """Nothing in them that varies (no tIME or text chunk) or runs (no script in the SVG)."""
    svg = (SHIPPED / Icon.SVG.filename).read_bytes()
    assert b"script" not in svg.lower() and b"href" not in svg and b" on" not in svg
    for icon in (Icon.SMALL, Icon.MEDIUM, Icon.LARGE, Icon.LOGO):
        data = (SHIPPED / icon.filename).read_bytes()
        kinds, pos = [], 8
        while pos < len(data):
            length, kind = struct.unpack(">I4s", data[pos:pos + 8])
            kinds.append(kind)
            pos += 12 + length
        assert kinds == [b"IHDR", b"IDAT", b"IEND"], icon


@pytest.fixture
def published(project, seed):
    project.add_source(SEED.name, seed)
    assert project.publish().problems() == []
    return project


def test_a_publish_writes_the_icons_beside_the_front_page_once(published):
    for icon in Icon:
        assert (published.feeds / icon.filename).read_bytes() == (SHIPPED / icon.filename).read_bytes()
    mtimes = {icon: (published.feeds / icon.filename).stat().st_mtime_ns for icon in Icon}
    report = published.publish()
    assert report.problems() == [] and report.pages_written == 0 and report.feed_files_written == []
    assert {icon: (published.feeds / icon.filename).stat().st_mtime_ns for icon in Icon} == mtimes


def test_every_feed_names_the_icons_it_has_room_for(published):
    base = published.config.site.base_url
    for slug in ("ukraine", "taiwan-security", "all"):
        atom = lxml.etree.fromstring((published.feeds / slug / "atom.xml").read_bytes())
        assert atom.findtext(f"{ATOM}icon") == base + Icon.SMALL.filename
        assert atom.findtext(f"{ATOM}logo") == base + Icon.LOGO.filename
        channel = lxml.etree.fromstring((published.feeds / slug / "rss.xml").read_bytes()).find("channel")
        image = channel.find("image")
        assert image.findtext("url") == base + Icon.MEDIUM.filename
        # the channel's own title and link, and the picture's true size
        assert (image.findtext("title"), image.findtext("link")) == (channel.findtext("title"),
                                                                     channel.findtext("link"))
        assert (int(image.findtext("width")), int(image.findtext("height"))) == png_size(
            (published.feeds / Icon.MEDIUM.filename).read_bytes())
        feed = json.loads((published.feeds / slug / "feed.json").read_bytes())
        assert (feed["icon"], feed["favicon"]) == (base + Icon.LARGE.filename, base + Icon.SMALL.filename)
