"""`make test` passes in a checkout a user has used: after `publisher add URL` (a
[[sources.feeds]] table appended to config.toml) and with their own files in sources/. The tests
use tests/data/config.toml and their own scratch sources/, never the checkout's."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import checkout_copy

# Tests that read (or once read) the checkout's config.toml or sources/: the project fixture, the
# shipped config's own tests, the shipped sample files, classify's rules, a `publisher run`.
SUBSET = [
    "tests/test_config.py",
    "tests/test_classify.py",
    "tests/test_publish.py::test_the_shipped_sample_sources_publish_cleanly",
    "tests/test_cli.py::test_status_text_lists_topics_and_sources",
    "tests/test_service.py::test_status_while_running_shows_the_service_and_its_next_run",
]


def test_tests_pass_in_a_checkout_with_a_feed_added_and_a_stray_source_file(tmp_path):
    root = checkout_copy(tmp_path / "checkout")
    with open(root / "config.toml", "a", encoding="utf-8") as f:  # as `publisher add` leaves it
        f.write('\n[[sources.feeds]]\nurl = "http://127.0.0.1:9/feed.xml"\ntitle = "Nothing listens here"\n')
    (root / "sources" / "my-own-wire.txt").write_bytes(b"\xff\xfe not a wire file \x00\x01")
    (root / "sources" / "notes.txt").write_text("")
    env = {**os.environ, "PYTHONPATH": str(root)}
    env.pop("PUBLISHER_CONFIG", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *SUBSET],
                          cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout.splitlines()[-1], proc.stdout[-2000:]
