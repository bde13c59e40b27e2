"""The flow stays one-directional: bot/ and storage/ know nothing of any chat platform's SDK."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_SDKS = ("slack_bolt", "slack_sdk", "microsoft_teams", "botbuilder", "fastapi", "starlette")


def top_level_imports(path: Path) -> set[str]:
    """Modules imported at module level (the CLI imports platforms lazily inside its commands)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_and_storage_import_no_platform_sdk_or_handler() -> None:
    offenders = []
    for folder in ("bot", "storage"):
        for path in (ROOT / folder).rglob("*.py"):
            for name in top_level_imports(path):
                if name.startswith(PLATFORM_SDKS) or name.startswith("handlers"):
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_storage_does_not_import_the_core() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in (ROOT / "storage").rglob("*.py")
        for name in top_level_imports(path)
        if name.startswith("bot")
    ]
    assert offenders == []
