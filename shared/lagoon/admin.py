"""`python -m lagoon.admin` — organizations and API keys, on the local stack or a deployed one.

    python -m lagoon.admin list-orgs
    python -m lagoon.admin create-org "Acme" [--api-key=KEY]
    python -m lagoon.admin add-key ORG_ID [--api-key=KEY]
    python -m lagoon.admin revoke-key API_KEY                (or --api-key=API_KEY)
    python -m lagoon.admin hmac-key ORG_ID
    python -m lagoon.admin webhook-private-networks ORG_ID on|off   may its webhooks reach private networks
    python -m lagoon.admin failed-webhooks ORG_ID           failed webhook messages, most recent first
    python -m lagoon.admin show-webhook ORG_ID MESSAGE_ID   a message, its deliveries and every attempt
    python -m lagoon.admin retry-webhook ORG_ID MESSAGE_ID  send a failed message again at the next run
    python -m lagoon.admin retry-webhooks ORG_ID            the same for all of the organization's failed ones

Target (first that applies):
    --stack-name NAME [--region R]  a deployed stack: its tables are read from CloudFormation (real AWS,
                                    your usual credentials)
    --endpoint URL                  an AWS endpoint (e.g. a moto server), tables named as the local stack
                                    names them (or ENTITIES_TABLE / OUTBOX_TABLE)
    (default)                       the running local stack, found through <data dir>/stack.json
                                    (LAGOON_DATA_DIR, default .lagoon/)
API keys are stored hashed: a key is shown once, when created. Output is JSON. A key given with --api-key
has at least 32 characters, printable ASCII without spaces (it travels in an `Authorization: Bearer` header);
generated keys are 43 letters and digits. Any key, even one starting with `-`, can be written --api-key=KEY.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import boto3

from lagoon import errors
from lagoon.config import reset_settings
from lagoon.data.connection import reset_clients
from lagoon.local.template import REPO_ROOT, Template
from lagoon.services import organizations
from lagoon.services.webhooks import webhook_messages

LOCAL_FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
MIN_API_KEY_LENGTH = 32
"""A key chosen by an operator is at least this long: a short one could be guessed (generated ones have 43)."""


class TargetError(RuntimeError):
    pass


class InvalidApiKey(ValueError):
    """An API key chosen with --api-key that cannot be used safely (exit 1, before any AWS call)."""


def checked_api_key(api_key: str | None) -> str | None:
    """The key chosen with --api-key (None: generate one), if it is long enough and can travel unchanged in an
    `Authorization: Bearer` header."""
    if api_key is None:
        return None
    if len(api_key) < MIN_API_KEY_LENGTH:
        raise InvalidApiKey(f"an API key has at least {MIN_API_KEY_LENGTH} characters ({len(api_key)} given)")
    if not all("!" <= ch <= "~" for ch in api_key):
        raise InvalidApiKey("an API key is printable ASCII without spaces (it is sent in an HTTP header)")
    return api_key


def local_stack_environment(data_dir: Path) -> dict[str, str]:
    """The running local stack's function environment (its moto endpoint and table names)."""
    path = data_dir / "stack.json"
    if not path.exists():
        raise TargetError(f"no local stack is running ({path} not found): start it with `make run`")
    document = json.loads(path.read_text())
    return {**document["environment"], **LOCAL_FAKE_CREDENTIALS}


def endpoint_environment(endpoint: str, region: str) -> dict[str, str]:
    """An explicit endpoint (moto): the local stack's physical table names unless set in the environment."""
    template = Template.load(region=region)
    environment = {
        "ENTITIES_TABLE": os.environ.get("ENTITIES_TABLE") or template.physical_name("EntitiesTable"),
        "OUTBOX_TABLE": os.environ.get("OUTBOX_TABLE") or template.physical_name("OutboxTable"),
        "LAGOON_AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": region,
    }
    for key, value in LOCAL_FAKE_CREDENTIALS.items():
        environment[key] = os.environ.get(key) or value
    return environment


def deployed_environment(stack_name: str, region: str | None) -> dict[str, str]:
    """A deployed stack (real AWS): its tables' physical names from CloudFormation."""

    cloudformation = boto3.client("cloudformation", region_name=region)
    environment = {"AWS_REGION": region or cloudformation.meta.region_name}
    for logical_id, variable in (("EntitiesTable", "ENTITIES_TABLE"), ("OutboxTable", "OUTBOX_TABLE")):
        resource = cloudformation.describe_stack_resource(StackName=stack_name, LogicalResourceId=logical_id)
        environment[variable] = resource["StackResourceDetail"]["PhysicalResourceId"]
    return environment


def use_environment(environment: dict[str, str], deployed: bool) -> None:
    if deployed:
        os.environ.pop("LAGOON_AWS_ENDPOINT_URL", None)
    os.environ.update(environment)
    os.environ.setdefault("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "us-east-1"))
    reset_settings()
    reset_clients()


def run(command: str, args: argparse.Namespace) -> Any:
    if command == "list-orgs":
        return [
            {"lago_id": o.lago_id, "name": o.name, "created_at": o.created_at}
            for o in organizations.list_organizations()
        ]
    if command == "create-org":
        organization, key = organizations.create_organization(args.name, api_key=args.api_key)
        return {"lago_id": organization.lago_id, "name": organization.name, "api_key": key}
    if command == "add-key":
        return {
            "organization_id": args.organization_id,
            "api_key": organizations.add_api_key(args.organization_id, args.api_key),
        }
    if command == "revoke-key":
        organizations.revoke_api_key(args.api_key)
        return {"revoked": True}
    if command == "webhook-private-networks":
        organization = organizations.allow_webhook_private_networks(args.organization_id, args.state == "on")
        return {"organization_id": organization.lago_id, "webhook_private_networks": args.state == "on"}
    if command == "hmac-key":
        organization = organizations.get_organization(args.organization_id)
        return {"organization_id": organization.lago_id, "hmac_key": organization.hmac_key}
    if command in ("failed-webhooks", "show-webhook", "retry-webhook", "retry-webhooks"):
        return run_webhook_command(command, args)
    raise AssertionError(command)


def _failure_summary(entry: Any) -> dict[str, Any]:
    rendered = webhook_messages.render_message(entry)
    return {
        key: rendered[key]
        for key in ("message_id", "webhook_type", "object_type", "status", "created_at", "finished_at")
    } | {
        "deliveries": [
            {
                "endpoint_id": d["endpoint_id"],
                "status": d["status"],
                "attempts": len(d.get("attempts", [])),
                "last_attempt": (d.get("attempts") or [None])[-1],
            }
            for d in rendered["deliveries"]
        ]
    }


def run_webhook_command(command: str, args: argparse.Namespace) -> Any:
    """Failed webhooks for operators (Lago retries them from its UI; see docs/webhooks.md "Operations")."""
    organization_id = args.organization_id
    if command == "failed-webhooks":
        return [_failure_summary(e) for e in webhook_messages.list_failed_messages(organization_id)]
    if command == "show-webhook":
        return webhook_messages.render_message(webhook_messages.get_message(organization_id, args.message_id))
    if command == "retry-webhook":
        entry = webhook_messages.retry_failed_message(organization_id, args.message_id)
        return {"retried": [entry.message_id], "next_attempt_at": entry.next_attempt_at}
    retried = webhook_messages.retry_failed_messages(organization_id)
    return {"retried": [e.message_id for e in retried]}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m lagoon.admin",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = root.add_mutually_exclusive_group()
    target.add_argument("--stack-name", help="a deployed CloudFormation stack (real AWS)")
    target.add_argument(
        "--endpoint", default=os.environ.get("LAGOON_AWS_ENDPOINT_URL"), help="an AWS endpoint URL"
    )
    root.add_argument(
        "--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    )
    root.add_argument(
        "--data-dir", default=os.environ.get("LAGOON_DATA_DIR"), help="the local stack's data dir"
    )
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("list-orgs", help="list organizations")
    create = commands.add_parser("create-org", help="create an organization and its first API key")
    create.add_argument("name")
    create.add_argument("--api-key", help="use this key instead of a generated one")
    add = commands.add_parser("add-key", help="create another API key for an organization")
    add.add_argument("organization_id")
    add.add_argument("--api-key", help="use this key instead of a generated one")
    revoke = commands.add_parser("revoke-key", help="revoke an API key")
    revoke.add_argument("api_key", nargs="?", help="the key (one starting with '-': --api-key=KEY)")
    revoke.add_argument("--api-key", dest="api_key_option", metavar="API_KEY", help="the key, whatever it is")
    hmac = commands.add_parser("hmac-key", help="show an organization's hmac_key")
    hmac.add_argument("organization_id")
    private = commands.add_parser(
        "webhook-private-networks", help="allow (on) or refuse (off) webhooks to private networks"
    )
    private.add_argument("organization_id")
    private.add_argument("state", choices=["on", "off"])
    failed = commands.add_parser("failed-webhooks", help="list an organization's failed webhook messages")
    failed.add_argument("organization_id")
    show = commands.add_parser("show-webhook", help="show a webhook message with every delivery attempt")
    show.add_argument("organization_id")
    show.add_argument("message_id")
    retry = commands.add_parser("retry-webhook", help="send a failed webhook message again")
    retry.add_argument("organization_id")
    retry.add_argument("message_id")
    retry_all = commands.add_parser("retry-webhooks", help="send all failed webhook messages again")
    retry_all.add_argument("organization_id")
    return root


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line; `revoke-key KEY` takes any key, even one that looks like an option (`-abc…`)."""
    root = parser()
    args, unknown = root.parse_known_args(argv)
    if args.command == "revoke-key":
        if args.api_key is None and args.api_key_option is None and len(unknown) == 1:
            args.api_key, unknown = unknown[0], []
        if unknown:
            root.error(f"unrecognized arguments: {' '.join(unknown)}")
        if (args.api_key is None) == (args.api_key_option is None):
            root.error("revoke-key takes one API key (API_KEY or --api-key=API_KEY)")
        args.api_key = args.api_key if args.api_key is not None else args.api_key_option
    elif unknown:
        root.error(f"unrecognized arguments: {' '.join(unknown)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_arguments(argv)
    try:
        if args.command in ("create-org", "add-key"):
            args.api_key = checked_api_key(args.api_key)
        if args.stack_name:
            use_environment(deployed_environment(args.stack_name, args.region), deployed=True)
        elif args.endpoint:
            use_environment(endpoint_environment(args.endpoint, args.region or "us-east-1"), deployed=False)
        else:
            data_dir = Path(args.data_dir).expanduser() if args.data_dir else REPO_ROOT / ".lagoon"
            use_environment(local_stack_environment(data_dir), deployed=False)
        result = run(args.command, args)
    except TargetError as exc:
        print(f"lagoon.admin: {exc}", file=sys.stderr)
        return 2
    except InvalidApiKey as exc:
        print(f"lagoon.admin: invalid: {exc}", file=sys.stderr)
        return 1
    except errors.NotFound as exc:
        print(f"lagoon.admin: not found: {exc}", file=sys.stderr)
        return 1
    except errors.ValidationFailed as exc:
        print(f"lagoon.admin: invalid: {exc}", file=sys.stderr)
        return 1
    except errors.UnprocessableError as exc:
        print(f"lagoon.admin: {exc.code}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
