"""The home view of one person: gathered in one read transaction, its team chart drawn once per change of the
chart's data (storage.chart_images) and made into an image the platform can show (ChatPort.image) once, then
rendered (bot.insights.home_views). Slack publishes it to the App Home tab when it is opened and again when
something on it changes (an outbox "home" row); Teams asks for it with its card's refresh; the console prints it."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from cachetools import LRUCache
from sqlalchemy import Engine, delete, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.core.calendar import zone
from bot.core.clock import Clock
from bot.core.domain import Status
from bot.core.messages import Message
from bot.core.outcomes import Actor
from bot.core.ports import ChatError, ChatPort, Directory
from bot.core.workspace import WorkspaceRef
from bot.delivery.late import Missing
from bot.improvements.ranking import ranked
from bot.insights import home_views, team, team_chart
from bot.insights.waiting import Waiting, waiting_on
from storage import chart_images
from storage.db import Runner, Unavailable
from storage.models import AuditEntry, HomeView, Improvement, Workspace

log = logging.getLogger("improvebot.home")
T = TypeVar("T")

# a change of the team's data draws a new chart at most this often: the figures in words are always current, the
# picture is "as of" its time (a busy workspace would otherwise upload a new image at every report)
CHART_EVERY = timedelta(minutes=10)
# … and the team's figures are computed again at least this often, whatever the version says
FIGURES_FOR = timedelta(seconds=60)
# … but their 90-day trends (team.TRENDS: cycle times, reporters per week, sustain rate; what the chart draws)
# only this often: they move slowly, and counting them is most of the figures' time
TRENDS_FOR = CHART_EVERY
# a chart the platform refuses to show is made showable again (Slack: uploaded again) once it is this old: a file
# just uploaded may still be processed (refused for a few seconds), an older one was deleted or is broken
SETTLE = timedelta(minutes=1)


@dataclass(frozen=True)
class Home:
    user: str
    waiting: Waiting
    mine: list[Improvement]  # reported or owned, not closed, newest first (home_views.MINE of them)
    mine_total: int
    team: team.TeamFigures


def version_of(session: Session, workspace_id: int) -> tuple[Any, ...]:
    """What changes whenever the team's figures may have: the newest improvement, and the newest entry of the audit
    trail (every report, answer, decision, edit and check-in answer writes one)."""
    newest = session.exec(select(func.max(Improvement.id)).where(Improvement.workspace_id == workspace_id)).one()
    audited = session.exec(select(func.max(AuditEntry.id)).where(AuditEntry.workspace_id == workspace_id)).one()
    return newest, audited


def gather(session: Session, ws: WorkspaceRef, actor: Actor, figures: team.TeamFigures) -> Home:
    mine = (
        (col(Improvement.workspace_id) == ws.id)
        & or_(col(Improvement.reporter_id) == actor.user, col(Improvement.owner_id) == actor.user)
        & (col(Improvement.status) != Status.CLOSED.value)
    )
    return Home(
        user=actor.user,
        waiting=waiting_on(session, ws, actor),
        mine=list(
            session.exec(
                select(Improvement)
                .where(mine)
                .order_by(*ranked(), col(Improvement.created_at).desc(), col(Improvement.number).desc())
                .limit(home_views.MINE)
            ).all()
        ),
        mine_total=int(session.exec(select(func.count()).where(mine)).one()),
        team=figures,
    )


def remember(session: Session, workspace_id: int, user: str, now: datetime) -> None:
    """`user` opened their home: it is published again whenever something on it changes."""
    seen = session.exec(select(HomeView).where(HomeView.workspace_id == workspace_id, HomeView.user_id == user)).first()
    if seen is not None:
        seen.opened_at = now
        return
    try:
        with session.begin_nested():
            session.add(HomeView(workspace_id=workspace_id, user_id=user, opened_at=now))
    except IntegrityError:  # opened twice at the same moment: the other request remembered it
        pass


def forget(session: Session, workspace_id: int, user: str) -> None:
    """`user`'s home is no longer published on changes (they are gone, or the tab is off)."""
    session.exec(delete(HomeView).where(col(HomeView.workspace_id) == workspace_id, col(HomeView.user_id) == user))


@dataclass(frozen=True)
class _Known:
    """A workspace's team figures as last computed: for `version` (version_of), `at`, their trends at `trends_at`."""

    version: tuple[Any, ...]
    at: datetime
    figures: team.TeamFigures
    trends_at: datetime


@dataclass(frozen=True)
class _Cached:
    id: int
    token: str
    ref: str | None
    png: bytes
    made_at: datetime


def _cached(session: Session, workspace_id: int, digest: str, now: datetime) -> _Cached | None:
    """The chart of exactly this data, or the newest one while it is younger than CHART_EVERY."""
    image = chart_images.find(session, workspace_id, team.CHART, digest)
    if image is None:
        newest = chart_images.newest(session, workspace_id, team.CHART)
        image = newest if newest is not None and now - newest.created_at < CHART_EVERY else None
    if image is None or image.id is None:
        return None
    return _Cached(image.id, image.token, image.ref, image.png if image.ref is None else b"", image.created_at)


class Homes:
    """Renders home views. `draw`: a chart's payload to PNG (the registry's); `word`: the command as the
    platform spells it."""

    def __init__(
        self,
        engine: Engine,
        runner: Runner,
        clock: Clock,
        chat: ChatPort,
        directory: Directory,
        *,
        draw: Callable[[dict[str, Any]], bytes],
        word: str,
        message_blocks: int | None = None,
    ) -> None:
        self._engine = engine
        self._runner = runner
        self._clock = clock
        self._chat = chat
        self._directory = directory
        self._draw = draw
        self._word = word
        self._message_blocks = message_blocks  # the most blocks a message shows (Slack: 50): a home sent as one fits
        # one chart drawn and uploaded at a time per workspace (two views never make it twice in this process;
        # two processes may: the second's copy is deleted, see _make)
        self._charting: LRUCache[int, asyncio.Lock] = LRUCache(maxsize=1000)
        self._showable = True  # False once the platform said it cannot show pictures (Teams without a public URL)
        # the team's figures are everyone's: computed once per change of the workspace's version (version_of)
        self._figures_lock = threading.Lock()  # read() runs on the database runner's threads
        self._figures: LRUCache[int, _Known] = LRUCache(maxsize=1000)

    async def _run(self, fn: Callable[[Session], T]) -> T:
        return await self._runner.transaction(self._engine, fn)

    async def render(
        self, ws: WorkspaceRef, user: str, *, opened: bool = False, notice: str = "", in_message: bool = False
    ) -> Message:
        """`user`'s home as it reads now (`opened`: they opened it, remember to publish it again on changes;
        `in_message`: shown as a message, not on a home surface).
        Raises storage.db.Unavailable when the database cannot be read."""
        actor = Actor(user=user, is_approver=await self._directory.is_approver(user, ws.settings.approvers))
        now = self._clock.now()

        def read(session: Session) -> tuple[Home, dict[str, Any], str, _Cached | None]:
            data = gather(session, ws, actor, self._team_figures(session, ws, now))
            payload = team.chart_payload(data.team)
            digest = team.digest_of(payload)
            return data, payload, digest, _cached(session, ws.id, digest, now)

        if opened:  # a short write of its own: the read below holds no lock SQLite writers wait for
            await self._run(lambda session: remember(session, ws.id, user, now))
        data, payload, digest, cached = await self._run(read)
        chart = await self._chart(ws, payload, digest, cached, now)
        fit = self._message_blocks if in_message else None
        return home_views.home(data, chart, ws.settings, self._word, notice, fit)

    def _team_figures(self, session: Session, ws: WorkspaceRef, now: datetime) -> team.TeamFigures:
        """The team's figures: as last computed while the workspace's version is the same (FIGURES_FOR at most),
        else counted again, reusing the slow trends while they are younger than TRENDS_FOR."""
        version = version_of(session, ws.id)
        with self._figures_lock:
            known = self._figures.get(ws.id)
        if known is not None and known.version == version and now - known.at < FIGURES_FOR:
            return known.figures
        recent = known is not None and timedelta(0) <= now - known.trends_at < TRENDS_FOR
        trends = known.figures if known is not None and recent else None
        figures = team.team_figures(session, ws.id, now, ws.settings.timezone, trends)
        trends_at = known.trends_at if known is not None and trends is not None else now
        with self._figures_lock:
            self._figures[ws.id] = _Known(version, now, figures, trends_at)
        return figures

    async def of_workspace(self, workspace_id: int, user: str) -> Message:
        """For delivery (an outbox "home" row names the workspace by its row)."""

        def load(session: Session) -> WorkspaceRef:
            workspace = session.get(Workspace, workspace_id)
            if workspace is None:
                raise Missing(f"no workspace {workspace_id} to render a home view of")
            return WorkspaceRef.of(workspace)

        return await self.render(await self._run(load), user)

    async def _chart(
        self, ws: WorkspaceRef, payload: dict[str, Any], digest: str, cached: _Cached | None, now: datetime
    ) -> home_views.Chart | None:
        """The team chart as the platform shows it; None when it cannot be drawn or shown now (the view says the
        same in words)."""
        if cached is not None and cached.ref is not None:
            return self._shown(ws, cached.ref, cached.made_at)
        if not self._showable:
            return None
        lock = self._charting.get(ws.id)
        if lock is None:
            lock = self._charting[ws.id] = asyncio.Lock()
        async with lock:
            try:
                return await self._make(ws, payload, digest, now)
            except (ChatError, Unavailable) as exc:
                log.warning("the team chart could not be shown: %s", exc)
            except Exception:  # the view goes without its picture rather than not at all
                log.exception("the team chart could not be made")
        return None

    async def _make(
        self, ws: WorkspaceRef, payload: dict[str, Any], digest: str, now: datetime
    ) -> home_views.Chart | None:
        """Draw the chart (unless another view just did) and make it showable; the platform's copies of the charts
        it replaces are deleted."""
        found = await self._run(lambda session: _cached(session, ws.id, digest, now))  # made meanwhile?
        if found is not None:
            cached = found
        else:
            png = await asyncio.to_thread(self._draw, payload)

            def keep(session: Session) -> tuple[_Cached, list[str]]:
                image, dropped = chart_images.keep(session, ws.id, team.CHART, digest, png, now)
                assert image.id is not None
                return _Cached(image.id, image.token, image.ref, image.png, image.created_at), dropped

            cached, dropped = await self._run(keep)
            for old in dropped:
                await self._forget(old)
        if cached.ref is not None:
            return self._shown(ws, cached.ref, cached.made_at)
        title = f"{team_chart.TITLE} ({payload.get('quarter', '')})"
        ref = await self._chat.image(team_chart.FILENAME, title, cached.png, key=cached.token)
        if ref is None:
            self._showable = False
            return None
        image_id = cached.id
        if not await self._run(lambda session: chart_images.set_ref(session, image_id, ref, self._clock.now())):
            await self._forget(ref)  # another process made its copy first: this one is not needed
            theirs = await self._run(lambda session: _cached(session, ws.id, digest, now))
            return self._shown(ws, theirs.ref, theirs.made_at) if theirs and theirs.ref else None
        return self._shown(ws, ref, cached.made_at)

    async def _forget(self, ref: str) -> None:
        try:
            await self._chat.forget_image(ref)
        except ChatError as exc:  # a file left behind: harmless
            log.warning("an old chart could not be deleted: %s", exc)

    async def publish(self, workspace_id: int, user: str, message: Message) -> None:
        """Publish `user`'s home (ChatPort.home). A picture the platform refuses (Slack: a file it has not finished
        processing, or one deleted since) is left out and the view published without it; a chart older than
        SETTLE is made showable again at the next view. Someone the platform says is gone is forgotten (their
        home is published again once they open it). Raises ChatError."""
        try:
            await self._chat.home(user, message)
            return
        except ChatError as exc:
            if exc.gone:
                await self._best_effort(lambda session: forget(session, workspace_id, user))
                raise
            if not message.images or "invalid_blocks" not in str(exc):
                raise
        await self._chat.home(user, message.without_images())  # refused again: the picture was not the cause
        log.warning("the home of %s went without its chart: Slack refused the picture", user)
        made_before, refs = self._clock.now() - SETTLE, message.images
        dropped = await self._best_effort(
            lambda session: chart_images.refused(session, workspace_id, refs, made_before)
        )
        for ref in dropped or []:
            await self._forget(ref)

    async def _best_effort(self, fn: Callable[[Session], T]) -> T | None:
        """Bookkeeping a published view does not wait for: a busy database skips it (one log line)."""
        try:
            return await self._run(fn)
        except Unavailable as exc:
            log.warning("home bookkeeping skipped: %s", exc)
            return None

    @staticmethod
    def _shown(ws: WorkspaceRef, ref: str, made_at: datetime) -> home_views.Chart:
        local = made_at.astimezone(zone(ws.settings.timezone))
        return home_views.Chart(ref=ref, made_at=f"{local:%d %b %H:%M} {local.tzname()}")
