"""HotpotQA as AgeMem's three-stage memory episodes (see benchmark.py)."""
