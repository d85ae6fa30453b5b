"""BabyAI (MiniGrid) as text episodes with AgentBoard's high-level actions (see benchmark.py)."""
