"""Cross-service hooks, registered in one place so no function can forget one.

Services that react to another service's events (a deleted customer ends its subscriptions and coupons, a
terminated subscription is billed, customer tax codes are checked against taxes) append to hook lists at
import. Every resolver and scheduled handler calls `register_hooks()`, so the same rules apply whichever
Lambda performs the change.
"""

from __future__ import annotations

import importlib

HOOK_MODULES = (
    "lagoon.services.taxes",
    "lagoon.services.coupons",
    "lagoon.services.subscriptions",
    "lagoon.services.billing",
    "lagoon.services.invoice_documents",
)


def register_hooks() -> None:
    """Import every module that registers hooks (idempotent: each registers once, at its first import)."""
    for module in HOOK_MODULES:
        importlib.import_module(module)
