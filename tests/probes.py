"""A plug-in agent for the scheduling tests (tests only): loaded by name as "tests.probes:OrderProbeAgent".

It is the no-memory agent declaring memory across episodes (`cross_episode = True`) and noting, per process, the
order its episodes started in and whether one started while another was still open, so a test can see from the
records that a lane ran one episode at a time, in order, on one worker.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from agents.nomem import NoMemoryAgent
from benchmarks.api import TaskRef

_lock = threading.Lock()
_started = 0
_open = 0


class OrderProbeAgent(NoMemoryAgent):
    name = "order-probe"
    cross_episode = True

    def reset(self, task: TaskRef, seed: int = 0, workdir: Path | None = None) -> None:
        global _started, _open
        super().reset(task, seed, workdir)
        with _lock:
            _started += 1
            _open += 1
            self.sequence, self.overlapped = _started, _open > 1
        self._closed = False

    def close(self) -> None:
        global _open
        with _lock:
            if not self._closed:
                _open -= 1
                self._closed = True

    def episode_stats(self) -> dict[str, Any]:
        return {**super().episode_stats(), "sequence": self.sequence, "overlapped": self.overlapped,
                "pid": os.getpid()}
