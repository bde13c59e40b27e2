"""The App Home tab on Slack: each person sees what waits on them (with the buttons to do it from there), their
own improvements with the ledger, and the team's figures and chart; it is published again when something on it
changes, and the team chart is drawn and uploaded once per change of its data."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from storage.models import ChartImage, HomeView, OutboxMessage
from tests.conftest import ALEX, JO, MAYA
from tests.support import slack_requests as rq
from tests.support.slack_flows import at, implemented, open_form, tick_at, to_approval
from tests.support.world import SlackWorld


def _text(view: dict) -> str:
    def flatten(node: object) -> str:
        if isinstance(node, dict):
            return "\n".join(flatten(v) if k != "text" or not isinstance(v, str) else v for k, v in node.items())
        if isinstance(node, list):
            return "\n".join(flatten(item) for item in node)
        return ""

    return flatten(view["blocks"])


def _uploads(slack: SlackWorld) -> int:
    return len(slack.stub.of("files.completeUploadExternal"))


async def test_each_person_sees_what_waits_on_them_and_their_own_improvements(slack: SlackWorld) -> None:
    await to_approval(slack)  # #1, Alex's, waits for Maya's decision
    await slack.report(JO, "Quotes need three signatures", area="Marketing", hours_per_week=1, people=3)  # #2

    maya = await slack.open_home(MAYA)
    alex = await slack.open_home(ALEX)
    jo = await slack.open_home(JO)

    assert maya["type"] == "home"
    shown = _text(maya)
    assert "Waiting on you" in shown and "Decide the fix of" in shown and "#1 Leads arrive in the CRM twice" in shown
    assert [e["action_id"] for b in maya["blocks"] if b["type"] == "actions" for e in b["elements"]][:3] == [
        "approve", "decline", "question"]  # fmt: skip
    assert "None yet." in shown  # Maya reported nothing
    alex_text = _text(alex)
    assert "Nothing waits on you right now" in alex_text  # someone else decides Alex's proposal
    assert "#1 Leads arrive in the CRM twice" in alex_text and "Awaiting approval" in alex_text
    assert "estimated ≈ 1,040 h/year ≈ $52,000/year" in alex_text  # 2 h/week × 10 people, the ledger
    assert "#2" not in alex_text.split("Team")[0]
    jo_text = _text(jo)
    assert "The 5 Whys of" in jo_text and "#2 Quotes need three signatures" in jo_text
    for shown_to in (shown, alex_text, jo_text):  # the team part is the same for everyone
        assert "🔎 1 finding the root cause" in shown_to and "⏳ 1 awaiting approval" in shown_to
        assert "fewer than 3 people reported this quarter" in shown_to
    with Session(slack.engine) as session:
        assert {h.user_id for h in session.exec(select(HomeView)).all()} == {MAYA, ALEX, JO}


async def test_approving_from_the_home_tab_updates_the_thread_and_the_home(slack: SlackWorld) -> None:
    card, _ = await to_approval(slack)
    home = await slack.open_home(MAYA)
    published = len(slack.stub.of("views.publish"))

    await slack.click_home(home, "approve", MAYA)

    assert "Approved" in slack.card_now(card)
    after = slack.home_of(MAYA)
    assert len(slack.stub.of("views.publish")) > published
    assert "Nothing waits on you right now" in _text(after)
    assert "1 fix approved, ≈ 1,040 h/year expected (approved estimates)" in _text(after)


async def test_a_stale_button_on_the_home_tab_is_answered_on_the_home_tab(slack: SlackWorld) -> None:
    _, request = await to_approval(slack)
    home = await slack.open_home(MAYA)
    await slack.click(request, "approve", MAYA)  # decided in the thread meanwhile
    dms = len(slack.stub.of("chat.postMessage"))

    await slack.click_home(home, "approve", MAYA)

    assert "This request for #1 has already been answered." in _text(slack.home_of(MAYA))
    assert len(slack.stub.of("chat.postMessage")) == dms  # said where they clicked, not in a DM


async def test_a_change_publishes_the_homes_of_the_people_it_concerns(slack: SlackWorld) -> None:
    _, request = await to_approval(slack)
    await slack.open_home(ALEX)
    await slack.open_home(JO)
    alex_before = len([c for c in slack.stub.of("views.publish") if c["user_id"] == ALEX])
    jo_before = len([c for c in slack.stub.of("views.publish") if c["user_id"] == JO])

    await slack.click(request, "approve", MAYA)  # in the thread: Alex's fix is approved, Alex owns it
    await slack.bot.ticker.tick()  # homes are bulk: delivered by the tick

    assert len([c for c in slack.stub.of("views.publish") if c["user_id"] == ALEX]) == alex_before + 1
    assert "Approved, in progress" in _text(slack.home_of(ALEX))
    assert len([c for c in slack.stub.of("views.publish") if c["user_id"] == JO]) == jo_before  # not Jo's
    with Session(slack.engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "home")).all()
        assert [r.target for r in rows] == [ALEX] and rows[0].status == "sent"  # one, however many changes


async def test_the_check_in_waits_on_the_owner_with_its_buttons(slack: SlackWorld) -> None:
    await implemented(slack)
    await tick_at(slack, at(30, 15))  # the first check-in goes out

    home = await slack.open_home(ALEX)

    assert "Check-in 1 of 3: does the fix of" in _text(home)
    await slack.click_home(home, "checkin_holding", ALEX)  # opens the check-in's form
    assert slack.stub.of("views.open")[-1]["view"]["callback_id"]


async def test_the_team_chart_is_drawn_and_uploaded_once_per_change(slack: SlackWorld) -> None:
    await implemented(slack)

    first = await slack.open_home(ALEX)
    images = [b for b in first["blocks"] if b["type"] == "image"]
    assert len(images) == 1 and images[0]["slack_file"]["id"].startswith("F")
    assert "Open problems by estimated hours" in images[0]["alt_text"] or "No open problem" in images[0]["alt_text"]
    uploads = _uploads(slack)
    assert uploads == 1

    await slack.open_home(MAYA)
    await slack.open_home(ALEX)
    assert _uploads(slack) == uploads  # the same data: the same picture, not drawn or uploaded again

    await slack.report(JO, "Quotes need three signatures", area="Marketing", hours_per_week=1, people=3)
    await slack.open_home(ALEX)
    assert _uploads(slack) == uploads  # changed within ten minutes: the picture waits, the words are current
    assert "fewer than 3 people reported this quarter" in _text(slack.home_of(ALEX))

    slack.clock.advance(minutes=11)
    second = await slack.open_home(ALEX)
    assert _uploads(slack) == uploads + 1
    image = next(b for b in second["blocks"] if b["type"] == "image")
    assert image["slack_file"]["id"] != images[0]["slack_file"]["id"]
    with Session(slack.engine) as session:
        assert len(session.exec(select(ChartImage)).all()) == 2


async def test_the_messages_tab_and_a_home_that_cannot_load(slack: SlackWorld, caplog) -> None:
    response = await slack.send(rq.home_opened(ALEX, event_id="EvMsg", tab="messages"))
    assert response.status_code == 200 and slack.stub.of("views.publish") == []

    slack.stub.fail("views.publish", error="not_authed")  # Slack refuses it (not retried)
    response = await slack.send(rq.home_opened(ALEX, event_id="EvFail"))
    assert response.status_code == 200
    assert "could not publish the home" in caplog.text and "Traceback" not in caplog.text


async def test_a_home_event_from_another_workspace_creates_nothing(slack: SlackWorld) -> None:
    response = await slack.send(rq.home_opened(ALEX, event_id="EvOther", team="T0OTHER"))

    assert response.status_code == 200 and slack.stub.of("views.publish") == []
    with Session(slack.engine) as session:
        assert session.exec(select(HomeView)).all() == []


async def test_slash_home_shows_the_same_view_privately(slack: SlackWorld) -> None:
    await to_approval(slack)

    await slack.send_command_text("home", MAYA)

    answer = slack.stub.of("response_url")[-1]
    assert "Decide the fix of" in answer.text_of_blocks and "Team" in answer.text_of_blocks
    assert json.dumps(answer.params).count('"approve"') == 1


async def test_closing_an_awaited_fix_and_an_escalation_publish_the_homes_of_those_asked(slack: SlackWorld) -> None:
    owner = "U0OWNER"
    slack.stub.users[owner] = {"is_owner": True}  # a workspace admin: asked when nobody decides in time
    card, _ = await to_approval(slack)  # Monday 23 Nov; Maya and the approvers' group are asked
    await slack.open_home(owner)
    await slack.open_home(MAYA)
    assert "Nothing waits on you" in _text(slack.home_of(owner))

    await tick_at(slack, at(27, 10))  # four working days without a decision: the admins are asked too
    assert "Decide the fix of" in _text(slack.home_of(owner))  # published again: it waits on them now

    view = await open_form(slack, card, "close", ALEX)
    assert view is not None
    await slack.submit(view, {"reason": "withdrawn", "note": "Sorted it out with ops"}, ALEX)
    await slack.bot.ticker.tick()

    for person in (owner, MAYA):  # it waits on nobody any more, and their tabs say so without being opened
        assert "Nothing waits on you right now" in _text(slack.home_of(person))


async def test_a_home_not_opened_for_a_month_is_not_published_on_changes(slack: SlackWorld) -> None:
    await slack.open_home(JO)
    slack.clock.advance(days=31)

    await slack.report(JO, "Quotes need three signatures", area="Marketing", hours_per_week=1, people=3)

    with Session(slack.engine) as session:
        assert session.exec(select(OutboxMessage).where(OutboxMessage.kind == "home")).all() == []
    await slack.open_home(JO)  # opening it publishes it as it is now, and keeps it fresh again
    assert "#1 Quotes need three signatures" in _text(slack.home_of(JO))
    await slack.report(JO, "Leads arrive twice", area="Sales", hours_per_week=1, people=3)
    with Session(slack.engine) as session:
        assert [r.target for r in session.exec(select(OutboxMessage).where(OutboxMessage.kind == "home"))] == [JO]
