"""Schedule expressions (rate, cron, at) and the scheduled events the local scheduler sends."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lagoon.local.scheduler import Scheduler, parse_expression, parse_time, scheduled_event
from lagoon.local.template import Template


def at(text: str) -> datetime:
    return parse_time(text)


def next_times(expression: str, after: str, count: int = 3, timezone: str = "UTC") -> list[str]:
    parsed, moment, anchor, found = parse_expression(expression, timezone), at(after), at(after), []
    for _ in range(count):
        moment = parsed.next_after(moment, anchor)
        found.append(moment.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return found


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        (
            "rate(1 minute)",
            "2026-01-01T00:00:00Z",
            ["2026-01-01T00:01:00Z", "2026-01-01T00:02:00Z", "2026-01-01T00:03:00Z"],
        ),
        (
            "rate(2 hours)",
            "2026-01-01T00:00:00Z",
            ["2026-01-01T02:00:00Z", "2026-01-01T04:00:00Z", "2026-01-01T06:00:00Z"],
        ),
        (
            "cron(0 2 * * ? *)",
            "2026-01-01T03:00:00Z",
            ["2026-01-02T02:00:00Z", "2026-01-03T02:00:00Z", "2026-01-04T02:00:00Z"],
        ),
        (
            "cron(0/15 * * * ? *)",
            "2026-01-01T00:07:00Z",
            ["2026-01-01T00:15:00Z", "2026-01-01T00:30:00Z", "2026-01-01T00:45:00Z"],
        ),
        (
            "cron(0 0 1 * ? *)",
            "2026-01-15T00:00:00Z",
            ["2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z"],
        ),
        (
            "cron(0 0 L * ? *)",
            "2026-01-31T00:00:00Z",
            ["2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z"],
        ),
        (
            "cron(0 9 ? * MON-FRI *)",
            "2026-01-02T10:00:00Z",
            ["2026-01-05T09:00:00Z", "2026-01-06T09:00:00Z", "2026-01-07T09:00:00Z"],
        ),
        (
            "cron(0 12 ? * 6L *)",
            "2026-01-01T00:00:00Z",
            ["2026-01-30T12:00:00Z", "2026-02-27T12:00:00Z", "2026-03-27T12:00:00Z"],
        ),
        (
            "cron(0 12 ? * 2#1 *)",
            "2026-01-01T00:00:00Z",
            ["2026-01-05T12:00:00Z", "2026-02-02T12:00:00Z", "2026-03-02T12:00:00Z"],
        ),
        (
            "cron(0 0 15W * ? *)",
            "2026-08-01T00:00:00Z",
            ["2026-08-14T00:00:00Z", "2026-09-15T00:00:00Z", "2026-10-15T00:00:00Z"],
        ),
        (
            "cron(30 1 1 JAN ? 2027-2028)",
            "2026-06-01T00:00:00Z",
            ["2027-01-01T01:30:00Z", "2028-01-01T01:30:00Z"],
        ),
    ],
)
def test_next_firings(expression, after, expected):
    assert next_times(expression, after, len(expected)) == expected


def test_cron_in_a_schedule_timezone():
    # 02:00 in Paris is 01:00 UTC in winter
    assert next_times("cron(0 2 * * ? *)", "2026-01-01T03:00:00Z", 1, "Europe/Paris") == [
        "2026-01-02T01:00:00Z"
    ]


def test_a_cron_whose_years_are_over_never_fires_again():
    parsed = parse_expression("cron(0 0 1 1 ? 2020)")
    assert parsed.next_after(at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:00Z")) is None


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",
        "rate(5 minute)",
        "rate(0 minutes)",
        "cron(0 2 * * * *)",
        "cron(0 2 ? * ? *)",
        "cron(61 * * * ? *)",
        "cron(0 2 * *)",
        "every day",
        "cron(0 12 ? * 2#6 *)",
    ],
)
def test_invalid_expressions_are_refused_as_aws_refuses_them(expression):
    with pytest.raises(ValueError):
        parse_expression(expression)


def test_at_fires_once():
    parsed = parse_expression("at(2026-03-01T10:00:00)")
    assert parsed.next_after(at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:00Z")) == at(
        "2026-03-01T10:00:00Z"
    )
    assert parsed.next_after(at("2026-03-01T10:00:00Z"), at("2026-01-01T00:00:00Z")) is None


TEMPLATE = {
    "Resources": {
        "NightlyFunction": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "CodeUri": "functions/nightly/",
                "Handler": "app.lambda_handler",
                "Events": {"Nightly": {"Type": "Schedule", "Properties": {"Schedule": "cron(0 2 * * ? *)"}}},
            },
        },
        "DispatcherFunction": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "CodeUri": "functions/dispatcher/",
                "Handler": "app.lambda_handler",
                "Events": {
                    "EveryMinute": {
                        "Type": "ScheduleV2",
                        "Properties": {
                            "ScheduleExpression": "rate(1 minute)",
                            "Input": '{"time": "<aws.scheduler.scheduled-time>", "detail-type": "Scheduled Event"}',
                        },
                    }
                },
            },
        },
        "OffFunction": {
            "Type": "AWS::Serverless::Function",
            "Properties": {
                "CodeUri": "functions/off/",
                "Handler": "app.lambda_handler",
                "Events": {
                    "Off": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 day)", "Enabled": False}}
                },
            },
        },
    }
}


def test_scheduled_event_is_eventbridges_with_the_time_given():
    template = Template(TEMPLATE)
    (nightly, *_) = template.schedules()
    event = scheduled_event(template, nightly, at("2026-12-01T02:00:00.123Z"))
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["time"] == "2026-12-01T02:00:00Z"
    assert event["resources"] == [
        "arn:aws:events:us-east-1:123456789012:rule/lagoon-local-nightlyfunctionnightly"
    ]
    assert event["detail"] == {} and event["version"] == "0" and event["account"] == "123456789012"


def test_scheduler_input_gets_its_context_attributes_filled():
    template = Template(TEMPLATE)
    dispatcher = next(s for s in template.schedules() if s.function == "DispatcherFunction")
    event = scheduled_event(template, dispatcher, at("2026-12-01T00:05:00Z"))
    assert event == {"time": "2026-12-01T00:05:00Z", "detail-type": "Scheduled Event"}


def test_tick_fires_each_enabled_schedule_once_and_reports_failures():
    calls = []

    def invoke(function, event):
        calls.append((function, event["time"]))
        if function == "DispatcherFunction":
            raise RuntimeError("boom")

    scheduler = Scheduler(Template(TEMPLATE), invoke, automatic=False)
    invocations = scheduler.tick(datetime(2026, 12, 1, tzinfo=UTC))
    assert calls == [
        ("NightlyFunction", "2026-12-01T00:00:00Z"),
        ("DispatcherFunction", "2026-12-01T00:00:00Z"),
    ]
    assert [i.error for i in invocations] == [None, "RuntimeError: boom"]


def test_parse_time_accepts_z_offsets_and_naive_utc():
    assert (
        parse_time("2026-12-01T00:00:00Z")
        == parse_time("2026-12-01T01:00:00+01:00")
        == parse_time("2026-12-01T00:00:00")
    )
