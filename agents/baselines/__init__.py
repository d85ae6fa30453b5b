"""Memory baselines (Mem0, Mem0g, A-Mem, LangMem): one agent loop, one small adapter per real library."""
