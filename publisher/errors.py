"""The exception tree. Everything publisher raises on purpose derives from PublisherError."""


class PublisherError(Exception):
    """Root of every error publisher raises on purpose."""


class ConfigError(PublisherError):
    """config.toml is missing, unreadable or invalid. The message is one line naming file and key."""


class LockHeld(PublisherError):
    """Another publisher process holds the write lock."""


class StoreError(PublisherError):
    """The database cannot be opened or is from an incompatible version."""


class UnknownStory(PublisherError):
    """No stored story answers to the id or name given (or nothing is stored yet)."""
