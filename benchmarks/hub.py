"""Is the Hugging Face hub usable right now? Asked before any hub download, because the hub clients retry for
25-80 s when offline, while a DNS/socket probe answers in milliseconds."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

_OFF = ("", "0", "false", "no", "off")


def hub_unavailable_reason(*offline_vars: str) -> str | None:
    """Why the hub cannot be used (an offline variable is set, or the endpoint is unreachable), or None."""
    for var in ("HF_HUB_OFFLINE", *offline_vars):
        if os.environ.get(var, "").strip().lower() not in _OFF:
            return f"{var} is set"
    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=2).close()
    except OSError as exc:
        return f"{host}:443 is unreachable ({exc})"
    return None
