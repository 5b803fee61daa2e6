"""The shape rules of the `lagoon` package that no linter checks (STYLE.md "Rooms"; `make lint`):

- a module of `shared/lagoon` stays under ~500 lines: past that it is two rooms;
- a function in `services/` stays under ~80 lines: past that it does several jobs;
- a function-local import says why on its line (`# ...`): it is only for a cold start (heavy libraries load
  where used) — import circles are refused by import-linter instead.

Prints each breach and exits 1 when there is one.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "shared" / "lagoon"
MAX_MODULE_LINES = 500
MAX_SERVICE_FUNCTION_LINES = 80


def _functions(tree: ast.AST) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node


def _local_imports(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.ImportFrom | ast.Import]:
    for node in ast.walk(function):
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        if names:
            yield node


def breaches(package: Path = PACKAGE) -> list[str]:
    found: list[str] = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(ROOT)
        source = path.read_text()
        lines = source.splitlines()
        if len(lines) > MAX_MODULE_LINES:
            found.append(f"{relative}: {len(lines)} lines (> {MAX_MODULE_LINES}): split it into rooms")
        tree = ast.parse(source)
        in_services = "services" in path.relative_to(package).parts
        for function in _functions(tree):
            length = (function.end_lineno or function.lineno) - function.lineno + 1
            if in_services and length > MAX_SERVICE_FUNCTION_LINES:
                found.append(f"{relative}:{function.lineno} {function.name}: {length} lines (> 80)")
            for node in _local_imports(function):
                if "#" not in lines[node.lineno - 1]:
                    found.append(f"{relative}:{node.lineno} function-local import without its reason")
    return found


def main() -> int:
    found = breaches()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
