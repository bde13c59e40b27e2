"""The product assembled: every capability registers what it offers, and a platform gets its service, delivery
and ticker built around its ChatPort and Directory. A new capability is one package with an `interactions`
module and one line in CAPABILITIES."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from bot.core.clock import Clock
from bot.core.identity import Sealer
from bot.core.ports import ChatPort, Directory
from bot.core.registry import Registry
from bot.core.workspace import WorkspaceSettings
from bot.delivery.sender import CONCURRENCY, Delivery
from bot.improvements import interactions as improvements
from bot.insights import interactions as insights
from bot.insights.home import Homes
from bot.rights import interactions as rights
from bot.service import ImproveService
from bot.settings import interactions as settings
from bot.sustain import interactions as sustain
from bot.tick import Ticker
from bot.wins import interactions as wins
from storage.db import Runner

CAPABILITIES = (improvements, sustain, wins, insights, rights, settings)


def registry() -> Registry:
    registry = Registry()
    for capability in CAPABILITIES:
        capability.register(registry)
    return registry


@dataclass(frozen=True)
class Core:
    service: ImproveService
    delivery: Delivery
    ticker: Ticker


def assemble(
    *,
    engine: Engine,
    clock: Clock,
    platform: str,
    chat: ChatPort,
    directory: Directory,
    settings_for: Callable[[str], WorkspaceSettings],
    command: str = "/improve",
    db_timeout: float = 1.0,
    concurrency: int = CONCURRENCY,
    bulk: bool = True,
    message_blocks: int | None = None,
    sealer: Sealer | None = None,
) -> Core:
    """Everything one platform needs of the core. `command`: how the platform spells the command; `db_timeout`:
    how long a request waits for a database worker before it is told to try again; `concurrency`: how many
    messages delivery keeps in progress at once; `bulk=False`: requests leave bulk messages to a worker;
    `message_blocks`: the most blocks one message shows on the platform; `sealer`: opens anonymous reporters' ids
    (bot.core.identity)."""
    interactions = registry()
    runner = Runner(wait=db_timeout / 2, name=f"{platform}-db")  # queued half of it at most, then run: in 3 s
    assert interactions.card is not None
    homes = Homes(engine, runner, clock, chat, directory, draw=interactions.draw, word=command,
                  message_blocks=message_blocks)  # fmt: skip
    delivery = Delivery(
        engine,
        clock,
        chat,
        platform,
        card=interactions.card,
        chart=interactions.draw,
        file=interactions.write,
        home=homes,
        concurrency=concurrency,
        sealer=sealer,
    )
    service = ImproveService(
        engine=engine,
        clock=clock,
        platform=platform,
        registry=interactions,
        settings_for=settings_for,
        directory=directory,
        delivery=delivery,
        runner=runner,
        command=command,
        bulk=bulk,
        homes=homes,
        sealer=sealer,
    )
    return Core(service, delivery, Ticker(engine, clock, platform, delivery, interactions, runner))
