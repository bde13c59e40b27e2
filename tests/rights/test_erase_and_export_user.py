"""Data rights (issue 13, #4) through the CLI, on a workspace that lived: `improvebot erase-user` leaves the
person's id in no text column of any table (every one scanned), shows them as "a former teammate", removes
their why answers and notes, keeps every number, and stops everything on its way to them; `improvebot
export-user` writes what is held about them, and never what they reported anonymously. Both are audited."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlmodel import Session, select

from handlers.cli import main
from handlers.slack import render
from storage.models import AuditEntry, Checkin, Improvement, Why
from tests.conftest import ALEX, JO, MAYA, TEST_SECRET_KEY
from tests.support.scan import columns_holding
from tests.support.slack_flows import implemented
from tests.support.slack_requests import TEAM
from tests.support.world import SlackWorld


async def _cli(slack: SlackWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: str) -> int:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("DATABASE_URL", slack.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("IMPROVE_SECRET_KEY", TEST_SECRET_KEY)
    return await asyncio.to_thread(main, [*args, "--platform", "slack", "--workspace", TEAM, "--user", ALEX])


def _totals(slack: SlackWorld) -> list[tuple]:
    with Session(slack.engine) as session:
        return [(i.number, i.hours_per_week, i.people, i.approved_hours_per_year, i.metric_now_value, i.status)
                for i in session.exec(select(Improvement).order_by(Improvement.number)).all()]  # fmt: skip


async def test_erasing_a_person_leaves_no_trace_of_their_id_and_keeps_the_numbers(
    slack: SlackWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    card = await implemented(slack)  # Alex reported #1, answered its why, owns the fix; check-ins are scheduled
    second = await slack.report(JO, "The pricing page shows last year's prices")
    await slack.click(second, "me_too", ALEX)
    await slack.open_home(ALEX)
    await slack.reply(card.ts, f"<@{ALEX}> knows the webhook best", MAYA)  # someone else names Alex
    before = _totals(slack)
    assert columns_holding(slack.engine, ALEX)

    assert await _cli(slack, monkeypatch, tmp_path, "erase-user") == 0

    assert columns_holding(slack.engine, ALEX) == []
    assert _totals(slack) == before  # hours, people, the approved case, the reading, the stage: all kept
    with Session(slack.engine) as session:
        answers = session.exec(select(Why.answer).where(Why.answer.is_not(None))).all()  # type: ignore[union-attr]
        assert answers == ["[removed]"]
        assert {c.status for c in session.exec(select(Checkin)).all()} == {"cancelled"}
        erased = session.exec(select(AuditEntry).where(AuditEntry.action == "erased_person")).one()
        assert erased.detail["person"].startswith("former:") and erased.detail["texts"] >= 1
    view = await slack.bot.service.thread_of(TEAM, 1)
    assert view is not None and "a former teammate" in json.dumps(render.message(view.card), ensure_ascii=False)


async def test_exporting_a_person_writes_what_is_held_but_not_their_anonymous_reports(
    slack: SlackWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    await implemented(slack)
    await slack.report(ALEX, "Nobody knows who approves discounts", anonymous=True)
    out = tmp_path / "alex.json"

    assert await _cli(slack, monkeypatch, tmp_path, "export-user", "--out", str(out)) == 0

    held = json.loads(out.read_text())
    assert held["person"] == ALEX and [i["number"] for i in held["improvements"]] == [1]
    assert set(held["improvements"][0]["roles"]) == {"reporter", "owner"}
    assert held["why_answers"][0]["answer"] == "Two web forms" and held["checkins"]
    assert held["named_in"]["improvement.reporter_id"] == 1 and held["settings"] == []
    assert "discounts" not in out.read_text()  # #2 was anonymous: nothing here names Alex as its reporter
    with Session(slack.engine) as session:
        assert session.exec(select(AuditEntry).where(AuditEntry.action == "exported_person")).one()


async def test_an_unknown_workspace_is_one_clear_line(
    slack: SlackWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", slack.engine.url.render_as_string(hide_password=False))
    assert main(["erase-user", "--platform", "slack", "--workspace", "T9999", "--user", ALEX]) == 2
    assert "no slack workspace 'T9999' in this database" in capsys.readouterr().err


def test_an_id_is_matched_whole() -> None:
    from bot.rights.scrub import as_id

    find = as_id("@alex")
    assert find.search("ask <@alex> first") and find.search("@alex.")  # a sentence's full stop is not the id's
    assert not find.search("@alex.b") and not find.search("x@alex") and not find.search("@alexandra")
    assert not as_id("U0AL").search("U0ALEX")


async def test_a_bad_id_or_a_person_nobody_knows_changes_nothing(
    slack: SlackWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await slack.report(JO)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", slack.engine.url.render_as_string(hide_password=False))
    args = ["--platform", "slack", "--workspace", TEAM]
    assert main(["erase-user", *args, "--user", ""]) == 2
    assert main(["erase-user", *args, "--user", "a"]) == 2
    assert "is not a slack user id" in capsys.readouterr().err
    assert main(["erase-user", *args, "--user", "U0NOBODY"]) == 1
    assert "nothing is held about U0NOBODY" in capsys.readouterr().err
    with Session(slack.engine) as session:
        assert not session.exec(select(AuditEntry).where(AuditEntry.action == "erased_person")).first()


async def test_erasing_where_there_are_anonymous_reports_needs_the_key(
    slack: SlackWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await slack.report(ALEX, anonymous=True)
    await slack.report(ALEX, "The pricing page shows last year's prices")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", slack.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("IMPROVE_SECRET_KEY", "another-key-than-the-servers")
    assert main(["erase-user", "--platform", "slack", "--workspace", TEAM, "--user", ALEX]) == 2
    assert "IMPROVE_SECRET_KEY" in capsys.readouterr().err

    assert await _cli(slack, monkeypatch, tmp_path, "erase-user") == 0  # with the server's key
    with Session(slack.engine) as session:
        assert session.exec(select(Improvement.reporter_sealed).where(Improvement.number == 1)).one() is None
