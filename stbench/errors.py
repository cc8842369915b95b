"""Errors the CLI reports as one line on stderr (exit code 2), never as a traceback."""


class UserError(Exception):
    """A problem with the user's input or environment, phrased for the user."""
