"""What the engine reports: progress events, per-step plans and results, the stop signal.

Small dataclasses with no behaviour, shared by the engine, the apply-and-verify run
(:mod:`wizard.run`) and both front ends. ``on_event`` callbacks receive :class:`Event`
subclasses, so the TUI can post them to its message queue from a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, List

from .changes import Change, Preview
from .recipe import Recipe


# --------------------------------------------------------------------------- events
@dataclass
class Event:
    step: str


@dataclass
class StepStarted(Event):
    title: str = ""


@dataclass
class ChangeDone(Event):
    index: int = 0
    description: str = ""
    outcome: str = "changed"
    """``changed``, ``unchanged``, ``resumed`` or ``failed``."""


@dataclass
class StepFinished(Event):
    status: str = "applied"
    changed: int = 0
    unchanged: int = 0
    error: str = ""


@dataclass
class LogLine(Event):
    line: str = ""


EventCallback = Callable[[Event], None]


class StepInterrupted(KeyboardInterrupt):
    """The run stopped inside a step (``Engine.cancelled`` at a change boundary, or Ctrl-C
    inside a change). Nothing was undone: the session records the step as ``interrupted``
    and names the change; running apply again resumes there, rollback undoes it.
    ``change`` is '' when :meth:`Engine.apply` stopped between two steps."""

    def __init__(self, step: str, change: str, graceful: bool) -> None:
        super().__init__(f"{step}: stopped at '{change}'" if change
                         else f"stopped before {step}")
        self.step = step
        self.change = change
        self.graceful = graceful


# --------------------------------------------------------------------------- plans, results
@dataclass
class StepPlan:
    recipe: Recipe
    changes: List[Change] = field(default_factory=list)
    previews: List[Preview] = field(default_factory=list)
    enabled: bool = True
    error: str = ""

    @property
    def id(self) -> str:
        return self.recipe.id

    @property
    def changed(self) -> int:
        return sum(1 for p in self.previews if p.changed)


@dataclass
class StepResult:
    step: str
    status: str
    changed: int = 0
    unchanged: int = 0
    error: str = ""
    output: str = ""
    warnings: List[str] = field(default_factory=list)


@dataclass
class RollbackResult:
    undone: int = 0
    warnings: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    steps: List[str] = field(default_factory=list)
    stopped: bool = False
    """:attr:`Engine.cancelled` stopped it between two undos; running it again finishes."""
