"""AgentBoard's PDDL games on an in-project STRIPS simulator (see benchmark.py)."""
