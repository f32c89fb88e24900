"""Where one wire story ends and the next begins, inside a run of paragraphs with no separator.

Pure functions, no I/O. Each cue is a small function of one or two paragraphs; `gaps` scores
every gap between two paragraphs of a run by combining them, and a gap whose score reaches
THRESHOLD is a boundary. The cues:

- cohesion    the content words and names of the paragraphs before the gap (a window of two)
              against those after it: two stories share little (lexical cohesion, as in
              Hearst's TextTiling); its depth against the gaps beside it counts too;
- lede        the paragraph after reads as a lede (a complete sentence with an attribution and
              a time word, not opening with a pronoun, a connector or a quote);
- continues   the paragraph after reads as a continuation (He, But, Meanwhile, a quote ...):
              against a boundary;
- topic       the topic scores of the paragraphs before and after differ, or (against) both
              are about one topic (when the reader is given a scorer: ingest passes the
              configured topics);
- short       a story of one paragraph before the gap (or after it) is rare in a run: against;
- recurs      the paragraph after is the lede of a story seen before (stored, or elsewhere in the
              same file: wire dumps repeat stories), and the paragraph before is none of that
              story's text: a strong cue, not a decisive one (a new paragraph put on top of an
              old lede keeps its story). The reader is given the stories seen before as data
              (`Known`: each story's paragraph keys, dedup.story_keys); it looks nothing up.

The weights were fitted (logistic regression, bench/fit_boundaries.py) on every labelled split
of tests/data/understanding but the blind-* ones, with made-up back-to-back runs of their
stories; its "leave one split out" figures are what to expect of a writer never read
(docs/understanding.md). Further cues (ties, lede shape, the day) are documented where defined.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from publisher import dedup

TopicScores = Callable[[str], Sequence[float]]  # a text -> one score a topic (1.0: its threshold)

WINDOW = 2  # paragraphs each side of a gap compared for cohesion

_STOP = frozenset("""
a about above after again against ago all almost also although am among an and another any are around as at
back be became because been before being below between both but by came can could did do does doing down during
each early earlier either else even ever every few first for former from further get got had has have having he
her here hers him his how however i if in including into is it its itself just last late later least less like made
make many may me more most much must my near nearly new next no nor not now of off on once one only or other our
out over own per said same say says she should since so some still such than that the their them then there these
they this those though three through to too told two under until up upon us very was we week weeks were what when
where whether which while who whom whose why will with within without would year years yet you your
monday tuesday wednesday thursday friday saturday sunday today yesterday tonight overnight morning afternoon
evening night percent according added people official officials statement spokesman spokeswoman
""".split())
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*[A-Za-z]|[0-9][0-9,.]*[0-9]")

_DATELINE = re.compile(
    r"""^[A-Z][A-Z.'’-]+(?:\s[A-Z][A-Z.'’-]+){0,3}      # KYIV, NEW TAIPEI CITY
        (?:,\s*[A-Z][A-Za-z.]{1,12}(?:\s\d{1,2})?)?       # , Nov 24  / , Taiwan
        \s*(?:\([^)]{2,40}\))?                           # (Agence Wire)
        \s*[-–—]{1,2}\s+\S""",
    re.VERBOSE,
)
_ATTRIBUTION = re.compile(r"\b(?:said|says|told|announced|reported|confirmed|warned|denied|accused|urged|"
                          r"according to|claimed|ordered|approved|launched|killed|arrested|detained)\b")
_TIME_WORD = re.compile(r"\b(?:on (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|monday|tuesday|"
                        r"wednesday|thursday|friday|saturday|sunday|yesterday|today|tonight|overnight|"
                        r"this (?:morning|week|month)|last (?:week|night|month)|earlier|late on|early on)\b")
_CONTINUES = frozenset("""he she it they his her its their this that these those but however meanwhile also still
yet and so instead such both earlier later separately further furthermore moreover besides nonetheless
nevertheless then there here the""".split()) - {"the"}  # "The" opens ledes as often as it continues
_QUOTES = "\"“‘'«"


def _tokens(paragraph: str):
    """(word, is_name) for each word: a name is capitalised inside a sentence (not its first
    word), or an acronym (US, PLA), or a number."""
    end = 0
    sentence_start = True
    for m in _WORD.finditer(paragraph):
        between = paragraph[end : m.start()]
        if any(c in between for c in ".!?"):
            sentence_start = True
        word = m.group().replace("’", "'")
        acronym = len(word) >= 2 and word.isupper()
        yield word, acronym or word[0].isdigit() or (word[0].isupper() and not sentence_start)
        sentence_start = False
        end = m.end()


@dataclass(frozen=True, slots=True)
class _Read:
    """What the cues need of one paragraph, from one pass over its words."""

    words: Counter[str]  # content words (see content_words)
    names: frozenset[str]
    opening: frozenset[str]  # the content words of its first eight words
    stems: frozenset[str]  # its content words, stemmed (see stems): what links it to its neighbours


def _read(paragraph: str) -> _Read:
    words: Counter[str] = Counter()
    named: set[str] = set()
    opening: set[str] = set()
    stemmed: set[str] = set()
    for k, (word, name) in enumerate(_tokens(paragraph)):
        if len(word) > 2 and word.lower() not in _STOP:
            stemmed.add(_stem(word))
        low = word.lower().removesuffix("'s")
        if name and (low not in _STOP or word.isupper()):
            named.add(low)
        if (low not in _STOP and len(low) > 2) or (name and word.isupper()):
            if len(low) > 4 and low.endswith("s") and not low.endswith("ss"):
                low = low[:-1]
            words[low] += 2 if name else 1
            if k < 8:
                opening.add(low)
    return _Read(words, frozenset(named), frozenset(opening), frozenset(stemmed))


def content_words(paragraph: str) -> Counter[str]:
    """Words that carry what a paragraph is about: stop words dropped, names counted twice,
    plural -s folded."""
    return _read(paragraph).words


def names(paragraph: str) -> frozenset[str]:
    """The names a paragraph mentions (see _tokens)."""
    return _read(paragraph).names


def refers_back(before: Sequence[Counter[str]], opening: frozenset[str]) -> float:
    """How much the opening of a paragraph (the content words of its first eight words) picks
    up the words of the paragraphs before it ("The launchers ...", "Lytvyn, 31, ..."): 0 to 1."""
    return min(2, sum(1 for w in opening if any(w in b for b in before))) / 2


def new_names(before: Sequence[frozenset[str]], paragraph: frozenset[str]) -> float:
    """The share of a paragraph's names that the paragraphs before it did not mention (0.5
    when it names nothing)."""
    if not paragraph:
        return 0.5
    seen = frozenset().union(*before)
    return len(paragraph - seen) / len(paragraph)


def _merged(counters: Sequence[Counter[str]]) -> dict[str, int]:
    if len(counters) == 1:
        return counters[0]
    out: dict[str, int] = {}
    for c in counters:
        for w, n in c.items():
            out[w] = out.get(w, 0) + n
    return out


def cohesion(before: Sequence[Counter[str]], after: Sequence[Counter[str]]) -> float:
    """Cosine similarity of the words of two windows of paragraphs (0: nothing shared)."""
    a, b = _merged(before), _merged(after)
    dot = sum(n * b[w] for w, n in a.items() if w in b)
    norm = math.sqrt(sum(n * n for n in a.values())) * math.sqrt(sum(n * n for n in b.values()))
    return dot / norm if norm else 0.0


def is_dateline(paragraph: str) -> bool:
    """It opens with a dateline: a place in capitals, perhaps a date and an agency, a dash."""
    return _DATELINE.match(paragraph) is not None


def without_dateline(paragraph: str) -> str:
    """The paragraph after its dateline (for a headline): "KYIV (Wire) - Troops ..." -> "Troops ..."."""
    m = _DATELINE.match(paragraph)
    if not m:
        return paragraph
    rest = paragraph[m.end() - 1 :]
    return rest[:1].upper() + rest[1:]


def _first_sentence(paragraph: str) -> str:
    m = re.search(r"[.!?][\"”’)]*\s+[A-Z“\"]", paragraph)
    return paragraph[: m.start() + 1] if m else paragraph


_TITLE_QUOTE = re.compile(r"^[\"“‘'][^\"”’']{2,60}[\"”’'],? (?:a|an|the)\b")  # "Tide of Iron", a drama ...


def continues(paragraph: str) -> bool:
    """It reads as the continuation of a story: it opens with a pronoun, a connector or a quote
    (a quoted title followed by what it is, "“Tide of Iron”, a drama ...", is no quote)."""
    if paragraph[:1] in _QUOTES:
        return _TITLE_QUOTE.match(paragraph) is None
    first = re.split(r"[\s,]", paragraph, maxsplit=1)[0].lower()
    return first in _CONTINUES


def reads_as_lede(paragraph: str) -> bool:
    """A complete who-did-what sentence with an attribution and a time word, opening with a
    capitalised word that is not a pronoun, a connector or a quote."""
    if not paragraph[:1].isupper() or continues(paragraph):
        return False
    sentence = _first_sentence(paragraph).lower()
    return len(sentence.split()) >= 12 and _ATTRIBUTION.search(sentence) is not None and \
        _TIME_WORD.search(sentence) is not None


_DAY = re.compile(r"\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|yesterday|today|tonight)\b")


def reads_as_news_lede(paragraph: str) -> bool:
    """Looser than reads_as_lede: a long first sentence that says which day, opening with a
    capitalised word that is not a pronoun, a connector or a quote."""
    if not paragraph[:1].isupper() or continues(paragraph):
        return False
    sentence = _first_sentence(paragraph).lower()
    return len(sentence.split()) >= 15 and _DAY.search(sentence) is not None


_PERFECT = re.compile(r"\b(?:has|have)\s+(?:been\s+)?[a-z]+(?:ed|en|wn|un|ght)\b")


def reads_as_perfect_lede(paragraph: str) -> bool:
    """A lede in the perfect tense ("Astronomers have identified ...", "Running water has
    returned to ..."): a long first sentence with "has/have + participle" in its first 12 words,
    not opening with a pronoun, a connector or a quote."""
    if not paragraph[:1].isupper() or continues(paragraph):
        return False
    sentence = _first_sentence(paragraph)
    return len(sentence.split()) >= 15 and _PERFECT.search(" ".join(sentence.split()[:12])) is not None


_SUFFIXES = ("ing", "ers", "ies", "ed", "es", "er", "s")


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    word = word.lower().replace("’", "'").removesuffix("'s")
    for suffix in _SUFFIXES:
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


def stems(paragraph: str) -> frozenset[str]:
    """The content words of a paragraph, crudely stemmed (drills, drilled -> drill): stop words
    and words of two letters dropped."""
    return frozenset(_stem(w) for w in _WORD.findall(paragraph) if len(w) > 2 and w.lower() not in _STOP)


def link(a: frozenset[str], b: frozenset[str], idf: Callable[[str], float]) -> float:
    """How strongly two paragraphs are tied by the words they share, each weighted by how rare
    it is in the run (a word in every paragraph ties nothing; a name in two ties them)."""
    return math.log1p(math.fsum(idf(w) for w in a & b))  # fsum: the same whatever the set's order


def owners(ties: Callable[[int, int], float], i: int, n: int) -> float:
    """The share of the (up to) three paragraphs after paragraph i whose strongest tie to the
    four paragraphs before each of them lands on paragraph i or after it: the paragraphs after
    a story start belong with it, not with the story before (0.5 when none has a tie)."""
    owned = counted = 0
    for j in range(i + 1, min(n, i + 4)):
        back = [(ties(k, j), k) for k in range(max(0, j - 4), j)]
        best = max(back)
        if best[0] > 0:
            counted += 1
            owned += best[1] >= i
    return owned / counted if counted else 0.5


def links_across(ties: Callable[[int, int], float], i: int, n: int) -> tuple[float, float, float, float]:
    """The ties around the gap before paragraph i: (before, after, across, inside).
    before: paragraph i to the nearest four before it; after: paragraph i to the three after it;
    across: the strongest tie between a paragraph of the three before the gap and one of the
    three after it; inside: the strongest tie within either side. A story start ties forward,
    not back, and its side hangs together better than the two sides do."""
    before = max((ties(j, i) for j in range(max(0, i - 4), i)), default=0.0)
    after = max((ties(i, j) for j in range(i + 1, min(n, i + 4))), default=0.0)
    across = max((ties(a, b) for a in range(max(0, i - 3), i) for b in range(i, min(n, i + 3))), default=0.0)
    left = max((ties(a, b) for a in range(max(0, i - 3), i) for b in range(a + 1, i)), default=0.0)
    right = max((ties(a, b) for a in range(i, min(n, i + 3)) for b in range(a + 1, min(n, i + 3))), default=0.0)
    return before, after, across, max(left, right)


_TIME_LEDE = re.compile(r"\b(?:on (?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|monday|tuesday|"
                        r"wednesday|thursday|friday|saturday|sunday|yesterday|today|tonight|overnight|"
                        r"this (?:morning|afternoon|evening|week|month|year)|last (?:week|night|month|year)|"
                        r"earlier|late on|early on|"
                        r"on (?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d|"
                        r"on \d{1,2} (?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec))\b")
_FUTURE = re.compile(r"\b(?:will|would|expected to|plans to|next (?:week|month|year))\b")


def opens_indefinite(paragraph: str) -> bool:
    """It opens with "A" or "An": a lede introduces ("A documentary about ..."); a continuation
    seldom does."""
    return re.match(r"(?:A|An)\s", paragraph) is not None


def opens_definite(paragraph: str) -> bool:
    """It opens with "The": as often "The ministry said ..." (a continuation) as a lede."""
    return paragraph.startswith("The ")


def first_sentence_length(paragraph: str) -> float:
    """Words in the first sentence, as a share of 45 (capped): ledes pack who, what, where."""
    return min(45, len(_first_sentence(paragraph).split())) / 45


def says_when(paragraph: str) -> bool:
    """Its first sentence says when (a day, overnight, this afternoon, on Nov. 3)."""
    return _TIME_LEDE.search(_first_sentence(paragraph).lower()) is not None


def one_sentence(paragraph: str) -> bool:
    return _first_sentence(paragraph).strip() == paragraph.strip()


def same_day(before: Sequence[str], paragraph: str) -> bool:
    """The day its first sentence names (Tuesday, overnight ...) is named in the paragraphs
    just before it: one story told over several paragraphs keeps its day."""
    day = _DAY.search(_first_sentence(paragraph).lower())
    return day is not None and any(day.group() in b.lower() for b in before)


def looks_ahead(paragraph: str) -> bool:
    """It speaks of what comes next (will, expected to, next month): stories often end so."""
    return _FUTURE.search(paragraph.lower()) is not None


def topic_shift(before: Sequence[float], after: Sequence[float]) -> float:
    """How much the topic scores change across a gap (each capped at its threshold): 0 to 1 a topic."""
    return sum(abs(min(1.0, b) - min(1.0, a)) for b, a in zip(before, after))


# -- the score ---------------------------------------------------------------------------------

#: Fitted by bench/fit_boundaries.py (--target 0 --l2 3) on the gaps of every labelled split of
#: tests/data/understanding (seven writers or days) and 400 made-up runs of their stories put
#: back to back; its "leave one split out" lines are what to expect of a writer never read.
WEIGHTS = {"bias": -7.1, "apart": 1.52, "depth": 1.95, "distance_wide": -0.12, "first_sentence": 1.97,
           "fresh_forward": 1.67, "lede": 0.02, "looks_ahead_before": 0.27, "new_name_count": 1.29,
           "new_names": -0.03, "news_lede": 2.19, "one_sentence": 1.16, "opens_definite": -0.81,
           "opens_indefinite": 1.34, "owns_after": 0.39, "perfect_lede": 0.74, "refers_back": -0.33,
           "same_day": -1.47, "says_when": 0.53, "short": -1.28, "short_before": 1.43, "sides_apart": 0.27,
           "ties_across": -0.81, "ties_back": -0.33, "ties_forward": -0.5, "topic": 0.58,
           # measured and left out of the fit (collinear with the others): shown by classify, weight 0
           "distance": 0.0, "shares_name": 0.0, "same_topic": 0.0,
           # recurrence: not fitted (too rare); a recurring lede splits a gap from about -4 up (a
           # paragraph put on top of an old lede, "write-through", coheres with it and stays)
           "recurs": 4.5}
#: The best F0.5 (precision counted twice) over the real gaps of every split
THRESHOLD = 0.27


@dataclass(frozen=True, slots=True)
class Gap:
    """The gap before paragraph `index` of a run: its cues, score and whether it is a boundary."""

    index: int
    features: dict[str, float]
    score: float

    @property
    def boundary(self) -> bool:
        return self.score >= THRESHOLD

    def cues(self) -> list[str]:
        """The cues that counted, strongest first, as `classify` shows them."""
        parts = [(WEIGHTS[k] * v, k) for k, v in self.features.items() if v and WEIGHTS.get(k)]
        return [f"{k} {w:+.1f}" for w, k in sorted(parts, key=lambda p: -abs(p[0]))] + [f"base {WEIGHTS['bias']:+.1f}"]


Keys = frozenset[int]  # dedup.paragraph_keys of one paragraph


@dataclass(frozen=True, slots=True)
class Known:
    """Stories seen before, as data for the reader: each as the keys of its paragraphs, lede
    first (dedup.story_keys). Ingest gives the stored stories whose lede meets a paragraph of
    the file; the reader adds the file's own stories."""

    stories: tuple[tuple[Keys, ...], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.stories)

    def __add__(self, other: Known) -> Known:
        return Known(self.stories + other.stories)


def _lede_index(known: Known) -> dict[int, list[int]]:
    index: dict[int, list[int]] = {}
    for n, story in enumerate(known.stories):
        if story:
            for key in story[0]:
                index.setdefault(key, []).append(n)
    return index


def recurs(keys: Sequence[Keys], i: int, known: Known, index: dict[int, list[int]]) -> float:
    """1.0 when paragraph i is the lede of a known story and paragraph i-1 is none of that
    story's text (the story itself, or one with its paragraphs in another order)."""
    for n in {n for key in keys[i] for n in index.get(key, ())}:
        story = known.stories[n]
        if not any(keys[i - 1] & k for k in story):
            return 1.0
    return 0.0


def features(read: Sequence[_Read], paragraphs: Sequence[str], i: int, similarity: Sequence[float],
             topics: Sequence[Sequence[float]] | None,
             ties: Ties | None = None) -> dict[str, float]:
    """The cues of the gap before paragraph i (0 < i < len(paragraphs)); `ties`: the links
    between the paragraphs of the run (see Ties)."""
    # only the paragraphs near the gap: a list of the whole run per gap made a long run quadratic
    words = lambda a, b: [r.words for r in read[max(0, a) : b]]  # noqa: E731
    named_before = [r.names for r in read[max(0, i - 3) : i]]
    sim = similarity[i]
    left = max(similarity[max(1, i - 2) : i + 1])
    right = max(similarity[i : i + 3])
    n = len(paragraphs)
    wide = 1.0 - cohesion(words(i - 4, i), words(i, i + 3))
    out = {
        "distance": 1.0 - sim,
        "apart": max(0.0, wide - 0.8) / 0.2,  # nothing much shared across the gap (0 below 0.8)
        "distance_wide": wide,
        "new_names": new_names(named_before, read[i].names),
        "depth": (left - sim) + (right - sim),
        "lede": float(reads_as_lede(paragraphs[i])),
        "news_lede": float(reads_as_news_lede(paragraphs[i])),
        "perfect_lede": float(reads_as_perfect_lede(paragraphs[i])),
        "refers_back": refers_back(words(i - 2, i), read[i].opening),
        "shares_name": float(bool(read[i].names & frozenset().union(*named_before))),
        "short": float(i == 1 or i == n - 1),
        "topic": 0.0,
        "same_topic": 0.0,
        "new_name_count": min(4, len(read[i].names - frozenset().union(*[r.names for r in read[max(0, i - 4) : i]]))) / 4,
        "opens_indefinite": float(opens_indefinite(paragraphs[i])),
        "opens_definite": float(opens_definite(paragraphs[i])),
        "first_sentence": first_sentence_length(paragraphs[i]),
        "says_when": float(says_when(paragraphs[i])),
        "one_sentence": float(one_sentence(paragraphs[i])),
        "short_before": float(len(paragraphs[i - 1].split()) < 25),
        "same_day": float(same_day(paragraphs[max(0, i - 8) : i], paragraphs[i])),

        "looks_ahead_before": float(looks_ahead(paragraphs[i - 1])),
    }
    if ties is not None:
        before, after, across, inside = links_across(ties, i, n)
        out["ties_back"] = before
        out["ties_forward"] = after
        out["ties_across"] = across
        out["sides_apart"] = inside - across
        out["owns_after"] = owners(ties, i, n)
        out["fresh_forward"] = fresh_forward(ties, i, n)
    if topics is not None:
        out["topic"] = topic_shift(topics[i][0], topics[i][1])
        out["same_topic"] = max((min(1.0, b, a) for b, a in zip(*topics[i])), default=0.0)
    return out


class Ties:
    """link() between paragraphs a and b of a run, a word's rarity counted in the run itself
    (log((n + 1) / paragraphs holding it)); each pair computed once."""

    def __init__(self, read: Sequence[_Read]):
        self.read = read
        self.df = Counter(w for r in read for w in r.stems)
        self.total = len(read) + 1
        self.cache: dict[tuple[int, int], float] = {}

    def idf(self, word: str) -> float:
        return math.log(self.total / self.df[word])

    def __call__(self, a: int, b: int) -> float:
        if (a, b) not in self.cache:
            self.cache[a, b] = link(self.read[a].stems, self.read[b].stems, self.idf)
        return self.cache[a, b]


def fresh_forward(ties: Ties, i: int, n: int) -> float:
    """The words paragraph i shares with the three after it that the four before it did not use,
    each weighted by its rarity: what a new story's lede hands on to its own next paragraphs."""
    read = ties.read
    seen = frozenset().union(*[r.stems for r in read[max(0, i - 4) : i]])
    ahead = frozenset().union(*[r.stems for r in read[i + 1 : i + 4]])
    return math.log1p(math.fsum(ties.idf(w) for w in (read[i].stems & ahead) - seen))


def gaps(paragraphs: Sequence[str], topic_scores: TopicScores | None = None, known: Known = Known(),
         every_cue: bool = False) -> list[Gap]:
    """Every gap of a run of paragraphs, scored (the gap before paragraph 1, 2 ... n-1);
    `known`: stories seen before (see Known); `every_cue`: measure the cues of weight 0 too
    (the topic cues cost most; bench/fit_boundaries.py)."""
    n = len(paragraphs)
    if n < 2:
        return []
    read = [_read(p) for p in paragraphs]
    words = [r.words for r in read]
    similarity = [1.0] + [cohesion(words[max(0, i - WINDOW) : i], words[i : i + WINDOW]) for i in range(1, n)]
    # the topic scores of the window before each gap and of the window after it
    # (only while a topic cue has a weight: scoring every window against every topic is the
    # dearest part of a gap)
    use_topics = topic_scores is not None and (every_cue or any(WEIGHTS.get(k) for k in ("topic", "same_topic")))
    windows: dict[tuple[int, int], tuple[float, ...]] = {}  # the window after a gap is the one before the gap after next

    def window(a: int, b: int) -> tuple[float, ...]:
        if (a, b) not in windows:
            windows[a, b] = tuple(topic_scores("\n".join(paragraphs[a:b])))
        return windows[a, b]
    topics = [(window(max(0, i - WINDOW), i), window(i, min(n, i + WINDOW))) if i else ()
              for i in range(n)] if use_topics else None
    index = _lede_index(known) if known else {}
    keys = [dedup.paragraph_keys(p) for p in paragraphs] if index else []
    ties = Ties(read)
    out = []
    for i in range(1, n):
        f = features(read, paragraphs, i, similarity, topics, ties)
        f["recurs"] = recurs(keys, i, known, index) if index else 0.0
        score = WEIGHTS["bias"] + sum(WEIGHTS.get(k, 0.0) * v for k, v in f.items())
        out.append(Gap(i, f, round(score, 4)))
    return out
