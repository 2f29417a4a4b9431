"""The vendored htmx is the one its README names, and the pages need nothing from outside."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "src" / "piranha" / "gui" / "static"
TEMPLATES = STATIC.parent / "templates"


def test_htmx_matches_its_readme():
    readme = (STATIC / "README.md").read_text()
    row = re.search(r"\| `htmx.min.js` \|.*?\| ([0-9.]+) \| `([0-9a-f]{64})` \|", readme)
    assert row is not None
    version, digest = row.groups()
    data = (STATIC / "htmx.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == digest
    assert f'version:"{version}"'.encode() in data and version.startswith("2.")


def test_templates_load_nothing_from_other_sites_and_have_no_inline_code():
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text().replace(
            'xmlns="http://www.w3.org/2000/svg"', ""
        )  # a name, not a fetch
        assert "http://" not in text and "https://" not in text, template
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template
        assert not re.search(r"\son[a-z]+=", text), template
        assert " style=" not in text and "<style" not in text, template
        assert "|safe" not in text and "Markup(" not in text, template
