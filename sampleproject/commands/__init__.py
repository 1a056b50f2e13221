"""The subcommands of ``sampleproject``, one module each (see ``COMMANDS`` in cli.py)."""
