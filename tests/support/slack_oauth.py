"""Slack's side of installing an app (OAuth v2), for the Web API stand-in: the consent screen hands out a code
(`consent`), `oauth.v2.access` exchanges it once for a bot token (with token rotation on: a refresh token and an
expiry too) and later refreshes a rotating token; `revoke` is an admin removing the app. Client credentials go as
HTTP Basic auth, as slack-sdk sends them, and are checked."""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass, field
from typing import Any

from tests.support.slack_api import SlackApiStub

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "client-secret-of-this-suite"
APP_ID = "A0IMPROVE"


@dataclass
class SlackOAuth:
    stub: SlackApiStub
    rotation: bool = False  # the app has token rotation on
    expires_in: int = 43_200  # an installed rotating token's life, in seconds (Slack's: 12 hours)
    refreshed_expires_in: int = 43_200  # ... a refreshed one's
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)  # code -> who installed it where
    refreshes: dict[str, str] = field(default_factory=dict)  # refresh token -> workspace
    exchanged: list[str] = field(default_factory=list)  # codes asked for, in order (used or not)

    def __post_init__(self) -> None:
        self._numbers = itertools.count(1)
        self.stub.extra["oauth.v2.access"] = self._access

    def consent(self, team: str | None, *, enterprise: str | None = None, installer: str = "U0ADMIN") -> str:
        """A person clicked Allow on Slack's consent screen: the code Slack puts in the redirect. `team=None` with
        an `enterprise`: an org-wide install."""
        code = f"code-{next(self._numbers)}"
        self.codes[code] = {"team": team, "enterprise": enterprise, "installer": installer}
        return code

    def revoke(self, team: str) -> None:
        """The app was removed from `team`: its tokens stop working at once."""
        for token in [t for t, owner in self.stub.tokens.items() if owner == team]:
            del self.stub.tokens[token]

    def token_of(self, team: str) -> str:
        return next(token for token, owner in reversed(self.stub.tokens.items()) if owner == team)

    def _access(self, params: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if auth != expected:
            return {"ok": False, "error": "invalid_client_id"}
        if params.get("grant_type") == "refresh_token":
            team = self.refreshes.pop(str(params.get("refresh_token")), None)
            if team is None:
                return {"ok": False, "error": "invalid_refresh_token"}
            token, refresh = self._issue(team)
            return {"ok": True, "token_type": "bot", "access_token": token, "refresh_token": refresh,
                    "expires_in": self.refreshed_expires_in, "team": {"id": team}}  # fmt: skip
        code = str(params.get("code"))
        self.exchanged.append(code)
        grant = self.codes.pop(code, None)  # a code works once
        if grant is None:
            return {"ok": False, "error": "invalid_code"}
        team, enterprise = grant["team"], grant["enterprise"]
        owner = team or enterprise
        token, refresh = self._issue(owner)
        answer: dict[str, Any] = {
            "ok": True,
            "app_id": APP_ID,
            "authed_user": {"id": grant["installer"]},
            "scope": "commands,chat:write",
            "token_type": "bot",
            "access_token": token,
            "bot_user_id": "UBOT",
            "team": {"id": team, "name": f"Team {team}"} if team else None,
            "enterprise": {"id": enterprise, "name": f"Org {enterprise}"} if enterprise else None,
            "is_enterprise_install": team is None,
        }
        if self.rotation:
            answer |= {"refresh_token": refresh, "expires_in": self.expires_in}
        return answer

    def _issue(self, owner: str) -> tuple[str, str]:
        token = f"xoxb-{owner}-{next(self._numbers)}"
        self.stub.tokens[token] = owner
        refresh = f"xoxe-1-{owner}-{next(self._numbers)}"
        if self.rotation:
            self.refreshes[refresh] = owner
        return token, refresh
