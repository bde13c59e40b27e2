"""Sustain: check-ins 7, 30 and 90 days after a fix ask its owner whether it still holds (one nudge, then
missed); a slipping fix is reopened, a fix that held through all of them is sustained. Imports bot.core,
bot.delivery, bot.improvements (the card's pieces, the owner, the Implemented event) and storage."""

MAY_IMPORT = ("bot.core", "bot.delivery", "bot.improvements", "storage")
