"""A rehearsal's scratch directory: a stand-in server that apply, verify, rollback and resume
work on for real, with nothing on this machine touched.

Layout of the scratch directory (``$TMPDIR/mailwizard-rehearsal-<platform>`` unless told
otherwise; kept between runs, so a rehearsal stopped half way resumes)::

    root/          the rehearsed server's files: the platform's stock /etc (wizard/stock),
                   its accounts, /etc/skel, /home, /run/systemd/system
    state/         the session (journal, backups), as /var/lib/mailwizard on a server
    system.json    what the commands did to the rehearsed server (packages, units)
    commands.log   every command that would have run, in order

:func:`open_scratch` builds it on first use and returns the executor over it
(:class:`~wizard.executor.rehearsal.RehearsalExecutor`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Tuple

from .errors import UsageError
from .executor.rehearsal import RehearsalExecutor
from .executor.simulated import SimulatedSystem
from .platforms import STOCK_DIR, Platform

MARKER = "mailwizard-rehearsal"
"""First line of ``<scratch>/README``: the directory is a rehearsal's (never reuse another)."""


PACE_VARIABLE = "MAILWIZARD_REHEARSAL_PACE"
"""Seconds each recorded command takes in a rehearsal (to watch it go; default 0)."""


def rehearsal_pace() -> float:
    """``$MAILWIZARD_REHEARSAL_PACE`` as seconds (0 when unset or not a number, at most 10)."""
    try:
        value = float(os.environ.get(PACE_VARIABLE, "0"))
    except ValueError:
        return 0.0
    return min(max(value, 0.0), 10.0) if value == value else 0.0


def default_scratch_dir(platform_id: str) -> Path:
    """``$TMPDIR/mailwizard-rehearsal-<platform>`` (the system's temp dir without TMPDIR)."""
    return Path(tempfile.gettempdir()) / f"mailwizard-rehearsal-{platform_id}"


def _accounts(platform: Platform) -> Tuple[str, str]:
    """/etc/passwd and /etc/group of a fresh server with the mail packages' accounts (the
    stock files the rehearsal starts from are those the packages ship)."""
    if platform.is_el:
        passwd = ["root:x:0:0:root:/root:/bin/bash",
                  "mail:x:8:12:mail:/var/spool/mail:/sbin/nologin",
                  "postfix:x:89:89::/var/spool/postfix:/sbin/nologin",
                  "dovecot:x:97:97:Dovecot IMAP server:/usr/libexec/dovecot:/sbin/nologin",
                  "dovenull:x:981:981:Dovecot's unauthorized user:/usr/libexec/dovecot:"
                  "/sbin/nologin",
                  "opendkim:x:978:978:OpenDKIM Milter:/run/opendkim:/sbin/nologin"]
        group = ["root:x:0:", "mail:x:12:postfix", "postdrop:x:90:", "postfix:x:89:",
                 "dovecot:x:97:", "dovenull:x:981:", "opendkim:x:978:"]
    else:
        passwd = ["root:x:0:0:root:/root:/bin/bash",
                  "mail:x:8:8:mail:/var/mail:/usr/sbin/nologin",
                  "postfix:x:101:104::/var/spool/postfix:/usr/sbin/nologin",
                  "dovecot:x:102:106:Dovecot mail server,,,:/usr/lib/dovecot:/usr/sbin/nologin",
                  "dovenull:x:103:107:Dovecot login user,,,:/nonexistent:/usr/sbin/nologin",
                  "opendkim:x:104:108::/run/opendkim:/usr/sbin/nologin"]
        group = ["root:x:0:", "mail:x:8:", "sasl:x:45:", "postfix:x:104:",
                 "postdrop:x:105:", "dovecot:x:106:", "dovenull:x:107:", "opendkim:x:108:"]
    return "".join(f"{x}\n" for x in passwd), "".join(f"{x}\n" for x in group)


def _os_release(platform: Platform) -> str:
    m = re.fullmatch(r"([a-z-]+?)-?([0-9.]+)", platform.id)
    os_id, version = (m.group(1), m.group(2)) if m else (platform.id, "")
    os_id = {"centos-stream": "centos"}.get(os_id, os_id)
    like = "rhel fedora" if platform.is_el else "debian"
    return (f'NAME="{platform.name}"\nID={os_id}\nID_LIKE="{like}"\n'
            f'VERSION_ID="{version}"\nPRETTY_NAME="{platform.name} (mailwizard rehearsal)"\n')


def build_root(root: Path, platform: Platform) -> None:
    """A fresh server's files under ``root``: stock /etc, accounts, the usual directories."""
    shutil.copytree(STOCK_DIR / platform.stock / "etc", root / "etc")
    passwd, group = _accounts(platform)
    (root / "etc/passwd").write_text(passwd, encoding="utf-8")
    (root / "etc/group").write_text(group, encoding="utf-8")
    (root / "etc/os-release").write_text(_os_release(platform), encoding="utf-8")
    for d in ("etc/skel", "home", "root", "run/systemd/system", "var/lib", "var/log",
              "var/spool/mail" if platform.is_el else "var/mail", "tmp"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "root", 0o700)


@dataclass(frozen=True)
class Scratch:
    """An opened scratch directory (see the module docstring)."""

    directory: Path
    root: Path
    state_dir: Path
    executor: RehearsalExecutor
    created: bool
    """Built by this call (False: an earlier rehearsal's, resumed)."""


def open_scratch(platform: Platform, directory: Optional[Path] = None) -> Scratch:
    """Open (building it on first use) the rehearsal scratch directory for ``platform``.

    Raises:
        UsageError: ``directory`` exists and is not a rehearsal's (it is never reused), or
            belongs to a rehearsal of another platform.
    """
    base = Path(directory) if directory is not None else default_scratch_dir(platform.id)
    readme = base / "README"
    created = False
    if base.exists() and any(base.iterdir()):
        first = readme.read_text(encoding="utf-8").split("\n", 1)[0] if readme.is_file() \
            else ""
        if first != f"{MARKER} {platform.id}":
            what = ("the rehearsal of another platform" if first.startswith(MARKER)
                    else "not a rehearsal's scratch directory")
            raise UsageError(f"{base} is {what}: choose another --state-dir, or remove it "
                             "to start the rehearsal again")
    else:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
        build_root(base / "root", platform)
        readme.write_text(
            f"{MARKER} {platform.id}\n\nA mailwizard rehearsal: root/ is the rehearsed "
            "server, state/ its session, commands.log the commands that would have run.\n"
            "Remove this directory to start the rehearsal again.\n", encoding="utf-8")
        created = True
    system = SimulatedSystem(platform, base / "system.json")
    if created:
        system.save()
    executor = RehearsalExecutor(base / "root", system, commands_log=base / "commands.log",
                                 pace=rehearsal_pace())
    return Scratch(base.resolve(), base.resolve() / "root", base.resolve() / "state", executor,
                   created)
