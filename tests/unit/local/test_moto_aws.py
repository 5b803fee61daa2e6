"""moto patched for the local stack (lagoon.local.moto_aws) answers as moto does. What the patches are for, a
request's cost independent of what else is stored, is measured by `python -m bench.moto_patches`."""

from __future__ import annotations

import boto3
import pytest
from lagoon.local.moto_aws import patch_dynamodb_queries, patch_dynamodb_transactions, patch_kinesis_shards
from moto import mock_aws


@pytest.fixture
def dynamodb():
    patch_dynamodb_queries()
    patch_dynamodb_transactions()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "by-g",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def put(client, pk, sk, **extra):
    item = {"pk": {"S": pk}, "sk": {"S": sk}, **{k: {"S": v} for k, v in extra.items()}}
    client.put_item(TableName="t", Item=item)


def test_base_table_queries_read_only_their_partition_with_moto_semantics(dynamodb):
    for n in (3, 1, 2):
        put(dynamodb, "org#customer", f"c{n}", g="x")
    put(dynamodb, "org#plan", "p1", g="x")
    answer = dynamodb.query(
        TableName="t",
        KeyConditionExpression="pk = :pk AND begins_with(sk, :c)",
        ExpressionAttributeValues={":pk": {"S": "org#customer"}, ":c": {"S": "c"}},
        ScanIndexForward=False,
        Limit=2,
    )
    assert [i["sk"]["S"] for i in answer["Items"]] == ["c3", "c2"]
    assert answer["LastEvaluatedKey"] == {"pk": {"S": "org#customer"}, "sk": {"S": "c2"}}
    missing = dynamodb.query(
        TableName="t", KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": "nobody"}}
    )
    assert missing["Items"] == []
    # Index queries still see the whole table
    by_index = dynamodb.query(
        TableName="t",
        IndexName="by-g",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "x"}},
    )
    assert len(by_index["Items"]) == 4


def _items(client):
    return sorted(
        (i["pk"]["S"], i["sk"]["S"], i.get("v", {}).get("S")) for i in client.scan(TableName="t")["Items"]
    )


def _put(pk, sk, v, **condition):
    return {"Put": {"TableName": "t", "Item": {"pk": {"S": pk}, "sk": {"S": sk}, "v": {"S": v}}, **condition}}


def test_a_transaction_applies_every_action_or_none_with_moto_answers(dynamodb):
    put(dynamodb, "a", "1", v="old")
    put(dynamodb, "a", "2", v="kept")
    # A failed condition cancels the whole transaction: the earlier put and delete are undone
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException) as failed:
        dynamodb.transact_write_items(
            TransactItems=[
                _put("a", "1", "new"),
                {"Delete": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"S": "2"}}}},
                _put("b", "1", "created"),
                _put("a", "3", "x", ConditionExpression="attribute_exists(pk)"),
            ]
        )
    reasons = [r["Code"] for r in failed.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    assert _items(dynamodb) == [("a", "1", "old"), ("a", "2", "kept")]
    # The same item twice is a validation error, and nothing is written
    with pytest.raises(dynamodb.exceptions.ClientError, match="ValidationException"):
        dynamodb.transact_write_items(TransactItems=[_put("c", "1", "x"), _put("c", "1", "y")])
    assert _items(dynamodb) == [("a", "1", "old"), ("a", "2", "kept")]
    # A transaction whose conditions hold applies everything
    dynamodb.transact_write_items(
        TransactItems=[
            _put(
                "a",
                "1",
                "new",
                ConditionExpression="v = :old",
                ExpressionAttributeValues={":old": {"S": "old"}},
            ),
            {"Delete": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"S": "2"}}}},
            {
                "Update": {
                    "TableName": "t",
                    "Key": {"pk": {"S": "b"}, "sk": {"S": "1"}},
                    "UpdateExpression": "SET v = :v",
                    "ExpressionAttributeValues": {":v": {"S": "updated"}},
                }
            },
        ]
    )
    assert _items(dynamodb) == [("a", "1", "new"), ("b", "1", "updated")]


def test_kinesis_reads_after_a_sequence_number_return_the_next_records():
    patch_kinesis_shards()
    with mock_aws():
        kinesis = boto3.client("kinesis", region_name="us-east-1")
        kinesis.create_stream(StreamName="s", ShardCount=1)
        for _ in range(2):
            kinesis.put_records(StreamName="s", Records=[{"Data": b"x", "PartitionKey": "p"}] * 500)
        iterator = kinesis.get_shard_iterator(
            StreamName="s",
            ShardId="shardId-000000000000",
            ShardIteratorType="AFTER_SEQUENCE_NUMBER",
            StartingSequenceNumber="998",
        )["ShardIterator"]
        records = kinesis.get_records(ShardIterator=iterator, Limit=10)["Records"]
        assert [r["SequenceNumber"] for r in records] == ["999", "1000"]


def test_attribute_values_parse_as_moto_parses_them():
    """Given a BatchWriteItem body with every kind of attribute value (nested, binary, nulls, unknown members),
    when moto's parser runs with and without the fast AttributeValue path, then both give the same parameters."""
    import base64
    import json

    from lagoon.local import moto_aws
    from moto.core.parse import BaseJSONParser, JSONParser
    from moto.core.responses import get_service_model

    blob = base64.b64encode(b"\x00\xffzlib").decode()
    item = {
        "pk": {"S": "ev#org#tx"},
        "n": {"N": "12.5"},
        "b": {"B": blob},
        "bs": {"BS": [blob, base64.b64encode(b"x").decode()]},
        "ss": {"SS": ["a", "b"]},
        "ns": {"NS": ["1", "2"]},
        "flag": {"BOOL": False},
        "none": {"NULL": True},
        "odd": {"S": "kept", "X": "dropped", "N": None},
        "m": {"M": {"inner": {"B": blob}, "l": {"L": [{"S": "x"}, {"M": {"deep": {"BS": [blob]}}}]}}},
    }
    body = json.dumps(
        {"RequestItems": {"t": [{"PutRequest": {"Item": item}}]}, "ReturnConsumedCapacity": "NONE"}
    )
    operation = get_service_model("dynamodb").operation_model("BatchWriteItem")

    def parse() -> dict:
        return JSONParser(operation).parse(
            {"method": "POST", "values": {}, "headers": {}, "body": body.encode()}
        )

    original = BaseJSONParser._parse_shape
    try:
        expected = parse()
        moto_aws.patch_dynamodb_request_parsing()
        assert BaseJSONParser._parse_shape is not original
        assert parse() == expected
    finally:
        BaseJSONParser._parse_shape = original  # type: ignore[method-assign]
    parsed_item = expected["RequestItems"]["t"][0]["PutRequest"]["Item"]
    assert parsed_item["m"]["M"]["inner"] == {"B": b"\x00\xffzlib"}
    assert parsed_item["odd"] == {"S": "kept"}


def test_the_dispatcher_answers_as_moto_and_looks_a_host_up_once(monkeypatch):
    from lagoon.local.moto_aws import CachedDispatcher
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    hosts = [
        "dynamodb.us-east-1.amazonaws.com",
        "kinesis.us-east-1.amazonaws.com",
        "s3",
        "127.0.0.1:4566",
        None,
    ]
    moto_answers = [DomainDispatcherApplication(create_backend_app).get_backend_for_host(h) for h in hosts]
    assert moto_answers[:3] == ["dynamodb", "kinesis", "s3"]

    listed = []
    original = backends.list_of_moto_modules
    monkeypatch.setattr(backends, "list_of_moto_modules", lambda: listed.append(1) or original())
    dispatcher = CachedDispatcher(create_backend_app)
    assert [dispatcher.get_backend_for_host(h) for h in hosts] == moto_answers
    lookups = len(listed)
    assert [dispatcher.get_backend_for_host(h) for h in hosts * 3] == moto_answers * 3
    assert len(listed) == lookups  # nothing listed again
