"""What data rights register: the tick's retention jobs."""

from __future__ import annotations

from bot.core.registry import Registry, TickJob
from bot.rights import retention


def register(registry: Registry) -> None:
    registry.tick(TickJob("old rows purged", retention.purge, repeat=True))
    registry.tick(TickJob("removed workspaces erased", retention.erase_removed, repeat=True))
    registry.tick(TickJob("install links expired", retention.purge_install_links))
