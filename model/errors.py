"""Errors a user can fix (bad scenario, experiment or results input); run.py exits 2 on them."""


class UserError(ValueError):
    """A mistake in the user's input; the message is one line naming file, field and allowed values."""
