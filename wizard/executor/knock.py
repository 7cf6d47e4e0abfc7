"""Knocking on a daemon's listening socket while it stops, so that it notices the stop at once.

A milter built on libmilter (OpenDKIM) handles SIGTERM in a signal thread that only sets a
flag; its listener looks at the flag when its ``poll`` returns, and that poll waits up to 5
seconds for a connection. A connection wakes it: the listener accepts it, sees the flag and
leaves its loop, and the daemon exits as it would 5 seconds later. The knock connects and
closes at once (the milter's session thread reads end-of-file and ends); it sends nothing.

:class:`Knocker` knocks every :data:`INTERVAL` seconds while a stop command runs (it cannot
know when the init script's ``start-stop-daemon`` sends the signal). A knock before the
signal is a connection that ends at once; a refused or missing socket is ignored.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from pathlib import Path
from typing import Callable, Optional, Tuple, Union

INTERVAL = 0.05
"""Seconds between two knocks while the stop runs."""

ADDRESS = re.compile(r"(?:(?:local|unix):(/[\x21-\x7e]{1,1000})"
                     r"|inet:([0-9]{1,5})@(127\.0\.0\.1|localhost|\[::1\]))")
"""The listener addresses mailwizard knocks on, in OpenDKIM's ``Socket`` syntax: a unix
socket (``local:/path``, ``unix:/path``), or a loopback TCP port (``inet:PORT@127.0.0.1``)."""


def parse(address: str) -> Union[str, Tuple[str, int]]:
    """The unix socket's target path, or (host, port); ValueError for anything else."""
    m = ADDRESS.fullmatch(address)
    if m is None or (m.group(2) is not None and not 0 < int(m.group(2)) < 65536):
        raise ValueError(f"not a loopback listener address: {address!r}")
    if m.group(1) is not None:
        return m.group(1)
    host = "::1" if m.group(3) == "[::1]" else m.group(3)
    return (host, int(m.group(2)))


def knock_once(where: Union[Path, Tuple[str, int]], timeout: float = 0.5) -> bool:
    """Connect to the unix socket at host path ``where`` (or to a TCP (host, port)) and close
    at once. True when the connection was accepted; errors give False."""
    try:
        if isinstance(where, tuple):
            with socket.create_connection(where, timeout=timeout):
                return True
        dirfd = os.open(os.path.dirname(where), os.O_RDONLY | os.O_DIRECTORY)
        try:
            full = str(where)
            addr = full if len(full) < 100 else f"/proc/self/fd/{dirfd}/{where.name}"
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(timeout)
                s.connect(addr)
                return True
        finally:
            os.close(dirfd)
    except OSError:
        return False


class Knocker:
    """Knock on ``where`` every :data:`INTERVAL` s in a thread, from entering the ``with``
    block until leaving it (the stop command runs inside)."""

    def __init__(self, where: Union[Path, Tuple[str, int]],
                 knock: Callable[[Union[Path, Tuple[str, int]]], bool] = knock_once) -> None:
        self.where = where
        self.knock = knock
        self.knocks = 0
        self._done = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def _loop(self) -> None:
        while not self._done.wait(INTERVAL):
            self.knock(self.where)
            self.knocks += 1

    def __enter__(self) -> Knocker:
        self._thread = threading.Thread(target=self._loop, name="mw-knock", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()


__all__ = ["ADDRESS", "INTERVAL", "Knocker", "knock_once", "parse"]
