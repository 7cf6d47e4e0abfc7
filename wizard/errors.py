"""Exception hierarchy of mailwizard: every error an admin can see has a title and a message.

Nothing in the core calls ``sys.exit``; the CLI and the TUI map these to exit codes and dialogs.
"""

from __future__ import annotations

from typing import List, Sequence, Tuple


class MailwizardError(Exception):
    """Base class: ``title`` is a short heading, ``str(err)`` the explanation."""

    title = "mailwizard error"
    exit_code = 1

    def __init__(self, message: str, title: str = "") -> None:
        super().__init__(message)
        if title:
            self.title = title


class AnswersError(MailwizardError):
    """One or more answers are invalid. ``errors`` lists ``(field, message)`` pairs."""

    title = "Invalid answers"
    exit_code = 2

    def __init__(self, errors: Sequence[Tuple[str, str]]) -> None:
        self.errors: List[Tuple[str, str]] = list(errors)
        lines = [f"{field}: {msg}" for field, msg in self.errors]
        super().__init__("\n".join(lines) if lines else "invalid answers")


class UsageError(MailwizardError):
    """The command line asks for something that does not exist (e.g. an unknown step)."""

    title = "Bad usage"
    exit_code = 2


class PlatformError(MailwizardError):
    """The target platform is unknown or unsupported."""

    title = "Unsupported platform"
    exit_code = 2


class ExecutorError(MailwizardError):
    """A command or a file operation on the target failed."""

    title = "Command failed"


class CommandFailed(ExecutorError):
    """A command exited non-zero; carries its output so the UI can show it in place."""

    def __init__(self, argv: Sequence[str], returncode: int, output: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.output = output
        shown = " ".join(self.argv)
        super().__init__(f"`{shown}` exited with status {returncode}\n{output.strip()}")


class ValidationFailed(ExecutorError):
    """A configuration validator (postfix check, doveconf -n, ...) rejected a change."""

    title = "Configuration rejected"


class LockHeld(MailwizardError):
    """Another mailwizard holds the session lock."""

    title = "Session locked"
    exit_code = 4


class SessionError(MailwizardError):
    """The session state is unreadable or does not match the request."""

    title = "Session problem"
    exit_code = 4


class RecipeError(MailwizardError):
    """A recipe could not plan with the given answers and facts."""

    title = "Cannot plan this step"
