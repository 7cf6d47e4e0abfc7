"""One answer per read-only probe while nothing changes: the probe cache of a run.

Checks and changes ask the same questions again and again (``postfix check``, ``postfix
status``, ``doveconf -n``, ``postconf -h ...``): within :meth:`ProbeCaching.probe_cache` the
answer of a whitelisted read-only probe (a quiet command without extra environment, and
without input but for table lookups of many keys) is kept and given again, until anything
that could change it happens through the executor:
a command that is not a probe (quiet or not), a file written, removed, its mode or owner
changed, a directory made, a daemon stopped. Then the whole cache is forgotten. Outside the
context nothing is cached. A few other commands only read and are asked for a fresh answer
each time (:func:`read_only`: ``ss -ltnp``, ``hostname -f``, ``grep -q``, ``doveadm service
status``): they run, and the cache stays.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from typing import Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from .process import CommandResult

_NAME = re.compile(r"[A-Za-z0-9_./-]+", re.ASCII)
_POSTCONF_READ_FLAGS = re.compile(r"-[dhnPMFx]+", re.ASCII)


def cacheable(argv: Sequence[str], input: Optional[str] = None) -> bool:
    """True for the read-only probes whose answer depends only on the target's files and
    daemons (what the executor's writes and commands change). Only table lookups of many
    keys (``postmap -q - TABLE``) read an input; the answer is kept for that input."""
    if not argv:
        return False
    prog, args = argv[0], list(argv[1:])
    if input is not None:
        return (prog in ("postmap", "postalias") and len(args) == 3 and args[:2] == ["-q", "-"]
                and bool(_NAME.fullmatch(args[2].split(":", 1)[-1])))
    if prog == "postfix":
        return args in (["check"], ["status"])
    if prog == "doveconf":  # doveconf only reads
        return all(_NAME.fullmatch(a) or a in ("-n", "-h", "-a") for a in args)
    if prog == "postconf":  # no -e, -X, -#, no name=value: a read
        return all(_POSTCONF_READ_FLAGS.fullmatch(a) or (
            _NAME.fullmatch(a) and not a.startswith("-")) for a in args)
    if prog in ("postmap", "postalias"):
        return len(args) == 3 and args[0] == "-q" and all(_NAME.fullmatch(a) or "@" in a
                                                            for a in args[1:2])
    if prog == "dovecot":
        return args == ["--version"]
    if prog == "dpkg-query":
        return bool(args) and args[0] == "-W"
    return False


_GREP_FLAGS = re.compile(r"-[qsEF]+", re.ASCII)


def read_only(argv: Sequence[str], input: Optional[str] = None) -> bool:
    """True for quiet commands that change nothing on the target but whose answer is not
    kept (listeners, the host name, a pattern in a file): running one does not make the
    cached probes stale."""
    if not argv or input is not None:
        return False
    prog, args = argv[0], list(argv[1:])
    if prog == "ss":
        return bool(args) and all(re.fullmatch(r"-[ltnpu]+", a, re.ASCII) for a in args)
    if prog == "hostname":
        return args in ([], ["-f"])
    if prog == "grep":  # -q: no output; grep writes no file whatever its pattern
        return len(args) >= 3 and bool(_GREP_FLAGS.fullmatch(args[0])) and "q" in args[0] \
            and all(a.startswith("/") for a in args[2:])
    return prog == "doveadm" and args == ["service", "status"]


class ProbeCaching:
    """Mixin of :class:`~wizard.executor.Executor`: the probe cache and its invalidation."""

    _probes: Optional[Dict[Tuple[str, ...], CommandResult]] = None

    @contextlib.contextmanager
    def probe_cache(self) -> Iterator[None]:
        """Cache read-only probes inside the block (nested blocks share the outer cache)."""
        if self._probes is not None:
            yield
            return
        self._probes = {}
        try:
            yield
        finally:
            self._probes = None

    def _changed(self) -> None:
        """Something on the target may have changed: forget every cached answer."""
        if self._probes:
            self._probes.clear()

    def _probe_hit(self, argv: List[str], input: Optional[str],
                   env: Optional[Mapping[str, str]], quiet: bool) -> Optional[CommandResult]:
        if self._probes is None:
            return None
        if not (quiet and not env and cacheable(argv, input)):
            if not (quiet and not env and read_only(argv, input)):
                self._changed()  # a command that may change things
            return None
        hit = self._probes.get((*argv, input or ""))
        return dataclasses.replace(hit, duration=0.0) if hit is not None else None

    def _probe_store(self, argv: List[str], input: Optional[str],
                     env: Optional[Mapping[str, str]], quiet: bool,
                     result: CommandResult) -> None:
        if (self._probes is not None and quiet and not env
                and cacheable(argv, input) and result.returncode != 124):
            self._probes[(*argv, input or "")] = result
