"""The improvement lifecycle: report -> 5 Whys -> proposal -> approval -> implemented. Use cases (report,
approval, implemented), what they say (card, views), their forms, and their registrations (interactions).
Imports bot.core, bot.delivery (the outbox) and storage."""

MAY_IMPORT = ("bot.core", "bot.delivery", "storage")
