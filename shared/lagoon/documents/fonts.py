"""The document font: Source Sans Pro (regular and bold), parsed once per container.

Lambda has no system fonts and fpdf2's core fonts are Latin-1 only (no `€`, no `Ż`), so documents embed a
Unicode TrueType font that ships with the dependencies: the `font-source-sans-pro` wheel (SIL Open Font
License 1.1, see its `files/LICENSE.txt`).

Why the cache goes below `FPDF.add_font`: `add_font` re-parses the TTF for every document (~15 ms per
style), and at output fpdf2 subsets the font *in place*, so a parsed font cannot simply be shared between
documents. Per container we parse each style once and drop the OpenType layout tables that fpdf2 drops at
output anyway (GSUB/GPOS/GDEF: decompiling them is most of the subsetting time); per document we attach a
copy of the parsed metrics with a fresh, lazily loaded `TTFont` over those bytes and a fresh subset map.
This touches fpdf2 internals (`TTFFont`, `SubsetMap`, `FPDF.fonts`), hence the exact pin in
layers/dependencies/requirements.txt; tests/unit/documents checks glyphs and byte-for-byte determinism.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from importlib.resources import files
from io import BytesIO

from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import SubsetMap, TTFFont

FAMILY = "lagoon-sans"
FONT_PACKAGE = "font_source_sans_pro"
FONT_FILES = {"": "SourceSansPro-Regular.ttf", "B": "SourceSansPro-Bold.ttf"}
"""fpdf2 style ("" regular, "B" bold) → file in the font package's `files/` folder."""

# Tables fpdf2 removes when it embeds a subset (fpdf/output.py `_add_fonts`), removed once here instead.
_UNUSED_TABLES = ("BASE", "GDEF", "GPOS", "GSUB", "DSIG", "FFTM", "hdmx", "meta", "MATH")


@dataclass(frozen=True, slots=True)
class _ParsedFont:
    style: str
    data: bytes
    font: TTFFont


_parsed: dict[str, _ParsedFont] | None = None
_lock = threading.Lock()


def font_path(style: str = "") -> str:
    """Path of the bundled TTF of `style` ("" or "B")."""
    return str(files(FONT_PACKAGE) / "files" / FONT_FILES[style])


def _strip(path: str) -> bytes:
    ttfont = ttLib.TTFont(path, recalcTimestamp=False, lazy=True)
    for table in _UNUSED_TABLES:
        if table in ttfont:
            del ttfont[table]
    # One Unicode cmap subtable (Windows, full repertoire) instead of five: each is decompiled per document.
    cmap = ttfont["cmap"]
    full_unicode = [sub for sub in cmap.tables if (sub.platformID, sub.platEncID) == (3, 10)]
    if full_unicode:
        cmap.tables = full_unicode
    output = BytesIO()
    ttfont.save(output)
    return output.getvalue()


def _parse_all() -> dict[str, _ParsedFont]:
    global _parsed
    if _parsed is None:
        with _lock:
            if _parsed is None:
                scratch = FPDF()
                parsed = {}
                for style in FONT_FILES:
                    data = _strip(font_path(style))
                    fontkey = f"{FAMILY}{style}"
                    font = TTFFont(scratch, BytesIO(data), fontkey, style)  # type: ignore[arg-type]
                    parsed[style] = _ParsedFont(style, data, font)
                _parsed = parsed
    return _parsed


def add_document_fonts(pdf: FPDF) -> None:
    """Make `FAMILY` (regular and bold) available to `pdf`, as `pdf.add_font` would, from the cache."""
    for style, parsed in _parse_all().items():
        font = copy.copy(parsed.font)
        font.i = len(pdf.fonts) + 1
        # recalcBBoxes=False: the subset keeps each glyph's compiled data instead of recompiling it.
        font.ttfont = ttLib.TTFont(BytesIO(parsed.data), recalcTimestamp=False, recalcBBoxes=False, lazy=True)
        font.subset = SubsetMap(font)
        font.missing_glyphs = []
        font.biggest_size_pt = 0
        pdf.fonts[f"{FAMILY}{style}"] = font


def reset_font_cache() -> None:
    """Forget the parsed fonts (tests: render from a cold cache)."""
    global _parsed
    with _lock:
        _parsed = None
