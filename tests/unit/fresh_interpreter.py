"""Run a few statements in a new Python process and report the modules it loaded.

For cold-start tests: in the test process, whatever another test imported stays in `sys.modules`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import lagoon

# The `lagoon` this test process imports (this checkout's shared/), first on the child's path too.
SHARED = Path(lagoon.__file__).resolve().parents[1]


def modules_loaded_by(statements: str, environment: Mapping[str, str | None] | None = None) -> set[str]:
    """Names in `sys.modules` after `statements` ran in a fresh interpreter. `environment` is applied over
    this process's environment; a None value removes the variable. A failing statement fails the test."""
    env = dict(os.environ)
    for key, value in (environment or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(SHARED), env.get("PYTHONPATH")) if p)
    script = f"{statements}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))
