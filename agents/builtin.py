"""Built-in agents, by the names results are published under. Later issues add AgeMem and the baselines."""

from __future__ import annotations

from agents.api import AgentFactory
from benchmarks.registry import Registry

AGENTS: Registry[AgentFactory] = Registry("agent")
AGENTS.register("nomem", "agents.nomem:NoMemoryAgent")
