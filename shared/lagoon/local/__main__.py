"""`python -m lagoon.local` (`make run`): the whole system at http://127.0.0.1:${PORT:-3000}. Ctrl-C stops."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from types import FrameType

from lagoon.local.stack import DataDirInUse, LocalStack, StackConfig
from lagoon.local.template import REPO_ROOT


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("lagoon-local").setLevel(logging.INFO)
    # Handlers are imported by their dotted path from the repository root (functions.<group>.app).
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    try:
        config = StackConfig.from_environment()
    except ValueError as exc:
        print(f"lagoon.local: {exc}", file=sys.stderr)
        return 2
    print(
        f"Starting Lagoon's local stack ({config.template_path.name}, data in {config.data_dir})", flush=True
    )
    stack = LocalStack(config)
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():  # a second Ctrl-C: leave now (the journal already holds every answered write)
            os._exit(130)
        stopping.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    try:
        stack.start()
    except (DataDirInUse, OSError) as exc:
        print(f"\nlagoon.local: {exc}", file=sys.stderr)
        stack.stop()
        return 1
    print(stack.banner(), flush=True)
    while not stopping.wait(0.5):
        pass
    print("\nStopping… (saving the local AWS state)", flush=True)
    stack.stop()
    print("Stopped.", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
