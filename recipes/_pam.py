"""PAM helpers: restrict a mail service's logins to the members of one group."""

from __future__ import annotations

from typing import List, Optional

from wizard.platforms import Platform

PAM_MARK = "# mailwizard: only members of the group below may authenticate"


def pam_default(platform: Platform, service: str) -> str:
    """What the PAM file for ``service`` holds when the package ships none."""
    if platform.is_debian:
        return ("#%PAM-1.0\n@include common-auth\n@include common-account\n"
                "@include common-session\n")
    if service == "dovecot":
        return ("#%PAM-1.0\nauth       required     pam_nologin.so\n"
                "auth       include      password-auth\naccount    include      password-auth\n"
                "session    include      password-auth\n")
    return ("#%PAM-1.0\nauth       include      password-auth\n"
            "account    include      password-auth\n")


def pam_with_group(text: Optional[str], platform: Platform, service: str, group: str) -> str:
    """The PAM file with a ``pam_succeed_if ... ingroup`` line before its first auth rule.

    An older mailwizard line (another group) is replaced; everything else is kept.
    """
    rule = f"auth       required     pam_succeed_if.so quiet_success user ingroup {group}\n"
    lines = (text if text is not None else pam_default(platform, service)).splitlines(True)
    out: List[str] = []
    skip_next = False
    for line in lines:
        if skip_next:
            skip_next = False
            if "pam_succeed_if.so" in line:
                continue
        if line.rstrip("\n") == PAM_MARK:
            skip_next = True
            continue
        out.append(line)
    pos = len(out)
    for i, line in enumerate(out):
        s = line.strip()
        if s.startswith("auth") or s.startswith("@include") or s.startswith("-auth"):
            pos = i
            break
    out[pos:pos] = [PAM_MARK + "\n", rule]
    if out and not out[-1].endswith("\n"):
        out[-1] += "\n"
    return "".join(out)
