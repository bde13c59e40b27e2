"""The settings form: every workspace setting with what it is now, and the rules its answers follow."""

from __future__ import annotations

import functools
import re
from datetime import date
from typing import Any
from zoneinfo import available_timezones

from bot.core.calendar import parse_weekly
from bot.core.config import MAX_AREAS_TEXT
from bot.core.messages import ChannelPicker, Checkbox, Form, NumberInput, Option, PeoplePicker, Select, TextInput
from bot.core.workspace import WorkspaceSettings

SETTINGS = "settings"
MAX_AREAS, MAX_AREA = 90, 60
MAX_CHECKINS, MAX_CHECKIN_DAY = 10, 730
QUIET_WEEK = [Option(value="note", label="Post a short note"), Option(value="skip", label="Post nothing")]
GROUP = re.compile(r"S[A-Z0-9]{2,20}")  # a Slack user group


def _split(text: str | None) -> list[str]:
    return [item.strip() for item in re.split(r"[\n,]+", text or "") if item.strip()]


def areas_of(text: str | None) -> list[str]:
    return list(dict.fromkeys(_split(text)))


def days_of(text: str | None) -> list[int]:
    return sorted({int(day) for day in _split(text)})


def groups_of(text: str | None) -> list[str]:
    return list(dict.fromkeys(item.upper() for item in _split(text)))


def settings_form(settings: WorkspaceSettings, context: dict[str, str] | None = None) -> Form:
    people = [a for a in settings.approvers if not GROUP.fullmatch(a)]
    groups = [a for a in settings.approvers if GROUP.fullmatch(a)]
    days = lambda n, label, most: NumberInput(  # noqa: E731
        id=n, label=label, decimal=False, minimum=0, maximum=most, initial=getattr(settings, n), required=True
    )
    return Form(
        form_id=SETTINGS,
        title="Settings",
        submit_label="Save",
        intro="They apply at once to what happens from now (reminders and check-ins already planned keep their "
        "dates), and the intake channel is told in one line what changed.",
        context=context or {},
        fields=[
            ChannelPicker(id="intake_channel", label="Intake channel (cards and threads)",
                          initial=settings.intake_channel or None),
            ChannelPicker(id="wins_channel", label="Wins channel (the weekly announcement)", required=False,
                          initial=settings.wins_channel or None),
            PeoplePicker(id="approvers", label="Approvers", initial=people,
                         hint="Nobody: the workspace's admins decide."),
            TextInput(id="approver_groups", label="Approver user groups (Slack: S… ids)", required=False,
                      max_length=500, initial=", ".join(groups) or None),
            PeoplePicker(id="fallback_approvers", label="Fallback approvers",
                         initial=[a for a in settings.fallback_approvers if not GROUP.fullmatch(a)],
                         hint="Asked when approvers do not answer; they may also change these settings."),
            TextInput(id="fallback_groups", label="Fallback approver user groups (Slack: S… ids)", required=False,
                      max_length=500, initial=", ".join(a for a in settings.fallback_approvers if GROUP.fullmatch(a))
                      or None),
            NumberInput(id="hourly_rate", label="Hourly rate (what an hour lost costs)", minimum=0.01,
                        maximum=100_000, initial=settings.hourly_rate, required=True),
            TextInput(id="currency", label="Currency", max_length=5, initial=settings.currency),
            TextInput(id="process_areas", label="Process areas (one per line)", multiline=True,
                      max_length=MAX_AREAS_TEXT, initial="\n".join(settings.process_areas)),
            TextInput(id="checkin_days", label="Check-ins, days after a fix went live", max_length=60,
                      initial=", ".join(str(d) for d in settings.checkin_days), placeholder="7, 30, 90"),
            TextInput(id="digest_at", label="Weekly announcement (weekday and time)", max_length=20,
                      initial=settings.digest_at, placeholder="fri 16:00"),
            TextInput(id="timezone", label="Time zone", max_length=64, initial=settings.timezone,
                      placeholder="Europe/Berlin"),
            Select(id="digest_when_empty", label="A week without wins", options=QUIET_WEEK,
                   initial=settings.digest_when_empty),
            days("nudge_whys_days", "Nudge an unanswered why after (working days, 0: never)", 60),
            days("stall_whys_days", "... then mark it stalled after (working days, 0: never)", 120),
            days("remind_approval_days", "Remind approvers after (working days, 0: never)", 60),
            days("escalate_approval_days", "... then ask the fallback approvers after (working days, 0: never)", 60),
            Checkbox(id="anonymous_reports", label="Anonymous reports", option_label="Offer “Report anonymously”",
                     initial=settings.anonymous_reports),
            NumberInput(id="retention_days", label="Keep delivered messages (days)", decimal=False, minimum=1,
                        maximum=3650, initial=settings.retention_days, required=True),
        ],
    )  # fmt: skip


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())  # read from the zone files once


def check(values: dict[str, Any], _today: date) -> dict[str, str]:
    """The rules across a field's text: each problem on its field."""
    errors: dict[str, str] = {}
    areas = areas_of(values.get("process_areas"))
    if not areas or len(areas) > MAX_AREAS or any(len(a) > MAX_AREA for a in areas):
        errors["process_areas"] = f"Give 1 to {MAX_AREAS} areas, one per line, each under {MAX_AREA} characters."
    try:
        days = days_of(values.get("checkin_days"))
        if not days or len(days) > MAX_CHECKINS or days[0] < 1 or days[-1] > MAX_CHECKIN_DAY:
            raise ValueError
    except ValueError:
        errors["checkin_days"] = f"Give 1 to {MAX_CHECKINS} day counts from 1 to {MAX_CHECKIN_DAY}, like 7, 30, 90."
    try:
        parse_weekly(values.get("digest_at") or "")
    except ValueError:
        errors["digest_at"] = "A weekday and a time, like fri 16:00."
    if (values.get("timezone") or "").strip() not in _zones():
        errors["timezone"] = "An IANA time zone, like Europe/Berlin or America/New_York."
    for field in ("approver_groups", "fallback_groups"):
        if not all(GROUP.fullmatch(g) for g in groups_of(values.get(field))):
            errors[field] = "Slack user group ids start with S, like S0123ABCD (comma separated)."
    if not (values.get("currency") or "").strip():
        errors["currency"] = "Give the currency's symbol or code, like $ or EUR."
    return errors
