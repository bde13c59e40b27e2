"""The team chart on Slack's App Home when Slack will not show it: a file Slack refuses is left out of the view
(its words stay) and uploaded again once it is old enough to be broken rather than still processed; the files of
replaced charts are deleted; a person Slack no longer knows is no longer published to."""

from __future__ import annotations

from sqlmodel import Session, select

from storage.models import ChartImage, HomeView, OutboxMessage
from tests.conftest import ALEX, JO
from tests.support import slack_requests as rq
from tests.support.slack_flows import implemented
from tests.support.world import SlackWorld


def _images(view: dict) -> list[str]:
    return [b["slack_file"]["id"] for b in view["blocks"] if b["type"] == "image"]


def _uploads(slack: SlackWorld) -> int:
    return len(slack.stub.of("files.completeUploadExternal"))


def _refs(slack: SlackWorld) -> list[str | None]:
    with Session(slack.engine) as session:
        return [image.ref for image in session.exec(select(ChartImage).order_by(ChartImage.id)).all()]


async def test_a_chart_slack_refuses_is_left_out_and_uploaded_again_once_old(slack: SlackWorld, caplog) -> None:
    await implemented(slack)
    shown = _images(await slack.open_home(ALEX))
    assert len(shown) == 1 and _uploads(slack) == 1

    slack.stub.fail("views.publish", error="invalid_blocks")  # a file still being processed
    view = await slack.open_home(ALEX)
    assert _images(view) == []  # published again without it, the same figures in words
    assert any("Team" in str(b) for b in view["blocks"])
    assert _refs(slack) == shown  # just uploaded: kept (Slack shows it once it is processed)
    assert "went without its chart" in caplog.text

    slack.clock.advance(minutes=2)
    slack.stub.fail("views.publish", error="invalid_blocks")  # still refused: deleted or broken
    assert _images(await slack.open_home(ALEX)) == []
    assert _refs(slack) == [None]
    assert [c["file"] for c in slack.stub.of("files.delete")] == shown  # the broken copy is not left behind

    again = _images(await slack.open_home(ALEX))
    assert _uploads(slack) == 2 and len(again) == 1 and again != shown  # uploaded again, shown again
    assert _refs(slack) == again
    slack.stub.fail("views.publish", error="invalid_blocks")  # the new file is still being processed: patience
    await slack.open_home(ALEX)
    assert _refs(slack) == again and _uploads(slack) == 2


async def test_a_view_slack_refuses_for_another_reason_keeps_the_chart(slack: SlackWorld, caplog) -> None:
    await implemented(slack)
    shown = _images(await slack.open_home(ALEX))
    slack.clock.advance(minutes=5)
    published = len(slack.stub.of("views.publish"))

    slack.stub.fail("views.publish", error="invalid_blocks", times=2)  # refused with and without the picture
    response = await slack.send(rq.home_opened(ALEX, event_id="EvBad"))
    assert response.status_code == 200

    assert len(slack.stub.of("views.publish")) == published  # nothing was published
    assert _refs(slack) == shown  # the picture was not the cause: kept for everyone
    assert "could not publish the home" in caplog.text and "Traceback" not in caplog.text


async def test_a_busy_database_after_a_refusal_still_shows_the_home(slack: SlackWorld, monkeypatch, caplog) -> None:
    from storage import chart_images
    from storage.db import Unavailable

    await implemented(slack)
    shown = _images(await slack.open_home(ALEX))
    slack.clock.advance(minutes=5)

    def busy(*_args, **_kwargs):
        raise Unavailable("the database is busy")

    monkeypatch.setattr(chart_images, "refused", busy)
    slack.stub.fail("views.publish", error="invalid_blocks")
    view = await slack.open_home(ALEX)

    assert _images(view) == [] and any("Team" in str(b) for b in view["blocks"])  # the home, without its picture
    assert _refs(slack) == shown and "home bookkeeping skipped" in caplog.text and "Traceback" not in caplog.text


async def test_the_files_of_replaced_charts_are_deleted(slack: SlackWorld) -> None:
    await implemented(slack)
    charts = [_images(await slack.open_home(ALEX))[0]]
    for n in range(3):  # three changes of the data, each more than ten minutes apart: three new charts
        await slack.report(JO, f"Problem number {n} bites every week", area="Marketing", hours_per_week=1, people=n + 1)
        slack.clock.advance(minutes=11)
        charts.append(_images(await slack.open_home(ALEX))[0])

    assert len(set(charts)) == 4
    assert [c["file"] for c in slack.stub.of("files.delete")] == [charts[0]]  # the newest three are kept
    assert _refs(slack) == charts[1:]


async def test_a_person_slack_no_longer_knows_is_no_longer_published_to(slack: SlackWorld) -> None:
    await slack.open_home(JO)
    slack.stub.fail("views.publish", error="user_not_found", times=5)

    await slack.report(JO, "Quotes need three signatures", area="Marketing", hours_per_week=1, people=3)
    await slack.bot.ticker.tick()

    with Session(slack.engine) as session:
        assert session.exec(select(HomeView)).all() == []  # forgotten: published again only once they open it
        row = session.exec(select(OutboxMessage).where(OutboxMessage.kind == "home")).one()
        assert row.status != "pending"  # given up, not retried
    await slack.report(JO, "Leads arrive twice", area="Sales", hours_per_week=1, people=3)
    with Session(slack.engine) as session:
        assert len(session.exec(select(OutboxMessage).where(OutboxMessage.kind == "home")).all()) == 1


async def test_two_processes_uploading_the_same_chart_keep_one_file(slack: SlackWorld, monkeypatch) -> None:
    from handlers.slack.port import SlackChat

    await implemented(slack)
    upload = SlackChat.image

    async def raced(self, filename: str, title: str, content: bytes, *, key: str) -> str | None:
        with Session(slack.engine) as session:  # another process uploaded it first and recorded its file
            image = session.exec(select(ChartImage).where(ChartImage.token == key)).one()
            image.ref = "F0THEIRS"
            session.add(image)
            session.commit()
        return await upload(self, filename, title, content, key=key)

    monkeypatch.setattr(SlackChat, "image", raced)
    view = await slack.open_home(ALEX)

    assert _images(view) == ["F0THEIRS"]  # theirs is shown
    deleted = [c["file"] for c in slack.stub.of("files.delete")]
    assert len(deleted) == 1 and deleted[0] != "F0THEIRS"  # ours is deleted, not left behind
    assert _refs(slack) == ["F0THEIRS"]
