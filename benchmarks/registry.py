"""A name -> factory registry whose built-ins are "module:attr" strings imported on first use.

Listing names never imports an adapter, so `agemem-bench list` works without alfworld, vllm or mem0 installed.
A name of that form that is not registered ("my_package.my_agent:MyAgent") is imported as a plug-in: how a new
memory system joins a run without editing this package (on Ray, every worker must be able to import it).
"""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Iterator
from typing import Generic, TypeVar

from benchmarks.errors import SuiteError

T = TypeVar("T")
_PLUGIN = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, str | T] = {}

    def register(self, name: str, target: str | T) -> None:
        """Register a factory object, or a lazy "package.module:attr" reference to one."""
        if name in self._entries:
            raise ValueError(f"{self.kind} '{name}' is already registered")
        self._entries[name] = target

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def get(self, name: str) -> T:
        if name not in self._entries and _PLUGIN.fullmatch(name):
            module, _, attr = name.partition(":")
            try:
                self._entries[name] = getattr(importlib.import_module(module), attr)
            except (ImportError, AttributeError) as exc:
                raise SuiteError(f"{self.kind} '{name}': cannot import it ({type(exc).__name__}: {exc})") from None
        if name not in self._entries:
            close = difflib.get_close_matches(name, self.names(), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise SuiteError(f"unknown {self.kind} '{name}'{hint}; known: {', '.join(self.names())}")
        target = self._entries[name]
        if isinstance(target, str):
            module, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module), attr)
            self._entries[name] = target
        return target  # type: ignore[return-value]
