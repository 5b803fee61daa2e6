"""Regenerate shared/lagoon/reference_data.json from Lago's OpenAPI spec (countries, currencies, timezones).

Run: python tools/generate_reference_data.py ../shared/reference/lago-openapi/openapi.yaml
The JSON is committed so Lambda needs neither the spec nor PyYAML at run time.
"""

import json
import sys
from pathlib import Path

import yaml

spec = yaml.safe_load(Path(sys.argv[1]).read_text())
schemas = spec["components"]["schemas"]
data = {
    "countries": sorted(schemas["Country"]["enum"]),
    "currencies": sorted(schemas["Currency"]["enum"]),
    "timezones": schemas["Timezone"]["enum"],
    # lago-docs/24-resources.md "Document locales supported"
    "document_locales": ["de", "en", "es", "fr", "it", "nb", "sv"],
}
out = Path(__file__).resolve().parents[1] / "shared" / "lagoon" / "reference_data.json"
out.write_text(json.dumps(data, indent=1) + "\n")
print(f"wrote {out}")
