"""Shell text that an admin can copy by hand: quoting, guards and line edits of a file.

Shared by the changes (each builds its own shell form) and the runbook; pure functions, no I/O.
Every value that reaches a shell line goes through :func:`shq` (``shlex.quote``).
"""

from __future__ import annotations

import re
import shlex
from typing import Iterable, List, NamedTuple, Optional, Sequence, Set, Tuple

__all__ = ["shq", "guarded", "continued", "code_span", "negate", "sed_edit", "DiffRun",
           "diff_runs"]


def shq(args: Iterable[str]) -> str:
    """The words ``args``, each shell-quoted, joined by spaces."""
    return " ".join(shlex.quote(str(a)) for a in args)


def guarded(cmds: Sequence[str], condition: str, why: str) -> str:
    """``cmds`` run only when ``condition`` (a shell test) holds, with ``why`` as a comment.
    One-line commands are indented; a command that spans lines (a here-document, a quoted
    script) is left as it is, since its lines are data."""
    body = [cmd if "\n" in cmd else "  " + cmd for cmd in cmds]
    return "\n".join([f"# {why}", f"if {condition}; then", *body, "fi"])


def continued(head: str, words: Iterable[str]) -> str:
    """``head`` followed by ``words`` (already quoted), one per line after a backslash when
    there are several (how a long ``postconf -e`` reads best)."""
    words = list(words)
    if len(words) <= 1:
        return " ".join([head, *words])
    return head + " \\\n  " + " \\\n  ".join(words)


def code_span(s: str) -> str:
    """A Markdown inline code span that survives backticks in ``s`` (for sentences that
    name a command or a path)."""
    longest = max((len(m) for m in re.findall(r"`+", s)), default=0)
    tick = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{tick}{pad}{s}{pad}{tick}"


def negate(test: str) -> str:
    """The shell test that holds when ``test`` does not (``[ -e X ]`` -> ``[ ! -e X ]``)."""
    if test.startswith("! "):
        return test[2:]
    m = re.fullmatch(r"\[ (.*) \]", test, re.S)
    if m and not m.group(1).startswith("! "):
        return f"[ ! {m.group(1)} ]"
    return "! " + test


# --------------------------------------------------------------------------- line edits
_HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@.*")


class DiffRun(NamedTuple):
    """One run of changed lines of a unified diff."""

    line: int
    """1-based number, in the old file, of the first removed line, or, when nothing is
    removed, of the line the added lines go after (0: at the top)."""
    removed: Tuple[str, ...]
    added: Tuple[str, ...]
    at: int = 0
    """0-based index, in the new file, of the first added line (or where it would be)."""


def diff_runs(diff: str) -> Optional[List[DiffRun]]:
    """The runs of a unified diff (as :func:`wizard.changes.unified_diff` writes it), or
    ``None`` when it cannot be replayed line by line (a missing final newline, a file that is
    created or removed, no hunk at all)."""
    lines = diff.splitlines()
    if not lines or "\\ No newline at end of file" in lines:
        return None
    if len(lines) < 2 or lines[0].startswith("--- /dev/null") or lines[1] == "+++ /dev/null":
        return None
    runs: List[DiffRun] = []
    old = new = at = 0
    start: Optional[int] = None
    removed: List[str] = []
    added: List[str] = []

    def close() -> None:
        nonlocal start
        if start is not None:
            runs.append(DiffRun(start, tuple(removed), tuple(added), at))
        start = None
        removed.clear()
        added.clear()

    for line in lines[2:]:
        m = _HUNK.fullmatch(line)
        if m:
            close()
            count = 1 if m.group(2) is None else int(m.group(2))
            old = int(m.group(1)) if count else int(m.group(1)) + 1
            count = 1 if m.group(4) is None else int(m.group(4))
            new = int(m.group(3)) if count else int(m.group(3)) + 1
            continue
        tag, text = line[:1], line[1:]
        if tag == " ":
            close()
            old += 1
            new += 1
        elif tag == "-":
            if start is None:
                start, at = old, new - 1
            elif added:  # a removal after additions in the same run: not what difflib writes
                return None
            removed.append(text)
            old += 1
        elif tag == "+":
            if start is None:
                start, at = old - 1, new - 1  # after the previous line
            added.append(text)
            new += 1
        else:
            return None
    close()
    return runs or None


def _sed_text(lines: Iterable[str]) -> str:
    """Text for sed's ``a``, ``i`` and ``c`` commands: backslashes doubled, leading white space
    kept (escaped), lines joined by backslash-newline."""
    out = []
    for line in lines:
        line = line.replace("\\", "\\\\")
        if line[:1] in (" ", "\t"):
            line = "\\" + line
        out.append(line)
    return "\\\n".join(out)


def old_lines(after: str, runs: Sequence[DiffRun]) -> Optional[List[str]]:
    """The old file's lines, rebuilt from the new text and the runs (``None`` when they do
    not fit together)."""
    if not after.endswith("\n"):
        return None
    new = after[:-1].split("\n")
    out: List[str] = []
    pos = 0
    for run in runs:
        if run.at < pos or new[run.at:run.at + len(run.added)] != list(run.added):
            return None
        out += new[pos:run.at]
        if len(out) != (run.line - 1 if run.removed else run.line):
            return None
        out += run.removed
        pos = run.at + len(run.added)
    return out + new[pos:]


def _bre(line: str) -> str:
    """``line`` as a sed basic regular expression matching exactly that line."""
    return "^" + re.sub(r"([\\.*\[\]^$/])", r"\\\1", line) + "$"


def sed_script(runs: Iterable[DiffRun], old: Optional[Sequence[str]] = None) -> str:
    """One GNU sed script that turns the old file of the diff into the new one. A line is
    found by its text when ``old`` (the old file's lines) shows it only once, else by its
    number in the old file (sed reads the file once, so the numbers all stay valid)."""

    def where(number: int, span: int = 1) -> str:
        text = old[number - 1] if old is not None and 0 < number <= len(old) else ""
        if text.strip() and old is not None and old.count(text) == 1:
            return f"/{_bre(text)}/" + (f",+{span - 1}" if span > 1 else "")
        return str(number) if span == 1 else f"{number},{number + span - 1}"

    cmds: List[str] = []
    for run in runs:
        if run.removed:
            at = where(run.line, len(run.removed))
            if run.added:
                cmds.append(f"{at}c\\\n{_sed_text(run.added)}")
            else:
                cmds.append(f"{at}d")
        elif run.line == 0:
            cmds.append(f"1i\\\n{_sed_text(run.added)}")
        else:
            cmds.append(f"{where(run.line)}a\\\n{_sed_text(run.added)}")
    return "\n".join(cmds)


def _distinctive(lines: Iterable[str]) -> Optional[str]:
    """The first line that says something (not blank, not a bare comment or brace)."""
    for line in lines:
        if re.search(r"[A-Za-z0-9]", line) and not line.lstrip().startswith("#"):
            return line
    return None


def heredoc_text(cmd: str) -> Optional[str]:
    """The text a ``cat > FILE <<'MAILWIZARD_EOF'`` command writes (the whole-file write of
    a file change's preview), or ``None`` when ``cmd`` is not one."""
    lines = cmd.split("\n")
    for i, line in enumerate(lines):
        m = re.fullmatch(r"cat > .* <<'(MAILWIZARD_EOF_*)'", line)
        if m and m.group(1) in lines[i + 1:]:
            end = lines.index(m.group(1), i + 1)
            return "".join(x + "\n" for x in lines[i + 1:end])
    return None


def sed_edit(path: str, diff: str, after: Optional[str] = None
             ) -> Optional[Tuple[str, Tuple[str, ...]]]:
    """(guard, commands) that make the change ``diff`` shows to the file ``path`` in place,
    with GNU ``sed -i`` (through a symlink, as mailwizard writes): byte for byte when the file
    is the one the diff was made against. With ``after`` (the new text), lines are found by
    their text where it is unique, so a file that differs elsewhere (comments) is still edited
    right. ``guard`` is a shell test that holds once the edit is made (a line it adds is
    there, or a line it removes is gone); the last command checks it and stops with a message
    when the file was not as expected. ``None`` when the diff cannot be replayed that way
    (then write the whole file)."""
    runs = diff_runs(diff)
    if not runs:
        return None
    old = old_lines(after, runs) if after is not None else None
    known = set(old) if old is not None else (
        {line for run in runs for line in run.removed} | _context(diff))
    added = _distinctive(line for run in runs for line in run.added if line not in known)
    q = shlex.quote(path)
    if added is not None:
        guard = f"grep -qxF -e {shlex.quote(added)} {q}"
    else:
        later = set(after[:-1].split("\n")) if after else _context(diff)
        gone = _distinctive(line for run in runs for line in run.removed if line not in later)
        if gone is None:
            return None
        guard = f"! grep -qxF -e {shlex.quote(gone)} {q}"
    sed = f"sed -i --follow-symlinks {shlex.quote(sed_script(runs, old))} {q}"
    stop = shlex.quote(f"{path} is not as this runbook expects: make the change above by hand")
    return guard, (sed, f"{guard} || {{ echo {stop} >&2; false; }}")


def _context(diff: str) -> Set[str]:
    return {line[1:] for line in diff.splitlines()[2:] if line.startswith(" ")}
