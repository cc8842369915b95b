"""Errors the CLI reports as one line on stderr (exit code 2), never as a traceback."""


class UserError(Exception):
    """A problem with the user's input or environment, phrased for the user."""


class Terminated(BaseException):
    """SIGTERM arrived: unwind (releasing claims, closing stores) and exit 143."""


# The exit statuses of every command (README, "Exit statuses").
EXIT_OK = 0
EXIT_FAILED = 1  # some tasks failed (a sweep), listed
EXIT_USAGE = 2  # bad input or environment: one line on stderr, nothing created or changed
EXIT_LEFT = 75  # a sweep left tasks to another live sweep holding them (EX_TEMPFAIL)
EXIT_INTERRUPTED = 130  # Ctrl-C
EXIT_TERMINATED = 143  # SIGTERM
