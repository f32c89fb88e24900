"""Finding the config (--config, $PUBLISHER_CONFIG, ./config.toml, /etc/publisher/config.toml),
`publisher init [DIR]`, and `make clean`: as a user runs them, in subprocesses on real files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CONFIG, ROOT, SAMPLES, checkout_copy
from publisher import config as config_mod
from publisher.errors import ConfigError

BIN = Path(sys.executable).parent / "publisher"
NOT_FOUND = ("publisher: no config file: looked at --config (not given), $PUBLISHER_CONFIG (not set), "
             "./config.toml, /etc/publisher/config.toml; run `publisher init` to create one\n")


def publisher(*args, cwd: Path, env: dict | None = None):
    environ = {k: v for k, v in os.environ.items() if k != "PUBLISHER_CONFIG"}
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, cwd=cwd, timeout=60,
                          env={**environ, **(env or {})})


def bad_config(path: Path) -> Path:
    """A config whose error names its path: which file was read shows in the message."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("[site]\ntitle = 1\n")
    return path


# --- where the config is looked for ---------------------------------------------------------

def test_config_wins_over_the_variable_and_the_working_directory(tmp_path):
    bad_config(tmp_path / "config.toml")
    env_config = bad_config(tmp_path / "env" / "c.toml")
    given = bad_config(tmp_path / "given" / "c.toml")
    proc = publisher("--config", str(given), "status", cwd=tmp_path, env={"PUBLISHER_CONFIG": str(env_config)})
    assert proc.returncode == 2 and proc.stderr.startswith(f"publisher: {given}: "), proc.stderr


def test_the_variable_wins_over_the_working_directory(tmp_path):
    bad_config(tmp_path / "config.toml")
    env_config = bad_config(tmp_path / "env" / "c.toml")
    proc = publisher("status", cwd=tmp_path, env={"PUBLISHER_CONFIG": str(env_config)})
    assert proc.returncode == 2 and proc.stderr.startswith(f"publisher: {env_config}: "), proc.stderr


def test_a_variable_naming_a_missing_file_is_an_error_not_a_fallback(tmp_path):
    bad_config(tmp_path / "config.toml")
    proc = publisher("status", cwd=tmp_path, env={"PUBLISHER_CONFIG": str(tmp_path / "nope.toml")})
    assert (proc.returncode, proc.stderr) == (2, f"publisher: {tmp_path / 'nope.toml'}: config file not found\n")


def test_the_working_directorys_config_toml_is_next(tmp_path):
    bad_config(tmp_path / "config.toml")
    proc = publisher("status", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("publisher: config.toml: [site] title"), proc.stderr


def test_etc_publisher_is_last(tmp_path, monkeypatch):
    system = bad_config(tmp_path / "etc" / "config.toml")
    monkeypatch.chdir(tmp_path)
    assert config_mod.locate(None, {}, system=system) == system
    bad_config(tmp_path / "config.toml")
    assert config_mod.locate(None, {}, system=system) == Path("config.toml")
    assert config_mod.locate(None, {"PUBLISHER_CONFIG": "x.toml"}, system=system) == Path("x.toml")
    assert config_mod.locate(Path("y.toml"), {"PUBLISHER_CONFIG": "x.toml"}, system=system) == Path("y.toml")
    (tmp_path / "config.toml").unlink()
    system.unlink()
    with pytest.raises(ConfigError, match=f"looked at .*, ./config.toml, {system}; run `publisher init`"):
        config_mod.locate(None, {}, system=system)


def test_no_config_anywhere_is_one_line_saying_where_it_looked(tmp_path):
    if config_mod.SYSTEM_CONFIG.exists():
        pytest.skip(f"{config_mod.SYSTEM_CONFIG} exists on this machine: it would be used")
    proc = publisher("status", cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", NOT_FOUND)
    assert list(tmp_path.iterdir()) == []


# --- publisher init -------------------------------------------------------------------------

def test_the_template_is_the_shipped_config():
    assert config_mod.template() == CONFIG.read_text(encoding="utf-8")


def test_init_then_publish_from_elsewhere(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = publisher("init", "../site", cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    site = (tmp_path / "site").resolve()
    assert sorted(p.name for p in site.iterdir()) == ["config.toml", "sources"]
    assert (site / "config.toml").read_text() == CONFIG.read_text()
    assert proc.stdout.splitlines()[0] == "created ../site/config.toml"
    assert proc.stdout.splitlines()[1].startswith("created ../site/sources/ ")
    assert proc.stdout.splitlines()[-1].startswith("next: publisher --config ../site/config.toml publish")
    for sample in SAMPLES.glob("*.txt"):
        shutil.copy(sample, site / "sources" / sample.name)
    proc = publisher("--config", str(tmp_path / "site" / "config.toml"), "publish", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout.startswith("publish: 3 files read (0 skipped, 0 failed, 0 unchanged)")
    assert (site / "feeds" / "all" / "atom.xml").is_file() and (site / "publisher.db").is_file()
    assert list(elsewhere.iterdir()) == []  # the paths are the config's directory's, not the cwd's


def test_init_here_and_the_next_command_it_prints_works(tmp_path):
    proc = publisher("init", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].startswith("next: publisher publish")
    shutil.copy(next(SAMPLES.glob("*.txt")), tmp_path / "sources")
    proc = publisher("publish", cwd=tmp_path)  # ./config.toml, found
    assert proc.returncode == 0, proc.stderr
    status = json.loads(publisher("status", "--json", cwd=tmp_path).stdout)
    assert status["entries"] > 0 and [s["outcome"] for s in status["sources"]] == ["new"]


def test_init_never_overwrites_a_config(tmp_path):
    (tmp_path / "config.toml").write_text("# mine\n")
    proc = publisher("init", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"publisher: {tmp_path / 'config.toml'}: a config file is already there; not overwritten " \
                          "(remove it first to start again)\n"
    assert (tmp_path / "config.toml").read_text() == "# mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]  # no sources/, no temp file


def test_init_into_a_file_is_one_line(tmp_path):
    (tmp_path / "f").write_text("")
    proc = publisher("init", str(tmp_path / "f"), cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr


def test_the_template_is_package_data_in_a_build(tmp_path):
    """A non-editable install has publisher/data/config.toml (pyproject's package-data)."""
    root = checkout_copy(tmp_path / "checkout")
    proc = subprocess.run([sys.executable, "-c", "import setuptools; setuptools.setup()", "-q", "build_py",
                           "--build-lib", str(tmp_path / "lib")], cwd=root, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "lib" / "publisher" / "data" / "config.toml").read_bytes() == CONFIG.read_bytes()


# --- make clean -----------------------------------------------------------------------------

def test_make_clean_removes_what_publish_made_and_nothing_else(tmp_path):
    if not shutil.which("make") or not shutil.which("git"):
        pytest.skip("make clean needs make and git (to list what is left)")
    root = checkout_copy(tmp_path / "checkout")
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "copy"], check=True)
    (root / "sources" / "mine.txt").write_text("UKRAINE: Kyiv opened more shelters in Ukraine.\n")  # the user's
    env = {"PYTHONPATH": str(root), "PYTHONDONTWRITEBYTECODE": ""}  # bytecode caches are generated too
    assert publisher("--config", str(root / "config.toml"), "publish", cwd=root, env=env).returncode == 0
    assert publisher("status", cwd=root, env=env).returncode == 0
    assert (root / "feeds" / "index.html").is_file() and (root / "publisher.db").is_file()
    assert (root / "publisher" / "__pycache__").is_dir()
    proc = subprocess.run(["make", "clean"], cwd=root, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    left = subprocess.run([*git, "status", "--porcelain", "--ignored"], capture_output=True, text=True).stdout
    assert left == "?? sources/mine.txt\n"
    assert (root / "feeds" / "README.md").is_file()
