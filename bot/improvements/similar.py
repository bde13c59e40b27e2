"""Similar problems: two reports say the same thing when most of their content words match (each word matched to
its closest in the other text by rapidfuzz, so "leads"/"lead" and small typos still match; common words and
numbers do not count). Measured on a labelled set of report pairs by bench/similarity.py; SIMILAR_AT is the
threshold it supports (precision >= 0.8 at recall >= 0.6, asserted by tests/voices/test_similarity.py)."""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import fuzz, process

SIMILAR_AT = 0.35  # a score at or above this: "this looks like #12"
WORD_MATCH = 80  # two words are the same word from this rapidfuzz ratio on (0-100)
_STOP = frozenset(
    """a an the and or but of to in on at for from by with without is are was were be been being it its this that
    these those we our us you your they their them he she his her i me my every each some any all no not can cannot
    never too very has have had do does did get gets got go goes going when because so than then there here what
    which who whom how why into over under after before about as up down out just still only also more most many
    much per one two three four five once twice day days week weeks month monthly weekly time times often always
    someone people""".split()  # noqa: SIM905 (a word list reads better as words)
)
_SUFFIXES = ("ing", "ed", "es", "s", "ly")


def _stem(word: str) -> str:
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=20_000)
def words(text: str) -> frozenset[str]:
    """The content words of `text`, lower-cased and stripped of common endings."""
    return frozenset(_stem(w) for w in re.findall(r"[^\W\d_]+", text.lower()) if w not in _STOP and len(w) > 1)


def similarity(a: str, b: str) -> float:
    """0 (nothing in common) to 1 (the same content words): the share of the two texts' words that have a close
    match in the other."""
    first, second = words(a), words(b)
    if not first or not second:
        return 0.0
    matched = sum(1 for word in first if _matches(word, second)) + sum(1 for word in second if _matches(word, first))
    return matched / (len(first) + len(second))


def _matches(word: str, others: frozenset[str]) -> bool:
    return word in others or process.extractOne(word, others, scorer=fuzz.ratio, score_cutoff=WORD_MATCH) is not None
