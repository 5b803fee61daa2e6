"""The local Kinesis poller delivers records as Lambda's event source mapping does (moto in-process)."""

from __future__ import annotations

import base64
import json

import boto3
import pytest
from lagoon.local.moto_aws import patch_kinesis_shards
from lagoon.local.poller import Checkpoints, KinesisPoller, lowest_failure
from lagoon.local.template import Template, create_aws_resources
from moto import mock_aws


def template(**event_properties) -> Template:
    properties = {"Stream": {"Fn::GetAtt": ["EventsStream", "Arn"]}, "StartingPosition": "TRIM_HORIZON"}
    properties.update(event_properties)
    return Template(
        {
            "Resources": {
                "AggregatorFunction": {
                    "Type": "AWS::Serverless::Function",
                    "Properties": {
                        "CodeUri": "functions/aggregator/",
                        "Handler": "app.lambda_handler",
                        "Events": {"Stream": {"Type": "Kinesis", "Properties": properties}},
                    },
                },
                "EventsStream": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}},
                "FailureQueue": {"Type": "AWS::SQS::Queue"},
            }
        }
    )


class Recorder:
    """A fake handler: records batches; `fail` decides each batch's outcome."""

    def __init__(self, fail=None):
        self.batches: list[list[str]] = []
        self.fail = fail or (lambda sequence_numbers, data: None)

    def __call__(self, function, event):
        sequence_numbers = [r["kinesis"]["sequenceNumber"] for r in event["Records"]]
        data = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
        self.batches.append(data)
        return self.fail(sequence_numbers, data)


@pytest.fixture
def aws():
    patch_kinesis_shards()
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


def setup(session, tpl, records, invoke):
    create_aws_resources(tpl, session)
    kinesis = session.client("kinesis")
    if records:
        kinesis.put_records(
            StreamName="lagoon-local-eventsstream",
            Records=[{"Data": data.encode(), "PartitionKey": "p"} for data in records],
        )
    poller = KinesisPoller(tpl, invoke, kinesis, session.client("sqs"), Checkpoints(None))
    (shard,) = poller.pollers
    return poller, shard


def run_until_idle(shard, limit=100):
    outcomes = []
    for _ in range(limit):
        outcome = shard.poll_once()
        if outcome == "idle":
            return outcomes
        outcomes.append(outcome)
    raise AssertionError(f"still busy after {limit} polls: {outcomes}")


def test_batches_respect_batch_size_and_are_lambda_shaped(aws):
    seen = []
    _, shard = setup(aws, template(BatchSize=4), [f"e{n}" for n in range(10)], lambda f, e: seen.append(e))
    assert run_until_idle(shard) == ["done", "done", "done"]
    assert [len(e["Records"]) for e in seen] == [4, 4, 2]
    record = seen[0]["Records"][0]
    assert record["eventSource"] == "aws:kinesis"
    assert record["eventName"] == "aws:kinesis:record"
    assert record["eventID"] == "shardId-000000000000:1"
    assert (
        record["eventSourceARN"] == "arn:aws:kinesis:us-east-1:123456789012:stream/lagoon-local-eventsstream"
    )
    assert record["kinesis"]["sequenceNumber"] == "1"
    assert base64.b64decode(record["kinesis"]["data"]) == b"e0"
    assert isinstance(record["kinesis"]["approximateArrivalTimestamp"], float)
    assert shard.state.committed == 10


def test_an_empty_stream_is_never_delivered(aws):
    recorder = Recorder()
    _, shard = setup(aws, template(), [], recorder)
    assert run_until_idle(shard) == []
    assert recorder.batches == []


def test_partial_failure_commits_before_and_retries_from_the_lowest_failed_sequence_number(aws):
    failed_once: set[str] = set()

    def fail(sequence_numbers, data):
        failures = [
            s
            for s, d in zip(sequence_numbers, data, strict=True)
            if d in ("e5", "e3") and s not in failed_once
        ]
        failed_once.update(failures)
        return {"batchItemFailures": [{"itemIdentifier": s} for s in reversed(failures)]}

    recorder = Recorder(fail)
    _, shard = setup(
        aws,
        template(BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"]),
        [f"e{n}" for n in range(8)],
        recorder,
    )
    run_until_idle(shard)
    # e3 (sequence 4) is the lowest failure: e0..e2 are committed, delivery resumes at e3
    assert recorder.batches == [[f"e{n}" for n in range(8)], [f"e{n}" for n in range(3, 8)]]
    assert shard.state.committed == 8


def test_without_report_batch_item_failures_the_response_is_ignored(aws):
    recorder = Recorder(lambda s, d: {"batchItemFailures": [{"itemIdentifier": s[0]}]})
    _, shard = setup(aws, template(), ["a", "b"], recorder)
    run_until_idle(shard)
    assert recorder.batches == [["a", "b"]]


def test_an_exception_retries_the_whole_batch(aws):
    attempts = []

    def fail(sequence_numbers, data):
        attempts.append(data)
        if len(attempts) < 3:
            raise RuntimeError("transient")

    _, shard = setup(aws, template(BatchSize=5), ["a", "b", "c"], Recorder(fail))
    assert run_until_idle(shard) == ["failed", "failed", "done"]
    assert attempts == [["a", "b", "c"]] * 3


def test_bisect_then_give_up_after_maximum_retries_and_report_to_the_failure_queue(aws):
    def fail(sequence_numbers, data):
        if "poison" in data:
            raise RuntimeError("poison")

    recorder = Recorder(fail)
    tpl = template(
        BatchSize=4,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=1,
        DestinationConfig={
            "OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["FailureQueue", "Arn"]}}
        },
    )
    _, shard = setup(aws, tpl, ["a", "poison", "c", "d", "e"], recorder)
    run_until_idle(shard)
    # [a poison c d] fails → halves [a poison] → [a] ok → [poison c] → [poison] fails, retried once, skipped
    assert recorder.batches == [
        ["a", "poison", "c", "d"],
        ["a", "poison"],
        ["a"],
        ["poison", "c", "d", "e"],
        ["poison", "c"],
        ["poison"],
        ["poison"],
        ["c", "d", "e"],
    ]
    assert shard.state.committed == 5
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName="lagoon-local-failurequeue")["QueueUrl"]
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    info = json.loads(message["Body"])["KinesisBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == ("2", "2", 1)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (None, None),
        ({}, None),
        ({"batchItemFailures": []}, None),
        ({"batchItemFailures": [{"itemIdentifier": "12"}, {"itemIdentifier": "11"}]}, 1),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, 0),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, 0),
        ({"batchItemFailures": [{"itemIdentifier": "99"}]}, 0),
        ({"batchItemFailures": [{"id": "11"}]}, 0),
    ],
)
def test_partial_batch_response_rules(response, expected):
    batch = [{"SequenceNumber": "10"}, {"SequenceNumber": "11"}, {"SequenceNumber": "12"}]
    assert lowest_failure(response, batch) == expected


def test_sequence_numbers_compare_as_integers(aws):
    # "10" < "9" as strings: the commit must still move forward
    _, shard = setup(aws, template(BatchSize=9), [f"e{n}" for n in range(12)], lambda f, e: None)
    run_until_idle(shard)
    assert shard.state.committed == 12


def test_checkpoints_resume_after_a_restart(aws, tmp_path):
    tpl = template(BatchSize=3)
    recorder = Recorder()
    _, shard = setup(aws, tpl, ["a", "b", "c", "d"], recorder)
    shard.poll_once()
    shard.checkpoints.flush()
    checkpoints = Checkpoints(tmp_path / "checkpoints.json")
    checkpoints.set(shard.key, str(shard.state.committed))
    checkpoints.flush()
    again = KinesisPoller(
        tpl, recorder, aws.client("kinesis"), None, Checkpoints(tmp_path / "checkpoints.json")
    )
    run_until_idle(again.pollers[0])
    assert recorder.batches == [["a", "b", "c"], ["d"]]


def test_drain_waits_for_every_record(aws):
    poller, _ = setup(aws, template(BatchSize=2), [f"e{n}" for n in range(7)], lambda f, e: None)
    poller.start()
    try:
        done, shards = poller.drain(timeout=10)
    finally:
        poller.stop()
    assert done
    assert shards[0]["committed"] == "7"


def test_drain_times_out_on_a_record_that_always_fails(aws):
    def fail(function, event):
        raise RuntimeError("always")

    poller, _ = setup(aws, template(), ["x"], fail)
    poller.start()
    try:
        done, shards = poller.drain(timeout=0.5)
    finally:
        poller.stop()
    assert not done
    assert shards[0]["retrying_from"] == "1"
