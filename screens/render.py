"""Renderers the screens share: check results, the live log's lines, a failure's lines.

Plain functions from engine results to ``rich`` text or ``(line, style)`` pairs; no screen
state and no Textual import, so every screen (and a test) can use them.
"""

from __future__ import annotations

from typing import List, Optional, Tuple

from rich.text import Text

from wizard.checks import CheckResult, summarize
from wizard.engine import ChangeDone, Event, LogLine, StepFinished, StepResult, StepStarted

#: One line of a live log: its text and a rich style ('' for none).
LogEntry = Tuple[str, str]


def first_line(text: str) -> str:
    """The first line of ``text`` (stripped), or '' when it is blank."""
    return text.strip().splitlines()[0] if text.strip() else ""


def checks_text(checks: Optional[List[CheckResult]]) -> Text:
    """PASS/FAIL/INFO lines with the explanation under each failure."""
    if checks is None:
        return Text("Not checked yet: the checks run after the step is applied (v runs "
                    "them again).", style="dim")
    if not checks:
        return Text("This step has no automatic checks.", style="dim")
    text = Text()
    styles = {True: "bold green", False: "bold red", None: "dim"}
    for c in checks:
        text.append(f"{c.status:4} ", style=styles[c.ok])
        text.append(c.name, style="bold" if c.ok is False else "")
        if c.detail:
            text.append(f": {c.detail}")
        text.append("\n")
        if c.ok is False and c.explanation:
            text.append(f"     -> {c.explanation}\n", style="yellow")
    text.append(summarize(checks), style="bold")
    return text


def event_line(ev: Event) -> Optional[LogEntry]:
    """The live log's (line, rich style) for an engine event."""
    if isinstance(ev, StepStarted):
        return f"==> {ev.title}", "bold"
    if isinstance(ev, ChangeDone):
        mark = {"changed": "+", "unchanged": "=", "resumed": ">", "failed": "!"}
        style = {"changed": "green", "failed": "red", "unchanged": "dim"}
        return (f"  {mark.get(ev.outcome, '?')} {ev.description} ({ev.outcome})",
                style.get(ev.outcome, ""))
    if isinstance(ev, StepFinished):
        if ev.status == "failed":
            return f"  FAILED: {first_line(ev.error)}", "bold red"
        if ev.status == "interrupted":
            return f"  INTERRUPTED: {first_line(ev.error)}", "bold yellow"
        return f"  {ev.changed} changed, {ev.unchanged} unchanged", "bold green"
    if isinstance(ev, LogLine):
        return f"  {ev.line}", ""
    return None


def output_line(line: str) -> LogEntry:
    """The live log's (line, rich style) for a line of a command's output."""
    return f"    {line}", "dim" if not line.startswith("$ ") else "cyan"


def failure_lines(res: StepResult) -> List[LogEntry]:
    """What the log shows after a step failed: its output, warnings, what happened."""
    out: List[LogEntry] = []
    details = res.output or "\n".join(res.error.splitlines()[1:])
    out.extend((f"    {line}", "red") for line in details.splitlines())
    out.extend((f"  warning: {w}", "yellow") for w in res.warnings)
    out.append(("This run's changes of the step were undone. r rolls back what earlier "
                "runs applied; a tries again.", "yellow"))
    return out


__all__ = ["LogEntry", "checks_text", "event_line", "failure_lines", "first_line",
           "output_line"]
