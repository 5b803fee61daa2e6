"""Lint template.yaml twice: as SAM source, and translated to plain CloudFormation (what AWS deploys).

cfn-lint no longer runs the SAM transform itself, so errors only visible after translation (invalid runtimes,
out-of-range Kinesis batch sizes, broken policies) are caught on the translated document.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class _NoManagedPolicies:
    """samtranslator asks for the account's managed policy ARNs; offline we have none."""

    def load(self) -> dict[str, str]:
        return {}


def _fake_s3_uris(node: Any) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ("CodeUri", "ContentUri") and isinstance(value, str):
                out[key] = f"s3://lagoon-artifacts/{value.strip('/').replace('/', '-') or 'root'}.zip"
            else:
                out[key] = _fake_s3_uris(value)
        return out
    if isinstance(node, list):
        return [_fake_s3_uris(v) for v in node]
    return node


def translate(template_path: Path) -> dict[str, Any]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse

    document = _fake_s3_uris(yaml_parse(template_path.read_text()))
    return transform(document, {}, _NoManagedPolicies())  # type: ignore[no-any-return]


def main() -> int:
    template = ROOT / "template.yaml"
    cfn_lint = [str(Path(sys.executable).with_name("cfn-lint"))]
    print("cfn-lint: template.yaml (SAM source)")
    status = subprocess.call([*cfn_lint, str(template)])
    translated = translate(template)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(translated, handle, indent=1)
        path = handle.name
    print(f"cfn-lint: translated CloudFormation ({len(translated['Resources'])} resources)")
    status |= subprocess.call([*cfn_lint, path])
    os.unlink(path)
    print("template checks:", "FAILED" if status else "ok")
    return 1 if status else 0


if __name__ == "__main__":
    sys.exit(main())
