"""`publisher init [DIR]`: a new project: DIR/config.toml (the shipped config, commented) and
DIR/sources/. Paths in the config are relative to its own directory, so the project works
from anywhere (`publisher --config DIR/config.toml ...`, or `publisher ...` inside DIR)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from publisher import config as config_mod
from publisher.errors import ConfigError


def init(directory: Path) -> list[str]:
    """Write directory/config.toml and make the directories it names (sources/; feeds/ is made
    by the first publish). Never overwrites a config: ConfigError. Returns what was done, one
    line each, and the next command to run."""
    directory = Path(directory)
    target = directory / "config.toml"
    if target.exists() or target.is_symlink():
        raise ConfigError(f"{target}: a config file is already there; not overwritten "
                          f"(remove it first to start again)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(f"{directory}: not a directory") from None
    text = config_mod.template()
    # write a temp file, then link it into place: a config appears whole or not at all, and a
    # config created meanwhile by someone else is never replaced (link fails on an existing name)
    fd, tmp = tempfile.mkstemp(prefix=".config.toml.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, target)
        except FileExistsError:
            raise ConfigError(f"{target}: a config file is already there; not overwritten") from None
    finally:
        os.unlink(tmp)
    lines = [f"created {target}"]
    cfg = config_mod.load(target)  # the template is valid, and says where sources/ and feeds/ go
    for path in (cfg.paths.sources,):
        if not path.is_dir():
            path.mkdir(parents=True)
            shown = directory / path.relative_to(directory.resolve()) if directory.resolve() in path.parents else path
            lines.append(f"created {shown}/ (drop wire files or feed files here, or `publisher add URL`)")
    lines.append(f"edit [site] in {target} first (title, base_url, id_authority: entry ids are made from it once)")
    here = directory.resolve() == Path.cwd().resolve()
    lines.append("next: publisher publish   (or `publisher run` for the service)" if here else
                 f"next: publisher --config {target} publish   (or `publisher --config {target} run` for the service)")
    return lines
