"""EventBridge schedules run locally: `rate(...)`, `cron(...)` and `at(...)` expressions, real scheduled events.

moto never fires rules or schedules, so the local stack does. Emulated:
- `rate(N minute|minutes|hour|hours|day|days)`: every N units from the moment the stack started (as AWS
  counts from the rule's creation).
- `cron(minutes hours day-of-month month day-of-week year)` with AWS's syntax: `, - * / ?`, month and day
  names, `L` (last day of month / last <weekday>), `W` (nearest weekday), `LW`, `#` (nth weekday), in UTC
  or the schedule's `ScheduleExpressionTimezone` (ScheduleV2).
- `at(yyyy-mm-ddThh:mm:ss)` one-time schedules (ScheduleV2).
- Each firing invokes the function with an EventBridge "Scheduled Event" whose `time` is the scheduled
  time (or an event's `Input`, as the target would receive it). Disabled schedules never fire. Missed
  firings while the stack was stopped are not caught up. Failures are logged (no async retries).
"""

from __future__ import annotations

import calendar
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from lagoon.local.template import LOCAL_ACCOUNT, Schedule, Template

log = logging.getLogger("lagoon-local.scheduler")

_MONTHS = {name: i for i, name in enumerate(calendar.month_abbr) if name}
_MONTHS = {k.upper(): v for k, v in _MONTHS.items()}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_UNITS = {"minute": 60, "hour": 3600, "day": 86400}
MAX_YEAR = 2199


class Expression(Protocol):
    def next_after(self, after: datetime, anchor: datetime) -> datetime | None:
        """The first firing strictly after `after` (UTC, aware); `anchor` is when the schedule started."""
        ...


@dataclass(frozen=True)
class Rate:
    seconds: int

    def next_after(self, after: datetime, anchor: datetime) -> datetime | None:
        periods = int((after - anchor).total_seconds() // self.seconds) + 1
        return anchor + timedelta(seconds=max(periods, 1) * self.seconds)


@dataclass(frozen=True)
class At:
    moment: datetime

    def next_after(self, after: datetime, anchor: datetime) -> datetime | None:
        return self.moment if self.moment > after else None


def _number(text: str, names: dict[str, int]) -> int:
    return names[text.upper()] if text.upper() in names else int(text)


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """A numeric cron field: `*`, `a`, `a-b`, with `/step`, comma-separated."""
    names = names or {}
    found: set[int] = set()
    for item in field.split(","):
        base, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if step < 1:
            raise ValueError(f"invalid step in {field!r}")
        if base == "*":
            start, stop = low, high
        elif "-" in base:
            first, last = base.split("-", 1)
            start, stop = _number(first, names), _number(last, names)
        else:
            start = _number(base, names)
            stop = high if step_text else start
        if not (low <= start <= high and low <= stop <= high) or start > stop:
            raise ValueError(f"{field!r} is out of range {low}-{high}")
        found.update(range(start, stop + 1, step))
    return frozenset(found)


def _weekday(aws_day: int) -> int:
    """AWS day of week (1 = Sunday … 7 = Saturday) → Python's (0 = Monday … 6 = Sunday)."""
    return (aws_day - 2) % 7


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int]
    day_of_month: str
    day_of_week: str
    timezone: str = "UTC"

    @classmethod
    def parse(cls, body: str, timezone: str = "UTC") -> Cron:
        fields = body.split()
        if len(fields) != 6:
            raise ValueError(
                f"cron({body}) needs 6 fields: minutes hours day-of-month month day-of-week year"
            )
        minutes, hours, dom, month, dow, year = fields
        if (dom == "?") == (dow == "?"):
            raise ValueError(f"cron({body}): exactly one of day-of-month and day-of-week must be '?'")
        cron = cls(
            minutes=_values(minutes, 0, 59),
            hours=_values(hours, 0, 23),
            months=_values(month, 1, 12, _MONTHS),
            years=_values(year, 1970, MAX_YEAR),
            day_of_month=dom.upper(),
            day_of_week=dow.upper(),
            timezone=timezone,
        )
        cron.matches_day(date(2024, 1, 1))  # validates the day fields
        return cron

    def matches_day(self, day: date) -> bool:
        if self.day_of_month != "?":
            return any(self._dom_item(item, day) for item in self.day_of_month.split(","))
        return any(self._dow_item(item, day) for item in self.day_of_week.split(","))

    @staticmethod
    def _dom_item(item: str, day: date) -> bool:
        last = calendar.monthrange(day.year, day.month)[1]
        if item == "L":
            return day.day == last
        if item == "LW":
            target = date(day.year, day.month, last)
            while target.weekday() >= 5:
                target -= timedelta(days=1)
            return day == target
        if item.endswith("W"):
            wanted = min(int(item[:-1]), last)
            target = date(day.year, day.month, wanted)
            if target.weekday() == 5:  # Saturday → Friday, unless that leaves the month
                target = target - timedelta(days=1) if wanted > 1 else target + timedelta(days=2)
            elif target.weekday() == 6:  # Sunday → Monday, unless that leaves the month
                target = target + timedelta(days=1) if wanted < last else target - timedelta(days=2)
            return day == target
        return day.day in _values(item, 1, 31)

    @staticmethod
    def _dow_item(item: str, day: date) -> bool:
        if item == "L":
            return day.weekday() == _weekday(7)
        if item.endswith("L"):
            weekday = _weekday(_number(item[:-1], _DAYS))
            return day.weekday() == weekday and day.day + 7 > calendar.monthrange(day.year, day.month)[1]
        if "#" in item:
            weekday_text, nth = item.split("#", 1)
            if not 1 <= int(nth) <= 5:
                raise ValueError(f"invalid nth weekday {item!r}")
            return day.weekday() == _weekday(_number(weekday_text, _DAYS)) and (day.day - 1) // 7 + 1 == int(
                nth
            )
        return day.weekday() in {_weekday(d) for d in _values(item, 1, 7, _DAYS)}

    def next_after(self, after: datetime, anchor: datetime) -> datetime | None:
        zone = ZoneInfo(self.timezone)
        start = (after.astimezone(zone) + timedelta(minutes=1)).replace(second=0, microsecond=0)
        day = start.date()
        hours, minutes = sorted(self.hours), sorted(self.minutes)
        while day.year <= MAX_YEAR:
            if day.year not in self.years:
                later = [y for y in self.years if y > day.year]
                if not later:
                    return None
                day = date(min(later), 1, 1)
                continue
            if day.month not in self.months:
                day = date(day.year + day.month // 12, day.month % 12 + 1, 1)
                continue
            if self.matches_day(day):
                for hour in hours:
                    for minute in minutes:
                        moment = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
                        if moment >= start:
                            return moment.astimezone(UTC)
            day += timedelta(days=1)
        return None


def parse_expression(expression: str, timezone: str = "UTC") -> Expression:
    """`rate(...)`, `cron(...)` or `at(...)`, validated as AWS validates them."""
    found = re.fullmatch(r"\s*(rate|cron|at)\((.*)\)\s*", expression)
    if not found:
        raise ValueError(f"unsupported schedule expression {expression!r}")
    kind, body = found.group(1), found.group(2).strip()
    if kind == "rate":
        rate = re.fullmatch(r"(\d+)\s+(minute|minutes|hour|hours|day|days)", body)
        if not rate:
            raise ValueError(f"invalid rate expression {expression!r}")
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1 or (value == 1) != (not unit.endswith("s")):
            raise ValueError(
                f"{expression!r}: AWS wants a positive value, singular unit for 1 and plural above"
            )
        return Rate(value * _UNITS[unit.rstrip("s")])
    if kind == "cron":
        return Cron.parse(body, timezone)
    moment = datetime.strptime(body, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=ZoneInfo(timezone))
    return At(moment.astimezone(UTC))


def event_time(moment: datetime) -> str:
    """EventBridge's `time`: UTC, whole seconds, `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """ISO 8601 (`Z` or offset; naive = UTC) → aware UTC datetime."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def schedule_arn(template: Template, schedule: Schedule) -> str:
    name = schedule.properties.get("Name") or template.physical_name(schedule.function + schedule.name)
    if schedule.kind == "ScheduleV2":
        group = schedule.properties.get("GroupName") or "default"
        return f"arn:aws:scheduler:{template.region}:{LOCAL_ACCOUNT}:schedule/{group}/{name}"
    return f"arn:aws:events:{template.region}:{LOCAL_ACCOUNT}:rule/{name}"


def scheduled_event(template: Template, schedule: Schedule, moment: datetime) -> dict[str, Any]:
    """What the function receives: the event's `Input` if set (with EventBridge Scheduler's context
    attributes such as `<aws.scheduler.scheduled-time>` filled in), else an EventBridge Scheduled Event."""
    if schedule.properties.get("Input"):
        text = str(template.resolve(schedule.properties["Input"]))
        for name, value in {
            "<aws.scheduler.scheduled-time>": event_time(moment),
            "<aws.scheduler.schedule-arn>": schedule_arn(template, schedule),
            "<aws.scheduler.execution-id>": str(uuid.uuid4()),
            "<aws.scheduler.attempt-number>": "1",
        }.items():
            text = text.replace(name, value)
        return json.loads(text)  # type: ignore[no-any-return]
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": LOCAL_ACCOUNT,
        "time": event_time(moment),
        "region": template.region,
        "resources": [schedule_arn(template, schedule)],
        "detail": {},
    }


def is_enabled(schedule: Schedule) -> bool:
    properties = schedule.properties
    disabled = properties.get("Enabled") is False or str(properties.get("State", "")).upper() == "DISABLED"
    return not disabled


@dataclass
class Invocation:
    function: str
    schedule: str
    time: str
    error: str | None = None
    seconds: float = 0.0  # how long the function ran

    def as_json(self) -> dict[str, Any]:
        return {
            "function": self.function,
            "schedule": self.schedule,
            "time": self.time,
            "error": self.error,
            "seconds": round(self.seconds, 3),
        }


Invoke = Callable[[str, dict[str, Any]], Any]


class Scheduler:
    """Fires the template's enabled schedules on the wall clock (when `automatic`) and on demand (`tick`)."""

    def __init__(
        self,
        template: Template,
        invoke: Invoke,
        automatic: bool = True,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.template = template
        self.invoke = invoke
        self.automatic = automatic
        self.now = now
        self.schedules = [s for s in template.schedules() if is_enabled(s)]
        # Parsed up front: an invalid expression stops the stack at start, as it would fail a deploy.
        self.expressions = {
            s: parse_expression(s.expression, s.properties.get("ScheduleExpressionTimezone") or "UTC")
            for s in self.schedules
        }
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def fire(self, schedule: Schedule, moment: datetime) -> Invocation:
        invocation = Invocation(schedule.function, schedule.name, event_time(moment))
        started = time.perf_counter()
        try:
            self.invoke(schedule.function, scheduled_event(self.template, schedule, moment))
        except Exception as exc:
            log.exception("scheduled function %s (%s) failed", schedule.function, schedule.name)
            invocation.error = f"{type(exc).__name__}: {exc}"
        invocation.seconds = time.perf_counter() - started
        return invocation

    def tick(self, moment: datetime) -> list[Invocation]:
        """Fire every enabled schedule once at `moment`, one after the other; returns when all are done."""
        return [self.fire(schedule, moment) for schedule in self.schedules]

    def start(self) -> None:
        if self.automatic and self.schedules:
            self._thread = threading.Thread(target=self._run, name="lagoon-scheduler", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        anchor = self.now()
        upcoming = {s: self.expressions[s].next_after(anchor, anchor) for s in self.schedules}
        while not self._stop.is_set():
            due = [moment for moment in upcoming.values() if moment is not None]
            if not due:
                return
            wait = (min(due) - self.now()).total_seconds()
            if wait > 0:
                self._stop.wait(min(wait, 1.0))
                continue
            for schedule, moment in list(upcoming.items()):
                if moment is not None and moment <= self.now():
                    threading.Thread(
                        target=self.fire,
                        args=(schedule, moment),
                        name=f"schedule-{schedule.name}",
                        daemon=True,
                    ).start()
                    upcoming[schedule] = self.expressions[schedule].next_after(moment, anchor)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
