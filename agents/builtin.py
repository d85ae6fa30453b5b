"""Built-in agents, by the names results are published under."""

from __future__ import annotations

from agents.api import AgentFactory
from benchmarks.registry import Registry

AGENTS: Registry[AgentFactory] = Registry("agent")
AGENTS.register("nomem", "agents.nomem:NoMemoryAgent")
AGENTS.register("agemem", "agents.agemem.agent:agemem")
AGENTS.register("agemem-norl", "agents.agemem.agent:agemem_norl")
AGENTS.register("agemem-rag", "agents.agemem.agent:agemem_rag")
AGENTS.register("mem0", "agents.baselines.agent:mem0")
AGENTS.register("mem0g", "agents.baselines.agent:mem0g")
AGENTS.register("amem", "agents.baselines.agent:amem")
AGENTS.register("langmem", "agents.baselines.agent:langmem")
