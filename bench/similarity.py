"""How well "similar reports" tells the same problem from a different one: bot.improvements.similar scored on the
labelled pairs in tests/voices/similar_pairs.csv (report pairs from sales and marketing, marked similar or not,
with hard negatives: the same words about different problems). Prints precision and recall at each threshold,
and the threshold the bot uses; then how long the intake check takes (bot.improvements.intake.matches: a report
compared with the open problems it reads, their whys and root causes) on SQLite and PostgreSQL, the time a
submitted report form waits before it closes or shows the offer.

    .venv/bin/python bench/similarity.py [--postgres URL] [--open 300] [--reports 50]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Engine, update  # noqa: E402
from sqlmodel import Session  # noqa: E402

from bench.postgres import postgres_problem  # noqa: E402
from bench.tick_and_digest import (  # noqa: E402
    DEFAULT_POSTGRES,
    bulk_insert,
    postgres_database,
    seed_improvements,
    sqlite_database,
)
from bot.core.workspace import WorkspaceRef  # noqa: E402
from bot.improvements.intake import MAX_COMPARED, matches  # noqa: E402
from bot.improvements.similar import SIMILAR_AT, similarity, words  # noqa: E402
from storage.models import Improvement, Why  # noqa: E402

PAIRS = ROOT / "tests" / "voices" / "similar_pairs.csv"


def labelled() -> list[tuple[str, str, bool]]:
    with PAIRS.open(newline="") as handle:
        return [(row["a"], row["b"], row["similar"] == "yes") for row in csv.DictReader(handle)]


def precision_recall(scored: list[tuple[float, bool]], threshold: float) -> tuple[float, float]:
    hits = sum(1 for score, same in scored if score >= threshold and same)
    flagged = sum(1 for score, _ in scored if score >= threshold)
    same = sum(1 for _, is_same in scored if is_same)
    return (hits / flagged if flagged else 1.0), (hits / same if same else 1.0)


def seed_open_problems(engine: Engine, count: int) -> WorkspaceRef:
    """A workspace with `count` improvements, every one open, their problems and whys drawn from the labelled
    texts (so some match), each with three answered whys."""
    ws = seed_improvements(engine, count, datetime(2026, 11, 23, tzinfo=UTC))
    texts = sorted({t for a, b, _ in labelled() for t in (a, b)})
    rng = random.Random(7)
    with Session(engine) as session:
        for number in range(1, count + 1):
            session.execute(update(Improvement).where(Improvement.workspace_id == ws.id, Improvement.number == number)
                            .values(status="investigating", problem=rng.choice(texts)))  # fmt: skip
        session.commit()
        ids = [i for (i,) in session.execute(Improvement.__table__.select().with_only_columns(Improvement.id))]
    whys = [{"improvement_id": i, "position": p, "question": "Why?", "answer": rng.choice(texts)}
            for i in ids for p in (1, 2, 3)]  # fmt: skip
    bulk_insert(engine, Why, whys)
    return WorkspaceRef.of(ws)


def time_intake(engine: Engine, reports: int, open_count: int) -> tuple[float, float, int]:
    """(median ms, p99 ms, offers made) of `reports` intake checks against `open_count` open problems."""
    ws = seed_open_problems(engine, open_count)
    texts = [a for a, _, _ in labelled()]
    runs, offered = [], 0
    for n in range(reports):
        words.cache_clear()  # each report is new text; the open problems' words stay cached in a running bot
        started = time.perf_counter()
        with Session(engine) as session:
            offered += bool(matches(session, ws, "UNEW", texts[n % len(texts)] + f" case {n}"))
        runs.append((time.perf_counter() - started) * 1000)
    runs.sort()
    return statistics.median(runs), runs[min(len(runs) - 1, int(len(runs) * 0.99))], offered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    parser.add_argument("--open", type=int, default=MAX_COMPARED, help="open problems in the workspace")
    parser.add_argument("--reports", type=int, default=50)
    args = parser.parse_args()
    quality()
    print(f"\nIntake check: a report against {args.open:,} open problems with 3 whys each ({args.reports} reports; "
          f"the check reads at most {MAX_COMPARED} of them).\n")  # fmt: skip
    print("| database | median | p99 | offers made |")
    print("|---|--:|--:|--:|")
    with tempfile.TemporaryDirectory(prefix="similarity-") as tmp:
        databases: list[tuple[str, Callable[[], contextlib.AbstractContextManager[Engine]]]] = [
            ("SQLite", lambda: sqlite_database(Path(tmp), "intake"))
        ]
        why = postgres_problem(args.postgres)
        if why is None:
            databases.append(("PostgreSQL", lambda: postgres_database(args.postgres, "intake")))
        for name, opened in databases:
            with opened() as engine:
                median, p99, offered = time_intake(engine, args.reports, args.open)
            print(f"| {name} | {median:.1f} ms | {p99:.1f} ms | {offered}/{args.reports} |")
        if why is not None:
            print(f"\nPostgreSQL skipped: {why}")


def quality() -> None:
    pairs = labelled()
    scored = [(similarity(a, b), same) for a, b, same in pairs]
    similar = sum(1 for *_, same in pairs if same)
    print(f"Similar reports: {len(pairs)} labelled pairs ({similar} similar, {len(pairs) - similar} not).\n")
    print("| threshold | precision | recall | note |")
    print("|--:|--:|--:|---|")
    for step in range(20, 60, 5):
        threshold = step / 100
        precision, recall = precision_recall(scored, threshold)
        note = "the bot's (SIMILAR_AT)" if abs(threshold - SIMILAR_AT) < 1e-9 else ""
        print(f"| {threshold:.2f} | {precision:.2f} | {recall:.2f} | {note} |")


if __name__ == "__main__":
    main()
