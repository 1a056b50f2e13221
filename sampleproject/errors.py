"""Errors that the command line reports as one clear line instead of a traceback."""

from sampleproject import __version__


def install_extra(extra: str) -> str:
    """What to run where an extra is missing (the runtime wheel), in words that work there:
    the wheel with that extra. Not `pip install 'sampleproject[EXTRA]'`, which asks PyPI, whose
    project of that name is PyPA's sample, not this one."""
    return (
        f"pip install 'sampleproject-{__version__}-py3-none-any.whl[{extra}]' "
        f"(in a checkout: pip install -e '.[{extra}]')"
    )


INSTALL_TRAIN_EXTRA = install_extra("train")


class SampleProjectError(Exception):
    """A failure the user can act on; the CLI prints the message and exits with ``exit_code``."""

    exit_code = 1


class UsageError(SampleProjectError):
    """Bad input from the user (arguments, files, values): exit status 2, as argparse uses."""

    exit_code = 2
