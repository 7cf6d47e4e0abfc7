"""Pure text editors for the configuration files mailwizard changes.

Each editor takes the current text (``None`` when the file does not exist), returns new text, and
keeps every byte it was not asked to change. They follow the rules of the software that reads
the file:

* ``main.cf`` (:func:`edit_main_cf`): ``postconf -e`` semantics. A logical line starts at a
  non-blank character; lines starting with white space continue it; lines whose first non-blank
  is ``#`` are comments. The last definition wins, so that is the one replaced in place; with
  no active definition the new line goes right after a commented default (``#name = ...``), else
  at the end.
* ``master.cf`` (:func:`edit_master_cf`): services keyed by (name, type); ``-o`` lines continue.
* Dovecot (:func:`edit_dovecot_conf`): top-level ``key = value`` only (brace depth 0).
* Shell variable files (``/etc/default/*``, ``/etc/sysconfig/*``): :func:`edit_shell_vars`.
* ``/etc/aliases`` (:func:`edit_aliases`): ``name: target, ...`` entries.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

# --------------------------------------------------------------------------- guard
# Everything str.splitlines() breaks on, plus NUL: none may reach a configuration line.
_LINE_BREAKS = frozenset("\n\r\v\f\x00\x1c\x1d\x1e\x85\u2028\u2029")
_NAME = re.compile(r"[A-Za-z0-9_.-]+", re.ASCII)


class UnsafeValue(ValueError):
    """A value or name that would break out of its configuration line. Answers are validated
    long before this; reaching it means a bug, so the edit is refused instead of written."""


def _one_line(what: str, value: str) -> str:
    if any(ch in _LINE_BREAKS for ch in value):
        raise UnsafeValue(f"refusing to write {what}: {value!r} contains a line break")
    return value


def _name(what: str, name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UnsafeValue(f"refusing to write {what} named {name!r}")
    return name


# --------------------------------------------------------------------------- main.cf


@dataclass
class _Definition:
    """A main.cf parameter definition: its first line and its continuation lines."""

    start: int  # first physical line index
    end: int  # one past the last physical line index
    name: str


def _split_lines(text: str) -> List[str]:
    return text.splitlines(keepends=True)


def _is_comment_or_blank(line: str) -> bool:
    s = line.strip()
    return not s or s.startswith("#")


_PARAM = re.compile(r"^([A-Za-z0-9_.-]+)\s*=")


def _main_cf_params(lines: Sequence[str]) -> List[_Definition]:
    """The parameter definitions of main.cf ``lines``, each with its continuation lines.

    Only definitions are returned: every caller looks parameters up, and a plan edits
    main.cf for each parameter it sets (a stock main.cf is 750 lines, mostly comments)."""
    out: List[_Definition] = []
    cur: Optional[_Definition] = None  # the definition a continuation line belongs to
    match = _PARAM.match
    for i, line in enumerate(lines):
        s = line.strip()
        if not s or s[0] == "#":
            # Postfix skips these entirely: they do not end a multi-line value
            continue
        if line[0] in " \t":
            if cur is not None:
                cur.end = i + 1
            continue
        m = match(line)
        cur = _Definition(i, i + 1, m.group(1)) if m else None
        if cur is not None:
            out.append(cur)
    return out


def _logical_value(lines: Sequence[str], item: _Definition) -> str:
    first = lines[item.start]
    _, _, rest = first.partition("=")
    parts = [rest.strip()]
    for line in lines[item.start + 1:item.end]:
        if not _is_comment_or_blank(line):
            parts.append(line.strip())
    return " ".join(p for p in parts if p)


def read_main_cf(text: Optional[str]) -> Dict[str, str]:
    """Parameter -> value of the active definitions (the last definition wins)."""
    if not text:
        return {}
    lines = _split_lines(text)
    values: Dict[str, str] = {}
    for item in _main_cf_params(lines):
        values[item.name] = _logical_value(lines, item)
    return values


def _ensure_newline(lines: List[str]) -> None:
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"


def edit_main_cf(
    text: Optional[str],
    set_params: Mapping[str, str],
    remove: Iterable[str] = (),
) -> str:
    """Return ``text`` with ``set_params`` set and ``remove`` deleted, ``postconf -e`` style."""
    lines = _split_lines(text or "")
    remove_set = set(remove)
    for name, value in set_params.items():
        _one_line(f"main.cf parameter {_name('a main.cf parameter', name)}", value)
        new_line = f"{name} = {value}\n" if value != "" else f"{name} =\n"
        active = [it for it in _main_cf_params(lines) if it.name == name]
        if active:
            last = active[-1]
            if _logical_value(lines, last) == value.strip():
                continue
            lines[last.start:last.end] = [new_line]
            continue
        commented = re.compile(r"^#\s*" + re.escape(name) + r"\s*=")
        hits = [i for i, line in enumerate(lines)
                if line[:1] == "#" and name in line and commented.match(line)]
        if hits:
            pos = hits[-1] + 1
            # keep a commented multi-line example together
            while pos < len(lines) and lines[pos].startswith("#") and lines[pos][1:2] in (
                    " ", "\t") and not _PARAM.match(lines[pos][1:].lstrip()):
                if lines[pos][1:].strip() == "":
                    break
                pos += 1
            lines.insert(pos, new_line)
            continue
        _ensure_newline(lines)
        lines.append(new_line)
    if remove_set:
        for it in reversed(_main_cf_params(lines)):
            if it.name in remove_set:
                del lines[it.start:it.end]
    return "".join(lines)


# --------------------------------------------------------------------------- master.cf


@dataclass(frozen=True)
class MasterEntry:
    """One master.cf service line with its ``-o`` overrides."""

    name: str
    type: str
    private: str = "n"
    unpriv: str = "-"
    chroot: str = "-"
    wakeup: str = "-"
    maxproc: str = "-"
    command: str = "smtpd"
    options: Tuple[Tuple[str, str], ...] = ()

    def render(self) -> str:
        for field_value in (self.name, self.type, self.private, self.unpriv, self.chroot,
                            self.wakeup, self.maxproc):
            if not re.fullmatch(r"[^\s#]+", field_value):
                raise UnsafeValue(f"refusing to write master.cf field {field_value!r}")
        _one_line(f"master.cf command of {self.name}", self.command)
        for k, v in self.options:
            _one_line(f"master.cf option {_name('a master.cf option', k)}", v)
        head = (f"{self.name:<10} {self.type:<5} {self.private:<7} {self.unpriv:<7} "
                f"{self.chroot:<7} {self.wakeup:<7} {self.maxproc:<7} {self.command}").rstrip()
        out = [head + "\n"]
        for k, v in self.options:
            if re.search(r"\s", v):
                out.append(f"  -o {{ {k} = {v} }}\n")
            else:
                out.append(f"  -o {k}={v}\n")
        return "".join(out)


def _master_logical(lines: Sequence[str]) -> List[Tuple[int, int, str, str]]:
    """(start, end, name, type) of the active service entries."""
    out: List[Tuple[int, int, str, str]] = []
    cur: Optional[List] = None  # type: ignore[type-arg]
    for i, line in enumerate(lines):
        if _is_comment_or_blank(line):
            continue  # skipped by Postfix: an entry's -o lines may follow
        if line[:1] in (" ", "\t"):
            if cur is not None:
                cur[1] = i + 1
            continue
        fields = line.split()
        if len(fields) >= 2:
            cur = [i, i + 1, fields[0], fields[1]]
            out.append(cur)  # type: ignore[arg-type]
        else:
            cur = None
    return [tuple(x) for x in out]  # type: ignore[misc]


def read_master_cf(text: Optional[str]) -> Dict[Tuple[str, str], str]:
    """(name, type) -> the entry's text, for the active entries."""
    lines = _split_lines(text or "")
    return {(n, t): "".join(lines[s:e]) for s, e, n, t in _master_logical(lines)}


_MASTER_OPTION = re.compile(
    r"-o\s+(?:\{\s*([A-Za-z0-9_]+)\s*=\s*(.*?)\s*\}|([A-Za-z0-9_]+)=(\S*))")


def master_options(entry: str) -> Dict[str, str]:
    """The ``-o`` overrides of one master.cf entry's text (``-o name=value`` and
    ``-o { name = value }``), the last one winning as in Postfix."""
    out: Dict[str, str] = {}
    for m in _MASTER_OPTION.finditer(entry):
        if m.group(1):
            out[m.group(1)] = m.group(2)
        else:
            out[m.group(3)] = m.group(4)
    return out


def edit_master_cf(
    text: Optional[str],
    entries: Iterable[MasterEntry],
    remove: Iterable[Tuple[str, str]] = (),
) -> str:
    """Set whole service entries (replace in place, or after a commented example, or append)."""
    lines = _split_lines(text or "")
    for entry in entries:
        rendered = _split_lines(entry.render())
        active = [x for x in _master_logical(lines) if (x[2], x[3]) == (entry.name, entry.type)]
        if active:
            s, e, _, _ = active[-1]
            if "".join(lines[s:e]) == "".join(rendered):
                continue
            lines[s:e] = rendered
            continue
        pattern = re.compile(r"^#\s*" + re.escape(entry.name) + r"\s+" + re.escape(entry.type)
                             + r"\s")
        hits = [i for i, line in enumerate(lines) if pattern.match(line)]
        if hits:
            pos = hits[-1] + 1
            while pos < len(lines) and re.match(r"^#\s+-o\s", lines[pos]):
                pos += 1
            lines[pos:pos] = rendered
            continue
        _ensure_newline(lines)
        lines.extend(rendered)
    drop = set(remove)
    if drop:
        for s, e, n, t in reversed(_master_logical(lines)):
            if (n, t) in drop:
                del lines[s:e]
    return "".join(lines)


# --------------------------------------------------------------------------- dovecot


_DOVE_KV = re.compile(r"^(\s*)([A-Za-z0-9_]+)\s*=\s*(.*?)\s*\Z")


def _dovecot_top_level(lines: Sequence[str]) -> List[Tuple[int, str, str]]:
    """(line index, key, value) of ``key = value`` lines at brace depth 0."""
    out: List[Tuple[int, str, str]] = []
    depth = 0
    for i, line in enumerate(lines):
        body = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
        stripped = body.strip()
        if not stripped:
            continue
        if depth == 0:
            m = _DOVE_KV.match(body)
            if m and not stripped.endswith("{"):
                out.append((i, m.group(2), m.group(3)))
        depth += stripped.count("{") - stripped.count("}")
        depth = max(depth, 0)
    return out


def read_dovecot_conf(text: Optional[str]) -> Dict[str, str]:
    values: Dict[str, str] = {}
    for _, k, v in _dovecot_top_level(_split_lines(text or "")):
        values[k] = v
    return values


def edit_dovecot_conf(text: Optional[str], settings: Mapping[str, str],
                      remove: Iterable[str] = ()) -> str:
    """Set top-level Dovecot settings: replace the last definition, else put the line after a
    commented default (``#key = ...``), else append."""
    lines = _split_lines(text or "")
    for key, value in settings.items():
        _one_line(f"Dovecot setting {_name('a Dovecot setting', key)}", value)
        new_line = f"{key} = {value}\n"
        active = [x for x in _dovecot_top_level(lines) if x[1] == key]
        if active:
            i = active[-1][0]
            indent = _DOVE_KV.match(lines[i]).group(1)  # type: ignore[union-attr]
            if active[-1][2] == value:
                continue
            lines[i] = indent + new_line
            continue
        pattern = re.compile(r"^#\s*" + re.escape(key) + r"\s*=")
        hits = [i for i, line in enumerate(lines) if pattern.match(line)]
        if hits:
            lines.insert(hits[0] + 1, new_line)
            continue
        _ensure_newline(lines)
        lines.append(new_line)
    drop = set(remove)
    if drop:
        for i, k, _ in reversed(_dovecot_top_level(lines)):
            if k in drop:
                del lines[i]
    return "".join(lines)


# --------------------------------------------------------------------------- shell vars


_SHVAR = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=")


def read_shell_vars(text: Optional[str]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for line in _split_lines(text or ""):
        m = _SHVAR.match(line)
        if m:
            raw = line[m.end():].strip()
            try:
                parts = shlex.split(raw, comments=True)
                out[m.group(1)] = parts[0] if parts else ""
            except ValueError:
                out[m.group(1)] = raw
    return out


def _shell_quote(value: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_./:@%+-]+", value, re.ASCII):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def edit_shell_vars(text: Optional[str], values: Mapping[str, str]) -> str:
    """Set ``KEY=value`` lines (replace the last, else after ``#KEY=``, else append)."""
    lines = _split_lines(text or "")
    for key, value in values.items():
        _one_line(f"shell variable {_name('a shell variable', key)}", value)
        new_line = f"{key}={_shell_quote(value)}\n"
        active = [i for i, line in enumerate(lines)
                  if (m := _SHVAR.match(line)) and m.group(1) == key]
        if active:
            if read_shell_vars(lines[active[-1]]).get(key) == value:
                continue
            lines[active[-1]] = new_line
            continue
        pattern = re.compile(r"^#\s*" + re.escape(key) + r"=")
        hits = [i for i, line in enumerate(lines) if pattern.match(line)]
        if hits:
            lines.insert(hits[-1] + 1, new_line)
            continue
        _ensure_newline(lines)
        lines.append(new_line)
    return "".join(lines)


# --------------------------------------------------------------------------- aliases


_ALIAS = re.compile(r"^([^#\s:][^:]*?)\s*:\s*(.*)\Z")
_COMMENTED_ALIAS = re.compile(r"#\s*([^\s:]+)\s*:")


def _alias_entries(lines: Sequence[str]) -> List[Tuple[int, int, str, str]]:
    out: List[Tuple[int, int, str, str]] = []
    cur: Optional[List] = None  # type: ignore[type-arg]
    for i, line in enumerate(lines):
        if _is_comment_or_blank(line):
            cur = None
            continue
        if line[:1] in (" ", "\t") and cur is not None:
            cur[1] = i + 1
            cur[3] = cur[3] + " " + line.strip()
            continue
        m = _ALIAS.match(line.rstrip("\n"))
        if m:
            cur = [i, i + 1, m.group(1).strip().lower(), m.group(2).strip()]
            out.append(cur)  # type: ignore[arg-type]
        else:
            cur = None
    return [tuple(x) for x in out]  # type: ignore[misc]


def read_aliases(text: Optional[str]) -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {}
    for _, _, name, value in _alias_entries(_split_lines(text or "")):
        out[name] = [t.strip() for t in value.split(",") if t.strip()]
    return out


def edit_aliases(text: Optional[str], entries: Mapping[str, Sequence[str]]) -> str:
    """Set alias entries: replace the last definition, else after ``#name:``, else append.

    The file is parsed once (10,000 entries in a large /etc/aliases: a parse per entry was
    quadratic); each new line is placed by the original line it replaces or follows."""
    lines = _split_lines(text or "")
    # name (lower case) -> its last definition: [first line, end, value, replacement cell]
    active: Dict[str, List[Any]] = {}
    for s, e, name, value in _alias_entries(lines):
        active[name] = [s, e, value, None]
    commented: Dict[str, int] = {}  # "#name:" -> its last line
    for i, line in enumerate(lines):
        m = _COMMENTED_ALIAS.match(line)
        if m:
            commented[m.group(1)] = i
    replace: Dict[int, List[Any]] = {}  # first line -> [end, cell]
    after: Dict[int, List[List[str]]] = {}  # line -> cells inserted after it
    appended: List[List[str]] = []
    for name, targets in entries.items():
        if not re.fullmatch(r"[^\s:#\"|/][^\s:]*", name):
            raise UnsafeValue(f"refusing to write the alias name {name!r}")
        for target in targets:
            if target.startswith(("|", "/", ":include:", '"')) or "," in target:
                raise UnsafeValue(f"refusing to write the alias target {target!r}")
            _one_line(f"alias {name}", target)
        new_line = f"{name}:{' ' * max(1, 15 - len(name))}{', '.join(targets)}\n"
        cur = active.get(name.lower())
        if cur is not None:
            if [t.strip() for t in cur[2].split(",") if t.strip()] == list(targets):
                continue
            if cur[3] is None:  # an original definition: replaced in place
                cur[3] = [new_line]
                replace[cur[0]] = [cur[1], cur[3]]
            else:  # a line written above for a name differing only in case
                cur[3][0] = new_line
            cur[2] = ", ".join(targets)
            continue
        cell = [new_line]
        if name in commented:
            after.setdefault(commented[name], []).append(cell)
        else:
            appended.append(cell)
        active[name.lower()] = [-1, -1, ", ".join(targets), cell]
    if not replace and not after and not appended:
        return "".join(lines)
    out: List[str] = []
    i = 0
    while i < len(lines):
        if i in replace:
            end, cell = replace[i]
            out.append(cell[0])
            last = end - 1
        else:
            out.append(lines[i])
            last = i
        for j in range(i, last + 1):
            if j in after:
                _ensure_newline(out)  # a last line without one would swallow the entry
                out.extend(c[0] for c in after[j])
        i = last + 1
    if appended:
        _ensure_newline(out)
        out.extend(c[0] for c in appended)
    return "".join(out)
