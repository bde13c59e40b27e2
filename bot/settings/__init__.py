"""Settings in chat: `/improve settings` opens every setting of the workspace as a form for its admins; saved
settings apply at once, are audited and announced in the intake channel, and the environment no longer
overwrites them. Imports bot.core, bot.delivery and storage."""

MAY_IMPORT = ("bot.core", "bot.delivery", "storage")
