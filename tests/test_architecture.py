"""The flow stays one-directional: bot/ and storage/ know nothing of any chat platform's SDK."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_SDKS = ("slack_bolt", "slack_sdk", "microsoft_teams", "botbuilder", "fastapi", "starlette")


COMPOSITION_ROOT = Path("bot/cli.py")  # the entry point assembles the platforms, inside its commands


def imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_core_and_storage_import_no_platform_sdk_or_handler() -> None:
    offenders = []
    for folder in ("bot", "storage"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.relative_to(ROOT) == COMPOSITION_ROOT:
                continue
            for name in imports(path):
                if name.startswith(PLATFORM_SDKS) or name.startswith("handlers"):
                    offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_storage_does_not_import_the_core() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in (ROOT / "storage").rglob("*.py")
        for name in imports(path)
        if name.startswith("bot")
    ]
    assert offenders == []


def test_the_cli_imports_platforms_only_inside_its_commands() -> None:
    tree = ast.parse((ROOT / COMPOSITION_ROOT).read_text())
    top = {n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
    top |= {a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    assert not [name for name in top if name.startswith((*PLATFORM_SDKS, "handlers"))]
