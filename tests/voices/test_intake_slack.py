"""Similar reports at intake (issue 12, #4) on Slack through signed requests: a report that looks like an open
problem turns the modal into the offer (nothing saved yet); adding a voice counts the person once and carries
their words into that problem's thread; "report it as new" saves it as usual; the offer is not made for one's own
reports, for closed or unrelated problems; a problem closed meanwhile, a double submit and a forged offer each get
a clear answer."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, func, select

from storage.models import AuditEntry, Improvement, MeToo
from tests.conftest import ALEX, JO, MAYA
from tests.support import slack_requests as rq
from tests.support.slack_flows import open_form
from tests.support.world import REPORT_DEFAULTS, SlackWorld

LIKE_IT = "Leads come into the CRM twice"


def _count(slack: SlackWorld) -> int:
    with Session(slack.engine) as session:
        return session.exec(select(func.count()).select_from(Improvement)).one()


def _first(slack: SlackWorld) -> Improvement:
    with Session(slack.engine) as session:
        return session.exec(select(Improvement).where(Improvement.number == 1)).one()


async def _offer(slack: SlackWorld, user: str, problem: str = LIKE_IT, **answers: Any) -> dict[str, Any]:
    """Submit a report; returns the offer the modal became (fails when none was made)."""
    view = await slack.command("", user)
    response = await slack.submit(view, {**REPORT_DEFAULTS, "problem": problem, **answers}, user)
    assert response.status_code == 200 and response.content, "no offer was made"
    body = response.json()
    assert body["response_action"] == "update"
    return body["view"]


async def _choose(slack: SlackWorld, offer: dict[str, Any], choice: str, user: str) -> Any:
    response = await slack.submit(offer, {**rq.initial_answers(offer), "similar": choice}, user)
    assert response.status_code == 200, response.text
    return response.json() if response.content else None


async def test_a_report_like_an_open_problem_is_offered_and_a_voice_opens_nothing_new(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)  # #1 "Leads arrive in the CRM twice", 3 h/week × 4 people

    offer = await _offer(slack, JO, idea="Merge the two web forms", customers_how="Two welcome emails")

    assert _count(slack) == 1 and len(slack.cards()) == 1  # nothing saved, nothing posted yet
    blocks = offer["blocks"]
    intro = json.dumps(blocks[0], ensure_ascii=False)
    assert "This looks like #1 “Leads arrive in the CRM twice”" in intro and "report it as new" in intro
    choice = next(b for b in blocks if b.get("block_id") == "similar")
    labels = [o["text"]["text"] for o in choice["element"]["options"]]
    assert labels == ["Add my voice to #1 “Leads arrive in the CRM twice”", "No, report it as new"]
    assert "initial_option" not in choice["element"]  # a choice the person makes, not a default
    kept = rq.initial_answers(offer)  # what was typed is still there
    assert (kept["problem"], kept["idea"], kept["hours_per_week"]) == (LIKE_IT, "Merge the two web forms", "3")
    assert json.loads(offer["private_metadata"])["offered"] == f"{_first(slack).id}:1"

    assert await _choose(slack, offer, str(_first(slack).id), JO) is None  # the modal closes

    assert _count(slack) == 1 and len(slack.cards()) == 1
    assert "Counted: 1 person says this bites them too" in slack.ephemerals(JO)[-1]
    assert "what you wrote is in the thread of #1" in slack.ephemerals(JO)[-1]
    assert "🙋 1 person says this bites them too" in slack.card_now(card) and "3 h/week × 5 people" in slack.card_now(
        card
    )
    said = slack.thread(card)[-1].text_of_blocks
    assert f"<@{JO}> says this bites them too" in said and LIKE_IT in said
    assert "Their idea: Merge the two web forms" in said and "How customers notice it: Two welcome emails" in said
    assert "*Customers notice*\nYes: Two welcome emails" in slack.card_now(card)  # the voice says they do
    with Session(slack.engine) as session:
        [voice] = session.exec(select(MeToo)).all()
        assert (voice.user_id, voice.source) == (JO, "intake")
        entry = session.exec(select(AuditEntry).where(AuditEntry.action == "me_too")).one()
        assert entry.actor_id == JO


async def test_report_it_as_new_saves_it_as_usual(slack: SlackWorld) -> None:
    await slack.report(ALEX)
    offer = await _offer(slack, JO)

    assert await _choose(slack, offer, "new", JO) is None

    assert _count(slack) == 2 and len(slack.cards()) == 2
    assert LIKE_IT in slack.cards()[-1].text_of_blocks and _first(slack).me_too == 0
    assert "Saved as #2" in slack.ephemerals(JO)[-1]


async def test_the_offer_compares_with_whys_and_root_causes_too(slack: SlackWorld) -> None:
    card = await slack.report(ALEX, "Campaign emails always go out late")
    await slack.reply(card.ts, "Every campaign email is reviewed by eight managers", ALEX)

    offer = await _offer(slack, JO, "Eight managers review each campaign email")

    intro = json.dumps(offer["blocks"][0], ensure_ascii=False)
    assert "This looks like #1 “Campaign emails always go out late”" in intro


async def test_no_offer_for_ones_own_reports_closed_problems_or_unrelated_ones(slack: SlackWorld) -> None:
    await slack.report(ALEX)
    await slack.report(ALEX, LIKE_IT, similar="unused")  # Alex's own #1 is not offered to Alex
    assert _count(slack) == 2

    await slack.report(JO, "The quarterly dashboard takes minutes to load", similar="unused")  # unrelated
    assert _count(slack) == 3

    for card in slack.cards()[:2]:
        view = await open_form(slack, card, "close", ALEX)
        assert view is not None
        await slack.submit(view, {"reason": "withdrawn", "note": "Sorted"}, ALEX)
    await slack.report(MAYA, LIKE_IT, similar="unused")  # both alike are closed: saved at once
    assert _count(slack) == 4


async def test_a_problem_closed_meanwhile_keeps_the_offer_open_with_a_clear_answer(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    offer = await _offer(slack, JO)
    view = await open_form(slack, card, "close", ALEX)
    assert view is not None
    await slack.submit(view, {"reason": "withdrawn", "note": "Sorted"}, ALEX)

    answer = await _choose(slack, offer, str(_first(slack).id), JO)

    assert answer["response_action"] == "errors"
    assert "#1 was closed a moment ago. Choose to report it as new." in answer["errors"]["similar"]
    assert await _choose(slack, offer, "new", JO) is None  # the same offer, now as new
    assert _count(slack) == 2


async def test_a_double_submit_of_the_offer_counts_once_and_says_it_once(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    offer = await _offer(slack, JO)

    await _choose(slack, offer, str(_first(slack).id), JO)
    await _choose(slack, offer, str(_first(slack).id), JO)

    assert _first(slack).me_too == 1
    assert len([c for c in slack.thread(card) if "says this bites them too" in c.text_of_blocks]) == 1


async def test_a_forged_or_mangled_offer_changes_nothing(slack: SlackWorld) -> None:
    await slack.report(ALEX)
    offer = await _offer(slack, JO)
    not_offered = await _choose(slack, offer, "99999", JO)  # a value the offer did not have
    assert not_offered["response_action"] == "errors" and "Pick one of the options" in not_offered["errors"]["similar"]

    forged = {**offer, "private_metadata": json.dumps({**json.loads(offer["private_metadata"]), "offered": "99999:1"})}
    assert await _choose(slack, forged, "99999", JO) is None
    assert "I can't find that improvement in this workspace." in slack.ephemerals(JO)[-1]
    assert _count(slack) == 1 and _first(slack).me_too == 0
    huge = {**offer, "private_metadata": json.dumps({**json.loads(offer["private_metadata"]),
                                                     "offered": "99999999999999999999:1"})}  # fmt: skip
    answer = await _choose(slack, huge, "99999999999999999999", JO)  # no such option: asked to pick one, no error
    assert answer["response_action"] == "errors" and _count(slack) == 1
