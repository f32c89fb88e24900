"""Deciding whether two stories are the same. Pure functions, no I/O.

Exact dedup compares fingerprints of normalised text: two texts that differ only in Unicode
form, case, whitespace, quote or dash style are the same story.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_REPLACEMENTS = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": "...",
    # invisible: BOM / zero-width no-break space, zero-width (non-)joiners and space, soft hyphen
    "\ufeff": "", "\u200b": "", "\u200c": "", "\u200d": "", "\u2060": "", "\u00ad": "",
}
# One regex pass over the few characters to replace: much faster than str.translate with a dict.
_SPECIAL = re.compile("[" + "".join(_REPLACEMENTS) + "]")
_SPACES = re.compile(r"\s+")


def normalise(text: str) -> str:
    """Canonical form of a text for comparison: NFKC, casefolded, ASCII quotes and dashes,
    invisible characters dropped, whitespace collapsed (line breaks included: paragraphing does not make a new story)."""
    text = _SPECIAL.sub(lambda m: _REPLACEMENTS[m.group()], unicodedata.normalize("NFKC", text).casefold())
    return _SPACES.sub(" ", text).strip()


def fingerprint(text: str) -> str:
    """Hex SHA-256 of the normalised text: equal for texts that are the same story verbatim."""
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()
