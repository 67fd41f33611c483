"""Where Prizm keeps its files, read from the environment.

``PRIZM_HOME`` (default ``~/.prizm``) holds the SQLite store and the master key file.
``PRIZM_DATABASE_URL`` selects another SQLAlchemy database, such as PostgreSQL.
``PRIZM_MASTER_KEY`` gives the master key directly instead of the key file.
"""

from __future__ import annotations

import os
from pathlib import Path

from prizm.errors import StoreError

__all__ = ["database_url", "prizm_home"]


def prizm_home() -> Path:
    """Return the Prizm home directory, creating it with mode 0700 if missing."""
    home = Path(os.environ.get("PRIZM_HOME") or Path.home() / ".prizm").expanduser()
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        problem = "it is not a directory" if home.is_file() else error.strerror
        raise StoreError(
            f"The Prizm home directory {home} cannot be used: {problem}.",
            hint="Set PRIZM_HOME to a directory you can write, or unset it to use "
            "~/.prizm.",
        ) from None
    return home


def database_url() -> str:
    """Return the SQLAlchemy URL of the store."""
    url = os.environ.get("PRIZM_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{prizm_home() / 'prizm.db'}"
