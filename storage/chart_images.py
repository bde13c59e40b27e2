"""Charts drawn once for the data they show (storage.models.ChartImage): found again by their digest, served by
their token, the newest few kept per workspace."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from storage.downloads import is_token
from storage.models import ChartImage

KEEP = 3  # per workspace and kind: a view published a moment ago still shows its picture


def find(session: Session, workspace_id: int, kind: str, digest: str) -> ChartImage | None:
    return session.exec(
        select(ChartImage).where(
            ChartImage.workspace_id == workspace_id, ChartImage.kind == kind, ChartImage.digest == digest
        )
    ).first()


def newest(session: Session, workspace_id: int, kind: str) -> ChartImage | None:
    return session.exec(
        select(ChartImage)
        .where(ChartImage.workspace_id == workspace_id, ChartImage.kind == kind)
        .order_by(col(ChartImage.created_at).desc(), col(ChartImage.id).desc())
    ).first()


def keep(
    session: Session, workspace_id: int, kind: str, digest: str, png: bytes, now: datetime
) -> tuple[ChartImage, list[str]]:
    """Store a chart just drawn (or return the same one another process stored first), dropping older ones:
    the chart, and the refs of the dropped ones (the platform's copies, to delete there)."""
    try:
        with session.begin_nested():
            image = ChartImage(workspace_id=workspace_id, kind=kind, digest=digest, token=secrets.token_urlsafe(32),
                               png=png, created_at=now)  # fmt: skip
            session.add(image)
    except IntegrityError:
        found = find(session, workspace_id, kind, digest)
        assert found is not None
        return found, []
    older = session.exec(
        select(ChartImage.id, ChartImage.ref)
        .where(ChartImage.workspace_id == workspace_id, ChartImage.kind == kind)
        .order_by(col(ChartImage.created_at).desc(), col(ChartImage.id).desc())
        .offset(KEEP)
    ).all()
    if older:
        session.exec(delete(ChartImage).where(col(ChartImage.id).in_([id_ for id_, _ in older])))
    return image, [ref for _, ref in older if ref]


def set_ref(session: Session, image_id: int, ref: str, now: datetime) -> bool:
    """Record how the platform shows the chart; False when another process recorded its own first (this one's
    copy is then not needed)."""
    image = session.get(ChartImage, image_id, with_for_update=True)
    if image is None or image.ref is not None:
        return False
    image.ref, image.ref_at = ref[:500], now
    return True


def refused(session: Session, workspace_id: int, refs: list[str], made_before: datetime) -> list[str]:
    """The platform refused to show these charts: those whose ref was made before `made_before` (long enough ago
    for the platform to have finished with the file) are made showable again at the next view. The refs dropped
    (the platform's copies, to delete there)."""
    images = session.exec(
        select(ChartImage).where(
            ChartImage.workspace_id == workspace_id,
            col(ChartImage.ref).in_(refs),
            or_(col(ChartImage.ref_at).is_(None), col(ChartImage.ref_at) < made_before),
        )
    ).all()
    dropped = [image.ref for image in images if image.ref]
    for image in images:
        image.ref = image.ref_at = None
    return dropped


def png_of(session: Session, token: str) -> bytes | None:
    """The picture behind `token`; None for anything else (unknown, dropped, malformed)."""
    if not is_token(token):
        return None
    image = session.exec(select(ChartImage).where(ChartImage.token == token)).first()
    return image.png if image is not None else None
