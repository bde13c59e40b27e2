"""A form's openings: each form the bot opens carries a one-time instance id, so its answer is saved once
however often it arrives (a double click, a retry, two people on one Teams card each answer once)."""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import replace

from bot.core.outcomes import OpenForm, Outcome
from bot.core.registry import Act
from storage import queries
from storage.models import ProcessedEvent

INSTANCE = "instance"  # in every opened form's context: which opening of the form an answer belongs to
_INSTANCE = re.compile(r"[0-9a-f]{32}")


def stamped(outcome: Outcome) -> Outcome:
    """A form the person opens carries a one-time id, so its answer is saved once however often it arrives."""
    if not isinstance(outcome, OpenForm):
        return outcome
    context = {**outcome.form.context, INSTANCE: uuid.uuid4().hex}
    return replace(outcome, form=outcome.form.model_copy(update={"context": context}))


def claim_key(instance: str, user: str) -> str:
    """A form card in a Teams channel is one opening answered by several people: each answer is its own. Kept
    as a digest: who answered which form (an anonymous report's) is not written down."""
    if not _INSTANCE.fullmatch(instance):
        raise ValueError("not a form instance")  # tampered: "out of date"
    return "form:" + hashlib.sha256(f"{instance}:{user}".encode()).hexdigest()[:48]


def claim(act: Act, instance: str | None) -> bool:
    """In the answer's own transaction: False when this person answered this opening of the form already. (An
    answer that fails rolls its claim back, so it can be sent again.)"""
    if instance is None:
        return True  # a form opened before instances existed
    key = claim_key(instance, act.actor.user)
    if queries.event_seen(act.session, act.ws.id, key):
        return False
    act.session.add(ProcessedEvent(workspace_id=act.ws.id, event_id=key, at=act.now))
    return True
