"""The one exception tree of citewatch; every error a user can cause is one of these.

    CitewatchError            -- anything we report as one line, never as a traceback
    ├── ConfigError           -- a bad setting (names the variable)
    ├── StorageError          -- database problems (re-exported from storage.errors)
    ├── SourceError           -- a channel source failed (unknown channel, private, ...)
    │   └── FloodWait         -- Telegram asked us to wait; carries ``retry_after`` seconds
    ├── FetchError            -- an HTTP fetch was refused or failed (feeds, articles, web preview)
    ├── TranslationError      -- a translator failed; ``transient`` says whether to retry
    ├── ModelInstallError     -- an offline model could not be installed; ``transient`` as above
    └── AlertError            -- sending an alert failed; ``permanent`` says whether to give up

Causes are kept with ``raise ... from exc`` so logs at debug level still show the origin.
"""

from __future__ import annotations

from storage.errors import CitewatchError, QueryError, StorageError

__all__ = [
    "AlertError",
    "CitewatchError",
    "ConfigError",
    "FetchError",
    "FloodWait",
    "ModelInstallError",
    "QueryError",
    "SourceError",
    "StorageError",
    "TranslationError",
]


class ConfigError(CitewatchError):
    """A setting is missing or malformed; the message names the variable."""


class SourceError(CitewatchError):
    """A channel could not be read (unknown, private, not a channel, network)."""


class NoSuchChannel(SourceError):
    """The name is not a public channel (unknown, a user, or private): asking again soon is useless."""


class FloodWait(SourceError):
    """Telegram (or a web host) asked us to wait ``retry_after`` seconds."""

    def __init__(self, retry_after: float, what: str = "") -> None:
        self.retry_after = float(retry_after)
        super().__init__(f"flood wait of {retry_after:.0f}s{' on ' + what if what else ''}")


class FetchError(CitewatchError):
    """An HTTP fetch failed or was refused by our own safety rules."""


class TranslationError(CitewatchError):
    """A translation failed; transient ones are retried, others recorded on the post."""

    def __init__(self, message: str, *, transient: bool = False, pause: float = 0.0,
                 defer: float = 0.0) -> None:
        super().__init__(message)
        self.transient = transient
        #: seconds the whole queue should pause (rate limits, quotas)
        self.pause = pause
        #: seconds these texts should wait, no attempt counted (their model is being installed)
        self.defer = defer


class ModelInstallError(CitewatchError):
    """A model package could not be installed; nothing half-installed is left behind.

    ``transient``: the network or the server failed (try again later); otherwise the package itself
    or this machine is the problem (corrupt, wrong layout, wrong pair, disk full) and retrying the
    same download will not help by itself.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class AlertError(CitewatchError):
    """An alert could not be delivered; permanent ones mark the alert failed."""

    def __init__(self, message: str, *, permanent: bool = False, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
