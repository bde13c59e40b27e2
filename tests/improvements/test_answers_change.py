"""The 5 Whys chain is what the reporter meant (issue 10, #5): an edited answer is updated, a deleted one is taken
back and its why asked again, and a chat aside can be marked "not an answer" — on Slack (message_changed,
message_deleted) and Teams (messageUpdate, messageDelete)."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import Why
from tests.conftest import ALEX, JO
from tests.support.world import SlackWorld, has_button


def answers(slack: SlackWorld) -> list[tuple[int, str | None]]:
    with Session(slack.engine) as session:
        return [(w.position, w.answer) for w in session.exec(select(Why).order_by(Why.position))]


async def test_an_edited_answer_is_updated_and_the_next_question_quotes_it(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    await slack.reply(card.ts, "Two web forms", ALEX, ts="1800000000.000101")
    why2 = slack.thread(card)[-1]
    assert "Why #2" in why2.text_of_blocks and "Two web forms" in why2.text_of_blocks

    await slack.edit_reply(card.ts, "1800000000.000101", "Two web forms, one per team", ALEX)

    assert answers(slack) == [(1, "Two web forms, one per team"), (2, None)]
    edited = slack.updates(why2.ts)[-1]
    assert "Two web forms, one per team" in edited.text_of_blocks and has_button(edited, "root_cause")
    assert len(slack.thread(card)) == 2  # edited in place, nothing new posted

    await slack.edit_reply(card.ts, "1800000000.000101", "Someone else's words", JO)  # not the author
    assert answers(slack)[0] == (1, "Two web forms, one per team")


async def test_a_deleted_answer_is_taken_back_and_its_why_asked_again(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    await slack.reply(card.ts, "Two web forms", ALEX, ts="1800000000.000201")
    await slack.reply(card.ts, "hmm, let me check with ops and come back to you", ALEX, ts="1800000000.000202")
    why3 = slack.thread(card)[-1]
    assert "Why #3" in why3.text_of_blocks

    await slack.delete_reply(card.ts, "1800000000.000202", ALEX)
    await slack.delete_reply(card.ts, "1800000000.000202", ALEX)  # Slack sends it again: taken back once

    assert answers(slack) == [(1, "Two web forms"), (2, None)]
    assert len([c for c in slack.thread(card) if "(again)" in c.text_of_blocks]) == 1
    assert "Withdrawn: the answer it quoted was taken back." in slack.updates(why3.ts)[-1].text_of_blocks
    again = slack.thread(card)[-1]
    assert "Why #2 (again)" in again.text_of_blocks and "Two web forms" in again.text_of_blocks

    await slack.reply(card.ts, "Marketing and sales each built one", ALEX)
    new_why3 = slack.thread(card)[-1]
    assert "Why #3" in new_why3.text_of_blocks and "Marketing and sales each built one" in new_why3.text_of_blocks
    assert not has_button(slack.updates(again.ts)[-1], "root_cause")  # the re-asked why settles like any other
    await slack.click(new_why3, "root_cause", ALEX)
    chain = slack.thread(card)[-1].text_of_blocks.replace("*", "")
    assert "Why 1 → Two web forms" in chain and "Root cause → Marketing and sales each built one" in chain
    assert "let me check with ops" not in chain


async def test_not_an_answer_takes_a_chat_aside_back_with_one_click(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    await slack.reply(card.ts, "Two web forms", ALEX)
    await slack.reply(card.ts, "hmm, let me check with ops and come back to you", ALEX)
    why3 = slack.thread(card)[-1]

    await slack.click(why3, "not_an_answer", JO)
    assert "Only the reporter can take an answer back" in slack.ephemerals(JO)[-1]
    await slack.click(why3, "not_an_answer", ALEX)

    assert answers(slack) == [(1, "Two web forms"), (2, None)]
    assert "Why #2 (again)" in slack.thread(card)[-1].text_of_blocks
    await slack.click(why3, "not_an_answer", ALEX)  # a second click on the withdrawn question
    assert "the 5 Whys have moved on" in slack.ephemerals(ALEX)[-1]
    assert answers(slack) == [(1, "Two web forms"), (2, None)]


async def test_an_edit_after_the_root_cause_updates_the_chain_and_the_card(slack: SlackWorld) -> None:
    card = await slack.report(ALEX)
    await slack.reply(card.ts, "Two web forms", ALEX, ts="1800000000.000301")
    await slack.click(slack.thread(card)[-1], "root_cause", ALEX)
    chain = slack.thread(card)[-1]

    await slack.edit_reply(card.ts, "1800000000.000301", "Two web forms, and nobody owns them", ALEX)

    assert "Root cause → Two web forms, and nobody owns them" in slack.updates(chain.ts)[-1].text_of_blocks.replace(
        "*", ""
    )
    assert "Two web forms, and nobody owns them" in slack.card_now(card)

    await slack.delete_reply(card.ts, "1800000000.000301", ALEX)  # the chain is closed: it stays
    assert answers(slack) == [(1, "Two web forms, and nobody owns them")]


async def test_teams_an_edit_and_a_deletion_follow_the_answer(teams) -> None:
    from tests.support.teams_flows import report
    from tests.support.teams_world import ALEX as TEAMS_ALEX
    from tests.support.teams_world import INTAKE

    root = await report(teams)
    chain = teams.thread(root)
    said = teams.activity(TEAMS_ALEX, chain, type="message", text="Two web forms")
    await teams.send(said)
    answer_id = said["id"]
    why2 = teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1]

    update = teams.activity(TEAMS_ALEX, chain, type="messageUpdate", id=answer_id, text="Two web forms, one a team",
                            channel_data={"eventType": "editMessage"})  # fmt: skip
    assert (await teams.send(update)).status_code in (200, 202)
    assert "Two web forms, one a team" in teams.connector.updates_of(why2.response["id"])[-1].text

    delete = teams.activity(TEAMS_ALEX, chain, type="messageDelete", id=answer_id,
                            channel_data={"eventType": "softDeleteMessage"})  # fmt: skip
    assert (await teams.send(delete)).status_code in (200, 202)
    assert "Why #1 (again)" in teams.connector.posts_to(f"{INTAKE};messageid={root}")[-1].text
