"""What the bot says, as plain data: a small vocabulary every platform renders natively.

bot/ composes messages and forms from these pieces; handlers/<platform> turns them into Block Kit,
Adaptive Cards or terminal text. They are pydantic models so the outbox can store them as JSON.
Text in a `Text` span is shown literally: every renderer escapes it, so user text can never ping anyone.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Piece(BaseModel):
    model_config = ConfigDict(frozen=True)


# -- inline spans ------------------------------------------------------------------------------------


class Text(_Piece):
    kind: Literal["text"] = "text"
    text: str


class Bold(_Piece):
    kind: Literal["bold"] = "bold"
    text: str


class Mention(_Piece):
    """A person, by their platform user id; rendered as a real mention."""

    kind: Literal["mention"] = "mention"
    user: str


class Link(_Piece):
    """A link the bot made (never one a person typed): `text` shown, `url` opened."""

    kind: Literal["link"] = "link"
    text: str
    url: str


class ThreadLink(_Piece):
    """A link to the thread of the improvement the message belongs to (or of `improvement`, by its row id, in a
    message about many). Delivery resolves it, right before the send, to a Link (the platform's permalink to the
    card) or, where there is none, to plain text."""

    kind: Literal["thread_link"] = "thread_link"
    text: str
    improvement: int | None = None


Span = Annotated[Text | Bold | Mention | Link | ThreadLink, Field(discriminator="kind")]


def spans(*parts: str | Text | Bold | Mention | Link | ThreadLink) -> list[Span]:
    """Convenience: plain strings become Text spans."""
    return [Text(text=p) if isinstance(p, str) else p for p in parts]


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, with an ellipsis when something was cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- blocks ------------------------------------------------------------------------------------------


class Heading(_Piece):
    kind: Literal["heading"] = "heading"
    text: str


class Paragraph(_Piece):
    kind: Literal["paragraph"] = "paragraph"
    spans: list[Span]


class Quote(_Piece):
    kind: Literal["quote"] = "quote"
    spans: list[Span]


class FieldItem(_Piece):
    label: str
    spans: list[Span]


class Fields(_Piece):
    kind: Literal["fields"] = "fields"
    items: list[FieldItem]


class Context(_Piece):
    kind: Literal["context"] = "context"
    spans: list[Span]


class Button(_Piece):
    label: str
    action: str
    value: str
    style: Literal["primary", "danger"] | None = None


class Actions(_Piece):
    kind: Literal["actions"] = "actions"
    buttons: list[Button]


class Image(_Piece):
    """A picture inside a message (a chart). `ref` is what the platform's own ChatPort.image made of it (a file
    id, a URL, a path); `alt` says in words what it shows, for whoever cannot see it."""

    kind: Literal["image"] = "image"
    ref: str
    title: str
    alt: str


Block = Annotated[Heading | Paragraph | Quote | Fields | Context | Actions | Image, Field(discriminator="kind")]


class Message(_Piece):
    """`summary` is the plain notification text (push notifications, screen readers)."""

    summary: str
    blocks: list[Block]
    # a view a platform may fetch again for the person looking at it (Teams: the card's `refresh` action): the
    # verb it is asked for by, e.g. "home"
    refresh: str | None = None

    @property
    def buttons(self) -> list[Button]:
        return [b for block in self.blocks if isinstance(block, Actions) for b in block.buttons]

    @property
    def images(self) -> list[str]:
        return [block.ref for block in self.blocks if isinstance(block, Image)]

    def without_images(self) -> Message:
        """The same message without its pictures (their words stay): where a platform refused one."""
        return self.model_copy(update={"blocks": [b for b in self.blocks if not isinstance(b, Image)]})


# -- forms -------------------------------------------------------------------------------------------


class TextInput(_Piece):
    kind: Literal["text"] = "text"
    id: str
    label: str
    required: bool = True
    multiline: bool = False
    max_length: int = 3000
    min_length: int = 0  # checked by bot.core.forms (the same message on every platform)
    initial: str | None = None
    placeholder: str | None = None
    hint: str | None = None


class NumberInput(_Piece):
    kind: Literal["number"] = "number"
    id: str
    label: str
    required: bool = False
    decimal: bool = True
    minimum: float = 0
    maximum: float = 1_000_000
    initial: float | None = None
    hint: str | None = None


class Option(_Piece):
    value: str
    label: str


class Select(_Piece):
    kind: Literal["select"] = "select"
    id: str
    label: str
    options: list[Option]
    required: bool = True
    initial: str | None = None


class Checkbox(_Piece):
    kind: Literal["checkbox"] = "checkbox"
    id: str
    label: str
    option_label: str
    initial: bool = False


class UserPicker(_Piece):
    kind: Literal["user"] = "user"
    id: str
    label: str
    required: bool = True
    initial: str | None = None


class PeoplePicker(_Piece):
    """Several people (approvers): a list of user ids."""

    kind: Literal["people"] = "people"
    id: str
    label: str
    required: bool = False
    initial: list[str] = Field(default_factory=list)
    hint: str | None = None


class ChannelPicker(_Piece):
    """A channel the bot posts in (Slack: a conversation picker; elsewhere its id)."""

    kind: Literal["channel"] = "channel"
    id: str
    label: str
    required: bool = True
    initial: str | None = None
    hint: str | None = None


class DatePicker(_Piece):
    kind: Literal["date"] = "date"
    id: str
    label: str
    required: bool = False
    initial: str | None = None  # ISO date


FormField = Annotated[
    TextInput | NumberInput | Select | Checkbox | UserPicker | PeoplePicker | ChannelPicker | DatePicker,
    Field(discriminator="kind"),
]


class Form(_Piece):
    """A form to open for one person. `form_id` names what submits it; `context` comes back with the answer."""

    form_id: str
    title: str
    submit_label: str
    intro: str | None = None
    fields: list[FormField]
    context: dict[str, str] = Field(default_factory=dict)

    def field(self, field_id: str) -> FormField:
        for f in self.fields:
            if f.id == field_id:
                return f
        raise KeyError(field_id)


FormValue = str | bool | None
