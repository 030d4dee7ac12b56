"""The exceptions the CLI turns into a one-line message: bad input (exit 2), an interrupted run (exit 130)."""


class BadInput(Exception):
    """Bad user input: a missing file, an unknown key, an output that already exists, ...

    The message is one line that names the problem and says what to do about it.
    The CLI prints it as ``error: <message>`` and exits with status 2.
    """


def first_validation_error(e) -> tuple[str, str, str]:
    """``(type, location, "message (got value)")`` of a pydantic ``ValidationError``'s first error."""
    err = e.errors()[0]
    return err["type"], ".".join(str(x) for x in err["loc"]), f"{err['msg']} (got {err.get('input')!r})"


class Interrupted(Exception):
    """A long run stopped by SIGINT/SIGTERM after writing a checkpoint; ``str()`` says how to resume."""
