"""The container (issue 13, #5): compose.yaml runs the bot beside PostgreSQL 16 (a volume, a health check, the bot
waiting for the database), validated by `docker compose config` where Compose is installed; the image builds and
its CLI runs where a Docker daemon is reachable. Elsewhere those two skip, saying why."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from dotenv import dotenv_values

from bot.core.config import load_settings

ROOT = Path(__file__).resolve().parent.parent


def _docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


def test_compose_runs_the_bot_beside_postgres_16_and_waits_for_it() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    db, bot = compose["services"]["db"], compose["services"]["bot"]
    assert db["image"] == "postgres:16" and "db-data" in compose["volumes"]
    assert any(v.startswith("db-data:") for v in db["volumes"]) and "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert bot["depends_on"]["db"]["condition"] == "service_healthy"
    assert "/readyz" in " ".join(bot["healthcheck"]["test"])
    assert (
        bot["environment"]["DATABASE_URL"].startswith("postgresql://")
        and "@db:5432/" in bot["environment"]["DATABASE_URL"]
    )


def test_the_example_environment_is_a_valid_configuration() -> None:
    values = {k: v or "" for k, v in dotenv_values(ROOT / ".env.example").items()}
    load_settings({**values, "IMPROVE_SECRET_KEY": "x" * 32})  # every name it lists is a setting that parses


def test_compose_config_is_valid() -> None:
    if shutil.which("docker") is None or _docker("compose", "version").returncode != 0:
        pytest.skip("Docker Compose is not installed here: `docker compose config` could not run")
    result = _docker("compose", "config", "--quiet")
    assert result.returncode == 0, result.stderr


def test_the_image_builds_and_runs_the_cli_as_a_non_root_user() -> None:
    if shutil.which("docker") is None or _docker("info").returncode != 0:
        pytest.skip("no Docker daemon is reachable here: the image could not be built")
    built = _docker("build", "-t", "improvebot:test", ".", timeout=900)
    assert built.returncode == 0, built.stderr[-2000:]
    ran = _docker("run", "--rm", "--entrypoint", "sh", "improvebot:test", "-c", "id -u && improvebot --help")
    assert ran.returncode == 0, ran.stderr
    uid, *usage = ran.stdout.splitlines()
    assert uid != "0" and any("serve" in line for line in usage)
