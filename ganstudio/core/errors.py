"""The one definition of an error the user caused (torch-free, Qt-free).

Every error raised on purpose for something a user can fix (a bad file, an unknown option,
an empty folder, a device that is not there) derives from ``UserError``. Its message is one
sentence meant for the user: the command line prints it and exits with status 2, the window
shows it in a banner or a dialog. Anything else escaping is a bug: logged with its
traceback, and reported as an unexpected error.
"""

from __future__ import annotations


class UserError(Exception):
    """Something the user can fix; ``str(error)`` says what and how, in their words."""


def is_user_error(exc: BaseException) -> bool:
    """A user's error (``UserError``), or the operating system refusing a file (``OSError``:
    no such file, permission denied, disk full)."""
    return isinstance(exc, (UserError, OSError))


def error_message(exc: BaseException) -> str:
    """One sentence for the user: the message of a user error, the operating system's reason
    and the file for an OSError, otherwise the exception's type and text (its traceback
    belongs in the log)."""
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    if is_user_error(exc):
        return str(exc)
    return f"unexpected error ({type(exc).__name__}: {exc}); details are in the log"
