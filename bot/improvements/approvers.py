"""Who is asked to decide a proposed fix: never the reporter or the proposer, and always somebody.

The configured approvers minus those two; when that leaves nobody, the fallback approvers (a configured list, or
the platform's admins and owners); when that too leaves nobody, nobody is asked and the proposer is told before
anything is posted. Asked of the platform (async) before the proposal's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from bot.core.ports import ChatError, Directory
from bot.core.workspace import WorkspaceSettings

log = logging.getLogger("improvebot.approvers")
MAX_NAMED = 10  # people named in a request; the rest are counted
MAX_DMS = 25  # people told in a DM; everyone asked may decide


@dataclass(frozen=True)
class Asked:
    """`people`: everyone who may decide this round. `mentions`: who the request names (people and groups, as
    configured; admins as people, at most MAX_NAMED), `more`: the people asked beyond those named. `why`: why
    others than the approvers were asked ("" when they were not). `fallback`: the fallback approvers were asked."""

    people: list[str]
    mentions: list[str]
    more: int = 0
    why: str = ""
    fallback: bool = False
    told: list[str] = field(default_factory=list)  # who got a DM
    escalate_to: dict[str, Any] | None = None  # an Asked: who is asked too when nobody decides in time

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> Asked | None:
        if not isinstance(data, dict):
            return None
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        try:
            return cls(**known)
        except TypeError:
            return None

    @property
    def escalation(self) -> Asked | None:
        return Asked.from_json(self.escalate_to)

    def escalated(self) -> Asked:
        """After the escalation: its people may decide too (and are not asked again)."""
        other = self.escalation
        if other is None:
            return self
        people = list(dict.fromkeys([*self.people, *other.people]))
        told = list(dict.fromkeys([*self.told, *other.told]))
        return Asked(people, self.mentions, self.more, self.why, True, told, None)


async def _named(directory: Directory, entries: list[str], eligible: set[str]) -> list[str]:
    """The configured entries (people or groups) that name at least one eligible person."""
    named = []
    for entry in entries:
        if set(await directory.people([entry])) & eligible:
            named.append(entry)
    return named


async def fallback_of(directory: Directory, settings: WorkspaceSettings, exclude: Collection[str], why: str) -> Asked:
    """The fallback approvers (configured, else the platform's admins) minus `exclude`; no people when none."""
    if settings.fallback_approvers:
        people = [p for p in await directory.people(settings.fallback_approvers) if p not in exclude]
        mentions = await _named(directory, settings.fallback_approvers, set(people))
        return Asked(people, mentions, 0, why, True, people[:MAX_DMS])
    people = [p for p in await directory.admins() if p not in exclude]
    named = people[:MAX_NAMED]
    return Asked(people, named, len(people) - len(named), why, True, people[:MAX_DMS])


async def resolve(directory: Directory, settings: WorkspaceSettings, exclude: Collection[str]) -> Asked | None:
    """Who decides a request `exclude` (the reporter and the proposer) may not decide; None: nobody can. With the
    approvers asked, the fallback approvers are who an escalation asks (when there are others).
    Raises ChatError when the platform cannot say right now."""
    if settings.approvers:
        everyone = await directory.people(settings.approvers)
        people = [p for p in everyone if p not in exclude]
        if people:
            mentions = await _named(directory, settings.approvers, set(people))
            asked = Asked(people, mentions, 0, "", False, people[:MAX_DMS])
            if not (settings.remind_approval_days and settings.escalate_approval_days):
                return asked  # no escalation will ever ask anyone else
            try:
                escalation = await fallback_of(directory, settings, {*exclude, *people}, "")
            except ChatError as exc:  # the request goes out all the same; only its escalation is unknown
                log.warning("could not look up who an escalation would ask: %s", exc)
                return asked
            return replace(asked, escalate_to=escalation.to_json() if escalation.people else None)
        label = "the fallback approvers" if settings.fallback_approvers else "the workspace admins"
        why = f"Nobody approves their own report or proposal, so {label} are asked."
        if not everyone:
            why = f"The approvers' groups have nobody in them, so {label} are asked."
    else:
        why = "No approvers are set, so the workspace admins are asked."
        if settings.fallback_approvers:
            why = "No approvers are set, so the fallback approvers are asked."
    asked = await fallback_of(directory, settings, exclude, why)
    return asked if asked.people else None
