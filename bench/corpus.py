"""Every corpus the benches generate, and the simple stories the tests use: seeded, so that a
seed is one corpus, run after run, and recorded results stay comparable.

  stories_text    n one-paragraph stories, half Ukraine, half Taiwan security (bench/crash.py,
                  hostile.py, load.py, concurrency.py, writefail.py; tests/test_reliability.py)
  kyiv_wire       n Ukraine stories as one wire file (bench/serve.py)
  atom_feeds      N Atom feeds of M distinct entries (bench/aggregate.py)
  themed_wire     wire files of realistic stories on three themes, two of them the shipped
                  topics', with exact duplicates and revisions planted (bench/pipeline.py)
  labelled_wire   wire files with near-duplicates of every kind planted, and the ground truth
                  (bench/dedup.py)
  BILLION_LAUGHS  an XML entity-expansion bomb (bench/hostile.py; tests)

Wire files hold STORIES_PER_FILE stories, a blank line between two (wire_text). The publisher
internals some generators use (fingerprint, shingles, the wire reader) come from bench/_common.py,
imported when a generator runs: importing this module loads nothing of publisher's.
"""

from __future__ import annotations

import functools
import json
import random
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.sax.saxutils import escape

STORIES_PER_FILE = 100
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
ROLES = ["spokesperson", "senior official", "policy analyst", "commander", "mayor", "researcher", "minister",
         "lawmaker", "bank economist", "prosecutor", "union leader", "regional governor", "doctor", "engineer"]


def wire_text(stories: list[list[str]]) -> str:
    """Stories (each its lines) as one wire file: a blank line between two stories."""
    return "\n\n".join("\n".join(s) for s in stories) + "\n"


# -- simple stories ----------------------------------------------------------------------------

def stories_text(n: int, seed: int = 11) -> list[str]:
    """n distinct one-paragraph stories, half about Ukraine, half about Taiwan security."""
    rng = random.Random(seed)
    vocab = [f"{a}{b}{c}" for a in "bdfgklmnprstvz" for b in "aeiou" for c in ("n", "r", "s", "l", "")]
    out = []
    for i in range(n):
        words = " ".join(rng.sample(vocab, 35))
        lead = ("Kyiv officials in Ukraine said on Monday that" if i % 2 else
                "Taiwan's coast guard tracked Chinese warships near Taipei during PLA drills as")
        out.append(f"{lead} {words} report {i}.")
    return out


def kyiv_wire(n: int) -> str:
    """n distinct Ukraine stories in the wire format: a kicker line and a paragraph each."""
    rng = random.Random(5)
    words = ("grid shelter convoy repair winter council brigade harbour grain corridor power station "
             "volunteer bridge rail supply drone strike village mayor region school hospital fuel").split()
    out = []
    for i in range(n):
        body = " ".join(rng.choice(words) for _ in range(60))
        out.append(f"KYIV: Ukrainian officials in Kyiv reported item {i}: {body}.")
        out.append(f"The report, number {i * 7919}, said {' '.join(rng.sample(words, 12))} in Ukraine.")
    return "\n".join(out) + "\n"


# -- Atom feeds (bench/aggregate.py) ------------------------------------------------------------

FEEDS_T0 = datetime(2026, 11, 1, tzinfo=UTC)


def _feed_words(rng: random.Random) -> list[str]:
    syllables = ["ka", "lo", "mi", "nu", "pe", "ro", "si", "tu", "va", "ze", "bri", "dal", "fen", "gor", "hul"]
    return sorted({"".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))) for _ in range(6000)})


def atom_feeds(feeds: int, entries: int, root: Path, seed: int = 3) -> None:
    """root/fNNNN/atom.xml: distinct stories (shared vocabulary, random order: no near-duplicates);
    every tenth story mentions Kyiv and Ukraine, so some land in a topic."""
    rng = random.Random(seed)
    vocab = _feed_words(rng)
    for f in range(feeds):
        items = []
        for e in range(entries):
            body = [" ".join(rng.sample(vocab, 45)).capitalize() + "." for _ in range(2)]
            if (f * entries + e) % 10 == 0:
                body[0] = "Kyiv officials in Ukraine said on Monday that " + body[0]
            title = " ".join(rng.sample(vocab, 8)).capitalize()
            when = (FEEDS_T0 + timedelta(minutes=f * entries + e)).isoformat()
            html = "".join(f"<p>{escape(p)}</p>" for p in body)
            items.append(f"<entry><id>urn:bench:{f}:{e}</id><title>{escape(title)}</title>"
                         f'<link href="https://site{f % 50}.example/{f}/{e}"/><updated>{when}</updated>'
                         f'<content type="html">{escape(html)}</content></entry>')
        path = root / f"f{f:04}" / "atom.xml"
        path.parent.mkdir(parents=True)
        path.write_text('<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                        f"<id>urn:bench:{f}</id><title>Bench feed {f}</title><updated>{FEEDS_T0.isoformat()}</updated>"
                        + "".join(items) + "</feed>")


# -- themed wire copy (bench/pipeline.py) -------------------------------------------------------

DUP_RATE = 0.05  # share of stories that are verbatim copies of a story from an earlier file
REVISION_RATE = 0.05  # share that are revisions of an earlier story (words changed, a line added)
KICKER_RATE = 0.4  # share of one-line "KICKER: ..." stories; the rest are multi-line articles
# Three themes: two hit the shipped topics (config.toml), one hits none. A themed story draws
# each sentence's place and keyword from its theme with a per-story probability, so some themed
# stories score under the topic threshold. Names and numbers make every story distinct.
THEMES = {  # theme: (places, keywords, kickers)
    "ukraine": ("Kyiv Kharkiv Odesa Kherson Zaporizhzhia Donetsk Dnipro Lviv".split(),
                ["Ukrainian", "Russian", "drone", "missile", "Kremlin", "NATO", "ceasefire", "front line"],
                ["FRONT LINE", "AIR RAID", "ON ALERT", "GRID STRAIN"]),
    "taiwan": ("Taipei Kaohsiung Taichung Tainan Kinmen Penghu Hualien".split(),
               ["Taiwan Strait", "PLA", "coast guard", "military", "drills", "espionage", "warship",
                "national defense", "Chinese", "Beijing", "police", "suspect"],
               ["STRAIT WATCH", "COAST GUARD DRILLS", "CYBER DEFENSE", "ON ALERT"]),
    "other": ("Lisbon Nairobi Lima Oslo Hanoi Perth Montreal Accra Porto".split(),
              ["budget", "rail line", "harvest", "festival", "museum", "library", "port", "bond market"],
              ["MARKETS", "WEATHER", "CULTURE", "CITY HALL", "SPORT"]),
}
THEME_WEIGHTS = {"ukraine": 0.3, "taiwan": 0.25, "other": 0.45}
EXCLUDED = ["the Eurovision final", "a baseball game"]  # exclude terms of the shipped topics
FIRST = "Olena Ivan Mei Chen Maria Tomas Aiko Lars Nadia Pedro Wei Hana Yusuf Ingrid Omar Lin".split()
LAST = "Kovalenko Shevchuk Huang Silva Novak Tanaka Berg Haddad Costa Wu Kim Demir Larsen Farah Tsai".split()
THEMED_ROLES = ROLES[:9]  # the themed corpus draws from the first nine (as it always has)
TEMPLATES = [  # no colons (a colon could read as a kicker), every sentence ends with "."
    "{name}, a {role} in {place}, said {n} {word} reports were filed on {day}.",
    "Officials in {place} counted {n} incidents linked to the {word} over {m} days.",
    "The {word} issue drew {n} complaints in {place}, according to {name}.",
    "{name} told reporters that {place} would spend {n} million on {word} plans by {year}.",
    "At least {n} people in {place} followed the {word} debate, the {role} said on {day}.",
    "A {role} named {name} said the {word} review in {place} would take {m} weeks.",
]


# Real stories share few word 3-grams; six templates alone would make every pair look alike
# to near-duplicate detection. So each sentence also carries a clause of words drawn from a
# large made-up vocabulary.
_SYLLABLES = "ka lo mi ren tas vu pel dor shi an eth ur bel co nix tra mor sel ga vi".split()


@functools.cache
def _vocab() -> list[str]:
    return sorted({"".join(random.Random(i).choices(_SYLLABLES, k=random.Random(-i).randint(2, 4)))
                   for i in range(6000)})


def _sentence(rng: random.Random, theme: str, density: float) -> str:
    places, words, _ = THEMES[theme if rng.random() < density else "other"]
    text = rng.choice(TEMPLATES).format(
        name=f"{rng.choice(FIRST)} {rng.choice(LAST)}", role=rng.choice(THEMED_ROLES), place=rng.choice(places),
        word=rng.choice(words), n=rng.randint(2, 9999), m=rng.randint(2, 60),
        day=rng.choice(DAYS), year=rng.randint(2027, 2040))
    return text[:-1] + ", " + " ".join(rng.choices(_vocab(), k=rng.randint(4, 9))) + "."


def _revise(rng: random.Random, lines: list[str]) -> list[str]:
    """A later version of a story: a few words changed, and for an article now and then a line added."""
    lines = list(lines)
    i = rng.randrange(len(lines))
    words = lines[i].split(" ")
    for _ in range(rng.randint(1, 3)):
        j = rng.randrange(1, len(words) - 1)
        words[j] = rng.choice(_vocab())
    lines[i] = " ".join(words)
    if len(lines) > 1 and rng.random() < 0.5:
        lines.append(_line(rng, "other", 0.5, 120, 230))
    return lines


def _line(rng: random.Random, theme: str, density: float, lo: int, hi: int, start: str = "") -> str:
    """Sentences appended until the line is at least `lo` long; retried if it passes `hi`."""
    while True:
        text = start
        while len(text) < lo:
            text += (" " if text and not text.endswith(" ") else "") + _sentence(rng, theme, density)
        if len(text) <= hi:
            return text


def themed_story(rng: random.Random) -> list[str]:
    """One new story as wire lines: an article of 3-10 lines, or one KICKER line of 600-900 chars."""
    theme = rng.choices(list(THEME_WEIGHTS), weights=list(THEME_WEIGHTS.values()))[0]
    density = rng.uniform(0.15, 0.9)
    if rng.random() < KICKER_RATE:
        lines = [_line(rng, theme, density, rng.randint(600, 790), 900,
                       start=rng.choice(THEMES[theme][2]) + ": ")]
    else:
        lines = [_line(rng, theme, density, 120, 230) for _ in range(rng.randint(3, 10))]
    if rng.random() < 0.03:  # now and then an excluded term keeps a story out of its topic
        lines[-1] = lines[-1][:-1] + f", before {rng.choice(EXCLUDED)}."
    return lines


def themed_wire(dest: Path, n: int, seed: int) -> dict:
    """Write `n` stories to dest/*.txt, STORIES_PER_FILE a file; returns counts."""
    from _common import fingerprint

    rng = random.Random(seed)
    dest.mkdir(parents=True)
    seen: set[str] = set()  # fingerprints: every generated story is distinct to exact dedup
    earlier: list[list[str]] = []  # stories of earlier files, to copy as duplicates
    dups = revisions = written = 0
    for index in range((n + STORIES_PER_FILE - 1) // STORIES_PER_FILE):
        stories = []
        for _ in range(min(STORIES_PER_FILE, n - written)):
            roll = rng.random()
            if earlier and roll < DUP_RATE:
                stories.append(rng.choice(earlier))
                dups += 1
                continue
            if earlier and roll < DUP_RATE + REVISION_RATE:
                stories.append(_revise(rng, rng.choice(earlier)))
                revisions += 1
                continue
            while (fp := fingerprint("\n".join(new := themed_story(rng)))) in seen:
                pass
            seen.add(fp)
            stories.append(new)
        written += len(stories)
        earlier.extend(s for s in stories if rng.random() < 0.2)  # a sample keeps memory small
        (dest / f"wire-{index:05d}.txt").write_text(wire_text(stories), encoding="utf-8")
    return {"stories": written, "files": index + 1, "duplicates": dups, "revisions": revisions, "bytes": sum(
        p.stat().st_size for p in dest.iterdir())}


# -- labelled near-duplicates (bench/dedup.py) --------------------------------------------------

KICKER_SHARE = 0.35  # share of new stories that are one-line KICKER stories (600-900 chars)
BOILERPLATE_SHARE = 0.10  # share of new articles that end with a shared boilerplate paragraph
# Share of all stories of each planted kind (the rest are new stories). "teaser-first" starts a
# cluster with a teaser; its article ("full-after-teaser", a duplicate) follows a little later.
RATES = {
    "exact-copy": 0.06,
    "re-edited": 0.06,
    "updated-figures": 0.05,
    "paragraph-added": 0.03,
    "paragraph-removed": 0.03,
    "paragraphs-reordered": 0.03,
    "teaser-after-full": 0.03,
    "teaser-first": 0.03,
    "same-event": 0.05,
}
DUP_KINDS = ("exact-copy", "re-edited", "updated-figures", "paragraph-added", "paragraph-removed",
             "paragraphs-reordered", "teaser-after-full", "full-after-teaser")
NEW_KINDS = ("new", "boilerplate", "same-event", "teaser-first")
ARTICLE_ONLY = {"paragraph-added", "paragraph-removed", "paragraphs-reordered"}
RECENT = 3000  # near-dups mostly (RECENT_P) pick a cluster among the RECENT newest
RECENT_P = 0.85
EXTRA_FILES, EXTRA_STORIES = 60, 10  # incremental cost: files of 10 stories added to a built store
SMALL_STORE = 1000  # the extra files are made when this many stories are out (the small store)

# .. lexicon
# Made-up words from syllables (no clash with English words the wire reader looks for), drawn
# with Zipf weights: frequent words and fixed template phrases give unrelated stories a few
# shared 3-shingles ("told reporters in", "said on monday"), as real news does.
_SYL = ("ka lo mi ren tas vu pel dor shi an eth ur bel co nix tra mor sel ga vi qua zen bro hal fi nu ost er ply gru "
        "ba be bi bo du fa fe ge go ha ja jo ke ki ku la le li ma me mo na ne no pa pe pi ra ri ro sa se si ta te "
        "ti to va ve wa wi ya yo za zo").split()
# English words a made-up word must not be (sentence starters, attribution words, caption and end
# marks the wire reader looks for, abbreviations): the reader would split stories differently.
_RESERVED = set("""a an the in on at after as with for from when while it its he she his her they their we our
    this that these those some most many several according despite since if but although amid officials police
    meanwhile however of to and or said says was is were are will has have had by said says added reported stated
    announced warned told wrote yesterday today tonight photo photos picture image video graphic ends end no mr
    mrs ms dr st gen lt col sgt capt co inc ltd jr sr vs etc jan feb mar apr jun jul aug sep oct nov dec""".split())


class Lexicon:
    def __init__(self) -> None:
        rng = random.Random(20261125)
        seen: set[str] = set(_RESERVED)

        def words(count: int, lo: int = 2, hi: int = 3) -> list[str]:
            out = []
            while len(out) < count:
                w = "".join(rng.choices(_SYL, k=rng.randint(lo, hi)))
                if w not in seen:
                    seen.add(w)
                    out.append(w)
            return out

        self.nouns = words(16000)
        self.adjs = words(5000)
        self.verbs = words(4000)
        self.firsts = [w.capitalize() for w in words(500)] + "Olena Ivan Mei Chen María Tomás Aiko Lars Nadia Pedro Wei Hana Yusuf Ingrid Omar Lin Zoë Jürgen".split()
        self.lasts = [w.capitalize() for w in words(3000, 2, 3)]
        self.places = [w.capitalize() for w in words(2500, 2, 3)]
        self.orgs = [f"the {w.capitalize()} {kind}" for w in words(800) for kind in
                     [rng.choice("Ministry Council Agency Authority Institute Bureau Commission Federation Union Office".split())]]
        self.kickers = [" ".join(w.upper() for w in words(rng.choice((1, 1, 2)), 2, 3)) for _ in range(300)]
        self.cw = {k: self._cum(len(getattr(self, k)), s) for k, s in
                   (("nouns", 1.0), ("adjs", 1.0), ("verbs", 1.0))}

    @staticmethod
    def _cum(n: int, s: float) -> list[float]:
        total, out = 0.0, []
        for k in range(n):
            total += 1.0 / (k + 3) ** s
            out.append(total)
        return out


# No colons (a colon early in a line reads as a kicker); every sentence ends with a full stop.
# Slots: P person's full name, p surname, L place, O organisation, D day, n/m numbers, Y year,
# N noun, T topic noun of the story, A adjective, V past verb, v verb, R role.
LEDES = [  # first sentence of a lede: starts with a word the wire reader knows starts a sentence
    "The {A} {T} of {L} {V} {n} {N}s on {D}, {O} said.",
    "A {A} {N} {V} the {T} near {L} on {D}, leaving at least {n} {N}s {V}, officials said.",
    "Officials {V} the {A} {T} in {L} on {D} after {n} {N}s were {V}.",
    "Police {V} {n} {N}s in {L} on {D} as the {T} {V} the {A} {N}.",
    "Several {A} {N}s {V} the {T} in {L} on {D}, {O} said in a statement.",
    "The {T} {V} {n} {A} {N}s across {L} on {D}, the worst {N} in {m} years.",
]
SENTENCES = [
    "{P} said {n} {N}s had been {V} in {L} on {D}.",
    "The {A} {T} in {L} {V} {n} {N}s, {O} said.",
    "“We will {v} the {T} and {v} every {N},” {P} told reporters in {L}.",
    "According to {O}, at least {n} {N}s were {V} near {L} over {m} days.",
    "{P}, a {R} at {O}, said the {A} {T} would {v} the {N} by {Y}.",
    "Officials {V} {n} {N}s after the {T} {V} the {A} {N} of {L}.",
    "{p} said the {T} had {V} {A} {N}s across {L} since {D}.",
    "The {N} was {V} by {n} {A} {N}s — the largest {T} in {m} years — {p} said.",
    "In {L}, {n} {N}s {V} the {A} {T} as {A} {N}s {V} the {N}.",
    "{O} {V} the {T} on {D}, saying {n} {N}s and {m} {N}s had been {V}.",
    "It was not clear whether the {A} {N} would {v} the {T}, {p} added.",
    "The {T} {V} the {A} {N} in {L}, where {n} {N}s {V} {A} {N}s last year.",
    "{P}’s {N} {V} the {A} {N} and the {T}, {O} said on {D}.",
    "“The {T} is {A} and the {N} is {A},” said {P}, a {R} in {L}.",
    "About {n} {N}s {V} the {A} {N} in {L} in {Y}, up from {m} a year earlier.",
    "{p} {V} the {A} {N} of {O}, which has {V} {n} {N}s since {D}.",
    "The {A} {N} cost {n} million, {O} said, and {V} the {T} of {L}.",
    "Residents of {L} said the {T} had {V} their {N}s and {V} the {A} {N}.",
    # stock phrases: shared by many unrelated stories, as in real copy
    "{O} did not immediately respond to a request for comment.",
    "It was not clear how many {N}s had been {V} as of {D} evening, {p} said.",
    "{p} told reporters at a news conference on {D} that the {T} would continue for the time being.",
    "The {T} was one of the largest in the region in more than {m} years, {O} said in a statement.",
    "Officials in {L} said the situation remained tense and that more details would be released later in the week.",
]
SUMMARIES = [  # a kicker's summary: runs into the lede with no full stop, no sentence-start words
    "{A} {T} {V} {N}s in {L} for {m} days",
    "{L} {N}s {V} {A} {T} after {N} {V}",
    "{A} {N} {V} {L} {T} as {N}s {V} {N}",
    "{T} in {L} {V} {A} {N}s and {N}s",
]
BOILERPLATE = [
    "This report is based on information from officials and agencies that could not be independently verified by Publisher Wire at the time of publication.",
    "Publisher Wire has not been able to independently confirm the figures given by either side, and the numbers may change as more information becomes available.",
    "Readers with information about this story can contact the Publisher Wire news desk, which reviews every message it receives within one working day.",
    "Publisher Wire is funded by its subscribers and does not accept payment from any of the governments, companies or groups named in its reports.",
    "Some of the people quoted in this report spoke on condition of anonymity because they were not authorised to speak to the media about the matter.",
    "An earlier version of this story gave the wrong date for the meeting, and Publisher Wire regrets the error, which has now been corrected.",
]
_SLOT = re.compile(r"\{(\w)\}")
_NUMBER = re.compile(r"\d[\d,]*")
_WORDLIKE = re.compile(r"^[a-z]+$")


class Writer:
    """Sentences, paragraphs and stories for one seeded corpus."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.lex = Lexicon()

    def word(self, kind: str) -> str:
        return self.rng.choices(getattr(self.lex, kind), cum_weights=self.lex.cw[kind])[0]

    def number(self) -> str:
        r = self.rng.random()
        n = self.rng.randint(2, 99) if r < 0.6 else self.rng.randint(100, 999) if r < 0.85 else self.rng.randint(1000, 99999)
        return f"{n:,}"

    def entities(self) -> dict:
        rng, lex = self.rng, self.lex
        persons = [(rng.choice(lex.firsts), rng.choice(lex.lasts)) for _ in range(rng.randint(2, 4))]
        topics = [rng.choice(lex.nouns[800:]) for _ in range(3)]  # mid-frequency nouns, the story's own
        return {"persons": persons, "places": rng.sample(lex.places, rng.randint(1, 3)), "org": rng.choice(lex.orgs),
                "topics": topics, "kicker": rng.choice(lex.kickers)}

    def fill(self, template: str, ents: dict) -> str:
        rng = self.rng

        def slot(m: re.Match) -> str:
            s = m.group(1)
            if s == "P":
                return " ".join(rng.choice(ents["persons"]))
            if s == "p":
                return rng.choice(ents["persons"])[1]
            if s == "L":
                return rng.choice(ents["places"])
            if s == "O":
                return ents["org"]
            if s == "T":
                return rng.choice(ents["topics"])
            if s == "D":
                return rng.choice(DAYS)
            if s == "n":
                return self.number()
            if s == "m":
                return str(rng.randint(2, 60))
            if s == "Y":
                return str(rng.randint(2027, 2040))
            if s == "R":
                return rng.choice(ROLES)
            if s == "N":
                return self.word("nouns")
            if s == "A":
                return self.word("adjs")
            if s == "V":
                return self.word("verbs") + "ed"
            return self.word("verbs")  # v

        text = _SLOT.sub(slot, template)
        return text[0].upper() + text[1:]

    def paragraph(self, ents: dict, first: bool = False) -> str:
        """A paragraph of 100-230 characters (one or more sentences)."""
        rng = self.rng
        while True:
            lo = rng.randint(100, 200)
            text = self.fill(rng.choice(LEDES), ents) if first else ""
            while len(text) < lo:
                text += (" " if text else "") + self.fill(rng.choice(SENTENCES), ents)
            if len(text) <= 230:
                return text

    def lede_line(self, ents: dict, lo: int, hi: int) -> str:
        """The lede of a one-line story: sentences up to lo..hi characters."""
        while True:
            text = self.fill(self.rng.choice(LEDES), ents)
            while len(text) < lo:
                text += " " + self.fill(self.rng.choice(SENTENCES), ents)
            if len(text) <= hi:
                return text

    def new_story(self, ents: dict | None = None, kicker: bool | None = None) -> dict:
        """A new story: {"ents", "kicker", "summary", "paras", "one_line"}."""
        rng = self.rng
        ents = ents or self.entities()
        one_line = rng.random() < KICKER_SHARE if kicker is None else kicker
        summary = self.fill(rng.choice(SUMMARIES), ents)
        head = f"{ents['kicker']}: {summary} "
        if one_line:
            paras = [self.lede_line(ents, rng.randint(600, 850) - len(head), 900 - len(head))]
        else:
            paras = [self.paragraph(ents, first=True)] + [self.paragraph(ents) for _ in range(rng.randint(2, 7))]
        return {"ents": ents, "kicker": ents["kicker"], "summary": summary, "paras": paras, "one_line": one_line}


def lines_of(story: dict) -> list[str]:
    if story["one_line"]:
        return [f"{story['kicker']}: {story['summary']} {story['paras'][0]}"]
    return list(story["paras"])


# .. planted near-duplicates

def cosmetic(rng: random.Random, lines: list[str]) -> list[str]:
    """The same text as another sender gives it: straight quotes, other dashes, odd spaces."""
    out = []
    for text in lines:
        if rng.random() < 0.7:
            text = text.replace("“", '"').replace("”", '"').replace("’", "'")
        if rng.random() < 0.5:
            text = text.replace(" — ", rng.choice((" - ", " -- ", " – ")))
        if rng.random() < 0.4 and " " in text:
            i = rng.choice([m.start() for m in re.finditer(" ", text)])
            text = text[:i] + rng.choice(("\u00a0", "  ")) + text[i + 1:]
        out.append(text + rng.choice(("", "", " ")))
    if out == lines:  # nothing to change: double a space
        out[0] = out[0].replace(" ", "  ", 1)
    return out


def re_edit(w: Writer, story: dict) -> dict:
    """A few words changed throughout (3-10% of the words: replaced, dropped or added)."""
    rng = w.rng
    rate = rng.uniform(0.03, 0.10)
    paras = []
    for text in story["paras"]:
        words = text.split(" ")
        for _ in range(max(1, round(rate * len(words)))):
            spots = [i for i in range(1, len(words) - 1) if _WORDLIKE.match(words[i])]
            if not spots:
                break
            i, r = rng.choice(spots), rng.random()
            if r < 0.7:
                words[i] = w.word(rng.choice(("nouns", "adjs", "verbs")))
            elif r < 0.85:
                del words[i]
            else:
                words.insert(i, w.word("adjs"))
        paras.append(" ".join(words))
    return story | {"paras": paras}


def update_figures(w: Writer, story: dict) -> dict | None:
    """The numbers changed (most of them), the words not."""
    rng = w.rng

    def new(m: re.Match) -> str:
        old = m.group()
        if rng.random() < 0.15 or (len(old) == 4 and old.startswith("20")):  # some stay; years stay
            return old
        value = int(old.replace(",", ""))
        while (n := max(2, round(value * rng.uniform(0.5, 2.0)) + rng.randint(-3, 3))) == value:
            pass
        return f"{n:,}"

    paras = [_NUMBER.sub(new, p) for p in story["paras"]]
    return None if paras == story["paras"] else story | {"paras": paras}


def add_paragraph(w: Writer, story: dict) -> dict:
    paras = list(story["paras"])
    paras.insert(w.rng.randint(1, len(paras)), w.paragraph(story["ents"]))
    return story | {"paras": paras}


def remove_paragraph(w: Writer, story: dict) -> dict | None:
    if len(story["paras"]) < 3:
        return None
    paras = list(story["paras"])
    del paras[w.rng.randrange(1, len(paras))]
    return story | {"paras": paras}


def reorder(w: Writer, story: dict) -> dict | None:
    if len(story["paras"]) < 3:
        return None
    rest = story["paras"][1:]
    while (shuffled := w.rng.sample(rest, len(rest))) == rest:
        pass
    return story | {"paras": [story["paras"][0], *shuffled]}


def cut(rng: random.Random, text: str, lo: float, hi: float, at_least: int) -> str:
    """`text` cut off mid-sentence at a word boundary, somewhere in lo..hi of its length."""
    pos = rng.randint(min(len(text) - 2, max(at_least, int(lo * len(text)))), max(at_least, int(hi * len(text))))
    head = text[:pos].rsplit(" ", 1)[0]
    return head.rstrip(" ,.;—–-“”\"'’")


def teaser(w: Writer, story: dict) -> list[str]:
    """The opening of a story, cut off mid-sentence: a KICKER line, a bare line, or two lines."""
    rng = w.rng
    paras = story["paras"]
    head = f"{story['kicker']}: {story['summary']} "
    if story["one_line"]:
        return [head + cut(rng, paras[0], 0.3, 0.7, 120)]
    mode = rng.random()
    if mode < 0.4:
        return [head + cut(rng, paras[0], 0.45, 0.92, 80)]
    if mode < 0.8 or len(paras) < 2:
        return [cut(rng, paras[0], 0.45, 0.92, 80)]
    return [paras[0], cut(rng, paras[1], 0.3, 0.9, 40)]


# .. the corpus

class Cluster:
    __slots__ = ("id", "canon", "canon_idx", "versions", "pending", "one_line")

    def __init__(self, cid: int, canon: dict) -> None:
        self.id, self.canon, self.canon_idx = cid, canon, -1
        self.versions: list[tuple[int, list[str]]] = []  # (story index, lines) of every version emitted
        self.pending = False  # a teaser was emitted, its article not yet
        self.one_line = canon["one_line"]


def labelled_wire(dest: Path, n: int, seed: int) -> dict:
    """Write n stories as wire files to dest/sources (+ extra files to dest/extra) and the ground
    truth to dest/truth.json; returns counts and similarity statistics."""
    from _common import dedup, wire

    rng = random.Random(seed)
    w = Writer(rng)
    (dest / "sources").mkdir(parents=True)
    clusters: list[Cluster] = []
    articles: list[Cluster] = []
    pending: list[tuple[int, Cluster]] = []  # (due index, cluster): articles of teasers already sent
    truth: dict[str, list] = {k: [] for k in ("file", "line", "cluster", "kind", "src")}
    texts: list[list[str]] = []  # lines of every story (for the similarity statistics)
    kinds = list(RATES)
    cum = [sum(list(RATES.values())[: i + 1]) for i in range(len(kinds))]

    def pick(article_only: bool, window: int = RECENT) -> Cluster | None:
        pool = articles if article_only else clusters
        for _ in range(12):
            if not pool:
                return None
            if rng.random() < RECENT_P:
                c = pool[rng.randrange(max(0, len(pool) - window), len(pool))]
            else:
                c = pool[rng.randrange(len(pool))]
            if not c.pending:
                return c
        return None

    def new_cluster(story: dict) -> Cluster:
        c = Cluster(len(clusters), story)
        clusters.append(c)
        if not story["one_line"]:
            articles.append(c)
        return c

    def derive(kind: str, c: Cluster) -> tuple[list[str], int] | None:
        """(lines, source story index) of a planted near-dup of cluster c, or None if it cannot be made."""
        if kind == "exact-copy":
            idx, lines = c.versions[-1] if rng.random() < 0.6 else rng.choice(c.versions)
            return cosmetic(rng, lines), idx
        if kind == "teaser-after-full":
            return teaser(w, c.canon), c.canon_idx
        change = {"re-edited": re_edit, "updated-figures": update_figures, "paragraph-added": add_paragraph,
                  "paragraph-removed": remove_paragraph, "paragraphs-reordered": reorder}[kind]
        story = change(w, c.canon)
        if story is None or lines_of(story) == lines_of(c.canon):
            return None
        src = c.canon_idx
        c.canon = story
        return lines_of(story), src

    def emit(lines: list[str], c: Cluster, kind: str, src: int, canon: bool) -> None:
        idx = len(texts)
        texts.append(lines)
        truth["cluster"].append(c.id)
        truth["kind"].append(kind)
        truth["src"].append(src)
        c.versions.append((idx, lines))
        if canon:
            c.canon_idx = idx

    def story_at(i: int) -> None:
        """Emit story number i (the next one)."""
        if pending and pending[0][0] <= i:
            _, c = pending.pop(0)
            c.pending = False
            emit(lines_of(c.canon), c, "full-after-teaser", c.versions[-1][0], canon=True)
            return
        r = rng.random()
        kind = next((k for k, edge in zip(kinds, cum) if r < edge), "new")
        if kind in DUP_KINDS:
            for _ in range(6):
                c = pick(kind in ARTICLE_ONLY)
                made = derive(kind, c) if c else None
                if made:
                    lines, src = made
                    emit(lines, c, kind, src, canon=kind not in ("exact-copy", "teaser-after-full"))
                    return
            kind = "new"
        if kind == "same-event":
            c = pick(False)
            if c:
                story = w.new_story(ents=c.canon["ents"])
                emit(lines_of(story), new_cluster(story), "same-event", c.canon_idx, canon=True)
                return
            kind = "new"
        if kind == "teaser-first":
            story = w.new_story()
            c = new_cluster(story)
            emit(teaser(w, story), c, "teaser-first", -1, canon=False)
            c.pending = True
            due = i + rng.randint(5, 1500)
            pending.append((due, c))
            pending.sort(key=lambda t: t[0])
            return
        story = w.new_story()
        boiler = not story["one_line"] and rng.random() < BOILERPLATE_SHARE
        if boiler:
            story["paras"] = story["paras"] + [rng.choice(BOILERPLATE)]
        emit(lines_of(story), new_cluster(story), "boilerplate" if boiler else "new", -1, canon=True)

    def write_file(path: Path, stories: list[list[str]]) -> list[int]:
        """Write stories (blank line between) with a random sender style; returns first lines."""
        firsts, line = [], 1
        for lines in stories:
            firsts.append(line)
            line += len(lines) + 1
        text = wire_text(stories)
        style = rng.random()
        if style < 0.08:
            data = text.replace("\n", "\r\n").encode("utf-8")
        elif style < 0.12:
            data = b"\xef\xbb\xbf" + text.encode("utf-8")
        elif style < 0.15:
            try:
                data = text.encode("cp1252")
            except UnicodeEncodeError:
                data = text.encode("utf-8")
        else:
            data = text.encode("utf-8")
        path.write_bytes(data)
        return firsts

    def make_extras() -> None:
        """Files for the incremental-cost test, made when the first SMALL_STORE stories are out: half
        new stories, half near-dups of those stories (so stored in the small and the large store)."""
        (dest / "extra").mkdir()
        extra_kinds = ["new", "new", "new", "new", "new", "exact-copy", "re-edited", "updated-figures",
                       "teaser-after-full", "paragraph-added"]
        for f in range(EXTRA_FILES):
            stories = []
            for kind in extra_kinds:
                made = None
                if kind != "new":
                    for _ in range(10):
                        c = rng.choice(clusters)
                        if c.pending or (c.one_line and kind in ARTICLE_ONLY):
                            continue
                        saved = c.canon
                        made = derive(kind, c)
                        c.canon = saved
                        if made:
                            break
                stories.append(made[0] if made else lines_of(w.new_story()))
            write_file(dest / "extra" / f"extra-{f:03d}.txt", stories)

    t0 = time.perf_counter()
    files = 0
    for start in range(0, n, STORIES_PER_FILE):
        if start == SMALL_STORE:
            make_extras()
        count = min(STORIES_PER_FILE, n - start)
        for i in range(start, start + count):
            story_at(i)
        name = f"wire-{files:05d}.txt"
        firsts = write_file(dest / "sources" / name, texts[start:start + count])
        truth["file"] += [name] * count
        truth["line"] += firsts
        files += 1
    while pending:  # teasers whose article was due after the end: the article arrives at the end
        story_at(len(texts) + 10**9)
    if len(texts) > n:  # those went into one last file
        extra_count = len(texts) - n
        name = f"wire-{files:05d}.txt"
        firsts = write_file(dest / "sources" / name, texts[n:])
        truth["file"] += [name] * extra_count
        truth["line"] += firsts
        files += 1
    gen_s = time.perf_counter() - t0

    # Check: the wire reader finds exactly the planted stories, at the planted lines.
    t1 = time.perf_counter()
    parsed: list = []
    for name in sorted(set(truth["file"])):
        parsed += [(name, s) for s in wire.read((dest / "sources" / name).read_bytes()).stories]
    got = [(name, s.first_line) for name, s in parsed]
    want = list(zip(truth["file"], truth["line"]))
    if got != want:
        bad = next(i for i, (a, b) in enumerate(zip(got, want)) if a != b) if len(got) == len(want) else min(len(got), len(want))
        raise SystemExit(f"segmentation mismatch at story {bad}: got {got[bad:bad + 2]}, planted {want[bad:bad + 2]} "
                         f"({len(got)} vs {len(want)} stories)")
    sh = [dedup.shingles(s.paragraphs, s.kicker) for _, s in parsed]
    stats = similarity_stats(rng, sh, truth)
    truth["src_jaccard"] = stats.pop("per_story_j")
    truth["src_containment"] = stats.pop("per_story_c")
    truth["shingles"] = [len(s) for s in sh]
    truth["truncated"] = [s.truncated for _, s in parsed]
    (dest / "truth.json").write_text(json.dumps(truth))
    counts: dict[str, int] = {}
    for k in truth["kind"]:
        counts[k] = counts.get(k, 0) + 1
    return {"stories": len(texts), "files": files, "clusters": len(clusters), "kinds": counts,
            "bytes": sum(p.stat().st_size for p in (dest / "sources").iterdir()),
            "mean_chars": sum(len("\n".join(t)) for t in texts) / len(texts),
            "mean_shingles": sum(truth["shingles"]) / len(sh), "generate_s": gen_s,
            "check_s": time.perf_counter() - t1, **stats}


def similarity_stats(rng: random.Random, sh: list, truth: dict) -> dict:
    """Jaccard of random unrelated pairs, and of each planted story with its source, per kind."""
    from _common import dedup

    n = len(sh)
    cl = truth["cluster"]
    pairs = []
    while len(pairs) < 20000 and n > 1:
        a, b = rng.randrange(n), rng.randrange(n)
        if cl[a] != cl[b]:
            pairs.append(dedup.jaccard(sh[a], sh[b]))
    shared = sum(1 for j in pairs if j > 0) / max(1, len(pairs))
    per_j, per_c = [], []
    for i, src in enumerate(truth["src"]):
        if src < 0:
            per_j.append(None)
            per_c.append(None)
            continue
        a, b = sh[i], sh[src]
        small, large = (a, b) if len(a) <= len(b) else (b, a)
        per_j.append(round(dedup.jaccard(a, b), 4))
        per_c.append(round(dedup.containment(small, large), 4))
    by_kind: dict[str, dict] = {}
    for kind in sorted(set(truth["kind"])):
        js = sorted(j for j, k in zip(per_j, truth["kind"]) if k == kind and j is not None)
        cs = sorted(c for c, k in zip(per_c, truth["kind"]) if k == kind and c is not None)
        if js:
            q = lambda xs, p: xs[min(len(xs) - 1, int(p * len(xs)))]  # noqa: E731
            by_kind[kind] = {"n": len(js), "jaccard_p5": q(js, 0.05), "jaccard_p50": q(js, 0.5),
                             "jaccard_p95": q(js, 0.95), "containment_p5": q(cs, 0.05), "containment_p50": q(cs, 0.5)}
    # boilerplate pairs: two unrelated stories ending with the same boilerplate paragraph
    bp = [i for i, k in enumerate(truth["kind"]) if k == "boilerplate"]
    bpj = []
    for _ in range(min(5000, len(bp) * 4)):
        a, b = rng.choice(bp), rng.choice(bp)
        if a != b and dedup.shared(sh[a], sh[b]) >= 10:
            bpj.append(dedup.jaccard(sh[a], sh[b]))
    return {"random_pairs": len(pairs), "random_mean_jaccard": sum(pairs) / max(1, len(pairs)),
            "random_share_any_shingle": shared, "random_max_jaccard": max(pairs, default=0.0),
            "boilerplate_pair_mean_jaccard": sum(bpj) / len(bpj) if bpj else None,
            "boilerplate_pair_max_jaccard": max(bpj, default=None),
            "by_kind": by_kind, "per_story_j": per_j, "per_story_c": per_c}


# -- hostile input (bench/hostile.py; tests/test_reliability.py, tests/test_feed.py) ------------

BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b"".join(b'<!ENTITY lol%d "%s">' % (i, b"".join(b"&lol%s;" % (str(i - 1).encode() if i > 1 else b"")
                                                                        for _ in range(10))) for i in range(1, 10))
                  + b']><rss version="2.0"><channel><title>t</title><item><title>&lol9;</title>'
                    b"<description>x</description></item></channel></rss>")
