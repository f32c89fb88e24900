"""Full-text search, the pure part: what is indexed of a story, how a user's words become an
SQLite FTS5 query, and how a highlighted snippet becomes marked text. No SQL runs here.

The index (store.py, migration 0011_search) holds one row per published entry: its current
title and text. Retracted entries are not in it.

A user's words are never FTS5 syntax. Each whitespace-separated word is one quoted FTS5
string (a `"` inside doubled), so `AND`, `NEAR(`, `*`, `-`, `:`, `^` and unbalanced quotes are
words like any other; a word with no letter or digit (the tokenizer would give it no token) is
dropped; the words must all match (FTS5's implicit AND). At most MAX_QUERY_CHARS characters
and MAX_TERMS words are searched: the rest is said to be left out, never an error.

Highlighting: FTS5's highlight() and snippet() put OPEN and CLOSE around each match. Both are
control characters that `document` removes from every indexed text, so they only ever come
from FTS5; `marked` turns them into (matched, text) segments, and the template escapes the
text of each (a story's text never becomes markup).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# porter: English stems ("missiles" finds "missile"); unicode61 remove_diacritics 2: case and
# accents folded ("krakow" finds "Kraków"). Changing it takes a migration that rebuilds the index.
TOKENIZE = "porter unicode61 remove_diacritics 2"
MAX_QUERY_CHARS = 200
MAX_TERMS = 10
OPEN, CLOSE = "\x02", "\x03"
ELLIPSIS = "…"
SNIPPET_TOKENS = 24  # words of text around the matches (FTS5 allows at most 64)

# What XML cannot carry (render.text.xml_text removes the same) and so no page shows: C0
# controls but tab, newline and CR (OPEN and CLOSE among them), lone surrogates, U+FFFE/U+FFFF.
_UNSHOWN = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text: str) -> str:
    """`text` without the characters no page shows (so without OPEN and CLOSE)."""
    return _UNSHOWN.sub("", text)


def document(title: str, kicker: str | None, paragraphs: list[str] | tuple[str, ...]) -> tuple[str, str]:
    """(title, body) of a story as indexed: its current title, and its kicker and paragraphs
    as its page shows them (a colon after the kicker, a paragraph a line)."""
    body = "\n".join(paragraphs)
    return clean(title), clean(f"{kicker}: {body}" if kicker else body)


@dataclass(frozen=True, slots=True)
class Query:
    text: str  # what was searched for: the words kept, one space apart
    expression: str | None  # the FTS5 MATCH expression; None: no word to search for
    cut: bool  # words past MAX_QUERY_CHARS or MAX_TERMS were left out


def parse_query(text: str) -> Query:
    """The FTS5 query for what a user typed: each word quoted, every word required."""
    text = clean(text)
    cut = len(text) > MAX_QUERY_CHARS
    words = [w for w in text[:MAX_QUERY_CHARS].split() if any(c.isalnum() for c in w)]
    if len(words) > MAX_TERMS:
        words, cut = words[:MAX_TERMS], True
    expression = " ".join('"' + w.replace('"', '""') + '"' for w in words) or None
    return Query(" ".join(words), expression, cut)


Segment = tuple[bool, str]  # (a match?, text)


def marked(text: str) -> tuple[Segment, ...]:
    """FTS5's highlighted text as segments: (True, a match), (False, the text between)."""
    out: list[Segment] = []
    inside = False
    for part in _SENTINELS.split(text):
        if part == OPEN or part == CLOSE:
            inside = part == OPEN
        elif part:
            out.append((inside, part))
    return tuple(out)


_SENTINELS = re.compile(f"([{OPEN}{CLOSE}])")
