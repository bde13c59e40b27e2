"""What every capability shares: settings, time and working days, the domain's arithmetic, the neutral message
vocabulary, the platform seam (ports), the workspace, form validation, the audit trail, and the interaction
registry with its command grammar. Imports nothing else from bot/; may import storage/."""

MAY_IMPORT = ("storage",)
