"""The door in front of Bolt on `/slack/events`. Bolt parses a body before it checks the signature, and reads
payload fields without checking their types, so a forged or malformed request became a 500 with a traceback.
Here, before Bolt sees anything: the signature is checked (401), the body is parsed and the payload kinds this
app handles are checked against the shapes Bolt reads (400 when malformed); other well-formed kinds are
acknowledged and ignored (200). Every refusal is one log line with a reason, never the body."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from slack_sdk.signature import SignatureVerifier

from handlers.limits import strict_json
from handlers.slack.payload import enterprise_of, team_of

TIMESTAMP = re.compile(r"[0-9]{1,12}")
SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
CHALLENGE = re.compile(r"[A-Za-z0-9_-]{1,200}")  # what Slack's URL check sends, to be echoed

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9._:-]{1,64}$")]  # team, user, channel, event ids and ts
Short = Annotated[str, Field(max_length=3000)]


class _Shape(BaseModel):
    """Types checked as Slack sends them (no coercion); fields Bolt does not read may be anything."""

    model_config = ConfigDict(strict=True, extra="allow")


class _Team(_Shape):
    id: Id | None = None
    enterprise_id: Id | None = None


class _Enterprise(_Shape):
    id: Id | None = None


class _User(_Shape):
    id: Id
    team_id: Id | None = None


class _Channel(_Shape):
    id: Id


class _Authorization(_Shape):
    enterprise_id: Id | None = None
    team_id: Id | None = None
    user_id: Id | None = None
    is_enterprise_install: bool | None = None


class _ResponseUrl(_Shape):
    response_url: Short


class _Where(_Shape):
    """The fields Bolt's context building reads, at every level it looks (the payload, its event, the event's
    message, item and view): whatever else a level carries, these must have Slack's types."""

    team: _Team | Id | None = None
    team_id: Id | None = None
    enterprise: _Enterprise | Id | None = None
    enterprise_id: Id | None = None
    user: _User | Id | None = None
    user_id: Id | None = None
    user_team: Id | None = None
    channel: _Channel | Id | None = None
    channel_id: Id | None = None
    thread_ts: Id | None = None
    authorizations: list[_Authorization] | None = None
    is_enterprise_install: bool | None = None
    is_ext_shared_channel: bool | None = None
    app_installed_team_id: Id | None = None
    response_url: Short | None = None
    response_urls: Annotated[list[_ResponseUrl], Field(max_length=1)] | None = None  # Bolt fails on more
    function_execution_id: None = None  # workflow functions: not what this app does
    function_data: None = None
    bot_access_token: None = None

    @model_validator(mode="before")
    @classmethod
    def _present_means_a_list(cls, data: Any) -> Any:
        """Bolt takes the mere presence of `response_urls` for a list (it measures its length): a null is refused."""
        if isinstance(data, dict) and "response_urls" in data and data["response_urls"] is None:
            raise ValueError("response_urls is null")
        return data


class _Message(_Where):
    ts: Id | None = None


class _Action(_Shape):
    action_id: Annotated[str, Field(min_length=1, max_length=255)]
    block_id: Annotated[str, Field(max_length=255)] | None = None
    value: Annotated[str, Field(max_length=2000)] | None = None


class _ShortcutMessage(_Message):
    text: str | None = None


class _View(_Where):
    id: Id | None = None
    type: Short
    callback_id: Annotated[str, Field(max_length=255)]
    private_metadata: Short = ""
    state: dict[str, dict[str, dict[str, dict[str, Any]]]] | None = None


class _Envelope(_Where):
    message: _Message | None = None
    previous_message: _Message | None = None


class _BlockActions(_Envelope):
    type: Literal["block_actions"]
    user: _User
    actions: Annotated[list[_Action], Field(min_length=1, max_length=25)]
    channel: _Channel | None = None
    container: dict[str, Any] | None = None
    view: _View | None = None
    trigger_id: Short | None = None


class _ViewSubmission(_Envelope):
    type: Literal["view_submission"]
    user: _User
    view: _View
    trigger_id: Short | None = None


class _MessageAction(_Envelope):
    """A message shortcut used on a message: its text prefills the report form."""

    type: Literal["message_action"]
    user: _User
    callback_id: Annotated[str, Field(min_length=1, max_length=255)]
    trigger_id: Short | None = None
    channel: _Channel | None = None
    message_ts: Id | None = None
    message: _ShortcutMessage | None = None


class _Event(_Envelope):
    type: Literal["message"]
    subtype: Short | None = None
    channel_type: Short | None = None
    bot_id: Id | None = None
    text: str | None = None
    ts: Id | None = None
    event_ts: Id | None = None
    item: _Where | None = None
    assistant_thread: _Where | None = None
    view: _View | None = None


class _MessageEvent(_Envelope):
    type: Literal["event_callback"]
    event: _Event
    event_id: Id | None = None
    event_time: int | None = None


class _HomeEvent(_Where):
    type: Literal["app_home_opened"]
    tab: Short | None = None
    event_ts: Id | None = None
    view: _View | None = None


class _HomeOpened(_Where):
    type: Literal["event_callback"]
    event: _HomeEvent
    event_id: Id | None = None
    event_time: int | None = None


class _RevokedEvent(_Shape):
    type: Literal["app_uninstalled", "tokens_revoked"]
    tokens: dict[str, list[Id]] | None = None
    event_ts: Id | None = None


class _Revoked(_Where):
    """The app was removed from a workspace, or its tokens revoked (read by Bolt's built-in listeners)."""

    type: Literal["event_callback"]
    event: _RevokedEvent
    event_id: Id | None = None
    event_time: int | None = None


class _Command(_Shape):
    """A slash command's form: strings by construction, so what matters is which keys it has (Bolt reads some
    of these names as structures) and that its ids are ids."""

    command: Annotated[str, Field(min_length=1, max_length=64)]
    text: str = ""
    team_id: Id | None = None
    user_id: Id | None = None
    channel_id: Id | None = None
    enterprise_id: Id | None = None
    trigger_id: Short | None = None
    response_url: Short | None = None
    is_enterprise_install: Literal["true", "false"] | None = None
    authorizations: None = None
    response_urls: None = None
    event: None = None
    view: None = None
    message: None = None
    previous_message: None = None
    item: None = None
    assistant_thread: None = None
    team: None = None
    user: None = None
    channel: None = None
    enterprise: None = None
    function_execution_id: None = None
    function_data: None = None
    bot_access_token: None = None


HANDLED_INTERACTIONS: dict[str, type[_Envelope]] = {"block_actions": _BlockActions,
                                                    "view_submission": _ViewSubmission,
                                                    "message_action": _MessageAction}  # fmt: skip


@dataclass(frozen=True)
class Verdict:
    status: int  # 0: hand it to Bolt; otherwise answer with this status and nothing else
    reason: str = ""  # for the one log line: never the body
    team: str | None = None  # the workspace a payload handed on comes from ("" when it names none)
    command: bool = False  # a slash command: a refusal can be answered in words
    message: bool = False  # a message event: the route takes it itself (handlers.slack.events)
    revoked: bool = False  # app_uninstalled, tokens_revoked: served although the workspace has no token any more
    enterprise: str = ""  # the Enterprise Grid organisation the workspace belongs to, when it does
    challenge: str | None = None  # Slack's URL check: the answer is this, echoed
    body: dict[str, Any] | None = None  # what is handed on, as the door read it (Bolt does not read it again)


PASS = Verdict(0)


def verify(raw: bytes, headers: Mapping[str, str], verifier: SignatureVerifier | None) -> Verdict:
    """Only requests signed by Slack, within five minutes, get in."""
    if verifier is None:
        return Verdict(401, "no SLACK_SIGNING_SECRET to check it with")
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not TIMESTAMP.fullmatch(timestamp) or not SIGNATURE.fullmatch(signature):
        return Verdict(401, "no or malformed signature headers")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return Verdict(401, "a body that is not UTF-8")
    if not verifier.is_valid(text, timestamp, signature):
        return Verdict(401, "a wrong or stale signature")
    return PASS


def _json(text: str) -> Any:
    try:
        return strict_json(text)
    except ValueError:
        return None


def inspect(raw: bytes, content_type: str) -> Verdict:
    """A signed body: hand it to Bolt, acknowledge and ignore it, or refuse it as malformed."""
    text = raw.decode("utf-8")
    if content_type.startswith("application/json"):
        body = _json(text)
        if not isinstance(body, dict) or not isinstance(body.get("type"), str):
            return Verdict(400, "a JSON body that is not a Slack event envelope")
        if body["type"] == "url_verification":  # answered here: Bolt reads more of a body than it needs to
            challenge = body.get("challenge")
            if not isinstance(challenge, str) or not CHALLENGE.fullmatch(challenge):
                return Verdict(400, "a URL check without a challenge")
            return Verdict(200, "Slack's URL check", challenge=challenge)
        if body["type"] != "event_callback" or not isinstance(body.get("event"), dict):
            return Verdict(200, f"an event envelope of type {_label(body['type'])}")
        if body["event"].get("type") == "app_home_opened":  # the App Home tab: its view is published (Bolt)
            return _shaped(_HomeOpened, body, "app_home_opened event", team=lambda: body.get("team_id"))
        if body["event"].get("type") in ("app_uninstalled", "tokens_revoked"):
            verdict = _shaped(_Revoked, body, "revocation event", team=lambda: body.get("team_id"))
            return replace(verdict, revoked=True) if verdict.status == 0 else verdict
        if body["event"].get("type") != "message":
            return Verdict(200, f"an event of type {_label(body['event'].get('type'))}")
        verdict = _shaped(_MessageEvent, body, "message event", team=lambda: body.get("team_id"))
        return replace(verdict, message=True) if verdict.status == 0 else verdict
    form = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in form:
        payload = _json(form["payload"])
        if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
            return Verdict(400, "an interaction payload that is not a JSON object with a type")
        shape = HANDLED_INTERACTIONS.get(payload["type"])
        if shape is None:
            return Verdict(200, f"an interaction of type {_label(payload['type'])}")
        return _shaped(shape, payload, payload["type"], team=lambda: team_of(payload))
    if "command" in form:
        verdict = _shaped(_Command, form, "slash command", team=lambda: form.get("team_id", ""))
        return replace(verdict, command=True) if verdict.status == 0 else verdict
    if "ssl_check" in form:
        return Verdict(200, "Slack's SSL check")
    return Verdict(400, "a form that is no Slack command or interaction")


def _shaped(shape: type[_Shape], body: dict[str, Any], kind: str, *, team: Callable[[], Any]) -> Verdict:
    """Hand `body` on when it has `shape`, with the workspace `team` finds in it (read once the shape is known)."""
    try:
        shape.model_validate(body)
    except ValidationError as exc:
        where = ".".join(str(part) for part in exc.errors()[0]["loc"])[:80]
        return Verdict(400, f"a malformed {kind} ({where})")
    found = team()
    return Verdict(0, team=found if isinstance(found, str) else "", body=body, enterprise=enterprise_of(body))


def _label(value: object) -> str:
    return repr(value)[:40]
