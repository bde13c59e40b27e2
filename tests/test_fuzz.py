"""2,000 hostile payloads per endpoint and run (seeded: FUZZ_SEED replays a run), from a stranger: never a 5xx,
never a traceback or an error in the log, the server still answers afterwards, nothing that existed changed, and
whatever is new belongs to the stranger (a report anyone may make)."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

from sqlmodel import Session, select

from bot.assembly import registry
from bot.core.workspace import WorkspaceSettings
from handlers.slack import render as slack_render
from handlers.teams import render as teams_render
from storage.models import Decision, Improvement, MeToo, Why, Workspace
from tests.conftest import INTAKE
from tests.support import slack_requests as rq
from tests.support.fuzz import Corrupter
from tests.support.slack_flows import to_approval
from tests.support.teams_flows import report as teams_report
from tests.support.teams_world import Person, TeamsWorld
from tests.support.world import SlackWorld, settle

PAYLOADS = 2_000
SEED = int(os.environ.get("FUZZ_SEED", "20261121"))
STRANGER = "U0STRANGER"  # neither an approver nor a reporter
TEAMS_STRANGER = Person("Stranger", "bbbbbbbb-0000-0000-0000-000000000009")


def snapshot(engine) -> dict[str, Any]:
    with Session(engine) as session:
        first = session.get(Improvement, 1)
        return {
            # anyone may say Me too (it grows the people affected): that is checked below, not forbidden
            "improvement": first.model_dump(exclude={"people", "me_too"}) if first else None,
            "voices": {v.user_id for v in session.exec(select(MeToo).where(MeToo.improvement_id == 1))},
            "counts": (first.people or 0, first.me_too) if first else (0, 0),
            "whys": [w.model_dump() for w in session.exec(select(Why).where(Why.improvement_id == 1))],
            "decisions": [d.model_dump() for d in session.exec(select(Decision).where(Decision.improvement_id == 1))],
            "workspaces": sorted(w.external_id for w in session.exec(select(Workspace))),
            "reporters": {i.reporter_id for i in session.exec(select(Improvement).where(Improvement.id != 1))},
        }


def assert_nothing_broke(before: dict[str, Any], after: dict[str, Any], statuses: list[int], caplog, user) -> None:
    assert [s for s in statuses if s >= 500] == []
    assert [r.getMessage()[:200] for r in caplog.records if r.exc_info or r.levelname in ("ERROR", "CRITICAL")] == []
    for key in ("improvement", "whys", "decisions", "workspaces"):
        assert after[key] == before[key], key
    assert after["reporters"] <= {user}
    (people_before, _), (people, voices) = before["counts"], after["counts"]
    assert voices == len(after["voices"]) and people_before <= people <= people_before + voices  # each voice once


# -- Slack --------------------------------------------------------------------------------------------


def slack_templates(card_ts: str) -> list[tuple[str, Any]]:
    """(kind, payload) for everything /slack/events takes, as a stranger would send it."""
    interactions = registry()
    settings = WorkspaceSettings(intake_channel=INTAKE)
    command = {"token": "t", "team_id": rq.TEAM, "user_id": STRANGER, "command": "/improve", "text": "Leads twice",
               "channel_id": "C0GENERAL", "trigger_id": "1.2.3", "response_url": ""}  # fmt: skip
    templates: list[tuple[str, Any]] = [("command", command)]
    for text in ("help", "checkins", "chekins", ""):
        templates.append(("command", {**command, "text": text}))
    for action in interactions.buttons:
        for value in ("1", "1:1", "2:0"):
            body, _ = rq.block_action(action, value, STRANGER, channel=INTAKE, message_ts=card_ts)
            templates.append(("interaction", json.loads(dict(parse_qsl(body.decode()))["payload"])))
    for handler in interactions.forms.values():
        form = handler.spec(settings).model_copy(
            update={"context": {"improvement": "1", "round": "1", "checkin": "1", "instance": uuid.uuid4().hex}}
        )
        view = slack_render.modal(form)
        answers = {f.id: "Leads twice" for f in form.fields}
        state = rq.state_for(view, {**answers, "area": "Sales", "frequency": "weekly", "hours_per_week": 3,
                                    "people": 4, "customers_notice": False, "owner": STRANGER})  # fmt: skip
        body, _ = rq.view_submission(view, state, STRANGER)
        templates.append(("interaction", json.loads(dict(parse_qsl(body.decode()))["payload"])))
    event, _ = rq.message_event("an answer", STRANGER, channel=INTAKE, thread_ts=card_ts, event_id="Ev0", ts="1.9")
    templates.append(("event", json.loads(event)))
    templates.append(("event", {"type": "url_verification", "challenge": "c"}))
    templates.append(("event", {"type": "event_callback", "team_id": rq.TEAM, "event_id": "Ev9",
                                "event": {"type": "app_home_opened", "user": STRANGER, "tab": "home",
                                          "channel": "D0001", "event_ts": "1.5"}}))  # fmt: skip
    return templates


def slack_request(fuzz: Corrupter, kind: str, payload: Any, n: int) -> tuple[bytes, dict[str, str]]:
    corrupted = fuzz.corrupt(payload)
    if kind == "command":
        fields = corrupted if isinstance(corrupted, dict) else {"text": corrupted}
        form = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
        body = urlencode(form, errors="surrogatepass").encode()  # a lone surrogate goes out as the bytes it is
        content_type = "application/x-www-form-urlencoded"
    elif kind == "interaction":
        body = urlencode({"payload": fuzz.text(corrupted)}, errors="surrogatepass").encode()
        content_type = "application/x-www-form-urlencoded"
    else:
        if isinstance(corrupted, dict) and corrupted.get("event_id") == "Ev0":
            corrupted["event_id"] = f"Ev{n}"
        body = fuzz.text(corrupted).encode()
        content_type = "application/json"
    headers = {"Content-Type": content_type, **rq.sign(body)}
    if fuzz.chance(0.05):
        headers["X-Slack-Signature"] = fuzz.choose(["v0=" + "0" * 64, "", "v0=zz", "v0=\xff\xff"])
    if fuzz.chance(0.03):
        headers["X-Slack-Request-Timestamp"] = fuzz.choose(["abc", "", "-1", "9" * 40])
    return body, headers


async def test_slack_events_survive_2000_hostile_payloads(slack: SlackWorld, caplog) -> None:
    card, _request = await to_approval(slack)
    before = snapshot(slack.engine)
    templates = slack_templates(card.ts)
    fuzz = Corrupter(SEED)
    statuses = []
    caplog.clear()
    for n in range(PAYLOADS):
        kind, payload = fuzz.choose(templates)
        body, headers = slack_request(fuzz, kind, payload, n)
        headers = {k: v.encode("latin-1") for k, v in headers.items()}  # as bytes: odd ones go out as they are
        statuses.append((await slack.http.post("/slack/events", content=body, headers=headers)).status_code)
        if n % 200 == 199:
            await settle()
    await settle()

    assert (await slack.http.get("/healthz")).status_code == 200
    assert_nothing_broke(before, snapshot(slack.engine), statuses, caplog, STRANGER)
    assert {200, 400, 401} <= set(statuses)  # the run reached every door: handled, malformed, unsigned


# -- Teams --------------------------------------------------------------------------------------------


def teams_templates(teams: TeamsWorld, root: str) -> list[dict[str, Any]]:
    interactions = registry()
    personal = teams.personal(TEAMS_STRANGER)
    channel = {"id": "19:general@thread.tacv2", "conversationType": "channel", "isGroup": True}
    templates = [
        teams.activity(TEAMS_STRANGER, personal, type="message", text=text)
        for text in ("improve Leads twice", "improve help", "improve checkins", "improvements", "hello")
    ]
    templates.append(teams.activity(TEAMS_STRANGER, channel, type="message", text="improve help"))
    templates.append(teams.activity(TEAMS_STRANGER, teams.thread(root), type="message", text="an answer"))
    for verb in interactions.buttons:
        value = {"action": {"type": "Action.Execute", "verb": verb, "data": {"value": "1:1"}}, "trigger": "manual"}
        templates.append(teams.activity(TEAMS_STRANGER, personal, type="invoke", name="adaptiveCard/action",
                                        value=value))  # fmt: skip
    for form_id in interactions.forms:
        context = json.dumps({"improvement": "1", "round": "1", "checkin": "1", "instance": uuid.uuid4().hex})
        data = {"form": form_id, "context": context, "problem": "Leads twice", "area": "Sales", "frequency": "weekly",
                "text": "why", "countermeasure": "x", "measure": "y", "owner": TEAMS_STRANGER.aad,
                "metric_now": "1"}  # fmt: skip
        value = {"action": {"type": "Action.Execute", "verb": teams_render.SUBMIT, "data": data}, "trigger": "manual"}
        templates.append(teams.activity(TEAMS_STRANGER, personal, type="invoke", name="adaptiveCard/action",
                                        value=value))  # fmt: skip
    templates.append(teams.activity(TEAMS_STRANGER, channel, type="conversationUpdate", membersAdded=[{"id": "x"}]))
    templates.append(teams.activity(TEAMS_STRANGER, personal, type="installationUpdate", action="add"))
    return templates


async def test_teams_activities_survive_2000_hostile_payloads(teams: TeamsWorld, caplog) -> None:
    root = await teams_report(teams)
    before = snapshot(teams.engine)
    templates = teams_templates(teams, root)
    fuzz = Corrupter(SEED)
    statuses = []
    caplog.clear()
    for n in range(PAYLOADS):
        activity = fuzz.corrupt(fuzz.choose(templates))
        service_url = activity.get("serviceUrl") if isinstance(activity, dict) else None
        token = teams.keys.sign(service_url if isinstance(service_url, str) else teams.connector.url)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
        if fuzz.chance(0.05):
            headers["Authorization"] = fuzz.choose(["", "Bearer x.y.z", "Basic abc", "Bearer " + "a" * 5000])
        response = await teams.http.post("/api/messages", content=fuzz.text(activity).encode(), headers=headers)
        statuses.append(response.status_code)
        if n % 200 == 199:
            await settle()
    await settle()

    assert (await teams.http.get("/healthz")).status_code == 200
    assert_nothing_broke(before, snapshot(teams.engine), statuses, caplog, TEAMS_STRANGER.aad)
    assert {200, 400, 401} <= set(statuses)
