"""Byte for byte: a publish of the tests/data corpora and of the seed gives exactly the files,
ids, dates and decisions recorded in tests/data/golden/ (see tests/golden.py)."""

from __future__ import annotations

import json

import pytest

import golden


def _differences(expected: dict[str, str], got: dict[str, str]) -> list[str]:
    return [f"{key}: {'missing' if key not in got else 'unexpected' if key not in expected else 'differs'}"
            for key in sorted(expected.keys() | got.keys()) if expected.get(key) != got.get(key)]


def test_corpora_publish_byte_for_byte(tmp_path):
    expected = json.loads((golden.GOLDEN / "corpora.json").read_text())
    assert _differences(expected, golden.corpora(tmp_path)) == []


def test_seed_publish_byte_for_byte(tmp_path, seed):
    expected = json.loads((golden.GOLDEN / "seed.json").read_text())
    assert _differences(expected, golden.seed(tmp_path)) == []
