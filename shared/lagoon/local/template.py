"""Reads template.yaml — the single source of truth — for the local stack and the tests.

Resolves the intrinsic functions the template uses (Ref, GetAtt, Sub, If) against local physical names,
and creates the DynamoDB tables, Kinesis streams, S3 buckets and SQS queues it declares.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE_PATH = REPO_ROOT / "template.yaml"
LOCAL_STACK_NAME = "lagoon-local"
LOCAL_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class Route:
    path: str  # e.g. /api/v1/customers/{external_customer_id}
    method: str  # ANY or an HTTP verb
    function: str  # logical id
    authorized: bool = True

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        regex = ""
        for segment in self.path.strip("/").split("/"):
            if segment.endswith("+}"):
                regex += "/(?P<" + segment[1:-2] + ">.+)"
            elif segment.startswith("{"):
                regex += "/(?P<" + segment[1:-1] + ">[^/]+)"
            else:
                regex += "/" + re.escape(segment)
        return re.compile("^" + regex + "$")

    @property
    def precedence(self) -> tuple[int, ...]:
        """API Gateway REST's order (lower first), segment by segment from the left: a literal beats a `{param}`,
        which beats a greedy `{proxy+}`. The gateway serves a request with the first route in this order whose
        path and method both match, so a greedy route only gets what no more specific route serves."""
        return tuple(
            2 if segment.endswith("+}") else 1 if segment.startswith("{") else 0
            for segment in self.path.strip("/").split("/")
        )


@dataclass(frozen=True)
class Schedule:
    function: str
    name: str
    expression: str  # rate(...) or cron(...)
    kind: str = "Schedule"  # or ScheduleV2
    # The event's other properties (Enabled/State, Input, Name, ScheduleExpressionTimezone, ...).
    properties: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


LOCAL_PARAMETERS = {"WebhookAllowedNetworks": "127.0.0.0/8,::1/128"}
"""The local stack's parameter values where they differ from the template's defaults: its webhook receivers
run on this machine, so webhooks may reach loopback (never allowed on AWS by default)."""


@dataclass
class Template:
    """template.yaml parsed once, with local physical names and the local stack's parameter values."""

    document: dict[str, Any]
    stack_name: str = LOCAL_STACK_NAME
    region: str = "us-east-1"
    parameters: dict[str, str] = field(default_factory=lambda: dict(LOCAL_PARAMETERS))

    @classmethod
    def load(cls, path: Path = TEMPLATE_PATH, **kwargs: Any) -> Template:
        from samtranslator.yaml_helper import yaml_parse  # local/dev dependency only

        return cls(yaml_parse(path.read_text()), **kwargs)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.document.get("Resources", {})  # type: ignore[no-any-return]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v.get("Type") == resource_type}

    def physical_name(self, logical_id: str) -> str:
        return f"{self.stack_name}-{logical_id}".lower()

    def parameter(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        if name == "AWS::Region":
            return self.region
        if name == "AWS::AccountId":
            return LOCAL_ACCOUNT
        if name == "AWS::StackName":
            return self.stack_name
        if name == "AWS::Partition":
            return "aws"
        default = self.document.get("Parameters", {}).get(name, {}).get("Default")
        return "" if default is None else str(default)

    def arn(self, logical_id: str) -> str:
        kind = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        return {
            "AWS::DynamoDB::Table": f"arn:aws:dynamodb:{self.region}:{LOCAL_ACCOUNT}:table/{name}",
            "AWS::Kinesis::Stream": f"arn:aws:kinesis:{self.region}:{LOCAL_ACCOUNT}:stream/{name}",
            "AWS::SQS::Queue": f"arn:aws:sqs:{self.region}:{LOCAL_ACCOUNT}:{name}",
            "AWS::S3::Bucket": f"arn:aws:s3:::{name}",
        }.get(kind, f"arn:aws:lambda:{self.region}:{LOCAL_ACCOUNT}:function:{name}")

    def resolve(self, value: Any) -> Any:
        """Evaluate the intrinsic functions the template uses, with local names."""
        if isinstance(value, dict) and len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.physical_name(arg) if arg in self.resources else self.parameter(arg)
            if key == "Fn::GetAtt":
                logical, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.arn(logical) if attribute == "Arn" else self.physical_name(logical)
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
                return re.sub(r"\$\{([^}]+)\}", lambda m: self._sub_var(m.group(1), variables), text)
            if key == "Fn::If":
                condition, when_true, when_false = arg
                return self.resolve(when_true if self._condition(condition) else when_false)
            if key == "Fn::Join":
                separator, parts = arg
                return separator.join(str(self.resolve(p)) for p in parts)
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        return value

    def _sub_var(self, name: str, variables: dict[str, Any]) -> str:
        if name in variables:
            return str(self.resolve(variables[name]))
        if "." in name:
            logical, attribute = name.split(".", 1)
            return str(self.resolve({"Fn::GetAtt": [logical, attribute]}))
        return str(self.resolve({"Ref": name}))

    def _condition(self, name: str) -> bool:
        expression = self.document.get("Conditions", {}).get(name)
        return bool(self._evaluate(expression))

    def _evaluate(self, expression: Any) -> Any:
        if isinstance(expression, dict) and len(expression) == 1:
            ((key, arg),) = expression.items()
            if key == "Fn::Not":
                return not self._evaluate(arg[0])
            if key == "Fn::Equals":
                return str(self.resolve(arg[0])) == str(self.resolve(arg[1]))
            if key == "Fn::And":
                return all(self._evaluate(a) for a in arg)
            if key == "Fn::Or":
                return any(self._evaluate(a) for a in arg)
            if key == "Condition":
                return self._condition(arg)
        return self.resolve(expression)

    # -- functions ------------------------------------------------------------------------------
    @property
    def functions(self) -> dict[str, dict[str, Any]]:
        return self.of_type("AWS::Serverless::Function")

    def function_module(self, logical_id: str) -> str:
        """Dotted module of a function's handler, e.g. functions.customers.app."""
        properties = self.functions[logical_id]["Properties"]
        handler = properties.get("Handler") or self.document["Globals"]["Function"]["Handler"]
        code_dir = properties["CodeUri"].strip("/").replace("/", ".")
        module, _, _ = handler.rpartition(".")
        return f"{code_dir}.{module}"

    def function_handler_name(self, logical_id: str) -> str:
        properties = self.functions[logical_id]["Properties"]
        handler = properties.get("Handler") or self.document["Globals"]["Function"]["Handler"]
        return str(handler.rpartition(".")[2])

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """Globals + the function's own variables, resolved. API_BASE_URL is the local stack's concern."""
        merged: dict[str, Any] = dict(
            self.document.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
        )
        own = self.functions[logical_id]["Properties"].get("Environment", {}).get("Variables", {})
        merged.update(own)
        return {k: str(self.resolve(v)) for k, v in merged.items() if k != "API_BASE_URL"}

    def routes(self) -> list[Route]:
        api_auth = {}
        for api in self.of_type("AWS::Serverless::Api").values():
            api_auth = api["Properties"].get("Auth", {})
        found = []
        for logical_id, function in self.functions.items():
            for event in (function["Properties"].get("Events") or {}).values():
                if event.get("Type") != "Api":
                    continue
                props = event["Properties"]
                auth = props.get("Auth", {}).get("Authorizer", api_auth.get("DefaultAuthorizer"))
                found.append(
                    Route(props["Path"], props["Method"].upper(), logical_id, auth not in (None, "NONE"))
                )
        return sorted(found, key=lambda r: r.precedence)

    def authorizer(self) -> tuple[str, int] | None:
        """(function logical id, cache TTL seconds) of the API's default authorizer."""
        for api in self.of_type("AWS::Serverless::Api").values():
            auth = api["Properties"].get("Auth", {})
            name = auth.get("DefaultAuthorizer")
            if not name:
                continue
            definition = auth["Authorizers"][name]
            logical = definition["FunctionArn"]["Fn::GetAtt"][0]
            ttl = int(definition.get("Identity", {}).get("ReauthorizeEvery", 300))
            return logical, ttl
        return None

    def gateway_responses(self) -> dict[str, tuple[int | None, str]]:
        responses: dict[str, tuple[int | None, str]] = {}
        for api in self.of_type("AWS::Serverless::Api").values():
            for kind, spec in (api["Properties"].get("GatewayResponses") or {}).items():
                status = int(spec["StatusCode"]) if spec.get("StatusCode") else None
                responses[kind] = (status, spec.get("ResponseTemplates", {}).get("application/json", ""))
        return responses

    def schedules(self) -> list[Schedule]:
        found = []
        for logical_id, function in self.functions.items():
            for name, event in (function["Properties"].get("Events") or {}).items():
                if event.get("Type") in ("Schedule", "ScheduleV2"):
                    props = event["Properties"]
                    # SAM: `Schedule` events name it Schedule, `ScheduleV2` events ScheduleExpression.
                    expression = props.get("ScheduleExpression") or props["Schedule"]
                    found.append(Schedule(logical_id, name, expression, event["Type"], props))
        return found

    def kinesis_triggers(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(function, stream logical id, event properties) for every Kinesis event source."""
        found = []
        for logical_id, function in self.functions.items():
            for event in (function["Properties"].get("Events") or {}).values():
                if event.get("Type") == "Kinesis":
                    stream = event["Properties"]["Stream"]["Fn::GetAtt"][0]
                    found.append((logical_id, stream, event["Properties"]))
        return found


def create_aws_resources(template: Template, session: Any) -> None:
    """Create every table, stream, bucket, queue and secret of the template (moto or any endpoint the session
    targets). Idempotent: what exists already (local state restored from disk) is kept, and indexes the
    template gained since are added to existing tables."""
    _create_tables(template, session)
    _create_streams(template, session)
    _create_buckets_queues_and_secrets(template, session)


def _create_tables(template: Template, session: Any) -> None:
    dynamodb = session.client("dynamodb")
    existing_tables = set(dynamodb.list_tables().get("TableNames", []))
    for logical_id, table in template.of_type("AWS::DynamoDB::Table").items():
        props = table["Properties"]
        kwargs: dict[str, Any] = {
            "TableName": template.physical_name(logical_id),
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if kwargs["TableName"] in existing_tables:
            _add_missing_indexes(dynamodb, kwargs["TableName"], props)
            continue
        if props.get("GlobalSecondaryIndexes"):
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("StreamSpecification"):
            kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        dynamodb.create_table(**kwargs)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(
                TableName=kwargs["TableName"],
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )


def _create_streams(template: Template, session: Any) -> None:
    kinesis = session.client("kinesis")
    existing_streams = set(kinesis.list_streams().get("StreamNames", []))
    for logical_id, stream in template.of_type("AWS::Kinesis::Stream").items():
        if template.physical_name(logical_id) in existing_streams:
            continue
        shards = int(template.resolve(stream["Properties"].get("ShardCount", 1)) or 1)
        kinesis.create_stream(StreamName=template.physical_name(logical_id), ShardCount=shards)


def _create_buckets_queues_and_secrets(template: Template, session: Any) -> None:
    s3 = session.client("s3")
    existing_buckets = {bucket["Name"] for bucket in s3.list_buckets().get("Buckets", [])}
    for logical_id in template.of_type("AWS::S3::Bucket"):
        if template.physical_name(logical_id) not in existing_buckets:
            s3.create_bucket(Bucket=template.physical_name(logical_id))
    sqs = session.client("sqs")
    for logical_id in template.of_type("AWS::SQS::Queue"):
        sqs.create_queue(QueueName=template.physical_name(logical_id))
    secrets = session.client("secretsmanager")
    existing_secrets = {secret["Name"] for secret in secrets.list_secrets().get("SecretList", [])}
    for logical_id, secret in template.of_type("AWS::SecretsManager::Secret").items():
        # Created with the template's placeholder value; the code fills it on first use (webhook keys).
        if template.physical_name(logical_id) not in existing_secrets:
            secrets.create_secret(
                Name=template.physical_name(logical_id),
                SecretString=str(template.resolve(secret["Properties"].get("SecretString", "{}"))),
            )


def _add_missing_indexes(dynamodb: Any, table_name: str, props: dict[str, Any]) -> None:
    """A table restored from local state gets the global secondary indexes the template added since."""
    described = dynamodb.describe_table(TableName=table_name)["Table"]
    present = {index["IndexName"] for index in described.get("GlobalSecondaryIndexes", [])}
    for index in props.get("GlobalSecondaryIndexes") or []:
        if index["IndexName"] not in present:
            dynamodb.update_table(
                TableName=table_name,
                AttributeDefinitions=props["AttributeDefinitions"],
                GlobalSecondaryIndexUpdates=[{"Create": index}],
            )
