"""Once, however often it arrives: a form answered twice (a double click, a retried request, two at the same
moment) saves one record, and the same thread reply under a new event id is one answer."""

from __future__ import annotations

import asyncio
import json

from sqlmodel import Session, func, select

from storage.models import Improvement, Why
from tests.conftest import ALEX
from tests.support import slack_requests as rq
from tests.support.teams_flows import REPORT
from tests.support.teams_world import ALEX as TEAMS_ALEX
from tests.support.teams_world import JO as TEAMS_JO
from tests.support.teams_world import TeamsWorld
from tests.support.world import REPORT_DEFAULTS, SlackWorld, settle


def improvements(engine) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(Improvement)).one()


async def test_a_report_submitted_twice_is_saved_once(slack: SlackWorld) -> None:
    view = await slack.command("", ALEX)
    answers = {**REPORT_DEFAULTS, "problem": "Leads arrive twice"}

    first = await slack.submit(view, answers, ALEX)
    again = await slack.submit(view, answers, ALEX)  # the double click

    assert (first.status_code, again.status_code) == (200, 200)
    assert improvements(slack.engine) == 1 and len(slack.cards()) == 1
    assert len([c for c in slack.stub.of("chat.postEphemeral") if "Saved as #1" in c["text"]]) == 1


async def test_two_copies_arriving_at_the_same_moment_save_one(slack: SlackWorld) -> None:
    view = await slack.command("", ALEX)
    request = rq.view_submission(view, rq.state_for(view, {**REPORT_DEFAULTS, "problem": "Leads twice"}), ALEX)

    body, content_type = request
    headers = {"Content-Type": content_type, **rq.sign(body)}
    answers = await asyncio.gather(*(slack.http.post("/slack/events", content=body, headers=headers) for _ in "abc"))
    await settle()

    assert [a.status_code for a in answers] == [200, 200, 200]
    assert improvements(slack.engine) == 1 and len(slack.cards()) == 1


async def test_each_opening_of_the_form_is_its_own_report(slack: SlackWorld) -> None:
    for _ in range(2):
        view = await slack.command("", ALEX)
        await slack.submit(view, {**REPORT_DEFAULTS, "problem": "Leads arrive twice"}, ALEX)
    assert improvements(slack.engine) == 2  # two reports of the same text are two reports


async def test_a_tampered_form_instance_is_out_of_date(slack: SlackWorld) -> None:
    view = await slack.command("", ALEX)
    metadata = json.loads(view["private_metadata"])
    view["private_metadata"] = json.dumps({**metadata, "instance": "../../etc"})

    await slack.submit(view, {**REPORT_DEFAULTS, "problem": "Leads arrive twice"}, ALEX)

    assert improvements(slack.engine) == 0
    assert "out of date" in slack.ephemerals(ALEX)[-1] or "out of date" in slack.posts()[-1]["text"]


async def test_the_same_reply_under_a_new_event_id_is_one_answer(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    ts = "1800000000.000042"
    first = rq.message_event("Two web forms", ALEX, channel="C0INTAKE", thread_ts=card.ts, event_id="Ev01", ts=ts)
    second = rq.message_event("Two web forms", ALEX, channel="C0INTAKE", thread_ts=card.ts, event_id="Ev02", ts=ts)

    await slack.send(first)
    await slack.send(second)

    with Session(slack.engine) as session:
        assert [w.answer for w in session.exec(select(Why).order_by(Why.position))] == ["Two web forms", None]
    assert len([c for c in slack.thread(card) if "Why #2" in c.text_of_blocks]) == 1


async def test_a_teams_form_card_submitted_twice_is_saved_once(teams: TeamsWorld) -> None:
    await teams.say(TEAMS_ALEX, "improve Leads arrive in the CRM twice", teams.personal(TEAMS_ALEX))
    form = teams.connector.posts_to(TEAMS_ALEX.personal)[-1]

    for _ in range(2):
        response = await teams.submit(TEAMS_ALEX, form, REPORT, teams.personal(TEAMS_ALEX))
        assert response.status_code == 200

    assert improvements(teams.engine) == 1


async def test_a_form_card_in_a_teams_channel_is_one_answer_per_person(teams: TeamsWorld) -> None:
    channel = {"id": "19:general@thread.tacv2", "conversationType": "channel", "isGroup": True}
    await teams.say(TEAMS_ALEX, "improve Leads arrive twice", channel, mention=True)
    form = teams.connector.posts_to(channel["id"])[-1]  # in the channel, for anyone there to fill in

    jos = {**REPORT, "problem": "The quarterly dashboard takes minutes to load"}  # not like Alex's: no offer
    for person, answers in ((TEAMS_ALEX, REPORT), (TEAMS_JO, jos), (TEAMS_JO, jos)):
        assert (await teams.submit(person, form, answers, channel)).status_code == 200

    with Session(teams.engine) as session:
        reporters = sorted(session.exec(select(Improvement.reporter_id)).all())
    assert reporters == sorted([TEAMS_ALEX.aad, TEAMS_JO.aad])  # Jo's second submit is the same answer
