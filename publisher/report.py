"""The run report: what happened to every source in one publish, and the lines shown for it.

Built by the use cases (ingest, site), printed by the CLI, logged by the service, stored as the
last run's summary. Counts only; no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from publisher.model import Decision, Outcome

Progress = Callable[[int, int, str], None]  # (files done, files in all, current file)


@dataclass(slots=True)
class SourceReport:
    """What happened to one source (a file, or a polled feed URL) in one run."""

    name: str
    outcome: Outcome
    reason: str | None = None
    stories: int = 0
    new: int = 0  # new entries
    duplicate: int = 0  # known texts, teasers of known stories, near-duplicates skipped
    warnings: tuple[str, ...] = ()
    revised: int = 0  # revisions of stored entries
    path: Path | None = None  # a PENDING file: where it is, for whoever reads it once settled

    def count(self, decision: Decision) -> None:
        """One more story placed with this decision."""
        self.stories += 1
        if decision == Decision.NEW:
            self.new += 1
        elif decision.revises:
            self.revised += 1
        else:
            self.duplicate += 1


@dataclass(slots=True)
class PublishReport:
    sources: list[SourceReport] = field(default_factory=list)  # files
    polled: list[SourceReport] = field(default_factory=list)  # feed URLs fetched
    errors: list[str] = field(default_factory=list)  # one line each: file + reason
    feed_files_written: list[Path] = field(default_factory=list)  # output feed files whose bytes changed
    feed_files: int = 0
    interrupted: bool = False  # stopped early (a signal): the rest is read on the next run
    pages: int = 0  # HTML pages rendered: the front page, feed pages, changed stories' pages
    pages_written: int = 0  # ... of which the bytes changed

    def count(self, *outcomes: Outcome, polled: bool = False) -> int:
        return sum(1 for s in (self.polled if polled else self.sources) if s.outcome in outcomes)

    @property
    def ok(self) -> bool:
        """False when a source failed or a file could not be written (exit status 1)."""
        return not self.errors and not self.count(Outcome.FAILED) and not self.count(Outcome.FAILED, polled=True)

    def summary(self) -> str:
        read = (Outcome.NEW, Outcome.DUPLICATE, Outcome.SKIPPED)
        every = self.sources + self.polled
        new = sum(s.new for s in every)
        revised = sum(s.revised for s in every)
        dup = sum(s.duplicate for s in every)
        polled = ""
        if self.polled:
            polled = (f"; {len(self.polled)} feeds polled ({self.count(*read, polled=True)} read, "
                      f"{self.count(Outcome.UNCHANGED, polled=True)} unchanged, "
                      f"{self.count(Outcome.FAILED, polled=True)} failed)")
        return (f"publish: {self.count(*read)} files read ({self.count(Outcome.SKIPPED)} skipped, "
                f"{self.count(Outcome.FAILED)} failed, {self.count(Outcome.UNCHANGED)} unchanged){polled}; "
                f"{new + revised + dup} stories ({new} new, {revised} revised, {dup} duplicate); "
                f"{len(self.feed_files_written)} of {self.feed_files} feed files and "
                f"{self.pages_written} of {self.pages} pages written")

    def problems(self) -> list[str]:
        """One line per problem or warning, naming the file (or feed URL)."""
        lines = []
        for s in self.sources + self.polled:
            lines += [f"{s.name}: warning: {w}" for w in s.warnings]
            if s.outcome in (Outcome.SKIPPED, Outcome.FAILED):
                lines.append(f"{s.name}: {s.outcome}: {s.reason}")
        return lines + self.errors
