"""Visible data: what waits on each person, lists and search (`/improve list`, `/improve #12`), the home view
with the team's charts, and the export. Reads only: every change still happens through the capability that owns
it (the home view's buttons are theirs). Imports bot.core, bot.delivery, bot.improvements, bot.sustain, storage."""

MAY_IMPORT = ("bot.core", "bot.delivery", "bot.improvements", "bot.sustain", "storage")
