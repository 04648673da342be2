"""docs/architecture.md names only paths that exist, and the README points to it."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def named_paths(text: str) -> set[str]:
    """Backquoted names that are paths: with a '/', or a file name with an extension."""
    out = set()
    for name in re.findall(r"`([^`\s]+)`", text):
        if name.startswith(("http", "--", "$")) or "=" in name or "(" in name:
            continue
        if "/" in name or re.fullmatch(r"[\w.-]+\.(py|md|toml|sh)", name):
            out.add(name)
    return out


def test_every_named_path_exists():
    text = (ROOT / "docs" / "architecture.md").read_text()
    paths = named_paths(text)
    assert len(paths) > 30  # the map names the files it maps
    missing = sorted(p for p in paths if not (ROOT / p).exists())
    assert missing == [], f"docs/architecture.md names paths that do not exist: {missing}"
    assert len(text.splitlines()) <= 200


def test_the_readme_points_to_it():
    assert "(docs/architecture.md)" in (ROOT / "README.md").read_text()
