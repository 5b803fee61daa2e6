"""The benchmark's HTTP clients, in processes of their own: a producer is not part of the system it loads, and
clients sharing the stack's process would take its interpreter lock (the stack runs in the benchmark's process
so that `lagoon.data.capacity.metering()` sees every AWS call its functions make)."""

from __future__ import annotations

from typing import Any

import requests


def post_all(base_url: str, api_key: str, path: str, bodies: list[Any]) -> int:
    """POST each body over one keep-alive connection; every answer must be 200. Returns the count."""
    with requests.Session() as session:
        session.headers.update({"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"})
        for body in bodies:
            answer = session.post(f"{base_url}/api/v1{path}", json=body, timeout=120)
            assert answer.status_code == 200, (path, answer.status_code, answer.text)
    return len(bodies)
