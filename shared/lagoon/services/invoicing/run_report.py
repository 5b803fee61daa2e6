"""What a billing run did: the hourly run's answer (functions/billing), filled by each of its steps."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RunReport:
    invoices: list[str] = field(default_factory=list)
    finalized: list[str] = field(default_factory=list)
    refreshed: list[str] = field(default_factory=list)
    overdue: list[str] = field(default_factory=list)
    skipped: int = 0
    failures: int = 0
