"""`make bench`: run every benchmark under bench/ (each prints its numbers next to its goal)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
# Order: pure engine first, then documents, cold starts and moto alone, then what needs the local stack.
ORDER = ["engine", "documents", "cold_start", "moto_patches", "local", "ingest", "billing"]


def main() -> int:
    names = [p.name for p in HERE.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    names.sort(key=lambda n: (ORDER.index(n) if n in ORDER else len(ORDER), n))
    status = 0
    for name in names:
        module = f"bench.{name}.run" if (HERE / name / "run.py").exists() else f"bench.{name}"
        print(f"\n=== bench/{name} ({module}) ===", flush=True)
        status |= subprocess.call([sys.executable, "-m", module], cwd=HERE.parent)
    return status


if __name__ == "__main__":
    sys.exit(main())
