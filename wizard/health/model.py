"""The health report: findings with a monitoring state, the overall state and its exit code.

States and exit codes follow the Nagios / monitoring-plugins convention: ``OK`` 0,
``WARNING`` 1, ``CRITICAL`` 2, ``UNKNOWN`` 3.  The overall state is the worst finding's,
ranked CRITICAL > WARNING > UNKNOWN > OK: a check that could not be made never hides a real
problem found by another, and is itself reported (exit 3) when nothing worse was found.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from typing import Any, Dict, List, Sequence

OK, WARNING, CRITICAL, UNKNOWN = "OK", "WARNING", "CRITICAL", "UNKNOWN"
STATES = (OK, WARNING, CRITICAL, UNKNOWN)
EXIT_CODES = {OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3}
_RANK = {OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3}

GROUPS = ("services", "certificates", "dns", "queue", "log", "disk", "drift")
"""The groups a finding belongs to, in the order a report lists them (within a state)."""


@dataclass(frozen=True)
class Finding:
    """One thing checked."""

    group: str
    """One of :data:`GROUPS`."""
    name: str
    state: str
    """One of :data:`STATES`."""
    detail: str = ""
    """What was seen."""
    hint: str = ""
    """What to do about it (empty when all is well)."""

    def to_dict(self) -> Dict[str, Any]:
        return {"group": self.group, "name": self.name, "state": self.state,
                "detail": self.detail, "hint": self.hint}


def worst(states: Sequence[str]) -> str:
    """The overall state of ``states`` (OK when there are none)."""
    return max(states, key=lambda s: _RANK[s], default=OK)


def rank(state: str) -> int:
    return _RANK[state]


@dataclass
class Report:
    """Every finding of one ``mailwizard check`` run."""

    hostname: str
    findings: List[Finding] = field(default_factory=list)
    checked_at: str = field(default_factory=lambda: _dt.datetime.now(
        _dt.timezone.utc).replace(microsecond=0).isoformat())

    @property
    def state(self) -> str:
        return worst([f.state for f in self.findings])

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.state]

    def counts(self) -> Dict[str, int]:
        out = {s: 0 for s in STATES}
        for f in self.findings:
            out[f.state] += 1
        return out

    def ordered(self) -> List[Finding]:
        """Worst first; within a state by group (:data:`GROUPS` order), then as found."""
        index = {id(f): i for i, f in enumerate(self.findings)}
        return sorted(self.findings, key=lambda f: (
            -_RANK[f.state], GROUPS.index(f.group) if f.group in GROUPS else len(GROUPS),
            index[id(f)]))

    def problems(self) -> List[Finding]:
        return [f for f in self.ordered() if f.state != OK]

    def summary_line(self) -> str:
        """``MAILWIZARD WARNING - 2 warning(s): ...; 40 ok`` (the plugin's first line)."""
        c = self.counts()
        probs = self.problems()
        names = "; ".join(f"{f.name}: {f.detail}" if f.detail else f.name for f in probs[:3])
        if len(probs) > 3:
            names += f"; +{len(probs) - 3} more"
        parts = [f"{c[s]} {s.lower()}" for s in (CRITICAL, WARNING, UNKNOWN) if c[s]]
        head = ", ".join(parts) if parts else "all fine"
        text = f"MAILWIZARD {self.state} - {head}"
        if names:
            text += f" ({names})"
        text += f"; {c[OK]} ok | critical={c[CRITICAL]} warning={c[WARNING]} " \
                f"unknown={c[UNKNOWN]} ok={c[OK]}"
        return _one_line(text)

    def text(self) -> str:
        """The plain-text report: the summary line, then the findings grouped, worst first."""
        lines = [self.summary_line(), "", f"Host {self.hostname}, checked {self.checked_at}."]
        current = ""
        for f in self.ordered():
            if f.state != current:
                current = f.state
                lines += ["", f"{current}:"]
            lines.append(f"  [{f.group}] {f.name}" + (f": {f.detail}" if f.detail else ""))
            if f.hint and f.state != OK:
                lines.append(f"      -> {f.hint}")
        return "\n".join(lines) + "\n"

    def to_json(self) -> Dict[str, Any]:
        return {"version": 1, "host": self.hostname, "checked_at": self.checked_at,
                "state": self.state, "exit_code": self.exit_code,
                "summary": self.summary_line(), "counts": self.counts(),
                "findings": [f.to_dict() for f in self.ordered()]}

    def fingerprint(self) -> List[List[str]]:
        """What "the result changed" compares: each non-OK finding's group, name and state
        (not the details, which hold ages and counts that move on every run)."""
        return sorted([f.group, f.name, f.state] for f in self.findings if f.state != OK)


def _one_line(text: str) -> str:
    return " ".join(text.split())
