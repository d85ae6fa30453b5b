"""AgeMem (arXiv 2601.01885): one policy that manages long- and short-term memory through its own tool calls."""
