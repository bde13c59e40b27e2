"""Chronic problems: the ones that keep coming back because their root cause was never found. An improvement is
chronic when its fix slipped and was reopened twice, when at least three closed or sustained improvements of its
area were about the same (their problem or root cause like its problem, or its root cause once found), or when
five people said Me too. Once chronic it stays so (what happened does not unhappen). Chronic problems rank first
among open ones (bot.improvements.ranking), and their 5 Whys start from the earlier chains."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select as sa_select
from sqlmodel import Session, col, or_

from bot.core.domain import CloseReason, Status
from bot.improvements.similar import SIMILAR_AT, similarity
from storage import queries
from storage.models import Improvement

REOPENED, PATTERN, VOICES = "reopened", "pattern", "voices"
REOPENED_AT = 2  # the fix slipped and was reopened this many times
PATTERN_AT = 3  # closed or sustained improvements of the same area about the same problem
VOICES_AT = 5  # people who said Me too
MAX_EARLIER = 300  # the most recent closed or sustained improvements of the area compared with


@dataclass(frozen=True)
class Earlier:
    """A closed or sustained improvement about the same problem, and the root cause its 5 Whys ended at."""

    number: int
    status: str
    root_cause: str | None


def mark(improvement: Improvement, reason: str) -> bool:
    """Mark it chronic for `reason`; False when it was already."""
    if improvement.chronic is not None:
        return False
    improvement.chronic = reason
    return True


def counted(improvement: Improvement) -> bool:
    """After a reopening or a new voice: marks it when it slipped twice or five people said Me too."""
    if improvement.cycle >= REOPENED_AT:
        return mark(improvement, REOPENED)
    if improvement.me_too >= VOICES_AT:
        return mark(improvement, VOICES)
    return False


def earlier_alike(session: Session, improvement: Improvement, text: str) -> list[Earlier]:
    """The closed (not as a duplicate) or sustained improvements of `improvement`'s area whose problem or root
    cause is like `text`, newest first."""
    finished = or_(col(Improvement.status) == Status.SUSTAINED.value,
                   (col(Improvement.status) == Status.CLOSED.value)
                   & (col(Improvement.closed_reason) != CloseReason.DUPLICATE.value))  # fmt: skip
    rows = session.execute(  # five columns: past sqlmodel's typed select
        sa_select(
            col(Improvement.id),
            col(Improvement.number),
            col(Improvement.status),
            col(Improvement.problem),
            col(Improvement.reopen_status),
        )
        .where(col(Improvement.workspace_id) == improvement.workspace_id, col(Improvement.area) == improvement.area)
        .where(finished, col(Improvement.id) != improvement.id)
        .order_by(col(Improvement.updated_at).desc(), col(Improvement.number).desc())
        .limit(MAX_EARLIER)
    ).all()
    answers = queries.answers_of(session, [r.id for r in rows])
    found = []
    for improvement_id, number, status, problem, before_closing in rows:
        # the last answer is a root cause only when the 5 Whys got there (not closed while they ran)
        reached = status == Status.SUSTAINED.value or before_closing not in (None, Status.INVESTIGATING.value)
        root = answers[improvement_id][-1] if reached and improvement_id in answers else None
        if max(similarity(text, problem), similarity(text, root) if root else 0.0) >= SIMILAR_AT:
            found.append(Earlier(number=number, status=status, root_cause=root))
    return found


def pattern(session: Session, improvement: Improvement, text: str) -> list[Earlier]:
    """Marks `improvement` chronic when enough earlier ones of its area were like `text`; returns them (empty
    when too few)."""
    found = earlier_alike(session, improvement, text)
    if len(found) < PATTERN_AT:
        return []
    mark(improvement, PATTERN)
    return found
