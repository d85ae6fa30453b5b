"""ScienceWorld JVMs: one `Server` per live episode, reused through a small bounded `JVMPool`.

ScienceWorldEnv (scienceworld 1.2.x) launches the bundled jar in its own JVM and talks to it over py4j; every
env method is a call on `env.server` (the Scala PythonInterface). `env.step()` makes the step call and then
recomputes look, inventory, the task description and the full valid-action list (~250 ms); `fast_step` skips the
wrapper and makes only the three calls a step needs (step, getScore, getCompleted). A JVM starts in ~2-4 s and
holds ~700 MB, so idle JVMs are kept (up to `max_idle`) for the next episode instead of being started per episode;
`atexit` closes every pool. A JVM that died (killed, crashed) surfaces as `ServerDied`: the episode decides how to
recover (benchmark.py replays its actions on a fresh JVM).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import subprocess
import threading
import time
import weakref
from typing import Any

from benchmarks.errors import SuiteError, require

NO_STEP_LIMIT = 10**9  # the env's own step limit, lifted: the episode applies its own cap
# ScienceWorld keeps a room's contents in hash sets keyed by identity hash codes, which differ on every load: the
# same task lists its objects in another order each time, and wandering animals draw their (variation-seeded)
# random moves in another order. A constant identity hash (HotSpot's hashCode=2) makes every load of a task
# replay identically, within and across JVMs (measured: observations of 3 loads equal; without it they differ).
DETERMINISTIC_JVM_OPTIONS = ("-XX:+UnlockExperimentalVMOptions", "-XX:hashCode=2")
_launch = threading.local()  # JVM options for the ScienceWorldEnv being constructed on this thread


class ServerDied(RuntimeError):
    """The JVM behind a Server is gone (or its py4j connection broke)."""


def _py4j_errors() -> tuple[type[BaseException], ...]:
    from py4j.protocol import Py4JError

    return (Py4JError, OSError, EOFError)


@functools.cache
def java_version() -> str | None:
    """`java -version`'s first line (recorded in provenance), or None when there is no java on PATH."""
    try:
        done = subprocess.run(["java", "-version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = (done.stderr or done.stdout).strip().splitlines()
    return lines[0].strip() if lines else None


def _install_launcher() -> None:
    """ScienceWorldEnv starts its JVM with py4j's launch_gateway and no JVM options: wrap the name it calls so the
    options of the Server being built on this thread (and only those) are added. Idempotent."""
    import scienceworld.scienceworld as module

    if getattr(module.launch_gateway, "_agemem_wrapper", False):
        return
    original = module.launch_gateway

    @functools.wraps(original)
    def launch_gateway(*args: Any, **kwargs: Any) -> Any:
        extra = list(getattr(_launch, "javaopts", []))
        if extra:
            kwargs["javaopts"] = [*kwargs.get("javaopts", []), *extra]
        return original(*args, **kwargs)

    launch_gateway._agemem_wrapper = True  # type: ignore[attr-defined]
    module.launch_gateway = launch_gateway


class Server:
    """One ScienceWorld JVM with the calls the adapter needs; any py4j failure on a dead JVM is `ServerDied`."""

    def __init__(self, deterministic: bool = True) -> None:
        require("py4j", "scienceworld")
        scienceworld = require("scienceworld", "scienceworld")
        _install_launcher()
        self.deterministic = deterministic
        started = time.perf_counter()
        _launch.javaopts = list(DETERMINISTIC_JVM_OPTIONS) if deterministic else []
        try:
            self.env = scienceworld.ScienceWorldEnv("", envStepLimit=NO_STEP_LIMIT)
        except FileNotFoundError as exc:  # py4j's launch_gateway runs `java`
            raise SuiteError(f"ScienceWorld needs Java 17+ on PATH to run its simulator: {exc}") from exc
        except Exception as exc:  # a JVM that cannot start is the machine's problem, said in one line
            raise SuiteError(f"ScienceWorld's JVM did not start ({type(exc).__name__}: {exc})") from exc
        finally:
            _launch.javaopts = []
        self.start_seconds = time.perf_counter() - started
        self.loaded: tuple[str, int, str] | None = None

    @property
    def process(self) -> Any:
        return self.env._gateway.java_process

    @property
    def pid(self) -> int:
        return int(self.process.pid)

    def alive(self) -> bool:
        return self.process.poll() is None

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except _py4j_errors() as exc:
            if isinstance(exc, OSError) or not self.alive() or type(exc).__name__ == "Py4JNetworkError":
                self._disconnect()
                raise ServerDied(f"the ScienceWorld JVM (pid {self.pid}) died: {type(exc).__name__}") from exc
            raise

    def load(self, task: str, variation: int, simplifications: str, gold: bool = False) -> None:
        self._call(self.env.load, task, variation, simplifications, gold)
        self.loaded = (task, variation, simplifications)

    def look_first(self) -> str:
        """The first move after load(): 'look around', as env.reset() makes it. (env.reset() would first call the
        server's reset(), which is a second load() of the same task: skipped, it doubles the reset time.)"""
        return str(self._call(self.env.server.step, "look around"))

    def step(self, action: str, fast: bool = True) -> tuple[str, int, bool]:
        """(observation, native score in -100..100, the game's completed flag)."""
        if not fast:
            observation, _, completed, info = self._call(self.env.step, action)
            return str(observation), int(info["score"]), bool(completed)
        server = self.env.server
        observation = self._call(server.step, action)
        score = round(100 * float(self._call(server.getScore)))
        return str(observation), score, bool(self._call(server.getCompleted))

    def task_description(self) -> str:
        return str(self._call(self.env.get_task_description))

    def valid_actions(self) -> list[str]:
        return [str(a) for a in self._call(self.env.get_valid_action_object_combinations)]

    def templates(self) -> list[str]:
        return [str(a) for a in self._call(self.env.get_possible_actions)]

    def objects(self) -> list[str]:
        return [str(a) for a in self._call(self.env.get_possible_objects)]

    def gold_actions(self) -> list[str]:
        return [str(a) for a in self._call(self.env.get_gold_action_sequence)]

    def variations(self, task: str, split: str) -> list[int]:
        """The package's own variation split of a task (loads variation 0 of it)."""
        self.load(task, 0, "")
        getter = {"train": self.env.get_variations_train, "dev": self.env.get_variations_dev}.get(
            split, self.env.get_variations_test
        )
        return [int(v) for v in self._call(getter)]

    def _disconnect(self) -> None:
        """Make py4j forget this JVM. Its objects' finalizers (run by the garbage collector at any moment) would
        otherwise try to reach a dead JVM and log tracebacks from inside the collector; on CPython 3.11 formatting
        a traceback there, in the middle of another ast.parse, corrupts the ast module's state (SystemError "AST
        constructor recursion depth mismatch" from then on, seen under pytest)."""
        with contextlib.suppress(Exception):
            client = self.env._gateway._gateway_client
            client.is_connected = False
            client.close()

    def close(self) -> None:
        """Stop the JVM quietly; never raises (a dead JVM is already stopped)."""
        process = self.process
        if process.poll() is None:
            with contextlib.suppress(Exception):
                self.env.close()  # asks the JVM to shut down
        self._disconnect()
        with contextlib.suppress(Exception):
            self.env._gateway.shutdown_callback_server()
        self.env.close = lambda: None  # ScienceWorldEnv.__del__ calls close(): nothing is left to do
        with contextlib.suppress(Exception):
            process.wait(timeout=10)
        if process.poll() is None:
            with contextlib.suppress(Exception):
                process.kill()
                process.wait(timeout=10)
        with contextlib.suppress(Exception):
            self.env._obj_tree_tempdir.cleanup()


_POOLS: weakref.WeakSet[JVMPool] = weakref.WeakSet()


class JVMPool:
    """Idle JVMs kept for reuse: acquire() hands one out (starting a JVM when none is idle), release() takes it back
    while fewer than `max_idle` wait, else stops it. Live JVMs = episodes running + at most `max_idle` idle."""

    def __init__(self, max_idle: int = 4, deterministic: bool = True) -> None:
        self.max_idle = max_idle
        self.deterministic = deterministic
        self._idle: list[Server] = []
        self._lock = threading.Lock()
        self.started = 0
        self.start_seconds: list[float] = []
        _POOLS.add(self)

    def acquire(self) -> Server:
        with self._lock:
            while self._idle:
                server = self._idle.pop()
                if server.alive():
                    return server
                server.close()
        server = Server(self.deterministic)  # outside the lock: concurrent episodes start their JVMs in parallel
        with self._lock:
            self.started += 1
            self.start_seconds.append(server.start_seconds)
        return server

    def release(self, server: Server) -> None:
        with self._lock:
            if server.alive() and len(self._idle) < self.max_idle:
                self._idle.append(server)
                return
        server.close()

    @property
    def idle(self) -> int:
        return len(self._idle)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for server in idle:
            server.close()


@atexit.register
def _close_all_pools() -> None:
    for pool in list(_POOLS):
        pool.close()
