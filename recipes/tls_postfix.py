"""Step 10: TLS in Postfix (STARTTLS on 25, mandatory TLS + AUTH on submission 587)."""

from __future__ import annotations

from shlex import quote as q
from typing import Dict, List, Tuple

from wizard import checks, confedit
from wizard.answers import Answers
from wizard.changes import Change, MasterService, PostfixParams
from wizard.checks import CheckResult
from wizard.confedit import MasterEntry
from wizard.platforms import Platform
from wizard.recipe import PlanContext, Recipe, VerifyContext

from ._daemons import postfix_running
from ._postfix import MAIN_CF, MASTER_CF, cache_db_type, main_cf
from .certificate import cert_paths

OBSOLETE = ("smtpd_use_tls", "smtpd_enforce_tls", "smtpd_tls_chain_files")
"""Removed when present: the first two are replaced by smtpd_tls_security_level; a
``smtpd_tls_chain_files`` would silently override the cert/key files we set."""

PORT25_DEFAULTS = ("smtpd_tls_protocols", "smtpd_tls_ciphers")
"""Opportunistic TLS (port 25) keeps Postfix's own protocol and cipher defaults: removed when
present (no platform's stock main.cf sets them; earlier mailwizard versions set the first)."""

MANDATORY_EXCLUDE = "aNULL, SHA1, SHA256, SHA384"
"""Left out of mandatory TLS (submission): anonymous suites (no server authentication) and
every suite with a SHA-1/SHA-256/SHA-384 record MAC, which are exactly the CBC suites of TLS
1.2 (the AEAD suites, GCM/CHACHA20/CCM, have no separate MAC). OpenSSL knows these names
since 1.0.1, so every supported platform (EL7 has 1.0.2) takes them."""


def protocols(platform: Platform) -> str:
    """TLS 1.2 or newer: ``>=TLSv1.2`` needs Postfix 3.6; older versions take a deny list."""
    if platform.postfix_version >= (3, 6):
        return ">=TLSv1.2"
    return "!SSLv2, !SSLv3, !TLSv1, !TLSv1.1"


def mandatory_params(platform: Platform) -> Dict[str, str]:
    """The floor of mandatory TLS (the submission port, where the level is ``encrypt``);
    opportunistic TLS on port 25 never uses these."""
    return {
        "smtpd_tls_mandatory_protocols": protocols(platform),
        "smtpd_tls_mandatory_ciphers": "high",
        "smtpd_tls_mandatory_exclude_ciphers": MANDATORY_EXCLUDE,
    }


def tls_params(answers: Answers, platform: Platform, db: str) -> Dict[str, str]:
    cert, key = cert_paths(answers, platform)
    cache = cache_db_type(db)
    return {
        "smtpd_tls_cert_file": cert,
        "smtpd_tls_key_file": key,
        # port 25 must stay opportunistic: other servers without TLS still deliver
        "smtpd_tls_security_level": "may",
        "smtpd_tls_auth_only": "yes",
        "smtpd_tls_loglevel": "1",
        "smtpd_tls_received_header": "yes",
        "smtpd_tls_session_cache_database": f"{cache}:${{data_directory}}/smtpd_scache",
        **mandatory_params(platform),
        # with a relay the password travels to it: TLS required (guide 004 / SASL_README)
        "smtp_tls_security_level": "encrypt" if answers.relayhost else "may",
        "smtp_tls_loglevel": "1",
        "smtp_tls_session_cache_database": f"{cache}:${{data_directory}}/smtp_scache",
    }


def submission_entry(platform: Platform) -> MasterEntry:
    options: List[Tuple[str, str]] = [
        ("syslog_name", "postfix/submission"),
        ("smtpd_tls_security_level", "encrypt"),
        ("smtpd_sasl_auth_enable", "yes"),
        ("smtpd_tls_auth_only", "yes"),
    ]
    if platform.has_relay_restrictions:
        options.append(("smtpd_relay_restrictions", "permit_sasl_authenticated,reject"))
    options += [
        ("smtpd_recipient_restrictions", "permit_sasl_authenticated,reject"),
        ("milter_macro_daemon_name", "ORIGINATING"),
    ]
    # explicit y/n: "-" means "y" on Postfix 2.x and "n" on 3.x with a compatibility level
    return MasterEntry("submission", "inet", "n", "-", "y" if platform.smtpd_chroot else "n",
                       "-", "-", "smtpd", tuple(options))


class TlsPostfixRecipe(Recipe):
    id = "tls-postfix"
    title = "TLS for Postfix and the submission port"
    guide = ("Guide 000, part 3 section 7 (TLS in Postfix); guide 001 (TLS block); guide 003 "
             "(submission with mandatory TLS, its cipher floor); guide 004 (TLS directives: "
             "no anonymous ciphers)")
    summary = (
        "Points Postfix at the certificate from the previous step and switches on STARTTLS. "
        "On port 25 TLS is offered but not required, because many mail servers on the "
        "Internet still deliver without it. Mail clients use the submission port 587, where "
        "TLS is mandatory and login is required before anything is relayed. Passwords are "
        "accepted only inside TLS on every port. Mandatory TLS (587) takes only TLS 1.2 or "
        "newer, Postfix's 'high' cipher grade, and neither anonymous suites (aNULL: no "
        "server authentication, as guide 004 warns) nor the old CBC suites with a SHA "
        "record MAC, so clients get AES-GCM or ChaCha20. Port 25 keeps Postfix's own "
        "protocol and cipher defaults, as guide 003 and Postfix's documentation advise: a "
        "higher floor there does not make mail safer, it only pushes old servers back to "
        "plain text. Sessions are logged briefly and noted in the Received header. The "
        "certificate and key are given as two files (smtpd_tls_cert_file/key_file): this "
        "works on every Postfix version we support and is easy to read; the newer "
        "smtpd_tls_chain_files form adds nothing for a single certificate.")
    outdated = (
        "smtpd_use_tls and smtpd_enforce_tls are obsolete; smtpd_tls_security_level (may / "
        "encrypt) replaces them and we remove the old names if present.",
        "tls_random_source = dev:/dev/urandom and the SSLv2 exclusions are defaults or "
        "meaningless with current OpenSSL; we do not set them.",
        "The old TLS session cache in btree:/var/spool/postfix/... must use the database type "
        "the platform has (no btree on EL10, so lmdb) and lives in $data_directory.",
        "Port 465 'smtps' (wrapper mode) was deprecated for years and is standard again "
        "(RFC 8314), but one submission port is enough for current clients: we configure 587 "
        "with STARTTLS and leave 465 off; add it later if a client insists.",
        "smtpd_tls_loglevel 3 (guide 002) logs whole handshakes; 1 is enough in production.",
        "The TLS protocol floor is written `>=TLSv1.2` on Postfix 3.6+; older versions (EL7-9) "
        "get the equivalent list `!SSLv2, !SSLv3, !TLSv1, !TLSv1.1`.",
        "Guide 003 replaces tls_high_cipherlist with a fixed list copied from a web page; "
        "such a list goes stale and would change every TLS grade. We keep Postfix's own "
        "list and exclude what we do not want on 587 (smtpd_tls_mandatory_exclude_ciphers = "
        "aNULL, SHA1, SHA256, SHA384), which is the same result for TLS 1.2 and leaves TLS "
        "1.3 to OpenSSL.",
        "Guide 003's tls_ssl_options = no_ticket and its DH parameter files are not needed: "
        "current Postfix rotates its ticket keys and uses built-in groups.",
        "Earlier mailwizard versions also raised port 25 to TLS 1.2 (smtpd_tls_protocols); "
        "that line is removed so port 25 is back at Postfix's default.",
    )
    touches = (MAIN_CF, MASTER_CF)

    def plan(self, ctx: PlanContext) -> List[Change]:
        p = ctx.platform
        current = main_cf(ctx.view)
        remove = [k for k in OBSOLETE + PORT25_DEFAULTS if k in current]
        return [
            PostfixParams(tls_params(ctx.answers, p, ctx.db), remove=remove,
                          reason="replaces any packaged (e.g. snakeoil) certificate lines; "
                                 "587 gets a TLS 1.2 / strong-cipher floor, 25 keeps "
                                 "Postfix's defaults"),
            MasterService([submission_entry(p)],
                          reason="port 587 for mail clients: TLS and login required"),
        ]

    def verify(self, ctx: VerifyContext) -> List[CheckResult]:
        ex, host = ctx.executor, ctx.probe_host
        out = checks.main_cf_values(ex, tls_params(ctx.answers, ctx.platform,
                                                   ctx.platform.default_database_type))
        entries = confedit.read_master_cf(ex.read_text(MASTER_CF))
        sub = entries.get(("submission", "inet"), "")
        out.append(CheckResult("submission service in master.cf",
                               "smtpd_tls_security_level=encrypt" in sub,
                               sub.splitlines()[0] if sub else "missing"))
        use_p = ctx.platform.has_postconf_master
        submission = dict(mandatory_params(ctx.platform), smtpd_tls_security_level="encrypt")
        out += checks.postfix_effective(ex, "submission/inet", submission, use_p)
        out += checks.postfix_at_defaults(ex, "smtp/inet", PORT25_DEFAULTS, use_p)
        if ex.rehearsal:
            out.append(checks.not_checked("SMTP TLS probes", "a running Postfix"))
        elif postfix_running(ex):
            out += [checks.smtp_starttls_offered(host, 25),
                    checks.smtp_no_auth_before_tls(host, 25),
                    checks.smtp_no_auth_before_tls(host, 587),
                    checks.smtp_auth_after_tls(host, 587)]
        else:
            out.append(checks.info("SMTP TLS probes", "postfix is not running",
                                   "start it (step services) and verify again"))
        return out

    def manual_checks(self, answers: Answers, platform: Platform) -> List[str]:
        cert, _ = cert_paths(answers, platform)
        return [
            f"openssl s_client -starttls smtp -connect {q(answers.hostname + ':25')} "
            f"-CAfile {q(cert)} "
            "</dev/null | grep -E 'Verify return code|Protocol'",
            f"openssl s_client -starttls smtp -connect {q(answers.hostname + ':587')} "
            f"-CAfile {q(cert)} "
            "-quiet   # then: EHLO test  -> AUTH PLAIN LOGIN listed",
            "grep -A9 '^submission' /etc/postfix/master.cf",
            "postconf -n | grep -E '^smtpd_tls_(mandatory_|protocols|ciphers)'"
            "   # no smtpd_tls_protocols/ciphers: port 25 at Postfix's defaults",
            f"openssl s_client -starttls smtp -connect {q(answers.hostname + ':587')} "
            "-tls1_2 -cipher aNULL </dev/null   # expect: handshake failure",
            f"openssl s_client -starttls smtp -connect {q(answers.hostname + ':587')} "
            "-tls1_2 -cipher ECDHE-RSA-AES128-SHA </dev/null   # expect: handshake failure "
            "(CBC)",
        ]
