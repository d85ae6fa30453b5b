"""Where benchmark data lives on this machine: chosen by the user, never shipped with the project.

An explicit argument wins over the AGEMEM_DATA environment variable; with neither, there is no data directory
and adapters fall back to their other sources. A path that was named but does not exist is a user error: silently
falling back would run on different data than the user asked for.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.errors import SuiteError

ENV_VAR = "AGEMEM_DATA"


def data_dir(explicit: str | Path | None = None) -> Path | None:
    if explicit is not None and str(explicit) != "":
        path, origin = Path(explicit), "the data_dir option"
    elif os.environ.get(ENV_VAR):
        path, origin = Path(os.environ[ENV_VAR]), f"${ENV_VAR}"
    else:
        return None
    path = path.expanduser()
    if not path.is_dir():
        raise SuiteError(f"data directory '{path}' (from {origin}) does not exist or is not a directory")
    return path.resolve()
