"""The documents bucket (S3): invoice PDFs put once under a key derived from the invoice, read back through
presigned GET URLs. The only module that touches S3.

URLs are signed with SigV4 (`signature_version="s3v4"`, what AWS requires in every region); on the local
stack the client's endpoint is moto's, so the URL points at moto, which serves the object (it does not check
signatures — TOOLCHAIN-NOTES.md).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lagoon import errors
from lagoon.config import get_settings

PDF = "application/pdf"


@cache
def _s3(region: str, endpoint: str | None, settings_id: int) -> Any:
    """One client per Settings instance (tests and the local stack reset settings between AWS setups)."""
    import boto3  # cold start: boto3 and s3transfer (~25 ms) load at the first client, not in every function

    # Path-style addressing on a custom endpoint (moto on 127.0.0.1 has no virtual-host bucket names).
    config = Config(signature_version="s3v4", s3={"addressing_style": "path"} if endpoint else None)
    return boto3.client("s3", region_name=region, endpoint_url=endpoint, config=config)


def _client() -> Any:
    settings = get_settings()
    return _s3(settings.region, settings.aws_endpoint_url, id(settings))


def bucket() -> str:
    """The documents bucket of this function; a function without one cannot store or serve documents."""
    name = get_settings().documents_bucket
    if not name:
        raise errors.TransientFailure("this function has no documents bucket (DOCUMENTS_BUCKET)")
    return name


def exists(key: str) -> bool:
    """Whether an object is stored under `key`."""
    try:
        _client().head_object(Bucket=bucket(), Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise errors.TransientFailure("the documents bucket could not be read") from exc
    except BotoCoreError as exc:
        raise errors.TransientFailure("the documents bucket could not be read") from exc
    return True


def put_pdf(key: str, content: bytes, filename: str) -> None:
    """Store a PDF under `key` (served inline as `filename`)."""
    try:
        _client().put_object(
            Bucket=bucket(),
            Key=key,
            Body=content,
            ContentType=PDF,
            ContentDisposition=f'inline; filename="{filename}"',
        )
    except (ClientError, BotoCoreError) as exc:
        raise errors.TransientFailure("the document could not be stored") from exc


def read(key: str) -> bytes:
    """The stored object's bytes (tests and tools)."""
    try:
        answer = _client().get_object(Bucket=bucket(), Key=key)
    except (ClientError, BotoCoreError) as exc:
        raise errors.TransientFailure("the document could not be read") from exc
    return answer["Body"].read()  # type: ignore[no-any-return]


def presigned_get_url(key: str, expires_in: int) -> str:
    """A SigV4 presigned GET URL of the object (computed locally: no request to S3)."""
    return _client().generate_presigned_url(  # type: ignore[no-any-return]
        "get_object", Params={"Bucket": bucket(), "Key": key}, ExpiresIn=expires_in
    )
