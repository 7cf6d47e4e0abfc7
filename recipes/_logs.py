"""Logs and queue helpers: where Postfix's log lands and what the mail queue holds.

Guides 000 and 004 send the admin to the mail log (``tail -f /var/log/maillog``) and to
``mailq``; today the log is the journal on Debian 12+ unless rsyslog runs, so both places are
looked at. Used by the services step's verify and the runbook.
"""

from __future__ import annotations

from wizard.checks import CheckResult, failed, info, passed
from wizard.executor import Executor
from wizard.mailqueue import QueueUnreadable, read_queue_entries
from wizard.platforms import Platform

LOG_CHECK = "mail log is written"
QUEUE_CHECK = "mail queue is readable"


def mail_log_check(ex: Executor, platform: Platform, service_manager: str) -> CheckResult:
    """The platform's mail log file when syslog writes it, else the journal of Postfix."""
    path = platform.mail_log
    st = ex.stat(path) if path else None
    if st is not None and st.size > 0:
        return passed(LOG_CHECK, f"{path} ({st.size} bytes)")
    if service_manager == "systemd" and ex.which("journalctl"):
        res = ex.run(["journalctl", "-q", "--no-pager", "-n", "1", "-u", platform.postfix_unit,
                      "-u", "postfix"], quiet=True, timeout=30)
        if res.ok and res.stdout.strip():
            return passed(LOG_CHECK, f"the journal (journalctl -u {platform.postfix_unit})")
        return failed(LOG_CHECK, f"nothing in {path or 'a log file'} nor in the journal",
                      "Postfix logs through syslog: check systemd-journald (and rsyslog, if "
                      f"you want {path})")
    return info(LOG_CHECK, f"no {path or 'mail log'} and no journal",
                "without a syslog daemon Postfix's log goes nowhere; install rsyslog or set "
                "maillog_file = /var/log/postfix.log (Postfix 3.4+)")


def queue_check(ex: Executor, running: bool) -> CheckResult:
    """The queue reads (``postqueue -j``, ``-p`` on Postfix before 3.1, parsed by
    :mod:`wizard.mailqueue`, as ``mailwizard queue`` and ``check`` read it); the count of
    queued messages."""
    if not running:
        return info(QUEUE_CHECK, "postfix is not running (postqueue asks its showq service)")
    try:
        messages, problems = read_queue_entries(ex)
    except QueueUnreadable as exc:
        return failed(QUEUE_CHECK, str(exc)[-300:], "see the mail log")
    if problems:
        return failed(QUEUE_CHECK, "; ".join(problems[:3]), "postqueue -j printed non-JSON")
    count = len(messages)
    return passed(QUEUE_CHECK, f"{count} message(s) queued" if count else "the queue is empty",
                  "" if count < 100 else "many messages wait: look at mailq and the mail log")
