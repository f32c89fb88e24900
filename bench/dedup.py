"""Near-duplicate benchmark: this project's dedup vs datasketch MinHashLSH vs exact hashing, on one
labelled corpus; and the incremental cost of adding a file to a small vs a large store.

    python bench/dedup.py [--n 100000] [--seed 1] [--timeout 900] [--no-profile] [--keep]

The corpus (seeded; wire-text files of 100 stories under bench/work/, removed afterwards unless
--keep) gives every story a cluster id: "is a duplicate of" = belongs to the cluster of an earlier
story. Planted kinds, at the rates of RATES: exact copy (straight quotes, other dashes, odd spaces;
8% of files have CRLF line ends, 4% a BOM, 3% are cp1252), re-edited copy (3-10% of the words
changed), updated figures, paragraph added / removed / reordered, teaser (the opening cut off
mid-sentence: a KICKER line, a bare line or two lines) after its article and article after its
teaser; hard negatives: the same event told by another story (same names and places, other
wording), unrelated stories that end with the same boilerplate paragraph. Unrelated stories share
few word 3-shingles (mean Jaccard ~0.02, printed).

Each measurement runs in its own process (this script re-invoked with --child), so its peak RSS
(ru_maxrss; /proc VmHWM as a cross-check) is its own:
  ours        publisher.publish.ingest of every file into a fresh Store (no classify); decisions read
              back from the provenance table ('new' vs duplicate/revision/fuller/teaser/near-duplicate)
  exact       publisher.dedup.fingerprint of each story, a set
  datasketch  MinHash + MinHashLSH (64 and 128 permutations) on word 3-shingles of
              publisher.dedup.normalise(story.text); query before insert. "raw": any candidate makes a
              duplicate; "confirmed": a candidate must pass the exact Jaccard >= 0.4 or containment
              >= 0.8 test the project uses. Thresholds (THRESHOLDS) are tuned to the best F1 in one
              process per num_perm (a threshold whose run would exceed DS_BUDGET_S is stopped: its
              candidates grow with the index), then each variant's best is measured alone.
  incremental ingest_file of a 10-story file (half new stories, half near-dups of the first 1,000)
              into a store of 1,000 stories and into the full store: median of 20 files; and an
              ingest run over the whole sources directory with one such file dropped in
  profile     the pipeline again with a timer per stage (where the time goes; not the measured run)
Every method reads the same files through publisher.sources.wire.read, so all see the same
stories; stories/s is end to end (files in, decisions out), "w/o parse" leaves out wire.read.
Results are printed and written to bench/results/dedup.json and bench/results/dedup.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the publisher package, even when not installed

RESULTS = ROOT / "bench" / "results"
STORIES_PER_FILE = 100
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
EXTRA_DIRECT = 40  # of them, added with ingest_file; the rest dropped into the sources directory
SMALL_STORE = 1000
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6)  # datasketch MinHashLSH thresholds tried
NUM_PERMS = (64, 128)
CONFIRM_J, CONFIRM_C, CONFIRM_MIN = 0.4, 0.8, 10  # as publisher.dedup (resemblance, containment, MIN_SHINGLES)
DS_BUDGET_S = 120  # a threshold whose tuning run would take longer is dropped (its candidates grow with the
#                   index: quadratic work); at 100k the others take 5-30 s
DS_PROJECT_FROM = 10_000  # stories indexed before a projection may stop a run (fewer: too noisy)

# -- lexicon ---------------------------------------------------------------------------------
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


ROLES = ["spokesperson", "senior official", "policy analyst", "commander", "mayor", "researcher", "minister",
         "lawmaker", "bank economist", "prosecutor", "union leader", "regional governor", "doctor", "engineer"]
DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
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


# -- planted near-duplicates -----------------------------------------------------------------

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


# -- the corpus ------------------------------------------------------------------------------

class Cluster:
    __slots__ = ("id", "canon", "canon_idx", "versions", "pending", "one_line")

    def __init__(self, cid: int, canon: dict) -> None:
        self.id, self.canon, self.canon_idx = cid, canon, -1
        self.versions: list[tuple[int, list[str]]] = []  # (story index, lines) of every version emitted
        self.pending = False  # a teaser was emitted, its article not yet
        self.one_line = canon["one_line"]


def generate(dest: Path, n: int, seed: int) -> dict:
    """Write n stories as wire files to dest/sources (+ extra files to dest/extra) and the ground
    truth to dest/truth.json; returns counts and similarity statistics."""
    from publisher import dedup
    from publisher.sources import wire

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
        text = "\n\n".join("\n".join(s) for s in stories) + "\n"
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
                         f"({len(got)} vs {len(want)} stories); lines: {texts[bad][:2]}")
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
    from publisher import dedup

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
        if a != b and len(sh[a].all & sh[b].all) >= 10:
            bpj.append(dedup.jaccard(sh[a], sh[b]))
    return {"random_pairs": len(pairs), "random_mean_jaccard": sum(pairs) / max(1, len(pairs)),
            "random_share_any_shingle": shared, "random_max_jaccard": max(pairs, default=0.0),
            "boilerplate_pair_mean_jaccard": sum(bpj) / len(bpj) if bpj else None,
            "boilerplate_pair_max_jaccard": max(bpj, default=None),
            "by_kind": by_kind, "per_story_j": per_j, "per_story_c": per_c}



# -- measurements (child processes) ----------------------------------------------------------

def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def vm_hwm_mb() -> float | None:
    """Peak RSS of this process image per /proc (reset by exec, unlike ru_maxrss): a cross-check."""
    status = Path("/proc/self/status")
    lines = status.read_text().splitlines() if status.exists() else []
    return next((int(ln.split()[1]) / 1024 for ln in lines if ln.startswith("VmHWM:")), None)


def memory() -> dict:
    return {"rss_mb": peak_rss_mb(), "vm_hwm_mb": vm_hwm_mb()}


def make_config(root: Path, sources: Path, database: Path):
    """The shipped config.toml (dedup settings, topics) with its paths moved into `root`."""
    from publisher.config import parse

    raw = tomllib.loads((ROOT / "config.toml").read_text(encoding="utf-8"))
    raw["paths"] = {"sources": str(sources.resolve()), "feeds": str((root / "feeds").resolve()),
                    "database": str(database.resolve())}
    return parse(raw, root / "config.toml")


def source_files(sources: Path) -> list:
    from publisher.sources.files import list_sources
    return list_sources(sources)


def read_corpus(sources: Path) -> list:
    from publisher.sources import wire
    return [s for f in source_files(sources) for s in wire.read(f.path.read_bytes()).stories]


def child_ours(root: Path) -> dict:
    """The real pipeline: ingest every file into a fresh store; decisions from provenance."""
    from publisher.publish import PublishReport, ingest
    from publisher.store import Store

    config = make_config(root, root / "sources", root / "ours.db")
    now = datetime.now(UTC)
    start = memory()
    store = Store.open(config.paths.database, now=now)
    report = PublishReport()
    t0 = time.perf_counter()
    ingest(store, config, now, report)
    seconds = time.perf_counter() - t0
    mem = memory()
    bad = [s for s in report.sources if s.outcome in ("failed", "skipped")] + report.errors
    assert not bad, f"ingest problems: {bad[:3]}"
    rows = store.db.execute(
        """SELECT s.location, p.first_line, p.decision, p.version, v.entry, p.compared_version, p.jaccard,
                  p.containment
           FROM provenance p JOIN sources s ON s.id = p.source JOIN versions v ON v.id = p.version
           ORDER BY p.id""").fetchall()
    entries = store.count_entries()
    store.close()
    (root / "ours-decisions.json").write_text(json.dumps(rows))
    return {"seconds": seconds, "stories": sum(s.stories for s in report.sources), "entries": entries,
            "new": sum(s.new for s in report.sources), "revised": sum(s.revised for s in report.sources),
            "duplicate": sum(s.duplicate for s in report.sources), "start": start, **mem,
            "db_mb": sum(p.stat().st_size for p in root.glob("ours.db*")) / 2**20}


def child_exact(root: Path) -> dict:
    """Exact hashing alone: the fingerprint of the normalised text, seen before or not."""
    from publisher.dedup import fingerprint
    from publisher.sources import wire

    start = memory()
    seen: set[str] = set()
    preds: list[bool] = []
    parse_s = 0.0
    t0 = time.perf_counter()
    for f in source_files(root / "sources"):
        t1 = time.perf_counter()
        stories = wire.read(f.path.read_bytes()).stories
        parse_s += time.perf_counter() - t1
        for story in stories:
            fp = fingerprint(story.text)
            preds.append(fp in seen)
            seen.add(fp)
    seconds = time.perf_counter() - t0
    mem = memory()
    (root / "pred-exact.json").write_text(json.dumps("".join("1" if p else "0" for p in preds)))
    return {"seconds": seconds, "parse_s": parse_s, "stories": len(preds), "start": start, **mem}


_WORD = re.compile(r"\w+")


def ds_grams(text: str) -> list[bytes]:
    """Word 3-shingles of publisher.dedup.normalise(text), distinct, as bytes (datasketch's input)."""
    from publisher.dedup import normalise

    words = _WORD.findall(normalise(text))
    if len(words) < 3:
        return [" ".join(words).encode()] if words else []
    return [g.encode() for g in dict.fromkeys(" ".join(words[i:i + 3]) for i in range(len(words) - 2))]


def exact_set(grams: list[bytes]):
    import zlib

    import numpy as np
    return np.unique(np.fromiter((zlib.crc32(g) for g in grams), dtype=np.uint32, count=len(grams)))


def confirmed(a, b) -> bool:
    """The project's rule on exact sets: Jaccard >= 0.4, or containment of the shorter >= 0.8
    (texts under CONFIRM_MIN shingles: only identical sets)."""
    import numpy as np

    if len(a) < CONFIRM_MIN or len(b) < CONFIRM_MIN:
        return len(a) == len(b) and bool(np.array_equal(a, b))
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (len(a) + len(b) - inter) >= CONFIRM_J or inter / min(len(a), len(b)) >= CONFIRM_C


def load_truth(root: Path) -> dict:
    truth = json.loads((root / "truth.json").read_text())
    seen: set[int] = set()
    dup = []
    for c in truth["cluster"]:
        dup.append(c in seen)
        seen.add(c)
    truth["dup"] = dup
    return truth


def prf(pred, dup) -> dict:
    tp = sum(1 for p, d in zip(pred, dup) if p and d)
    fp = sum(1 for p, d in zip(pred, dup) if p and not d)
    fn = sum(1 for p, d in zip(pred, dup) if d and not p)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": precision, "recall": recall, "f1": f1}


def child_ds_tune(root: Path, perm: int) -> dict:
    """datasketch at every threshold of THRESHOLDS, on MinHashes computed once: raw and confirmed."""
    from datasketch import LeanMinHash, MinHash, MinHashLSH

    dup = load_truth(root)["dup"]
    stories = read_corpus(root / "sources")
    base = MinHash(num_perm=perm)
    sigs, sets = [], []
    t0 = time.perf_counter()
    for story in stories:
        grams = ds_grams(story.text)
        m = base.copy()
        m.update_batch(grams)
        sigs.append(LeanMinHash(m))
        sets.append(exact_set(grams))
    out = {"perm": perm, "minhash_s": time.perf_counter() - t0, "thresholds": []}
    n = len(sigs)
    for threshold in THRESHOLDS:
        lsh = MinHashLSH(threshold=threshold, num_perm=perm)
        raw, conf, cands_total = [], [], 0
        aborted, windows, cands_last, confirm_s = None, [], 0, 0.0
        t1 = time.perf_counter()
        for i, m in enumerate(sigs):
            cands = lsh.query(m)
            cands_total += len(cands)
            raw.append(bool(cands))
            t2 = time.perf_counter()
            conf.append(any(confirmed(sets[i], sets[k]) for k in cands))
            confirm_s += time.perf_counter() - t2
            lsh.insert(i, m)
            if i % 1000 == 999 and i + 1 < n:
                # A low threshold makes the candidates per query grow with the stories indexed
                # (quadratic work): stop when the run would pass the budget. Projection: the time
                # per candidate (measured: the confirmations) times the candidates to come
                # (candidates per story fitted as growing linearly over the windows of 1,000 so
                # far), plus the rest of the time per story as it has been.
                now = time.perf_counter()
                done, elapsed = i + 1, now - t1
                windows.append((done - 500, (cands_total - cands_last) / 1000))
                cands_last = cands_total
                if elapsed > DS_BUDGET_S or done >= DS_PROJECT_FROM:
                    projected = elapsed + project(windows, done, n, (elapsed - confirm_s) / done,
                                                  confirm_s / max(1, cands_total))
                    if projected > DS_BUDGET_S:
                        aborted = {"at": done, "elapsed_s": elapsed, "projected_s": projected}
                        break
        done = len(raw)
        row = {"threshold": threshold, "bands": lsh.b, "rows": lsh.r, "lsh_s": time.perf_counter() - t1,
               "candidates_per_query": cands_total / done, "raw": prf(raw, dup[:done]), "confirmed": prf(conf, dup[:done])}
        if aborted:
            row["aborted"] = aborted
        out["thresholds"].append(row)
        print(f"    perm {perm} threshold {threshold}: raw F1 {row['raw']['f1']:.4f}, confirmed F1 "
              f"{row['confirmed']['f1']:.4f}, {row['candidates_per_query']:.1f} candidates/query, {row['lsh_s']:.0f} s"
              + (f"; stopped after {done:,} stories (projected {aborted['projected_s']:.0f} s)" if aborted else ""),
              file=sys.stderr, flush=True)
    return out


def project(windows: list[tuple[float, float]], done: int, n: int, per_story: float, per_candidate: float) -> float:
    """Seconds the stories done+1..n would take: `per_story` each, plus `per_candidate` for each
    candidate, the candidates per story growing as x0 + g * position (a least-squares fit over
    the windows so far: candidate counts, not timings, so noise is not extrapolated)."""
    import numpy as np

    pos, cands = (np.array(c, dtype=float) for c in zip(*windows))
    g, x0 = np.polyfit(pos, cands, 1) if len(windows) > 1 else (0.0, cands.mean())
    g = max(0.0, g)
    rest = n - done
    return per_story * rest + per_candidate * max(0.0, x0 * rest + g * (n * n - done * done) / 2)


def child_ds_run(root: Path, perm: int, threshold: float, variant: str) -> dict:
    """datasketch alone, streaming as a deployment would: read, MinHash, query, (confirm), insert."""
    from datasketch import MinHash, MinHashLSH
    from publisher.sources import wire

    start = memory()
    base = MinHash(num_perm=perm)
    lsh = MinHashLSH(threshold=threshold, num_perm=perm)
    sets: list = []
    preds: list[bool] = []
    parse_s = 0.0
    t0 = time.perf_counter()
    for f in source_files(root / "sources"):
        t1 = time.perf_counter()
        stories = wire.read(f.path.read_bytes()).stories
        parse_s += time.perf_counter() - t1
        for story in stories:
            grams = ds_grams(story.text)
            m = base.copy()
            m.update_batch(grams)
            cands = lsh.query(m)
            if variant == "confirmed":
                s = exact_set(grams)
                preds.append(any(confirmed(s, sets[k]) for k in cands))
                sets.append(s)
            else:
                preds.append(bool(cands))
            lsh.insert(len(preds) - 1, m)
    seconds = time.perf_counter() - t0
    mem = memory()
    (root / f"pred-ds-{perm}-{variant}.json").write_text(json.dumps("".join("1" if p else "0" for p in preds)))
    return {"seconds": seconds, "parse_s": parse_s, "stories": len(preds), "start": start, **mem,
            "bands": lsh.b, "rows": lsh.r}


def child_incremental(root: Path) -> dict:
    """Time to add one 10-story file to a store of SMALL_STORE stories and to the full store built
    by child_ours: ingest_file alone (the file's own work), and a whole ingest run with the file
    dropped into the sources directory (which also looks at every file already read). The two
    stores are open side by side and take turns, file by file, so a busy moment of the machine
    hits both alike."""
    from publisher.publish import PublishReport, ingest, ingest_file
    from publisher.sources.files import SourceFile
    from publisher.store import Store

    extra = sorted((root / "extra").iterdir())
    direct, scanned = extra[:EXTRA_DIRECT], extra[EXTRA_DIRECT:]
    small = root / "small"
    (small / "sources").mkdir(parents=True)
    for f in sorted((root / "sources").iterdir())[: SMALL_STORE // STORIES_PER_FILE]:
        shutil.copy2(f, small / "sources" / f.name)
    now = datetime.now(UTC)
    stages: dict[str, list] = {}
    install_timers(stages, [])  # ~1 µs a call, ~100 calls a file: about 1% of a file's time
    setups = {"small": (small / "sources", small / "small.db"), "large": (root / "sources", root / "ours.db")}
    out: dict = {label: {} for label in setups}
    stores, configs = {}, {}
    config = make_config(root, *setups["small"])
    store = Store.open(setups["small"][1], now=now)
    t0 = time.perf_counter()
    ingest(store, config, now, PublishReport())
    out["small"]["build_s"] = time.perf_counter() - t0
    store.close()
    for label, (sources, db) in setups.items():
        configs[label] = make_config(root, sources, db)
        t0 = time.perf_counter()
        stores[label] = Store.open(db, now=now)
        out[label]["open_ms"] = (time.perf_counter() - t0) * 1000
        out[label]["stories"] = stores[label].db.execute("SELECT count(*) FROM provenance").fetchone()[0]
        out[label]["entries"] = stores[label].count_entries()
        out[label]["files"] = len(source_files(sources))
    times: dict[str, list] = {"small": [], "large": []}
    scan_times: dict[str, list] = {"small": [], "large": []}
    outcomes: dict[str, list] = {"small": [], "large": []}
    per_stage: dict[str, dict] = {"small": {}, "large": {}}
    for k, path in enumerate(direct):
        for label in ("small", "large") if k % 2 == 0 else ("large", "small"):
            before = {name: acc[0] for name, acc in stages.items()}
            t0 = time.perf_counter()
            rep = ingest_file(stores[label], SourceFile(path=path, name=f"extra/{path.name}"), configs[label],
                              now + timedelta(minutes=k + 1))
            times[label].append(time.perf_counter() - t0)
            for name, acc in stages.items():
                per_stage[label][name] = per_stage[label].get(name, 0.0) + acc[0] - before.get(name, 0.0)
            assert rep.outcome in ("new", "duplicate"), (rep.outcome, rep.reason)
            outcomes[label].append([rep.new, rep.revised, rep.duplicate])
    for k, path in enumerate(scanned):
        for label in ("small", "large") if k % 2 == 0 else ("large", "small"):
            dest = setups[label][0] / path.name
            shutil.copy2(path, dest)
            rep = PublishReport()
            t0 = time.perf_counter()
            ingest(stores[label], configs[label], now + timedelta(hours=1, minutes=k + 1), rep)
            scan_times[label].append(time.perf_counter() - t0)
            dest.unlink()  # the corpus directory stays as generated
            mine = next(s for s in rep.sources if s.name == path.name)
            outcomes[label].append([mine.new, mine.revised, mine.duplicate])
    for label, store in stores.items():
        store.close()
        t = times[label]
        stage_ms = {name: v * 1000 / len(t) for name, v in per_stage[label].items()}
        stage_ms["rest (stat, read, sha256, reads table)"] = sum(t) * 1000 / len(t) - sum(stage_ms.values())
        out[label].update(file_ms=[x * 1000 for x in t], median_ms=statistics.median(t) * 1000,
                          mean_ms=sum(t) * 1000 / len(t), stages_ms_per_file=stage_ms,
                          scan_ms=[x * 1000 for x in scan_times[label]],
                          scan_median_ms=statistics.median(scan_times[label]) * 1000, outcomes=outcomes[label])
    out["ratio"] = out["large"]["median_ms"] / out["small"]["median_ms"]
    out["scan_ratio"] = out["large"]["scan_median_ms"] / out["small"]["scan_median_ms"]
    out["same_outcomes"] = sum(a == b for a, b in zip(outcomes["small"], outcomes["large"]))
    return out


def install_timers(stages: dict[str, list], candidates: list[int]) -> None:
    """A timer on each stage of ingest_story (module attributes and Store methods, so the
    pipeline's own calls are timed); `candidates` gets the size of each LSH lookup's answer."""
    import publisher.dedup as dedup_mod
    import publisher.publish as publish_mod
    import publisher.sources.wire as wire_mod
    from publisher.store import Store

    def wrap(owner, name: str, label: str, count=None) -> None:
        real = getattr(owner, name, None)
        if real is None:  # renamed since: that stage goes into "rest"
            return
        acc = stages.setdefault(label, [0.0, 0])

        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                result = real(*args, **kwargs)
            finally:
                acc[0] += time.perf_counter() - t
                acc[1] += 1
            if count is not None:
                count.append(len(result))
            return result
        setattr(owner, name, timed)

    wrap(wire_mod, "read", "wire.read (decode + segment)")
    wrap(publish_mod, "fingerprint", "fingerprint")
    wrap(Store, "version_by_fingerprint", "store.version_by_fingerprint")
    wrap(dedup_mod, "shingles", "dedup.shingles")
    wrap(dedup_mod, "band_keys", "dedup.band_keys (MinHash + bands)")
    wrap(Store, "near_candidates", "store.near_candidates (LSH lookup)", candidates)
    wrap(dedup_mod, "decide", "dedup.decide (exact Jaccard)")
    wrap(Store, "add_version", "store.add_version")
    wrap(Store, "add_arrival", "store.add_arrival")
    from sqlite_utils import Database
    wrap(Database, "commit", "commit (WAL write, fsync, checkpoints)")


def child_profile(root: Path) -> dict:
    """The pipeline again, into another fresh store, with a timer on each stage (not the measured run)."""
    from publisher.publish import PublishReport, ingest
    from publisher.store import Store

    stages: dict[str, list] = {}
    candidates: list[int] = []
    install_timers(stages, candidates)
    config = make_config(root, root / "sources", root / "profile.db")
    now = datetime.now(UTC)
    store = Store.open(config.paths.database, now=now)
    t0 = time.perf_counter()
    ingest(store, config, now, PublishReport())
    total = time.perf_counter() - t0
    store.close()
    tail = candidates[-10000:]
    return {"total_s": total, "stages": {k: {"s": v[0], "calls": v[1]} for k, v in stages.items()},
            "candidates_mean": sum(candidates) / max(1, len(candidates)),
            "candidates_mean_last_10k": sum(tail) / max(1, len(tail)),
            "candidates_max": max(candidates, default=0),
            "lookups_with_candidates": sum(1 for c in candidates if c) / max(1, len(candidates))}


def child_evaluate(root: Path, labels: list[str]) -> dict:
    """Precision/recall of every method against the ground truth, per kind, and examples of our
    misses and false duplicates (with the similarity to the story they came from / were matched to)."""
    from publisher.sources import wire

    truth = load_truth(root)
    dup, kind, cluster, n = truth["dup"], truth["kind"], truth["cluster"], len(truth["dup"])
    index = {(f, ln): i for i, (f, ln) in enumerate(zip(truth["file"], truth["line"]))}
    rows = json.loads((root / "ours-decisions.json").read_text())
    decision: list = [None] * n
    version, entry, compared, jac, con = ([None] * n for _ in range(5))
    version_story: dict[int, int] = {}
    for loc, line, dec, ver, ent, comp, j, c in rows:
        i = index[(loc, line)]
        decision[i], version[i], entry[i], compared[i], jac[i], con[i] = dec, ver, ent, comp, j, c
        version_story.setdefault(ver, i)
    assert None not in decision, "a story without a decision"
    entry_story = {entry[i]: i for i in range(n) if decision[i] == "new"}
    preds = {"ours": [d != "new" for d in decision]}
    for label in labels:
        preds[label] = [c == "1" for c in json.loads((root / f"pred-{label}.json").read_text())]
        assert len(preds[label]) == n, (label, len(preds[label]), n)
    out: dict = {"metrics": {k: prf(p, dup) for k, p in preds.items()}}
    # a found duplicate filed under the wrong story (entry of another cluster)
    wrong = [i for i in range(n) if preds["ours"][i] and dup[i] and cluster[entry_story[entry[i]]] != cluster[i]]
    out["ours_wrong_entry"] = len(wrong)
    kinds = [k for k in (*DUP_KINDS, *NEW_KINDS) if k in set(kind)]
    out["by_kind"] = {k: {"n": sum(1 for x in kind if x == k),
                          **{m: sum(1 for i in range(n) if kind[i] == k and p[i]) for m, p in preds.items()}}
                      for k in kinds}
    out["ours_decisions_by_kind"] = {k: {} for k in kinds}
    for i in range(n):
        d = out["ours_decisions_by_kind"][kind[i]]
        d[decision[i]] = d.get(decision[i], 0) + 1

    texts: dict[int, str] = {}

    def text(i: int) -> str:
        if i not in texts:
            f = truth["file"][i]
            for s in wire.read((root / "sources" / f).read_bytes()).stories:
                texts[index[(f, s.first_line)]] = s.text
        return texts[i]

    def head(i: int, k: int = 150) -> str:
        t = text(i).replace("\n", " / ")
        return t if len(t) <= k else t[:k] + "…"

    def story_info(i: int) -> dict:
        return {"story": i, "at": f"{truth['file'][i]}:{truth['line'][i]}", "kind": kind[i], "cluster": cluster[i],
                "shingles": truth["shingles"][i], "truncated": truth["truncated"][i]}

    rng = random.Random(7)
    misses: dict[str, list] = {}
    for k in DUP_KINDS:
        idx = [i for i in range(n) if kind[i] == k and not preds["ours"][i]]
        sample = sorted(rng.sample(idx, min(3, len(idx))))
        teaser_of = (lambda i: i) if k == "teaser-after-full" else (lambda i: truth["src"][i])
        misses[k] = {"count": len(idx),
                     "teaser_under_min_shingles": sum(1 for i in idx if truth["shingles"][teaser_of(i)] < CONFIRM_MIN)
                     if k in ("teaser-after-full", "full-after-teaser") else None,
                     "src_jaccard_of_missed": sorted(truth["src_jaccard"][i] for i in idx)[:: max(1, len(idx) // 20)],
                     "examples": [{**story_info(i), "decision": decision[i],
                                   "source": {**story_info(truth["src"][i]), "decision": decision[truth["src"][i]]},
                                   "jaccard_to_source": truth["src_jaccard"][i],
                                   "containment_to_source": truth["src_containment"][i],
                                   "text": head(i), "source_text": head(truth["src"][i])} for i in sample]}
    out["ours_misses"] = misses
    # Misses other than teasers: did the LSH bands find the source at all (a shared band key)?
    from publisher import dedup

    def story_of(i: int):
        f = truth["file"][i]
        return next(s for s in wire.read((root / "sources" / f).read_bytes()).stories if s.first_line == truth["line"][i])

    shared = unshared = 0
    for i in range(n):
        if kind[i] in DUP_KINDS and not kind[i].startswith(("teaser", "full")) and not preds["ours"][i]:
            a, b = story_of(i), story_of(truth["src"][i])
            ka = set(dedup.band_keys(dedup.shingles(a.paragraphs, a.kicker))[0])
            kb = set(dedup.band_keys(dedup.shingles(b.paragraphs, b.kicker))[0])
            shared += bool(ka & kb)
            unshared += not ka & kb
    out["ours_other_misses"] = {"band_shared_with_source": shared, "no_band_shared": unshared}
    buckets: dict[str, dict] = {}
    for i in range(n):
        if kind[i] in ("teaser-after-full", "full-after-teaser"):
            t = i if kind[i] == "teaser-after-full" else truth["src"][i]
            size = truth["shingles"][t]
            label = ("<10" if size < 10 else "10-15" if size < 16 else "16-23" if size < 24 else "24+")
            b = buckets.setdefault(label, {"n": 0, "found": 0})
            b["n"] += 1
            b["found"] += preds["ours"][i]
    out["ours_teaser_recall_by_teaser_shingles"] = {k: buckets[k] for k in ("<10", "10-15", "16-23", "24+") if k in buckets}
    false: dict[str, list] = {}
    for k in NEW_KINDS:
        idx = [i for i in range(n) if kind[i] == k and preds["ours"][i]]
        sample = sorted(rng.sample(idx, min(3, len(idx))))
        ex = []
        for i in sample:
            matched = version_story.get(compared[i] if compared[i] is not None else version[i])
            ex.append({**story_info(i), "decision": decision[i], "jaccard": jac[i], "containment": con[i],
                       "matched": story_info(matched) if matched is not None else None,
                       "text": head(i), "matched_text": head(matched) if matched is not None else None})
        false[k] = {"count": len(idx), "examples": ex}
    out["ours_false"] = false
    out["ours_wrong_entry_examples"] = [
        {**story_info(i), "decision": decision[i], "jaccard": jac[i], "containment": con[i],
         "filed_under": story_info(entry_story[entry[i]]), "text": head(i),
         "filed_under_text": head(entry_story[entry[i]])} for i in wrong[:5]]
    return out


# -- driver (parent process: stays small, so its size does not leak into a child's ru_maxrss) --

def run_child(mode: str, root: Path, args: list, timeout: float) -> dict:
    """Run this script as `--child MODE ROOT ARGS...` in a fresh process; its last stdout line is JSON."""
    cmd = [sys.executable, __file__, "--child", mode, str(root), *map(str, args)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, timeout=timeout, check=False)
    if proc.returncode:
        raise RuntimeError(f"{mode} {args} failed (exit {proc.returncode})")
    out = json.loads(proc.stdout.splitlines()[-1])
    out["wall_s"] = time.perf_counter() - t0
    return out


def machine() -> dict:
    model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                  if ln.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "publisher"],
                           capture_output=True, text=True).stdout.strip()
    return {"python": platform.python_version(), "platform": platform.platform(), "cpu": model,
            "cpu_count": os.cpu_count(), "sqlite": sqlite3.sqlite_version, "datasketch": version("datasketch"),
            "numpy": version("numpy"), "commit": commit + ("+dirty publisher/" if dirty else ""),
            "load_avg": os.getloadavg()}


def table(head: list[str], rows: list[list[str]], md: bool) -> str:
    if md:
        return "\n".join(["| " + " | ".join(head) + " |", "|" + "|".join("---:" if i else "---" for i in range(len(head))) + "|"]
                         + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"
    widths = [max(len(x) for x in col) for col in zip(head, *rows)]
    return "\n".join("  ".join(x.ljust(w) if i == 0 else x.rjust(w) for i, (x, w) in enumerate(zip(r, widths)))
                     for r in [head, *rows]) + "\n"


def report(doc: dict, md: bool) -> str:
    n, gen, ev = doc["n"], doc["corpus"], doc["evaluation"]
    ms = ev["metrics"]
    out = []
    rows = []
    for m in doc["methods"]:
        r = ms[m["label"]]
        rows.append([m["name"], m.get("setting", ""), f"{r['precision']:.4f}", f"{r['recall']:.4f}", f"{r['f1']:.4f}",
                     f"{r['fp']:,}", f"{r['fn']:,}", f"{m['per_s']:,.0f}", f"{m['per_s_no_parse']:,.0f}",
                     f"{m['rss_mb']:.0f}"])
    out.append(table(["method", "setting", "precision", "recall", "F1", "false dup", "missed", "stories/s",
                      "w/o parse", "peak RSS MB"], rows, md))
    out.append(("Per kind, the share of stories each method calls a duplicate (duplicate kinds: recall; "
                "new kinds: false-duplicate rate):") + ("\n" if md else ""))
    labels = [m["label"] for m in doc["methods"]]
    rows = [[k, f"{v['n']:,}", *(f"{v[lab] / v['n']:.1%}" for lab in labels)] for k, v in ev["by_kind"].items()]
    out.append(table(["kind", "stories", *[m["name"] for m in doc["methods"]]], rows, md))
    decs = ["new", "duplicate", "revision", "fuller", "teaser", "near-duplicate"]
    rows = [[k, *(f"{v.get(d, 0):,}" if v.get(d) else "" for d in decs)] for k, v in ev["ours_decisions_by_kind"].items()]
    out.append("Our decisions per kind (what the provenance table records):" + ("\n" if md else ""))
    out.append(table(["kind", *decs], rows, md))
    tb = ev.get("ours_teaser_recall_by_teaser_shingles", {})
    if tb:
        out.append("Our recall on teaser pairs by the teaser's size in shingles: "
                   + ", ".join(f"{k}: {v['found'] / v['n']:.1%} of {v['n']:,}" for k, v in tb.items())
                   + ("\n" if md else ""))
    rows = []
    for t in doc["datasketch_tuning"]:
        for th in t["thresholds"]:
            stop = th.get("aborted")
            rows.append([str(t["perm"]), f"{th['threshold']:.2f}", f"{th['bands']}×{th['rows']}",
                         f"{th['candidates_per_query']:.2f}", f"{th['lsh_s']:.0f}",
                         *(f"{th[v][x]:.4f}" for v in ("raw", "confirmed") for x in ("precision", "recall", "f1")),
                         f"stopped at {stop['at']:,}: projected {stop['projected_s'] / 60:.0f} min" if stop else ""])
    out.append(f"datasketch threshold grid (MinHashes computed once per num_perm; a threshold whose run would "
               f"take over {DS_BUDGET_S} s is stopped, its figures are of the stories done):" + ("\n" if md else ""))
    out.append(table(["perm", "threshold", "b×r", "cand/query", "s", "raw P", "raw R", "raw F1", "conf P", "conf R",
                      "conf F1", "note"], rows, md))
    inc = doc["incremental"]
    rows = [[label, f"{inc[label]['stories']:,}", f"{inc[label]['files']:,}", f"{inc[label]['open_ms']:.1f}",
             f"{inc[label]['median_ms']:.1f}", f"{inc[label]['scan_median_ms']:.1f}"] for label in ("small", "large")]
    rows.append(["large/small", "", "", "", f"{inc['ratio']:.2f}×", f"{inc['scan_ratio']:.2f}×"])
    out.append(f"Incremental cost: one file of {EXTRA_STORIES} stories (median of {EXTRA_DIRECT} files with ingest_file, "
               f"of {EXTRA_FILES - EXTRA_DIRECT} with a whole ingest run; the two stores take turns):"
               + ("\n" if md else ""))
    out.append(table(["store", "stories", "files", "Store.open ms", "ingest_file ms", "ingest (dir scan) ms"], rows, md))
    if "stages_ms_per_file" in inc["small"]:
        a, b = inc["small"]["stages_ms_per_file"], inc["large"]["stages_ms_per_file"]
        rows = [[k, f"{a[k]:.2f}", f"{b.get(k, 0):.2f}", f"{b.get(k, 0) / a[k]:.2f}×" if a[k] else ""]
                for k in sorted(a, key=lambda k: -b.get(k, 0))]
        rows.append(["total (mean)", f"{inc['small']['mean_ms']:.2f}", f"{inc['large']['mean_ms']:.2f}",
                     f"{inc['large']['mean_ms'] / inc['small']['mean_ms']:.2f}×"])
        out.append("Where the time of one 10-story file goes (ms a file, mean of the ingest_file runs; "
                   "the store is opened cold, as each publish run opens it):" + ("\n" if md else ""))
        out.append(table(["stage", "small", "large", "large/small"], rows, md))
    if doc.get("profile"):
        prof = doc["profile"]
        rows = []
        accounted = 0.0
        for k, v in sorted(prof["stages"].items(), key=lambda kv: -kv[1]["s"]):
            accounted += v["s"]
            rows.append([k, f"{v['s']:.1f}", f"{v['s'] / n * 1e6:.0f}", f"{v['s'] / prof['total_s']:.0%}"])
        rest = prof["total_s"] - accounted
        rows.append(["rest (file I/O, sha256, reads table, loop)", f"{rest:.1f}", f"{rest / n * 1e6:.0f}", f"{rest / prof['total_s']:.0%}"])
        rows.append(["total", f"{prof['total_s']:.1f}", f"{prof['total_s'] / n * 1e6:.0f}", "100%"])
        out.append(f"Where our ingest time goes (a separate run with a timer per stage; LSH candidates per lookup "
                   f"{prof['candidates_mean']:.2f} mean, {prof['candidates_mean_last_10k']:.2f} over the last 10k, "
                   f"max {prof['candidates_max']}):" + ("\n" if md else ""))
        out.append(table(["stage", "s", "µs/story", "share"], rows, md))
    out.append("Goals:" + ("\n" if md else ""))
    out += [("- " if md else "  ") + g["text"] for g in doc["goals"]]
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", default="100000", help="stories in the corpus (default 100000)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=900, help="seconds allowed per subprocess")
    p.add_argument("--no-profile", action="store_true", help="skip the per-stage timing run of our pipeline")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory (corpus, stores)")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)  # internal: MODE DIR [ARGS...]
    args = p.parse_args()
    n = int(args.n.replace("_", "").replace(",", ""))
    if n < 2 * SMALL_STORE:
        p.error(f"--n: at least {2 * SMALL_STORE} stories")
    if args.child:
        mode, root, rest = args.child[0], Path(args.child[1]), args.child[2:]
        if mode == "generate":
            out = generate(root, int(rest[0]), int(rest[1]))
        elif mode == "ds_tune":
            out = child_ds_tune(root, int(rest[0]))
        elif mode == "ds_run":
            out = child_ds_run(root, int(rest[0]), float(rest[1]), rest[2])
        elif mode == "evaluate":
            out = child_evaluate(root, rest)
        else:
            out = {"ours": child_ours, "exact": child_exact, "incremental": child_incremental,
                   "profile": child_profile}[mode](root)
        print(json.dumps(out))
        return

    started = time.perf_counter()
    (ROOT / "bench" / "work").mkdir(exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="dedup-", dir=ROOT / "bench" / "work"))
    try:
        doc = run(root, n, args)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
            with contextlib.suppress(OSError):  # bench/work/ too, unless something else is in it
                root.parent.rmdir()
    doc["wall_s"] = time.perf_counter() - started
    budget = 15 * 60
    doc["within_budget"] = doc["wall_s"] <= budget
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "dedup.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    m = doc["machine"]
    note = (f"N = {n:,} stories (seed {args.seed}), Python {m['python']}, SQLite {m['sqlite']}, datasketch "
            f"{m['datasketch']}, {m['cpu_count']} CPUs ({m['cpu']}); commit {m['commit']}; {doc['date']}; "
            f"whole run {doc['wall_s'] / 60:.1f} min{'' if doc['within_budget'] else ' (over the 15 min budget)'}.")
    md = ("# Near-duplicate benchmark (`bench/dedup.py`)\n\n" + corpus_text(doc, md=True) + "\n\n"
          + report(doc, md=True) + "\n\n" + doc["summary"] + "\n\n" + note + "\n")
    (RESULTS / "dedup.md").write_text(md, encoding="utf-8")
    print("\n" + report(doc, md=False) + "\n\n" + doc["summary"] + "\n\n" + note)
    print(f"\nwrote {RESULTS / 'dedup.json'} and {RESULTS / 'dedup.md'}")


def corpus_text(doc: dict, md: bool) -> str:
    gen = doc["corpus"]
    kinds = ", ".join(f"{k} {v:,} ({v / gen['stories']:.1%})" for k, v in sorted(gen["kinds"].items(), key=lambda kv: -kv[1]))
    sims = "; ".join(f"{k} {v['jaccard_p5']:.2f}/{v['jaccard_p50']:.2f}/{v['jaccard_p95']:.2f}"
                     + (f" (containment p5 {v['containment_p5']:.2f})" if k.startswith(("teaser", "full")) else "")
                     for k, v in gen["by_kind"].items())
    return (f"Corpus: {gen['stories']:,} stories in {gen['files']:,} wire files ({gen['bytes'] / 2**20:.1f} MiB), "
            f"{gen['clusters']:,} clusters; mean {gen['mean_chars']:.0f} characters, {gen['mean_shingles']:.0f} "
            f"word 3-shingles. Kinds: {kinds}. Unrelated pairs: mean Jaccard {gen['random_mean_jaccard']:.4f} "
            f"({gen['random_share_any_shingle']:.0%} share at least one shingle, max {gen['random_max_jaccard']:.2f}); "
            f"two stories with the same boilerplate paragraph: mean {gen['boilerplate_pair_mean_jaccard']:.2f}, "
            f"max {gen['boilerplate_pair_max_jaccard']:.2f}. Jaccard with the source story (p5/p50/p95): {sims}.")


def run(root: Path, n: int, args) -> dict:
    t = args.timeout
    print(f"{n:,} stories (seed {args.seed}); scratch {root}", flush=True)
    gen = run_child("generate", root, [n, args.seed], t)
    doc: dict = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(), "n": gen["stories"],
                 "seed": args.seed, "rates": RATES, "corpus": gen}
    n = gen["stories"]
    print(f"  generated in {gen['wall_s']:.0f} s. " + corpus_text(doc, md=False), flush=True)
    ours = run_child("ours", root, [], t)
    print(f"  ours: {n / ours['seconds']:,.0f} stories/s ({ours['seconds']:.1f} s), peak RSS {ours['rss_mb']:.0f} MB, "
          f"{ours['entries']:,} entries", flush=True)
    exact = run_child("exact", root, [], t)
    print(f"  exact: {n / exact['seconds']:,.0f} stories/s, peak RSS {exact['rss_mb']:.0f} MB", flush=True)
    tuning, finals = [], []
    for perm in NUM_PERMS:
        tune = run_child("ds_tune", root, [perm], t)
        tuning.append(tune)
        for variant in ("raw", "confirmed"):
            best = max((th for th in tune["thresholds"] if "aborted" not in th), key=lambda th: th[variant]["f1"])
            res = run_child("ds_run", root, [perm, best["threshold"], variant], t)
            res.update(perm=perm, threshold=best["threshold"], variant=variant)
            finals.append(res)
            print(f"  datasketch {perm} perms, {variant}, threshold {best['threshold']}: F1 {best[variant]['f1']:.4f}, "
                  f"{n / res['seconds']:,.0f} stories/s, peak RSS {res['rss_mb']:.0f} MB", flush=True)
    inc = run_child("incremental", root, [], t)
    print(f"  incremental: {inc['small']['median_ms']:.1f} ms at {inc['small']['stories']:,} stories, "
          f"{inc['large']['median_ms']:.1f} ms at {inc['large']['stories']:,} ({inc['ratio']:.2f}×)", flush=True)
    prof = None if args.no_profile else run_child("profile", root, [], t)
    ev = run_child("evaluate", root, ["exact", *(f"ds-{f['perm']}-{f['variant']}" for f in finals)], t)

    parse_s = prof["stages"].get("wire.read (decode + segment)", {}).get("s", 0.0) if prof else 0.0
    methods = [{"label": "ours", "name": "publisher (ingest)", "setting": "J≥0.4 / C≥0.8",
                "seconds": ours["seconds"], "parse_s": parse_s, "rss_mb": ours["rss_mb"], "vm_hwm_mb": ours["vm_hwm_mb"]},
               {"label": "exact", "name": "exact hash", "setting": "sha256", "seconds": exact["seconds"],
                "parse_s": exact["parse_s"], "rss_mb": exact["rss_mb"], "vm_hwm_mb": exact["vm_hwm_mb"]}]
    for f in finals:
        methods.append({"label": f"ds-{f['perm']}-{f['variant']}", "name": f"datasketch {f['perm']} {f['variant']}",
                        "setting": f"t={f['threshold']} ({f['bands']}×{f['rows']})", "seconds": f["seconds"],
                        "parse_s": f["parse_s"], "rss_mb": f["rss_mb"], "vm_hwm_mb": f["vm_hwm_mb"],
                        "perm": f["perm"], "variant": f["variant"], "threshold": f["threshold"]})
    for m in methods:
        m["per_s"] = n / m["seconds"]
        m["per_s_no_parse"] = n / max(1e-9, m["seconds"] - m["parse_s"])
    doc.update(methods=methods, ours=ours, exact=exact, datasketch_tuning=tuning, datasketch_runs=finals,
               incremental=inc, profile=prof, evaluation=ev)
    doc["goals"], doc["summary"] = goals(doc)
    return doc


def goals(doc: dict) -> tuple[list[dict], str]:
    ms = doc["evaluation"]["metrics"]
    ours = next(m for m in doc["methods"] if m["label"] == "ours")
    ds = [m for m in doc["methods"] if m["label"].startswith("ds-")]
    meeting = [m for m in ds if ms[m["label"]]["precision"] >= 0.99 and ms[m["label"]]["recall"] >= 0.95]
    # the datasketch reference: the fastest variant that meets the precision/recall goal, else the best F1
    ref = max(meeting, key=lambda m: m["per_s"]) if meeting else max(ds, key=lambda m: ms[m["label"]]["f1"])
    why_ref = "the fastest variant meeting the P/R goal" if meeting else "its best F1 (no variant meets P ≥ 0.99 and R ≥ 0.95)"
    o = ms["ours"]
    out = []
    ok = o["precision"] >= 0.99 and o["recall"] >= 0.95
    out.append({"goal": "precision ≥ 0.99 and recall ≥ 0.95", "pass": ok, "precision": o["precision"], "recall": o["recall"],
                "text": f"precision ≥ 0.99 and recall ≥ 0.95: {'PASS' if ok else 'MISS'} — precision {o['precision']:.4f} "
                        f"({o['precision'] - 0.99:+.4f}), recall {o['recall']:.4f} ({o['recall'] - 0.95:+.4f})"})
    speed = ours["per_s"] / ref["per_s"]
    speed_np = ours["per_s_no_parse"] / ref["per_s_no_parse"]
    out.append({"goal": "throughput ≥ 5× datasketch", "pass": speed >= 5, "ratio": speed, "ratio_no_parse": speed_np,
                "reference": ref["label"],
                "text": f"throughput ≥ 5× datasketch: {'PASS' if speed >= 5 else 'MISS'} — {ours['per_s']:,.0f} vs "
                        f"{ref['per_s']:,.0f} stories/s = {speed:.2f}× ({speed / 5:.0%} of the goal; {speed_np:.2f}× "
                        f"without file reading and parsing); reference {ref['name']} {ref['setting']}, {why_ref}"})
    rss = ours["rss_mb"] / ref["rss_mb"]
    lightest = min(ds, key=lambda m: m["rss_mb"])
    out.append({"goal": "peak RSS ≤ 0.3× datasketch", "pass": rss <= 0.3, "ratio": rss, "reference": ref["label"],
                "text": f"peak RSS ≤ 0.3× datasketch: {'PASS' if rss <= 0.3 else 'MISS'} — {ours['rss_mb']:.0f} vs "
                        f"{ref['rss_mb']:.0f} MB = {rss:.2f}× (limit 0.30×; vs the lightest datasketch run, "
                        f"{lightest['name']}, {ours['rss_mb'] / lightest['rss_mb']:.2f}×)"})
    inc = doc["incremental"]
    out.append({"goal": "incremental cost at 100k ≤ 1.5× at 1k", "pass": inc["ratio"] <= 1.5, "ratio": inc["ratio"],
                "text": f"incremental cost large ≤ 1.5× small: {'PASS' if inc['ratio'] <= 1.5 else 'MISS'} — "
                        f"{inc['large']['median_ms']:.1f} ms at {inc['large']['stories']:,} stories vs "
                        f"{inc['small']['median_ms']:.1f} ms at {inc['small']['stories']:,} = {inc['ratio']:.2f}× "
                        f"(a whole ingest run with the file dropped in: {inc['scan_ratio']:.2f}×: it also lists and stats every "
                        f"file already read); same outcomes for {inc['same_outcomes']} of {EXTRA_FILES} files"})
    ev = doc["evaluation"]
    missed = sorted(((k, v["count"]) for k, v in ev["ours_misses"].items() if v["count"]), key=lambda kv: -kv[1])
    false = sorted(((k, v["count"]) for k, v in ev["ours_false"].items() if v["count"]), key=lambda kv: -kv[1])
    tb = ev.get("ours_teaser_recall_by_teaser_shingles", {})
    teasers = ", ".join(f"{v['found'] / v['n']:.0%} for teasers of {k} shingles" for k, v in tb.items())
    other_missed = sum(c for k, c in missed if not k.startswith(("teaser", "full")))
    prof = doc.get("profile") or {}
    top = sorted(prof.get("stages", {}).items(), key=lambda kv: -kv[1]["s"])[:3]
    where = ", ".join(f"{k} {v['s'] / doc['n'] * 1e6:.0f} µs" for k, v in top)
    grow = ""
    if "stages_ms_per_file" in inc["small"]:
        a, b = inc["small"]["stages_ms_per_file"], inc["large"]["stages_ms_per_file"]
        worst = sorted(a, key=lambda k: -(b.get(k, 0) - a[k]))[:2]
        grow = " The extra cost of a file at the large size is mostly " + " and ".join(
            f"{k} ({a[k]:.1f} → {b.get(k, 0):.1f} ms)" for k in worst) + "."
    summary = (f"On {doc['n']:,} stories, the publisher's dedup (the real ingest into SQLite) finds duplicates with "
               f"precision {o['precision']:.4f} and recall {o['recall']:.4f} at {ours['per_s']:,.0f} stories/s and "
               f"{ours['rss_mb']:.0f} MB peak RSS; datasketch ({ref['name']}, {ref['setting']}) reaches "
               f"{ms[ref['label']]['precision']:.4f} / {ms[ref['label']]['recall']:.4f} at {ref['per_s']:,.0f} stories/s "
               f"and {ref['rss_mb']:.0f} MB; exact hashing alone {ms['exact']['precision']:.4f} / {ms['exact']['recall']:.4f}. "
               f"Our misses by kind: {', '.join(f'{k} {c:,}' for k, c in missed) or 'none'}; false duplicates: "
               f"{', '.join(f'{k} {c:,}' for k, c in false) or 'none'}; duplicates filed under the wrong entry: "
               f"{ev['ours_wrong_entry']:,}. Recall on teaser pairs by the teaser's length: {teasers}"
               + (f"; of the {other_missed} other misses, {ev['ours_other_misses']['band_shared_with_source']} share "
                  f"an LSH band with the story they came from (found, then dropped: near_candidates keeps 16 "
                  f"entries and ranks lead-band matches first) and {ev['ours_other_misses']['no_band_shared']} "
                  f"share none (a MinHash miss)" if other_missed else "")
               + "." + (f" Per story, most of our time goes to {where}." if where else "")
               + grow + " Goals: " + "; ".join(
                   f"{g['goal']} {'met' if g['pass'] else 'missed'}" for g in out) + ".")
    return out, summary


if __name__ == "__main__":
    main()
