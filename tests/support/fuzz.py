"""A seeded generator of hostile payloads: valid ones of every kind an endpoint takes, then corrupted (keys
dropped, values swapped for the wrong type, NaN and infinity, huge numbers, NUL, lone surrogates, deep nesting,
long ids, mentions). Deterministic for a seed, so a failure can be replayed (FUZZ_SEED=...)."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

HOSTILE: list[Any] = [
    None,
    0,
    -1,
    2**64,
    1e309,  # infinity
    float("nan"),
    True,
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate: no UTF-8 can encode it
    "\u202eevil",
    "<!channel> <@U0BOSS>",
    "U" * 200,
    "9" * 50,
    "x" * 5_000,
    "../../etc/passwd",
    "1:1",
    "-1:-1",
    "٣",
    [],
    {},
    [1, "a", None],
    {"id": 5},
]


def deep(levels: int) -> Any:
    node: Any = "bottom"
    for _ in range(levels):
        node = [node]
    return node


class Corrupter:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def value(self) -> Any:
        if self.rng.random() < 0.05:
            return deep(self.rng.choice([20, 100, 300]))
        return copy.deepcopy(self.rng.choice(HOSTILE))

    def _paths(self, node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        found = [path] if path else []
        if isinstance(node, dict):
            for key, child in node.items():
                found += self._paths(child, (*path, key))
        elif isinstance(node, list):
            for index, child in enumerate(node[:20]):
                found += self._paths(child, (*path, index))
        return found

    def corrupt(self, payload: Any, times: int | None = None) -> Any:
        """`payload` with 1-3 places changed: a value replaced, a key dropped, or a key added."""
        payload = copy.deepcopy(payload)
        for _ in range(times or self.rng.randint(1, 3)):
            paths = self._paths(payload)
            if not paths:
                return self.value()
            path = self.rng.choice(paths)
            parent = payload
            for step in path[:-1]:
                parent = parent[step]
            what = self.rng.random()
            if what < 0.15 and isinstance(parent, dict):
                parent.pop(path[-1], None)
            elif what < 0.25 and isinstance(parent, dict):
                parent[self.rng.choice(["type", "id", "user", "team", "value", "view", "extra"])] = self.value()
            else:
                parent[path[-1]] = self.value()
        return payload

    def text(self, payload: Any) -> str:
        """As JSON; NaN and infinity as Python writes them (not JSON, but what a hostile client sends), and now
        and then nesting deeper than any parser's recursion limit."""
        if self.rng.random() < 0.01:
            return "[" * 100_000 + "]" * 100_000
        return json.dumps(payload)

    def choose(self, options: list[Any]) -> Any:
        return self.rng.choice(options)

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability
