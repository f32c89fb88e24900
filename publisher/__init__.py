"""publisher: raw wire copy in, clean deduplicated topic feeds out."""

__version__ = "0.1.0"
