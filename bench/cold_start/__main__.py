"""Cold start benchmark: milliseconds to import each Lambda function's handler module in a fresh interpreter.

Run from the repository root: `python -m bench.cold_start [FUNCTION ...]`. For every function of
template.yaml, a new Python process gets the function's environment (`Template.function_environment`, as the
tests and the local stack apply it) and imports its handler module the way the local stack does
(`Template.function_module`, then the handler attribute); only the import is timed, best of 5.

Two figures per function: "Lambda", as deployed: with the variables the Lambda runtime adds
(`LAMBDA_TASK_ROOT` among them), so Powertools' Tracer is on and loads the X-Ray SDK (template.yaml:
`Tracing: Active`); and "local", as the local stack and the tests run it: outside Lambda, with
`POWERTOOLS_TRACE_DISABLED=true` (lagoon/local/stack.py, tests/conftest.py). Both import from this
environment's packages: X-Ray's `patch_all` imports and patches every supported library installed, so where
the dev dependencies are (requests, httpx) "Lambda" is somewhat above what the dependency layer would cost.
Goal (restructure issue): <= 300 ms for the functions behind the API (its routes and its authorizer), as
deployed. Each figure comes with the CPU time of the import (least of the 5), and each line names the heavy
libraries each import loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from lagoon.local.template import Template

# This checkout (not wherever an installed `lagoon` points): its template, its functions, its shared/.
REPO_ROOT = Path(__file__).resolve().parents[2]

RUNS = 5
GOAL_MS = 300.0
# aws_xray_sdk.core: the SDK proper (recorder, sampler and its botocore client), not the tiny package root.
HEAVY_MODULES = ("fpdf", "fontTools", "PIL", "cryptography", "aws_xray_sdk.core")

# Runs in the fresh interpreter: import the handler module, report the time and what got loaded.
_IMPORT_ONCE = """
import importlib, json, sys, time
module, handler, heavy = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
started, cpu_started = time.perf_counter(), time.process_time()
getattr(importlib.import_module(module), handler)
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
loaded = [name for name in heavy if name in sys.modules]
print(json.dumps({"ms": elapsed * 1000, "cpu_ms": cpu * 1000, "loaded": loaded}))
"""


def _base_environment() -> dict[str, str]:
    """A clean environment (nothing of this shell's AWS or Powertools settings), importing this checkout."""
    python_path = [str(REPO_ROOT / "shared"), str(REPO_ROOT)]
    if os.environ.get("PYTHONPATH"):
        python_path.append(os.environ["PYTHONPATH"])
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONPATH": os.pathsep.join(python_path),
    }


def _lambda_runtime(template: Template, logical_id: str) -> dict[str, str]:
    """Variables the Lambda runtime sets that the imported code reads (Powertools, boto3)."""
    properties = template.functions[logical_id]["Properties"]
    memory = properties.get("MemorySize") or template.document["Globals"]["Function"].get("MemorySize", 128)
    return {
        "LAMBDA_TASK_ROOT": str(REPO_ROOT / properties["CodeUri"]),
        "AWS_LAMBDA_FUNCTION_NAME": template.physical_name(logical_id),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.11",
        "AWS_REGION": template.region,
        "AWS_DEFAULT_REGION": template.region,
    }


def _local_stack(template: Template) -> dict[str, str]:
    """What the local stack adds to the template's environment that the imported code reads."""
    return {
        "POWERTOOLS_TRACE_DISABLED": "true",
        "AWS_REGION": template.region,
        "AWS_DEFAULT_REGION": template.region,
    }


def best_import(module: str, handler: str, environment: dict[str, str]) -> dict[str, Any]:
    """Best of RUNS imports of `module`, each in a new interpreter (wall and CPU time, each the least);
    `loaded` is from the last run."""
    best: dict[str, Any] = {"ms": float("inf"), "cpu_ms": float("inf"), "loaded": []}
    for _ in range(RUNS):
        output = subprocess.run(
            [sys.executable, "-c", _IMPORT_ONCE, module, handler, ",".join(HEAVY_MODULES)],
            cwd=REPO_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        result = json.loads(output.strip().splitlines()[-1])
        best = {
            "ms": min(best["ms"], result["ms"]),
            "cpu_ms": min(best["cpu_ms"], result["cpu_ms"]),
            "loaded": result["loaded"],
        }
    return best


def api_functions(template: Template) -> set[str]:
    """The functions a request to the API can start cold: the routes' functions and the authorizer."""
    functions = {route.function for route in template.routes()}
    authorizer = template.authorizer()
    if authorizer:
        functions.add(authorizer[0])
    return functions


def main(argv: list[str]) -> int:
    template = Template.load(REPO_ROOT / "template.yaml")
    api = api_functions(template)
    selected = argv or sorted(template.functions, key=lambda logical_id: (logical_id not in api, logical_id))
    print(
        f"cold import of each function's handler module, fresh interpreter, best of {RUNS} "
        f"(goal <= {GOAL_MS:.0f} ms for API functions):"
    )
    # CPU time tells a busy machine (other processes on the cores) from a slow import.
    print(
        f"  {'function':<28} {'Lambda':>7} {'(CPU)':>8} {'local':>8} {'(CPU)':>8}  {'verdict':<11} "
        "heavy modules: Lambda | local"
    )
    missed = 0
    for logical_id in selected:
        module = template.function_module(logical_id)
        handler = template.function_handler_name(logical_id)
        environment = {**_base_environment(), **template.function_environment(logical_id)}
        deployed = best_import(module, handler, {**environment, **_lambda_runtime(template, logical_id)})
        local = best_import(module, handler, {**environment, **_local_stack(template)})
        if logical_id in api:
            verdict = "ok" if deployed["ms"] <= GOAL_MS else "ABOVE GOAL"
            missed += verdict != "ok"
        else:
            verdict = "(no goal)"
        heavy = " | ".join(", ".join(run["loaded"]) or "-" for run in (deployed, local))
        print(
            f"  {logical_id:<28} {deployed['ms']:4.0f} ms {deployed['cpu_ms']:5.0f} ms {local['ms']:5.0f} ms "
            f"{local['cpu_ms']:5.0f} ms  {verdict:<11} {heavy}",
            flush=True,
        )
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
