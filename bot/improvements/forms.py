"""The forms of the improvement lifecycle: report, propose a fix, decline or ask, implemented.
Their answers are validated by bot.core.forms.validate."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.domain import Frequency
from bot.core.messages import Checkbox, DatePicker, Form, NumberInput, Option, Select, TextInput, UserPicker
from bot.core.workspace import WorkspaceSettings

REPORT = "report"
PROPOSE = "propose"
DECLINE = "decline"
QUESTION = "question"
IMPLEMENTED = "implemented"

OTHER_AREA = "Other"
MAX_PROBLEM = 3000
MIN_PROBLEM = 10  # "x" is not a report: nobody else could tell what is broken
MAX_HOURS_PER_WEEK = 60  # per person: more than a full working week is not a lost hour, it is a typo
MAX_PEOPLE = 1000
MAX_SHORT = 200


def report_form(settings: WorkspaceSettings, prefill: str = "", context: dict[str, str] | None = None) -> Form:
    areas = [Option(value=a, label=a) for a in settings.process_areas if a != OTHER_AREA]
    areas.append(Option(value=OTHER_AREA, label=OTHER_AREA))
    return Form(
        form_id=REPORT,
        title="Report a broken process",
        submit_label="Report",
        intro="Whoever sees the problem is the best person to fix it. Tell us what bites, and roughly how much.",
        context=context or {},
        fields=[
            TextInput(
                id="problem",
                label="What's broken?",
                multiline=True,
                max_length=MAX_PROBLEM,
                min_length=MIN_PROBLEM,
                initial=prefill[:MAX_PROBLEM] or None,
                placeholder="e.g. Every campaign email is reviewed three times by eight people",
            ),
            Select(id="area", label="Process area", options=areas),
            Select(
                id="frequency",
                label="How often does it bite?",
                options=[Option(value=f.value, label=f.label) for f in Frequency],
                initial=Frequency.WEEKLY.value,
            ),
            NumberInput(
                id="hours_per_week",
                label="Hours lost per week (per person)",
                maximum=MAX_HOURS_PER_WEEK,
                hint="A rough guess is fine: it makes the case for fixing it.",
            ),
            NumberInput(id="people", label="People affected", decimal=False, minimum=1, maximum=MAX_PEOPLE),
            Checkbox(id="customers_notice", label="Customers", option_label="Customers notice this"),
            TextInput(
                id="idea",
                label="Your idea for a fix",
                required=False,
                multiline=True,
                max_length=MAX_PROBLEM,
            ),
        ],
    )


@dataclass(frozen=True)
class ProposalPrefill:
    countermeasure: str | None = None
    measure: str | None = None
    baseline: str | None = None
    target: str | None = None
    not_to_do: str | None = None
    owner: str | None = None
    due_date: str | None = None


def propose_form(number: int, prefill: ProposalPrefill, context: dict[str, str]) -> Form:
    return Form(
        form_id=PROPOSE,
        title=f"Propose a fix for #{number}",
        submit_label="Ask for approval",
        intro="Name the fix, how you will know it worked, and what work it lets someone stop doing.",
        context=context,
        fields=[
            TextInput(id="countermeasure", label="The fix (countermeasure)", multiline=True,
                      initial=prefill.countermeasure),
            TextInput(id="measure", label="How will we measure it?", multiline=True, max_length=1000,
                      initial=prefill.measure,
                      placeholder="e.g. Duplicate leads per week, counted in the CRM every Friday"),
            TextInput(id="baseline", label="Baseline now", required=False, max_length=MAX_SHORT,
                      initial=prefill.baseline, placeholder="e.g. 40 duplicates/week"),
            TextInput(id="target", label="Target", required=False, max_length=MAX_SHORT,
                      initial=prefill.target, placeholder="e.g. under 5/week"),
            TextInput(id="not_to_do", label="What work does it let someone stop doing?", required=False,
                      multiline=True, max_length=1000, initial=prefill.not_to_do,
                      placeholder="e.g. The Monday dedupe spreadsheet"),
            UserPicker(id="owner", label="Owner", initial=prefill.owner),
            DatePicker(id="due_date", label="Due date", initial=prefill.due_date),
        ],
    )  # fmt: skip


def reason_form(form_id: str, number: int, context: dict[str, str]) -> Form:
    if form_id == DECLINE:
        title, label, submit = f"Decline #{number}", "Why is it declined?", "Decline"
    else:
        title, label, submit = f"Ask about #{number}", "Your question", "Ask"
    return Form(
        form_id=form_id,
        title=title,
        submit_label=submit,
        context=context,
        fields=[TextInput(id="text", label=label, multiline=True, max_length=MAX_PROBLEM)],
    )


def implemented_form(number: int, measure: str | None, baseline: str | None, context: dict[str, str]) -> Form:
    label = "What does the metric read now?"
    return Form(
        form_id=IMPLEMENTED,
        title=f"#{number} implemented",
        submit_label="Mark implemented",
        intro=(f"Measured by: {measure}" + (f" (baseline {baseline})" if baseline else "")) if measure else None,
        context=context,
        fields=[
            TextInput(id="metric_now", label=label, max_length=MAX_SHORT),
            TextInput(id="note", label="A note for the team", required=False, multiline=True, max_length=1000),
        ],
    )
