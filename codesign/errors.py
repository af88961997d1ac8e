"""User-facing errors: one clear line, exit code 2 from the CLI."""


class CodesignError(Exception):
    """Bad input (file, field, value); the message names the thing and what is allowed."""


def did_you_mean(name: str, allowed) -> str:
    """' (did you mean 'x'?)' with the closest allowed name, or '' when none is close: the one typo hint."""
    import difflib

    close = difflib.get_close_matches(str(name), [str(a) for a in allowed], n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""
