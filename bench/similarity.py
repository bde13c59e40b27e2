"""How well "similar reports" tells the same problem from a different one: bot.improvements.similar scored on the
labelled pairs in tests/voices/similar_pairs.csv (report pairs from sales and marketing, marked similar or not,
with hard negatives: the same words about different problems). Prints precision and recall at each threshold,
and the threshold the bot uses.

    .venv/bin/python bench/similarity.py
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.improvements.similar import SIMILAR_AT, similarity  # noqa: E402

PAIRS = ROOT / "tests" / "voices" / "similar_pairs.csv"


def labelled() -> list[tuple[str, str, bool]]:
    with PAIRS.open(newline="") as handle:
        return [(row["a"], row["b"], row["similar"] == "yes") for row in csv.DictReader(handle)]


def precision_recall(scored: list[tuple[float, bool]], threshold: float) -> tuple[float, float]:
    hits = sum(1 for score, same in scored if score >= threshold and same)
    flagged = sum(1 for score, _ in scored if score >= threshold)
    same = sum(1 for _, is_same in scored if is_same)
    return (hits / flagged if flagged else 1.0), (hits / same if same else 1.0)


def main() -> None:
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
