"""The command line's own error (a library error is reported as it is)."""


class CliError(Exception):
    """An error reported to the user with exit status ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code
