"""Dovecot helpers shared by the recipes: configuration paths, protocols, packages."""

from __future__ import annotations

from typing import List

from wizard.answers import Answers
from wizard.platforms import Platform

DOVECOT_DIR = "/etc/dovecot"
DOVECOT_CONFD = "/etc/dovecot/conf.d"

_DOVECOT_FILES = {
    "main": "dovecot.conf",
    "auth": "conf.d/10-auth.conf",
    "logging": "conf.d/10-logging.conf",
    "mail": "conf.d/10-mail.conf",
    "master": "conf.d/10-master.conf",
    "ssl": "conf.d/10-ssl.conf",
    "imap": "conf.d/20-imap.conf",
    "pop3": "conf.d/20-pop3.conf",
    "auth-system": "conf.d/auth-system.conf.ext",
}


def dovecot_file(platform: Platform, which: str) -> str:
    """Path of one Dovecot configuration file on ``platform``.

    ``which`` is ``main``, ``auth``, ``logging``, ``mail``, ``master``, ``ssl``, ``imap``,
    ``pop3`` or ``auth-system``. Every supported platform (Dovecot 2.x, EL7 and newer, Debian,
    Ubuntu) uses ``/etc/dovecot/dovecot.conf`` plus ``conf.d``.
    """
    try:
        rel = _DOVECOT_FILES[which]
    except KeyError:
        raise ValueError(
            f"unknown dovecot file {which!r}; one of {', '.join(_DOVECOT_FILES)}") from None
    return f"{DOVECOT_DIR}/{rel}"


def wanted_protocols(answers: Answers) -> List[str]:
    """Mail access protocols from the answers, in Dovecot's spelling."""
    return [p for p, on in (("imap", answers.imap), ("pop3", answers.pop3)) if on]


def dovecot_packages(platform: Platform, answers: Answers) -> List[str]:
    """The Dovecot packages to install. On Debian and Ubuntu each protocol is its own package
    (``dovecot-imapd``, ``dovecot-pop3d``) and installing it is what enables the protocol, so
    only the ones the answers ask for are chosen."""
    want = set(wanted_protocols(answers))
    out = []
    for name in platform.packages_dovecot:
        if name.endswith("-imapd") and "imap" not in want:
            continue
        if name.endswith("-pop3d") and "pop3" not in want:
            continue
        out.append(name)
    return out


def dovecot_lda(platform: Platform) -> str:
    """Path of Dovecot's local delivery agent (``dovecot-lda``) on ``platform``."""
    return ("/usr/libexec/dovecot/dovecot-lda" if platform.is_el
            else "/usr/lib/dovecot/dovecot-lda")


def lda_mailbox_command(platform: Platform) -> str:
    """main.cf ``mailbox_command`` that hands local mail to Dovecot's LDA (run by Postfix's
    local(8) as the recipient), so Dovecot indexes and counts every message it stores."""
    return f'{dovecot_lda(platform)} -f "$SENDER" -a "$RECIPIENT"'
