"""Pure renderers: the neutral vocabulary in, Block Kit out (and modal answers back to plain values).

User text is escaped everywhere (&, <, >), so `<!channel>` or `<@U…>` typed by a user is shown, not executed.
"""

from __future__ import annotations

import json
import re
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
    Text,
    TextInput,
    UserPicker,
)

SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
HEADER_LIMIT = 150
_SLACK_ID = re.compile(r"^[A-Z0-9]{2,30}$")
_PERSON = re.compile(r"[UW][A-Z0-9]{2,30}")


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    """Slack sends message text with &, <, > escaped; store what the person typed."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mention(user: str) -> str:
    if not _SLACK_ID.match(user):
        return escape(user)
    return f"<!subteam^{user}>" if user.startswith("S") else f"<@{user}>"


def mrkdwn(parts: list[Span]) -> str:
    out = []
    for part in parts:
        if isinstance(part, Text):
            out.append(escape(part.text))
        elif isinstance(part, Bold):
            stripped = part.text.rstrip()
            trailing = part.text[len(stripped) :]
            out.append(f"*{escape(stripped)}*{trailing}" if stripped else trailing)
        elif isinstance(part, Mention):  # an anonymous reporter's pseudonym is nobody to mention
            out.append(escape(stand_in(part.user) or "") or mention(part.user))
        elif isinstance(part, Link):
            out.append(f"<{escape(part.url).replace('|', '%7C')}|{escape(part.text)}>")
        else:  # a ThreadLink delivery could not resolve
            out.append(escape(part.text))
    return "".join(out)


def clip_markup(text: str, limit: int) -> str:
    """Escaped mrkdwn cut to `limit`, never inside an entity (&amp;) or a mention (<@U…>): half of one would show
    as garbage, or break the message."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    for opening, closing in (("&", ";"), ("<", ">")):
        start = cut.rfind(opening)
        if start != -1 and closing not in cut[start:]:
            cut = cut[:start]
    return cut + "…"


def _mrkdwn(text: str, limit: int) -> dict[str, Any]:
    """verbatim: Slack must not turn a typed '@here' or a channel name into a ping or a link on its own."""
    return {"type": "mrkdwn", "text": clip_markup(text, limit), "verbatim": True}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(text, SECTION_LIMIT)}


def block(item: Block) -> dict[str, Any]:
    if isinstance(item, Heading):
        return {
            "type": "header",
            "text": {"type": "plain_text", "text": _clip(item.text, HEADER_LIMIT), "emoji": True},
        }
    if isinstance(item, Paragraph):
        return _section(mrkdwn(item.spans))
    if isinstance(item, Quote):
        body = mrkdwn(item.spans)
        return _section("\n".join("> " + line for line in body.splitlines() or [""]))
    if isinstance(item, Fields):
        fields = [_mrkdwn(f"*{escape(f.label)}*\n{mrkdwn(f.spans)}", FIELD_LIMIT) for f in item.items[:10]]
        return {"type": "section", "fields": fields}
    if isinstance(item, Context):
        return {"type": "context", "elements": [_mrkdwn(mrkdwn(item.spans), SECTION_LIMIT)]}
    if isinstance(item, Actions):
        buttons = []
        for b in item.buttons:
            button: dict[str, Any] = {
                "type": "button",
                "action_id": b.action,
                "text": {"type": "plain_text", "text": _clip(b.label, 75), "emoji": True},
                "value": b.value,
            }
            if b.style:
                button["style"] = b.style
            buttons.append(button)
        return {"type": "actions", "elements": buttons}
    if isinstance(item, Image):  # an image the bot uploaded (SlackChat.image): its file id
        return {"type": "image", "slack_file": {"id": item.ref}, "alt_text": _clip(item.alt, 2000),
                "title": _plain(item.title, 2000)}  # fmt: skip
    raise TypeError(f"cannot render {item!r}")


MAX_BLOCKS = 50
MAX_HOME_BLOCKS = 100


def home(msg: Message) -> dict[str, Any]:
    """The App Home tab's view (views.publish): at most 100 blocks."""
    blocks = [block(b) for b in msg.blocks]
    if len(blocks) > MAX_HOME_BLOCKS:
        blocks = [*blocks[: MAX_HOME_BLOCKS - 1], _section("…(shortened: Slack shows at most 100 parts here)")]
    return {"type": "home", "blocks": blocks}


def message(msg: Message) -> dict[str, Any]:
    """Keyword arguments for chat.postMessage / chat.update (Slack takes at most 50 blocks)."""
    blocks = [block(b) for b in msg.blocks]
    if len(blocks) > MAX_BLOCKS:
        blocks = [*blocks[: MAX_BLOCKS - 1], _section("…(shortened: Slack shows at most 50 parts of a message)")]
    text = escape(_clip(msg.summary, 3000))
    return {"text": text, "blocks": blocks} if blocks else {"text": text}  # Slack refuses an empty blocks list


# -- forms as modals ---------------------------------------------------------------------------------


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _clip(text, limit), "emoji": True}


def _element(spec: Any) -> dict[str, Any]:
    if isinstance(spec, TextInput):
        element: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": spec.id,
            "multiline": spec.multiline,
            "max_length": spec.max_length,
        }
        if spec.initial:
            element["initial_value"] = spec.initial[: spec.max_length]
        if spec.placeholder:
            element["placeholder"] = _plain(spec.placeholder, 150)
        return element
    if isinstance(spec, NumberInput):
        element = {
            "type": "number_input",
            "action_id": spec.id,
            "is_decimal_allowed": spec.decimal,
            "min_value": _num(spec.minimum),
            "max_value": _num(spec.maximum),
        }
        if spec.initial is not None:
            element["initial_value"] = _num(spec.initial)
        return element
    if isinstance(spec, Select):
        options = [{"text": _plain(o.label, 75), "value": o.value} for o in spec.options[:100]]
        element = {"type": "static_select", "action_id": spec.id, "options": options}
        initial = next((o for o in options if o["value"] == spec.initial), None)
        if initial:
            element["initial_option"] = initial
        return element
    if isinstance(spec, Checkbox):
        option = {"text": _plain(spec.option_label, 75), "value": "yes"}
        element = {"type": "checkboxes", "action_id": spec.id, "options": [option]}
        if spec.initial:
            element["initial_options"] = [option]
        return element
    if isinstance(spec, UserPicker):
        element = {"type": "users_select", "action_id": spec.id}
        if spec.initial:
            element["initial_user"] = spec.initial
        return element
    if isinstance(spec, PeoplePicker):
        element = {"type": "multi_users_select", "action_id": spec.id}
        if spec.initial:
            element["initial_users"] = spec.initial
        return element
    if isinstance(spec, ChannelPicker):  # channels the person can see; the bot checks it can post there
        element = {"type": "conversations_select", "action_id": spec.id,
                   "filter": {"include": ["public", "private"], "exclude_bot_users": True}}  # fmt: skip
        if spec.initial:
            element["initial_conversation"] = spec.initial
        return element
    if isinstance(spec, DatePicker):
        element = {"type": "datepicker", "action_id": spec.id}
        if spec.initial:
            element["initial_date"] = spec.initial
        return element
    raise TypeError(f"cannot render {spec!r}")


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def modal(form: Form) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    if form.intro:
        blocks.append({"type": "context", "elements": [_mrkdwn(escape(form.intro), SECTION_LIMIT)]})
    for spec in form.fields:
        item: dict[str, Any] = {
            "type": "input",
            "block_id": spec.id,
            "label": _plain(spec.label, 2000),
            "element": _element(spec),
            "optional": isinstance(spec, Checkbox) or not getattr(spec, "required", False),
        }
        hint = getattr(spec, "hint", None)
        if hint:
            item["hint"] = _plain(hint, 2000)
        blocks.append(item)
    return {
        "type": "modal",
        "callback_id": form.form_id,
        "title": _plain(form.title, 24),
        "submit": _plain(form.submit_label, 24),
        "close": _plain("Cancel", 24),
        "private_metadata": json.dumps(form.context, separators=(",", ":")),
        "blocks": blocks,
    }


def form_values(state: Any) -> dict[str, FormValue]:
    """view.state.values -> {field id: raw value}. Anything malformed reads as 'not answered'."""
    values: dict[str, FormValue] = {}
    if not isinstance(state, dict):
        return values
    for block_id, actions in state.items():
        if not isinstance(actions, dict):
            continue
        for element in actions.values():
            if isinstance(element, dict):
                values[str(block_id)] = _value_of(element)
    return values


def _value_of(element: dict[str, Any]) -> FormValue:
    kind = element.get("type")
    if kind in ("plain_text_input", "number_input"):
        value = element.get("value")
        return value if isinstance(value, str) else None
    if kind in ("static_select", "radio_buttons"):
        option = element.get("selected_option")
        return option.get("value") if isinstance(option, dict) else None
    if kind == "checkboxes":
        options = element.get("selected_options")
        return bool(options) if isinstance(options, list) else False
    if kind == "users_select":  # Slack's picker offers people only: a group id or anything else is forged
        user = element.get("selected_user")
        return None if not isinstance(user, str) else user if _PERSON.fullmatch(user) else NOT_A_PERSON
    if kind == "multi_users_select":
        users = element.get("selected_users")
        if not isinstance(users, list):
            return None
        return ",".join(users) if all(isinstance(u, str) and _PERSON.fullmatch(u) for u in users) else NOT_A_PERSON
    if kind == "conversations_select":
        conversation = element.get("selected_conversation")
        return conversation if isinstance(conversation, str) else None
    if kind == "datepicker":
        day = element.get("selected_date")
        return day if isinstance(day, str) else None
    return None


def metadata(raw: Any) -> dict[str, str]:
    """private_metadata back to the form's context; anything malformed is an empty context."""
    if not isinstance(raw, str) or not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {str(k): str(v) for k, v in data.items() if isinstance(v, str | int)}
