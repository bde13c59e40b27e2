"""How open problems are ranked wherever they are listed (`/improve list`, the home view, the weekly note): the
ones customers notice first, then the ones most people say bite them too; each list orders the rest its own way
(newest, or longest waiting)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col

from storage.models import Improvement


def ranked() -> tuple[Any, ...]:
    """The ORDER BY terms that come first."""
    return col(Improvement.customers_notice).desc(), col(Improvement.me_too).desc()
