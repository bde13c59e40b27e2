"""What settings in chat register: `/improve settings` and its form."""

from __future__ import annotations

from typing import Any

from bot.core.commands import Invocation, Subcommand
from bot.core.outcomes import Notice, OpenForm, Outcome
from bot.core.ports import ChatError
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
        FormHandler(spec=forms.settings_form, apply=_saved, check=forms.check, verify=_verify, admin=True,
                    workspace_changed=True),
    )  # fmt: skip


def _open(act: Act, invocation: Invocation) -> Outcome:
    if not act.actor.is_admin:
        return Notice(change.ONLY_ADMINS)
    return OpenForm(forms.settings_form(act.ws.settings, invocation.context))


def _saved(act: Act, answer: Answer) -> Outcome:
    return Notice(change.save(act.session, act.ws, act.actor, answer.values, act.now))


async def _verify(lookup: Lookup, values: dict[str, Any]) -> dict[str, str]:
    """What only the platform can tell: can the bot post (and, in the intake channel, read) in the channels
    chosen, and would the person keep the right to change these settings."""
    problems = {}
    for field, member in (("intake_channel", True), ("wins_channel", False)):
        channel = values.get(field)
        problem = await lookup.directory.can_post(channel, member=member) if channel else None
        if problem:
            problems[field] = problem
    fallback = [*(values.get("fallback_approvers") or []), *forms.groups_of(values.get("fallback_groups"))]
    try:
        stays = await lookup.directory.is_approver(lookup.user, fallback) if fallback else False
        stays = stays or lookup.user in await lookup.directory.admins()
    except ChatError:
        stays = True  # cannot tell: not held against the choice
    if not stays:
        problems["fallback_approvers"] = change.LOCKED_OUT
    return problems
