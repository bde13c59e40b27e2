"""Whom a DM or a private message goes to. An anonymous reporter's messages are addressed to their pseudonym;
it is opened here, right before the send, and nowhere else (bot.core.identity)."""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine
from sqlmodel import Session

from bot.core.identity import Sealer, is_pseudonym, stand_in
from bot.core.ports import ChatError
from storage.models import Improvement, OutboxMessage

UNREACHABLE = "an anonymous reporter cannot be reached: IMPROVE_SECRET_KEY changed or is not set"


class Recipients:
    def __init__(self, engine: Engine, sealer: Sealer | None) -> None:
        self._engine = engine
        self._sealer = sealer

    async def of(self, row: OutboxMessage) -> str:
        if stand_in(row.target or "") and not is_pseudonym(row.target):
            raise ChatError("the person's data was erased: there is nobody to send to", retryable=False)
        if not is_pseudonym(row.target):
            return row.target or ""
        sealed = await asyncio.to_thread(self._sealed, row.improvement_id, row.target or "")
        user = self._sealer.unseal(sealed) if self._sealer else None
        if user is None:
            raise ChatError(UNREACHABLE, retryable=False)  # never sent to the pseudonym itself
        return user

    def _sealed(self, improvement_id: int | None, pseudonym: str) -> str | None:
        with Session(self._engine) as session:
            improvement = session.get(Improvement, improvement_id) if improvement_id else None
            return improvement.reporter_sealed if improvement and improvement.reporter_id == pseudonym else None
