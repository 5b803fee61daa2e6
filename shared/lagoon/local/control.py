"""`python -m lagoon.local.control tick|drain --port N [--time ISO]` — drive a running local stack
(`make tick TIME=...`, `make drain`). Exit status 0 on success, 1 when a function failed or drain timed out."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any


def call(
    port: int, route: str, payload: dict[str, Any], timeout: float, host: str = "127.0.0.1"
) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://{host}:{port}/_local/{route}",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lagoon.local.control", description=__doc__)
    parser.add_argument("command", choices=["tick", "drain"])
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--time", help="ISO 8601 time given to the scheduled functions (tick; default: now)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds drain waits at most")
    args = parser.parse_args(argv)
    payload: dict[str, Any] = {}
    if args.command == "tick" and args.time:
        payload["time"] = args.time
    if args.command == "drain":
        payload["timeout"] = args.timeout
    try:
        status, body = call(args.port, args.command, payload, args.timeout + 30, args.host)
    except (urllib.error.URLError, ConnectionError) as exc:
        print(
            f"no local stack answers on port {args.port} ({exc}); start it with `make run`", file=sys.stderr
        )
        return 2
    print(json.dumps(body, indent=2))
    return 0 if status == 200 else 1


if __name__ == "__main__":
    sys.exit(main())
