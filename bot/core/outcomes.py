"""Who acts, and what an interaction ends in: the plain answers the service hands back to every platform."""

from __future__ import annotations

from dataclasses import dataclass

from bot.core.messages import Form, Message


@dataclass(frozen=True)
class Actor:
    user: str
    is_approver: bool = False
    is_admin: bool = False  # looked up only for what needs it (Subcommand.admin): the fallback approvers, or admins


class Refused(Exception):
    """The person may not do this now; the message is shown to them privately."""


class Invalid(Exception):
    """A form's answer cannot be taken as it is: shown on its fields (the form stays open with what was typed),
    and nothing of it is saved."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class AskFirst(Exception):
    """Before a form's answer is saved, one more question: `form` is the same form again, with what was typed and
    the question added. Nothing of the answer is saved (the platform shows `form` in place of the one submitted)."""

    def __init__(self, form: Form) -> None:
        super().__init__(form.form_id)
        self.form = form


@dataclass(frozen=True)
class OpenForm:
    form: Form
    leftover: str = ""  # typed text the form could not take (over its limit), handed back so nothing is lost

    LEFTOVER = "Your text is longer than the form takes, so it opened with the first part. Here is the rest:"


@dataclass(frozen=True)
class Notice:
    """A short private message (plain text) to the person who acted."""

    text: str


@dataclass(frozen=True)
class Show:
    """A private message with live buttons, to the person who acted (a list, the help)."""

    message: Message


@dataclass(frozen=True)
class ShowHome:
    """Show the person their home view (the service renders it: it may draw and upload the team chart)."""


@dataclass(frozen=True)
class FormErrors:
    errors: dict[str, str]


@dataclass(frozen=True)
class Done:
    pass


Outcome = OpenForm | Notice | Show | ShowHome | FormErrors | Done

STALE = "That button or form is out of date. Scroll to the latest message in the thread."
UNAVAILABLE = "Sorry, I can't save anything right now. Please try again in a minute; nothing you did was lost."
SORRY = "Sorry, something went wrong on my side. Please try again in a moment."
NOT_SAVED = "Sorry, this could not be saved just now. Please submit again in a moment; what you typed is kept."
NOT_RECORDED = (
    "I couldn't record that message just now. If it was an answer to a why, please send it again in a minute."
)
