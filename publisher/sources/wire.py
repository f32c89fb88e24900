"""Wire-text files: bytes in, Stories out. Pure: no disk, no clock.

The format (see README "Source files"): one paragraph a line, no titles, dates or ids.
Segmentation rules, applied to each line in this order:

1. blank line            ends the current run of paragraphs
2. caption (Photo: AFP)  belongs to the article, dropped from the text; never ends a story
3. end mark, credit line ends the current run (###, -30-, ENDS, "Reporting by ...", "Writing
   or jump line          by ...", "Continued on page 6"), dropped from the text
4. byline, dateline      a byline opens the story after it ("By Anna Kovalenko, Kyiv desk"), dropped from
                         the text; never a cut-off line. A paragraph opening with a dateline
                         ("KYIV, Nov 24 (Agence Wire) - ...") starts a story.
5. KICKER: lede ...      an ALL-CAPS label and a colon: starts a story; a story of its own
                         (a one-line story) unless the paragraphs after it read as the rest
                         of its article (see close in _segment: KICKER_JOIN, KICKER_BLOCK)
6. very long line        a story of its own (articles are split one paragraph a line)
7. ordinary line         joins the current run
8. a line cut off mid-sentence (no closing punctuation) ends the run it belongs to

A run of paragraphs with none of these between them may still hold several stories back to
back: sources/boundaries.py scores every gap in it (cohesion, dateline, lede, continuation,
topic shift) and the run is split where the score reaches its threshold. A paragraph that is
the lede of a story seen before (a stored one the caller passes as `known`, or another story
of the same file) starts a story: wire dumps repeat stories, and a copy or an update that
arrives alone shows where the one run together with its neighbour begins.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace

from publisher import dedup
from publisher.model import Limits, ReadResult, Story
from publisher.sources import boundaries, caps
from publisher.sources.boundaries import Gap, Known, TopicScores

#: A line at least this long is a story of its own. In real dumps article paragraphs stay
#: under ~250 characters and one-line stories run to 600 and more.
LONG_LINE = 500
#: A line longer than this is not wire copy (a dump of something else): dropped, with a warning.
MAX_LINE = 20_000
#: A kicker line is the first paragraph of an article when the gap after it scores below this
#: (far below boundaries.THRESHOLD: in run-together dumps a kicker line is most often a
#: one-line story, followed by a story that may be on the same subject); else a story of its
#: own. Chosen by bench/understanding.py (see docs/understanding.md).
KICKER_JOIN = -3.0
#: A kicker line that opens a block (the file's first line, or after a blank line, an end mark,
#: a credit, a byline or a cut-off line) of at most this many paragraphs, the block then closed by a mark
#: between stories (see close in _segment), is the first paragraph of an article (its gaps
#: scored as any run's); otherwise a one-line story of its own (the common case in
#: run-together dumps).
KICKER_BLOCK = 8
#: ... or of at most this many when an end mark, credit or jump line closes it (`###`: the writer
#: said where the article ends).
KICKER_BLOCK_MARKED = 30
#: Titles are shortened to at most this many characters, at a word boundary.
TITLE_MAX = 140
#: A kicker is short: at most this many characters before its colon.
KICKER_MAX = 60

_BINARY_SAMPLE = 64 * 1024
# Bytes that do not occur in text: C0 controls except \t \n \f \r and ESC.
_CONTROL_BYTES = bytes(set(range(32)) - {9, 10, 12, 13, 27})
# Characters XML 1.0 cannot carry (and that no story needs).
# Also U+FFFD (a decoding error: the reader cannot use it) and zero-width characters / stray BOMs.
_XML_ILLEGAL = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffc\U00010000-\U0010ffff]|[\ufeff\u200b\u2060]")
# C1 controls are cp1252 punctuation decoded as Latin-1 somewhere upstream: map them back.
_C1 = re.compile("[\u0080-\u009f]")
# ... or UTF-8 decoded as Latin-1 ("\u00e2\u0080\u00a6" for "\u2026"): a lead and its continuations
_LATIN1_UTF8 = re.compile("[\u00c2-\u00f4][\u0080-\u00bf]{1,3}")


def _c1_to_cp1252(m: re.Match) -> str:
    try:
        return bytes([ord(m.group())]).decode("cp1252")
    except UnicodeDecodeError:  # 0x81, 0x8d, 0x8f, 0x90, 0x9d: nothing there
        return ""


def _latin1_utf8(m: re.Match) -> str:
    run = m.group()
    if not _C1.search(run):  # ("\u00e9\u00a9" is French text, not a misread character)
        return run
    try:
        return run.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return run


def map_c1(text: str) -> str:
    """C1 control characters (U+0080-U+009F: never text) as what they were: UTF-8 read as
    Latin-1 decoded again, else cp1252 punctuation (0x93/0x94 quotes, 0x85 ellipsis, 0x96 dash).
    Wire copy and feed text both go through this."""
    if not _C1.search(text):
        return text
    return _C1.sub(_c1_to_cp1252, _LATIN1_UTF8.sub(_latin1_utf8, text))

_SPACES = re.compile(r"\s+")

_CAPTION = re.compile(
    r"""^\(?\s*(?:file\s+)?(?:photo(?:graph)?s?|pictures?|images?|videos?|graphics?|illustrations?
                              |screen(?:shot|grab)s?)
        (?:\s*[:：/–—-]|\s+(?:courtesy|by|credit|from)\b)
      | ^\(?[\w .,&'’-]{2,40}\s(?:file\s+)?(?:photo(?:graph)?s?|screengrab|screenshot)\)?\.?$""",
    re.IGNORECASE | re.VERBOSE,
)
CAPTION_MAX = 120
# End marks and credit lines: the article ends there, complete, and they are not its text.
_END_MARK = re.compile(
    r"""^(?:\#{3,}|-\s*30\s*-|\(?ends?\)?\.?|\(?end\s+of\s+story\)?|\*{3,}
      | (?:additional\s+|with\s+)?(?:reporting|writing|editing|compiled|produced|edited|written|translated
         |translation)\s+by\b.{0,160})$""",
    re.IGNORECASE | re.VERBOSE,
)

# Jump lines: the story goes on elsewhere (continued on another page): it ends here.
_JUMP = re.compile(
    r"""^\(?\s*(?:continued|cont'?d\.?|more|(?:story\s+)?continues)\s+(?:on|from)\s+(?:page|p\.)\s*[A-Z]?\d+[A-Z]?\s*\)?\.?$
      | ^\(?\s*(?:see(?:\s+also)?|turn\s+to)\s+(?:page|p\.)\s*[A-Z]?\d+[A-Z]?\s*\)?\.?$
      | ^\(?\s*(?:see\s+also|related|read\s+more)\s*:.{0,160}$""",
    re.IGNORECASE | re.VERBOSE,
)
# Bylines: who wrote the story that follows. Short, no closing full stop.
_NAME = r"[A-Z][\w'’.-]*(?:\s(?:[A-Z][\w'’.-]*|de|da|van|von|bin|al|el))*"
_BYLINE = re.compile(
    rf"""^(?:by|from)\s+{_NAME}(?:\s*(?:,|and|&)\s*{_NAME}){{0,3}}(?:,\s*[\w'’ .-]{{2,40}})?$
      | ^(?:from\s+)?(?:our|a)\s+(?:own\s+|special\s+|staff\s+)?(?:correspondent|reporter)s?(?:\s+in\s+{_NAME})?$
      | ^{_NAME}\s+(?:staff|staff\s+writers?|staff\s+reporters?|newsroom|desk|bureau)$""",
    re.IGNORECASE | re.VERBOSE,
)
BYLINE_MAX = 90

_KICKER_CHARS = re.compile(r"^[^\W_][\w '’&.,/-]*$")
# Characters that close a sentence (possibly followed by closing quotes/brackets).
_CLOSERS = ".!?…。！？"
_TRAILING = "\"”’')]»」』）"
# A line that ends with one of these is complete too: a closing quote without a full stop
# (`He said “we will respond”`), or a colon introducing what follows.
_COMPLETE_ENDS = "”\"»」』:："

# Words that start a sentence but are lower-case mid-sentence: where a kicker's summary
# runs into the lede without a full stop, the lede usually starts with one of them.
# Words that are also parts of names ("Air Force One", "Russia Today", "Under Secretary",
# "Group A") are left out; a starter followed by a word that cannot follow it is rejected.
_LEDE_STARTERS = frozenset(
    """A An The In On At After As With For From When While It Its He She His Her They Their
    We Our This That These Those Some Most Many Several According Despite Since If But
    Although Amid Officials Police Meanwhile However""".split()
)
_NOT_AFTER_STARTER = frozenset("on of in at to and or said says was is were are will has have had by for".split())
# Failing a sentence starter, the summary often ends in an attribution or a day:
# "... the operator said Passengers will ...", "... officials said on Monday Shipping ...".
_SUMMARY_ENDINGS = frozenset(
    """said says added reported stated announced warned told wrote yesterday today tonight
    monday tuesday wednesday thursday friday saturday sunday""".split()
)
_SUMMARY_MIN_WORDS = 5
_FALLBACK_MIN_WORDS = 8  # "Premier Cho Jung-tai said Taiwan's ..." is one sentence, not a summary
_SUMMARY_MAX_CHARS = 320

_ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof st gen lt col sgt capt cmdr adm gov sen rep jan feb mar apr jun jul
    aug sep sept oct nov dec no vs etc inc co corp ltd jr sr""".split()
)
_SENTENCE_END = re.compile(r"([.!?…])([\"”’')\]]*)\s+(?=[\"“‘(]?[A-Z0-9])|([。！？])([」』）]*)")


def read(data: bytes, topic_scores: TopicScores | None = None, limits: Limits = Limits(),
         known: Known = Known()) -> ReadResult:
    """Turn the bytes of one wire-text file into stories (or a reason to skip it).
    `topic_scores`: a text's score per topic (1.0 at its threshold), a cue for boundaries;
    `limits`: how much of it is read (the caps warn, naming the key); `known`: stories seen
    before (stored), whose ledes start a story where they recur (see boundaries.Known)."""
    return read_explained(data, topic_scores, limits, known)[0]


def too_large(size: int, limits: Limits) -> str | None:
    """Why a file of `size` bytes is skipped unread, or None."""
    if size > limits.bytes_per_file:
        return f"too large ({size:,} bytes; the limit is {limits.bytes_per_file:,}: limits.bytes_per_file)"
    return None


def read_explained(data: bytes, topic_scores: TopicScores | None = None, limits: Limits = Limits(),
                   known: Known = Known()) -> tuple[ReadResult, list[Boundary]]:
    """read(), and every gap scored inside runs of paragraphs (placed boundaries and near misses)."""
    if too_large(len(data), limits):
        return ReadResult(skipped=too_large(len(data), limits)), []
    text, warnings, skipped = decode(data)
    if skipped:
        return ReadResult(skipped=skipped), []
    seg = _segment(text, topic_scores, limits, known)
    if boundaries.THRESHOLD < float("inf"):  # (splitting switched off: bench corpora)
        own = Known(tuple(dedup.story_keys(s.paragraphs, s.kicker) for s in seg.stories))
        if recurs_inside(seg.stories, own):  # a story of this file starts inside another one
            seg = _segment(text, topic_scores, limits, known + own)
    stories = seg.stories
    warnings += tuple(seg.warnings)
    if not stories:
        if seg.past_caps:  # its text lies past a cap: say which, not that it has none
            skipped = (f"no stories in its first {limits.lines_per_file:,} lines; about {seg.past_caps:,} more "
                       f"past them not read (limits.lines_per_file)")
            return ReadResult(skipped=skipped, warnings=warnings, past_caps=seg.past_caps), seg.gaps
        why = "its only text is in lines too long to be wire text" if seg.long_lines else \
            "only blank, punctuation or caption lines"
        return ReadResult(skipped=f"no stories in it ({why})", warnings=warnings, past_caps=seg.past_caps), seg.gaps
    return ReadResult(stories=tuple(stories), warnings=warnings, past_caps=seg.past_caps), seg.gaps


def decode(data: bytes) -> tuple[str, tuple[str, ...], str | None]:
    """Bytes to text with normalised line endings: (text, warnings, reason to skip or None)."""
    if not data or data.isspace():  # (not data.strip(): a copy of a large file, for a yes or no)
        return "", (), "empty file"
    for bom, codec in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                       (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return _lines(data.decode(codec)), (), None
            except UnicodeDecodeError as exc:
                return "", (), f"invalid {codec.upper()} ({exc.reason} at byte {exc.start})"
    # Binary detection comes before any fallback decoding: cp1252 decodes almost any bytes.
    sample = data[:_BINARY_SAMPLE]
    if b"\x00" in sample:
        return "", (), "binary file (contains NUL bytes)"
    controls = sum(sample.count(b) for b in _CONTROL_BYTES)
    if controls > len(sample) * 0.05:
        return "", (), f"binary file ({controls} control bytes in the first {len(sample):,})"
    text, warnings = _decode_8bit(data)
    text = _lines(text)
    if not text or text.isspace():
        return "", warnings, "empty file"
    return text, warnings, None


def _decode_8bit(data: bytes) -> tuple[str, tuple[str, ...]]:
    """UTF-8 when it is UTF-8, even with a few bad bytes or a cut-off last character (a file
    cut short, two files joined); cp1252 when it is not (no valid multi-byte sequences)."""
    try:
        return data.decode("utf-8-sig"), ()
    except UnicodeDecodeError as exc:
        first = exc
    if first.reason == "unexpected end of data" and first.end == len(data):
        return data[: first.start].decode("utf-8-sig"), (
            "ends in the middle of a UTF-8 character (cut short?); the broken character was dropped",)
    lenient = data.decode("utf-8-sig", errors="replace")
    bad = lenient.count("\ufffd") - data.count("\ufffd".encode())
    valid = sum(1 for c in lenient if ord(c) > 127) - lenient.count("\ufffd")
    if valid >= bad:
        return lenient, (f"{bad} invalid UTF-8 byte sequence(s), the first at offset {first.start}; dropped",)
    return data.decode("cp1252", errors="replace"), (
        f"not valid UTF-8 (byte 0x{data[first.start]:02x} at offset {first.start}); read as cp1252",)


def _lines(text: str) -> str:
    return text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def clean_line(line: str) -> str:
    """One line of text with XML-illegal characters removed and whitespace collapsed."""
    line = _XML_ILLEGAL.sub("", map_c1(line))
    return unicodedata.normalize("NFC", _SPACES.sub(" ", line)).strip()


def is_caption(line: str) -> bool:
    return len(line) <= CAPTION_MAX and _CAPTION.match(line) is not None


def split_kicker(line: str) -> tuple[str, str] | None:
    """(kicker, rest) when the line starts with an ALL-CAPS label and a colon, else None."""
    colon = line.find(":", 0, KICKER_MAX + 1)
    if colon < 2 or not line[colon + 1 : colon + 2].isspace():
        return None
    kicker, rest = line[:colon].strip(), line[colon + 1 :].strip()
    letters = [c for c in kicker if c.isalpha()]
    if len(letters) < 2 or any(not c.isupper() for c in letters) or not rest:
        return None
    if not _KICKER_CHARS.match(kicker) or len(kicker.split()) > 8:
        return None
    return kicker, rest


def is_end_mark(line: str) -> bool:
    """An end mark (###, -30-, ENDS) or a credit line ("Reporting by ..."): ends the article."""
    return _END_MARK.match(line) is not None


def is_jump(line: str) -> bool:
    """A jump line ("Continued on page 6", "See also: ..."): the story ends here."""
    return len(line) <= 200 and _JUMP.match(line) is not None


def is_byline(line: str) -> bool:
    """A byline ("By Anna Kovalenko, Kyiv desk", "From our correspondent in Taipei"): it opens
    the story after it. Short, and with no closing full stop (so never a sentence)."""
    if len(line) > BYLINE_MAX or line[-1:] in _CLOSERS or len(line.split()) > 12:
        return False
    return _BYLINE.match(line) is not None


def is_furniture(line: str) -> bool:
    """A line an editor places that is no story's text: a byline, credit, jump line or caption."""
    return is_byline(line) or is_end_mark(line) or is_jump(line) or is_caption(line)


def is_cut_off(line: str) -> bool:
    """True when a line stops mid-sentence: it does not end with closing punctuation."""
    if line[-1:] in _COMPLETE_ENDS:
        return False
    end = line.rstrip(_TRAILING)
    return not end or end[-1] not in _CLOSERS


def split_summary(rest: str) -> tuple[str | None, str]:
    """Split what follows a kicker into (summary, lede).

    The summary runs straight into the lede with no full stop: the lede starts at a
    capitalised word that follows a word with no punctuation. Preferred: a word that is
    only capitalised at a sentence start ("... in Zhongshan A 27-year-old ..."); failing
    that, a capitalised word after an attribution or a day ("... an official said China has ...").
    Returns (None, rest) when no boundary is found.
    """
    words = rest.split(" ")
    fallback = None
    length = len(words[0])
    for i in range(1, len(words)):
        prev, word = words[i - 1], words[i]
        length += 1 + len(word)
        if length - len(word) > _SUMMARY_MAX_CHARS:
            break
        if i < _SUMMARY_MIN_WORDS or not word[:1].isupper() or not prev[-1:].isalnum():
            continue
        if prev.endswith(".") or i >= len(words) - 2:
            continue
        bare = word.rstrip(",;:")
        if bare in _LEDE_STARTERS and words[i + 1].lower() not in _NOT_AFTER_STARTER:
            return " ".join(words[:i]), " ".join(words[i:])
        if fallback is None and i >= _FALLBACK_MIN_WORDS and prev.lower() in _SUMMARY_ENDINGS:
            fallback = i
    if fallback is not None:
        return " ".join(words[:fallback]), " ".join(words[fallback:])
    return None, rest


def first_sentence(text: str) -> str:
    """The first sentence of a paragraph (the whole paragraph if it has one sentence)."""
    for m in _SENTENCE_END.finditer(text):
        if m.group(3):  # 。！？ : no space follows in Chinese or Japanese
            return text[: m.end()].strip()
        before = text[: m.start(1)]
        word = before.rsplit(" ", 1)[-1].lstrip("(\"“‘")
        if m.group(1) == "." and (word.lower() in _ABBREVIATIONS or (len(word) <= 3 and word.isupper()) or
                                  re.fullmatch(r"(?:[A-Za-z]\.)+[A-Za-z]", word)):
            continue  # "Mr. Lai", "U.S. officials", "the US. ..." is rare; "Gen. Koo"
        return text[: m.end(2)].strip()
    return text.strip()


def shorten(text: str, limit: int = TITLE_MAX) -> str:
    """`text` cut at a word boundary to at most `limit` characters, with an ellipsis if cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    clause = cut.rfind(", ")
    if clause >= limit // 2:
        return cut[:clause]  # a whole clause reads as a headline; no ellipsis needed
    if not text[limit - 1].isspace() and " " in cut:
        cut = cut[: cut.rindex(" ")]  # drop the word that was cut through
    return cut.rstrip(" ,;:–—-") + "…"


def _title(kicker: str | None, summary: str | None, first: str) -> str:
    """A headline: the kicker and/or the first sentence, shortened; no closing full stop."""
    return _without_stop(shorten(_headline(kicker, summary, first)))


def _headline(kicker: str | None, summary: str | None, first: str) -> str:
    first = boundaries.without_dateline(first)
    return f"{kicker}: {summary or first_sentence(first)}" if kicker else first_sentence(first)


def _without_stop(title: str) -> str:
    return title[:-1] if title.endswith((".", ":", "：")) and not title.endswith("..") else title


def whole_title(title: str, kicker: str | None, paragraphs: Sequence[str]) -> str:
    """The whole headline a wire story's `title` was shortened from (titles are cut at
    TITLE_MAX: a feed reader shows a line), for its page: made from the same text as the
    title, without the cut. `title` itself when it was not cut, or was not made from this text
    (a feed's own title)."""
    if not paragraphs:
        return title
    made = [(kicker, None, paragraphs[0])]
    if kicker and len(paragraphs) > 1:  # a one-line story's summary and lede
        made.insert(0, (kicker, paragraphs[0], paragraphs[1]))
    for args in made:
        whole = _headline(*args).strip()
        if _without_stop(shorten(whole)) == title:
            return _without_stop(whole)
    return title


def recurs_inside(stories: Sequence[Story], known: Known) -> bool:
    """Whether a paragraph after the first of one of `stories` meets the lede of a known story
    (a quick test: boundaries.recurs decides, paragraph by paragraph)."""
    ledes = frozenset().union(*(k[0] for k in known.stories if k))
    return any(dedup.paragraph_keys(p) & ledes for s in stories if len(s.paragraphs) > 1 and not s.kicker
               for p in s.paragraphs[1:])


def segment(text: str, topic_scores: TopicScores | None = None) -> list[Story]:
    """Split decoded text (lines separated by \\n) into stories, by the rules in the module doc."""
    return _segment(text, topic_scores).stories


@dataclass(frozen=True, slots=True)
class Boundary:
    """A gap inside a run of paragraphs, scored: placed (a story starts at `line`) or a near miss."""

    line: int
    score: float
    placed: bool
    cues: tuple[str, ...]
    features: dict[str, float]
    threshold: float  # the score from which this gap is a boundary


@dataclass(frozen=True, slots=True)
class Segmentation:
    stories: list[Story]
    warnings: list[str]
    gaps: list[Boundary]  # every scored gap, in line order
    past_caps: int = 0  # stories not read or cut short by a cap (see _segment)
    long_lines: int = 0  # lines dropped as too long to be wire text


def _segment(text: str, topic_scores: TopicScores | None = None, limits: Limits = Limits(),
             known: Known = Known()) -> Segmentation:
    """segment(), a warning for each line dropped as too long to be wire text, and every gap
    scored inside runs of paragraphs; within the caps of `limits`.

    What one file costs is bounded by lines_per_file (each line is looked at once; each
    paragraph of a run costs one gap score) and stories_per_file: reading stops at whichever
    comes first, and what the rest holds is counted as its blocks of text (blank lines between:
    most often a story each), without reading it. Each story then keeps at most
    paragraphs_per_story paragraphs and bytes_per_story bytes."""
    stories: list[Story] = []
    warnings: list[str] = []
    long_lines = 0
    scored: list[Boundary] = []
    run: list[tuple[int, str]] = []  # (line number, text) of the open run of paragraphs
    captions: list[int] = []  # line numbers of captions inside the open run
    kicked_run: tuple[str, str] | None = None  # (kicker, rest) when a kicker line opens the run
    kicked_opens = False  # ... and that line opens a block
    opens = True  # the next line opens a block: the file's first, or after a mark that ends a story

    def close(truncated: bool = False, ended: str | None = None) -> None:
        """Close the open run; `ended`: by a mark between stories (a blank line, an end mark,
        credit or byline, a dateline, a cut-off line, the end of the file), not by a kicker or
        a long line (a one-line story of its own that may follow a one-line story)."""
        nonlocal run, captions, kicked_run, kicked_opens
        splitting = boundaries.THRESHOLD < float("inf")  # (switched off: bench corpora)

        def scored_gaps() -> list[Gap]:
            texts = [t for _, t in run]
            if kicked_run is not None:
                texts[0] = kicked_run[1]  # scored as the lede it is, without its label
            return boundaries.gaps(texts, topic_scores, known) if splitting and len(run) > 1 else []

        found = scored_gaps()
        joined = None  # the gap after a kicker line, when what follows is the same article's
        if kicked_run is not None:
            # rule 5: a kicker line is a story of its own unless the paragraphs after it read
            # as the rest of its article: scored as any gap, against KICKER_JOIN, or against
            # the usual threshold when it opens a block of a few paragraphs closed by a mark
            block = KICKER_BLOCK_MARKED if ended == "mark" else KICKER_BLOCK
            need = boundaries.THRESHOLD if kicked_opens and ended and len(run) <= block else KICKER_JOIN
            gap = found[0] if found else None
            if gap is not None:
                cues = ("after a kicker line", *gap.cues())
                scored.append(Boundary(run[1][0], gap.score, gap.score >= need, cues, gap.features, need))
            if gap is None or gap.score >= need:
                at, first = run[0]
                stories.append(_one_line_story(at, first, kicked_run))
                run, kicked_run = run[1:], None
                found = scored_gaps()
            else:
                joined = gap
        if run:
            for g in found:
                if g is not joined:
                    scored.append(Boundary(run[g.index][0], g.score, g.boundary, tuple(g.cues()), g.features,
                                           boundaries.THRESHOLD))
            cuts = [0] + [g.index for g in found if g.boundary and g is not joined] + [len(run)]
            for k, (a, b) in enumerate(zip(cuts, cuts[1:])):
                part = run[a:b]
                next_first = run[b][0] if b < len(run) else None
                inside = [c for c in captions if c > part[-1][0] and (next_first is None or c < next_first)]
                paragraphs = tuple(t for _, t in part)
                last_line = max([part[-1][0], *inside])
                cut = truncated and k == len(cuts) - 2
                if k == 0 and kicked_run is not None:
                    head = _one_line_story(part[0][0], part[0][1], kicked_run)
                    stories.append(replace(head, paragraphs=head.paragraphs + paragraphs[1:],
                                           last_line=last_line, truncated=cut))
                    continue
                stories.append(Story(title=_title(None, None, paragraphs[0]), paragraphs=paragraphs,
                                     first_line=part[0][0], last_line=last_line, truncated=cut))
        run, captions, kicked_run, kicked_opens = [], [], None, False

    offset = 0  # where the next line starts, in text
    number = 0
    last = ""  # the last line read
    for number, raw in enumerate(_lines_of(text, limits.lines_per_file), start=1):
        if len(stories) >= limits.stories_per_file:
            number -= 1
            break
        offset += len(raw) + 1
        last = raw
        line = clean_line(raw)
        if not line or not any(c.isalnum() for c in line):  # blank, or only punctuation ("***", ":")
            close(ended="mark" if line else "blank")
            opens = True
            continue
        if len(line) > MAX_LINE:
            close()
            long_lines += 1
            if long_lines <= 10:  # a file of nothing else says so in a few lines, not thousands
                warnings.append(f"line {number} has {len(line):,} characters: not wire text; dropped")
            continue
        if is_caption(line):
            if run:
                captions.append(number)
            continue
        if is_end_mark(line) or is_jump(line) or is_byline(line):
            close(ended="byline" if is_byline(line) else "mark")
            opens = True
            continue
        block_start, opens = opens, False
        if boundaries.is_dateline(line):  # a dateline opens a story, always
            close(ended="dateline")
        kicked = split_kicker(line)
        if kicked or len(line) >= LONG_LINE:
            close()
            if kicked and len(line) < LONG_LINE and not is_cut_off(line):
                # a kicker line may be an article's first paragraph: decided when the run
                # closes (see close)
                run.append((number, line))
                kicked_run, kicked_opens = kicked, block_start
                continue
            stories.append(_one_line_story(number, line, kicked))
            opens = is_cut_off(line)  # a cut-off one-line story ended there (a whole one may run on: see KICKER_JOIN)
            continue
        run.append((number, line))
        if is_cut_off(line):
            close(truncated=True, ended="cut")
            opens = True  # the story ended here: the next line opens a block
    if long_lines > 10:
        warnings.append(f"{long_lines - 10:,} more lines too long to be wire text dropped")
    close(ended="end")
    return _capped(text, last, stories, warnings, scored, limits, number, offset, long_lines)


def _has_text(line: str) -> bool:
    """A line the reader reads as text (a letter or digit), not as a blank one ("***")."""
    return any(c.isalnum() for c in line)


def _lines_of(text: str, n: int):
    """The first n lines of text, one at a time (a list of them all would copy what is past the cap)."""
    start = 0
    for _ in range(n):
        end = text.find("\n", start)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        start = end + 1


def _capped(text: str, last: str, stories: list[Story], warnings: list[str], scored: list[Boundary],
            limits: Limits, last_read: int, offset: int, long_lines: int) -> Segmentation:
    """The stories within the caps, a warning for each cap reached, and the count of what is
    past them. `last`, `last_read`: the last line read and its number; `offset`: where the text
    not read starts (past its end when every line was read)."""
    past = 0
    found = len(stories)
    cut_at = None  # the first line of the story the lines cap cut short
    if offset < len(text):  # reading stopped at a cap: count what is left, do not read it
        end = text.find("\n", offset)
        # the cut falls inside a block of text: its story was read (or counted) already
        mid = last_read > 0 and _has_text(last) and _has_text(text[offset : end if end >= 0 else len(text)])
        more = caps.blocks_after(text, offset, mid)
        if found >= limits.stories_per_file:
            warnings.append(f"{'about ' if more else ''}{found + more:,} stories; the first "
                            f"{limits.stories_per_file:,} read, to line {last_read:,} (limits.stories_per_file)")
            past += more
        else:
            cut = [f"the story at line {stories[-1].first_line:,} cut short"] if mid and stories else []
            cut += [f"about {more:,} more stories not read"] if more else []
            if cut:
                total = text.count("\n") + (0 if text.endswith("\n") else 1)
                warnings.append(f"{total:,} lines; the first {last_read:,} read, {' and '.join(cut)} "
                                f"(limits.lines_per_file)")
            past += more
            cut_at = stories[-1].first_line if mid and stories else None
    if found > limits.stories_per_file and offset >= len(text):
        warnings.append(f"{found:,} stories; the first {limits.stories_per_file:,} read (limits.stories_per_file)")
    past += max(0, found - limits.stories_per_file)
    kept, cut_short = [], []
    for story in stories[: limits.stories_per_file]:
        paragraphs, key = caps.cap_paragraphs(story.paragraphs, limits)
        if key:
            size = len(story.paragraphs) if key == "paragraphs_per_story" else len(story.text.encode())
            cut_short.append((key, story.first_line, size))
            story = replace(story, paragraphs=paragraphs)
        kept.append(story)
    warnings += caps.cap_warnings(cut_short, limits)
    past += len({line for _, line, _ in cut_short} | ({cut_at} if cut_at else set()))  # each story once
    return Segmentation(kept, warnings, scored, past, long_lines)


def _one_line_story(number: int, line: str, kicked: tuple[str, str] | None) -> Story:
    truncated = is_cut_off(line)
    if kicked is None:
        return Story(title=_title(None, None, line), paragraphs=(line,), first_line=number,
                     last_line=number, truncated=truncated)
    kicker, rest = kicked
    summary, lede = split_summary(rest)
    paragraphs = (summary, lede) if summary else (lede,)
    return Story(title=_title(kicker, summary, lede), paragraphs=paragraphs, first_line=number,
                 last_line=number, kicker=kicker, truncated=truncated)

