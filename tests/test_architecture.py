"""The flow stays one-directional: bot/ and storage/ know nothing of any chat platform, each capability package
imports only what its `__init__` declares, and no module grows past 400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PLATFORM_SDKS = ("slack_bolt", "slack_sdk", "microsoft_teams", "botbuilder", "fastapi", "starlette", "uvicorn")
OURS = ("bot", "storage", "handlers")
MAX_LINES = 400


def imports(path: Path, root: Path = ROOT) -> set[str]:
    """Every module a file imports, at any depth (inside functions too); relative imports made absolute."""
    package = path.relative_to(root).parent.parts
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            names.add(".".join([*base, *([node.module] if node.module else [])]))
    return names


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def declared(package: Path) -> tuple[str, ...] | None:
    """A package's MAY_IMPORT, read from its `__init__.py` without importing it."""
    for node in ast.parse((package / "__init__.py").read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "MAY_IMPORT" for t in node.targets):
            return tuple(ast.literal_eval(node.value))
    return None


def core_violations(root: Path) -> list[str]:
    """bot/ and storage/ import no handler and no platform SDK; storage/ imports nothing of bot/."""
    found = []
    for folder in ("bot", "storage"):
        for path in (root / folder).rglob("*.py"):
            for name in imports(path, root):
                if name.startswith(PLATFORM_SDKS) or _within(name, "handlers"):
                    found.append(f"{path.relative_to(root)} imports {name}")
                if folder == "storage" and _within(name, "bot"):
                    found.append(f"{path.relative_to(root)} imports {name}")
    return found


def package_violations(root: Path) -> list[str]:
    """Each package under bot/ says what it owns and what it may import (MAY_IMPORT), and keeps to it."""
    found = []
    for init in sorted((root / "bot").glob("*/__init__.py")):
        package = init.parent
        own = ".".join(package.relative_to(root).parts)
        allowed = declared(package)
        if not ast.get_docstring(ast.parse(init.read_text())) or allowed is None:
            found.append(f"{own} has no docstring or no MAY_IMPORT in its __init__.py")
            continue
        for path in package.rglob("*.py"):
            for name in imports(path, root):
                ours = name.split(".")[0] in OURS
                if ours and not _within(name, own) and not any(_within(name, a) for a in allowed):
                    found.append(f"{path.relative_to(root)} imports {name}, outside {own}'s MAY_IMPORT")
    return found


def test_core_and_storage_import_no_platform_sdk_or_handler() -> None:
    assert core_violations(ROOT) == []


def test_every_package_of_the_core_keeps_to_what_it_declares() -> None:
    assert package_violations(ROOT) == []


def test_the_checks_catch_a_violation(tmp_path: Path) -> None:
    """The two checks above are not vacuous: a core that reaches up, or sideways, is caught."""
    (tmp_path / "storage").mkdir()
    (tmp_path / "storage" / "models.py").write_text("from bot.core import clock\n")
    core = tmp_path / "bot" / "core"
    core.mkdir(parents=True)
    (core / "__init__.py").write_text('"""Shared."""\n\nMAY_IMPORT = ("storage",)\n')
    (core / "port.py").write_text("def f():\n    from slack_sdk import WebClient\n")
    (core / "ok.py").write_text("from storage.models import Workspace\nimport json\n")
    (core / "up.py").write_text("from bot.improvements import views\n")
    (core / "sideways.py").write_text("from ..wins import digest\nfrom . import ok\n")
    wins = tmp_path / "bot" / "wins"
    wins.mkdir()
    (wins / "__init__.py").write_text("MAY_IMPORT = ()\n")

    assert sorted(core_violations(tmp_path)) == [
        "bot/core/port.py imports slack_sdk",
        "storage/models.py imports bot.core",
    ]
    assert sorted(package_violations(tmp_path)) == [
        "bot.wins has no docstring or no MAY_IMPORT in its __init__.py",
        "bot/core/sideways.py imports bot.wins, outside bot.core's MAY_IMPORT",
        "bot/core/up.py imports bot.improvements, outside bot.core's MAY_IMPORT",
    ]


def test_no_module_grows_past_400_lines() -> None:
    long = [
        f"{path.relative_to(ROOT)} ({count} lines)"
        for folder in OURS
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts and (count := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert long == []


def test_the_cli_loads_a_platform_only_in_the_commands_that_need_it() -> None:
    """The console and `tick` start without importing the Slack or Teams SDKs."""
    tree = ast.parse((ROOT / "handlers" / "cli.py").read_text())
    top = {n.module for n in tree.body if isinstance(n, ast.ImportFrom) and n.module}
    top |= {a.name for n in tree.body if isinstance(n, ast.Import) for a in n.names}
    platforms = ("handlers.slack", "handlers.teams", "handlers.web")
    assert not [name for name in top if name.startswith((*PLATFORM_SDKS, *platforms))]
