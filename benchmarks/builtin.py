"""Built-in benchmarks, by the names results are published under.

Factories are called as `factory(data_dir=..., source=..., **options)`; entries are lazy "module:attr" strings so
listing names never imports an adapter or its dependencies.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.api import Benchmark
from benchmarks.registry import Registry

BenchmarkFactory = Callable[..., Benchmark]

BENCHMARKS: Registry[BenchmarkFactory] = Registry("benchmark")
BENCHMARKS.register("hotpotqa", "benchmarks.hotpotqa.benchmark:HotpotQA")
BENCHMARKS.register("pddl", "benchmarks.pddl.benchmark:PDDL")
BENCHMARKS.register("babyai", "benchmarks.babyai.benchmark:BabyAI")
BENCHMARKS.register("scienceworld", "benchmarks.scienceworld.benchmark:ScienceWorld")
BENCHMARKS.register("alfworld", "benchmarks.alfworld.benchmark:ALFWorld")
