"""The exception types for mistakes a user can fix."""


class StarganError(Exception):
    """A user-facing error: its message is one line that says what to do.

    The CLI prints it as ``Error: <message>`` and exits with :attr:`exit_code` (1), without a
    traceback.
    """

    exit_code = 1


class UsageError(StarganError):
    """A mistake in the command line itself: a value we do not accept (an attribute name, an
    image size, a device name) or options that do not go together. The CLI exits with code 2,
    as for the mistakes the option parser finds."""

    exit_code = 2
