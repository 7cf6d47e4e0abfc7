"""Messages posted from the engine worker thread to the screens (via ``call_from_thread``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, List, Optional

from textual.message import Message

if TYPE_CHECKING:  # the engine loads after the first screen (issue 13)
    from wizard.checks import CheckResult
    from wizard.engine import Event, StepResult


class EngineEvent(Message):
    """An engine progress event (StepStarted, ChangeDone, StepFinished, LogLine)."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class OutputLine(Message):
    """One line of a command's output, streamed by the executor."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class TaskDone(Message):
    """A worker task finished; ``result`` is what the task returned."""

    def __init__(self, kind: str, result: Any) -> None:
        super().__init__()
        self.kind = kind
        self.result = result


class TaskFailed(Message):
    """A worker task raised; ``error`` is the exception (shown in words, never a traceback).

    ``cancelled`` is true when the admin stopped it (Ctrl-C): the engine stopped at the next
    change boundary and kept the step's finished changes (the step is ``interrupted``; apply
    resumes it, rollback undoes it).
    """

    def __init__(self, kind: str, error: BaseException, cancelled: bool = False) -> None:
        super().__init__()
        self.kind = kind
        self.error = error
        self.cancelled = cancelled


class StepApplied(Message):
    """Apply all: step ``number`` of ``total`` finished (and was checked, if it applied)."""

    def __init__(self, number: int, total: int, result: StepResult,
                 checks: Optional[List[CheckResult]]) -> None:
        super().__init__()
        self.number = number
        self.total = total
        self.result = result
        self.checks = checks
