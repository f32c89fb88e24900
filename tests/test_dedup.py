"""Exact dedup: texts that differ only in form are the same story; any real edit is not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publisher.dedup import fingerprint, normalise

BASE = "Lai said: “We will not be intimidated” – the drills ended on Monday."


@pytest.mark.parametrize("variant", [
    BASE.upper(),
    BASE.replace("“", '"').replace("”", '"').replace("–", "-"),
    BASE.replace(" ", "  ").replace("Monday.", "Monday.\n"),
    "\ufeff" + BASE,
    BASE.replace("Lai", "Ｌａｉ"),  # full-width letters (NFKC)
    BASE.replace("–", "—"),
    "  " + BASE + "\r\n",
])
def test_same_story_in_another_form_has_the_same_fingerprint(variant):
    assert fingerprint(variant) == fingerprint(BASE)


@pytest.mark.parametrize("edit", [
    BASE.replace("Monday", "Tuesday"),
    BASE.replace("not ", ""),
    BASE + " More follows.",
    BASE.replace(".", ""),
])
def test_any_real_edit_changes_the_fingerprint(edit):
    assert fingerprint(edit) != fingerprint(BASE)


def test_normalise_folds_case_quotes_dashes_and_space():
    assert normalise("Ａ  “Quote” — ‘x’\n\tEND…") == "a \"quote\" - 'x' end..."


@given(st.text())
def test_normalise_is_idempotent(text):
    assert normalise(normalise(text)) == normalise(text)
