"""The exceptions the CLI turns into a one-line message and an exit status.

Exit statuses (see the README, "Exit status and safety"): 0 success, 2 bad input
(:class:`BadInput`), 130 SIGINT / Ctrl-C, 143 SIGTERM (128 + the signal number, as a shell reports it).
"""

import signal


class BadInput(Exception):
    """Bad user input: a missing file, an unknown key, an output that already exists, ...

    The message is one line that names the problem and says what to do about it.
    The CLI prints it as ``error: <message>`` and exits with status 2.
    """


def first_line(e: BaseException) -> str:
    """The first line of ``str(e)`` (a library's multi-line message in a one-line error), or the
    exception's type name when the message is empty."""
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def first_validation_error(e) -> tuple[str, str, str]:
    """``(type, location, "message (got value)")`` of a pydantic ``ValidationError``'s first error."""
    err = e.errors()[0]
    return err["type"], ".".join(str(x) for x in err["loc"]), f"{err['msg']} (got {err.get('input')!r})"


class Interrupted(Exception):
    """A long run stopped by SIGINT/SIGTERM after writing a checkpoint; ``str()`` says how to resume.

    ``signum`` is the signal that stopped it; the CLI exits with ``128 + signum`` (130 or 143).
    """

    def __init__(self, message: str, signum: int = signal.SIGINT):
        super().__init__(message)
        self.signum = int(signum)


class Terminated(BaseException):
    """Raised by the CLI's SIGTERM handler, like ``KeyboardInterrupt`` for SIGINT.

    A ``BaseException`` so that ``except Exception`` blocks do not swallow it, while ``finally``
    blocks and :func:`monoglot.artifacts.atomic_dir` clean up on the way out.
    """
