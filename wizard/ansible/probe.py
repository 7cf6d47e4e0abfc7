"""The client probes the exported playbook runs at the end, from the control node.

A script in the Python standard library only (the control node runs Ansible, so it has
Python): it connects to a host's mail ports as a mail client would and prints one JSON
object, which the role's assert tasks judge. It never sends a message: the relay probe stops
at RCPT TO and quits.
"""

from __future__ import annotations

SCRIPT = r'''#!/usr/bin/env python3
"""mailwizard's client probes (written by `mailwizard export ansible`)."""
import imaplib
import json
import smtplib
import ssl
import sys

host, domain = sys.argv[1], sys.argv[2]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
out = {}


def smtp(port):
    s = smtplib.SMTP(host, port, timeout=20)
    s.ehlo("probe.invalid")
    return s


try:
    s = smtp(25)
    out["smtp_starttls"] = s.has_extn("starttls")
    out["smtp_auth_before_tls"] = s.has_extn("auth")
    s.mail("probe@example.org")
    code, _ = s.rcpt("someone@relay-test.example.org")
    out["relay_rcpt_code"] = code
    s.quit()
except Exception as exc:  # reported, then judged by the asserts
    out["smtp_error"] = repr(exc)
try:
    s = smtp(587)
    out["submission_auth_before_tls"] = s.has_extn("auth")
    s.starttls(context=ctx)
    s.ehlo("probe.invalid")
    out["submission_auth"] = s.has_extn("auth")
    s.quit()
except Exception as exc:
    out["submission_error"] = repr(exc)
try:
    m = imaplib.IMAP4_SSL(host, 993, ssl_context=ctx, timeout=20)
    out["imaps_ok"] = "IMAP4REV1" in m.capabilities
    m.logout()
except Exception as exc:
    out["imaps_error"] = repr(exc)
print(json.dumps(out))
'''
