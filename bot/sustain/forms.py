"""The check-in answer form: a fresh reading of the metric and a note, both optional."""

from __future__ import annotations

from bot.core.messages import Form, TextInput
from bot.improvements.forms import MAX_SHORT

CHECKIN = "checkin"


def checkin_form(number: int, answer: str, measure: str | None, context: dict[str, str]) -> Form:
    title = f"#{number} still holding" if answer == "holding" else f"#{number} slipping"
    return Form(
        form_id=CHECKIN,
        title=title,
        submit_label="Send",
        intro=f"Measured by: {measure}" if measure else None,
        context=context,
        fields=[
            TextInput(id="reading", label="What does the metric read now?", required=False, max_length=MAX_SHORT),
            TextInput(id="note", label="A note for the team", required=False, multiline=True, max_length=1000),
        ],
    )
