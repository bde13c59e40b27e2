"""Pure renderers: the neutral vocabulary in, Adaptive Card JSON out (and card inputs back to plain values).

People are Azure AD object ids in our data; a mention becomes `<at>Name</at>` plus a mention entity. User text
never creates an entity, so `<at>Maya</at>` typed by a user is shown, not executed.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Mapping
from html.parser import HTMLParser
from typing import Any

from bot.core.forms import NOT_A_PERSON
from bot.core.identity import stand_in
from bot.core.messages import (
    Actions,
    Block,
    Bold,
    ChannelPicker,
    Checkbox,
    Context,
    DatePicker,
    Fields,
    Form,
    FormValue,
    Heading,
    Image,
    Link,
    Mention,
    Message,
    NumberInput,
    Paragraph,
    PeoplePicker,
    Quote,
    Select,
    Span,
    TextInput,
    UserPicker,
)

_AAD = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
COMMAND_WORD = "improve"  # how the command is typed in Teams (in a channel, after @mentioning the bot)
CARD_VERSION = "1.5"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
SUBMIT = "form.submit"  # the verb of every form's submit button
UNKNOWN = "someone"


class _Mentions:
    """Collects the mention entities a card needs (one per person)."""

    def __init__(self, names: Mapping[str, str]) -> None:
        self._names = names
        self.entities: dict[str, dict[str, Any]] = {}

    def tag(self, user: str) -> str:
        name = _plain_name(self._names.get(user) or UNKNOWN)
        text = f"<at>{name}</at>"
        self.entities.setdefault(user, {"type": "mention", "text": text, "mentioned": {"id": user, "name": name}})
        return text

    def name(self, user: str) -> str:
        return _plain_name(self._names.get(user) or UNKNOWN)


def _plain_name(name: str) -> str:
    return name.replace("<", "").replace(">", "")[:80]


def neutralize(text: str) -> str:
    """User text: `<at>` tags only work with an entity we add, but never let one look like ours; and a markdown
    link typed by a user (`[Approve](https://…)`) is shown, not made clickable."""
    return text.replace("<at>", "‹at›").replace("</at>", "‹/at›").replace("](", "] (")


def _text(parts: list[Span], mentions: _Mentions, *, with_mentions: bool = True) -> str:
    out = []
    for part in parts:
        if isinstance(part, Mention) and stand_in(part.user):  # an anonymous reporter, an erased person
            out.append(stand_in(part.user) or "")
        elif isinstance(part, Mention):
            out.append(mentions.tag(part.user) if with_mentions else mentions.name(part.user))
        elif isinstance(part, Bold):
            stripped = part.text.rstrip()
            out.append(f"**{neutralize(stripped)}**{part.text[len(stripped) :]}" if stripped else part.text)
        elif isinstance(part, Link):
            url = part.url.replace("(", "%28").replace(")", "%29").replace(" ", "%20")
            out.append(f"[{neutralize(part.text).replace(']', '')}]({url})")
        else:
            out.append(neutralize(part.text))
    return _LINE_BREAK.sub("\n\n", "".join(out))


# an Adaptive Card TextBlock is Markdown: a single line break shows as a space, a blank line as a new line
_LINE_BREAK = re.compile(r"(?<!\n)\n(?!\n)")


def _block(item: Block, mentions: _Mentions) -> dict[str, Any]:
    if isinstance(item, Heading):
        return {"type": "TextBlock", "text": neutralize(item.text), "size": "Medium", "weight": "Bolder", "wrap": True}
    if isinstance(item, Paragraph):
        return {"type": "TextBlock", "text": _text(item.spans, mentions), "wrap": True}
    if isinstance(item, Quote):
        return {
            "type": "Container",
            "style": "emphasis",
            "items": [{"type": "TextBlock", "text": _text(item.spans, mentions), "wrap": True, "isSubtle": True}],
        }
    if isinstance(item, Fields):  # facts cannot carry mentions: people show by name there
        facts = [{"title": f.label, "value": _text(f.spans, mentions, with_mentions=False)} for f in item.items]
        return {"type": "FactSet", "facts": facts}
    if isinstance(item, Context):
        return {
            "type": "TextBlock",
            "text": _text(item.spans, mentions),
            "wrap": True,
            "isSubtle": True,
            "size": "Small",
        }
    if isinstance(item, Actions):
        actions = []
        for b in item.buttons:
            action: dict[str, Any] = {"type": "Action.Execute", "title": b.label, "verb": b.action,
                                      "data": {"value": b.value}}  # fmt: skip
            if b.style:
                action["style"] = "positive" if b.style == "primary" else "destructive"
            actions.append(action)
        return {"type": "ActionSet", "actions": actions}
    if isinstance(item, Image):  # its URL on the bot's own server (TeamsChat.image)
        return {"type": "Image", "url": item.ref, "altText": item.alt[:1000], "size": "Stretch"}
    raise TypeError(f"cannot render {item!r}")


def card(message: Message, names: Mapping[str, str]) -> dict[str, Any]:
    """An Adaptive Card for a message; `names` maps AAD object ids to display names for mentions."""
    mentions = _Mentions(names)
    body = [_block(b, mentions) for b in message.blocks]
    result: dict[str, Any] = {"type": "AdaptiveCard", "version": CARD_VERSION, "body": body}
    if mentions.entities:
        result["msteams"] = {"entities": list(mentions.entities.values())}
    if message.refresh:  # Universal Actions: Teams asks for it again, per person, whenever it is shown
        refresh = {"type": "Action.Execute", "title": "Refresh", "verb": message.refresh, "data": {}}
        result["refresh"] = {"action": refresh}
        for action_set in (b for b in body if b["type"] == "ActionSet"):
            for action in action_set["actions"]:  # a click on this view answers with the view again
                action["data"]["view"] = message.refresh
    return result


def text_card(text: str) -> dict[str, Any]:
    return {"type": "AdaptiveCard", "version": CARD_VERSION,
            "body": [{"type": "TextBlock", "text": neutralize(text), "wrap": True}]}  # fmt: skip


def attachment(card_json: dict[str, Any]) -> dict[str, Any]:
    return {"contentType": "application/vnd.microsoft.card.adaptive", "content": card_json}


# -- forms -------------------------------------------------------------------------------------------


def _as_number(text: str) -> float | None:
    """A typed answer as the number a card's number input needs; None when it is not one (it is asked again)."""
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _input(spec: Any, value: FormValue, names: Mapping[str, str]) -> dict[str, Any]:
    common: dict[str, Any] = {"id": spec.id, "label": spec.label}
    if isinstance(spec, TextInput):
        element = {"type": "Input.Text", **common, "isMultiline": spec.multiline, "maxLength": spec.max_length,
                   "isRequired": spec.required}  # fmt: skip
        if spec.placeholder:
            element["placeholder"] = spec.placeholder
        initial = value if isinstance(value, str) else spec.initial
        if initial:
            element["value"] = initial[: spec.max_length]
        return element
    if isinstance(spec, NumberInput):
        element = {"type": "Input.Number", **common, "min": spec.minimum, "max": spec.maximum,
                   "isRequired": spec.required}  # fmt: skip
        number = _as_number(value) if isinstance(value, str) else None
        if number is not None:
            element["value"] = number  # a number: Teams drops a string here, the very answer to be corrected
        elif spec.initial is not None:
            element["value"] = spec.initial
        return element
    if isinstance(spec, Select):
        element = {"type": "Input.ChoiceSet", **common, "style": "compact", "isRequired": spec.required,
                   "choices": [{"title": o.label, "value": o.value} for o in spec.options]}  # fmt: skip
        chosen = value if isinstance(value, str) and value else spec.initial
        if chosen:
            element["value"] = chosen
        return element
    if isinstance(spec, Checkbox):
        on = value if isinstance(value, bool) else spec.initial
        return {"type": "Input.Toggle", "id": spec.id, "title": spec.option_label, "valueOn": "true",
                "valueOff": "false", "value": "true" if on else "false"}  # fmt: skip
    if isinstance(spec, UserPicker):  # Teams' people picker: values are AAD object ids
        people = {"type": "Data.Query", "dataset": "graph.microsoft.com/users"}
        element = {"type": "Input.ChoiceSet", **common, "isRequired": spec.required,
                   "choices": [], "choices.data": people}  # fmt: skip
        chosen = value if isinstance(value, str) and value else spec.initial
        if chosen:
            element["value"] = chosen
            element["choices"] = [{"title": names.get(chosen) or UNKNOWN, "value": chosen}]
        return element
    if isinstance(spec, PeoplePicker):  # the same people picker, several at once (comma-separated ids)
        people = {"type": "Data.Query", "dataset": "graph.microsoft.com/users"}
        element = {"type": "Input.ChoiceSet", **common, "isRequired": spec.required, "isMultiSelect": True,
                   "choices": [], "choices.data": people}  # fmt: skip
        several = value.split(",") if isinstance(value, str) and value else spec.initial
        if several:
            element["value"] = ",".join(several)
            element["choices"] = [{"title": names.get(p) or UNKNOWN, "value": p} for p in several]
        return element
    if isinstance(spec, ChannelPicker):  # Teams cards have no channel picker: the channel's id
        element = {"type": "Input.Text", **common, "isRequired": spec.required, "maxLength": 200,
                   "placeholder": "19:…@thread.tacv2 (a channel's Get link to channel contains it)"}  # fmt: skip
        chosen = value if isinstance(value, str) and value else spec.initial
        if chosen:
            element["value"] = chosen
        return element
    if isinstance(spec, DatePicker):
        element = {"type": "Input.Date", **common, "isRequired": spec.required}
        chosen = value if isinstance(value, str) and value else spec.initial
        if chosen:
            element["value"] = chosen
        return element
    raise TypeError(f"cannot render {spec!r}")


def form_card(
    form: Form,
    names: Mapping[str, str],
    *,
    values: Mapping[str, FormValue] | None = None,
    errors: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The form as a card; after a failed submit, the answers are kept and each error shows under its field."""
    values, errors = values or {}, errors or {}
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": neutralize(form.title), "size": "Medium", "weight": "Bolder", "wrap": True}
    ]
    if form.intro:
        body.append({"type": "TextBlock", "text": neutralize(form.intro), "wrap": True, "isSubtle": True})
    for spec in form.fields:
        body.append(_input(spec, values.get(spec.id), names))
        hint = getattr(spec, "hint", None)
        if hint:
            body.append(
                {"type": "TextBlock", "text": neutralize(hint), "isSubtle": True, "size": "Small", "wrap": True}
            )
        if spec.id in errors:
            body.append({"type": "TextBlock", "text": errors[spec.id], "color": "Attention", "wrap": True,
                         "size": "Small"})  # fmt: skip
    submit = {"type": "Action.Execute", "title": form.submit_label, "verb": SUBMIT, "style": "positive",
              "associatedInputs": "auto",
              "data": {"form": form.form_id, "title": form.title,
                       "context": json.dumps(form.context, separators=(",", ":"))}}  # fmt: skip
    return {"type": "AdaptiveCard", "version": CARD_VERSION, "body": body, "actions": [submit]}


def form_values(form: Form, data: Mapping[str, Any]) -> dict[str, FormValue]:
    """The invoke's merged data -> {field id: raw value}; anything odd reads as 'not answered'."""
    values: dict[str, FormValue] = {}
    for spec in form.fields:
        raw = data.get(spec.id)
        if isinstance(spec, Checkbox):
            values[spec.id] = raw in (True, "true", "True")
        elif isinstance(spec, UserPicker) and isinstance(raw, str) and raw and not _AAD.fullmatch(raw):
            values[spec.id] = NOT_A_PERSON  # Teams' people picker gives Azure AD object ids only
        elif isinstance(spec, PeoplePicker) and isinstance(raw, str) and raw:  # ids as they are stored: lower case
            people = [p.strip().lower() for p in raw.split(",") if p.strip()]
            values[spec.id] = ",".join(people) if all(_AAD.fullmatch(p) for p in people) else NOT_A_PERSON
        elif isinstance(raw, str):
            values[spec.id] = raw
        elif isinstance(raw, int | float) and not isinstance(raw, bool):
            values[spec.id] = str(raw)
        else:
            values[spec.id] = None
    return values


def form_context(data: Mapping[str, Any]) -> dict[str, str]:
    raw = data.get("context")
    if not isinstance(raw, str):
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}


# -- the message extension ("Report a broken process" on a message) ---------------------------------------


REPORT_MESSAGE = "reportMessage"  # the message extension's action command (the manifest's composeExtensions)


class _Text(HTMLParser):
    """A Teams message's HTML as the words people read: tags dropped, line breaks kept."""

    BREAKS = frozenset({"br", "p", "div", "li", "tr"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def message_text(body: Any) -> str:
    """The text of a message a message action was used on (its body is HTML, or text)."""
    if not isinstance(body, dict) or not isinstance(body.get("content"), str):
        return ""
    if body.get("contentType") == "text":
        return html.unescape(body["content"]).strip()
    reader = _Text()
    reader.feed(body["content"])
    reader.close()
    return re.sub(r"\n\s*\n+", "\n\n", re.sub(r"[ \t\xa0]+", " ", "".join(reader.parts))).strip()


def task_card(card: dict[str, Any], title: str) -> dict[str, Any]:
    """A form card shown in a task module (a message action's dialog): its submit is an Action.Submit there."""
    actions = [{"type": "Action.Submit", "title": a.get("title", "Submit"), "data": a.get("data", {})}
               for a in card.get("actions", [])]  # fmt: skip
    return {
        "task": {"type": "continue", "value": {"title": title[:60], "card": attachment({**card, "actions": actions})}}
    }
