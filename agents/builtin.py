"""Built-in agents, by the names results are published under. Later issues add the memory baselines."""

from __future__ import annotations

from agents.api import AgentFactory
from benchmarks.registry import Registry

AGENTS: Registry[AgentFactory] = Registry("agent")
AGENTS.register("nomem", "agents.nomem:NoMemoryAgent")
AGENTS.register("agemem", "agents.agemem.agent:agemem")
AGENTS.register("agemem-norl", "agents.agemem.agent:agemem_norl")
AGENTS.register("agemem-rag", "agents.agemem.agent:agemem_rag")
