"""The CLI's commands on one workspace's data (bot.rights; the settings' reset): find the workspace, run it in one
transaction, say what it did."""

from __future__ import annotations

import json
import os
import sys

from sqlalchemy import Engine
from sqlmodel import select

from bot.core.audit import audit
from bot.core.clock import SystemClock
from bot.core.config import ConfigError, Settings
from bot.core.identity import sealer_of
from bot.rights.erase import check_id, erase
from bot.rights.export import export_person
from storage.db import transaction
from storage.models import Workspace


def _workspace(engine: Engine, platform: str, external_id: str) -> Workspace:
    with transaction(engine) as session:
        row = session.exec(
            select(Workspace).where(Workspace.platform == platform, Workspace.external_id == external_id)
        ).first()
    if row is None:
        raise ConfigError(f"no {platform} workspace {external_id!r} in this database")
    return row


def _user(platform: str, user: str) -> str:
    try:
        return check_id(platform, user)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def erase_user(settings: Settings, engine: Engine, platform: str, external_id: str, user: str) -> int:
    user = _user(platform, user)
    workspace = _workspace(engine, platform, external_id)
    try:
        sealer = sealer_of(settings)
    except ConfigError:  # no key: fine unless the workspace has anonymous reports (erase says so)
        sealer = None
    try:
        with transaction(engine) as session:
            done = erase(session, workspace, user, SystemClock().now(), sealer)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    if done is None:
        print(f"nothing is held about {user} in {platform} {external_id}: nothing was changed", file=sys.stderr)
        return 1
    print(f"erased {user} from {platform} {external_id}: {done.values:,} mentions replaced by a former teammate "
          f"({done.stand_in}), {done.texts:,} texts removed")  # fmt: skip
    return 0


def reset_settings(engine: Engine, platform: str, external_id: str) -> int:
    """The way back when the settings saved in chat locked everyone out: the environment's apply again at the next
    start (and to the scheduled work at once). Audited."""
    workspace = _workspace(engine, platform, external_id)
    with transaction(engine) as session:
        row = session.get(Workspace, workspace.id)
        assert row is not None
        row.settings_saved_at = None
        session.add(row)
        audit(session, row.id or 0, None, "improvebot", "settings_reset", SystemClock().now())
    print(f"{platform} {external_id}: the environment's settings apply again from the next start")
    return 0


def export_user(engine: Engine, platform: str, external_id: str, user: str, out: str | None) -> int:
    user = _user(platform, user)
    workspace = _workspace(engine, platform, external_id)
    with transaction(engine) as session:
        held = export_person(session, workspace, user, SystemClock().now())
    text = json.dumps(held, ensure_ascii=False, indent=2) + "\n"
    if out:  # readable by this user only: it is one person's data
        with os.fdopen(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as file:
            file.write(text)
        print(f"wrote what is held about {user} to {out}")
    else:
        sys.stdout.write(text)
    return 0
