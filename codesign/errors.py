"""User-facing errors: one clear line, exit code 2 from the CLI."""


class CodesignError(Exception):
    """Bad input (file, field, value); the message names the thing and what is allowed."""
