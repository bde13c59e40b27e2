"""How problems are ranked wherever they are listed (`/improve list`, the home view, the weekly note): open
problems before finished or declined ones, then the chronic ones (bot.improvements.chronic), then the ones
customers notice, then the ones most people say bite them too; each list orders the rest its own way (newest, or
longest waiting)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import case
from sqlmodel import col

from bot.core.domain import OPEN_STATUSES
from storage.models import Improvement


def ranked() -> tuple[Any, ...]:
    """The ORDER BY terms that come first."""
    is_open = case((col(Improvement.status).in_([s.value for s in OPEN_STATUSES]), 0), else_=1)
    chronic = case((col(Improvement.chronic).is_not(None), 0), else_=1)
    return is_open, chronic, col(Improvement.customers_notice).desc(), col(Improvement.me_too).desc()
