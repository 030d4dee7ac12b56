"""The one exception type that the CLI turns into a one-line message and exit status 2."""


class BadInput(Exception):
    """Bad user input: a missing file, an unknown key, an output that already exists, ...

    The message is one line that names the problem and says what to do about it.
    The CLI prints it as ``error: <message>`` and exits with status 2.
    """
