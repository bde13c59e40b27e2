"""The app as Slack sees it: signed requests in through `/slack/events`, Web API calls out to the stub."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import httpx
from sqlalchemy import Engine

from bot.core.clock import FakeClock
from bot.core.config import Settings
from handlers.slack.app import SlackBot, build_slack
from handlers.web import create_web_app
from tests.support import slack_requests as rq
from tests.support.slack_api import Call, SlackApiStub

REPORT_DEFAULTS: dict[str, Any] = {
    "area": "Sales",
    "frequency": "weekly",
    "hours_per_week": 3,
    "people": 4,
    "customers_notice": False,
    "idea": None,
}


async def settle(timeout: float = 10.0) -> None:
    """Wait until the work Bolt runs after an ack (and anything it started) has finished."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task() and not t.done()]
        if not pending:
            return
        if loop.time() > deadline:
            raise TimeoutError(f"{len(pending)} tasks still running: {pending}")
        await asyncio.wait(pending, timeout=0.05)


class SlackWorld:
    def __init__(self, bot: SlackBot, http: httpx.AsyncClient, stub: SlackApiStub, engine: Engine,
                 clock: FakeClock) -> None:  # fmt: skip
        self.bot = bot
        self.http = http
        self.stub = stub
        self.engine = engine
        self.clock = clock
        self._events = itertools.count(1)
        self._ts = itertools.count(1)

    @classmethod
    def build(cls, settings: Settings, *, engine: Engine, clock: FakeClock, stub: SlackApiStub) -> SlackWorld:
        bot = build_slack(settings, engine=engine, clock=clock)
        web = create_web_app(engine, bot, scheduled=False)
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bot.test")
        return cls(bot, http, stub, engine, clock)

    async def close(self) -> None:
        await settle()
        await self.http.aclose()

    # -- raw requests ------------------------------------------------------------------------

    async def send(self, request: tuple[bytes, str], *, headers: dict[str, str] | None = None,
                   signed: bool = True) -> httpx.Response:  # fmt: skip
        body, content_type = request
        all_headers = {"Content-Type": content_type, **(rq.sign(body) if signed else {}), **(headers or {})}
        response = await self.http.post("/slack/events", content=body, headers=all_headers)
        await settle()
        return response

    # -- what people do ----------------------------------------------------------------------

    async def command(self, text: str, user: str, *, channel: str = "C0GENERAL") -> dict[str, Any]:
        """/improve …; returns the modal the bot opened."""
        before = len(self.stub.of("views.open"))
        response = await self.send(rq.slash_command(text, user, channel=channel, response_url=self.stub.response_url))
        assert response.status_code == 200, response.text
        opened = self.stub.of("views.open")
        assert len(opened) == before + 1, "the bot did not open a modal"
        return opened[-1]["view"]

    async def send_command_text(self, text: str, user: str) -> httpx.Response:
        """/improve <text> for subcommands that answer without a modal (help, checkins)."""
        return await self.send(rq.slash_command(text, user, response_url=self.stub.response_url))

    async def submit(self, view: dict[str, Any], answers: dict[str, Any], user: str) -> httpx.Response:
        return await self.send(rq.view_submission(view, rq.state_for(view, answers), user))

    async def report(
        self, user: str, problem: str = "Leads arrive in the CRM twice", *, similar: str = "new", **answers: Any
    ) -> Call:
        """Report through the modal; returns the card Slack received. When the bot offers similar open problems,
        `similar` is the choice ("new", or the id of the improvement to add a voice to)."""
        view = await self.command("", user)
        response = await self.submit(view, {**REPORT_DEFAULTS, "problem": problem, **answers}, user)
        if response.content and response.json().get("response_action") == "update":
            offer = response.json()["view"]
            response = await self.submit(offer, {**rq.initial_answers(offer), "similar": similar}, user)
        assert response.status_code == 200 and not response.content, response.text
        return self.cards()[-1]

    async def reply(self, thread_ts: str, text: str, user: str, *, channel: str = "C0INTAKE",
                    event_id: str | None = None, headers: dict[str, str] | None = None, ts: str | None = None,
                    **extra: Any) -> httpx.Response:  # fmt: skip
        event_id = event_id or f"Ev{next(self._events):06d}"
        ts = ts or f"1800000000.{next(self._ts):06d}"
        request = rq.message_event(text, user, channel=channel, thread_ts=thread_ts, event_id=event_id, ts=ts, **extra)
        return await self.send(request, headers=headers)

    async def edit_reply(self, thread_ts: str, ts: str, text: str, user: str) -> httpx.Response:
        """The person edits their reply `ts` in the thread."""
        event_id = f"Ev{next(self._events):06d}"
        return await self.send(rq.message_changed(text, user, channel="C0INTAKE", thread_ts=thread_ts, ts=ts,
                                                  event_id=event_id))  # fmt: skip

    async def delete_reply(self, thread_ts: str, ts: str, user: str) -> httpx.Response:
        event_id = f"Ev{next(self._events):06d}"
        return await self.send(rq.message_deleted(user, channel="C0INTAKE", thread_ts=thread_ts, ts=ts,
                                                  event_id=event_id))  # fmt: skip

    async def click(self, message: Call, action: str, user: str) -> httpx.Response:
        """Click the button `action` on a message the bot posted."""
        button = find_button(message, action)
        request = rq.block_action(action, button["value"], user, channel=message.response.get("channel") or
                                  message["channel"], message_ts=message.ts,
                                  thread_ts=message.get("thread_ts"))  # fmt: skip
        return await self.send(request)

    async def open_home(self, user: str) -> dict[str, Any]:
        """Open the app's Home tab; returns the view the bot published for `user`."""
        before = len([c for c in self.stub.of("views.publish") if c["user_id"] == user])
        response = await self.send(rq.home_opened(user, event_id=f"Ev{next(self._events):06d}"))
        assert response.status_code == 200, response.text
        return self.home_of(user, after=before)

    def home_of(self, user: str, *, after: int = 0) -> dict[str, Any]:
        """The latest view published to `user`'s Home tab (one published after the first `after` of them)."""
        published = [c for c in self.stub.of("views.publish") if c["user_id"] == user]
        assert len(published) > after, "no home view was published"
        view = published[-1]["view"]
        return json.loads(view) if isinstance(view, str) else view

    async def click_home(self, view: dict[str, Any], action: str, user: str, *, nth: int = 0) -> httpx.Response:
        """Click the `nth` button `action` on a published Home tab view."""
        buttons = [e for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]
                   if e["action_id"] == action]  # fmt: skip
        assert len(buttons) > nth, f"no {action} button on the home view"
        return await self.send(rq.home_action(action, buttons[nth]["value"], user, view=view))

    async def click_and_submit(self, message: Call, action: str, user: str, answers: dict[str, Any]) -> httpx.Response:
        before = len(self.stub.of("views.open"))
        response = await self.click(message, action, user)
        assert response.status_code == 200
        opened = self.stub.of("views.open")
        assert len(opened) == before + 1, f"no form opened; ephemerals: {self.ephemerals(user)}"
        return await self.submit(opened[-1]["view"], answers, user)

    # -- what Slack received -----------------------------------------------------------------

    def posts(self) -> list[Call]:
        return self.stub.of("chat.postMessage")

    def cards(self) -> list[Call]:
        return [c for c in self.posts() if c["channel"] == "C0INTAKE" and not c.get("thread_ts")]

    def thread(self, card: Call) -> list[Call]:
        return [c for c in self.posts() if c.get("thread_ts") == card.ts]

    def updates(self, ts: str) -> list[Call]:
        return [c for c in self.stub.of("chat.update") if c["ts"] == ts]

    def card_now(self, card: Call) -> str:
        """The card's text as it reads now (after every in-place edit)."""
        edits = self.updates(card.ts)
        return (edits[-1] if edits else card).text_of_blocks

    def ephemerals(self, user: str) -> list[str]:
        return [c["text"] for c in self.stub.of("chat.postEphemeral") if c["user"] == user]

    def dms(self, user: str) -> list[Call]:
        return [c for c in self.posts() if c["channel"] == user]


def find_button(message: Call, action: str) -> dict[str, Any]:
    for block in message.get("blocks") or []:
        for element in block.get("elements", []):
            if element.get("type") == "button" and element.get("action_id") == action:
                return element
    raise AssertionError(f"no {action!r} button in {message.params.get('text')!r}")


def has_button(message: Call, action: str) -> bool:
    try:
        find_button(message, action)
    except AssertionError:
        return False
    return True
