"""Step dkim (on by default): sign outgoing mail with DKIM, OpenDKIM as a Postfix milter.

Touches: /etc/opendkim.conf (whole file, ours), /etc/opendkim/{KeyTable,SigningTable,
TrustedHosts}, the private key /etc/opendkim/keys/<selector>.private (RSA 2048, made with
``cryptography``, 0600 opendkim, kept on later runs), the socket directory
/var/spool/postfix/opendkim where smtpd is chrooted, main.cf (smtpd_milters,
non_smtpd_milters, milter_default_action, milter_protocol) and the opendkim service. Postfix
itself is checked and reloaded by the services step, which comes after this one.

Example answers: ``dkim: {enabled: true, selector: s202612, domains: [shop.example]}``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import stat
from shlex import quote as q
from typing import TYPE_CHECKING, Dict, List, Optional

from wizard import checks, dkimkey
from wizard.answers import Answers, signing_domains
from wizard.changes import (
    Change,
    Command,
    ConfiguredService,
    Directory,
    FileWrite,
    GeneratedFile,
    KeySource,
    Note,
    PostfixParams,
    Validate,
)
from wizard.checks import CheckResult, failed, info, passed
from wizard.executor import Executor
from wizard.facts import systemd_running, unit_active
from wizard.platforms import Platform
from wizard.recipe import ForFamily, PlanContext, Recipe, VerifyContext

from ._daemons import pidfile_direct

if TYPE_CHECKING:  # the key is made at apply time (wizard.dkimkey imports cryptography then)
    from cryptography.hazmat.primitives.asymmetric import rsa

CONF = "/etc/opendkim.conf"
CONF_DIR = "/etc/opendkim"
KEY_TABLE = f"{CONF_DIR}/KeyTable"
SIGNING_TABLE = f"{CONF_DIR}/SigningTable"
TRUSTED_HOSTS = f"{CONF_DIR}/TrustedHosts"
RUN_DIR = "/run/opendkim"
PIDFILE = f"{RUN_DIR}/opendkim.pid"
SPOOL_DIR = "/var/spool/postfix/opendkim"
"""The socket's directory inside Postfix's queue directory (smtpd chrooted there)."""
SPOOL_SOCKET = f"{SPOOL_DIR}/opendkim.sock"
INET_PORT = 8891
"""Where OpenDKIM listens when smtpd is not chrooted (loopback only)."""
USER = "opendkim"
TRUST_ANCHOR = "/usr/share/dns/root.key"
"""Debian's DNSSEC root key (package dns-root-data, a dependency of opendkim there)."""


# --------------------------------------------------------------------------- the socket
def chrooted(platform: Platform) -> bool:
    """Whether Postfix's smtpd runs chrooted in the queue directory (Debian, Ubuntu)."""
    return platform.smtpd_chroot


def opendkim_socket(platform: Platform) -> str:
    """OpenDKIM's ``Socket``: a unix socket inside the queue directory where smtpd is
    chrooted; elsewhere TCP on the loopback (see :data:`DkimRecipe.outdated`)."""
    if chrooted(platform):
        return f"local:{SPOOL_SOCKET}"
    return f"inet:{INET_PORT}@127.0.0.1"


def milter_address(platform: Platform) -> str:
    """What Postfix connects to. Relative to the queue directory where smtpd is chrooted
    (Postfix's daemons work there, chrooted or not)."""
    if chrooted(platform):
        return "unix:opendkim/opendkim.sock"
    return f"inet:127.0.0.1:{INET_PORT}"


def milter_params(platform: Platform) -> Dict[str, str]:
    """main.cf for the milter: every message (SMTP and local submission) passes OpenDKIM;
    if it is down, mail still flows unsigned (accept) rather than being refused."""
    addr = milter_address(platform)
    return {"smtpd_milters": addr, "non_smtpd_milters": addr,
            "milter_default_action": "accept", "milter_protocol": "6"}


# --------------------------------------------------------------------------- files
def trusted_hosts(answers: Answers) -> List[str]:
    """Hosts whose mail is signed rather than verified: the loopback and mynetworks.
    (Logged-in senders are signed anyway: Postfix passes the login to the milter.)"""
    out = ["127.0.0.1", "::1"]
    for net in answers.mynetworks:
        text = net.replace("[", "").replace("]", "")
        try:
            text = ipaddress.ip_network(text, strict=False).compressed
        except ValueError:
            continue
        if text not in out and text not in ("127.0.0.0/8", "::1/128"):
            out.append(text)
    return out


def key_table_text(answers: Answers) -> str:
    sel, key = answers.dkim.selector, dkimkey.key_path(answers.dkim.selector)
    lines = [f"{dkimkey.txt_name(sel, d)} {d}:{sel}:{key}" for d in signing_domains(answers)]
    return _HEAD + "# key name, then domain:selector:private key file\n" + "\n".join(lines) + "\n"


def signing_table_text(answers: Answers) -> str:
    sel = answers.dkim.selector
    lines = [f"*@{d} {dkimkey.txt_name(sel, d)}" for d in signing_domains(answers)]
    return _HEAD + "# sender address pattern, then the key name (KeyTable)\n" + \
        "\n".join(lines) + "\n"


def trusted_hosts_text(answers: Answers) -> str:
    return _HEAD + "# mail from these hosts is signed, not verified\n" + \
        "\n".join(trusted_hosts(answers)) + "\n"


_HEAD = "# Written by mailwizard (step \"dkim\").\n"


def opendkim_conf_text(answers: Answers, platform: Platform) -> str:
    lines = [
        "# Written by mailwizard (step \"dkim\"); the package's own file is kept in "
        "mailwizard's backups.",
        "# OpenDKIM signs mail from this server and its users (Mode s) and checks the",
        "# signatures of incoming mail (Mode v). See opendkim.conf(5).",
        "Syslog\t\t\tyes",
        "SyslogSuccess\t\tyes",
        "Mode\t\t\tsv",
        "Canonicalization\trelaxed/simple",
        "OversignHeaders\t\tFrom",
        f"UserID\t\t\t{USER}",
        "# no access for others to what OpenDKIM creates" + (
            " (the socket: Postfix's group only)" if chrooted(platform) else ""),
        "UMask\t\t\t007",
        f"Socket\t\t\t{opendkim_socket(platform)}",
        f"PidFile\t\t\t{PIDFILE}",
        f"KeyTable\t\t{KEY_TABLE}",
        f"SigningTable\t\trefile:{SIGNING_TABLE}",
        f"InternalHosts\t\t{TRUSTED_HOSTS}",
        f"ExternalIgnoreList\t{TRUSTED_HOSTS}",
    ]
    if platform.is_debian:
        lines.append(f"TrustAnchorFile\t\t{TRUST_ANCHOR}")
    return "\n".join(lines) + "\n"


SOCKET_LINE = "^Socket[[:space:]]+local:" + SPOOL_SOCKET.replace(".", "[.]") + "$"
"""Our Socket line in opendkim.conf (the stock Debian file has it commented out)."""
UNDO_SOCKET = (
    "if [ -d /run/systemd/system ]; then systemctl try-restart opendkim; "
    "elif [ -x /etc/init.d/opendkim ] && service opendkim status >/dev/null 2>&1; then "
    f"service opendkim restart; fi; rm -f {SPOOL_SOCKET}")
"""Undo of the first apply, run after the files are restored (it comes before them in the
plan): OpenDKIM was restarted on mailwizard's configuration by the service's undo, so it is
restarted once more on the package's, and the socket it left in the queue goes."""


def opendkim_direct() -> Dict[str, List[List[str]]]:
    """Starting OpenDKIM without systemd (containers): its run directory first (tmpfiles
    makes it under systemd), then the daemon, watched through its pid file."""
    return pidfile_direct([["install", "-d", "-m", "0750", "-o", USER, "-g", USER, RUN_DIR],
                           ["opendkim", "-x", CONF]], PIDFILE)


def record_lines(answers: Answers, value: str) -> List[str]:
    """``name. IN TXT "..." "..."`` for every signing domain (one key serves them all), the
    value cut into strings of at most 255 characters, as a zone file needs them."""
    sel = answers.dkim.selector
    strings = " ".join(f'"{value[i:i + 255]}"' for i in range(0, len(value), 255))
    return [f"{dkimkey.txt_name(sel, d)}. IN TXT {strings}" for d in signing_domains(answers)]


class DkimRecipe(Recipe):
    id = "dkim"
    title = "DKIM signing (OpenDKIM)"
    guide = "None: the guides stop at SPF advice (issue 11)"
    summary = (
        "Signs every message this server sends with DKIM, so receivers can check that it "
        "really comes from your domain and was not altered; the large mail providers refuse "
        "or file as spam mail that passes neither SPF nor DKIM. OpenDKIM from the "
        "distribution (EPEL on EL) runs as a milter: Postfix hands it each message, from "
        "SMTP clients and from local submission alike, and it signs mail from this server, "
        "your trusted networks and logged-in users, and checks the signatures of incoming "
        "mail. The key is RSA 2048, made by mailwizard with the cryptography library, "
        "readable by the opendkim user only (0600) and kept on later runs. It signs for the "
        "mail domain, the virtual alias domains and any extra domains you list, under one "
        "selector (dated, e.g. s202612, so a later key can get a new one). Receivers find "
        "the public key in DNS: publish the TXT record this step shows (also in the runbook "
        "and by `mailwizard dns`), or signatures cannot be checked. If OpenDKIM is down, "
        "Postfix passes mail on unsigned rather than refusing it.")
    outdated = (
        "The guides do not cover DKIM at all; published SPF alone no longer gets mail "
        "delivered to the large providers (they require SPF or DKIM to pass, and DMARC).",
        "Many how-tos generate the key with opendkim-genkey and paste the .txt file into "
        "DNS; mailwizard makes the key itself and prints the record in one line.",
        "How-tos add the postfix user to the opendkim group to reach the socket; Postfix's "
        "daemons drop supplementary groups when they start (set_ugid), so that alone does "
        "not work.",
        ForFamily("debian",
                  "Postfix's smtpd runs chrooted in its queue directory, so the socket lives "
                  "there, in /var/spool/postfix/opendkim: a setgid directory of group postfix, "
                  "so the socket OpenDKIM creates belongs to that group."),
        ForFamily("el",
                  "Postfix's smtpd is not chrooted here and OpenDKIM listens on "
                  "127.0.0.1:8891, the milter port SELinux's policy already allows (a socket "
                  "in /run/opendkim would need the postfix group, which Postfix's daemons "
                  "drop)."),
        "OpenDKIM's old ADSP options are gone since 2.10 and must not be set.",
    )
    touches = (CONF, KEY_TABLE, SIGNING_TABLE, TRUSTED_HOSTS, dkimkey.KEY_DIR, SPOOL_DIR,
               "main.cf smtpd_milters, non_smtpd_milters, milter_default_action, "
               "milter_protocol", "service opendkim")

    def enabled(self, answers: Answers) -> bool:
        return answers.dkim.enabled

    # ------------------------------------------------------------------ plan
    def plan(self, ctx: PlanContext) -> List[Change]:
        a, p = ctx.answers, ctx.platform
        key_file = dkimkey.key_path(a.dkim.selector)
        record = self._record_note(a, ctx.view.read(key_file), key_file)
        source: KeySource[rsa.RSAPrivateKey] = KeySource(dkimkey.generate_key)
        changes: List[Change] = [
            Directory(CONF_DIR, 0o755, "root", USER),
            Directory(dkimkey.KEY_DIR, 0o750, USER, USER),
            GeneratedFile(
                key_file, lambda: dkimkey.private_pem(source.key()),
                preview_text="(a new RSA 2048 private key, generated at apply time; never "
                             "shown)\n",
                mode=0o600, owner=USER, group=USER,
                reason="the signing key: created once, kept on later runs"),
            FileWrite(KEY_TABLE, key_table_text(a), mode=0o644,
                      reason="which key signs for which domain"),
            FileWrite(SIGNING_TABLE, signing_table_text(a), mode=0o644,
                      reason="sign mail from these domains"),
            FileWrite(TRUSTED_HOSTS, trusted_hosts_text(a), mode=0o644,
                      reason="sign (not verify) mail from here and the trusted networks"),
        ]
        if chrooted(p):
            changes += [Directory(SPOOL_DIR, 0o2750, USER, "postfix"), Command(
                ["true"], unless=["grep", "-qsE", SOCKET_LINE, CONF],
                undo=["sh", "-c", UNDO_SOCKET],
                description="on rollback only: restart opendkim on its restored "
                            "configuration and remove the old socket, so the directory can go")]
        changes += [
            FileWrite(CONF, opendkim_conf_text(a, p), mode=0o644,
                      reason="sign and verify; the socket Postfix reaches"),
            Validate(["opendkim", "-n", "-x", CONF],
                     "check the OpenDKIM configuration (opendkim -n)",
                     [CONF, KEY_TABLE, SIGNING_TABLE, TRUSTED_HOSTS]),
            ConfiguredService("opendkim", action="restart", direct=opendkim_direct(),
                              wake=opendkim_socket(p),
                              config=[CONF, KEY_TABLE, SIGNING_TABLE, TRUSTED_HOSTS,
                                      key_file]),
            PostfixParams(milter_params(p), reason="every message passes OpenDKIM; "
                          "unsigned rather than refused if it is down (the services step "
                          "reloads Postfix)"),
            record,
        ]
        return changes

    @staticmethod
    def _record_note(a: Answers, existing: Optional[bytes], key_file: str) -> Note:
        if existing is not None:
            try:
                value = dkimkey.txt_value(dkimkey.public_key_from_pem(existing))
            except ValueError:
                return Note(f"{key_file} is not an RSA key: OpenDKIM cannot sign with it",
                            "move it away and apply again, or pick another selector")
            return Note("publish the DKIM TXT record in DNS (receivers check signatures "
                        "against it)", "; ".join(record_lines(a, value)))
        names = ", ".join(dkimkey.txt_name(a.dkim.selector, d) for d in signing_domains(a))
        return Note(f"publish the DKIM TXT record for {names} once the key exists",
                    "the record holds the new key's public half: verify, the runbook and "
                    "`mailwizard dns` show it after apply")

    # ------------------------------------------------------------------ verify
    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        a, ex, p = ctx.answers, ctx.executor, ctx.platform
        key_file = dkimkey.key_path(a.dkim.selector)
        out: List[CheckResult] = [checks.file_mode(ex, key_file, 0o600, USER)]
        data = ex.read_bytes(key_file)
        if data is not None:
            try:
                value = dkimkey.txt_value(dkimkey.public_key_from_pem(data))
                out.append(info("DKIM record to publish", "; ".join(record_lines(a, value))))
            except ValueError as exc:
                out.append(failed("DKIM key readable", f"{key_file}: {exc}"))
        want_conf = opendkim_conf_text(a, p)
        have = ex.read_text(CONF)
        out.append(CheckResult(f"{CONF} as planned", have == want_conf,
                               "as planned" if have == want_conf else
                               ("missing" if have is None else "edited since"),
                               "" if have == want_conf else "apply the step dkim again"))
        out += checks.main_cf_values(ex, milter_params(p))
        if ex.rehearsal:  # no daemon runs in a rehearsal: said, never guessed
            out.append(checks.not_checked("opendkim running", "a running OpenDKIM"))
            out.append(checks.not_checked("OpenDKIM socket reachable by Postfix",
                                          "a running OpenDKIM"))
            return out
        running = opendkim_running(ex)
        if running:
            out.append(passed("opendkim running"))
        elif running is None:
            out.append(info("opendkim running", "opendkim is not installed"))
            return out
        else:
            out.append(failed("opendkim running", "not running",
                              "see journalctl -u opendkim (or the mail log)"))
        out.append(socket_check(ex, p))
        return out

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        key_file = q(dkimkey.key_path(answers.dkim.selector))
        domain = answers.domain
        name = dkimkey.txt_name(answers.dkim.selector, domain)
        cmds = [
            f"opendkim -n -x {CONF} && echo config OK",
            "systemctl is-active opendkim",
            "postconf smtpd_milters non_smtpd_milters milter_default_action milter_protocol",
            f"ls -l {key_file}   # -rw------- opendkim",
            f"echo \"v=DKIM1; k=rsa; p=$(openssl pkey -in {key_file} -pubout -outform DER | "
            f"base64 -w0)\"   # the TXT record of {q(name)} (and of each signing domain)",
            f"opendkim-testkey -d {q(domain)} -s {q(answers.dkim.selector)} -k {key_file} -vvv"
            "   # once the record is published: 'key OK'",
        ]
        if chrooted(platform):
            cmds.insert(3, f"ls -l {SPOOL_SOCKET}   # srwxrwx--- group postfix")
        else:
            cmds.insert(3, f"ss -ltn 'sport = :{INET_PORT}'   # 127.0.0.1:{INET_PORT}")
        return cmds


# --------------------------------------------------------------------------- probes
def opendkim_running(ex: Executor) -> Optional[bool]:
    """systemd's word, else the pid file read in /proc; None when opendkim is not
    installed; False in a dry run."""
    if not ex.which("opendkim"):
        return None
    if ex.dry_run:
        return False
    if systemd_running(ex):
        return unit_active(ex, "opendkim")
    return ex.daemon_pid(PIDFILE, ("opendkim",)) is not None


def socket_check(ex: Executor, platform: Platform, timeout: float = 5.0) -> CheckResult:
    """The milter socket exists where Postfix looks, Postfix's group may use it, and
    OpenDKIM accepts a connection on it."""
    name = "OpenDKIM socket reachable by Postfix"
    if not chrooted(platform):
        try:
            with socket.create_connection(("127.0.0.1", INET_PORT), timeout=timeout):
                return passed(name, f"127.0.0.1:{INET_PORT} accepts connections")
        except OSError as exc:
            return failed(name, f"127.0.0.1:{INET_PORT}: {exc}", "is opendkim running?")
    full = str(ex.path(SPOOL_SOCKET))
    try:
        st = os.lstat(full)
    except OSError:
        return failed(name, f"{SPOOL_SOCKET} is missing", "restart opendkim; see its log")
    if not stat.S_ISSOCK(st.st_mode):
        return failed(name, f"{SPOOL_SOCKET} is not a socket")
    try:
        postfix_gid = ex.gid("postfix")
    except Exception:  # noqa: BLE001 - no postfix group: the package step has not run
        return failed(name, "there is no postfix group")
    mode = stat.S_IMODE(st.st_mode)
    if st.st_gid != postfix_gid or mode & 0o060 != 0o060:
        return failed(name, f"{SPOOL_SOCKET}: mode {mode:04o}, gid {st.st_gid}",
                      f"expected group postfix (gid {postfix_gid}) with read and write; "
                      f"is {SPOOL_DIR} setgid postfix?")
    dirfd = os.open(os.path.dirname(full), os.O_RDONLY | os.O_DIRECTORY)
    try:
        addr = full if len(full) < 100 else f"/proc/self/fd/{dirfd}/{os.path.basename(full)}"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(addr)
    except OSError as exc:
        return failed(name, f"{SPOOL_SOCKET}: {exc}", "is opendkim running?")
    finally:
        os.close(dirfd)
    return passed(name, f"{SPOOL_SOCKET} (mode {mode:04o}, group postfix) accepts "
                        "connections")


__all__ = ["DkimRecipe", "milter_params", "opendkim_conf_text", "record_lines",
           "signing_domains"]
