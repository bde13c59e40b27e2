"""app.yaml is importable as-is and grants exactly what the bot uses."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
# Web API methods the bot calls -> the bot scope Slack requires for each
SCOPES = {
    "chat.postMessage": "chat:write",
    "chat.update": "chat:write",
    "chat.postEphemeral": "chat:write",
    "users.info": "users:read",
    "users.list": "users:read",  # the admins and owners, when no approver is left to decide
    "chat.getPermalink": None,  # the link to a thread in an approver's DM: Slack asks no scope for it
    "usergroups.users.list": "usergroups:read",
    "views.open": None,  # needs only a trigger id
    "views.publish": None,  # the App Home tab: no scope, the manifest enables the tab
    "files.upload_v2": "files:write",
    "files.delete": "files:write",  # the bot's own charts, once replaced
    "conversations.open": "im:write",  # the DM's id, to look in its history
    "conversations.info": ("channels:read", "groups:read"),  # can the bot post in the channel chosen in settings
    # looking for a message whose answer was lost: in channels, private channels and DMs
    "conversations.history": ("channels:history", "groups:history", "im:history"),
    "conversations.replies": ("channels:history", "groups:history", "im:history"),
}


def manifest() -> dict:
    return yaml.safe_load((ROOT / "app.yaml").read_text())


def test_the_manifest_declares_the_command_events_and_interactivity() -> None:
    app = manifest()
    [command] = app["features"]["slash_commands"]
    assert command["command"] == "/improve"
    settings = app["settings"]
    assert {"message.channels", "message.groups"} <= set(settings["event_subscriptions"]["bot_events"])
    assert settings["interactivity"]["is_enabled"] is True
    urls = [command["url"], settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"]]
    assert all(url.endswith("/slack/events") for url in urls)
    assert settings["socket_mode_enabled"] is True


def test_every_web_api_method_the_bot_calls_is_covered_by_a_scope() -> None:
    granted = set(manifest()["oauth_config"]["scopes"]["bot"])
    source = "\n".join(p.read_text() for p in (ROOT / "handlers").rglob("*.py"))
    called = set(re.findall(r'"((?:chat|users|usergroups|views|conversations|files)\.[a-zA-Z.]+)"', source))
    called |= {"views.open"} if "views_open(" in source else set()
    called |= {"files.upload_v2"} if "files_upload_v2(" in source else set()
    assert called, "found no Web API calls: the pattern is stale"
    for method in called:
        assert method in SCOPES, f"{method} is called but its scope is not known to this test"
        scope = SCOPES[method]
        needed = {scope} if isinstance(scope, str) else set(scope or ())
        assert needed <= granted, f"{method} needs {needed - granted}"


def test_the_message_shortcut_is_declared_under_the_callback_id_the_bot_listens_to() -> None:
    from handlers.slack.shortcuts import CALLBACK_ID

    [shortcut] = manifest()["features"]["shortcuts"]
    assert (shortcut["type"], shortcut["callback_id"], shortcut["name"]) == (
        "message",
        CALLBACK_ID,
        "Report a broken process",
    )


def test_installing_asks_for_exactly_the_manifests_scopes_and_hears_the_app_removed() -> None:
    from handlers.slack.install import BOT_SCOPES

    app = manifest()
    assert list(BOT_SCOPES) == app["oauth_config"]["scopes"]["bot"]
    assert {"app_uninstalled", "tokens_revoked"} <= set(app["settings"]["event_subscriptions"]["bot_events"])
    assert [url.rsplit("/", 2)[-2:] for url in app["oauth_config"]["redirect_urls"]] == [["slack", "oauth_redirect"]]
