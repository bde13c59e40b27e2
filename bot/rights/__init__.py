"""A person's data rights, run by whoever operates the bot (`improvebot erase-user`, `improvebot export-user`):
everything the product holds about one person, as JSON; or their identity replaced everywhere by "a former
teammate" and their personal text removed, the numbers kept. Both are audited. Imports bot.core and storage."""

MAY_IMPORT = ("bot.core", "storage")
