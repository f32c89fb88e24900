"""Topic classification: weighted keyword rules from config. Pure functions, no I/O.

Scoring, per topic:
- the text is normalised (dedup.normalise: case, quotes, dashes, Unicode form);
- a term matches whole words; `ukrain*` matches any word starting with "ukrain";
  a phrase ("island chain") matches across any whitespace; where terms overlap the longest wins;
- each occurrence of a rule's term adds the rule's weight, at most MAX_HITS_PER_TERM times a term;
- a story is in the topic when its score reaches `threshold`, at least one `require` term occurs
  (when the topic has any) and no `exclude` term occurs.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from functools import lru_cache

from publisher.dedup import normalise
from publisher.model import Topic, TopicMatch

MAX_HITS_PER_TERM = 3
#: Bump when scoring changes, so stored classifications are recomputed.
SCORING_VERSION = 1

TERM_RE = re.compile(r"^[^\W_](?:[\w'.&-]|\s(?=\S))*\*?$")


def term_pattern(term: str) -> str:
    """Regex source for one config term (already validated by TERM_RE)."""
    wildcard = term.endswith("*")
    words = normalise(term.rstrip("*")).split(" ")
    body = r"\s+".join(re.escape(w) for w in words)
    return body + (r"\w*" if wildcard else "")


class _Matcher:
    """One compiled alternation per term list: finds every term occurrence in one pass."""

    def __init__(self, terms: tuple[str, ...]):
        self.terms = terms
        order = sorted(range(len(terms)), key=lambda i: -len(terms[i]))  # longest first
        self.group_term = {}
        parts = []
        for group, i in enumerate(order, start=1):
            self.group_term[group] = terms[i]
            parts.append(f"({term_pattern(terms[i])})")
        self.regex = re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)") if parts else None

    def counts(self, text: str) -> Counter[str]:
        if self.regex is None:
            return Counter()
        return Counter(self.group_term[m.lastindex] for m in self.regex.finditer(text))


@lru_cache(maxsize=256)
def _compile(topic: Topic) -> tuple[_Matcher, dict[str, float], _Matcher, _Matcher]:
    weights = {term: rule.weight for rule in topic.rules for term in rule.terms}
    return _Matcher(tuple(weights)), weights, _Matcher(topic.require), _Matcher(topic.exclude)


def score(topic: Topic, text: str) -> TopicMatch:
    """How `text` scores against one topic, and why."""
    norm = normalise(text)
    rules, weights, require, exclude = _compile(topic)
    counts = rules.counts(norm)
    matched = tuple((term, counts[term]) for term in weights if counts[term])
    total = sum(weights[t] * min(n, MAX_HITS_PER_TERM) for t, n in matched)
    excluded = exclude.counts(norm)
    excluded_by = next((t for t in topic.exclude if excluded[t]), None)
    missing = bool(topic.require) and not require.counts(norm)
    return TopicMatch(slug=topic.slug, score=round(total, 6), matched=matched, excluded_by=excluded_by,
                      missing_required=missing, threshold=topic.threshold)


def classify(topics: tuple[Topic, ...], text: str) -> tuple[TopicMatch, ...]:
    """The text scored against every topic, in config order (accepted or not: see .accepted)."""
    return tuple(score(topic, text) for topic in topics)


def rules_digest(topics: tuple[Topic, ...]) -> str:
    """Changes whenever the rules (or the scoring) change: stored classifications are then stale."""
    data = [SCORING_VERSION] + [
        [t.slug, t.threshold, [[r.weight, list(r.terms)] for r in t.rules], list(t.require), list(t.exclude)]
        for t in topics
    ]
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]
