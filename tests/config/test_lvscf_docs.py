"""docs/lvs.cf.md documents every key of the schema table."""

from __future__ import annotations

import re
from pathlib import Path

from piranha.config.schema import KEYS, SCHEMA

DOC = Path(__file__).resolve().parents[2] / "docs" / "lvs.cf.md"


def rows() -> dict[str, list[str]]:
    """`key` -> the table rows (per section heading) that start with it."""
    found: dict[str, list[str]] = {}
    for line in DOC.read_text().splitlines():
        m = re.match(r"\| `([a-z_]+)`", line)
        if m:
            found.setdefault(m.group(1), []).append(line)
    return found


def test_every_schema_key_is_documented():
    text = DOC.read_text()
    missing = sorted({spec.key for spec in SCHEMA if f"`{spec.key}`" not in text})
    assert missing == []


def test_every_key_has_a_table_row_in_its_section_marked_if_extension():
    documented = rows()
    for section, keys in KEYS.items():
        for key, spec in keys.items():
            assert key in documented, f"{section} key `{key}` has no table row"
            marked = [row for row in documented[key] if "*(ext)*" in row]
            if spec.extension:
                assert marked, f"extension `{key}` is not marked *(ext)*"
    # and nothing is marked that is not an extension
    extensions = {spec.key for spec in SCHEMA if spec.extension}
    marked = {key for key, lines in documented.items() if any("*(ext)*" in line for line in lines)}
    assert marked == extensions


def test_unused_keys_say_so_for_the_warning_text():
    for spec in SCHEMA:
        if spec.unused:
            assert spec.meaning.startswith("no effect"), spec.key  # "`key` has no effect ..."
