"""Report from any message (issue 12, #2), as Slack sends a message shortcut: the report form opens prefilled with
the message's text; the card credits its author ("raised by") and links to it; the person who used the shortcut
is the reporter. A bot's message, a message too long for the form, a forged link and a stalled database each get
a clear answer."""

from __future__ import annotations

import json
import sqlite3

import pytest
from sqlalchemy import make_url
from sqlmodel import Session, select

from storage.models import Improvement
from tests.conftest import ALEX, JO
from tests.support import slack_requests as rq
from tests.support.world import REPORT_DEFAULTS, SlackWorld

COMPLAINT = "Ugh, the &lt;Lead&gt; form sends every webinar signup to the CRM twice &amp; nobody knows why"


async def _shortcut(slack: SlackWorld, user: str, text: str = COMPLAINT, *, author: str | None = JO,
                    thread_ts: str | None = None) -> dict:  # fmt: skip
    before = len(slack.stub.of("views.open"))
    response = await slack.send(rq.message_action(text, user, author=author, thread_ts=thread_ts))
    assert response.status_code == 200, response.text
    opened = slack.stub.of("views.open")
    assert len(opened) == before + 1, f"no form opened; ephemerals: {slack.ephemerals(user)}"
    return opened[-1]["view"]


def _improvement(slack: SlackWorld) -> Improvement:
    with Session(slack.engine) as session:
        return session.exec(select(Improvement)).one()


async def test_the_shortcut_opens_the_report_prefilled_and_the_card_credits_the_author(slack: SlackWorld) -> None:
    view = await _shortcut(slack, ALEX)

    assert view["callback_id"] == "report"
    problem = next(b for b in view["blocks"] if b.get("block_id") == "problem")
    text = "Ugh, the <Lead> form sends every webinar signup to the CRM twice & nobody knows why"
    assert problem["element"]["initial_value"] == text
    response = await slack.submit(view, {**REPORT_DEFAULTS, "problem": text}, ALEX)
    assert response.status_code == 200 and not response.content

    improvement = _improvement(slack)
    link = "https://acme.slack.com/archives/C0GENERAL/p1800000000000100"
    assert (improvement.reporter_id, improvement.raised_by, improvement.source_link) == (ALEX, JO, link)
    card = slack.cards()[-1]
    raised = next(f["text"] for b in card["blocks"] for f in b.get("fields", []) if "Raised by" in f["text"])
    assert f"<@{JO}> in <{link}|this message>" in raised
    assert "Saved as #1" in slack.ephemerals(ALEX)[-1]


async def test_a_reply_in_a_thread_links_to_it_in_its_thread(slack: SlackWorld) -> None:
    view = await _shortcut(slack, ALEX, thread_ts="1799999999.000001")
    await slack.submit(view, {**REPORT_DEFAULTS, "problem": "Webinar signups reach the CRM twice"}, ALEX)

    assert _improvement(slack).source_link == (
        "https://acme.slack.com/archives/C0GENERAL/p1800000000000100?thread_ts=1799999999.000001&cid=C0GENERAL"
    )


async def test_ones_own_or_a_bots_message_credits_nobody_else(slack: SlackWorld) -> None:
    view = await _shortcut(slack, ALEX, author=ALEX)
    await slack.submit(view, {**REPORT_DEFAULTS, "problem": "Webinar signups reach the CRM twice"}, ALEX)
    assert _improvement(slack).raised_by is None  # Alex is the reporter already

    view = await _shortcut(slack, JO, "Quarterly dashboard export failed again", author=None)
    await slack.submit(view, {**REPORT_DEFAULTS, "problem": "The dashboard export fails every quarter"}, JO)
    raised = [f["text"] for b in slack.cards()[-1]["blocks"] for f in b.get("fields", []) if "Raised by" in f["text"]]
    assert raised and "Someone in <https://acme.slack.com/archives/" in raised[0]


async def test_a_long_message_opens_with_its_first_part_and_hands_back_the_rest(slack: SlackWorld) -> None:
    text = "The pricing page is wrong. " * 150  # 4,050 characters: more than the form takes
    view = await _shortcut(slack, ALEX, text)

    problem = next(b for b in view["blocks"] if b.get("block_id") == "problem")
    assert len(problem["element"]["initial_value"]) == 3000
    assert "Here is the rest:" in slack.ephemerals(ALEX)[-1]


async def test_an_empty_or_forged_source_saves_no_link(slack: SlackWorld) -> None:
    view = await _shortcut(slack, ALEX, "")
    assert "initial_value" not in next(b for b in view["blocks"] if b.get("block_id") == "problem")["element"]
    context = json.loads(view["private_metadata"])
    forged = {**view, "private_metadata": json.dumps({**context, "source_link": "https://evil.example/login",
                                                      "raised_by": "<!channel>"})}  # fmt: skip
    await slack.submit(forged, {**REPORT_DEFAULTS, "problem": "Webinar signups reach the CRM twice"}, ALEX)

    assert (_improvement(slack).raised_by, _improvement(slack).source_link) == (None, None)


async def test_the_form_opens_while_the_database_is_locked(slack: SlackWorld) -> None:
    if slack.engine.dialect.name != "sqlite":
        pytest.skip("a SQLite lock")
    await slack.command("", ALEX)  # the workspace is known
    holder = sqlite3.connect(make_url(slack.engine.url).database or "", isolation_level=None, timeout=5)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process writing
        view = await _shortcut(slack, JO)  # the form needs nothing from the database to open
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    await slack.submit(view, {**REPORT_DEFAULTS, "problem": "Webinar signups reach the CRM twice"}, JO)
    assert (_improvement(slack).reporter_id, _improvement(slack).raised_by) == (JO, None)  # Jo's own message


async def test_another_apps_shortcut_or_a_malformed_one_is_refused_quietly(slack: SlackWorld) -> None:
    other = await slack.send(rq.message_action(COMPLAINT, ALEX, author=JO, callback_id="someone_elses"))
    body, content_type = rq.message_action(COMPLAINT, ALEX, author=JO)
    mangled = body.replace(b"%22message_ts%22%3A+%221800000000.000100%22", b"%22message_ts%22%3A+%5B%5D")
    assert mangled != body
    malformed = await slack.send((mangled, content_type))

    assert other.status_code < 500 and malformed.status_code == 400
    assert slack.stub.of("views.open") == []


async def test_a_direct_message_is_neither_credited_nor_linked(slack: SlackWorld) -> None:
    before = len(slack.stub.of("views.open"))
    await slack.send(rq.message_action(COMPLAINT, ALEX, author=JO, channel="D0ALEXJO"))
    view = slack.stub.of("views.open")[before]["view"]
    assert "raised_by" not in json.loads(view["private_metadata"])
    await slack.submit(view, {**REPORT_DEFAULTS, "problem": "Webinar signups reach the CRM twice"}, ALEX)

    assert (_improvement(slack).raised_by, _improvement(slack).source_link) == (None, None)
