"""The one exception type that the CLI turns into a one-line message and exit status 2."""


class BadInput(Exception):
    """Bad user input: a missing file, an unknown key, an output that already exists, ...

    The message is one line that names the problem and says what to do about it.
    The CLI prints it as ``error: <message>`` and exits with status 2.
    """


def first_validation_error(e) -> tuple[str, str, str]:
    """``(type, location, "message (got value)")`` of a pydantic ``ValidationError``'s first error."""
    err = e.errors()[0]
    return err["type"], ".".join(str(x) for x in err["loc"]), f"{err['msg']} (got {err.get('input')!r})"
