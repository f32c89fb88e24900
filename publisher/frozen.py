"""Frozen copies of what the old migrations compute: word shingles, MinHash signatures and LSH
band keys as `dedup` made them when migrations 0003, 0004 and 0006 were written (2026-11), and
the search index's document as `fulltext` made it when 0011 was written (2026-12); the same
sketch with shingles hashed from word hashes (sketch_v2) when 0016 was written (2026-12).

Never edit this module, and never make it call `dedup`: a migration must compute the same
thing forever, whatever `dedup` becomes. A change to how `dedup` shingles or bands a text
ships a new migration (with its own frozen copy) that rewrites the stored sketches.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections.abc import Sequence

import numpy as np

_MAP = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": "...",
    "\ufeff": "", "\u200b": "", "\u200c": "", "\u200d": "", "\u2060": "", "\u00ad": "",
}
_CHARS = re.compile("[" + "".join(_MAP) + "]")
_UNSHOWN = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_TOKEN = re.compile(r"\w+")
_PERMUTATIONS = 64
_WHOLE = (21, 3)  # bands, rows
_LEAD = (8, 4)
_LEAD_LEN, _SHORT_LEN, _MIN_LEN = 24, 12, 10


def _seed(label: str) -> int:
    return int.from_bytes(hashlib.blake2b(label.encode(), digest_size=8).digest(), "big")


_MUL = np.array([_seed(f"minhash-a-{i}") | 1 for i in range(_PERMUTATIONS)], dtype=np.uint64)
_ADD = np.array([_seed(f"minhash-b-{i}") for i in range(_PERMUTATIONS)], dtype=np.uint64)
_MIX = np.array([_seed(f"band-mix-{i}") | 1 for i in range(4)], dtype=np.uint64)


def sketch_v1(paragraphs: Sequence[str], kicker: str | None) -> tuple[list[int], bytes, bytes]:
    """(band keys, MinHash signature bytes, packed shingle set) of a stored version, as of 0003-0006."""
    kept = paragraphs[1:] if kicker and len(paragraphs) == 2 else paragraphs
    text = "\n".join(p.replace("\n", " ") for p in kept)
    text = _CHARS.sub(lambda m: _MAP[m.group()], unicodedata.normalize("NFKC", text).casefold())
    ordered: dict[int, None] = {}
    for line in text.split("\n"):
        tokens = _TOKEN.findall(line)
        count = len(tokens) - 2
        for gram in ([" ".join(tokens[i : i + 3]) for i in range(count)] if count > 0 else [" ".join(tokens)]):
            if gram:
                ordered.setdefault(zlib.crc32(gram.encode()), None)
    hashes = tuple(ordered)
    whole = _minhash(hashes, _PERMUTATIONS)
    keys = _band(whole, *_WHOLE, salt=0)
    lead = hashes[:_LEAD_LEN]
    if len(lead) >= _MIN_LEN:
        width = _LEAD[0] * _LEAD[1]
        keys += _band(_minhash(lead, width), *_LEAD, salt=1000)
        keys += _band(_minhash(lead[:_SHORT_LEN], width), *_LEAD, salt=2000)
    return keys, whole.tobytes(), np.array(sorted(set(hashes)), dtype=np.uint32).tobytes()


def _minhash(hashes: Sequence[int], width: int) -> np.ndarray:
    if not hashes:
        return np.full(width, 0xFFFFFFFF, dtype=np.uint32)
    x = np.fromiter(hashes, dtype=np.uint64, count=len(hashes))
    with np.errstate(over="ignore"):
        h = (_MUL[:width, None] * x[None, :] + _ADD[:width, None]) >> np.uint64(32)
    return h.min(axis=1).astype(np.uint32)


def _band(sig: np.ndarray, bands: int, rows: int, salt: int) -> list[int]:
    grid = sig[: bands * rows].astype(np.uint64).reshape(bands, rows)
    with np.errstate(over="ignore"):
        mixed = (grid * _MIX[:rows]).sum(axis=1, dtype=np.uint64)
        mixed ^= (np.arange(bands, dtype=np.uint64) + np.uint64(salt)) * np.uint64(0x9E3779B97F4A7C15)
    return mixed.view(np.int64).tolist()


def search_document_v1(title: str, kicker: str | None, paragraphs: Sequence[str]) -> tuple[str, str]:
    """(title, body) of an entry's current version in the search index, as of 0011."""
    body = "\n".join(paragraphs)
    return _UNSHOWN.sub("", title), _UNSHOWN.sub("", f"{kicker}: {body}" if kicker else body)


# -- sketch_v2: shingles hashed as integer arithmetic over word hashes (migration 0016, 2026-12) --

_BASE = np.uint64(_seed("word-base") | 1)
_GRAM = np.array([_seed(f"shingle-{i}") | 1 for i in range(4)], dtype=np.uint64)
_SPLITMIX = (np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB))


class _Kept(dict):
    """str.translate table: word characters (str.isalnum, "_") and "\\n" stay, the rest become spaces."""

    def __missing__(self, code: int) -> int:
        char = chr(code)
        self[code] = code if char.isalnum() or char == "_" or char == "\n" else 32
        return self[code]


_KEPT = _Kept()


def _finalise(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x = x * _SPLITMIX[0]
    x = x ^ (x >> np.uint64(27))
    x = x * _SPLITMIX[1]
    return x ^ (x >> np.uint64(31))


def _grams_v2(paragraphs: Sequence[str], kicker: str | None) -> np.ndarray:
    """The story's shingle hashes (uint32) in text order, duplicates included."""
    kept = paragraphs[1:] if kicker and len(paragraphs) == 2 else paragraphs
    text = unicodedata.normalize("NFKC", "\n".join(p.replace("\n", " ") for p in kept)).casefold()
    text = _CHARS.sub(lambda m: _MAP[m.group()], text).translate(_KEPT)
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    inside = data > 32
    edge = np.diff(inside.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts, ends = np.flatnonzero(edge == 1), np.flatnonzero(edge == -1)
    n = len(starts)
    if not n:
        return np.zeros(0, dtype=np.uint32)
    lengths = ends - starts
    powers = np.full(int(lengths.max()), _BASE, dtype=np.uint64)
    powers[0] = 1
    powers = np.cumprod(powers, dtype=np.uint64)  # _BASE ** i, wrapping as the hash does
    at = np.flatnonzero(inside)
    with np.errstate(over="ignore"):
        terms = data[at].astype(np.uint64) * powers[np.repeat(ends - 1, lengths) - at]
        words = _finalise(np.add.reduceat(terms, np.cumsum(lengths) - lengths, dtype=np.uint64))
        para = np.cumsum(data == 10)[starts]
        nxt = np.concatenate([para, [-1, -2]])
        two, three = nxt[1:n + 1] == para, nxt[2:n + 2] == para
        first = np.concatenate([[True], para[1:] != para[:-1]])
        w = np.concatenate([words, np.zeros(2, dtype=np.uint64)])
        value = (words * _GRAM[1] + np.where(two, w[1:n + 1] * _GRAM[2], np.uint64(0))
                 + np.where(three, w[2:n + 2] * _GRAM[3], np.uint64(0))
                 + (1 + two.astype(np.uint64) + three.astype(np.uint64)) * _GRAM[0])
        return (_finalise(value[three | first]) >> np.uint64(32)).astype(np.uint32)


def sketch_v2(paragraphs: Sequence[str], kicker: str | None) -> tuple[list[int], bytes, bytes]:
    """(band keys, MinHash signature bytes, packed shingle set) of a stored version, as of 0016."""
    grams = _grams_v2(paragraphs, kicker)
    distinct, first = np.unique(grams, return_index=True)
    in_order = grams[np.sort(first)]
    whole = _minhash(distinct.tolist(), _PERMUTATIONS)
    keys = _band(whole, *_WHOLE, salt=0)
    lead = in_order[:_LEAD_LEN]
    if len(lead) >= _MIN_LEN:
        width = _LEAD[0] * _LEAD[1]
        keys += _band(_minhash(lead.tolist(), width), *_LEAD, salt=1000)
        keys += _band(_minhash(lead[:_SHORT_LEN].tolist(), width), *_LEAD, salt=2000)
    return keys, whole.tobytes(), distinct.astype(np.uint32).tobytes()
