"""The one error type the command line turns into a clear message and exit code."""


class CompanionError(Exception):
    """A problem the user can fix; the message says how. Never shown as a traceback."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code
