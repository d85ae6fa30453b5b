"""ALFWorld adapter: the 134 json_2.1.1 valid_unseen games (data dir) or self-written fixture games (benchmark.py)."""
