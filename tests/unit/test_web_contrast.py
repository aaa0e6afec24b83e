"""The stylesheet's colour pairs meet WCAG 2.1 AA, in the light and the dark palette.

axe-core (tests/e2e/test_accessibility.py) checks text it finds on the pages it visits; it does not
check focus rings, input borders or states no page happens to show. This checks the palette itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import signoff.entrypoints.web as web

CSS = (Path(web.__file__).parent / "static" / "signoff.css").read_text()
TEXT = 4.5  # normal-size text (1.4.3)
NON_TEXT = 3.0  # focus indicators, input borders, badges (1.4.11)

# (foreground, background, minimum): every pair the stylesheet puts together.
PAIRS = [
    *((fg, bg, TEXT) for fg in ("ink", "muted", "brand") for bg in ("bg", "card", "thead", "current")),
    ("muted", "ok-bg", TEXT), ("brand", "ok-bg", TEXT), ("ink", "changed", TEXT), ("muted", "off-bg", TEXT),
    ("ok", "ok-bg", TEXT), ("wait", "wait-bg", TEXT), ("bad", "bad-bg", TEXT), ("off", "off-bg", TEXT),
    ("ok", "card", TEXT), ("bad", "card", TEXT), ("wait", "changed", TEXT), ("ink", "off-bg", TEXT),
    ("ink", "code-bg", TEXT), ("on-brand", "brand", TEXT), ("on-brand", "brand-hover", TEXT),
    *(("focus", bg, NON_TEXT) for bg in ("bg", "card", "ok-bg", "thead")),
    ("field-border", "card", NON_TEXT), ("field-border", "bg", NON_TEXT),
    ("ok", "ok-bg", NON_TEXT), ("bad", "card", NON_TEXT),
]


def palette(block: str) -> dict[str, str]:
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{3,6})\b", block))


def palettes() -> dict[str, dict[str, str]]:
    light = palette(CSS[CSS.index(":root {"):CSS.index("}", CSS.index(":root {"))])
    dark_start = CSS.index("@media (prefers-color-scheme: dark)")
    dark_block = CSS[dark_start:CSS.index("}", CSS.index(":root {", dark_start))]
    return {"light": light, "dark": {**light, **palette(dark_block)}}


def luminance(colour: str) -> float:
    hex_ = colour.lstrip("#")
    if len(hex_) == 3:
        hex_ = "".join(c * 2 for c in hex_)
    channels = [int(hex_[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_contrast_formula_matches_wcag() -> None:
    assert contrast("#000", "#fff") == pytest.approx(21.0)
    assert contrast("#767676", "#fff") == pytest.approx(4.54, abs=0.01)  # the well-known AA grey


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_colour_pair_meets_aa(scheme: str) -> None:
    colours = palettes()[scheme]
    missing = {name for fg, bg, _ in PAIRS for name in (fg, bg)} - set(colours)
    assert not missing, f"the {scheme} palette lacks {sorted(missing)}"
    failing = [(fg, bg, round(contrast(colours[fg], colours[bg]), 2), minimum) for fg, bg, minimum in PAIRS
               if contrast(colours[fg], colours[bg]) < minimum]
    assert failing == []


def test_the_dark_palette_redefines_every_colour() -> None:
    both = palettes()
    light_only = {k for k in both["light"]} - set(palette(CSS[CSS.index("@media (prefers-color-scheme: dark)"):]))
    assert light_only == set(), "colours the dark scheme would inherit from the light one"


def test_no_colour_is_hard_coded_outside_the_palettes_except_the_top_bar() -> None:
    body = CSS[CSS.index("* { box-sizing"):]
    body = re.sub(r"@media \(prefers-color-scheme: dark\) \{.*?\n\}\n", "", body, flags=re.S)
    outside = [line for line in body.splitlines() if re.search(r"#[0-9a-fA-F]{3,6}\b", line)
               and not re.match(r"\s*(\.topbar|\.brand|\.nav|\.who|background: #111a2e)", line)]
    assert outside == []
