"""What settings in chat register: `/improve settings` and its form."""

from __future__ import annotations

from typing import Any

from bot.core.commands import Invocation, Subcommand
from bot.core.outcomes import Notice, OpenForm, Outcome
from bot.core.registry import Act, Answer, FormHandler, Lookup, Registry
from bot.settings import change, forms


def register(registry: Registry) -> None:
    registry.command(
        Subcommand(
            name="settings",
            summary="Change the workspace's settings: channels, approvers, rates, areas, check-ins, the weekly "
            "announcement, reminders, anonymity (admins).",
            run=_open,
            admin=True,
        )
    )
    registry.form(
        forms.SETTINGS,
        FormHandler(spec=forms.settings_form, apply=_saved, check=forms.check, verify=_postable, admin=True,
                    workspace_changed=True),
    )  # fmt: skip


def _open(act: Act, invocation: Invocation) -> Outcome:
    if not act.actor.is_admin:
        return Notice(change.ONLY_ADMINS)
    return OpenForm(forms.settings_form(act.ws.settings, invocation.context))


def _saved(act: Act, answer: Answer) -> Outcome:
    return Notice(change.save(act.session, act.ws, act.actor, answer.values, act.now))


async def _postable(lookup: Lookup, values: dict[str, Any]) -> dict[str, str]:
    """Can the bot post in the channels chosen? Said on the field when it cannot."""
    problems = {}
    for field in ("intake_channel", "wins_channel"):
        channel = values.get(field)
        problem = await lookup.directory.can_post(channel) if channel else None
        if problem:
            problems[field] = problem
    return problems
