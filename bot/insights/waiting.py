"""What waits on one person: approvals asked of them, whys they have not answered (and a question put to them),
their check-ins, their overdue fixes. A handful of indexed queries; shared by `/improve list waiting` and the
home view."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from sqlalchemy import String, cast
from sqlmodel import Session, col, or_, select

from bot.core.domain import Status
from bot.core.outcomes import Actor
from bot.core.workspace import WorkspaceRef
from bot.improvements.approvers import Asked
from bot.improvements.card import owner_of
from bot.sustain.checkins import pending_for
from storage.models import Checkin, Decision, Improvement

MAX_EACH = 25  # of each kind: more than that is a list, not a to-do


@dataclass
class Waiting:
    approvals: list[Improvement] = field(default_factory=list)
    whys: list[Improvement] = field(default_factory=list)  # the reporter's 5 Whys, or an approver's question
    checkins: list[tuple[Checkin, Improvement]] = field(default_factory=list)
    overdue: list[Improvement] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.approvals) + len(self.whys) + len(self.checkins) + len(self.overdue)

    @property
    def capped(self) -> bool:
        """A kind reached MAX_EACH: there may be more than `count` says."""
        return any(len(kind) >= MAX_EACH for kind in (self.approvals, self.whys, self.checkins, self.overdue))

    @property
    def improvements(self) -> list[Improvement]:
        """Each improvement once, in the order shown."""
        seen: dict[int, Improvement] = {}
        for imp in [*self.approvals, *self.whys, *(i for _, i in self.checkins), *self.overdue]:
            seen.setdefault(imp.id or 0, imp)
        return list(seen.values())


def waiting_on(session: Session, ws: WorkspaceRef, actor: Actor) -> Waiting:
    return Waiting(
        approvals=_approvals(session, ws, actor),
        whys=list(
            session.exec(
                select(Improvement)
                .where(
                    Improvement.workspace_id == ws.id,
                    Improvement.reporter_id == actor.user,
                    col(Improvement.status).in_((Status.INVESTIGATING.value, Status.QUESTION_ASKED.value)),
                )
                .order_by(col(Improvement.updated_at))
                .limit(MAX_EACH)
            ).all()
        ),
        checkins=pending_for(session, ws, actor.user)[:MAX_EACH],
        overdue=[
            imp
            for imp in session.exec(
                select(Improvement)
                .where(
                    Improvement.workspace_id == ws.id,
                    Improvement.status == Status.APPROVED.value,
                    col(Improvement.overdue_at).is_not(None),
                    (col(Improvement.owner_id) == actor.user)
                    | (col(Improvement.owner_id).is_(None) & (col(Improvement.reporter_id) == actor.user)),
                )
                .order_by(col(Improvement.due_date))
                .limit(MAX_EACH)
            ).all()
            if owner_of(imp) == actor.user
        ],
    )


def _approvals(session: Session, ws: WorkspaceRef, actor: Actor) -> list[Improvement]:
    """Waiting for approval and this person may decide it (an approver, or asked by the request), unless they
    reported it or proposed its fix (someone else decides those): the longest waiting first, at most MAX_EACH.
    For an approver the database filters; for anyone else who was asked, the requests are read in batches."""
    this_round = (
        (col(Decision.improvement_id) == col(Improvement.id))
        & (col(Decision.round) == col(Improvement.approval_round))
        & (col(Decision.kind) == "proposed")
    )
    statement = (
        select(Improvement, Decision)
        .join(Decision, this_round, isouter=True)
        .where(
            Improvement.workspace_id == ws.id,
            Improvement.status == Status.AWAITING_APPROVAL.value,
            Improvement.reporter_id != actor.user,
            or_(col(Decision.actor_id).is_(None), col(Decision.actor_id) != actor.user),
        )
        .order_by(col(Improvement.updated_at), col(Improvement.id))
    )
    if actor.is_approver:
        return [imp for imp, _ in session.exec(statement.limit(MAX_EACH)).all()]
    # anyone else: the requests that name them (the database finds the candidates, the request's own list decides)
    named = "%" + json.dumps(actor.user).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    statement = statement.where(cast(col(Decision.asked), String).like(named, escape="\\"))
    mine = []
    for improvement, proposal in session.exec(statement.execution_options(yield_per=500)):
        asked = Asked.from_json(proposal.asked) if proposal is not None and proposal.asked else None
        if asked and actor.user in asked.people:
            mine.append(improvement)
            if len(mine) == MAX_EACH:
                break
    return mine
