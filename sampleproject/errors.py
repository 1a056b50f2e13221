"""Errors that the command line reports as one clear line instead of a traceback."""


class SampleProjectError(Exception):
    """A failure the user can act on; the CLI prints the message and exits with ``exit_code``."""

    exit_code = 1


class UsageError(SampleProjectError):
    """Bad input from the user (arguments, files, values): exit status 2, as argparse uses."""

    exit_code = 2
