"""The exception tree. Everything publisher raises on purpose derives from PublisherError."""


class PublisherError(Exception):
    """Root of every error publisher raises on purpose."""


class ConfigError(PublisherError):
    """config.toml is missing, unreadable or invalid. The message is one line naming file and key."""


class LockHeld(PublisherError):
    """Another publisher process holds the write lock."""


class StoreError(PublisherError):
    """The database cannot be opened, is from an incompatible version, or a query failed.
    `fatal`: the failure is the database's or its disk's (full, read-only, an I/O error, locked,
    damaged), not the data's: a run stops there, rather than blaming each source in turn."""

    def __init__(self, message: str, *, fatal: bool = False):
        super().__init__(message)
        self.fatal = fatal


class QueryTimeout(StoreError):
    """A read took longer than it was given (a search the service stopped)."""


class UnknownStory(PublisherError):
    """No stored story answers to the id or name given (or nothing is stored yet)."""
