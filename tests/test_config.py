"""config.load()/parse(): the shipped config, defaults, and one-line ConfigErrors.

Error cases live in tests/data/config/ as pairs: <case>.toml is a config with one defect,
<case>.expected the exact one-line message, with {file} standing for the config's path.
"""

from __future__ import annotations

import dataclasses
import shutil
import tomllib
from pathlib import Path

import pytest

from publisher import config
from publisher.errors import ConfigError, PublisherError
from publisher.model import Limits

REPO = Path(__file__).resolve().parent.parent
# The tests read the frozen copy (conftest.CONFIG): the checkout's config.toml is the user's.
SHIPPED = Path(__file__).resolve().parent / "data" / "config.toml"
CASES = Path(__file__).resolve().parent / "data" / "config"

MINIMAL = """\
[site]
title = "Test Wire"
id_authority = "test.example.org,2026"

[[topics]]
slug = "ukraine"
title = "Ukraine"
threshold = 3
rules = [{ weight = 3, terms = ["kyiv"] }]
"""


def write_config(directory: Path, text: str, name: str = "config.toml") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        config.load(path)
    return info.value


# --- the shipped config.toml ---------------------------------------------------------------

def test_the_checkouts_config_parses_and_has_the_tests_topics_and_dedup_settings():
    """The tests run on tests/data/config.toml, a frozen copy of the shipped config.toml, so that
    `publisher add` (a [[sources.feeds]] table appended) cannot break `make test`. This keeps the
    copy from drifting: what the tests rely on (topics, dedup) must be the checkout's too."""
    config.load(REPO / "config.toml")
    checkout = tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8"))
    frozen = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))
    assert frozen["topics"] and checkout["topics"] == frozen["topics"], \
        "config.toml's [[topics]] differ from tests/data/config.toml's: copy them over"
    assert checkout["dedup"] == frozen["dedup"], "config.toml's [dedup] differs from tests/data/config.toml's"
    assert "sources" not in frozen, "the tests' config polls no feed"


def test_shipped_config_has_the_two_topics_in_order():
    cfg = config.load(SHIPPED)
    assert [t.slug for t in cfg.topics] == ["ukraine", "taiwan-security"]


def test_shipped_config_merged_feed_is_all():
    assert config.load(SHIPPED).merged.slug == "all"


def test_shipped_config_max_entries_is_50():
    assert config.load(SHIPPED).max_entries == 50


def test_shipped_config_base_url():
    assert config.load(SHIPPED).site.base_url == "http://127.0.0.1:8080/"


def test_shipped_config_paths_resolve_against_its_own_directory(tmp_path, monkeypatch):
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    shutil.copy(SHIPPED, conf_dir / "config.toml")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # paths must not follow the working directory

    cfg = config.load(Path("../conf/config.toml"))

    root = conf_dir.resolve()
    assert cfg.paths == config.Paths(sources=root / "sources", feeds=root / "feeds",
                                     database=root / "publisher.db")


# --- defaults ------------------------------------------------------------------------------

def test_minimal_config_gets_default_base_url(tmp_path):
    cfg = config.load(write_config(tmp_path, MINIMAL))
    assert cfg.site.base_url == "http://127.0.0.1:8080/"


def test_minimal_config_gets_default_paths_next_to_the_config(tmp_path):
    cfg = config.load(write_config(tmp_path / "conf", MINIMAL))
    root = (tmp_path / "conf").resolve()
    assert cfg.paths == config.Paths(sources=root / "sources", feeds=root / "feeds",
                                     database=root / "publisher.db")


def test_minimal_config_lock_file_sits_next_to_the_database(tmp_path):
    cfg = config.load(write_config(tmp_path, MINIMAL))
    assert cfg.paths.lock == tmp_path.resolve() / "publisher.db.lock"


def test_minimal_config_gets_merged_feed_all(tmp_path):
    cfg = config.load(write_config(tmp_path, MINIMAL))
    assert cfg.merged == config.Merged(slug="all", title="All stories")


def test_minimal_config_gets_max_entries_50(tmp_path):
    assert config.load(write_config(tmp_path, MINIMAL)).max_entries == 50


def test_without_a_limits_table_every_limit_is_its_default(tmp_path):
    assert config.load(write_config(tmp_path, MINIMAL)).limits == Limits()
    assert config.load(SHIPPED).limits == Limits()


def test_every_limit_is_a_checked_key(tmp_path):
    keys = [f.name for f in dataclasses.fields(Limits)]
    assert sorted(keys) == sorted(config._LIMIT_RANGES)
    text = MINIMAL + "\n[limits]\n" + "".join(f"{k} = {i + 2}\n" for i, k in enumerate(keys))
    assert config.load(write_config(tmp_path, text)).limits == Limits(**{k: i + 2 for i, k in enumerate(keys)})


def test_minimal_config_site_author_and_description_default_to_title(tmp_path):
    site = config.load(write_config(tmp_path, MINIMAL)).site
    assert (site.author, site.description, site.language) == ("Test Wire", "Test Wire", "en")


def test_minimal_topic_has_no_require_or_exclude_terms(tmp_path):
    (topic,) = config.load(write_config(tmp_path, MINIMAL)).topics
    assert (topic.require, topic.exclude) == ((), ())


def test_topic_weights_and_threshold_are_floats(tmp_path):
    (topic,) = config.load(write_config(tmp_path, MINIMAL)).topics
    assert (topic.threshold, topic.rules[0].weight) == (3.0, 3.0)
    assert isinstance(topic.threshold, float) and isinstance(topic.rules[0].weight, float)


def test_base_url_without_trailing_slash_gets_one(tmp_path):
    text = MINIMAL.replace("[[topics]]", 'base_url = "https://feeds.example.org/wire"\n\n[[topics]]')
    cfg = config.load(write_config(tmp_path, text))
    assert cfg.site.base_url == "https://feeds.example.org/wire/"


def test_absolute_paths_are_kept(tmp_path):
    target = tmp_path / "data" / "store.db"
    text = MINIMAL + f'\n[paths]\ndatabase = "{target}"\n'
    cfg = config.load(write_config(tmp_path / "conf", text))
    assert cfg.paths.database == target


def test_paths_starting_with_tilde_expand_to_the_home_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    text = MINIMAL + '\n[paths]\nsources = "~/wire"\n'
    cfg = config.load(write_config(tmp_path / "conf", text))
    assert cfg.paths.sources == tmp_path / "home" / "wire"


def test_terms_are_stripped_of_surrounding_spaces(tmp_path):
    text = MINIMAL.replace('terms = ["kyiv"]', 'terms = [" kyiv ", "ukrain*"]')
    (topic,) = config.load(write_config(tmp_path, text)).topics
    assert topic.rules[0].terms == ("kyiv", "ukrain*")


# --- errors: input/expected pairs ----------------------------------------------------------

ERROR_CASES = sorted({p.stem for p in CASES.iterdir() if p.suffix in (".toml", ".expected")})


def test_error_cases_are_present():
    assert len(ERROR_CASES) >= 40


@pytest.mark.parametrize("case", ERROR_CASES)
def test_invalid_config_raises_the_expected_one_line_error(case):
    path = CASES / f"{case}.toml"
    expected = (CASES / f"{case}.expected").read_text(encoding="utf-8").removesuffix("\n")
    assert "\n" not in expected, f"{case}.expected must hold exactly one line"

    message = str(load_error(path))

    assert message == expected.replace("{file}", str(path))


# --- errors that need the file system ------------------------------------------------------

def test_config_error_is_a_publisher_error():
    assert issubclass(ConfigError, PublisherError)


def test_missing_file_is_a_config_error_naming_it(tmp_path):
    path = tmp_path / "nope.toml"
    assert str(load_error(path)) == f"{path}: config file not found"


def test_directory_instead_of_file_is_a_config_error(tmp_path):
    assert str(load_error(tmp_path)) == f"{tmp_path}: cannot read config file: Is a directory"


def test_non_utf8_file_is_a_config_error_naming_the_byte(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(MINIMAL.encode("utf-8").replace(b"Test Wire", b"Test W\xefre", 1))
    assert str(load_error(path)) == f"{path}: not valid UTF-8 (byte 22)"


def test_error_from_parse_names_the_given_path():
    with pytest.raises(ConfigError) as info:
        config.parse({"site": {"title": "T"}}, Path("somewhere/else.toml"))
    assert str(info.value) == "somewhere/else.toml: [site] id_authority: missing (required)"


@pytest.mark.parametrize("old, new", [
    ('title = "Test Wire"', 'title = "Test Wire"\nbase_url = "ftp://feeds.example.org/\\nwire"'),
    ('id_authority = "test.example.org,2026"', 'id_authority = "test.example.org,\\n2026"'),
    ('slug = "ukraine"', 'slug = "ukr\\naine"'),
], ids=["base_url", "id_authority", "slug"])
def test_error_stays_one_line_when_the_bad_value_contains_a_newline(tmp_path, old, new):
    message = str(load_error(write_config(tmp_path, MINIMAL.replace(old, new))))
    assert "\n" not in message


@pytest.mark.parametrize("char", ["\\n", "\\t"], ids=["newline", "tab"])
def test_base_url_with_a_control_character_is_rejected(tmp_path, char):
    text = MINIMAL.replace("[[topics]]", f'base_url = "http://feeds.example.org/{char}wire"\n\n[[topics]]')
    with pytest.raises(ConfigError, match=r"\[site\] base_url: "):
        config.load(write_config(tmp_path, text))


def test_absurdly_nested_toml_is_a_config_error_not_a_crash(tmp_path):
    path = write_config(tmp_path, MINIMAL + "\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested too deeply" in str(load_error(path)) or "invalid TOML" in str(load_error(path))


@pytest.mark.parametrize("value", ["inf", "nan", "-inf"])
def test_a_threshold_that_is_not_a_finite_positive_number_is_rejected(tmp_path, value):
    text = MINIMAL.replace("threshold = ", f"threshold = {value}\n# was: ", 1)
    assert "threshold: must be a number greater than 0" in str(load_error(write_config(tmp_path, text)))


def test_an_empty_exclude_list_is_allowed(tmp_path):
    text = MINIMAL.replace("[[topics]]", "[[topics]]\nexclude = []", 1)
    assert config.load(write_config(tmp_path, text)).topics[0].exclude == ()


# --- paths that feed on themselves (more cases in tests/data/config/paths-*) ------------------

def test_feeds_reached_through_a_symlink_into_sources_is_refused(tmp_path):
    (tmp_path / "sources" / "out").mkdir(parents=True)
    (tmp_path / "public").symlink_to(tmp_path / "sources" / "out", target_is_directory=True)
    path = write_config(tmp_path, MINIMAL + '\n[paths]\nfeeds = "public"\n')
    assert str(load_error(path)) == (f'{path}: [paths] feeds: "public" is inside [paths] sources ("sources"): '
                                     "every run would read its own output back as stories")


def test_a_database_in_a_directory_linked_from_feeds_is_refused(tmp_path):
    (tmp_path / "feeds" / "data").mkdir(parents=True)
    (tmp_path / "db").symlink_to(tmp_path / "feeds" / "data", target_is_directory=True)
    path = write_config(tmp_path, MINIMAL + '\n[paths]\ndatabase = "db/publisher.db"\n')
    assert str(load_error(path)) == (f'{path}: [paths] database: "db/publisher.db" is inside [paths] feeds '
                                     '("feeds"): the database would be served to anyone')


def test_feeds_at_the_home_directory_holding_the_config_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    path = write_config(tmp_path / "publisher", MINIMAL + '\n[paths]\nfeeds = "~"\n')
    assert str(load_error(path)) == (f'{path}: [paths] feeds: "~" holds the config file\'s directory: the config '
                                     'file would be served; give the feeds a directory of their own (e.g. "feeds")')
