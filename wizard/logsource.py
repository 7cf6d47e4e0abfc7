"""Where a target's mail log is, and its lines of the last hours.

Postfix logs through syslog, or to its own ``maillog_file`` (Postfix 3.4+, through
postlogd: containers and servers without a syslog daemon). Dovecot logs through syslog. So
the lines come from, in this order:

- the ``maillog_file`` main.cf sets, when it is a file;
- the journal (``journalctl -o short-iso SYSLOG_FACILITY=2``: the mail facility, whatever the
  units are called) when systemd runs;
- otherwise the platform's syslog file (``/var/log/maillog`` on EL, ``/var/log/mail.log`` on
  Debian) and its newest rotation (``mail.log.1``, or EL's ``maillog-YYYYMMDD``).

Files are read from their end (at most :data:`MAX_BYTES` each), inside the target root.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

from .confedit import read_main_cf
from .executor import Executor
from .facts import systemd_running
from .maillog import LogEvent, parse_lines
from .platforms import Platform

MAX_BYTES = 64 * 1024 * 1024
"""How much of the end of one log file is read."""


@dataclass
class LogRead:
    lines: List[str] = field(default_factory=list)
    sources: List[str] = field(default_factory=list)
    """What was read, in words (``/var/log/mail.log``, ``the journal``)."""
    problems: List[str] = field(default_factory=list)


def tail_lines(ex: Executor, path: str, max_bytes: int = MAX_BYTES) -> Optional[List[str]]:
    """The lines of the end of ``path`` on the target (None: no such regular file)."""
    st = ex.stat(path, follow=True)
    if st is None or st.is_dir:
        return None
    host = ex.resolve(path)
    with open(host, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        start = max(0, size - max_bytes)
        f.seek(start)
        data = f.read(max_bytes)
    lines = data.decode("utf-8", "replace").splitlines()
    return lines[1:] if start and lines else lines


def maillog_file(ex: Executor) -> str:
    """Postfix's ``maillog_file`` when main.cf names a file (not ``/dev/stdout``), else ""."""
    value = read_main_cf(ex.read_text("/etc/postfix/main.cf")).get("maillog_file", "").strip()
    return value if value.startswith("/") and not value.startswith("/dev/") else ""


def read_log(ex: Executor, platform: Platform, seconds: float,
             now: Optional[float] = None) -> LogRead:
    """The mail log lines of the last ``seconds`` (sources as the module says)."""
    now = time.time() if now is None else now
    out = LogRead()
    own = maillog_file(ex)
    if own:
        _add_file(ex, own, out)
    if systemd_running(ex) and ex.which("journalctl"):
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now - seconds))
        res = ex.run(["journalctl", "-q", "--no-pager", "-o", "short-iso", "--since", since,
                      "SYSLOG_FACILITY=2"], quiet=True, timeout=120)
        if res.ok:
            out.lines.extend(res.stdout.splitlines())
            out.sources.append("the journal (mail facility)")
        else:
            out.problems.append(f"journalctl exited {res.returncode}")
    elif platform.mail_log:
        for path in (_rotated(ex, platform.mail_log), platform.mail_log):
            if path and path != own:  # Postfix may write the syslog file's name itself
                _add_file(ex, path, out, quiet=path != platform.mail_log or bool(own))
    return out


def _rotated(ex: Executor, path: str) -> str:
    """The newest rotation of ``path``: ``mail.log.1`` (Debian's logrotate), else the newest
    ``maillog-YYYYMMDD`` (EL's dateext); "" when there is none."""
    if ex.exists(path + ".1"):
        return path + ".1"
    folder, _, name = path.rpartition("/")
    dated = sorted(n for n in ex.listdir(folder or "/")
                   if re.fullmatch(re.escape(name) + r"-\d{8}", n))
    return f"{folder}/{dated[-1]}" if dated else ""


def _add_file(ex: Executor, path: str, out: LogRead, quiet: bool = False) -> None:
    try:
        lines = tail_lines(ex, path)
    except OSError as exc:
        out.problems.append(f"{path}: {exc.strerror}")
        return
    if lines is None:
        if not quiet:
            out.problems.append(f"{path} does not exist")
        return
    out.lines.extend(lines)
    out.sources.append(path)


def recent_events(ex: Executor, platform: Platform, seconds: float,
                  now: Optional[float] = None) -> Tuple[List[LogEvent], LogRead]:
    """The events of the last ``seconds`` and what was read to find them."""
    now = time.time() if now is None else now
    read = read_log(ex, platform, seconds, now)
    return parse_lines(read.lines, now=now, since=now - seconds), read
