"""Publicize the win: the weekly announcement that credits the person whose idea it was, once per workspace and
ISO week, with its chart. Imports bot.core, bot.delivery, bot.improvements (the card's title) and storage."""

MAY_IMPORT = ("bot.core", "bot.delivery", "bot.improvements", "storage")
