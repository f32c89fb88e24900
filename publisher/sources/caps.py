"""The [limits] caps of one story, and the counting of what a file holds past its caps. Pure.

A story keeps its first `paragraphs_per_story` paragraphs and its first `bytes_per_story`
bytes of text (UTF-8, whole paragraphs; a first paragraph longer than that is cut at a word).
Each cap a file's stories reach is one warning for the whole file, naming the key, so that a
file of a million oversized stories is two lines, not two million.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from publisher.model import Limits


def cap_paragraphs(paragraphs: Sequence[str], limits: Limits) -> tuple[tuple[str, ...], str | None]:
    """(the paragraphs kept, the key of the cap that cut them, or None when none did)."""
    if len(paragraphs) > limits.paragraphs_per_story:
        paragraphs, key = paragraphs[: limits.paragraphs_per_story], "paragraphs_per_story"
    else:
        key = None
    budget = limits.bytes_per_story
    kept: list[str] = []
    for p in paragraphs:
        size = len(p.encode()) + (1 if kept else 0)  # the text joins paragraphs with "\n"
        if size > budget:
            if not kept:  # one paragraph larger than the cap: its first words
                cut = p.encode()[:budget].decode(errors="ignore")
                kept.append(cut[: cut.rfind(" ")].rstrip() if " " in cut[1:] else cut)
            return tuple(kept), "bytes_per_story"
        budget -= size
        kept.append(p)
    return tuple(kept), key


def cap_warnings(cut: Iterable[tuple[str, int, int]], limits: Limits, unit: str = "line") -> list[str]:
    """One warning per cap from (key, where, how many) of every story a cap cut: the count,
    the first place and the key."""
    first: dict[str, tuple[int, int, int]] = {}  # key -> (stories, first place, its size)
    for key, where, size in cut:
        n, place, was = first.get(key, (0, where, size))
        first[key] = (n + 1, place, was)
    out = []
    for key, (n, place, size) in first.items():
        what = "paragraphs" if key == "paragraphs_per_story" else "bytes"
        cap = getattr(limits, key)
        if n == 1:
            out.append(f"{unit} {place:,}: a story of {size:,} {what}; the first {cap:,} read (limits.{key})")
        else:
            out.append(f"{n:,} stories of more than {cap:,} {what}, the first at {unit} {place:,}; "
                       f"the first {cap:,} of each read (limits.{key})")
    return out


# A block of text: lines that are not blank, the first holding a letter or digit. Anchored at
# line starts and possessive, so a long line costs one pass, never a pass per character.
# Lines with no letter or digit ("", "***", "---") part blocks, as the wire reader reads them.
_BLOCK = re.compile(r"^[^\w\n]*+\w[^\n]*+(?:\n[^\w\n]*+\w[^\n]*+)*+", re.MULTILINE)
_BLANK_LINE = re.compile(r"\n[^\w\n]*+(?=\n|\Z)")


# A line that is a story of its own inside a block (wire rules 5 and 6): an ALL-CAPS label
# and a colon ("ON ALERT: ..."), or 500 characters and more. Roughly: this only counts.
_ONE_LINER = re.compile(r"^(?:[A-Z][A-Z0-9 '’&.,/-]{1,59}:\s|[^\n]{500})", re.MULTILINE)


def blocks_after(text: str, offset: int, mid_block: bool) -> int:
    """How many stories start at or after `offset`, roughly: each block of text (separated by
    blank lines: most often one story each) and each one-line story after a block's first
    line (a run of kicker lines with no blank line between is a story a line); with
    `mid_block`, the block `offset` is in the middle of is not counted (its story was read, or
    counted, already). A cheap count of what a file holds past a cap: regular-expression
    passes, no segmentation."""
    n = 0
    if mid_block:  # the rest of that block: the one-line stories in it (offset starts a line)
        blank = _BLANK_LINE.search(text, offset)
        n = sum(1 for _ in _ONE_LINER.finditer(text, offset, blank.start() if blank else len(text)))
        if blank is None:
            return n
        offset = blank.end()
    for block in _BLOCK.finditer(text, offset):
        first_end = text.find("\n", block.start(), block.end())
        n += 1 + (0 if first_end < 0 else sum(1 for _ in _ONE_LINER.finditer(text, first_end + 1, block.end())))
    return n
