"""Render the example invoice into docs/: `python tools/render_example_invoice.py` (from the repository root).

Writes docs/example-invoice.pdf from the contract-shaped fixture of tests/unit/documents, and
docs/example-invoice.png: its pages side by side, rasterised by `pdftoppm` (Debian's poppler-utils:
`apt-get install -y poppler-utils`). Pass a locale (`fr`, `de`, `es`) to render another language.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from lagoon.documents import render_invoice_pdf
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "unit" / "documents" / "fixtures" / "example_invoice.json"
PDF = ROOT / "docs" / "example-invoice.pdf"
PNG = ROOT / "docs" / "example-invoice.png"
DPI = 80
GAP = 16


def main(locale: str | None = None) -> None:
    example = json.loads(FIXTURE.read_text(encoding="utf-8"))
    PDF.write_bytes(
        render_invoice_pdf(example["invoice"], example["organization"], example["customer"], locale)
    )
    if shutil.which("pdftoppm") is None:
        sys.exit(
            f"wrote {PDF.relative_to(ROOT)}; pdftoppm is missing (apt-get install -y poppler-utils) for the PNG"
        )
    with tempfile.TemporaryDirectory() as scratch:
        subprocess.run(["pdftoppm", "-png", "-r", str(DPI), str(PDF), f"{scratch}/page"], check=True)
        pages = [Image.open(path).convert("RGB") for path in sorted(Path(scratch).glob("page-*.png"))]
        sheet = Image.new(
            "RGB",
            (
                sum(page.width for page in pages) + GAP * (len(pages) + 1),
                max(page.height for page in pages) + 2 * GAP,
            ),
            (229, 231, 235),
        )
        x = GAP
        for page in pages:
            sheet.paste(page, (x, GAP))
            x += page.width + GAP
        sheet.save(PNG, optimize=True)
    print(f"wrote {PDF.relative_to(ROOT)} and {PNG.relative_to(ROOT)} ({len(pages)} pages)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
