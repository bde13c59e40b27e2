"""The app as Teams sees it: signed activities (Bot Framework JWTs, keys served locally) into /api/messages,
connector calls out to a local stand-in named by each activity's serviceUrl."""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from sqlalchemy import Engine

from bot.core.clock import FakeClock
from bot.core.config import Settings, load_settings
from handlers.teams.app import TeamsBot, build_teams
from handlers.web import create_web_app
from tests.support.teams_connector import ConnectorCall, ConnectorStub
from tests.support.world import settle

BOT_APP_ID = "11111111-2222-3333-4444-555555555555"
BOT = f"28:{BOT_APP_ID}"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER_TENANT = "0f0f0f0f-1111-2222-3333-444444444444"
INTAKE = "19:intake0000@thread.tacv2"
WINS = "19:wins0000@thread.tacv2"
TEAM = "19:team0000@thread.tacv2"


class Person:
    def __init__(self, name: str, aad: str) -> None:
        self.name, self.aad, self.id = name, aad, f"29:{name.lower()}-mri"

    @property
    def personal(self) -> str:
        return f"a:personal-{self.id}"


ALEX = Person("Alex", "aaaaaaaa-0000-0000-0000-000000000001")
MAYA = Person("Maya", "aaaaaaaa-0000-0000-0000-000000000002")  # an approver
JO = Person("Jo", "aaaaaaaa-0000-0000-0000-000000000003")


class KeyServer:
    """Publishes a signing key the way login.botframework.com does (OpenID keys document)."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid="test-kid", use="sig", alg="RS256")
        document = json.dumps({"keys": [jwk]}).encode()
        self.fetches = 0  # how often the key set was asked for
        keys = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                keys.fetches += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(document)))
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.openid_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/.well-known/openidconfiguration"

    def sign(self, service_url: str, *, kid: str = "test-kid", **claims: Any) -> str:
        """A connector token; a claim given as None is left out."""
        now = int(time.time())
        body = {"iss": "https://api.botframework.com", "aud": BOT_APP_ID, "iat": now, "nbf": now, "exp": now + 600,
                "serviceurl": service_url, **claims}  # fmt: skip
        body = {name: value for name, value in body.items() if value is not None}
        return jwt.encode(body, self.key, algorithm="RS256", headers={"kid": kid})

    def close(self) -> None:
        self.server.shutdown()


def teams_settings(keys: KeyServer, **overrides: str) -> Settings:
    return load_settings({
        "TEAMS_CLIENT_ID": BOT_APP_ID, "TEAMS_CLIENT_SECRET": "not-used-in-tests", "TEAMS_TENANT_ID": TENANT,
        "TEAMS_INTAKE_CHANNEL": INTAKE,
        "TEAMS_WINS_CHANNEL": WINS, "TEAMS_APPROVERS": MAYA.aad, "TEAMS_OPENID_URL": keys.openid_url,
        "IMPROVE_HOURLY_RATE": "50", "IMPROVE_TEAMS_CONVERSATION_MESSAGES_PER_SECOND": "100",
        "IMPROVE_PUBLIC_URL": "https://bot.example.com", "IMPROVE_SECRET_KEY": "test-only-secret-key-of-teams",
        **overrides,
    })  # fmt: skip


def outbound_token(_scope: str, _tenant: str | None = None) -> str:
    return jwt.encode({"appid": BOT_APP_ID}, "t" * 32, algorithm="HS256")


class TeamsWorld:
    def __init__(self, settings: Settings, *, engine: Engine, clock: FakeClock, connector: ConnectorStub,
                 keys: KeyServer) -> None:  # fmt: skip
        self.bot: TeamsBot = build_teams(settings, engine=engine, clock=clock, token=outbound_token)
        web = create_web_app(engine, teams=self.bot, scheduled=False, clock=clock)
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=web), base_url="http://bot.test")
        self.connector, self.keys, self.clock, self.engine = connector, keys, clock, engine
        self._ids = itertools.count(1)
        self.answered_cards: list[dict[str, Any]] = []

    async def close(self) -> None:
        await settle()
        await self.http.aclose()

    async def send(self, activity: dict[str, Any], *, token: str | None = "sign") -> httpx.Response:
        headers = {}
        if token == "sign":
            headers["Authorization"] = f"Bearer {self.keys.sign(activity['serviceUrl'])}"
        elif token:
            headers["Authorization"] = token
        response = await self.http.post("/api/messages", json=activity, headers=headers)
        await settle()
        answer = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        if isinstance(answer, dict) and answer.get("type") == "application/vnd.microsoft.card.adaptive":
            self.answered_cards.append(answer["value"])  # checked against the schema when the test ends
        return response

    # -- activities as Teams sends them ------------------------------------------------------

    def activity(self, person: Person, conversation: dict[str, Any], *, tenant: str = TENANT,
                 **fields: Any) -> dict[str, Any]:  # fmt: skip
        return {
            "id": f"1{next(self._ids):012d}", "channelId": "msteams", "serviceUrl": self.connector.url,
            "timestamp": "2026-11-23T09:00:00.000Z",
            "from": {"id": person.id, "name": person.name, "aadObjectId": person.aad},
            "recipient": {"id": BOT, "name": "Improve"},
            "conversation": {**conversation, "tenantId": tenant},
            "channelData": {"tenant": {"id": tenant}, **fields.pop("channel_data", {})},
            "entities": [{"type": "clientInfo", "locale": "en-US", "timezone": fields.pop("timezone", "UTC")}],
            **fields,
        }  # fmt: skip

    @staticmethod
    def personal(person: Person) -> dict[str, Any]:
        return {"id": person.personal, "conversationType": "personal"}

    @staticmethod
    def thread(root: str, channel: str = INTAKE) -> dict[str, Any]:
        return {"id": f"{channel};messageid={root}", "conversationType": "channel", "isGroup": True}

    async def say(self, person: Person, text: str, conversation: dict[str, Any], *, mention: bool = False,
                  **kw: Any) -> httpx.Response:  # fmt: skip
        activity = self.activity(person, conversation, type="message", text=text, **kw)
        if mention:
            activity["text"] = f"<at>Improve</at> {text}"
            activity["entities"].append({"type": "mention", "text": "<at>Improve</at>",
                                         "mentioned": {"id": BOT, "name": "Improve"}})  # fmt: skip
        return await self.send(activity)

    async def execute(self, person: Person, verb: str, data: dict[str, Any], conversation: dict[str, Any],
                      **kw: Any) -> httpx.Response:  # fmt: skip
        value = {"action": {"type": "Action.Execute", "verb": verb, "data": data}, "trigger": "manual"}
        activity = self.activity(person, conversation, type="invoke", name="adaptiveCard/action", value=value, **kw)
        return await self.send(activity)

    async def click(self, person: Person, call: ConnectorCall, verb: str, conversation: dict[str, Any],
                    **kw: Any) -> httpx.Response:  # fmt: skip
        return await self.execute(person, verb, find_action(call, verb)["data"], conversation, **kw)

    async def submit(self, person: Person, form_call: ConnectorCall | dict[str, Any], answers: dict[str, Any],
                     conversation: dict[str, Any], **kw: Any) -> httpx.Response:  # fmt: skip
        card = form_call.cards[-1] if isinstance(form_call, ConnectorCall) else form_call
        submit = card["actions"][0]
        return await self.execute(person, submit["verb"], {**submit["data"], **answers}, conversation, **kw)

    async def install(self, person: Person) -> httpx.Response:
        conversation = {"id": TEAM, "conversationType": "channel", "isGroup": True}
        team = {"eventType": "teamMemberAdded", "team": {"id": TEAM, "name": "Sales"}}
        activity = self.activity(person, conversation, type="conversationUpdate", membersAdded=[{"id": BOT}],
                                 channel_data=team)  # fmt: skip
        return await self.send(activity)


def card_inputs(card: dict[str, Any]) -> dict[str, Any]:
    """What a form card's inputs hold before anyone touches them (Teams sends these with Action.Execute)."""
    inputs = [b for b in card.get("body", []) if b.get("type", "").startswith("Input.")]
    return {b["id"]: b["value"] for b in inputs if "value" in b}


def find_action(call: ConnectorCall | dict[str, Any], verb: str) -> dict[str, Any]:
    cards = call.cards if isinstance(call, ConnectorCall) else [call]
    for card in cards:
        for block in [*card.get("body", []), {"actions": card.get("actions", [])}]:
            for action in block.get("actions", []) or []:
                if action.get("verb") == verb:
                    return action
    raise AssertionError(f"no {verb!r} button in {call}")
