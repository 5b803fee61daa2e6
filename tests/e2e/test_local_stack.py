"""The local stack itself: persistence across restarts and crashes, tick, drain, the admin CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO_ROOT

PROBE_TEMPLATE = Path(__file__).parent / "probe" / "template.yaml"


def test_a_restart_keeps_the_data(local_stack_factory):
    stack = local_stack_factory()
    created = stack.session.post(
        stack.url("/api/v1/customers"), json={"customer": {"external_id": "kept", "name": "Kept"}}
    )
    assert created.status_code == 200
    # When the stack is stopped with Ctrl-C and started again
    assert stack.stop() == 0
    stack.start()
    # Then the customer and the bootstrapped key are still there
    got = stack.session.get(stack.url("/api/v1/customers/kept"))
    assert got.status_code == 200
    assert got.json()["customer"]["lago_id"] == created.json()["customer"]["lago_id"]


def test_a_crash_loses_no_answered_write(local_stack_factory):
    stack = local_stack_factory()
    for n in range(20):
        answer = stack.session.post(
            stack.url("/api/v1/customers"), json={"customer": {"external_id": f"c{n}"}}
        )
        assert answer.status_code == 200
    # When the process is killed (kill -9) right after answering
    stack.kill()
    stack.start()
    # Then every answered write is there
    listed = stack.session.get(stack.url("/api/v1/customers"), params={"per_page": 100}).json()
    assert {c["external_id"] for c in listed["customers"]} >= {f"c{n}" for n in range(20)}


@pytest.fixture(scope="module")
def probe_stack(local_stack_factory):
    return local_stack_factory(template=PROBE_TEMPLATE)


def _probe_items(stack, prefix):
    table = stack.aws("dynamodb")
    items, start = [], None
    while True:
        page = table.scan(
            TableName="lagoon-local-probetable", **({"ExclusiveStartKey": start} if start else {})
        )
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return sorted((i for i in items if i["pk"]["S"].startswith(prefix)), key=lambda i: i["pk"]["S"])


def test_drain_answers_once_every_record_is_processed(probe_stack):
    kinesis = probe_stack.aws("kinesis")
    # Given 25 records, one of which fails the first time it is delivered
    records = [{"Data": f"event-{n}".encode(), "PartitionKey": "p"} for n in range(25)]
    records[12] = {"Data": b"fail-once-12", "PartitionKey": "p"}
    kinesis.put_records(StreamName="lagoon-local-probestream", Records=records)
    # When the stream is drained
    answer = probe_stack.drain()
    # Then every record was processed, in order, with Lambda's Kinesis shape, in batches of at most 10
    assert answer["drained"] is True
    processed = _probe_items(probe_stack, "record#")
    assert [i["data"]["S"] for i in processed] == [r["Data"].decode() for r in records]
    event = json.loads(processed[0]["event"]["S"])
    assert event["eventSource"] == "aws:kinesis"
    assert event["eventID"].startswith("shardId-000000000000:")
    assert event["eventSourceARN"].endswith(":stream/lagoon-local-probestream")
    assert isinstance(event["kinesis"]["approximateArrivalTimestamp"], float)
    sizes = [int(i["size"]["N"]) for i in _probe_items(probe_stack, "batch#")]
    assert min(sizes) > 0
    assert max(sizes) <= 10
    assert len(_probe_items(probe_stack, "failed#")) == 1


def test_tick_fires_every_scheduled_function_with_that_time(probe_stack):
    answer = probe_stack.tick("2026-12-01T02:00:00Z")
    assert answer["failed"] == 0
    assert [i["function"] for i in answer["invocations"]] == ["ProbeScheduledFunction"]
    (item,) = _probe_items(probe_stack, "tick#2026-12-01T02:00:00Z")
    event = json.loads(item["event"]["S"])
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"][0].startswith("arn:aws:events:us-east-1:")
    assert event["detail"] == {}


def test_tick_with_a_bad_time_is_a_400(probe_stack):
    answer = probe_stack.session.post(probe_stack.url("/_local/tick"), json={"time": "yesterday"})
    assert answer.status_code == 400
    assert answer.json()["status"] == 400


def test_make_tick_and_drain_command_line(probe_stack):
    def control(*args):
        return subprocess.run(
            [sys.executable, "-m", "lagoon.local.control", *args, "--port", str(probe_stack.port)],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=60,
        )

    ticked = control("tick", "--time", "2027-01-01T02:00:00Z")
    assert ticked.returncode == 0, ticked.stderr
    assert json.loads(ticked.stdout)["invocations"][0]["time"] == "2027-01-01T02:00:00Z"
    drained = control("drain")
    assert drained.returncode == 0, drained.stderr
    assert json.loads(drained.stdout)["drained"] is True


def test_admin_cli_manages_organizations_and_keys(local_stack):
    def admin(*args):
        done = subprocess.run(
            [sys.executable, "-m", "lagoon.admin", "--data-dir", str(local_stack.data_dir), *args],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    created = admin("create-org", "Admin E2E")
    assert created["name"] == "Admin E2E" and created["api_key"]
    assert "Admin E2E" in [o["name"] for o in admin("list-orgs")]
    assert len(admin("hmac-key", created["lago_id"])["hmac_key"]) == 64
    # A chosen key may start with "-" (written --api-key=KEY); shorter than 32 characters it is refused
    dashed = "-admin-e2e-second-key-of-36-chars-"
    client_key = admin("add-key", created["lago_id"], f"--api-key={dashed}")["api_key"]
    assert client_key == dashed
    assert local_stack.lago_client(client_key).customers.find_all()["customers"] == []
    short = ["add-key", created["lago_id"], "--api-key=admin-e2e-short-key"]
    refused = subprocess.run(
        [sys.executable, "-m", "lagoon.admin", "--data-dir", str(local_stack.data_dir), *short],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
    )
    assert (refused.returncode, refused.stderr) == (
        1,
        "lagoon.admin: invalid: an API key has at least 32 characters (19 given)\n",
    )
    # revoke-key takes any key as written, even one that looks like an option
    never_used = "-admin-e2e-third-key-never-used-yet"
    admin("add-key", created["lago_id"], f"--api-key={never_used}")
    for revoked_key in (created["api_key"], never_used):
        assert admin("revoke-key", revoked_key) == {"revoked": True}
        revoked = local_stack.session.get(
            local_stack.url("/api/v1/customers"), headers={"Authorization": f"Bearer {revoked_key}"}
        )
        # API Gateway caches the authorizer's answer per key (300 s): a never-used key is refused at once.
        assert revoked.status_code == 401


def test_deferred_and_unknown_api_paths_over_http(local_stack, http):
    # A deferred path (no route of its own: the greedy /api/v1/{proxy+} takes it) answers 405 not_implemented
    wallets = http.get(local_stack.url("/api/v1/customers/e2e_nobody/wallets"))
    assert wallets.status_code == 405
    assert wallets.json()["error_details"] == {
        "message": "wallets is not implemented in this version of Lagoon"
    }
    # An unknown /api/v1 path answers byte for byte the gateway's 404 for a path off the API
    unknown = http.get(local_stack.url("/api/v1/customers/e2e_nobody/nope"))
    off_api = http.get(local_stack.url("/nowhere"))
    assert (unknown.status_code, unknown.content) == (404, off_api.content)
    assert unknown.json() == {"status": 404, "error": "Not Found", "code": "route_not_found"}
    # Another method on a real route is still that function's 405
    patched = http.patch(local_stack.url("/api/v1/customers"), json={})
    assert (patched.status_code, patched.json()["code"]) == (405, "not_allowed")
