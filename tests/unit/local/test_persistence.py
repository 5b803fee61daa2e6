"""The local AWS state survives a clean stop (snapshot) and a crash (journal replay)."""

from __future__ import annotations

import boto3
import pytest
from lagoon.local.moto_aws import MotoServer, patch_kinesis_shards
from lagoon.local.persistence import Persistence, dump_state, is_mutation, load_state
from lagoon.local.template import Template, create_aws_resources
from moto.core.base_backend import BackendDict
from moto.dynamodb.models.table import Table

TEMPLATE = Template(
    {
        "Resources": {
            "Table": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                },
            },
            "Stream": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}},
            "Queue": {"Type": "AWS::SQS::Queue"},
            "Bucket": {"Type": "AWS::S3::Bucket"},
        }
    }
)


class LocalAws:
    """A moto server with persistence in `directory` (one 'run' of the local stack)."""

    def __init__(self, directory):
        self.persistence = Persistence(directory)
        self.server = MotoServer(wrap=self.persistence.wrap)
        self.restored = self.persistence.restore(self.server.app)
        self.server.start()
        session = boto3.Session(region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
        endpoint = self.server.endpoint

        class Endpointed:
            def client(self, service):
                return session.client(service, endpoint_url=endpoint)

        self.session = Endpointed()

    def client(self, service):
        return self.session.client(service)

    def stop(self, snapshot=True):
        self.persistence.stop(snapshot=snapshot)
        self.server.stop()


@pytest.fixture(autouse=True)
def fresh_moto():
    patch_kinesis_shards()
    BackendDict.reset()
    yield
    BackendDict.reset()


def write_some_state(aws):
    create_aws_resources(TEMPLATE, aws.session)
    aws.client("dynamodb").put_item(TableName="lagoon-local-table", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    aws.client("dynamodb").update_item(
        TableName="lagoon-local-table",
        Key={"pk": {"S": "a"}},
        UpdateExpression="ADD n :one",
        ExpressionAttributeValues={":one": {"N": "41"}},
    )
    aws.client("kinesis").put_records(
        StreamName="lagoon-local-stream",
        Records=[{"Data": f"r{n}".encode(), "PartitionKey": "p"} for n in range(5)],
    )
    aws.client("s3").put_object(Bucket="lagoon-local-bucket", Key="doc.pdf", Body=b"%PDF-1.7")


def assert_state_is_back(aws):
    item = aws.client("dynamodb").get_item(TableName="lagoon-local-table", Key={"pk": {"S": "a"}})["Item"]
    assert item["n"] == {"N": "42"}
    kinesis = aws.client("kinesis")
    iterator = kinesis.get_shard_iterator(
        StreamName="lagoon-local-stream", ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = kinesis.get_records(ShardIterator=iterator)["Records"]
    assert [r["Data"] for r in records] == [f"r{n}".encode() for n in range(5)]
    assert [r["SequenceNumber"] for r in records] == ["1", "2", "3", "4", "5"]
    assert (
        aws.client("s3").get_object(Bucket="lagoon-local-bucket", Key="doc.pdf")["Body"].read() == b"%PDF-1.7"
    )
    return records


def test_a_clean_stop_snapshots_and_a_restart_restores(tmp_path):
    first = LocalAws(tmp_path)
    write_some_state(first)
    first.stop(snapshot=True)
    BackendDict.reset()
    second = LocalAws(tmp_path)
    try:
        assert second.restored.snapshot_loaded and second.restored.replayed == 0
        assert_state_is_back(second)
        # Resources already there are kept (create_aws_resources is idempotent)
        create_aws_resources(TEMPLATE, second.session)
    finally:
        second.stop()


def test_a_state_saved_in_memory_is_put_back_as_often_as_asked(tmp_path):
    # Given a state saved in memory (the API fuzz seeds an organization once and starts each case from it)
    aws = LocalAws(tmp_path)
    try:
        write_some_state(aws)
        saved = dump_state()
        for _ in range(2):
            # When it is changed, then put back
            aws.client("dynamodb").delete_item(TableName="lagoon-local-table", Key={"pk": {"S": "a"}})
            aws.client("kinesis").put_records(
                StreamName="lagoon-local-stream", Records=[{"Data": b"later", "PartitionKey": "p"}]
            )
            load_state(saved)
            # Then it is as it was saved, each time, and the state it replaced is not kept alive
            assert_state_is_back(aws)
            assert len(Table.instances_tracked) == 1
    finally:
        aws.stop(snapshot=False)


def test_a_crash_replays_the_journal_with_the_original_arrival_times(tmp_path):
    first = LocalAws(tmp_path)
    write_some_state(first)
    before = assert_state_is_back(first)
    first.stop(snapshot=False)  # no snapshot: as after kill -9
    BackendDict.reset()
    second = LocalAws(tmp_path)
    try:
        assert not second.restored.snapshot_loaded and second.restored.replayed > 0
        after = assert_state_is_back(second)
        assert [r["ApproximateArrivalTimestamp"] for r in after] == [
            r["ApproximateArrivalTimestamp"] for r in before
        ]
    finally:
        second.stop()


def test_snapshot_then_more_writes_then_crash(tmp_path):
    first = LocalAws(tmp_path)
    create_aws_resources(TEMPLATE, first.session)
    first.persistence.snapshot(background=True)  # the periodic (forked) snapshot
    first.client("dynamodb").put_item(TableName="lagoon-local-table", Item={"pk": {"S": "late"}})
    first.stop(snapshot=False)
    BackendDict.reset()
    second = LocalAws(tmp_path)
    try:
        assert second.restored.snapshot_loaded and second.restored.replayed == 1
        assert "Item" in second.client("dynamodb").get_item(
            TableName="lagoon-local-table", Key={"pk": {"S": "late"}}
        )
    finally:
        second.stop()


def test_a_torn_journal_tail_is_dropped(tmp_path):
    first = LocalAws(tmp_path)
    create_aws_resources(TEMPLATE, first.session)
    first.client("dynamodb").put_item(TableName="lagoon-local-table", Item={"pk": {"S": "kept"}})
    first.stop(snapshot=False)
    (journal,) = tmp_path.glob("journal-*.log")
    with journal.open("ab") as file:
        file.write(b"\x00\x00\x10\x00half an entry")  # a crash in the middle of a write
    BackendDict.reset()
    second = LocalAws(tmp_path)
    try:
        assert "Item" in second.client("dynamodb").get_item(
            TableName="lagoon-local-table", Key={"pk": {"S": "kept"}}
        )
    finally:
        second.stop()


@pytest.mark.parametrize(
    ("environ", "body", "mutation"),
    [
        ({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.GetItem", "REQUEST_METHOD": "POST"}, b"{}", False),
        ({"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.Query", "REQUEST_METHOD": "POST"}, b"{}", False),
        ({"HTTP_X_AMZ_TARGET": "Kinesis_20131202.GetRecords", "REQUEST_METHOD": "POST"}, b"{}", False),
        (
            {"HTTP_X_AMZ_TARGET": "DynamoDB_20120810.TransactWriteItems", "REQUEST_METHOD": "POST"},
            b"{}",
            True,
        ),
        ({"HTTP_X_AMZ_TARGET": "Kinesis_20131202.PutRecords", "REQUEST_METHOD": "POST"}, b"{}", True),
        ({"HTTP_X_AMZ_TARGET": "AmazonSQS.ReceiveMessage", "REQUEST_METHOD": "POST"}, b"{}", True),
        (
            {"CONTENT_TYPE": "application/x-www-form-urlencoded", "REQUEST_METHOD": "POST"},
            b"Action=ListQueues&Version=2012-11-05",
            False,
        ),
        ({"REQUEST_METHOD": "GET", "PATH_INFO": "/bucket/key"}, b"", False),
        ({"REQUEST_METHOD": "PUT", "PATH_INFO": "/bucket/key"}, b"data", True),
    ],
)
def test_only_requests_that_may_change_state_are_journaled(environ, body, mutation):
    assert is_mutation(environ, body) is mutation
