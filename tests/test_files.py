"""publisher.sources.files.list_sources(): which files under the sources directory are sources."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from publisher.sources.files import NotASource, display_name, list_sources, read_source, source_file


def write(root: Path, name: str, text: str = "story\n") -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def names(root: Path) -> list[str]:
    """The sources that are read."""
    return [f.name for f in list_sources(root) if f.skip is None]


def skipped(root: Path) -> dict[str, str]:
    """What is listed only to be skipped, with the reason (one line each in a publish)."""
    return {f.name: f.skip for f in list_sources(root) if f.skip is not None}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "sources"
    path.mkdir()
    return path


# --- what is listed, in which order --------------------------------------------------------

def test_lists_regular_files_recursively_sorted_by_relative_path(root):
    for name in ["zeta.txt", "b/two.txt", "a/deep/er/one.txt", "alpha.txt", "b/a.txt", "a/z.txt"]:
        write(root, name)
    assert names(root) == ["a/deep/er/one.txt", "a/z.txt", "alpha.txt", "b/a.txt", "b/two.txt",
                           "zeta.txt"]


def test_empty_root_lists_nothing(root):
    (root / "empty" / "dirs").mkdir(parents=True)
    assert list_sources(root) == []


def test_name_is_relative_with_slash_separators(root):
    write(root, "2026/05/wire.txt")
    (source,) = list_sources(root)
    assert source.name == "2026/05/wire.txt"


def test_path_reads_the_file(root):
    write(root, "desk/wire.txt", "the copy\n")
    (source,) = list_sources(root)
    assert (source.path, source.path.read_text(encoding="utf-8")) == (root / "desk/wire.txt", "the copy\n")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_skipped_as_not_a_regular_file(root):
    write(root, "wire.txt")
    os.mkfifo(root / "pipe")
    assert names(root) == ["wire.txt"]
    assert skipped(root) == {"pipe": "not a regular file"}


def test_socket_and_device_are_skipped_as_not_regular_files(root):
    import socket

    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "sock"))
        expected = {"sock": "not a regular file"}
        try:
            os.mknod(root / "null", 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers
            expected["null"] = "not a regular file"
        except PermissionError:  # a container without CAP_MKNOD
            pass
        assert (names(root), skipped(root)) == ([], expected)


# --- ignored names -------------------------------------------------------------------------

@pytest.mark.parametrize("ignored", [
    ".hidden", ".foo.swp", "foo.swp", "foo~", "#foo#", ".#foo",
    "foo.part", "FOO.PART", "foo.tmp", "foo.crdownload",
])
def test_temp_swap_backup_and_hidden_files_are_ignored(root, ignored):
    for directory in ("", "sub/"):
        write(root, directory + "story.txt")
        write(root, directory + ignored)
    assert names(root) == ["story.txt", "sub/story.txt"]


@pytest.mark.parametrize("kept", ["part", "tmp.txt", "report.part.txt", "#notes", "a~b.txt", "foo#"])
def test_names_merely_containing_an_ignored_pattern_are_listed(root, kept):
    write(root, kept)
    assert names(root) == [kept]


def test_hidden_directories_are_not_descended(root):
    write(root, ".git/objects/ab/cdef")
    write(root, ".drafts/wire.txt")
    write(root, "wire.txt")
    assert names(root) == ["wire.txt"]


def test_hidden_directory_below_the_top_is_not_descended(root):
    write(root, "desk/.cache/wire.txt")
    write(root, "desk/wire.txt")
    assert names(root) == ["desk/wire.txt"]


# --- symlinks ------------------------------------------------------------------------------

def test_symlink_to_a_file_inside_the_root_is_listed_under_its_own_name(root):
    write(root, "archive/wire.txt", "the copy\n")
    (root / "today.txt").symlink_to("archive/wire.txt")
    sources = {f.name: f.path.read_text(encoding="utf-8") for f in list_sources(root)}
    assert sources == {"archive/wire.txt": "the copy\n", "today.txt": "the copy\n"}


def test_symlink_to_a_file_outside_the_root_is_skipped_as_outside(root, tmp_path):
    outside = write(tmp_path, "secret.txt")
    write(root, "wire.txt")
    (root / "relative.txt").symlink_to(Path("..") / "secret.txt")
    (root / "absolute.txt").symlink_to(outside)
    assert names(root) == ["wire.txt"]
    assert skipped(root) == {"absolute.txt": "outside sources/", "relative.txt": "outside sources/"}


@pytest.mark.parametrize("target", ["/etc/shadow", "/proc/self/environ", "/etc", "/"])
def test_symlink_to_a_system_file_or_directory_is_skipped_as_outside(root, target):
    (root / "link.txt").symlink_to(target)
    assert (names(root), skipped(root)) == ([], {"link.txt": "outside sources/"})


def test_symlink_chain_that_ends_outside_the_root_is_not_listed(root, tmp_path):
    write(tmp_path, "secret.txt")
    (root / "hop.txt").symlink_to(tmp_path / "secret.txt")  # itself leads outside
    (root / "wire.txt").symlink_to("hop.txt")
    assert names(root) == []
    assert skipped(root) == {"hop.txt": "outside sources/", "wire.txt": "outside sources/"}


def test_dangling_symlink_is_skipped_as_broken(root):
    write(root, "wire.txt")
    (root / "gone.txt").symlink_to("nowhere.txt")
    assert names(root) == ["wire.txt"]
    assert skipped(root) == {"gone.txt": "broken symlink"}


def test_symlinked_directory_pointing_outside_is_not_descended_but_skipped_as_outside(root, tmp_path):
    write(tmp_path, "elsewhere/secret.txt")
    write(root, "wire.txt")
    (root / "elsewhere").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert names(root) == ["wire.txt"]
    assert skipped(root) == {"elsewhere": "outside sources/"}


@pytest.mark.timeout(10)
def test_symlink_loop_neither_hangs_nor_duplicates(root):
    write(root, "desk/wire.txt")
    (root / "desk" / "up").symlink_to("..", target_is_directory=True)
    (root / "desk" / "self").symlink_to(".", target_is_directory=True)
    assert names(root) == ["desk/wire.txt"]
    assert skipped(root) == {}  # links to directories inside: their files are read at their real path


@pytest.mark.timeout(10)
def test_self_referencing_symlink_is_skipped(root):
    write(root, "wire.txt")
    (root / "loop").symlink_to("loop")
    (root / "ping.txt").symlink_to("pong.txt")
    (root / "pong.txt").symlink_to("ping.txt")
    assert names(root) == ["wire.txt"]
    assert skipped(root) == {"loop": "symlink loop", "ping.txt": "symlink loop", "pong.txt": "symlink loop"}


def test_file_is_listed_at_its_real_path_when_a_symlinked_directory_also_reaches_it(root):
    write(root, "b/wire.txt")
    (root / "a").mkdir()
    (root / "a" / "link").symlink_to(Path("..") / "b", target_is_directory=True)
    assert "b/wire.txt" in names(root)


def test_root_given_as_a_symlink_lists_names_relative_to_it(root, tmp_path):
    write(root, "desk/wire.txt")
    alias = tmp_path / "alias"
    alias.symlink_to(root, target_is_directory=True)
    assert [(f.name, f.path) for f in list_sources(alias)] == [("desk/wire.txt", alias / "desk/wire.txt")]


# --- the watcher's path: one file -----------------------------------------------------------

def test_source_file_gives_the_same_verdict_as_the_listing(root, tmp_path):
    write(root, "wire.txt")
    os.mkfifo(root / "pipe.txt")
    (root / "shadow.txt").symlink_to("/etc/shadow")
    (root / "loop.txt").symlink_to("loop.txt")
    (root / "desk").mkdir()
    listed = {f.name: f for f in list_sources(root)}
    assert set(listed) == {"wire.txt", "pipe.txt", "shadow.txt", "loop.txt"}
    assert {name: source_file(root, root / name) for name in listed} == listed
    assert source_file(root, root / "desk") is None  # a directory is not a source: its files are
    assert source_file(root, root / "gone.txt") is None


# --- reading: never blocks, never follows a link swapped in after the listing -----------------

def test_read_source_reads_a_listed_file_and_a_link_to_one_inside(root):
    write(root, "archive/wire.txt", "the copy\n")
    (root / "today.txt").symlink_to("archive/wire.txt")
    assert {f.name: read_source(f, 1000) for f in list_sources(root)} == {
        "archive/wire.txt": b"the copy\n", "today.txt": b"the copy\n"}


def test_read_source_reads_at_most_the_limit(root):
    write(root, "wire.txt", "x" * 100)
    (source,) = list_sources(root)
    assert read_source(source, 10) == b"x" * 10


@pytest.mark.timeout(10)  # a blocking open() would hang here: the guard fails it instead
def test_a_fifo_swapped_in_after_the_listing_is_refused_without_blocking(root):
    write(root, "zzz.txt")
    (source,) = list_sources(root)
    os.mkfifo(root / ".f")
    os.replace(root / ".f", root / "zzz.txt")  # what an attacker does while a run lists
    with pytest.raises(NotASource) as caught:
        read_source(source, 1000)
    assert caught.value.reason == "not a regular file"


def test_a_link_swapped_in_after_the_listing_is_not_followed(root, tmp_path):
    write(tmp_path, "secret/wire.txt", "root:x:0:0\n")
    write(root, "desk/wire.txt")
    write(root, "top.txt")
    desk, top = sorted(list_sources(root), key=lambda f: f.name)
    (root / "desk").rename(root / "desk.old")
    (root / "desk").symlink_to(tmp_path / "secret", target_is_directory=True)
    (root / "top.txt").unlink()
    (root / "top.txt").symlink_to(tmp_path / "secret" / "wire.txt")
    for source in (desk, top):
        with pytest.raises(NotASource):
            read_source(source, 1000)


# --- bad roots -----------------------------------------------------------------------------

def test_missing_root_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        list_sources(tmp_path / "missing")


def test_root_that_is_a_file_raises_not_a_directory(tmp_path):
    with pytest.raises(NotADirectoryError):
        list_sources(write(tmp_path, "sources"))


@pytest.mark.parametrize("name, shown", [
    ("e\x1b[31m.txt", "e\\x1b[31m.txt"),
    ("csi\x9b31m.txt", "csi\\x9b31m.txt"),  # an 8-bit CSI: a terminal reads it as ESC [
    ("nel\x85.txt", "nel\\x85.txt"),
    ("line\u2028sep.txt", "line\\u2028sep.txt"),
    ("evil\u202etxt.exe", "evil\\u202etxt.exe"),  # a right-to-left override reorders the line
])
def test_a_file_name_is_shown_on_one_line_with_controls_escaped(name, shown):
    assert display_name(Path(name)) == shown
