"""Errors a user can fix. The CLI prints them as one line and exits non-zero, never as a traceback."""

from __future__ import annotations

import importlib
from types import ModuleType


class SuiteError(Exception):
    """Bad input (config, data, names, missing package, unreachable server) with an actionable message."""

    exit_code = 2


def require(module: str, extra: str) -> ModuleType:
    """Import an optional heavy dependency, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise SuiteError(
            f"optional package '{module}' is missing ({exc}); install it with: pip install 'agemem-bench[{extra}]'"
        ) from exc
