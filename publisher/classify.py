"""Topic classification: weighted keyword rules from config. Pure functions, no I/O.

Scoring, per topic:
- the text is normalised (dedup.normalise: case, quotes, dashes, Unicode form) and split into
  words (runs of letters and digits: "Taiwan's" is taiwan + s, "cross-strait" cross + strait);
- a term matches whole words; `ukrain*` matches any word starting with "ukrain"; a phrase
  ("island chain") matches those words in a row; where terms overlap the longest wins;
- each occurrence of a rule's term adds the rule's weight, at most MAX_HITS_PER_TERM times a term;
  a negative weight counts against the topic (sport, film, markets vocabulary);
- where a term occurs can matter (`position`: how much a hit counts in the kicker, the lede and
  the body; the hits a term counts are its best-placed ones); and the score can be read against
  the story's length (`min_density`: at least this much score per 100 words). A topic without
  these keys scores exactly as before they existed;
- a story is in the topic when its score reaches `threshold`, at least one `require` term occurs
  (when the topic has any) and no `exclude` term occurs.
"""

from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_left
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from publisher.dedup import normalise
from publisher.model import Topic, TopicMatch

MAX_HITS_PER_TERM = 3
#: Bump when scoring changes, so stored classifications are recomputed.
SCORING_VERSION = 2

TERM_RE = re.compile(r"^[^\W_](?:[\w'.&-]|\s(?=\S))*\*?$")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class _Term:
    text: str  # as written in config
    words: tuple[str, ...]  # normalised words; with `wildcard`, the last one is a prefix
    wildcard: bool

    def matches_at(self, words: list[str], i: int) -> bool:
        n = len(self.words)
        if i + n > len(words):
            return False
        for j in range(n - 1):
            if words[i + j] != self.words[j]:
                return False
        last = words[i + n - 1]
        return last.startswith(self.words[-1]) if self.wildcard else last == self.words[-1]


def _parse_term(term: str) -> _Term:
    wildcard = term.endswith("*")
    return _Term(term, tuple(_WORD.findall(normalise(term.rstrip("*")))), wildcard)


PARTS = ("kicker", "lede", "body")


class _Text:
    """A normalised text split into words once, with the indexes the matchers look up.
    `bounds`: where the lede and the body start (word positions); words before the lede are
    the kicker's."""

    def __init__(self, text: str, bounds: tuple[int, int] | None = None):
        self.words = _WORD.findall(normalise(text))
        self.bounds = bounds or (0, 0)
        self.positions: dict[str, list[int]] = {}
        for i, word in enumerate(self.words):
            self.positions.setdefault(word, []).append(i)
        self._sorted: list[str] | None = None

    def words_starting(self, prefix: str) -> list[str]:
        """The distinct words of the text that start with `prefix`."""
        if self._sorted is None:
            self._sorted = sorted(self.positions)
        found = []
        for i in range(bisect_left(self._sorted, prefix), len(self._sorted)):
            if not self._sorted[i].startswith(prefix):
                break
            found.append(self._sorted[i])
        return found


class _Matcher:
    """Finds the occurrences of one list of terms: whole words, a phrase as consecutive words,
    a trailing * as a word prefix; scanning left to right, where terms overlap the longest wins."""

    def __init__(self, terms: tuple[str, ...]):
        parsed = sorted((_parse_term(t) for t in terms), key=lambda t: (-len(t.words), -len(t.text)))
        self.by_first: dict[str, list[_Term]] = {}  # first word -> terms starting with it
        self.by_prefix: dict[str, list[_Term]] = {}  # one-word wildcard terms, by prefix
        for term in parsed:
            if term.wildcard and len(term.words) == 1:
                self.by_prefix.setdefault(term.words[0], []).append(term)
            else:
                self.by_first.setdefault(term.words[0], []).append(term)
        self.first_words = frozenset(self.by_first)

    def counts(self, text: _Text) -> Counter[str]:
        return Counter(term for _, term in self.hits(text))

    def hits(self, text: _Text) -> list[tuple[int, str]]:
        """(word position, term) of every occurrence, left to right."""
        found: list[tuple[int, int, int, str]] = []  # (start, priority, length, term)
        for word in self.first_words.intersection(text.positions):
            for i in text.positions[word]:
                for rank, term in enumerate(self.by_first[word]):
                    if term.matches_at(text.words, i):
                        found.append((i, rank, len(term.words), term.text))
                        break
        for prefix, terms in self.by_prefix.items():
            for word in text.words_starting(prefix):
                for i in text.positions[word]:
                    found.append((i, 0, 1, terms[0].text))
        out: list[tuple[int, str]] = []
        end = 0
        for start, _, length, term in sorted(found, key=lambda f: (f[0], -f[2], f[1])):
            if start >= end:  # not inside a longer match found to its left
                out.append((start, term))
                end = start + length
        return out


@lru_cache(maxsize=256)
def _compile(topic: Topic) -> tuple[_Matcher, dict[str, float], _Matcher, _Matcher]:
    weights = {term: rule.weight for rule in topic.rules for term in rule.terms}
    return _Matcher(tuple(weights)), weights, _Matcher(topic.require), _Matcher(topic.exclude)


def _part(doc: _Text, position: int) -> int:
    """0 (kicker), 1 (lede) or 2 (body): the part of the story a word position is in."""
    return 0 if position < doc.bounds[0] else 1 if position < doc.bounds[1] else 2


def score(topic: Topic, text: str | _Text) -> TopicMatch:
    """How `text` scores against one topic, and why."""
    doc = text if isinstance(text, _Text) else _Text(text)
    rules, weights, require, exclude = _compile(topic)
    hits = rules.hits(doc)
    counts = Counter(term for _, term in hits)
    matched = tuple((term, counts[term]) for term in weights if counts[term])
    against = tuple((t, n) for t, n in matched if weights[t] < 0)
    density = None
    if topic.plain:
        total = sum(weights[t] * min(n, MAX_HITS_PER_TERM) for t, n in matched)
        parts: tuple[tuple[str, float], ...] = ()
    else:
        by_part = [0.0, 0.0, 0.0]
        placed: dict[str, list[int]] = {}
        for position, term in hits:
            placed.setdefault(term, []).append(_part(doc, position))
        for term, where in placed.items():  # each term counts its best-placed hits
            for part in sorted(where, key=lambda p: -topic.position[p])[:MAX_HITS_PER_TERM]:
                by_part[part] += weights[term] * topic.position[part]
        total = sum(by_part)
        parts = tuple((name, round(v, 6)) for name, v in zip(PARTS, by_part) if v)
        if topic.min_density:
            density = round(100 * total / max(1, len(doc.words)), 4)
    excluded = exclude.counts(doc)
    excluded_by = next((t for t in topic.exclude if excluded[t]), None)
    missing = bool(topic.require) and not require.counts(doc)
    return TopicMatch(slug=topic.slug, score=round(total, 6), matched=matched, excluded_by=excluded_by,
                      missing_required=missing, threshold=topic.threshold, parts=parts, density=density,
                      min_density=topic.min_density, against=against)


def story_document(kicker: str | None, paragraphs: tuple[str, ...] | list[str]) -> _Text:
    """A story's text as the classifier reads it, knowing its parts: the kicker, the lede (the
    first paragraph; with a kicker's summary, the summary and the lede), the body."""
    from publisher.model import story_text

    lede_count = 2 if kicker and len(paragraphs) == 2 else 1
    kicker_words = len(_WORD.findall(normalise(kicker))) if kicker else 0
    lede_words = len(_WORD.findall(normalise("\n".join(paragraphs[:lede_count]))))
    return _Text(story_text(kicker, tuple(paragraphs)), (kicker_words, kicker_words + lede_words))


def classify(topics: tuple[Topic, ...], text: str | _Text) -> tuple[TopicMatch, ...]:
    """The text (or a story_document) scored against every topic, in config order (accepted
    or not: see .accepted)."""
    doc = text if isinstance(text, _Text) else _Text(text)  # normalised and split once for every topic
    return tuple(score(topic, doc) for topic in topics)


def classify_story(topics: tuple[Topic, ...], kicker: str | None,
                   paragraphs: tuple[str, ...] | list[str]) -> tuple[TopicMatch, ...]:
    """A story scored against every topic, its parts known (for `position`)."""
    return classify(topics, story_document(kicker, paragraphs))


def rules_digest(topics: tuple[Topic, ...]) -> str:
    """Changes whenever the rules (or the scoring) change: stored classifications are then stale."""
    data = [SCORING_VERSION] + [
        [t.slug, t.threshold, [[r.weight, list(r.terms)] for r in t.rules], list(t.require), list(t.exclude)]
        + ([] if t.plain else [list(t.position), t.min_density])  # a config without them: the digest of before
        for t in topics
    ]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def topic_scorer(topics: tuple[Topic, ...]):
    """A text -> its rule score for each topic, as a share of the topic's threshold (1.0: at
    it), require and exclude left out: how much a passage is about each topic (a cue for
    story boundaries)."""
    def scores(text: str) -> tuple[float, ...]:
        doc = _Text(text)
        return tuple(passage_score(t, doc) / t.threshold if t.threshold else 0.0 for t in topics)
    return scores


def passage_score(topic: Topic, doc: _Text) -> float:
    """score(topic, doc).score of a text with no parts (every word in the body), without the
    require and exclude lookups and the reasons: the cheap form the boundary cue needs."""
    rules, weights, _, _ = _compile(topic)
    body = 1.0 if topic.plain else topic.position[2]
    return round(sum(weights[t] * min(n, MAX_HITS_PER_TERM) * body for t, n in rules.counts(doc).items()), 6)
