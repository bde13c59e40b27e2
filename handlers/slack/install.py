"""Installing to many Slack workspaces (OAuth, `/slack/install`): Bolt's flow with slack-sdk's SQLAlchemy installation
store in the project's own database (threaded: it is synchronous) and a state store of our own (the library's
hides a database failure as an invalid state). An install records the workspace before its token is stored, a
removal (`app_uninstalled`, a revoked bot token) marks it before its tokens are deleted: a failure between the two
never leaves a live install on the retention clock. Each workspace's token: handlers.slack.tokens."""

from __future__ import annotations

import asyncio
import html
import logging
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt.oauth.async_callback_options import AsyncCallbackOptions, AsyncFailureArgs, AsyncSuccessArgs
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.response import BoltResponse
from slack_sdk.oauth.installation_store import Bot, Installation
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import Engine, delete, insert, select

from bot.core.config import Settings
from handlers.slack.payload import dig
from handlers.slack.tokens import ROTATE_MINUTES, SharedRotation, Tokens
from storage.db import DOWN, transaction
from storage.models import SLACK_OAUTH_STATES

log = logging.getLogger("improvebot.slack")

# what the app asks for when installed: app.yaml's bot scopes (tests/slack/test_manifest.py holds them equal)
BOT_SCOPES = (
    "commands",
    "chat:write",
    "chat:write.public",
    "channels:history",
    "groups:history",
    "im:history",
    "users:read",
    "usergroups:read",
    "channels:read",
    "groups:read",
    "im:write",
    "files:write",
)
STATE_SECONDS = 600  # an install link works this long
PAGE = ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Improve</title></head>'
        '<body style="font-family:sans-serif;max-width:40em;margin:3em auto">{}</body></html>')  # fmt: skip
AGAIN = ('<h1>Slack could not be connected just now</h1><p>Nothing was installed. Please try again in a minute: '
         '<a href="/slack/install">Add to Slack</a>.</p>')  # fmt: skip


def page(body: str, status: int = 200) -> BoltResponse:
    return BoltResponse(status=status, body=PAGE.format(body), headers={"Content-Type": "text/html; charset=utf-8"})


def _naive_utc(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(tzinfo=None)  # as slack-sdk's tables keep times


class States(AsyncOAuthStateStore):
    """Each install link's state, used once within STATE_SECONDS (the tick deletes expired ones). A database that
    fails is an error, not an invalid state."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(32)
        expire_at = _naive_utc(datetime.now(UTC) + timedelta(seconds=STATE_SECONDS))

        def issue() -> None:
            with transaction(self.engine) as session:
                session.execute(insert(SLACK_OAUTH_STATES).values(state=state, expire_at=expire_at))

        await asyncio.to_thread(issue)
        return state

    async def async_consume(self, state: str) -> bool:
        table = SLACK_OAUTH_STATES

        def consume() -> bool:
            with transaction(self.engine) as session:
                found = session.execute(
                    select(table.c.id).where(
                        table.c.state == state[:200], table.c.expire_at > _naive_utc(datetime.now(UTC))
                    )
                ).first()
                if found is None:
                    return False
                deleted = session.execute(delete(table).where(table.c.id == found.id))
                return bool(deleted.rowcount)  # type: ignore[attr-defined]  # two at once: only one deletes it

        return await asyncio.to_thread(consume)


class Installations(AsyncInstallationStore):
    """slack-sdk's SQLAlchemy installation store, run off the event loop."""

    def __init__(self, tokens: Tokens) -> None:
        assert tokens.store is not None
        self._tokens = tokens
        self._store = tokens.store

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        await asyncio.to_thread(self._tokens.installed, installation.enterprise_id, installation.team_id,
                                now_installed=True)  # fmt: skip
        await asyncio.to_thread(self._store.save, installation)

    async def async_save_bot(self, bot: Bot) -> None:
        """A token Bolt's authorize refreshed (through Tokens, which stored it already): stored again, best effort."""
        try:
            await asyncio.to_thread(self._store.save_bot, bot)
        except DOWN as exc:
            log.warning("a refreshed bot token could not be stored again (%s)", type(exc).__name__)

    async def async_find_bot(
        self, *, enterprise_id: str | None, team_id: str | None, is_enterprise_install: bool | None = False
    ) -> Bot | None:
        return await asyncio.to_thread(self._store.find_bot, enterprise_id=enterprise_id, team_id=team_id,
                                       is_enterprise_install=is_enterprise_install)  # fmt: skip

    async def async_find_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:  # fmt: skip
        return await asyncio.to_thread(self._store.find_installation, enterprise_id=enterprise_id, team_id=team_id,
                                       user_id=user_id, is_enterprise_install=is_enterprise_install)  # fmt: skip

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await asyncio.to_thread(self._store.delete_bot, enterprise_id=enterprise_id, team_id=team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await asyncio.to_thread(self._store.delete_installation, enterprise_id=enterprise_id, team_id=team_id,
                                user_id=user_id)  # fmt: skip


class Installs:
    """The OAuth flow's stores, and what removing the app changes (handled before Slack is answered: a database
    that fails is a 503, and Slack sends the event again)."""

    def __init__(self, tokens: Tokens, engine: Engine) -> None:
        self.tokens = tokens
        self.states = States(engine)
        self.store = Installations(tokens)

    async def revoked(self, body: dict[str, Any]) -> None:
        """`app_uninstalled`, or `tokens_revoked` naming the bot's token: the workspace (an org-wide install: the
        organisation) is marked removed, then its tokens are deleted. Revoked user tokens: the bot holds none."""
        event = body.get("event") or {}
        if event.get("type") == "tokens_revoked" and not dig(event, "tokens", "bot", 0):
            return
        authorizations = body.get("authorizations")
        first = authorizations[0] if isinstance(authorizations, list) and authorizations else {}
        first = first if isinstance(first, dict) else {}
        enterprise = dig(body, "enterprise_id") or dig(first, "enterprise_id") or None
        org = body.get("is_enterprise_install") is True or first.get("is_enterprise_install") is True
        team = None if org else (dig(body, "team_id") or None)
        teams = await asyncio.to_thread(self.tokens.installed, enterprise, team, now_installed=False)
        await self.store.async_delete_bot(enterprise_id=enterprise, team_id=team)
        await self.store.async_delete_installation(enterprise_id=enterprise, team_id=team)
        log.info("the app was removed from %s workspace(s): their tokens are deleted", len(teams))


async def _failed(args: AsyncFailureArgs) -> BoltResponse:
    """A failed install, said plainly: a link used twice or forged, or cancelled, is the person's to start again;
    the database or Slack failing is 503."""
    log.warning("a Slack install failed: %s", args.reason)
    if args.reason in ("storage_error",) or args.suggested_status_code >= 500:
        return page(AGAIN, 503)
    cancelled = args.reason == "access_denied"
    said = (
        "was cancelled"
        if cancelled
        else "could not be finished (its link was used already, expired, or was opened in another browser)"
    )
    again = '<a href="/slack/install">Add to Slack</a>'
    body = f"<h1>Improve was not installed</h1><p>The install {said}. To start again: {again}.</p>"
    return page(body, 200 if cancelled else args.suggested_status_code)


async def _succeeded(args: AsyncSuccessArgs) -> BoltResponse:
    """Installed: what to do next, in Slack."""
    installation = args.installation
    log.info("installed in a Slack workspace (org-wide: %s)", bool(installation.is_enterprise_install))
    where = html.escape(installation.team_name or installation.enterprise_name or "your workspace")
    team = html.escape(installation.team_id or installation.enterprise_id or "")
    return page(
        f"<h1>Improve is installed in {where}</h1><p>Next, in Slack: create or pick the channel for reports, invite "
        "<b>@Improve</b> there, and have an admin type <code>/improve settings</code> to choose it and the approvers. "
        f'Then anyone can type <code>/improve</code>.</p><p><a href="slack://app?team={team}&amp;id='
        f'{html.escape(installation.app_id or "")}">Open Slack</a></p>'
    )


def redirect_uri(settings: Settings) -> str | None:
    """Where Slack sends the browser back after an install: on this server's public address when it has one
    (IMPROVE_PUBLIC_URL), else the app's only Redirect URL (Slack's default)."""
    return settings.improve_public_url.rstrip("/") + "/slack/oauth_redirect" if settings.improve_public_url else None


def oauth_settings(installs: Installs, client_id: str, client_secret: str, redirect: str | None) -> AsyncOAuthSettings:
    settings = AsyncOAuthSettings(
        client_id=client_id,
        client_secret=client_secret,
        scopes=list(BOT_SCOPES),
        redirect_uri=redirect,
        installation_store=installs.store,
        installation_store_bot_only=True,
        token_rotation_expiration_minutes=ROTATE_MINUTES,
        state_store=installs.states,
        state_expiration_seconds=STATE_SECONDS,
        callback_options=AsyncCallbackOptions(success=_succeeded, failure=_failed),
    )
    settings.authorize.token_rotator = SharedRotation(installs.tokens)  # type: ignore[attr-defined]
    return settings
