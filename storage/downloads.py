"""Files waiting to be fetched through an unguessable link (storage.models.Download), until they expire."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete
from sqlmodel import Session, col, select

from storage.db import transaction
from storage.models import Download

LIFETIME = timedelta(minutes=15)


def keep(engine: Engine, workspace_id: int, user: str, filename: str, content: bytes, now: datetime) -> str:
    """Keep the file for LIFETIME; its token (256 random bits) is the link's only key."""
    token = secrets.token_urlsafe(32)
    with transaction(engine) as session:
        session.add(Download(token=token, workspace_id=workspace_id, user_id=user, filename=filename[:120],
                             content=content, created_at=now, expires_at=now + LIFETIME))  # fmt: skip
    return token


def is_token(token: str) -> bool:
    """Whether `token` could be one of ours (secrets.token_urlsafe): anything else is not looked up."""
    return 20 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum()


def fetch(engine: Engine, token: str, now: datetime) -> Download | None:
    """The file behind `token` while it has not expired; None for anything else (unknown, expired, malformed)."""
    if not is_token(token):
        return None
    with Session(engine) as session:
        download = session.exec(select(Download).where(Download.token == token)).first()
    return download if download is not None and download.expires_at > now else None


def purge(session: Session, now: datetime) -> int:
    """Forget the files whose link has expired."""
    result = session.exec(delete(Download).where(col(Download.expires_at) <= now))
    return int(result.rowcount or 0)
