"""Save first, notify second: the outbox the use cases write what to say into (outbox.py), and its delivery
through a platform's ChatPort, in order, once, side by side, with retries (sender.py), over rows claimed under
a renewed lease (claims.py). Imports bot.core and storage only; what a card or a chart looks like is handed in."""

MAY_IMPORT = ("bot.core", "storage")
