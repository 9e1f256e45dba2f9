"""`make bench`: run every benchmark (or those named) and refresh docs/benchmarks.md."""

from __future__ import annotations

import runpy
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# In order: cheap first. Each script writes its own section of docs/benchmarks.md.
# speed builds bench/.work/full (the whole corpus, embedded: ~40 min the first time) that indomain reads.
BENCHMARKS = [
    "import_speed",
    "quality",
    "speed",
    "indomain",
    "web",
    "load",
    "digest",
    "sync",
    "curation",
    "recommend",
    "recommend_speed",
    "nodes",
]


def main(names: list[str]) -> None:
    for name in names or BENCHMARKS:
        start = time.perf_counter()
        print(f"== {name}", flush=True)
        # Each script reads its own arguments (quality.py: BEIR folders); the names given here are not theirs.
        sys.argv = [str(HERE / f"{name}.py")]
        runpy.run_path(str(HERE / f"{name}.py"), run_name="__main__")
        print(f"== {name} done in {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
