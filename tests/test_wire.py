"""Wire-text reader: decoding and segmentation, by input/expected pairs in tests/data/wire/."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import DATA
from publisher.model import Limits
from publisher.sources import wire

CASES = sorted((DATA / "wire").glob("*.txt"))


def as_data(result) -> object:
    if result.skipped:
        return {"skipped": result.skipped}
    return [{"lines": [s.first_line, s.last_line], "kicker": s.kicker, "truncated": s.truncated,
             "title": s.title, "paragraphs": list(s.paragraphs)} for s in result.stories]


@pytest.mark.parametrize("case", CASES, ids=[c.stem for c in CASES])
def test_segmentation_matches_expected(case):
    expected = json.loads(case.with_suffix(".json").read_text(encoding="utf-8"))
    assert as_data(wire.read(case.read_bytes())) == expected


def test_seed_gives_five_stories_on_the_documented_lines(seed):
    result = wire.read(seed)
    assert result.skipped is None and result.warnings == ()
    assert [(s.first_line, s.last_line) for s in result.stories] == [(1, 14), (15, 15), (16, 16), (17, 17), (18, 18)]
    article = result.stories[0]
    assert len(article.paragraphs) == 13  # 14 lines less the caption
    assert not any(p.startswith("Photo:") for p in article.paragraphs)
    assert [s.kicker for s in result.stories] == [None, None, "TRAGEDY STRIKES TAIPEI", "ON ALERT", "PUBLIC SAFETY"]
    assert [s.truncated for s in result.stories] == [False, True, True, True, True]


def test_seed_kicker_summary_is_split_from_the_lede(seed):
    tragedy = wire.read(seed).stories[2]
    assert tragedy.paragraphs[0].endswith("killing spree in Zhongshan")
    assert tragedy.paragraphs[1].startswith("A 27-year-old suspect")
    assert tragedy.title.startswith("TRAGEDY STRIKES TAIPEI: The suspect died")


def test_titles_are_short_and_cut_at_a_word_boundary(seed):
    for story in wire.read(seed).stories:
        assert 10 < len(story.title) <= wire.TITLE_MAX
        assert not story.title.endswith(" …")
        if story.title.endswith("…"):
            assert story.text.replace(": ", " ").count(story.title[:-1].split(": ", 1)[-1]) == 1


# -- decoding --------------------------------------------------------------------------------

ARTICLE = "The bridge reopened on Monday after repairs.\nTraffic was light.\n"


def test_utf8_bom_crlf_and_cr_give_the_same_stories():
    plain = wire.read(ARTICLE.encode())
    assert wire.read(b"\xef\xbb\xbf" + ARTICLE.replace("\n", "\r\n").encode()) == plain
    assert wire.read(ARTICLE.replace("\n", "\r").encode()) == plain


def test_utf16_with_bom_is_decoded():
    assert wire.read(ARTICLE.encode("utf-16")).stories == wire.read(ARTICLE.encode()).stories


def test_cp1252_falls_back_with_a_warning():
    data = "Officials said the “new” bridge – finished early – cost €2m.\n".encode("cp1252")
    result = wire.read(data)
    assert result.stories[0].paragraphs == ("Officials said the “new” bridge – finished early – cost €2m.",)
    assert len(result.warnings) == 1 and "not valid UTF-8" in result.warnings[0] and "cp1252" in result.warnings[0]


@pytest.mark.parametrize("data, reason", [
    (b"", "empty file"),
    (b"  \n\r\n\t \n", "empty file"),
    (b"\xef\xbb\xbf\r\n", "empty file"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4, "binary file (contains NUL bytes)"),
    (bytes(range(1, 32)) * 40 + b"some text", "binary file"),
    (b"Photo: AFP\n\nPhoto: Reuters\n", "no stories in it"),
])
def test_unusable_input_is_skipped_with_a_reason(data, reason):
    result = wire.read(data)
    assert result.stories == ()
    assert result.skipped is not None and result.skipped.startswith(reason)


def test_binary_is_detected_before_the_cp1252_fallback():
    # cp1252 would happily "decode" this: it must be refused as binary, not read as text.
    data = bytes(range(256)) * 8
    assert wire.read(data).skipped.startswith("binary file")


def test_huge_input_is_skipped():
    skipped = wire.read(ARTICLE.encode() * 10, limits=Limits(bytes_per_file=100)).skipped
    assert skipped.startswith("too large") and "limits.bytes_per_file" in skipped


def test_control_characters_are_removed_from_text():
    story = wire.read(b"The mayor\x07 opened the\x0b new market on Friday.\n").stories[0]
    assert story.paragraphs == ("The mayor opened the new market on Friday.",)


def test_a_file_cut_short_inside_a_utf8_character_stays_utf8():
    result = wire.read("Taiwan’s coast guard said the drills ended.\nCut at the ’".encode()[:-2])
    assert result.stories[0].paragraphs[0] == "Taiwan’s coast guard said the drills ended."
    assert result.warnings == ("ends in the middle of a UTF-8 character (cut short?); the broken character was dropped",)


def test_a_few_bad_bytes_in_utf8_text_are_dropped_not_a_reason_to_read_cp1252():
    data = "Taiwan’s “coast guard” said – again – the drills ended ".encode() + b"\xff" + " today.\n".encode()
    result = wire.read(data)
    assert result.stories[0].paragraphs == ("Taiwan’s “coast guard” said – again – the drills ended today.",)
    assert "invalid UTF-8 byte" in result.warnings[0]


def test_c1_controls_are_mapped_back_to_cp1252_punctuation():
    story = wire.read("Taiwan\u0092s coast guard \u0096 again \u0093said\u0094 so.\n".encode()).stories[0]
    assert story.paragraphs == ("Taiwan’s coast guard – again “said” so.",)


def test_a_bom_in_the_middle_of_a_file_is_dropped():
    data = "One story ended.\n".encode() + "\ufeffON ALERT: The next story starts here and runs on to say what happened.\n".encode()
    stories = wire.read(data).stories
    assert [s.kicker for s in stories] == [None, "ON ALERT"]


def test_a_line_too_long_to_be_wire_text_is_dropped_with_a_warning():
    data = ("A normal story ended.\n" + "x" * (wire.MAX_LINE + 1) + "\nAnother one ended.\n").encode()
    result = wire.read(data)
    assert [s.first_line for s in result.stories] == [1, 3]
    assert result.warnings == (f"line 2 has {wire.MAX_LINE + 1:,} characters: not wire text; dropped",)


@pytest.mark.parametrize("line", ["###", "-30-", "- 30 -", "(END)", "ENDS", "End.", "***",
                                  "Reporting by Ann Lee; Editing by Tom Kay", "Additional reporting by AFP"])
def test_end_marks_and_credit_lines(line):
    assert wire.is_end_mark(line)


@pytest.mark.parametrize("line", ["Ends of the earth were reached.", "Reporting bylines changed in May."])
def test_ordinary_lines_are_not_end_marks(line):
    assert not wire.is_end_mark(line)


# -- rules in isolation ----------------------------------------------------------------------

@pytest.mark.parametrize("line, expected", [
    ("Photo: AFP", True), ("PHOTO: AFP", True), ("Photo courtesy of the Presidential Office", True),
    ("Photos: CNA", True), ("File photo: Reuters", True), ("Photograph by Lin Ching-hua", True),
    ("Photo/AFP", True), ("Photo - Reuters", True), ("(Photo: AFP)", True), ("Photo credit: Reuters", True),
    ("PHOTO COURTESY: CNA", True), ("Taipei Times photo", True), ("Screengrab from a video posted online", True),
    ("Photographers gathered outside the court on Monday.", False),
    ("The photo was taken on Monday.", False),
    ("Photo: " + "x" * 200, False),  # a caption is short
])
def test_caption_lines(line, expected):
    assert wire.is_caption(line) is expected


@pytest.mark.parametrize("line, expected", [
    ("ON ALERT: Taiwan’s partners would issue warnings", ("ON ALERT", "Taiwan’s partners would issue warnings")),
    ("TRAGEDY STRIKES TAIPEI: The suspect died", ("TRAGEDY STRIKES TAIPEI", "The suspect died")),
    ("US-CHINA TALKS: Delegates met", ("US-CHINA TALKS", "Delegates met")),
    ("Mixed Case: not a kicker", None),
    ("The meeting began at 5:24pm on Monday.", None),
    ("NATO:", None),  # nothing after the colon
    ("A: one letter is not a kicker", None),
    ("THIS KICKER IS FAR TOO LONG TO BE A KICKER BECAUSE IT RUNS ON AND ON: text", None),
])
def test_kicker_lines(line, expected):
    assert wire.split_kicker(line) == expected


@pytest.mark.parametrize("line, cut", [
    ("It ended.", False), ("He said “we will react.”", False), ("Really?", False), ("(See below.)", False),
    ("He said “we will respond”", False), ("The ministry listed three priorities:", False), ("下一則新聞。", False),
    ("國防部表示，共軍船艦出現在台灣附近", True),
    ("It has also installed NMESIS anti-ship systems in Japan’s Okinawa", True),
    ("The bureau is to present the report at a", True), ("Figures rose to 2024", True),
])
def test_cut_off_lines(line, cut):
    assert wire.is_cut_off(line) is cut


def test_shorten_prefers_a_clause_then_a_word_boundary():
    assert wire.shorten("short", 10) == "short"
    assert wire.shorten("one two three four five six", 14) == "one two three…"
    assert wire.shorten("alpha beta gamma delta, epsilon zeta eta theta", 30) == "alpha beta gamma delta"


LONG_LEDE = ("KYIV (Wire) - Ukrainian officials said on Tuesday that rebuilding the energy network of the eastern "
             "regions would take at least three more years and cost far more than estimated. Repairs began in May.")


@pytest.mark.parametrize("text, whole", [
    # a dateline's story: its first sentence, without the dateline and the full stop
    (LONG_LEDE, LONG_LEDE[len("KYIV (Wire) - "):LONG_LEDE.index(" Repairs")].rstrip(".")),
    # a kicker line with no summary: the kicker and the lede's first sentence
    ("ENERGY: " + LONG_LEDE[len("KYIV (Wire) - "):],
     "ENERGY: " + LONG_LEDE[len("KYIV (Wire) - "):LONG_LEDE.index(" Repairs")].rstrip(".")),
    # cut at a clause (no ellipsis): the rest of the clause comes back
    ("Officials from the ministries of energy, of defence and of the interior met in Kyiv on Tuesday, and the "
     "regional governors of the east joined them by video link for the whole of the afternoon session. More.",
     "Officials from the ministries of energy, of defence and of the interior met in Kyiv on Tuesday, and the "
     "regional governors of the east joined them by video link for the whole of the afternoon session"),
    # a short headline is its title
    ("Repairs began in May. Crews worked at night.", "Repairs began in May"),
])
def test_the_whole_title_is_the_headline_before_it_was_shortened(text, whole):
    (story,) = wire.segment(text)
    assert wire.whole_title(story.title, story.kicker, story.paragraphs) == whole
    assert wire.shorten(whole) in (story.title, story.title + ".")
    assert len(story.title) <= wire.TITLE_MAX


def test_the_whole_title_of_a_kicker_line_with_a_summary_is_the_kicker_and_the_summary():
    rest = ("Ukraine's energy ministry and the regional administrations of the east and the south said repair crews "
            "restored power to the last districts cut off by the strikes of last week in Kharkiv The crews worked "
            "through the night in Kharkiv and Zaporizhzhia, the ministry said.")
    (story,) = wire.segment("ENERGY: " + rest)
    assert story.kicker == "ENERGY" and len(story.paragraphs) == 2  # a summary, then the lede
    assert story.title.endswith("…")
    assert wire.whole_title(story.title, story.kicker, story.paragraphs) == f"ENERGY: {story.paragraphs[0]}"


def test_a_title_not_made_from_the_text_is_its_own_whole_title():
    assert wire.whole_title("A feed's own title…", None, ("Another text entirely, " * 10,)) == "A feed's own title…"
    assert wire.whole_title("Untitled", None, ()) == "Untitled"


def test_every_wire_story_of_the_corpora_and_the_seed_shortens_its_whole_title_to_its_title(seed):
    stories = [s for case in CASES for s in wire.read(case.read_bytes()).stories] + list(wire.read(seed).stories)
    cut = 0
    for story in stories:
        whole = wire.whole_title(story.title, story.kicker, story.paragraphs)
        if whole != story.title:  # a title that was cut: the whole headline goes on where it stopped
            cut += 1
            assert len(whole) > len(story.title) and whole.startswith(story.title.removesuffix("…"))
    assert cut  # some were cut: the test looked at some


# -- properties ------------------------------------------------------------------------------

LINE = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"),
            max_size=80),
    st.sampled_from(["Photo: AFP", "", "ON ALERT: the premier said The end.", "x " * 250, "It ended.", "It was cut"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(LINE, max_size=30))
def test_segmentation_never_fails_and_keeps_every_text_line_once(lines):
    stories = wire.segment("\n".join(lines))
    previous_end = 0
    for story in stories:
        assert story.paragraphs and all(story.paragraphs)
        assert previous_end < story.first_line <= story.last_line <= len(lines)
        previous_end = story.last_line
        assert len(story.title) <= wire.TITLE_MAX
    # every line with text (a letter or digit) that is not a caption gives one paragraph (a
    # kicker line whose summary was split from its lede gives two, whether it is a one-line
    # story or an article's first paragraph)
    kept = [line for line in map(wire.clean_line, lines)
            if any(c.isalnum() for c in line) and not wire.is_caption(line)]
    split = sum(1 for s in stories if s.kicker
                and wire.split_summary(wire.split_kicker(wire.clean_line(lines[s.first_line - 1]))[1])[0])
    assert sum(len(s.paragraphs) for s in stories) == len(kept) + split


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_give_stories_or_a_reason_never_an_exception(data):
    result = wire.read(data)
    assert result.stories or result.skipped
    for story in result.stories:
        assert "\x00" not in story.text and story.title


@pytest.mark.parametrize("data", [b":", b"***\n---\n...\n", b"\xe2\x80\xa6\n:\n"])
def test_lines_of_punctuation_alone_are_no_stories(data):
    # found by hypothesis: a file holding ":" was one story with an empty title
    assert wire.read(data).skipped == "no stories in it (only blank, punctuation or caption lines)"


# -- [limits]: what one file may cost ----------------------------------------------------------

def _one_liners(n: int) -> bytes:
    """n one-line stories, a blank line between two."""
    return "".join(f"Officials in Kyiv said on Monday that shelter {i} reopened.\n\n" for i in range(n)).encode()


def test_a_long_run_of_paragraphs_is_capped_as_one_storys_paragraphs():
    lines = [f"Crews repaired line {i} of the grid overnight." for i in range(40)]
    result = wire.read("\n".join(lines).encode(), limits=Limits(paragraphs_per_story=6))
    assert [s.paragraphs for s in result.stories] == [tuple(lines[:6])]
    assert result.warnings == ("line 1: a story of 40 paragraphs; the first 6 read (limits.paragraphs_per_story)",)
    assert result.past_caps == 1


def test_stories_past_the_file_cap_are_counted_not_read():
    result = wire.read(_one_liners(10), limits=Limits(stories_per_file=3))
    assert [s.first_line for s in result.stories] == [1, 3, 5]
    assert result.warnings == ("about 10 stories; the first 3 read, to line 6 (limits.stories_per_file)",)
    assert result.past_caps == 7


def test_a_file_is_read_up_to_its_lines_cap_and_the_rest_counted():
    result = wire.read(_one_liners(10), limits=Limits(lines_per_file=7))
    assert [s.first_line for s in result.stories] == [1, 3, 5, 7]
    assert result.warnings == ("20 lines; the first 7 read, about 6 more stories not read (limits.lines_per_file)",)
    assert result.past_caps == 6


def test_a_story_cut_by_the_lines_cap_is_counted_once():
    lines = [f"Crews repaired line {i} of the grid overnight." for i in range(40)]
    result = wire.read("\n".join(lines).encode(), limits=Limits(lines_per_file=10, paragraphs_per_story=4))
    assert result.warnings == (
        "40 lines; the first 10 read, the story at line 1 cut short (limits.lines_per_file)",
        "line 1: a story of 10 paragraphs; the first 4 read (limits.paragraphs_per_story)")
    assert result.past_caps == 1


def test_a_story_keeps_whole_paragraphs_up_to_its_bytes_cap():
    lines = [f"Crews repaired line {i} of the grid overnight." for i in range(10)]  # 44-45 bytes each
    result = wire.read("\n".join(lines).encode(), limits=Limits(bytes_per_story=100))
    assert result.stories[0].paragraphs == tuple(lines[:2])
    assert result.warnings == ("line 1: a story of 449 bytes; the first 100 read (limits.bytes_per_story)",)


def test_many_capped_stories_are_one_warning():
    runs = "\n\n".join("\n".join(f"Story {k} line {i} was filed on time." for i in range(5)) for k in range(30))
    result = wire.read(runs.encode(), limits=Limits(paragraphs_per_story=2))
    assert len(result.stories) == 30 and all(len(s.paragraphs) == 2 for s in result.stories)
    assert result.warnings == ("30 stories of more than 2 paragraphs, the first at line 1; the first 2 of each read "
                               "(limits.paragraphs_per_story)",)
    assert result.past_caps == 30


def test_a_file_within_its_caps_reads_as_without_them(seed):
    tight = Limits(lines_per_file=18, stories_per_file=5, paragraphs_per_story=13, bytes_per_story=4000)
    assert wire.read(seed, limits=tight) == wire.read(seed)


def test_a_file_of_long_lines_says_so_in_a_few_lines_not_one_a_line():
    result = wire.read(("x" * (wire.MAX_LINE + 1) + "\n").encode() * 50)
    assert len(result.warnings) == 11 and result.warnings[-1] == "40 more lines too long to be wire text dropped"


@pytest.mark.parametrize(("line", "jump"), [
    ("Continued on page 6", True), ("(continued on page A4)", True), ("Story continues on page 3", True),
    ("See also page 7", True), ("See page 11", True), ("Turn to page A3", True), ("(See also page 4)", True),
    ("See also: the explainer on the grid", True),
    ("See you at the final in Kaohsiung on Sunday.", False), ("Turn to the right at the gate", False),
])
def test_jump_lines_close_the_story_before_them(line, jump):
    assert wire.is_jump(line) is jump


@pytest.mark.parametrize("fill", ["***", "---", "  ", ""])
def test_lines_of_punctuation_part_stories_past_the_lines_cap_as_blank_lines_do(fill):
    """The reader reads a line with no letter or digit as a blank one; what it counts past
    lines_per_file does too: the story past 10,000 lines of '***' is counted, not lost silently,
    and a story read whole is not said to be cut short."""
    story = "Taiwan's coast guard said on Monday it had tracked four Chinese ships near Kinmen.\n"
    alone = wire.read(((fill + "\n") * 20_000 + story).encode())
    assert alone.stories == () and alone.past_caps == 1
    assert "10,000 lines" in alone.skipped and "limits.lines_per_file" in alone.skipped
    after = wire.read(((fill + "\n") * 5 + story + (fill + "\n") * 20_000 + story.replace("four", "six")).encode())
    assert len(after.stories) == 1 and after.past_caps == 1
    (warning,) = after.warnings
    assert "about 1 more stories not read" in warning and "cut short" not in warning


def test_kicker_stories_past_the_stories_cap_are_counted_a_line_each():
    """A file of one-line kicker stories with no blank line between: what lies past
    stories_per_file is counted as the stories it holds, not as one block."""
    line = "ON ALERT: Taiwan's coast guard said on Monday it had tracked four Chinese ships near Kinmen.\n"
    result = wire.read((line * 3_000).encode())
    assert len(result.stories) == 1_000 and result.past_caps == 2_000
    (warning,) = result.warnings
    assert warning.startswith("about 3,000 stories; the first 1,000 read") and "limits.stories_per_file" in warning
