"""The last step (certificate mode ``acme``): a certificate from an ACME CA, by certbot.

Touches: ``/etc/letsencrypt`` (certbot's account, lineage and renewal configuration), the deploy
hook ``/etc/letsencrypt/renewal-hooks/deploy/mailwizard``, the certificate and key at the paths
of the certificate step (the hook installs the issued ones there), ``certbot-renew.timer`` on
EL (enabled), a drop-in of certbot's renewal service when a private CA bundle is answered.
Example: ``certbot certonly --non-interactive --agree-tos --cert-name mail.example.com -d
mail.example.com --server https://acme-v02.api.letsencrypt.org/directory
--register-unsafely-without-email --standalone --preferred-challenges http --deploy-hook
/etc/letsencrypt/renewal-hooks/deploy/mailwizard``.

It runs last: the certificate step has put a self-signed placeholder at the same paths so
Postfix and Dovecot start with TLS, the services run, and the firewall step opened port 80.
"""

from __future__ import annotations

import datetime as _dt
from shlex import quote as q
from typing import TYPE_CHECKING, Dict, List

from wizard import checks
from wizard.answers import Answers
from wizard.changes import (
    Change,
    Command,
    FileWrite,
    Service,
    Snapshot,
    SystemdDropIn,
    Validate,
)
from wizard.checks import CheckResult, failed, info, passed
from wizard.errors import RecipeError
from wizard.executor import Executor
from wizard.platforms import Platform
from wizard.recipe import PlanContext, Recipe, VerifyContext

from ._daemons import NotProbed, dovecot_running, listeners, port_programs, postfix_running
from ._hostdns import acme_host_check, dns_resolver
from .certificate import cert_paths, load_certs, names_host

if TYPE_CHECKING:  # imported where a certificate is read, not with the step
    from cryptography import x509

LE_DIR = "/etc/letsencrypt"
HOOK = f"{LE_DIR}/renewal-hooks/deploy/mailwizard"
CRON = "/etc/cron.d/certbot"
MIN_DAYS_LEFT = 21
RELOAD = (("postfix", "reload"), ("doveadm", "reload"))
"""What the undo runs once the placeholder is back (both daemons run: the services step)."""


def port80_check(ex: Executor, answers: Answers) -> List[CheckResult]:
    """Preflight, standalone challenge only: nothing else holds port 80, where certbot must
    answer the CA on the first run and on every renewal."""
    c = answers.certificate
    if c.mode != "acme" or c.acme_challenge != "standalone":
        return []
    name = "port 80 free for certbot (standalone challenge)"
    try:
        owners = port_programs(ex).get(80)
    except NotProbed as exc:
        return [info(name, exc.detail, exc.hint)]
    if not owners:
        return [passed(name, "nothing listens")]
    return [failed(name, f"held by {', '.join(sorted(set(owners)))}",
                   "certbot binds port 80 for each issuance and renewal: stop that server, "
                   "or set certificate.acme_challenge to webroot and certificate.acme_webroot "
                   "to the document root it serves")]


def load_certs_der(der: bytes) -> x509.Certificate:
    from cryptography import x509

    return x509.load_der_x509_certificate(der)


def acme_mode(answers: Answers) -> bool:
    return answers.certificate.mode == "acme"


def cert_name(answers: Answers) -> str:
    """certbot's lineage name: the host name (``live/<name>/``, ``renewal/<name>.conf``)."""
    return answers.hostname.lower().rstrip(".")


def acme_names(answers: Answers) -> List[str]:
    """The names the certificate is asked for: the host name, then the extra DNS names."""
    return list(dict.fromkeys([cert_name(answers), *answers.certificate.acme_names]))


def renewal_conf(answers: Answers) -> str:
    return f"{LE_DIR}/renewal/{cert_name(answers)}.conf"


def live_cert(answers: Answers) -> str:
    return f"{LE_DIR}/live/{cert_name(answers)}/cert.pem"


def renew_service(platform: Platform) -> str:
    """The renewal service the package's timer starts (EPEL: certbot-renew, Debian: certbot)."""
    return "certbot-renew" if platform.is_el else "certbot"


def acme_env(answers: Answers) -> Dict[str, str]:
    bundle = answers.certificate.acme_ca_bundle
    return {"REQUESTS_CA_BUNDLE": bundle} if bundle else {}


def _key_flags(key_type: str) -> List[str]:
    if key_type.startswith("rsa"):
        return ["--key-type", "rsa", "--rsa-key-size", key_type[3:]]
    curve = {"ecdsa-p256": "secp256r1", "ecdsa-p384": "secp384r1"}[key_type]
    return ["--key-type", "ecdsa", "--elliptic-curve", curve]


def certbot_argv(answers: Answers) -> List[str]:
    """``certbot certonly`` with flags certbot 1.10 (EPEL 7) to 4.x (Debian 13) all know."""
    c = answers.certificate
    argv = ["certbot", "certonly", "--non-interactive", "--agree-tos",
            "--cert-name", cert_name(answers)]
    for name in acme_names(answers):
        argv += ["-d", name]
    argv += ["--server", c.acme_directory]
    argv += ["-m", c.acme_email] if c.acme_email else ["--register-unsafely-without-email"]
    if c.acme_challenge == "webroot":
        argv += ["--webroot", "-w", c.acme_webroot]
    else:
        argv += ["--standalone", "--preferred-challenges", "http"]
    return argv + _key_flags(c.key_type) + ["--deploy-hook", HOOK]


def delete_argv(answers: Answers) -> List[str]:
    return ["certbot", "delete", "--non-interactive", "--cert-name", cert_name(answers)]


def hook_script(answers: Answers, platform: Platform) -> str:
    """The deploy hook: certbot runs it with RENEWED_LINEAGE after every issuance and renewal."""
    cert, key = cert_paths(answers, platform)
    name = cert_name(answers)
    return f"""#!/bin/sh
# Installed by mailwizard (certificate mode acme). certbot runs this after it
# obtains or renews a certificate and names the lineage in RENEWED_LINEAGE.
# For the lineage below it copies the new certificate chain and key to the
# files Postfix and Dovecot read, each through a temporary file in the same
# directory (created 0600, so the key is never readable by others) renamed
# into place, then reloads both daemons. Other lineages are left alone.
# Rolling back mailwizard's acme step removes this file.
set -eu
PATH=/usr/sbin:/usr/bin:/sbin:/bin
lineage=${{RENEWED_LINEAGE:-}}
[ -n "$lineage" ] || {{ echo "RENEWED_LINEAGE is not set (certbot sets it)" >&2; exit 1; }}
[ "$(basename "$lineage")" = {q(name)} ] || exit 0
cert={q(cert)}
key={q(key)}
put() {{
    tmp=$(mktemp "$(dirname "$2")/.mailwizard-hook.XXXXXX")
    if cat "$1" > "$tmp" && chmod "$3" "$tmp" && mv -f "$tmp" "$2"; then
        return 0
    fi
    rm -f "$tmp"
    return 1
}}
umask 077
put "$lineage/privkey.pem" "$key" 0600
put "$lineage/fullchain.pem" "$cert" 0644
if command -v restorecon >/dev/null 2>&1; then
    restorecon "$cert" "$key" || true
fi
rc=0
postfix reload || rc=1
doveadm reload || rc=1
exit $rc
"""


def dropin_text(answers: Answers) -> str:
    return ("# mailwizard: certbot's renewal trusts this CA bundle for the ACME server\n"
            "[Service]\n"
            f"Environment=REQUESTS_CA_BUNDLE={answers.certificate.acme_ca_bundle}\n")


class AcmeRecipe(Recipe):
    id = "acme"
    title = "ACME certificate (certbot)"
    guide = ("Guide 000, part 3 section 6 and guide 002 (certificates); the guides know only "
             "self-signed certificates and paid CAs")
    summary = (
        "Gets a certificate that every mail client and server trusts from an ACME CA (Let's "
        "Encrypt unless another directory URL is answered) with the distribution's certbot "
        "(EPEL on EL) and the HTTP-01 challenge: certbot answers on port 80 itself "
        "(standalone), or writes the challenge into the document root of a web server that "
        "already answers there (webroot). The names are the host name and the extra DNS "
        "names. A deploy hook that mailwizard writes copies each new certificate and key to "
        "the files Postfix and Dovecot already use and reloads both, on the first issuance "
        "and on every renewal; the package's timer (or cron job without systemd) renews. "
        "Until this step runs, the self-signed placeholder of the certificate step is in "
        "place. Rollback deletes certbot's lineage, puts the placeholder back byte for byte, "
        "removes the hook and reloads the daemons.")
    outdated = (
        "The guides make a self-signed certificate (or buy one). Clients warn about a "
        "self-signed certificate and large mail providers treat such servers with suspicion; "
        "a free certificate from an ACME CA, renewed automatically, replaces both.",
        "The guides' 'make' in /etc/pki/tls/certs and genkey are gone; certbot keeps its "
        "files under /etc/letsencrypt and the hook copies them to the daemons' paths.",
        "A renewal needs the daemons reloaded to take effect; the hook does it, so nobody "
        "restarts them by hand every 60 to 90 days.",
    )
    touches = (f"{LE_DIR} (certbot)", HOOK, "certificate and key of the certificate step",
               "certbot-renew.timer (EL)")

    def enabled_for(self, answers: Answers, platform: Platform) -> bool:
        return acme_mode(answers)  # other certificate modes leave the step out

    def plan(self, ctx: PlanContext) -> List[Change]:
        a, p = ctx.answers, ctx.platform
        if not acme_mode(a):
            return []
        c = a.certificate
        cert_file, key_file = cert_paths(a, p)
        issue = not ctx.view.exists(renewal_conf(a))
        if issue and c.acme_challenge == "standalone":
            busy = listeners(ctx.view, 80)
            if busy:
                raise RecipeError(
                    f"port 80 is already in use (listening on {', '.join(sorted(set(busy)))}); "
                    "certbot's standalone challenge must answer there itself. Set "
                    "certificate.acme_challenge to webroot and certificate.acme_webroot to the "
                    "document root that server serves, or stop that server first.")
        ex = ctx.view.executor
        if issue and not ctx.facts.dry_run and not ex.rehearsal:
            # the CA connects to the host name: refuse before certbot when DNS names another
            # server (no certificate, and a failed order counts against the CA's rate limit)
            host = acme_host_check(ex, a, dns_resolver(ex))
            if host.ok is False:
                raise RecipeError(f"{host.detail}: {host.explanation}")
        if issue and c.acme_challenge == "webroot" and not ctx.facts.dry_run \
                and not ctx.view.exists(c.acme_webroot):
            raise RecipeError(f"the web root {c.acme_webroot} does not exist on the server "
                              "(certificate.acme_webroot)")
        systemd = ctx.facts.service_manager == "systemd"
        changes: List[Change] = [
            FileWrite(HOOK, hook_script(a, p), mode=0o755, undo_then=RELOAD,
                      reason="certbot runs it after each issuance and renewal; its undo "
                             "reloads Postfix and Dovecot once the placeholder is back"),
        ]
        if systemd and c.acme_ca_bundle:
            changes.append(SystemdDropIn(
                f"/etc/systemd/system/{renew_service(p)}.service.d/mailwizard.conf",
                dropin_text(a), mode=0o644,
                reason="renewals by the timer trust the same private CA as the first run"))
        if systemd and p.is_el:
            changes.append(Service(f"{renew_service(p)}.timer", action="start", enable=True))
        changes += [
            Snapshot(cert_file, needed=issue,
                     reason="the placeholder certificate, put back byte for byte on rollback"),
            Snapshot(key_file, needed=issue,
                     reason="the placeholder key (0600), put back byte for byte on rollback"),
            Validate(["postfix", "check"], "validate the Postfix configuration (postfix check)"),
            Validate(["doveconf", "-n"], "validate the Dovecot configuration (doveconf -n)"),
            Command(certbot_argv(a), undo=delete_argv(a), creates=renewal_conf(a),
                    env=acme_env(a), timeout=900,
                    description=f"obtain a certificate for {', '.join(acme_names(a))} from "
                                f"{c.acme_directory} (the deploy hook installs it and "
                                "reloads Postfix and Dovecot)"),
        ]
        return changes

    # ------------------------------------------------------------------ verify
    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        a, p, ex = ctx.answers, ctx.platform, ctx.executor
        if not acme_mode(a):
            return []
        cert_file, _ = cert_paths(a, p)
        out: List[CheckResult] = []
        live = ex.read_bytes(live_cert(a))
        served = ex.read_bytes(cert_file)
        if live is None:
            out.append(failed("certbot lineage present", f"{live_cert(a)} is missing",
                              "run the acme step again (certbot certonly)"))
        elif served is None:
            out.append(failed("certificate in place", f"{cert_file} is missing"))
        else:
            out.extend(self._compare(a, cert_file, live, served))
            out.extend(self._served(ctx, live))
        st = ex.stat(HOOK)
        hook_ok = st is not None and bool(st.mode & 0o111) and st.uid == 0
        out.append(CheckResult("deploy hook present and executable", hook_ok,
                               f"{HOOK}: " + (f"mode {st.mode:04o}" if st else "missing"),
                               "" if hook_ok else "apply the acme step again"))
        out.append(self._renewal(ctx))
        return out

    @staticmethod
    def _compare(a: Answers, cert_file: str, live: bytes,
                 served: bytes) -> List[CheckResult]:
        try:
            issued = load_certs(live, live_cert(a))[0]
            leaf = load_certs(served, cert_file)[0]
        except RecipeError as exc:
            return [failed("certificate readable", str(exc))]
        out: List[CheckResult] = []
        same = issued.serial_number == leaf.serial_number
        out.append(CheckResult(
            "installed certificate is certbot's", same,
            f"serial {leaf.serial_number:x} at {cert_file}, {issued.serial_number:x} in "
            f"{live_cert(a)}",
            "" if same else f"the deploy hook did not run: RENEWED_LINEAGE={q(LE_DIR)}/live/"
                            f"{q(cert_name(a))} {HOOK}"))
        missing = [n for n in acme_names(a) if not names_host(leaf, n)[0]]
        out.append(CheckResult("certificate names the host and extra names", not missing,
                               "missing: " + ", ".join(missing) if missing else
                               ", ".join(acme_names(a)),
                               "" if not missing else
                               "certbot's lineage was made for other names (the certbot run "
                               "is skipped once it exists): mailwizard rollback --step acme, "
                               "then apply again"))
        left = checks._not_after(leaf) - _dt.datetime.now(_dt.timezone.utc)
        ok = left > _dt.timedelta(days=MIN_DAYS_LEFT)
        out.append(CheckResult(f"certificate valid for more than {MIN_DAYS_LEFT} days", ok,
                               f"until {checks._not_after(leaf):%Y-%m-%d %H:%M} UTC",
                               "" if ok else "renewal is overdue: certbot renew"))
        return out

    @staticmethod
    def _served(ctx: VerifyContext, live: bytes) -> List[CheckResult]:
        """What the running daemons present: the reload after the hook took effect."""
        a, ex = ctx.answers, ctx.executor
        try:
            serial = load_certs(live, live_cert(a))[0].serial_number
        except RecipeError:
            return []
        probes = []
        if postfix_running(ex):
            probes.append(("Postfix", 587, True))
        if dovecot_running(ex) and (a.imap or a.pop3):
            probes.append(("Dovecot", 993 if a.imap else 995, False))
        if not probes:
            return [info("daemons serve certbot's certificate",
                         "Postfix and Dovecot are not running: not probed")]
        import smtplib  # with the probes, not with the module: plan never loads it
        import ssl

        out: List[CheckResult] = []
        reload = {"Postfix": "postfix reload", "Dovecot": "doveadm reload"}
        for daemon, port, starttls in probes:
            name = f"{daemon} serves certbot's certificate (port {port})"
            try:
                der = checks.peer_certificate(ctx.probe_host, port, smtp_starttls=starttls,
                                              server_name=a.hostname)
                got = load_certs_der(der).serial_number
            except (OSError, smtplib.SMTPException, ssl.SSLError, ValueError) as exc:
                out.append(failed(name, f"{ctx.probe_host}:{port}: {exc}"))
                continue
            ok = got == serial
            out.append(CheckResult(name, ok, f"serial {got:x}",
                                   "" if ok else "the daemon still has the old certificate: "
                                                 + reload[daemon]))
        return out

    @staticmethod
    def _renewal(ctx: VerifyContext) -> CheckResult:
        ex, p = ctx.executor, ctx.platform
        name = "renewal scheduled"
        timer = f"{renew_service(p)}.timer"
        if ctx.facts.service_manager == "systemd":
            res = ex.run(["systemctl", "is-enabled", timer], quiet=True, timeout=60)
            state = res.stdout.strip() or res.output.strip()[-200:]
            if res.ok:
                return passed(name, f"{timer}: {state}")
            return failed(name, f"{timer}: {state or 'not enabled'}",
                          f"systemctl enable --now {timer}")
        if ex.exists(CRON):
            return passed(name, f"{CRON} (no systemd: cron runs certbot renew)")
        if not ex.exists(LE_DIR):
            return info(name, "certbot has not run yet")
        return failed(name, f"no systemd and no {CRON}",
                      "schedule 'certbot renew' twice a day (cron)")

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        if not acme_mode(answers):
            return []
        cert_file, _ = cert_paths(answers, platform)
        env = " ".join(f"{k}={q(v)}" for k, v in acme_env(answers).items())
        pre = env + " " if env else ""
        return [
            "certbot certificates",
            f"openssl x509 -in {q(cert_file)} -noout -serial -enddate -ext subjectAltName",
            f"openssl x509 -in {q(live_cert(answers))} -noout -serial   # the same serial",
            f"ls -l {q(HOOK)}   # -rwxr-xr-x root root",
            f"systemctl is-enabled {q(renew_service(platform) + '.timer')} || ls -l {CRON}",
            # without a terminal, certbot renew first sleeps at random for up to 8 minutes
            f"{pre}certbot renew --dry-run --no-random-sleep-on-renew "
            f"--cert-name {q(cert_name(answers))}",
        ]
