"""Real Slack requests: signed (v0 HMAC-SHA256) and shaped as Slack sends them to `/slack/events`."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

SIGNING_SECRET = "test-signing-secret"
TEAM = "T0001"


def sign(body: bytes, *, secret: str = SIGNING_SECRET, timestamp: int | None = None) -> dict[str, str]:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    base = b"v0:" + ts.encode() + b":" + body
    signature = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}


def form(data: dict[str, str]) -> tuple[bytes, str]:
    return urlencode(data).encode(), "application/x-www-form-urlencoded"


def slash_command(text: str, user: str, *, channel: str = "C0GENERAL", team: str = TEAM,
                  response_url: str = "http://127.0.0.1:9/response/hook",
                  command: str = "/improve") -> tuple[bytes, str]:  # fmt: skip
    return form({
        "token": "legacy", "team_id": team, "team_domain": "acme", "channel_id": channel,
        "channel_name": "general", "user_id": user, "user_name": user.lower(), "command": command,
        "text": text, "api_app_id": "A0001", "response_url": response_url,
        "trigger_id": f"trig.{user}.{time.time_ns()}",
    })  # fmt: skip


def message_action(text: str, user: str, *, author: str | None, channel: str = "C0GENERAL", team: str = TEAM,
                   ts: str = "1800000000.000100", thread_ts: str | None = None,
                   callback_id: str = "report_message") -> tuple[bytes, str]:  # fmt: skip
    """A message shortcut used on a message (`author` wrote it; None: a bot's message, which has no user)."""
    message = {"type": "message", "text": text, "ts": ts, "team": team}
    if author:
        message["user"] = author
    else:
        message.update({"subtype": "bot_message", "bot_id": "B0OTHER"})
    if thread_ts:
        message["thread_ts"] = thread_ts
    payload = {
        "type": "message_action", "token": "legacy", "action_ts": f"{time.time():.6f}",
        "team": {"id": team, "domain": "acme"}, "user": {"id": user, "username": user.lower(), "team_id": team},
        "channel": {"id": channel, "name": "general"}, "is_enterprise_install": False, "enterprise": None,
        "callback_id": callback_id, "trigger_id": f"trig.{user}.{time.time_ns()}",
        "response_url": "http://127.0.0.1:9/response/hook", "message_ts": ts, "message": message,
    }  # fmt: skip
    return form({"payload": json.dumps(payload)})


def block_action(action_id: str, value: str, user: str, *, channel: str, message_ts: str,
                 thread_ts: str | None = None, team: str = TEAM) -> tuple[bytes, str]:  # fmt: skip
    payload = {
        **_click(action_id, value, user, team),
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel, "is_ephemeral": False},
        "channel": {"id": channel, "name": "improvements"},
        "message": {"type": "message", "ts": message_ts, "thread_ts": thread_ts or message_ts, "text": ""},
        "response_url": "http://127.0.0.1:9/response/hook",
    }  # fmt: skip
    return form({"payload": json.dumps(payload)})


def _click(action_id: str, value: str, user: str, team: str) -> dict[str, Any]:
    """What every block_actions payload carries: who clicked which button."""
    return {
        "type": "block_actions",
        "team": {"id": team, "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "api_app_id": "A0001",
        "token": "legacy",
        "trigger_id": f"trig.{user}.{time.time_ns()}",
        "actions": [{
            "type": "button", "action_id": action_id, "block_id": "b1", "value": value,
            "text": {"type": "plain_text", "text": action_id}, "action_ts": str(time.time()),
        }],
    }  # fmt: skip


def home_opened(user: str, *, event_id: str, team: str = TEAM, tab: str = "home") -> tuple[bytes, str]:
    """Slack's event when a person opens the app's Home tab (or its Messages tab: `tab`)."""
    event = {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": tab,
             "event_ts": f"{time.time():.6f}"}  # fmt: skip
    body = {"token": "legacy", "team_id": team, "api_app_id": "A0001", "event": event, "type": "event_callback",
            "event_id": event_id, "event_time": int(time.time())}  # fmt: skip
    return json.dumps(body).encode(), "application/json"


def home_action(action_id: str, value: str, user: str, *, view: dict[str, Any], team: str = TEAM) -> tuple[bytes, str]:
    """A click on a button of the Home tab: no channel, no message, no response_url; the view it was on."""
    payload = {
        **_click(action_id, value, user, team),
        "container": {"type": "view", "view_id": "VHOME"},
        "view": {"id": "VHOME", "team_id": team, "type": "home", "callback_id": "", "private_metadata": "",
                 "blocks": view.get("blocks", []), "state": {"values": {}}, "hash": "h"},
    }  # fmt: skip
    return form({"payload": json.dumps(payload)})


def view_submission(view: dict[str, Any], state: dict[str, Any], user: str, *, team: str = TEAM,
                    enterprise: str = "") -> tuple[bytes, str]:  # fmt: skip
    """Submit a modal the bot opened (`view` as sent to views.open) with `state.values` (in a workspace of the
    Enterprise Grid organisation `enterprise`, where the app is installed org-wide, when given)."""
    payload = {
        "type": "view_submission",
        "team": {"id": team, "domain": "acme"},
        "user": {"id": user, "username": user.lower(), "team_id": team},
        "api_app_id": "A0001",
        "token": "legacy",
        "trigger_id": f"trig.{user}.{time.time_ns()}",
        "view": {
            "id": "V0001", "team_id": team, "type": "modal", "callback_id": view["callback_id"],
            "private_metadata": view.get("private_metadata", ""), "blocks": view.get("blocks", []),
            "state": {"values": state}, "hash": "h", "title": view.get("title"),
        },
        "response_urls": [],
    }  # fmt: skip
    if enterprise:
        payload |= {"enterprise": {"id": enterprise}, "is_enterprise_install": True}
    return form({"payload": json.dumps(payload)})


def message_event(text: str, user: str, *, channel: str, thread_ts: str | None, event_id: str,
                  team: str = TEAM, ts: str | None = None, **extra: Any) -> tuple[bytes, str]:  # fmt: skip
    event = {"type": "message", "channel": channel, "user": user, "text": text,
             "ts": ts or f"{time.time():.6f}", "team": team, "channel_type": "channel", **extra}  # fmt: skip
    if thread_ts:
        event["thread_ts"] = thread_ts
    body = {
        "token": "legacy", "team_id": team, "api_app_id": "A0001", "event": event, "type": "event_callback",
        "event_id": event_id, "event_time": int(time.time()),
        "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True}],
    }  # fmt: skip
    return json.dumps(body).encode(), "application/json"


def message_changed(text: str, user: str, *, channel: str, thread_ts: str, ts: str, event_id: str,
                    team: str = TEAM) -> tuple[bytes, str]:  # fmt: skip
    """Slack's event when a person edits their message: the message as it is now, nested, with no user on top."""
    now = f"{time.time():.6f}"
    message = {"type": "message", "user": user, "text": text, "ts": ts, "thread_ts": thread_ts, "team": team,
               "edited": {"user": user, "ts": now}}  # fmt: skip
    event = {"type": "message", "subtype": "message_changed", "hidden": True, "channel": channel, "ts": now,
             "event_ts": now, "message": message,
             "previous_message": {"type": "message", "user": user, "text": "(before)", "ts": ts,
                                  "thread_ts": thread_ts}}  # fmt: skip
    return event_body(event, event_id, team)


def message_deleted(user: str, *, channel: str, thread_ts: str, ts: str, event_id: str,
                    team: str = TEAM) -> tuple[bytes, str]:  # fmt: skip
    now = f"{time.time():.6f}"
    event = {"type": "message", "subtype": "message_deleted", "hidden": True, "channel": channel, "ts": now,
             "event_ts": now, "deleted_ts": ts,
             "previous_message": {"type": "message", "user": user, "text": "(gone)", "ts": ts,
                                  "thread_ts": thread_ts}}  # fmt: skip
    return event_body(event, event_id, team)


def event_body(event: dict[str, Any], event_id: str, team: str) -> tuple[bytes, str]:
    body = {"token": "legacy", "team_id": team, "api_app_id": "A0001", "event": event, "type": "event_callback",
            "event_id": event_id, "event_time": int(time.time()),
            "authorizations": [{"team_id": team, "user_id": "UBOT", "is_bot": True}]}  # fmt: skip
    return json.dumps(body).encode(), "application/json"


def initial_answers(view: dict[str, Any]) -> dict[str, Any]:
    """What a modal's inputs hold before anyone touches them (Slack submits these unless changed)."""
    answers: dict[str, Any] = {}
    for block in view["blocks"]:
        element = block.get("element") or {}
        if block.get("type") != "input":
            continue
        if "initial_value" in element:
            answers[block["block_id"]] = element["initial_value"]
        elif "initial_option" in element:
            answers[block["block_id"]] = element["initial_option"]["value"]
        elif "initial_options" in element:
            answers[block["block_id"]] = bool(element["initial_options"])
        elif "initial_user" in element or "initial_date" in element:
            answers[block["block_id"]] = element.get("initial_user") or element.get("initial_date")
        elif "initial_users" in element or "initial_conversation" in element:
            answers[block["block_id"]] = element.get("initial_users") or element.get("initial_conversation")
    return answers


def state_for(view: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
    """Fill a modal the way Slack reports it: answers by field id, shaped per element type."""
    state: dict[str, Any] = {}
    for block in view["blocks"]:
        if block.get("type") != "input":
            continue
        element = block["element"]
        kind, field_id = element["type"], block["block_id"]
        answer = answers.get(field_id)
        if kind in ("plain_text_input", "number_input"):
            value: dict[str, Any] = {"type": kind, "value": None if answer is None else str(answer)}
        elif kind == "static_select":
            option = next((o for o in element["options"] if o["value"] == answer), None)
            if answer is not None and option is None:
                option = {"text": {"type": "plain_text", "text": str(answer)}, "value": str(answer)}
            value = {"type": kind, "selected_option": option}
        elif kind == "checkboxes":
            value = {"type": kind, "selected_options": element["options"] if answer else []}
        elif kind == "users_select":
            value = {"type": kind, "selected_user": answer}
        elif kind == "multi_users_select":
            value = {"type": kind, "selected_users": list(answer or [])}
        elif kind == "conversations_select":
            value = {"type": kind, "selected_conversation": answer}
        elif kind == "datepicker":
            value = {"type": kind, "selected_date": answer}
        else:
            continue
        state[field_id] = {element["action_id"]: value}
    return state
