"""The one exception type for mistakes a user can fix."""


class StarganError(Exception):
    """A user-facing error: its message is one line that says what to do.

    The CLI prints it as ``Error: <message>`` and exits with code 1, without a traceback.
    """
